/* Unit tests of the outbound SRTCP transform (bridge/srtp-send.c over srtp-cipher.c): for
 * both profiles, every compound it protects is byte for byte what libsrtp's outbound
 * session gives (index per SSRC from 1, E flag, tag and index in the profile's order), and
 * libsrtp's inbound session, which the bridge keeps for SRTCP, takes it back, up to
 * indexes past 16 bits. Then what it refuses: short packets, the wrong direction, sessions
 * without RTCP keys, the SSRC cap, an index past 31 bits. */
#include "srtp-cipher.h"
#include "srtp-oracle.h"
#include "srtp-send.h"

#define N_SSRCS 6

/* A random RTCP compound of 8..MAX_PACKET bytes from `ssrc` (its bytes are not checked:
 * SRTCP protects whatever follows the first 8). */
static gsize
random_rtcp(GRand *rng, guint8 *buf, guint32 ssrc)
{
    gsize len =
        g_rand_int_range(rng, 0, 6) == 0 ? 8 : (gsize)g_rand_int_range(rng, 9, MAX_PACKET + 1);
    for (gsize i = 0; i < len; i++)
        buf[i] = (guint8)g_rand_int(rng);
    buf[0] = (guint8)(0x80 | g_rand_int_range(rng, 0, 32));
    buf[1] = (guint8)g_rand_int_range(rng, 200, 207);
    buf[4] = (guint8)(ssrc >> 24);
    buf[5] = (guint8)(ssrc >> 16);
    buf[6] = (guint8)(ssrc >> 8);
    buf[7] = (guint8)ssrc;
    return len;
}

/* Protects `len` bytes of `plain` with ours (into `a`) and with libsrtp (into `b`): both
 * must succeed with the same bytes. The protected length. */
static gsize
protect_both(BridgeSrtp *ours, srtp_t oracle, const guint8 *plain, gsize len, guint8 *a, guint8 *b)
{
    memcpy(a, plain, len);
    memcpy(b, plain, len);
    gsize a_len = len;
    int b_len = (int)len;
    ck_assert_int_eq(bridge_srtp_protect_rtcp(ours, a, &a_len), 0);
    ck_assert_int_eq(srtp_protect_rtcp(oracle, b, &b_len), srtp_err_status_ok);
    ck_assert_uint_eq(a_len, (gsize)b_len);
    ck_assert_int_eq(memcmp(a, b, a_len), 0);
    return a_len;
}

/* The bridge's two sessions of one key: outbound (its SRTCP) and inbound (libsrtp's). */
static void
session_pair(const BridgeSrtpKey *key, BridgeSrtp **out, BridgeSrtp **in)
{
    *out = bridge_srtp_new(key, TRUE, NULL);
    *in = bridge_srtp_new(key, FALSE, NULL);
    ck_assert_ptr_nonnull(*out);
    ck_assert_ptr_nonnull(*in);
}

START_TEST(test_rtcp_matches_libsrtp)
{
    BridgeSrtpProfile profiles[] = {BRIDGE_SRTP_AEAD_AES_128_GCM, BRIDGE_SRTP_AES128_CM_SHA1_80};
    g_autoptr(GRand) rng = g_rand_new_with_seed(20261203);
    bridge_srtp_global_init();
    for (gsize p = 0; p < G_N_ELEMENTS(profiles); p++) {
        for (int k = 0; k < 4; k++) {
            BridgeSrtpKey key;
            random_key(rng, profiles[p], &key);
            g_autoptr(BridgeSrtp) ours = NULL;
            g_autoptr(BridgeSrtp) ours_in = NULL;
            session_pair(&key, &ours, &ours_in);
            srtp_t oracle = libsrtp_session(&key, TRUE);
            srtp_t oracle_in = libsrtp_session(&key, FALSE);
            guint32 ssrcs[N_SSRCS];
            for (int i = 0; i < N_SSRCS; i++)
                ssrcs[i] = g_rand_int(rng);
            for (int n = 0; n < 300; n++) {
                guint8 plain[BUF_LEN], a[BUF_LEN], b[BUF_LEN];
                gsize len = random_rtcp(rng, plain, ssrcs[g_rand_int_range(rng, 0, N_SSRCS)]);
                gsize a_len = protect_both(ours, oracle, plain, len, a, b);
                /* the bridge's inbound session (libsrtp) and libsrtp's own take it back */
                int c_len = (int)a_len;
                ck_assert_int_eq(srtp_unprotect_rtcp(oracle_in, b, &c_len), srtp_err_status_ok);
                ck_assert_int_eq(bridge_srtp_unprotect_rtcp(ours_in, a, &a_len), 0);
                ck_assert_uint_eq(a_len, len);
                ck_assert_uint_eq((gsize)c_len, len);
                ck_assert_int_eq(memcmp(a, plain, len), 0);
            }
            srtp_dealloc(oracle);
            srtp_dealloc(oracle_in);
        }
    }
}
END_TEST

