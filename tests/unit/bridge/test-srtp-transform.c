/* Unit tests of the RTP transforms on OpenSSL (bridge/srtp-send.c, srtp-receive.c and what
 * they share), with libsrtp as the judge: for both profiles, random packets (several
 * SSRCs, CSRCs, header extensions, marker and padding bits, sequence numbers that wrap,
 * reordering, repeats, indexes older than the window) protect to the very bytes libsrtp's
 * outbound session gives, and both libsrtp's inbound session and ours accept, refuse and
 * decrypt them alike, forgeries too; RFC 3711 and RFC 7714 known answers; malformed
 * headers, the SSRC cap, and the direction of a key. What only the inbound transform
 * does is test-srtp-receive.c's. */
#include "srtp-cipher.h"
#include "srtp-oracle.h"
#include "srtp-send.h"

#define SEQ_HALF 0x8000

static gsize
hex(const char *text, guint8 *out, gsize room)
{
    gsize n = 0;
    for (const char *p = text; *p != '\0'; p++) {
        if (!g_ascii_isxdigit(*p))
            continue;
        ck_assert_uint_lt(n / 2, room);
        guint8 v = (guint8)g_ascii_xdigit_value(*p);
        out[n / 2] = n % 2 == 0 ? (guint8)(v << 4) : (guint8)(out[n / 2] | v);
        n++;
    }
    ck_assert_uint_eq(n % 2, 0);
    return n / 2;
}

/* A random RTP packet: 12..MAX_PACKET bytes, any CSRC count, maybe an extension. */
static gsize
random_packet(GRand *rng, guint8 *buf, guint32 ssrc, guint16 seq)
{
    guint cc = (guint)g_rand_int_range(rng, 0, 16);
    gboolean x = g_rand_boolean(rng);
    guint ext_words = (guint)g_rand_int_range(rng, 0, 9);
    gsize hlen = 12 + 4 * cc + (x ? 4 + 4 * ext_words : 0);
    gsize plen = g_rand_int_range(rng, 0, 8) == 0
                     ? 0
                     : (gsize)g_rand_int_range(rng, 1, (gint32)(MAX_PACKET - hlen) + 1);
    for (gsize i = 0; i < hlen + plen; i++)
        buf[i] = (guint8)g_rand_int(rng);
    buf[0] = (guint8)(0x80 | (g_rand_boolean(rng) ? 0x20 : 0) | (x ? 0x10 : 0) | cc);
    buf[2] = (guint8)(seq >> 8);
    buf[3] = (guint8)seq;
    buf[8] = (guint8)(ssrc >> 24);
    buf[9] = (guint8)(ssrc >> 16);
    buf[10] = (guint8)(ssrc >> 8);
    buf[11] = (guint8)ssrc;
    if (x) {
        buf[12 + 4 * cc + 2] = (guint8)(ext_words >> 8);
        buf[12 + 4 * cc + 3] = (guint8)ext_words;
    }
    return hlen + plen;
}

typedef struct {
    guint32 ssrc;
    gint64 highest; /* extended sequence number: ROC << 16 | SEQ */
    gboolean started;
    GHashTable *sent; /* extended sequence numbers sent */
} Stream;

typedef struct {
    guint8 plain[MAX_PACKET];
    gsize len;
    guint8 protected[BUF_LEN]; /* what it gave the first time */
    gsize protected_len;
    Stream *stream;
    gint64 ext;
} Stored;

