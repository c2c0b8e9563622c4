/* The test peer's media: deterministic RTP packets that a receiver can rebuild from the
 * SSRC and sequence number alone, so every received packet is checked byte for byte.
 * Audio is Opus-sized (60-159 byte payloads, one every 20 ms), video comes in frames of
 * three 900-1149 byte packets with the marker bit on the last, RTX packets carry an
 * original sequence number. Each packet has an RFC 8285 one-byte header extension (id 1,
 * two bytes). Audio may carry an RFC 6464 audio level instead: then id 1 is the level (one
 * byte, V bit set) and the two bytes move to id 2; a receiver checks such a packet against
 * the level it carries. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
    PEER_AUDIO,
    PEER_VIDEO,
    PEER_RTX,
    PEER_FOREIGN, /* another stack's stream: validated as RTP and counted, not compared */
    PEER_BENCH,   /* benchmark packets: the payload starts with the send time */
} PeerKind;

#define PEER_PT_AUDIO 111
#define PEER_PT_VIDEO 96
#define PEER_PT_RTX   97

guint16 peer_stream_first_seq(guint32 ssrc);
/* Writes the k-th packet of the stream into `buf` (room for 1500 bytes); returns its
 * length. Only k's low 16 bits matter. */
gsize peer_stream_build(PeerKind kind, guint32 ssrc, guint32 k, guint8 *buf);
/* The same, for audio with an audio level (0..127 -dBov) when `level` >= 0. */
gsize peer_stream_build_level(PeerKind kind, guint32 ssrc, guint32 k, int level, guint8 *buf);
/* Compares a received packet with what the sender built for its sequence number. Returns
 * TRUE if identical; `k` receives the packet's index. */
gboolean peer_stream_check(PeerKind kind, const guint8 *buf, gsize len, guint32 *k);
const char *peer_kind_name(PeerKind kind);
gboolean peer_kind_parse(const char *name, PeerKind *kind);

G_END_DECLS
