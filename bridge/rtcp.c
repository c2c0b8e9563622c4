/* RTCP validation, iteration and building (see rtcp.h). Knows the sizes RFC 3550, RFC 4585
 * and RFC 5104 give each packet type; does not decide what the bridge does with them (that
 * is the router's job). */
#include "rtcp.h"

#include "rtp.h"

#include <errno.h>

static int
check_part(const guint8 *p, gsize len)
{
    guint8 count = p[0] & 0x1f;
    guint8 type = p[1];
    switch (type) {
    case BRIDGE_RTCP_SR:
        return len >= BRIDGE_RTCP_SR_LEN + (gsize)count * 24 ? 0 : -EINVAL;
    case BRIDGE_RTCP_RR:
        return len >= 8 + (gsize)count * 24 ? 0 : -EINVAL;
    case BRIDGE_RTCP_BYE:
        return len >= 4 + (gsize)count * 4 ? 0 : -EINVAL;
    case BRIDGE_RTCP_SDES:
        /* each chunk is at least an SSRC and a terminating zero, padded to 32 bits */
        return len >= 4 + (gsize)count * 8 ? 0 : -EINVAL;
    case BRIDGE_RTCP_APP:
        return len >= 12 ? 0 : -EINVAL;
    case BRIDGE_RTCP_RTPFB:
        if (len < 12)
            return -EINVAL;
        if (count == BRIDGE_RTCP_FMT_NACK && len < 16)
            return -EINVAL;
        return 0;
    case BRIDGE_RTCP_PSFB:
        if (len < 12)
            return -EINVAL;
        if (count == BRIDGE_RTCP_FMT_FIR && (len < 20 || (len - 12) % 8 != 0))
            return -EINVAL;
        return 0;
    case BRIDGE_RTCP_XR:
        return len >= 8 ? 0 : -EINVAL;
    default:
        /* RFC 5761: RTCP types live in 192..223; anything else here is not RTCP */
        return (type >= 192 && type <= 223) ? 0 : -EINVAL;
    }
}

int
bridge_rtcp_validate(const guint8 *buf, gsize len)
{
    if (buf == NULL || len < 4)
        return -EINVAL;
    gsize off = 0;
    int parts = 0;
    while (off < len) {
        if (len - off < 4)
            return -EINVAL;
        const guint8 *p = buf + off;
        if ((p[0] >> 6) != 2)
            return -EINVAL;
        gsize plen = ((gsize)bridge_read16(p + 2) + 1) * 4;
        if (plen > len - off)
            return -EINVAL;
        gsize body = plen;
        if (p[0] & 0x20) { /* padding: only on the last part */
            if (off + plen != len)
                return -EINVAL;
            /* RFC 3550 says the count is a multiple of four, but browsers (libwebrtc's
             * transport-wide feedback) pad a packet that ends mid-word by 1 to 3 bytes. */
            guint8 pad = p[plen - 1];
            if (pad == 0 || pad > plen - 4)
                return -EINVAL;
            body -= pad;
        }
        if (check_part(p, body) < 0)
            return -EINVAL;
        off += plen;
        parts++;
        if (parts > 64)
            return -EINVAL;
    }
    return parts;
}

void
bridge_rtcp_iter_init(BridgeRtcpIter *it, const guint8 *buf, gsize len)
{
    it->buf = buf;
    it->len = len;
    it->off = 0;
}

gboolean
bridge_rtcp_iter_next(BridgeRtcpIter *it, BridgeRtcpPacket *pkt)
{
    if (it->off + 4 > it->len)
        return FALSE;
    const guint8 *p = it->buf + it->off;
    gsize plen = ((gsize)bridge_read16(p + 2) + 1) * 4;
    if (plen > it->len - it->off)
        return FALSE;
    pkt->type = p[1];
    pkt->count = p[0] & 0x1f;
    pkt->data = p;
    pkt->len = plen;
    pkt->sender_ssrc = plen >= 8 ? bridge_read32(p + 4) : 0;
    pkt->media_ssrc = 0;
    if ((pkt->type == BRIDGE_RTCP_RTPFB || pkt->type == BRIDGE_RTCP_PSFB) && plen >= 12)
        pkt->media_ssrc = bridge_read32(p + 8);
    it->off += plen;
    return TRUE;
}