/* One session: `n` random packets over a few SSRCs, every one compared with libsrtp. */
static void
compare_session(GRand *rng, BridgeSrtpProfile profile, int n, int *wraps, int *repeats,
                int *too_old, int *forged)
{
    BridgeSrtpKey key;
    random_key(rng, profile, &key);
    g_autoptr(GError) error = NULL;
    g_autoptr(BridgeSrtpSend) ours = bridge_srtp_send_new(&key, &error);
    ck_assert_msg(ours != NULL, "%s", error ? error->message : "");
    srtp_t oracle = libsrtp_session(&key, TRUE);
    srtp_t receiver = libsrtp_session(&key, FALSE);
    g_autoptr(BridgeSrtpReceive) our_receiver = bridge_srtp_receive_new(&key, &error);
    ck_assert_msg(our_receiver != NULL, "%s", error ? error->message : "");
    Stream streams[5];
    for (guint i = 0; i < G_N_ELEMENTS(streams); i++) {
        streams[i].ssrc = g_rand_int(rng);
        /* some start just before the sequence number wraps */
        streams[i].highest =
            i % 2 == 0 ? g_rand_int_range(rng, 0, 0x10000) : g_rand_int_range(rng, 0xff00, 0x10000);
        streams[i].started = FALSE;
        streams[i].sent = g_hash_table_new(g_int64_hash, g_int64_equal);
    }
    Stored *stored = g_new0(Stored, 64);
    guint n_stored = 0;
    for (int i = 0; i < n; i++) {
        Stream *s = &streams[g_rand_int_range(rng, 0, G_N_ELEMENTS(streams))];
        guint8 plain[MAX_PACKET], a[BUF_LEN], b[BUF_LEN];
        gsize len;
        gint64 ext;
        const Stored *repeat = NULL;
        int action = g_rand_int_range(rng, 0, 100);
        Stored *st =
            n_stored > 0 ? &stored[g_rand_int_range(rng, 0, (gint32)MIN(n_stored, 64))] : NULL;
        /* a NACK answer: a stored packet again (one from half a SEQ cycle ago or more would
         * be taken for a new one, by any sender: no NACK asks for that) */
        if (action < 8 && st != NULL && st->stream->highest - st->ext < SEQ_HALF) {
            memcpy(plain, st->plain, st->len);
            len = st->len;
            repeat = st;
            ext = st->ext;
        } else {
            /* a stream starts with ROC 0 on both sides, whatever its first SEQ */
            if (!s->started)
                ext = s->highest;
            else if (action < 16 && s->highest > 3000) /* older than the window, or just inside */
                ext = s->highest - g_rand_int_range(rng, 1000, 3000);
            else if (action < 30 && s->highest > 300) /* reordered */
                ext = s->highest - g_rand_int_range(rng, 1, 300);
            else if (action < 35) /* a jump, so that ROC moves often */
                ext = s->highest + g_rand_int_range(rng, 1000, 30000);
            else
                ext = s->highest + g_rand_int_range(rng, 1, 4);
            len = random_packet(rng, plain, s->ssrc, (guint16)ext);
        }
        memcpy(a, plain, len);
        memcpy(b, plain, len);
        gsize a_len = len;
        int b_len = (int)len;
        int rc = bridge_srtp_send_protect(ours, a, &a_len, TRUE);
        srtp_err_status_t status = srtp_protect(oracle, b, &b_len);
        if (status == srtp_err_status_replay_old) {
            ck_assert_int_eq(rc, -EALREADY);
            (*too_old)++;
            continue;
        }
        ck_assert_int_eq(status, srtp_err_status_ok);
        ck_assert_int_eq(rc, 0);
        ck_assert_uint_eq(a_len, (gsize)b_len);
        ck_assert_msg(memcmp(a, b, a_len) == 0, "packet %d (%zu bytes) differs from libsrtp's", i,
                      len);
        if (repeat != NULL) {
            ck_assert_uint_eq(a_len, repeat->protected_len);
            ck_assert_int_eq(memcmp(a, repeat->protected, a_len), 0);
            (*repeats)++;
            /* the receivers refuse a repeat */
            status = receive_both(receiver, our_receiver, a, a_len, NULL, NULL);
            ck_assert(status == srtp_err_status_replay_fail ||
                      status == srtp_err_status_replay_old);
            continue;
        }
        guint8 protected[BUF_LEN];
        memcpy(protected, a, a_len);
        if ((ext >> 16) != (s->highest >> 16))
            (*wraps)++;
        if (g_rand_int_range(rng, 0, 10) == 0) {
            /* a forgery first (one bit changed): refused by both, it changes nothing */
            guint8 forged_pkt[BUF_LEN];
            memcpy(forged_pkt, a, a_len);
            gsize bit = (gsize)g_rand_int_range(rng, 0, (gint32)(8 * a_len));
            forged_pkt[bit / 8] ^= (guint8)(1u << (bit % 8));
            ck_assert_int_ne(receive_both(receiver, our_receiver, forged_pkt, a_len, NULL, NULL),
                             srtp_err_status_ok);
            (*forged)++;
        }
        gboolean seen = g_hash_table_contains(s->sent, &ext);
        guint8 opened[BUF_LEN];
        gsize opened_len = 0;
        status = receive_both(receiver, our_receiver, a, a_len, opened, &opened_len);
        if (seen) {
            ck_assert_int_eq(status, srtp_err_status_replay_fail);
        } else {
            ck_assert_int_eq(status, srtp_err_status_ok);
            ck_assert_uint_eq(opened_len, len);
            ck_assert_int_eq(memcmp(opened, plain, len), 0);
            gint64 *k = g_new(gint64, 1);
            *k = ext;
            g_hash_table_add(s->sent, k);
        }
        s->highest = MAX(s->highest, ext);
        s->started = TRUE;
        Stored *slot = &stored[n_stored++ % 64];
        memcpy(slot->plain, plain, len);
        slot->len = len;
        memcpy(slot->protected, protected, a_len);
        slot->protected_len = a_len;
        slot->stream = s;
        slot->ext = ext;
    }
    for (guint i = 0; i < G_N_ELEMENTS(streams); i++) {
        GHashTableIter it;
        gpointer k;
        g_hash_table_iter_init(&it, streams[i].sent);
        while (g_hash_table_iter_next(&it, &k, NULL))
            g_free(k);
        g_hash_table_destroy(streams[i].sent);
    }
    g_free(stored);
    srtp_dealloc(oracle);
    srtp_dealloc(receiver);
}

