/* Unit tests of what only the inbound SRTP transform (bridge/srtp-receive.c) does: a
 * forgery takes no state, the SSRC cap, malformed and short packets, and the edges of the
 * index estimate step by step against libsrtp. The packet-by-packet comparison with
 * libsrtp over random walks is test-srtp-transform.c's. */
#include "srtp-oracle.h"
#include "srtp-send.h"

/* A 64-byte packet of SSRC `ssrc`, `seq`, protected with `send` in `pkt`: its length in
 * `*len`, the protect's result returned. */
static int
protect_test_packet(BridgeSrtpSend *send, guint32 ssrc, guint16 seq, gboolean again, guint8 *pkt,
                    gsize *len)
{
    memset(pkt, 0x5a, 64);
    pkt[0] = 0x80;
    pkt[1] = 96;
    pkt[2] = (guint8)(seq >> 8);
    pkt[3] = (guint8)seq;
    pkt[8] = (guint8)(ssrc >> 24);
    pkt[9] = (guint8)(ssrc >> 16);
    pkt[10] = (guint8)(ssrc >> 8);
    pkt[11] = (guint8)ssrc;
    *len = 64;
    return bridge_srtp_send_protect(send, pkt, len, again);
}

static gsize
protected_packet(BridgeSrtpSend *send, guint32 ssrc, guint16 seq, guint8 *pkt)
{
    gsize len;
    ck_assert_int_eq(protect_test_packet(send, ssrc, seq, FALSE, pkt, &len), 0);
    return len;
}

static int
receive_copy(BridgeSrtpReceive *receive, const guint8 *pkt, gsize len, gsize flip_bit)
{
    guint8 copy[64 + BRIDGE_SRTP_MAX_TRAILER];
    memcpy(copy, pkt, len);
    if (flip_bit < 8 * len)
        copy[flip_bit / 8] ^= (guint8)(1u << (flip_bit % 8));
    return bridge_srtp_receive_unprotect(receive, copy, &len);
}

#define NO_FLIP G_MAXSIZE

/* A forgery neither moves the window nor marks its index seen nor takes a place for its
 * SSRC; a genuine packet after it is judged as if it had never come. */
START_TEST(test_a_forgery_changes_nothing)
{
    g_autoptr(GRand) rng = g_rand_new_with_seed(21);
    for (int p = 0; p < 2; p++) {
        BridgeSrtpKey key;
        random_key(rng, p ? BRIDGE_SRTP_AEAD_AES_128_GCM : BRIDGE_SRTP_AES128_CM_SHA1_80, &key);
        g_autoptr(BridgeSrtpSend) send = bridge_srtp_send_new(&key, NULL);
        g_autoptr(BridgeSrtpReceive) receive = bridge_srtp_receive_new(&key, NULL);
        guint8 p10[96], p11[96], p2000[96];
        gsize l10 = protected_packet(send, 9, 10, p10);
        gsize l11 = protected_packet(send, 9, 11, p11);
        gsize l2000 = protected_packet(send, 9, 2000, p2000);
        ck_assert_int_eq(receive_copy(receive, p10, l10, NO_FLIP), 0);
        ck_assert_int_eq(receive_copy(receive, p10, l10, NO_FLIP), -EALREADY);
        /* far ahead, a payload bit or a tag bit changed */
        ck_assert_int_eq(receive_copy(receive, p2000, l2000, 8 * 40), -EBADMSG);
        ck_assert_int_eq(receive_copy(receive, p2000, l2000, 8 * l2000 - 1), -EBADMSG);
        ck_assert_int_eq(receive_copy(receive, p11, l11, NO_FLIP), 0); /* still in the window */
        ck_assert_int_eq(receive_copy(receive, p2000, l2000, NO_FLIP), 0);
        ck_assert_int_eq(receive_copy(receive, p11, l11, NO_FLIP), -EALREADY); /* now too old */
        /* a forged new SSRC takes no place: BRIDGE_SRTP_RECEIVE_MAX_SSRCS genuine ones fit
         * after 1,000 forged ones (each sender has its own cap: one for each) */
        g_autoptr(BridgeSrtpSend) forger = bridge_srtp_send_new(&key, NULL);
        g_autoptr(BridgeSrtpSend) many = bridge_srtp_send_new(&key, NULL);
        guint8 pkt[96];
        for (guint32 i = 0; i < 1000; i++) {
            gsize len = protected_packet(forger, 0x10000 + i, 1, pkt);
            ck_assert_int_eq(receive_copy(receive, pkt, len, 8 * 20), -EBADMSG);
        }
        for (guint32 i = 1; i < BRIDGE_SRTP_RECEIVE_MAX_SSRCS; i++) {
            gsize len = protected_packet(many, i * 0x10001u, 5, pkt);
            ck_assert_int_eq(receive_copy(receive, pkt, len, NO_FLIP), 0);
        }
        gsize len = protected_packet(many, 0xfffffff0u, 5, pkt);
        ck_assert_int_eq(receive_copy(receive, pkt, len, NO_FLIP), -ENOSPC);
        len = protected_packet(send, 9, 2001, pkt); /* one already known still comes in */
        ck_assert_int_eq(receive_copy(receive, pkt, len, NO_FLIP), 0);
    }
}
END_TEST

