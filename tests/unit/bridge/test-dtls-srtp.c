/* Unit tests of bridge/dtls.c and bridge/srtp.c: two associations handshake through
 * in-memory datagram queues; GCM is preferred, CM accepted; a certificate that does not
 * match the signalled fingerprint fails the handshake on the side that checks it; the
 * exported keys protect and unprotect SRTP and SRTCP, and tampering or replay is refused. */
#include "../check-main.h"
#include "dtls.h"
#include "rtcp.h"
#include "rtp.h"
#include "srtp.h"

#include <string.h>

typedef struct {
    GQueue *to; /* GBytes* datagrams for the other side */
} Wire;

static int
queue_send(const guint8 *buf, gsize len, gpointer data)
{
    Wire *w = data;
    ck_assert_uint_le(len, BRIDGE_DTLS_MTU);
    g_queue_push_tail(w->to, g_bytes_new(buf, len));
    return 0;
}

typedef struct {
    BridgeDtlsIdentity *ci, *si;
    BridgeDtls *client, *server;
    GQueue to_client, to_server;
    Wire cw, sw;
} Pair;

static void
pair_init(Pair *p, const char *client_profiles, gboolean wrong_fp)
{
    memset(p, 0, sizeof *p);
    bridge_srtp_global_init();
    p->ci = bridge_dtls_identity_new(client_profiles, NULL);
    p->si = bridge_dtls_identity_new(NULL, NULL);
    ck_assert_ptr_nonnull(p->ci);
    ck_assert_ptr_nonnull(p->si);
    ck_assert(bridge_dtls_fingerprint_valid(bridge_dtls_identity_fingerprint(p->si)));
    g_queue_init(&p->to_client);
    g_queue_init(&p->to_server);
    p->cw.to = &p->to_server;
    p->sw.to = &p->to_client;
    p->client = bridge_dtls_new(p->ci, TRUE, queue_send, &p->cw);
    p->server = bridge_dtls_new(p->si, FALSE, queue_send, &p->sw);
    ck_assert(bridge_dtls_set_remote_fingerprint(p->client, "sha-256",
                                                 bridge_dtls_identity_fingerprint(p->si)));
    /* the server checks the client's certificate against what was signalled */
    const char *cfp = wrong_fp ? bridge_dtls_identity_fingerprint(p->si)
                               : bridge_dtls_identity_fingerprint(p->ci);
    ck_assert(bridge_dtls_set_remote_fingerprint(p->server, "sha-256", cfp));
}

static void
pair_run(Pair *p)
{
    bridge_dtls_start(p->client);
    bridge_dtls_start(p->server);
    for (int round = 0; round < 50; round++) {
        GBytes *b;
        while ((b = g_queue_pop_head(&p->to_server)) != NULL) {
            gsize n;
            const guint8 *d = g_bytes_get_data(b, &n);
            bridge_dtls_receive(p->server, d, n);
            g_bytes_unref(b);
        }
        while ((b = g_queue_pop_head(&p->to_client)) != NULL) {
            gsize n;
            const guint8 *d = g_bytes_get_data(b, &n);
            bridge_dtls_receive(p->client, d, n);
            g_bytes_unref(b);
        }
        if (g_queue_is_empty(&p->to_server) && g_queue_is_empty(&p->to_client))
            break;
    }
}

static void
pair_clear(Pair *p)
{
    g_queue_clear_full(&p->to_client, (GDestroyNotify)g_bytes_unref);
    g_queue_clear_full(&p->to_server, (GDestroyNotify)g_bytes_unref);
    bridge_dtls_free(p->client);
    bridge_dtls_free(p->server);
    bridge_dtls_identity_free(p->ci);
    bridge_dtls_identity_free(p->si);
}

static void
check_srtp(Pair *p, BridgeSrtpProfile expected)
{
    BridgeSrtpKey cl, cr, sl, sr;
    bridge_dtls_srtp_keys(p->client, &cl, &cr);
    bridge_dtls_srtp_keys(p->server, &sl, &sr);
    ck_assert_int_eq(cl.profile, expected);
    ck_assert_int_eq(memcmp(&cl, &sr, sizeof cl), 0);
    ck_assert_int_eq(memcmp(&cr, &sl, sizeof cr), 0);
    g_autoptr(BridgeSrtp) out = bridge_srtp_new(&cl, TRUE, NULL);
    g_autoptr(BridgeSrtp) in = bridge_srtp_new(&sr, FALSE, NULL);
    guint8 pkt[200 + BRIDGE_SRTP_MAX_TRAILER], plain[200];
    gsize n = bridge_rtp_write_header(pkt, 96, TRUE, 7, 8, 9);
    memset(pkt + n, 0x5a, 100);
    n += 100;
    memcpy(plain, pkt, n);
    gsize len = n;
    ck_assert_int_eq(bridge_srtp_protect(out, pkt, &len), 0);
    ck_assert_uint_gt(len, n);
    guint8 copy[sizeof pkt];
    memcpy(copy, pkt, len);
    gsize clen = len;
    ck_assert_int_eq(bridge_srtp_unprotect(in, pkt, &len), 0);
    ck_assert_uint_eq(len, n);
    ck_assert_int_eq(memcmp(pkt, plain, n), 0);
    /* replay of the same ciphertext */
    ck_assert_int_eq(bridge_srtp_unprotect(in, copy, &clen), -EALREADY);
    /* tampering */
    n = bridge_rtp_write_header(pkt, 96, TRUE, 8, 8, 9);
    memset(pkt + n, 0x5a, 100);
    len = n + 100;
    ck_assert_int_eq(bridge_srtp_protect(out, pkt, &len), 0);
    pkt[20] ^= 1;
    ck_assert_int_eq(bridge_srtp_unprotect(in, pkt, &len), -EBADMSG);
    /* SRTCP */
    n = bridge_rtcp_write_pli(pkt, 9, 10);
    len = n;
    ck_assert_int_eq(bridge_srtp_protect_rtcp(out, pkt, &len), 0);
    ck_assert_int_eq(bridge_srtp_unprotect_rtcp(in, pkt, &len), 0);
    ck_assert_uint_eq(len, n);
    ck_assert_int_eq(bridge_rtcp_validate(pkt, len), 1);
}