static void
compare_profile(BridgeSrtpProfile profile, guint32 seed)
{
    g_autoptr(GRand) rng = g_rand_new_with_seed(seed);
    int wraps = 0, repeats = 0, too_old = 0, forged = 0;
    for (int session = 0; session < 3; session++)
        compare_session(rng, profile, 1200, &wraps, &repeats, &too_old, &forged);
    /* the random walk did reach what it is meant to cover */
    ck_assert_int_gt(wraps, 20);
    ck_assert_int_gt(repeats, 100);
    ck_assert_int_gt(too_old, 50);
    ck_assert_int_gt(forged, 100);
}

START_TEST(test_equal_to_libsrtp_gcm)
{
    compare_profile(BRIDGE_SRTP_AEAD_AES_128_GCM, 0x5eed1);
}
END_TEST

START_TEST(test_equal_to_libsrtp_cm)
{
    compare_profile(BRIDGE_SRTP_AES128_CM_SHA1_80, 0x5eed2);
}
END_TEST

/* RFC 3711 B.3 */
START_TEST(test_kdf_rfc3711)
{
    guint8 master_key[16], master_salt[14], expected[20], out[20];
    hex("E1F97A0D3E018BE0D64FA32C06DE4139", master_key, sizeof master_key);
    hex("0EC675AD498AFEEBB6960B3AABE6", master_salt, sizeof master_salt);
    ck_assert(bridge_srtp_kdf(master_key, master_salt, BRIDGE_SRTP_LABEL_RTP_ENCRYPTION, out, 16));
    hex("C61E7A93744F39EE10734AFE3FF7A087", expected, sizeof expected);
    ck_assert_int_eq(memcmp(out, expected, 16), 0);
    ck_assert(bridge_srtp_kdf(master_key, master_salt, BRIDGE_SRTP_LABEL_RTP_SALT, out, 14));
    hex("30CBBC08863D8C85D49DB34A9AE1", expected, sizeof expected);
    ck_assert_int_eq(memcmp(out, expected, 14), 0);
    ck_assert(bridge_srtp_kdf(master_key, master_salt, BRIDGE_SRTP_LABEL_RTP_AUTH, out, 20));
    hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4", expected, sizeof expected);
    ck_assert_int_eq(memcmp(out, expected, 20), 0);
}
END_TEST

/* RFC 7714 §16.1.1: session key and salt given directly. */
START_TEST(test_gcm_rfc7714)
{
    guint8 key[16], salt[12], pkt[128], expected[128];
    hex("000102030405060708090a0b0c0d0e0f", key, sizeof key);
    hex("517569642070726f2071756f", salt, sizeof salt);
    gsize len = hex("8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973 20646976"
                    "69736120 696e2070 61727465 73207472 6573",
                    pkt, sizeof pkt);
    gsize expected_len = hex("8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca"
                             "be633bd5 0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1"
                             "6a9152cf 765ee439 0cce",
                             expected, sizeof expected);
    g_autoptr(BridgeSrtpSend) send =
        bridge_srtp_send_new_session(BRIDGE_SRTP_AEAD_AES_128_GCM, key, salt, NULL, NULL);
    ck_assert_ptr_nonnull(send);
    ck_assert_int_eq(bridge_srtp_send_protect(send, pkt, &len, TRUE), 0);
    ck_assert_uint_eq(len, expected_len);
    ck_assert_int_eq(memcmp(pkt, expected, len), 0);
}
END_TEST

