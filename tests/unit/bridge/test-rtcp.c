/* Unit tests of bridge/rtcp.c: compound validation (lengths, padding, per-type minimum
 * sizes), iteration, NACK bitmask expansion, and the builders reading back as written. */
#include "../check-main.h"
#include "rtcp.h"
#include "rtp.h"

#include <string.h>

START_TEST(test_compound)
{
    guint8 b[200];
    gsize n = bridge_rtcp_write_sr(b, 11, 0x0102030405060708ull, 9, 10, 11);
    n += bridge_rtcp_write_rr(b + n, 12, 11, 500);
    n += bridge_rtcp_write_pli(b + n, 12, 11);
    n += bridge_rtcp_write_nack(b + n, 12, 11, 100, 0x8001);
    ck_assert_int_eq(bridge_rtcp_validate(b, n), 4);
    BridgeRtcpIter it;
    BridgeRtcpPacket p;
    bridge_rtcp_iter_init(&it, b, n);
    ck_assert(bridge_rtcp_iter_next(&it, &p));
    ck_assert_int_eq(p.type, BRIDGE_RTCP_SR);
    ck_assert_uint_eq(p.sender_ssrc, 11);
    ck_assert_uint_eq(p.len, BRIDGE_RTCP_SR_LEN);
    ck_assert(bridge_rtcp_iter_next(&it, &p));
    ck_assert_int_eq(p.type, BRIDGE_RTCP_RR);
    ck_assert_int_eq(p.count, 1);
    ck_assert(bridge_rtcp_iter_next(&it, &p));
    ck_assert_int_eq(p.type, BRIDGE_RTCP_PSFB);
    ck_assert_int_eq(p.count, BRIDGE_RTCP_FMT_PLI);
    ck_assert_uint_eq(p.media_ssrc, 11);
    ck_assert(bridge_rtcp_iter_next(&it, &p));
    ck_assert_int_eq(p.type, BRIDGE_RTCP_RTPFB);
    ck_assert(!bridge_rtcp_iter_next(&it, &p));
}
END_TEST

static void
collect(guint16 seq, gpointer data)
{
    GArray *a = data;
    g_array_append_val(a, seq);
}

START_TEST(test_nack_bits)
{
    guint8 b[16];
    gsize n = bridge_rtcp_write_nack(b, 1, 2, 65534, 0x8003);
    ck_assert_int_eq(bridge_rtcp_validate(b, n), 1);
    BridgeRtcpIter it;
    BridgeRtcpPacket p;
    bridge_rtcp_iter_init(&it, b, n);
    ck_assert(bridge_rtcp_iter_next(&it, &p));
    g_autoptr(GArray) seqs = g_array_new(FALSE, FALSE, sizeof(guint16));
    ck_assert_uint_eq(bridge_rtcp_nack_foreach(&p, collect, seqs), 4);
    /* pid, then bits 0, 1 and 15: wrapping past 65535 */
    ck_assert_uint_eq(g_array_index(seqs, guint16, 0), 65534);
    ck_assert_uint_eq(g_array_index(seqs, guint16, 1), 65535);
    ck_assert_uint_eq(g_array_index(seqs, guint16, 2), 0);
    ck_assert_uint_eq(g_array_index(seqs, guint16, 3), 14);
}
END_TEST

START_TEST(test_malformed)
{
    guint8 b[64] = {0};
    gsize n = bridge_rtcp_write_sr(b, 1, 0, 0, 0, 0);
    ck_assert_int_eq(bridge_rtcp_validate(b, n - 1), -EINVAL); /* truncated */
    ck_assert_int_eq(bridge_rtcp_validate(b, n + 3), -EINVAL); /* trailing bytes */
    ck_assert_int_eq(bridge_rtcp_validate(b, 3), -EINVAL);
    ck_assert_int_eq(bridge_rtcp_validate(NULL, 8), -EINVAL);
    b[0] = 0x81; /* SR claiming a report block it does not have */
    ck_assert_int_eq(bridge_rtcp_validate(b, n), -EINVAL);
    b[0] = 0x40; /* version 1 */
    ck_assert_int_eq(bridge_rtcp_validate(b, n), -EINVAL);
    /* a NACK with no FCI entry */
    n = bridge_rtcp_write_pli(b, 1, 2);
    b[1] = BRIDGE_RTCP_RTPFB;
    ck_assert_int_eq(bridge_rtcp_validate(b, n), -EINVAL);
    /* a FIR with a partial FCI entry */
    n = bridge_rtcp_write_nack(b, 1, 2, 0, 0);
    b[0] = 0x80 | BRIDGE_RTCP_FMT_FIR;
    b[1] = BRIDGE_RTCP_PSFB;
    ck_assert_int_eq(bridge_rtcp_validate(b, n), -EINVAL);
    /* a packet type outside 192..223 */
    n = bridge_rtcp_write_pli(b, 1, 2);
    b[1] = 180;
    ck_assert_int_eq(bridge_rtcp_validate(b, n), -EINVAL);
}
END_TEST

/* Chromium 156's transport-wide congestion feedback (RTPFB FMT 15) as it arrives, padded
 * by 2 bytes: it used to be dropped as malformed, 8-16 a second in a browser meeting. */
START_TEST(test_browser_transport_feedback)
{
    static const char hex[] = "afcd0006a2ece7542cc3403d008200040bf80f002004bf0016390002";
    guint8 b[28];
    for (gsize i = 0; i < sizeof b; i++)
        b[i] = (guint8)g_ascii_strtoull((char[]){hex[2 * i], hex[2 * i + 1], 0}, NULL, 16);
    ck_assert_int_eq(bridge_rtcp_validate(b, sizeof b), 1);
    BridgeRtcpIter it;
    BridgeRtcpPacket pkt;
    bridge_rtcp_iter_init(&it, b, sizeof b);
    ck_assert(bridge_rtcp_iter_next(&it, &pkt));
    ck_assert_int_eq(pkt.type, BRIDGE_RTCP_RTPFB);
    ck_assert_int_eq(pkt.count, 15);
    ck_assert(!bridge_rtcp_iter_next(&it, &pkt));
}
END_TEST

START_TEST(test_padding)
{
    guint8 b[64] = {0};
    gsize n = bridge_rtcp_write_pli(b, 1, 2);
    /* pad the last packet with 4 bytes */
    b[0] |= 0x20;
    bridge_write16(b + 2, (guint16)((n + 4) / 4 - 1));
    b[n + 3] = 4;
    ck_assert_int_eq(bridge_rtcp_validate(b, n + 4), 1);
    b[n + 3] = 0;
    ck_assert_int_eq(bridge_rtcp_validate(b, n + 4), -EINVAL);
    b[n + 3] = 3; /* not a multiple of 4, as libwebrtc pads: accepted */
    ck_assert_int_eq(bridge_rtcp_validate(b, n + 4), 1);
    b[n + 3] = 16; /* eats into the fixed part */
    ck_assert_int_eq(bridge_rtcp_validate(b, n + 4), -EINVAL);
    /* padding on a packet that is not the last */
    b[n + 3] = 4;
    gsize m = bridge_rtcp_write_pli(b + n + 4, 1, 2);
    ck_assert_int_eq(bridge_rtcp_validate(b, n + 4 + m), -EINVAL);
}
END_TEST

static Suite *
rtcp_suite(void)
{
    Suite *s = suite_create("rtcp");
    TCase *tc = tcase_create("rtcp");
    tcase_add_test(tc, test_compound);
    tcase_add_test(tc, test_nack_bits);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_padding);
    tcase_add_test(tc, test_browser_transport_feedback);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(rtcp_suite)