START_TEST(test_gcm_preferred)
{
    Pair p;
    pair_init(&p, "SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM", FALSE);
    pair_run(&p);
    ck_assert_int_eq(bridge_dtls_state(p.client), BRIDGE_DTLS_CONNECTED);
    ck_assert_int_eq(bridge_dtls_state(p.server), BRIDGE_DTLS_CONNECTED);
    check_srtp(&p, BRIDGE_SRTP_AEAD_AES_128_GCM);
    pair_clear(&p);
}
END_TEST

START_TEST(test_cm_accepted)
{
    Pair p;
    pair_init(&p, "SRTP_AES128_CM_SHA1_80", FALSE);
    pair_run(&p);
    ck_assert_int_eq(bridge_dtls_state(p.server), BRIDGE_DTLS_CONNECTED);
    check_srtp(&p, BRIDGE_SRTP_AES128_CM_SHA1_80);
    pair_clear(&p);
}
END_TEST

START_TEST(test_fingerprint_mismatch)
{
    Pair p;
    pair_init(&p, NULL, TRUE);
    pair_run(&p);
    ck_assert_int_eq(bridge_dtls_state(p.server), BRIDGE_DTLS_FAILED);
    ck_assert_int_eq(bridge_dtls_failure(p.server), BRIDGE_DTLS_FAIL_FINGERPRINT);
    ck_assert_int_ne(bridge_dtls_state(p.client), BRIDGE_DTLS_CONNECTED);
    pair_clear(&p);
}
END_TEST

START_TEST(test_retransmission_timer)
{
    Pair p;
    pair_init(&p, NULL, FALSE);
    bridge_dtls_start(p.client);
    ck_assert_uint_eq(g_queue_get_length(&p.to_server), 1);
    /* the ClientHello is lost: the timer (1 s) sends it again */
    g_queue_clear_full(&p.to_server, (GDestroyNotify)g_bytes_unref);
    g_queue_init(&p.to_server);
    for (int i = 0; i < 30 && g_queue_is_empty(&p.to_server); i++) {
        g_usleep(100 * 1000);
        bridge_dtls_tick(p.client);
    }
    ck_assert_uint_eq(g_queue_get_length(&p.to_server), 1);
    pair_run(&p);
    ck_assert_int_eq(bridge_dtls_state(p.client), BRIDGE_DTLS_CONNECTED);
    pair_clear(&p);
}
END_TEST

START_TEST(test_fingerprint_shape)
{
    ck_assert(!bridge_dtls_fingerprint_valid(NULL));
    ck_assert(!bridge_dtls_fingerprint_valid("AB:CD"));
    char fp[96];
    for (int i = 0; i < 32; i++)
        memcpy(fp + i * 3, i == 31 ? "0f" : "0f:", i == 31 ? 3 : 3);
    ck_assert(bridge_dtls_fingerprint_valid(fp));
    fp[4] = 'x';
    ck_assert(!bridge_dtls_fingerprint_valid(fp));
    BridgeDtlsIdentity *id = bridge_dtls_identity_new(NULL, NULL);
    BridgeDtls *d = bridge_dtls_new(id, TRUE, queue_send, NULL);
    ck_assert(
        !bridge_dtls_set_remote_fingerprint(d, "sha-1", bridge_dtls_identity_fingerprint(id)));
    bridge_dtls_free(d);
    bridge_dtls_identity_free(id);
}
END_TEST

static Suite *
dtls_suite(void)
{
    Suite *s = suite_create("dtls-srtp");
    TCase *tc = tcase_create("dtls-srtp");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_gcm_preferred);
    tcase_add_test(tc, test_cm_accepted);
    tcase_add_test(tc, test_fingerprint_mismatch);
    tcase_add_test(tc, test_retransmission_timer);
    tcase_add_test(tc, test_fingerprint_shape);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(dtls_suite)