/* RFC 3711 B.2: the AES-CM keystream for SSRC 0, index 0 encrypts a zero payload. */
START_TEST(test_cm_rfc3711_keystream)
{
    guint8 key[16], salt[14], auth[20] = {0}, expected[32], pkt[64] = {0x80};
    hex("2B7E151628AED2A6ABF7158809CF4F3C", key, sizeof key);
    hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD", salt, sizeof salt);
    hex("E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB", expected,
        sizeof expected);
    g_autoptr(BridgeSrtpSend) send =
        bridge_srtp_send_new_session(BRIDGE_SRTP_AES128_CM_SHA1_80, key, salt, auth, NULL);
    ck_assert_ptr_nonnull(send);
    gsize len = 12 + 32;
    ck_assert_int_eq(bridge_srtp_send_protect(send, pkt, &len, TRUE), 0);
    ck_assert_uint_eq(len, 12 + 32 + 10);
    ck_assert_int_eq(memcmp(pkt + 12, expected, 32), 0);
    /* CM without an auth key is a caller's mistake, reported */
    g_autoptr(GError) error = NULL;
    ck_assert_ptr_null(
        bridge_srtp_send_new_session(BRIDGE_SRTP_AES128_CM_SHA1_80, key, salt, NULL, &error));
    ck_assert_ptr_nonnull(error);
}
END_TEST

static int
protect_seq(BridgeSrtpSend *send, srtp_t oracle, guint8 ssrc, guint16 seq)
{
    guint8 a[64 + BRIDGE_SRTP_MAX_TRAILER] = {0x80, 96}, b[sizeof a];
    a[2] = (guint8)(seq >> 8);
    a[3] = (guint8)seq;
    a[11] = ssrc;
    memcpy(b, a, sizeof a);
    gsize len = 64;
    int b_len = 64;
    int rc = bridge_srtp_send_protect(send, a, &len, TRUE);
    srtp_err_status_t st = srtp_protect(oracle, b, &b_len);
    ck_assert_int_eq(rc == 0, st == srtp_err_status_ok);
    if (rc == 0)
        ck_assert_int_eq(memcmp(a, b, len), 0);
    else
        ck_assert_int_eq(st, srtp_err_status_replay_old);
    return rc;
}

START_TEST(test_window)
{
    g_autoptr(GRand) rng = g_rand_new_with_seed(7);
    for (int p = 0; p < 2; p++) {
        BridgeSrtpKey key;
        random_key(rng, p ? BRIDGE_SRTP_AEAD_AES_128_GCM : BRIDGE_SRTP_AES128_CM_SHA1_80, &key);
        g_autoptr(BridgeSrtpSend) send = bridge_srtp_send_new(&key, NULL);
        srtp_t oracle = libsrtp_session(&key, TRUE);
        ck_assert_int_eq(protect_seq(send, oracle, 7, 3000), 0);
        ck_assert_int_eq(protect_seq(send, oracle, 7, 3000 - 1023), 0);
        ck_assert_int_eq(protect_seq(send, oracle, 7, 3000 - 1024), -EALREADY);
        ck_assert_int_eq(protect_seq(send, oracle, 7, 3000), 0); /* a repeat */
        /* across a wrap: 65000 of ROC 0 is too old once 500 of ROC 1 was sent */
        ck_assert_int_eq(protect_seq(send, oracle, 7, 30000), 0);
        ck_assert_int_eq(protect_seq(send, oracle, 7, 60000), 0);
        ck_assert_int_eq(protect_seq(send, oracle, 7, 65000), 0);
        ck_assert_int_eq(protect_seq(send, oracle, 7, 500), 0);
        ck_assert_int_eq(protect_seq(send, oracle, 7, 65535), 0);
        ck_assert_int_eq(protect_seq(send, oracle, 7, 65000), -EALREADY);
        /* exactly half a cycle ahead is ahead, exactly half behind is behind */
        ck_assert_int_eq(protect_seq(send, oracle, 7, 500 + 0x8000), 0);
        ck_assert_int_eq(protect_seq(send, oracle, 7, 500), -EALREADY);
        ck_assert_int_eq(protect_seq(send, oracle, 7, 500 + 0x8001), 0);
        /* before SEQ reaches half a cycle, any later SEQ is ahead */
        ck_assert_int_eq(protect_seq(send, oracle, 8, 10), 0);
        ck_assert_int_eq(protect_seq(send, oracle, 8, 60000), 0);
        ck_assert_int_eq(protect_seq(send, oracle, 8, 60001), 0);
        /* then 10 is ahead again, in ROC 1, and 5 behind it */
        ck_assert_int_eq(protect_seq(send, oracle, 8, 10), 0);
        ck_assert_int_eq(protect_seq(send, oracle, 8, 5), 0);
        ck_assert_int_eq(protect_seq(send, oracle, 8, 60001 - 1024 + 10), -EALREADY);
        srtp_dealloc(oracle);
    }
}
END_TEST