/* Protects SSRC `ssrc`, `seq` with `send` (as a retransmission, so that any index inside
 * the window goes), changes one payload bit if `forge`, and hands it to both receivers:
 * libsrtp's status, or -1 when the sender refused. */
static int
send_and_receive(BridgeSrtpSend *send, srtp_t oracle, BridgeSrtpReceive *ours, guint32 ssrc,
                 guint16 seq, gboolean forge)
{
    guint8 pkt[64 + BRIDGE_SRTP_MAX_TRAILER];
    gsize len;
    if (protect_test_packet(send, ssrc, seq, TRUE, pkt, &len) != 0)
        return -1;
    if (forge)
        pkt[30] ^= 0x01;
    return (int)receive_both(oracle, ours, pkt, len, NULL, NULL);
}

/* Edges of the index estimate and of a new SSRC, step by step against libsrtp: around half
 * a sequence-number cycle from the first packet, and a forged first packet followed by
 * the genuine one at another sequence number. */
START_TEST(test_receive_edges)
{
    g_autoptr(GRand) rng = g_rand_new_with_seed(23);
    static const struct {
        guint32 ssrc;
        guint16 seq;
        gboolean forge;
        srtp_err_status_t expect;
    } steps[] = {
        {1, 500, TRUE, srtp_err_status_auth_fail},
        {1, 7, FALSE, srtp_err_status_ok},
        {1, 500, FALSE, srtp_err_status_ok},
        {2, 0x8001, FALSE, srtp_err_status_ok},
        {2, 0x0001, FALSE, srtp_err_status_replay_old},
        {2, 0x0000, FALSE, srtp_err_status_ok}, /* the next cycle */
        {2, 0xffff, FALSE, srtp_err_status_ok},
        {2, 0x0000, FALSE, srtp_err_status_replay_fail},
        {3, 0x8000, FALSE, srtp_err_status_ok},
        {3, 0x0000, FALSE, srtp_err_status_replay_old},
        {3, 0x7fff, FALSE, srtp_err_status_ok},
        {3, 0x8001, FALSE, srtp_err_status_ok},
        {3, 0x0001, FALSE, srtp_err_status_replay_old}, /* half a cycle behind */
        {3, 0x0000, FALSE, srtp_err_status_ok},         /* the next cycle */
    };
    for (int p = 0; p < 2; p++) {
        BridgeSrtpKey key;
        random_key(rng, p ? BRIDGE_SRTP_AEAD_AES_128_GCM : BRIDGE_SRTP_AES128_CM_SHA1_80, &key);
        g_autoptr(BridgeSrtpSend) send = bridge_srtp_send_new(&key, NULL);
        g_autoptr(BridgeSrtpReceive) ours = bridge_srtp_receive_new(&key, NULL);
        srtp_t oracle = libsrtp_session(&key, FALSE);
        for (guint i = 0; i < G_N_ELEMENTS(steps); i++) {
            int status =
                send_and_receive(send, oracle, ours, steps[i].ssrc, steps[i].seq, steps[i].forge);
            if (steps[i].expect == srtp_err_status_replay_old && status == -1)
                continue; /* the sender itself found it too old */
            ck_assert_msg(status == (int)steps[i].expect, "step %u: libsrtp %d", i, status);
        }
        srtp_dealloc(oracle);
    }
}
END_TEST

/* Not RTP, a header longer than the packet, no room for the tag: -EINVAL, never a read
 * past the end (the sanitizers watch). */
START_TEST(test_receive_malformed)
{
    g_autoptr(GRand) rng = g_rand_new_with_seed(22);
    for (int p = 0; p < 2; p++) {
        BridgeSrtpProfile profile =
            p ? BRIDGE_SRTP_AEAD_AES_128_GCM : BRIDGE_SRTP_AES128_CM_SHA1_80;
        BridgeSrtpKey key;
        random_key(rng, profile, &key);
        g_autoptr(BridgeSrtpReceive) receive = bridge_srtp_receive_new(&key, NULL);
        gsize tag = p ? 16 : 10;
        for (gsize len = 0; len < 12 + tag; len++) {
            guint8 *pkt = g_malloc0(MAX(len, 1));
            if (len > 0)
                pkt[0] = 0x80;
            gsize n = len;
            ck_assert_int_eq(bridge_srtp_receive_unprotect(receive, pkt, &n), -EINVAL);
            g_free(pkt);
        }
        guint8 pkt[100] = {0x40, 96, 0, 1};
        gsize n = sizeof pkt;
        ck_assert_int_eq(bridge_srtp_receive_unprotect(receive, pkt, &n), -EINVAL);
        pkt[0] = 0x8f; /* 15 CSRCs: 72 bytes of header, and no room for the tag after them */
        n = 72 + tag - 1;
        ck_assert_int_eq(bridge_srtp_receive_unprotect(receive, pkt, &n), -EINVAL);
        pkt[0] = 0x90; /* an extension of 256 words, far past the end */
        pkt[14] = 1;
        n = sizeof pkt;
        ck_assert_int_eq(bridge_srtp_receive_unprotect(receive, pkt, &n), -EINVAL);
    }
}
END_TEST

static Suite *
make_suite(void)
{
    Suite *s = suite_create("srtp-receive");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_a_forgery_changes_nothing);
    tcase_add_test(tc, test_receive_malformed);
    tcase_add_test(tc, test_receive_edges);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(make_suite)
