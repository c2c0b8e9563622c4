/* Unit tests of bridge/rtp.c: RFC 7983 demultiplexing by first byte, and the RTP parser's
 * edge cases (CSRC list, one- and two-byte header extensions, padding, truncation). */
#include "../check-main.h"
#include "rtp.h"

#include <string.h>

START_TEST(test_demux)
{
    guint8 b[64] = {0};
    ck_assert_int_eq(bridge_demux_classify(b, 20), BRIDGE_PKT_STUN);
    ck_assert_int_eq(bridge_demux_classify(b, 10), BRIDGE_PKT_UNKNOWN); /* short STUN */
    b[0] = 22;
    ck_assert_int_eq(bridge_demux_classify(b, 13), BRIDGE_PKT_DTLS);
    b[0] = 63;
    ck_assert_int_eq(bridge_demux_classify(b, 13), BRIDGE_PKT_DTLS);
    b[0] = 64; /* TURN channel: not ours */
    ck_assert_int_eq(bridge_demux_classify(b, 13), BRIDGE_PKT_UNKNOWN);
    b[0] = 0x80;
    b[1] = 96;
    ck_assert_int_eq(bridge_demux_classify(b, 12), BRIDGE_PKT_RTP);
    b[1] = 200;
    ck_assert_int_eq(bridge_demux_classify(b, 12), BRIDGE_PKT_RTCP);
    b[1] = 223;
    ck_assert_int_eq(bridge_demux_classify(b, 12), BRIDGE_PKT_RTCP);
    b[1] = 224;
    ck_assert_int_eq(bridge_demux_classify(b, 12), BRIDGE_PKT_RTP);
    b[0] = 191;
    ck_assert_int_eq(bridge_demux_classify(b, 12), BRIDGE_PKT_RTP);
    b[0] = 192;
    ck_assert_int_eq(bridge_demux_classify(b, 12), BRIDGE_PKT_UNKNOWN);
    ck_assert_int_eq(bridge_demux_classify(b, 0), BRIDGE_PKT_UNKNOWN);
    ck_assert_int_eq(bridge_demux_classify(NULL, 5), BRIDGE_PKT_UNKNOWN);
}
END_TEST

START_TEST(test_plain_header)
{
    guint8 b[40];
    gsize n = bridge_rtp_write_header(b, 111, TRUE, 65535, 0xdeadbeef, 0x01020304);
    memset(b + n, 0xaa, 10);
    BridgeRtpHeader h;
    ck_assert_int_eq(bridge_rtp_parse(b, n + 10, &h), 0);
    ck_assert_int_eq(h.payload_type, 111);
    ck_assert_int_eq(h.marker, 1);
    ck_assert_int_eq(h.seq, 65535);
    ck_assert_uint_eq(h.timestamp, 0xdeadbeef);
    ck_assert_uint_eq(h.ssrc, 0x01020304);
    ck_assert_uint_eq(h.header_len, 12);
    ck_assert_uint_eq(h.payload_len, 10);
    /* an empty payload is legal */
    ck_assert_int_eq(bridge_rtp_parse(b, 12, &h), 0);
    ck_assert_int_eq(bridge_rtp_parse(b, 11, &h), -EINVAL);
    b[0] = 0x40; /* version 1 */
    ck_assert_int_eq(bridge_rtp_parse(b, 22, &h), -EINVAL);
}
END_TEST

START_TEST(test_csrc)
{
    guint8 b[80] = {0};
    bridge_rtp_write_header(b, 96, FALSE, 1, 2, 3);
    b[0] |= 3; /* three CSRCs: 24 bytes of header */
    BridgeRtpHeader h;
    ck_assert_int_eq(bridge_rtp_parse(b, 24, &h), 0);
    ck_assert_uint_eq(h.header_len, 24);
    ck_assert_int_eq(bridge_rtp_parse(b, 23, &h), -EINVAL);
    b[0] |= 15;
    ck_assert_int_eq(bridge_rtp_parse(b, 70, &h), -EINVAL);
    ck_assert_int_eq(bridge_rtp_parse(b, 72, &h), 0);
}
END_TEST