/* Refused with -EINVAL, from a buffer exactly `len` long (AddressSanitizer sees any read
 * past it), and left untouched. */
static void
expect_malformed(BridgeSrtpSend *send, const guint8 *pkt, gsize len)
{
    guint8 *copy = g_malloc(MAX(len, 1)); /* a valid pointer even for 0 bytes */
    memcpy(copy, pkt, len);
    gsize n = len;
    ck_assert_int_eq(bridge_srtp_send_protect(send, copy, &n, TRUE), -EINVAL);
    ck_assert_uint_eq(n, len);
    ck_assert(len == 0 || memcmp(copy, pkt, len) == 0);
    g_free(copy);
}

START_TEST(test_malformed)
{
    guint8 key[16] = {1}, salt[12] = {2};
    g_autoptr(BridgeSrtpSend) send =
        bridge_srtp_send_new_session(BRIDGE_SRTP_AEAD_AES_128_GCM, key, salt, NULL, NULL);
    guint8 pkt[200] = {0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9};
    for (gsize len = 0; len < 12; len++)
        expect_malformed(send, pkt, len);
    for (guint8 v = 0; v < 4; v++) {
        if (v == 2)
            continue;
        pkt[0] = (guint8)(v << 6);
        expect_malformed(send, pkt, 40);
    }
    pkt[0] = 0x8f; /* 15 CSRCs: 72 bytes of header */
    expect_malformed(send, pkt, 71);
    pkt[0] = 0x90; /* an extension, its 4-byte header missing or cut */
    expect_malformed(send, pkt, 12);
    expect_malformed(send, pkt, 15);
    pkt[14] = 0;
    pkt[15] = 3; /* 3 words of extension */
    expect_malformed(send, pkt, 16 + 11);
    pkt[0] = 0x9f;
    pkt[72 + 2] = 0x01;
    pkt[72 + 3] = 0x00; /* 256 words: far past the packet */
    expect_malformed(send, pkt, 200);
    /* exactly the header, no payload: fine */
    guint8 ok[16 + 12 + BRIDGE_SRTP_MAX_TRAILER] = {0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9};
    ok[15] = 3;
    gsize len = 16 + 12;
    ck_assert_int_eq(bridge_srtp_send_protect(send, ok, &len, TRUE), 0);
    ck_assert_uint_eq(len, 16 + 12 + 16);
}
END_TEST

START_TEST(test_ssrc_cap)
{
    guint8 key[16] = {1}, salt[14] = {2}, auth[20] = {3};
    g_autoptr(BridgeSrtpSend) send =
        bridge_srtp_send_new_session(BRIDGE_SRTP_AES128_CM_SHA1_80, key, salt, auth, NULL);
    guint8 pkt[32 + BRIDGE_SRTP_MAX_TRAILER];
    for (guint32 i = 0; i <= BRIDGE_SRTP_SEND_MAX_SSRCS; i++) {
        memset(pkt, 0, sizeof pkt);
        pkt[0] = 0x80;
        guint32 ssrc = i * 0x10001u; /* collide in the low bits */
        pkt[8] = (guint8)(ssrc >> 24);
        pkt[9] = (guint8)(ssrc >> 16);
        pkt[10] = (guint8)(ssrc >> 8);
        pkt[11] = (guint8)ssrc;
        gsize len = 32;
        ck_assert_int_eq(bridge_srtp_send_protect(send, pkt, &len, TRUE),
                         i < BRIDGE_SRTP_SEND_MAX_SSRCS ? 0 : -ENOSPC);
    }
    /* one already known still goes */
    memset(pkt, 0, sizeof pkt);
    pkt[0] = 0x80;
    pkt[3] = 1;
    gsize len = 32;
    ck_assert_int_eq(bridge_srtp_send_protect(send, pkt, &len, TRUE), 0);
}
END_TEST

