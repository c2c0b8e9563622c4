/* RTP on the wire: RFC 7983 demultiplexing of what arrives on a media socket, and the
 * parsing and validation of RTP headers (RFC 3550 fixed header, CSRC list, RFC 8285 one-
 * and two-byte header extensions, padding). Pure functions over caller-owned bytes: no
 * allocation, usable on the per-packet path, by the test peer and by the fuzz targets. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
    BRIDGE_PKT_UNKNOWN = 0,
    BRIDGE_PKT_STUN,
    BRIDGE_PKT_DTLS,
    BRIDGE_PKT_RTP,
    BRIDGE_PKT_RTCP,
} BridgePacketKind;

/* RFC 7983: first byte 0-3 STUN, 20-63 DTLS, 128-191 RTP or RTCP (RFC 5761 splits those two
 * by the second byte: 192-223 is RTCP). Anything else, or too short, is UNKNOWN. */
BridgePacketKind bridge_demux_classify(const guint8 *buf, gsize len);

#define BRIDGE_RTP_HEADER_MIN 12

typedef struct {
    guint8 padding;
    guint8 extension;
    guint8 csrc_count;
    guint8 marker;
    guint8 payload_type;
    guint16 seq;
    guint32 timestamp;
    guint32 ssrc;
    guint16 ext_profile; /* 0xBEDE (one-byte) or 0x100x (two-byte); 0 if none */
    gsize ext_offset;    /* first byte of the extension elements */
    gsize ext_len;       /* bytes of extension elements */
    gsize header_len;    /* fixed header + CSRCs + extension */
    gsize payload_len;   /* without padding */
    guint8 padding_len;
} BridgeRtpHeader;

/* Validates and parses one RTP packet. Returns 0, or -EINVAL when it is malformed: not
 * version 2, truncated CSRC list or extension, malformed RFC 8285 elements, padding that is
 * zero or longer than the payload. */
int bridge_rtp_parse(const guint8 *buf, gsize len, BridgeRtpHeader *out);

/* Walks the RFC 8285 elements of an extension block (`p`, `len`, `profile` as parsed) from
 * `*pos` (start at 0): 1 with the next element's id and its data's offset and length (and
 * `*pos` past it), 0 at the end (also at the one-byte form's reserved id 15, and for other
 * profiles, which are opaque), -EINVAL when an element does not fit. */
int bridge_rtp_next_extension(const guint8 *p, gsize len, guint16 profile, gsize *pos, guint8 *id,
                              gsize *data_off, gsize *data_len);

/* Writes a fixed 12-byte header (no CSRC, no extension); returns 12. */
gsize bridge_rtp_write_header(guint8 *buf, guint8 pt, gboolean marker, guint16 seq, guint32 ts,
                              guint32 ssrc);

static inline guint16
bridge_read16(const guint8 *p)
{
    return (guint16)((p[0] << 8) | p[1]);
}

static inline guint32
bridge_read32(const guint8 *p)
{
    return ((guint32)p[0] << 24) | ((guint32)p[1] << 16) | ((guint32)p[2] << 8) | p[3];
}

static inline void
bridge_write16(guint8 *p, guint16 v)
{
    p[0] = (guint8)(v >> 8);
    p[1] = (guint8)v;
}

static inline void
bridge_write32(guint8 *p, guint32 v)
{
    p[0] = (guint8)(v >> 24);
    p[1] = (guint8)(v >> 16);
    p[2] = (guint8)(v >> 8);
    p[3] = (guint8)v;
}

G_END_DECLS
