/* RTP header parsing and RFC 7983 demultiplexing (see rtp.h). Owns no state; every check is
 * a bound check against the datagram the caller holds. */
#include "rtp.h"

#include <errno.h>

BridgePacketKind
bridge_demux_classify(const guint8 *buf, gsize len)
{
    if (buf == NULL || len == 0)
        return BRIDGE_PKT_UNKNOWN;
    guint8 b = buf[0];
    if (b <= 3)
        return len >= 20 ? BRIDGE_PKT_STUN : BRIDGE_PKT_UNKNOWN;
    if (b >= 20 && b <= 63)
        return len >= 13 ? BRIDGE_PKT_DTLS : BRIDGE_PKT_UNKNOWN;
    if (b >= 128 && b <= 191) {
        if (len < 4)
            return BRIDGE_PKT_UNKNOWN;
        return (buf[1] >= 192 && buf[1] <= 223) ? BRIDGE_PKT_RTCP : BRIDGE_PKT_RTP;
    }
    return BRIDGE_PKT_UNKNOWN;
}

int
bridge_rtp_next_extension(const guint8 *p, gsize len, guint16 profile, gsize *pos, guint8 *id,
                          gsize *data_off, gsize *data_len)
{
    gboolean one_byte = profile == 0xBEDE;
    if (!one_byte && (profile & 0xfff0) != 0x1000)
        return 0; /* another profile: opaque, forwarded as is */
    gsize i = *pos;
    while (i < len && p[i] == 0) /* padding */
        i++;
    if (i >= len)
        return 0;
    gsize hdr, elen;
    if (one_byte) {
        *id = p[i] >> 4;
        if (*id == 15) /* reserved: stop parsing, the rest is ignored */
            return 0;
        hdr = 1;
        elen = (gsize)(p[i] & 0x0f) + 1;
    } else {
        if (i + 2 > len)
            return -EINVAL;
        *id = p[i];
        hdr = 2;
        elen = p[i + 1];
    }
    if (i + hdr + elen > len)
        return -EINVAL;
    *data_off = i + hdr;
    *data_len = elen;
    *pos = i + hdr + elen;
    return 1;
}

/* RFC 8285 section 4.2 (one-byte) and 4.3 (two-byte) elements must fit exactly. */
static int
check_extension_elements(const guint8 *p, gsize len, guint16 profile)
{
    gsize pos = 0, off, elen;
    guint8 id;
    int r;
    while ((r = bridge_rtp_next_extension(p, len, profile, &pos, &id, &off, &elen)) > 0)
        ;
    return r;
}

int
bridge_rtp_parse(const guint8 *buf, gsize len, BridgeRtpHeader *out)
{
    if (buf == NULL || len < BRIDGE_RTP_HEADER_MIN || (buf[0] >> 6) != 2)
        return -EINVAL;
    BridgeRtpHeader h = {0};
    h.padding = (buf[0] >> 5) & 1;
    h.extension = (buf[0] >> 4) & 1;
    h.csrc_count = buf[0] & 0x0f;
    h.marker = buf[1] >> 7;
    h.payload_type = buf[1] & 0x7f;
    h.seq = bridge_read16(buf + 2);
    h.timestamp = bridge_read32(buf + 4);
    h.ssrc = bridge_read32(buf + 8);
    gsize off = BRIDGE_RTP_HEADER_MIN + (gsize)h.csrc_count * 4;
    if (off > len)
        return -EINVAL;
    if (h.extension) {
        if (off + 4 > len)
            return -EINVAL;
        h.ext_profile = bridge_read16(buf + off);
        gsize words = bridge_read16(buf + off + 2);
        h.ext_offset = off + 4;
        h.ext_len = words * 4;
        if (h.ext_offset + h.ext_len > len)
            return -EINVAL;
        if (check_extension_elements(buf + h.ext_offset, h.ext_len, h.ext_profile) < 0)
            return -EINVAL;
        off = h.ext_offset + h.ext_len;
    }
    h.header_len = off;
    gsize rest = len - off;
    if (h.padding) {
        guint8 pad = buf[len - 1];
        if (pad == 0 || pad > rest)
            return -EINVAL;
        h.padding_len = pad;
        rest -= pad;
    }
    h.payload_len = rest;
    if (out != NULL)
        *out = h;
    return 0;
}

gsize
bridge_rtp_write_header(guint8 *buf, guint8 pt, gboolean marker, guint16 seq, guint32 ts,
                        guint32 ssrc)
{
    buf[0] = 0x80;
    buf[1] = (guint8)((marker ? 0x80 : 0) | (pt & 0x7f));
    bridge_write16(buf + 2, seq);
    bridge_write32(buf + 4, ts);
    bridge_write32(buf + 8, ssrc);
    return BRIDGE_RTP_HEADER_MIN;
}