/* Through bridge/srtp.c: what one direction's key protects, that key's inbound session
 * opens and the other direction's refuses; the two give different bytes. */
START_TEST(test_direction)
{
    bridge_srtp_global_init();
    g_autoptr(GRand) rng = g_rand_new_with_seed(11);
    for (int p = 0; p < 2; p++) {
        BridgeSrtpProfile profile =
            p ? BRIDGE_SRTP_AEAD_AES_128_GCM : BRIDGE_SRTP_AES128_CM_SHA1_80;
        BridgeSrtpKey client_write, server_write;
        random_key(rng, profile, &client_write);
        random_key(rng, profile, &server_write);
        g_autoptr(BridgeSrtp) out_c = bridge_srtp_new(&client_write, TRUE, NULL);
        g_autoptr(BridgeSrtp) out_s = bridge_srtp_new(&server_write, TRUE, NULL);
        g_autoptr(BridgeSrtp) in_c = bridge_srtp_new(&client_write, FALSE, NULL);
        g_autoptr(BridgeSrtp) in_s = bridge_srtp_new(&server_write, FALSE, NULL);
        guint8 plain[300], c[300 + BRIDGE_SRTP_MAX_TRAILER], s[sizeof c];
        gsize n = random_packet(rng, plain, 42, 1);
        memcpy(c, plain, n);
        memcpy(s, plain, n);
        gsize c_len = n, s_len = n;
        ck_assert_int_eq(bridge_srtp_protect(out_c, c, &c_len), 0);
        ck_assert_int_eq(bridge_srtp_protect(out_s, s, &s_len), 0);
        ck_assert_uint_eq(c_len, s_len);
        ck_assert_int_ne(memcmp(c, s, c_len), 0);
        guint8 copy[sizeof c];
        memcpy(copy, c, c_len);
        gsize copy_len = c_len;
        ck_assert_int_eq(bridge_srtp_unprotect(in_s, copy, &copy_len), -EBADMSG);
        ck_assert_int_eq(bridge_srtp_unprotect(in_c, c, &c_len), 0);
        ck_assert_uint_eq(c_len, n);
        ck_assert_int_eq(memcmp(c, plain, n), 0);
    }
}
END_TEST

/* Protects SSRC 9, `seq`, with a payload that says `content`; the bytes in `out`. */
static int
protect_content(BridgeSrtpSend *send, guint16 seq, guint8 content, gboolean again, guint8 *out)
{
    guint8 pkt[64 + BRIDGE_SRTP_MAX_TRAILER] = {0x80, 96};
    pkt[2] = (guint8)(seq >> 8);
    pkt[3] = (guint8)seq;
    pkt[11] = 9;
    memset(pkt + 12, content, 52);
    gsize len = 64;
    int rc = bridge_srtp_send_protect(send, pkt, &len, again);
    if (rc == 0 && out != NULL)
        memcpy(out, pkt, len);
    return rc;
}

/* An index encrypts one plaintext: a new packet under an index already used is refused,
 * a retransmission of it is not; against a model of the window over a random walk
 * (reordering, repeats, jumps past the window). */