guint
bridge_rtcp_nack_foreach(const BridgeRtcpPacket *pkt, BridgeNackFunc fn, gpointer user_data)
{
    if (pkt->type != BRIDGE_RTCP_RTPFB || pkt->count != BRIDGE_RTCP_FMT_NACK || pkt->len < 16)
        return 0;
    gsize body = pkt->len;
    if (pkt->data[0] & 0x20)
        body -= pkt->data[pkt->len - 1];
    guint n = 0;
    for (gsize off = 12; off + 4 <= body; off += 4) {
        guint16 pid = bridge_read16(pkt->data + off);
        guint16 blp = bridge_read16(pkt->data + off + 2);
        fn(pid, user_data);
        n++;
        for (guint bit = 0; bit < 16; bit++) {
            if (blp & (1u << bit)) {
                fn((guint16)(pid + bit + 1), user_data);
                n++;
            }
        }
    }
    return n;
}

static void
write_header(guint8 *buf, guint8 count, guint8 type, gsize len)
{
    buf[0] = (guint8)(0x80 | (count & 0x1f));
    buf[1] = type;
    bridge_write16(buf + 2, (guint16)(len / 4 - 1));
}

gsize
bridge_rtcp_write_pli(guint8 *buf, guint32 sender_ssrc, guint32 media_ssrc)
{
    write_header(buf, BRIDGE_RTCP_FMT_PLI, BRIDGE_RTCP_PSFB, BRIDGE_RTCP_PLI_LEN);
    bridge_write32(buf + 4, sender_ssrc);
    bridge_write32(buf + 8, media_ssrc);
    return BRIDGE_RTCP_PLI_LEN;
}

gsize
bridge_rtcp_write_nack(guint8 *buf, guint32 sender_ssrc, guint32 media_ssrc, guint16 pid,
                       guint16 blp)
{
    write_header(buf, BRIDGE_RTCP_FMT_NACK, BRIDGE_RTCP_RTPFB, 16);
    bridge_write32(buf + 4, sender_ssrc);
    bridge_write32(buf + 8, media_ssrc);
    bridge_write16(buf + 12, pid);
    bridge_write16(buf + 14, blp);
    return 16;
}

gsize
bridge_rtcp_write_sr(guint8 *buf, guint32 ssrc, guint64 ntp, guint32 rtp_ts, guint32 packets,
                     guint32 octets)
{
    write_header(buf, 0, BRIDGE_RTCP_SR, BRIDGE_RTCP_SR_LEN);
    bridge_write32(buf + 4, ssrc);
    bridge_write32(buf + 8, (guint32)(ntp >> 32));
    bridge_write32(buf + 12, (guint32)ntp);
    bridge_write32(buf + 16, rtp_ts);
    bridge_write32(buf + 20, packets);
    bridge_write32(buf + 24, octets);
    return BRIDGE_RTCP_SR_LEN;
}

gsize
bridge_rtcp_write_rr(guint8 *buf, guint32 ssrc, guint32 source, guint32 highest_seq)
{
    write_header(buf, 1, BRIDGE_RTCP_RR, 32);
    bridge_write32(buf + 4, ssrc);
    bridge_write32(buf + 8, source);
    bridge_write32(buf + 12, 0); /* fraction lost, cumulative lost */
    bridge_write32(buf + 16, highest_seq);
    bridge_write32(buf + 20, 0); /* jitter */
    bridge_write32(buf + 24, 0); /* LSR */
    bridge_write32(buf + 28, 0); /* DLSR */
    return 32;
}
