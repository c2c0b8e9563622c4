/* Packet indexes of the SSRCs one SRTP session carries (RFC 3711 §3.3.1): a table of
 * per-SSRC states, each the highest index seen and a window of the 1024 below it, and the
 * index estimate from a 16-bit sequence number. Shared by the outbound and the inbound
 * RTP transforms (srtp-send.h, srtp-receive.h), which decide what a seen index means. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* libsrtp's replay window as bridge/srtp.c configures it: an index this far behind the
 * highest one is too old for either direction. */
#define BRIDGE_SRTP_WINDOW 1024

typedef struct {
    guint32 ssrc;
    gboolean used;
    guint64 index;                         /* highest index: ROC << 16 | SEQ */
    guint64 seen[BRIDGE_SRTP_WINDOW / 64]; /* bit i % WINDOW: index i was seen */
    guint64 repeat_floor;                  /* outbound: indexes below this may not be sent again */
} BridgeSrtpIndexState;

typedef struct {
    BridgeSrtpIndexState *slots; /* open addressing, at most half full */
    guint n_slots;               /* a power of two */
    guint n_used;
    guint max_used;
    guint32 seed; /* mixed into the hash: peers choose their SSRCs */
} BridgeSrtpIndexTable;

void bridge_srtp_index_table_init(BridgeSrtpIndexTable *table, guint max_used);
void bridge_srtp_index_table_clear(BridgeSrtpIndexTable *table);
/* The state of `ssrc`, or NULL when it has none. */
BridgeSrtpIndexState *bridge_srtp_index_lookup(BridgeSrtpIndexTable *table, guint32 ssrc);
/* The state of `ssrc`, made (index 0, nothing seen) when it has none: the only call that
 * allocates, when the table grows; NULL when the table already holds `max_used`. */
BridgeSrtpIndexState *bridge_srtp_index_add_ssrc(BridgeSrtpIndexTable *table, guint32 ssrc);

/* libsrtp's srtp_rdbx_estimate_index() to the letter, so that the index (and so the bytes)
 * agree: the index of a packet with `seq` in `*index`, its distance above `highest` as the
 * result (0 or below: inside or behind the window). */
gint32 bridge_srtp_index_estimate(guint64 highest, guint16 seq, guint64 *index);
/* Whether the index `delta` from the highest (-BRIDGE_SRTP_WINDOW < delta <= 0) was seen. */
gboolean bridge_srtp_index_seen(const BridgeSrtpIndexState *state, gint32 delta);
/* Marks the index `delta` from the highest seen, moving the window up when delta > 0. */
void bridge_srtp_index_mark(BridgeSrtpIndexState *state, gint32 delta);

G_END_DECLS
