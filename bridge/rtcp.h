/* RTCP on the wire: validation of compound (and RFC 5506 reduced-size) packets, iteration
 * over their parts, and the few packets the bridge and the test peer build (PLI, generic
 * NACK, SR, RR). Pure functions over caller-owned bytes, allocation-free. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

enum {
    BRIDGE_RTCP_SR = 200,
    BRIDGE_RTCP_RR = 201,
    BRIDGE_RTCP_SDES = 202,
    BRIDGE_RTCP_BYE = 203,
    BRIDGE_RTCP_APP = 204,
    BRIDGE_RTCP_RTPFB = 205,
    BRIDGE_RTCP_PSFB = 206,
    BRIDGE_RTCP_XR = 207,
};

#define BRIDGE_RTCP_FMT_NACK 1 /* RTPFB */
#define BRIDGE_RTCP_FMT_PLI  1 /* PSFB */
#define BRIDGE_RTCP_FMT_FIR  4 /* PSFB */
#define BRIDGE_RTCP_SR_LEN   28
#define BRIDGE_RTCP_PLI_LEN  12

typedef struct {
    guint8 type;  /* packet type, 200..207 */
    guint8 count; /* RC / SC / FMT field */
    const guint8 *data;
    gsize len;           /* whole packet including its 4-byte header */
    guint32 sender_ssrc; /* the SSRC right after the header (0 for an empty BYE/SDES) */
    guint32 media_ssrc;  /* RTPFB / PSFB only */
} BridgeRtcpPacket;

typedef struct {
    const guint8 *buf;
    gsize len;
    gsize off;
} BridgeRtcpIter;

/* Validates a whole compound packet: each part is version 2, its length fits, only the last
 * part may be padded, every known type has the minimum size its count implies (SR, RR,
 * RTPFB, PSFB, BYE, SDES chunks). Returns the number of parts, or -EINVAL. */
int bridge_rtcp_validate(const guint8 *buf, gsize len);

/* Iterates over a packet bridge_rtcp_validate() accepted. */
void bridge_rtcp_iter_init(BridgeRtcpIter *it, const guint8 *buf, gsize len);
gboolean bridge_rtcp_iter_next(BridgeRtcpIter *it, BridgeRtcpPacket *pkt);

/* Generic NACK FCI entries of an RTPFB/1 packet: calls `fn` once per lost sequence number
 * (PID and every bit of BLP). Returns the number of sequence numbers reported. */
typedef void (*BridgeNackFunc)(guint16 seq, gpointer user_data);
guint bridge_rtcp_nack_foreach(const BridgeRtcpPacket *pkt, BridgeNackFunc fn, gpointer user_data);

/* Builders; each returns the bytes written. `buf` must have room (sizes above). */
gsize bridge_rtcp_write_pli(guint8 *buf, guint32 sender_ssrc, guint32 media_ssrc);
/* One FCI entry: `pid` plus the 16 following sequence numbers selected by `blp`. */
gsize bridge_rtcp_write_nack(guint8 *buf, guint32 sender_ssrc, guint32 media_ssrc, guint16 pid,
                             guint16 blp);
gsize bridge_rtcp_write_sr(guint8 *buf, guint32 ssrc, guint64 ntp, guint32 rtp_ts, guint32 packets,
                           guint32 octets);
/* An RR with one report block about `source`. 32 bytes. */
gsize bridge_rtcp_write_rr(guint8 *buf, guint32 ssrc, guint32 source, guint32 highest_seq);

G_END_DECLS