/* One SSRC past 2^16 packets: the index's upper bits reach the IV (and CM's counter). */
START_TEST(test_rtcp_index_past_16_bits)
{
    BridgeSrtpProfile profiles[] = {BRIDGE_SRTP_AEAD_AES_128_GCM, BRIDGE_SRTP_AES128_CM_SHA1_80};
    g_autoptr(GRand) rng = g_rand_new_with_seed(65537);
    bridge_srtp_global_init();
    for (gsize p = 0; p < G_N_ELEMENTS(profiles); p++) {
        BridgeSrtpKey key;
        random_key(rng, profiles[p], &key);
        g_autoptr(BridgeSrtp) ours = bridge_srtp_new(&key, TRUE, NULL);
        ck_assert_ptr_nonnull(ours);
        srtp_t oracle = libsrtp_session(&key, TRUE);
        for (guint n = 1; n <= 0x10000 + 300; n++) {
            guint8 plain[BUF_LEN], a[BUF_LEN], b[BUF_LEN];
            gsize len = random_rtcp(rng, plain, 0x5eed);
            /* short compounds keep this quick; from just below 2^16 on, any length */
            if (n < 0x10000 - 2 && len > 64)
                len = 64;
            protect_both(ours, oracle, plain, len, a, b);
        }
        srtp_dealloc(oracle);
    }
}
END_TEST

START_TEST(test_rtcp_refusals)
{
    g_autoptr(GRand) rng = g_rand_new_with_seed(7);
    bridge_srtp_global_init();
    BridgeSrtpProfile profiles[] = {BRIDGE_SRTP_AEAD_AES_128_GCM, BRIDGE_SRTP_AES128_CM_SHA1_80};
    for (gsize p = 0; p < G_N_ELEMENTS(profiles); p++) {
        BridgeSrtpKey key;
        random_key(rng, profiles[p], &key);
        g_autoptr(BridgeSrtp) out = NULL;
        g_autoptr(BridgeSrtp) in = NULL;
        session_pair(&key, &out, &in);
        guint8 buf[BUF_LEN] = {0x81, 201, 0, 1, 1, 2, 3, 4};
        /* shorter than header and SSRC: untouched */
        gsize len = 7;
        ck_assert_int_eq(bridge_srtp_protect_rtcp(out, buf, &len), -EINVAL);
        ck_assert_uint_eq(len, 7);
        ck_assert_uint_eq(buf[7], 4);
        /* each direction its own */
        len = 8;
        ck_assert_int_eq(bridge_srtp_protect_rtcp(in, buf, &len), -EINVAL);
        ck_assert_int_eq(bridge_srtp_unprotect_rtcp(out, buf, &len), -EINVAL);
        ck_assert_uint_eq(len, 8);
        /* a session made from RTP keys has none for RTCP */
        guint8 enc_key[16] = {1}, salt[14] = {2}, auth_key[20] = {3};
        gboolean gcm = profiles[p] == BRIDGE_SRTP_AEAD_AES_128_GCM;
        g_autoptr(BridgeSrtpSend) rtp_only =
            bridge_srtp_send_new_session(profiles[p], enc_key, salt, gcm ? NULL : auth_key, NULL);
        ck_assert_int_eq(bridge_srtp_send_protect_rtcp(rtp_only, buf, &len), -EINVAL);
        /* an index is 31 bits */
        g_autoptr(BridgeSrtpCipher) cipher = bridge_srtp_cipher_new_rtcp(&key, NULL);
        ck_assert_int_eq(bridge_srtp_cipher_encrypt_rtcp(cipher, buf, &len, 0x80000000u), -EINVAL);
        ck_assert_int_eq(bridge_srtp_cipher_encrypt_rtcp(cipher, buf, &len, 0x7fffffffu), 0);
        /* the SSRC cap: a new one past it is refused, the known ones still go */
        for (guint32 ssrc = 0; ssrc < BRIDGE_SRTP_SEND_MAX_SSRCS; ssrc++) {
            buf[4] = (guint8)(ssrc >> 8);
            buf[5] = (guint8)ssrc;
            len = 8;
            ck_assert_int_eq(bridge_srtp_protect_rtcp(out, buf, &len), 0);
        }
        buf[4] = 0x7f;
        len = 8;
        ck_assert_int_eq(bridge_srtp_protect_rtcp(out, buf, &len), -ENOSPC);
        ck_assert_uint_eq(len, 8);
        buf[4] = 0;
        buf[5] = 1;
        ck_assert_int_eq(bridge_srtp_protect_rtcp(out, buf, &len), 0);
    }
}
END_TEST

static Suite *
make_suite(void)
{
    Suite *s = suite_create("srtp-rtcp");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_rtcp_matches_libsrtp);
    tcase_add_test(tc, test_rtcp_index_past_16_bits);
    tcase_add_test(tc, test_rtcp_refusals);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(make_suite)