static gsize
with_extension(guint8 *b, guint16 profile, const guint8 *elems, guint16 words)
{
    gsize n = bridge_rtp_write_header(b, 96, FALSE, 1, 2, 3);
    b[0] |= 0x10;
    bridge_write16(b + n, profile);
    bridge_write16(b + n + 2, words);
    memcpy(b + n + 4, elems, words * 4u);
    return n + 4 + words * 4u;
}

START_TEST(test_one_byte_extension)
{
    guint8 b[100];
    const guint8 ok[8] = {0x10, 0xff, 0x00, 0x21, 1, 2, 0, 0};
    gsize n = with_extension(b, 0xBEDE, ok, 2);
    BridgeRtpHeader h;
    ck_assert_int_eq(bridge_rtp_parse(b, n, &h), 0);
    ck_assert_uint_eq(h.ext_profile, 0xBEDE);
    ck_assert_uint_eq(h.ext_offset, 16);
    ck_assert_uint_eq(h.ext_len, 8);
    ck_assert_uint_eq(h.header_len, 24);
    /* an element whose length runs past the block */
    const guint8 overrun[4] = {0x13, 1, 2, 3};
    n = with_extension(b, 0xBEDE, overrun, 1);
    ck_assert_int_eq(bridge_rtp_parse(b, n, &h), -EINVAL);
    /* id 15 stops parsing: what follows is not checked */
    const guint8 stop[4] = {0xF3, 1, 2, 3};
    n = with_extension(b, 0xBEDE, stop, 1);
    ck_assert_int_eq(bridge_rtp_parse(b, n, &h), 0);
    /* the block length itself past the packet */
    n = with_extension(b, 0xBEDE, ok, 2);
    bridge_write16(b + 14, 9);
    ck_assert_int_eq(bridge_rtp_parse(b, n, &h), -EINVAL);
    /* extension bit set but no room for the extension header */
    ck_assert_int_eq(bridge_rtp_parse(b, 14, &h), -EINVAL);
}
END_TEST

START_TEST(test_two_byte_extension)
{
    guint8 b[100];
    const guint8 ok[8] = {1, 2, 0xa, 0xb, 0, 2, 0, 0};
    gsize n = with_extension(b, 0x1000, ok, 2);
    BridgeRtpHeader h;
    ck_assert_int_eq(bridge_rtp_parse(b, n, &h), 0);
    const guint8 bad[4] = {1, 9, 0, 0};
    n = with_extension(b, 0x1000, bad, 1);
    ck_assert_int_eq(bridge_rtp_parse(b, n, &h), -EINVAL);
    const guint8 cut[4] = {0, 0, 0, 7};
    n = with_extension(b, 0x1000, cut, 1);
    ck_assert_int_eq(bridge_rtp_parse(b, n, &h), -EINVAL);
    /* another profile is opaque */
    n = with_extension(b, 0x1234, bad, 1);
    ck_assert_int_eq(bridge_rtp_parse(b, n, &h), 0);
}
END_TEST

START_TEST(test_padding)
{
    guint8 b[40] = {0};
    bridge_rtp_write_header(b, 96, FALSE, 1, 2, 3);
    b[0] |= 0x20;
    BridgeRtpHeader h;
    b[19] = 4;
    ck_assert_int_eq(bridge_rtp_parse(b, 20, &h), 0);
    ck_assert_uint_eq(h.payload_len, 4);
    ck_assert_uint_eq(h.padding_len, 4);
    b[19] = 8; /* all of the payload is padding */
    ck_assert_int_eq(bridge_rtp_parse(b, 20, &h), 0);
    ck_assert_uint_eq(h.payload_len, 0);
    b[19] = 9;
    ck_assert_int_eq(bridge_rtp_parse(b, 20, &h), -EINVAL);
    b[19] = 0;
    ck_assert_int_eq(bridge_rtp_parse(b, 20, &h), -EINVAL);
    /* padding bit with no byte to hold the count */
    ck_assert_int_eq(bridge_rtp_parse(b, 12, &h), -EINVAL);
}
END_TEST

static Suite *
rtp_suite(void)
{
    Suite *s = suite_create("rtp");
    TCase *tc = tcase_create("rtp");
    tcase_add_test(tc, test_demux);
    tcase_add_test(tc, test_plain_header);
    tcase_add_test(tc, test_csrc);
    tcase_add_test(tc, test_one_byte_extension);
    tcase_add_test(tc, test_two_byte_extension);
    tcase_add_test(tc, test_padding);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(rtp_suite)
