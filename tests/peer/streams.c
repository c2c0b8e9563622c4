/* Deterministic RTP streams for the test peer and the benchmark (see streams.h). */
#include "streams.h"

#include "rtp.h"

#include <string.h>

static guint32
mix(guint32 a, guint32 b)
{
    guint32 h = a * 0x9E3779B1u ^ (b + 0x7F4A7C15u + (a << 6) + (a >> 2));
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h;
}

guint16
peer_stream_first_seq(guint32 ssrc)
{
    return (guint16)(mix(ssrc, 1) & 0x3fff);
}

gsize
peer_stream_build(PeerKind kind, guint32 ssrc, guint32 k, guint8 *buf)
{
    return peer_stream_build_level(kind, ssrc, k, -1, buf);
}

gsize
peer_stream_build_level(PeerKind kind, guint32 ssrc, guint32 k, int level, guint8 *buf)
{
    k &= 0xffff;
    guint32 h = mix(ssrc, k);
    guint16 seq = (guint16)(peer_stream_first_seq(ssrc) + k);
    guint32 ts0 = mix(ssrc, 2);
    guint8 pt;
    gboolean marker;
    guint32 ts;
    gsize payload;
    switch (kind) {
    case PEER_AUDIO:
        pt = PEER_PT_AUDIO;
        marker = k == 0;
        ts = ts0 + k * 960;
        payload = 60 + h % 100;
        break;
    case PEER_VIDEO:
        pt = PEER_PT_VIDEO;
        marker = k % 3 == 2;
        ts = ts0 + (k / 3) * 3000;
        payload = 900 + h % 250;
        break;
    default:
        pt = PEER_PT_RTX;
        marker = FALSE;
        ts = ts0 + k * 3000;
        payload = 200 + h % 200;
        break;
    }
    gsize off = bridge_rtp_write_header(buf, pt, marker, seq, ts, ssrc);
    gboolean with_level = kind == PEER_AUDIO && level >= 0;
    buf[0] |= 0x10; /* one header extension word: id 1, two bytes, then padding */
    buf[off++] = 0xBE;
    buf[off++] = 0xDE;
    buf[off++] = 0;
    buf[off++] = with_level ? 2 : 1;
    if (with_level) { /* RFC 6464: id 1, one byte: V and the level */
        buf[off++] = 0x10;
        buf[off++] = (guint8)(0x80 | (level & 0x7f));
    }
    buf[off++] = with_level ? 0x21 : 0x11;
    buf[off++] = (guint8)h;
    buf[off++] = (guint8)(h >> 8);
    buf[off++] = 0;
    if (with_level) {
        buf[off++] = 0;
        buf[off++] = 0;
    }
    guint32 x = h | 1;
    for (gsize i = 0; i < payload; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[off + i] = (guint8)x;
    }
    if (kind == PEER_RTX) { /* RFC 4588: the original sequence number first */
        buf[off] = (guint8)(k >> 8);
        buf[off + 1] = (guint8)k;
    }
    return off + payload;
}

gboolean
peer_stream_check(PeerKind kind, const guint8 *buf, gsize len, guint32 *k)
{
    BridgeRtpHeader h;
    if (bridge_rtp_parse(buf, len, &h) != 0)
        return FALSE;
    *k = (guint16)(h.seq - peer_stream_first_seq(h.ssrc));
    int level = -1;
    if (kind == PEER_AUDIO && h.ext_len == 8 && buf[h.ext_offset] == 0x10)
        level = buf[h.ext_offset + 1] & 0x7f;
    guint8 expected[1600];
    gsize n = peer_stream_build_level(kind, h.ssrc, *k, level, expected);
    return n == len && memcmp(expected, buf, len) == 0;
}

const char *
peer_kind_name(PeerKind kind)
{
    static const char *const names[] = {"audio", "video", "rtx", "foreign", "bench"};
    return names[kind];
}

gboolean
peer_kind_parse(const char *name, PeerKind *kind)
{
    if (g_strcmp0(name, "audio") == 0)
        *kind = PEER_AUDIO;
    else if (g_strcmp0(name, "video") == 0)
        *kind = PEER_VIDEO;
    else if (g_strcmp0(name, "rtx") == 0)
        *kind = PEER_RTX;
    else if (g_strcmp0(name, "foreign") == 0)
        *kind = PEER_FOREIGN;
    else if (g_strcmp0(name, "bench") == 0)
        *kind = PEER_BENCH;
    else
        return FALSE;
    return TRUE;
}