START_TEST(test_an_index_is_never_reused_for_a_new_packet)
{
    g_autoptr(GRand) rng = g_rand_new_with_seed(11);
    BridgeSrtpKey key;
    random_key(rng, BRIDGE_SRTP_AEAD_AES_128_GCM, &key);
    g_autoptr(BridgeSrtpSend) send = bridge_srtp_send_new(&key, NULL);
    guint8 first[96], again[96];
    ck_assert_int_eq(protect_content(send, 100, 1, FALSE, first), 0);
    ck_assert_int_eq(protect_content(send, 100, 2, FALSE, NULL), -EALREADY);
    ck_assert_int_eq(protect_content(send, 100, 1, TRUE, again), 0);
    ck_assert_int_eq(memcmp(first, again, 64 + 16), 0);
    ck_assert_int_eq(protect_content(send, 98, 1, FALSE, NULL), 0); /* late, never sent */
    ck_assert_int_eq(protect_content(send, 98, 1, FALSE, NULL), -EALREADY);
    /* The model: every index sent (17 bits are plenty for this walk), the highest. */
    GHashTable *sent = g_hash_table_new(NULL, NULL);
    g_hash_table_add(sent, GUINT_TO_POINTER(100));
    g_hash_table_add(sent, GUINT_TO_POINTER(98));
    gint64 highest = 100;
    int refused = 0, accepted = 0;
    for (int i = 0; i < 20000; i++) {
        int r = g_rand_int_range(rng, 0, 1000) / 10; /* 99: 0.2 % */
        if (r == 99 && g_rand_int_range(rng, 0, 5) != 0)
            r = 0;
        gint64 step = r < 85   ? 1
                      : r < 92 ? -g_rand_int_range(rng, 0, 1100)    /* late, or a repeat */
                      : r < 99 ? g_rand_int_range(rng, 2, 40)       /* a few lost */
                               : g_rand_int_range(rng, 1024, 1500); /* past the window */
        gint64 index = MAX(highest + step, 0);
        if (index > 60000)
            break; /* the walk stays in ROC 0, where SEQ is the index */
        gboolean fresh =
            !g_hash_table_contains(sent, GUINT_TO_POINTER(index)) && index > highest - 1024;
        int rc = protect_content(send, (guint16)index, (guint8)i, FALSE, NULL);
        ck_assert_int_eq(rc, fresh ? 0 : -EALREADY);
        if (rc == 0) {
            g_hash_table_add(sent, GUINT_TO_POINTER(index));
            highest = MAX(highest, index);
            accepted++;
        } else {
            refused++;
        }
    }
    ck_assert_int_gt(accepted, 1000);
    ck_assert_int_gt(refused, 100);
    g_hash_table_unref(sent);
}
END_TEST

/* After its SSRC changed hands, nothing sent under it is sent again, not even as a
 * retransmission; what is sent after may be. */
START_TEST(test_a_retired_ssrc_repeats_nothing_sent_before)
{
    g_autoptr(GRand) rng = g_rand_new_with_seed(12);
    BridgeSrtpKey key;
    random_key(rng, BRIDGE_SRTP_AES128_CM_SHA1_80, &key);
    g_autoptr(BridgeSrtpSend) send = bridge_srtp_send_new(&key, NULL);
    for (guint16 seq = 10; seq <= 20; seq++)
        ck_assert_int_eq(protect_content(send, seq, 1, FALSE, NULL), 0);
    ck_assert_int_eq(protect_content(send, 15, 1, TRUE, NULL), 0);
    bridge_srtp_send_retire(send, 9);
    bridge_srtp_send_retire(send, 12345); /* never sent: nothing to do */
    ck_assert_int_eq(protect_content(send, 15, 2, TRUE, NULL), -EALREADY);
    ck_assert_int_eq(protect_content(send, 20, 2, TRUE, NULL), -EALREADY);
    ck_assert_int_eq(protect_content(send, 5, 2, FALSE, NULL), 0); /* never sent */
    ck_assert_int_eq(protect_content(send, 21, 2, FALSE, NULL), 0);
    ck_assert_int_eq(protect_content(send, 21, 2, TRUE, NULL), 0);
}
END_TEST

static Suite *
make_suite(void)
{
    Suite *s = suite_create("srtp-transform");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_equal_to_libsrtp_gcm);
    tcase_add_test(tc, test_equal_to_libsrtp_cm);
    tcase_add_test(tc, test_kdf_rfc3711);
    tcase_add_test(tc, test_gcm_rfc7714);
    tcase_add_test(tc, test_cm_rfc3711_keystream);
    tcase_add_test(tc, test_window);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_ssrc_cap);
    tcase_add_test(tc, test_direction);
    tcase_add_test(tc, test_an_index_is_never_reused_for_a_new_packet);
    tcase_add_test(tc, test_a_retired_ssrc_repeats_nothing_sent_before);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(make_suite)
