/* Unit tests of common/jwt.c: good HS256, RS256 and ES256 tokens; `alg: none`, algorithm
 * confusion, forged signatures, expiry and not-before, issuer and audience, oversize and
 * malformed tokens, the claim shapes Jitsi issuers write, and keys the verifier must refuse.
 * Tokens are signed here with OpenSSL, independently of the code under test. */
#include "../check-main.h"
#include "crypto.h"
#include "cc-autoptr.h"
#include "jwt.h"

#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <string.h>

#define NOW    1900000000
#define SECRET "0123456789abcdef0123456789abcdef-secret"

static const CcJwtExpect plain = {.now = NOW};

static char *
b64(const char *text)
{
    return cc_base64url_encode((const guint8 *)text, strlen(text));
}

static EVP_PKEY *
keygen(const char *type, const char *param)
{
    if (g_str_equal(type, "RSA"))
        return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)atoi(param));
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", param);
}

static char *
public_pem(EVP_PKEY *pkey)
{
    BIO *bio = BIO_new(BIO_s_mem());
    ck_assert(PEM_write_bio_PUBKEY(bio, pkey) == 1);
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    char *pem = g_strndup(data, (gsize)len);
    BIO_free(bio);
    return pem;
}

static CcJwtKey *
key_from_pem(CcJwtAlgorithm algorithm, EVP_PKEY *pkey)
{
    g_autofree char *pem = public_pem(pkey);
    g_autoptr(GError) error = NULL;
    CcJwtKey *key = cc_jwt_key_new(algorithm, (const guint8 *)pem, strlen(pem), &error);
    ck_assert_msg(key != NULL, "%s", error ? error->message : "");
    return key;
}

static CcJwtKey *
hs_key(void)
{
    return cc_jwt_key_new(CC_JWT_HS256, (const guint8 *)SECRET, strlen(SECRET), NULL);
}

/* Signs header.payload with `pkey` (NULL: HMAC with SECRET) the way JWS says. */
static char *
sign(const char *header, const char *payload, const char *alg, EVP_PKEY *pkey)
{
    g_autofree char *h = b64(header), *p = b64(payload);
    g_autofree char *input = g_strdup_printf("%s.%s", h, p);
    guint8 sig[512];
    size_t sig_len = sizeof sig;
    if (g_str_equal(alg, "HS256")) {
        ck_assert(cc_hmac_sha256((const guint8 *)SECRET, strlen(SECRET), input, strlen(input), sig,
                                 NULL));
        sig_len = CC_HMAC_SHA256_LEN;
    } else {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        ck_assert(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1);
        ck_assert(EVP_DigestSign(ctx, sig, &sig_len, (const guint8 *)input, strlen(input)) == 1);
        EVP_MD_CTX_free(ctx);
        if (g_str_equal(alg, "ES256")) { /* DER to R || S */
            const guint8 *der = sig;
            ECDSA_SIG *ecdsa = d2i_ECDSA_SIG(NULL, &der, (long)sig_len);
            ck_assert_ptr_nonnull(ecdsa);
            guint8 raw[64];
            BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa), raw, 32);
            BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa), raw + 32, 32);
            ECDSA_SIG_free(ecdsa);
            memcpy(sig, raw, 64);
            sig_len = 64;
        }
    }
    g_autofree char *s = cc_base64url_encode(sig, sig_len);
    return g_strdup_printf("%s.%s", input, s);
}

static char *
hs_token(const char *payload)
{
    return sign("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, "HS256", NULL);
}

static void
assert_refused(const char *token, const CcJwtKey *key, const CcJwtExpect *expect, CcJwtError code)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CcJwtClaims) claims = cc_jwt_verify(token, key, expect, &error);
    ck_assert_msg(claims == NULL, "accepted: %s", token);
    ck_assert_msg(g_error_matches(error, CC_JWT_ERROR, (gint)code), "'%s': got %s (%d), not %d",
                  token, error ? error->message : "no error", error ? error->code : -1, code);
}

static const char good_payload[] = "{\"iss\":\"meet\",\"aud\":\"conclave\",\"sub\":\"example.org\","
                                   "\"room\":\"standup\",\"exp\":1900000600,\"nbf\":1899999000,"
                                   "\"context\":{\"user\":{\"moderator\":true,\"name\":\"A\"}}}";

START_TEST(test_good_tokens)
{
    CcJwtExpect expect = {.issuer = "meet", .audience = "conclave", .now = NOW};
    g_autoptr(EVP_PKEY) rsa = keygen("RSA", "2048");
    g_autoptr(EVP_PKEY) ec = keygen("EC", "P-256");
    struct {
        const char *alg;
        EVP_PKEY *pkey;
        CcJwtKey *key;
    } cases[] = {
        {"HS256", NULL, hs_key()},
        {"RS256", rsa, key_from_pem(CC_JWT_RS256, rsa)},
        {"ES256", ec, key_from_pem(CC_JWT_ES256, ec)},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *header = g_strdup_printf("{\"alg\":\"%s\",\"typ\":\"JWT\"}", cases[i].alg);
        g_autofree char *token = sign(header, good_payload, cases[i].alg, cases[i].pkey);
        g_autoptr(GError) error = NULL;
        g_autoptr(CcJwtClaims) claims = cc_jwt_verify(token, cases[i].key, &expect, &error);
        ck_assert_msg(claims != NULL, "%s: %s", cases[i].alg, error ? error->message : "");
        ck_assert_str_eq(claims->room, "standup");
        ck_assert_str_eq(claims->sub, "example.org");
        ck_assert_int_eq(claims->exp, 1900000600);
        ck_assert_int_eq(claims->moderator, CC_JWT_MODERATOR_YES);
        ck_assert(cc_jwt_claims_allow_room(claims, "StandUp"));
        ck_assert(!cc_jwt_claims_allow_room(claims, "standup2"));
        /* The same token under another algorithm's key: refused, whatever the key. */
        for (gsize j = 0; j < G_N_ELEMENTS(cases); j++)
            if (j != i)
                assert_refused(token, cases[j].key, &expect, CC_JWT_ERROR_ALGORITHM);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++)
        cc_jwt_key_free(cases[i].key);
}
END_TEST

START_TEST(test_alg_none_and_confusion)
{
    g_autoptr(CcJwtKey) key = hs_key();
    g_autofree char *h = b64("{\"alg\":\"none\"}"), *p = b64(good_payload);
    g_autofree char *unsigned_token = g_strdup_printf("%s.%s.", h, p);
    assert_refused(unsigned_token, key, &plain, CC_JWT_ERROR_MALFORMED); /* empty signature */
    g_autofree char *none = g_strdup_printf("%s.%s.AAAA", h, p);
    assert_refused(none, key, &plain, CC_JWT_ERROR_ALGORITHM);
    g_autofree char *h2 = b64("{\"alg\":\"hs256\"}"); /* case matters */
    g_autofree char *lower = g_strdup_printf("%s.%s.AAAA", h2, p);
    assert_refused(lower, key, &plain, CC_JWT_ERROR_ALGORITHM);
    g_autofree char *h3 = b64("{\"typ\":\"JWT\"}");
    g_autofree char *no_alg = g_strdup_printf("%s.%s.AAAA", h3, p);
    assert_refused(no_alg, key, &plain, CC_JWT_ERROR_ALGORITHM);

    /* The classic confusion: an RS256 verifier's public key, used by an attacker as an
     * HMAC secret. The key can never be loaded as a secret... */
    g_autoptr(EVP_PKEY) rsa = keygen("RSA", "2048");
    g_autofree char *pem = public_pem(rsa);
    g_autoptr(GError) error = NULL;
    ck_assert_ptr_null(cc_jwt_key_new(CC_JWT_HS256, (const guint8 *)pem, strlen(pem), &error));
    ck_assert(g_error_matches(error, CC_JWT_ERROR, CC_JWT_ERROR_ALGORITHM));
    /* ...and an HS256 token signed with it fails on the RS256 verifier. */
    g_autoptr(CcJwtKey) rs_key = key_from_pem(CC_JWT_RS256, rsa);
    g_autofree char *h4 = b64("{\"alg\":\"HS256\"}");
    g_autofree char *hp = g_strdup_printf("%s.%s", h4, p);
    guint8 mac[CC_HMAC_SHA256_LEN];
    ck_assert(cc_hmac_sha256((const guint8 *)pem, strlen(pem), hp, strlen(hp), mac, NULL));
    g_autofree char *mac_text = cc_base64url_encode(mac, sizeof mac);
    g_autofree char *forged = g_strdup_printf("%s.%s", hp, mac_text);
    assert_refused(forged, rs_key, &plain, CC_JWT_ERROR_ALGORITHM);
}
END_TEST

START_TEST(test_forged_signatures)
{
    g_autoptr(CcJwtKey) key = hs_key();
    g_autofree char *token = hs_token(good_payload);
    gsize len = strlen(token);
    /* Change one character of the signature, and of the payload. */
    g_autofree char *bad_sig = g_strdup(token);
    bad_sig[len - 2] = bad_sig[len - 2] == 'A' ? 'B' : 'A';
    assert_refused(bad_sig, key, &plain, CC_JWT_ERROR_SIGNATURE);
    /* Another payload (a moderator for every room) under the good token's signature. */
    g_autofree char *other = hs_token("{\"room\":\"*\",\"exp\":1900000600,\"moderator\":true}");
    const char *sig_dot = strrchr(token, '.');
    g_autofree char *spliced =
        g_strdup_printf("%.*s%s", (int)(strrchr(other, '.') - other), other, sig_dot);
    assert_refused(spliced, key, &plain, CC_JWT_ERROR_SIGNATURE);
    g_autoptr(EVP_PKEY) ec = keygen("EC", "P-256");
    g_autoptr(CcJwtKey) es_key = key_from_pem(CC_JWT_ES256, ec);
    g_autofree char *es = sign("{\"alg\":\"ES256\"}", good_payload, "ES256", ec);
    gsize raw_len = 0;
    g_autofree guint8 *raw = cc_base64url_decode(strrchr(es, '.') + 1, &raw_len, NULL);
    ck_assert_uint_eq(raw_len, 64);
    g_autofree char *raw_short = cc_base64url_encode(raw, 63); /* R || S less one byte */
    g_autofree char *es_short =
        g_strdup_printf("%.*s.%s", (int)(strrchr(es, '.') - es), es, raw_short);
    assert_refused(es_short, es_key, &plain, CC_JWT_ERROR_SIGNATURE);
    g_autoptr(EVP_PKEY) ec2 = keygen("EC", "P-256");
    g_autofree char *es_other = sign("{\"alg\":\"ES256\"}", good_payload, "ES256", ec2);
    assert_refused(es_other, es_key, &plain, CC_JWT_ERROR_SIGNATURE);
}
END_TEST

START_TEST(test_times)
{
    g_autoptr(CcJwtKey) key = hs_key();
    g_autofree char *expired = hs_token("{\"room\":\"a\",\"exp\":1899999999}");
    assert_refused(expired, key, &plain, CC_JWT_ERROR_EXPIRED);
    g_autofree char *at_exp = hs_token("{\"room\":\"a\",\"exp\":1900000000}");
    assert_refused(at_exp, key, &plain, CC_JWT_ERROR_EXPIRED);
    CcJwtExpect lenient = {.now = NOW, .leeway_s = 5};
    g_autoptr(CcJwtClaims) ok = cc_jwt_verify(at_exp, key, &lenient, NULL);
    ck_assert_ptr_nonnull(ok);
    g_autofree char *early = hs_token("{\"room\":\"a\",\"exp\":1900009999,\"nbf\":1900000010}");
    assert_refused(early, key, &plain, CC_JWT_ERROR_NOT_YET_VALID);
    g_autofree char *no_exp = hs_token("{\"room\":\"a\"}");
    assert_refused(no_exp, key, &plain, CC_JWT_ERROR_MALFORMED);
    g_autofree char *text_exp = hs_token("{\"room\":\"a\",\"exp\":\"1900009999\"}");
    assert_refused(text_exp, key, &plain, CC_JWT_ERROR_MALFORMED);
    g_autofree char *huge = hs_token("{\"room\":\"a\",\"exp\":1e300}");
    assert_refused(huge, key, &plain, CC_JWT_ERROR_MALFORMED);
    g_autofree char *max = hs_token("{\"room\":\"a\",\"exp\":9223372036854775807,"
                                    "\"nbf\":-9223372036854775808}");
    g_autoptr(CcJwtClaims) far = cc_jwt_verify(max, key, &lenient, NULL);
    ck_assert_ptr_nonnull(far);
    g_autofree char *fraction = hs_token("{\"room\":\"a\",\"exp\":1900000000.9}");
    assert_refused(fraction, key, &plain, CC_JWT_ERROR_EXPIRED);
}
END_TEST

START_TEST(test_issuer_and_audience)
{
    g_autoptr(CcJwtKey) key = hs_key();
    CcJwtExpect expect = {.issuer = "meet", .audience = "conclave", .now = NOW};
    g_autofree char *wrong_iss = hs_token("{\"iss\":\"other\",\"aud\":\"conclave\",\"room\":\"a\","
                                          "\"exp\":1900000600}");
    assert_refused(wrong_iss, key, &expect, CC_JWT_ERROR_ISSUER);
    g_autofree char *no_iss = hs_token("{\"aud\":\"conclave\",\"room\":\"a\",\"exp\":1900000600}");
    assert_refused(no_iss, key, &expect, CC_JWT_ERROR_ISSUER);
    g_autofree char *wrong_aud = hs_token("{\"iss\":\"meet\",\"aud\":\"jitsi\",\"room\":\"a\","
                                          "\"exp\":1900000600}");
    assert_refused(wrong_aud, key, &expect, CC_JWT_ERROR_AUDIENCE);
    g_autofree char *aud_list = hs_token("{\"iss\":\"meet\",\"aud\":[\"x\",\"conclave\"],"
                                         "\"room\":\"a\",\"exp\":1900000600}");
    g_autoptr(CcJwtClaims) ok = cc_jwt_verify(aud_list, key, &expect, NULL);
    ck_assert_ptr_nonnull(ok);
    g_autofree char *aud_other = hs_token("{\"iss\":\"meet\",\"aud\":[\"x\",1],\"room\":\"a\","
                                          "\"exp\":1900000600}");
    assert_refused(aud_other, key, &expect, CC_JWT_ERROR_AUDIENCE);
}
END_TEST

START_TEST(test_moderator_shapes)
{
    g_autoptr(CcJwtKey) key = hs_key();
    struct {
        const char *payload;
        int moderator; /* -1: refused */
    } cases[] = {
        {"{\"room\":\"a\",\"exp\":1900000600}", CC_JWT_MODERATOR_UNSET},
        {"{\"room\":\"a\",\"exp\":1900000600,\"moderator\":false}", CC_JWT_MODERATOR_NO},
        {"{\"room\":\"a\",\"exp\":1900000600,\"moderator\":true}", CC_JWT_MODERATOR_YES},
        {"{\"room\":\"a\",\"exp\":1900000600,\"context\":{\"user\":{\"moderator\":\"true\"}}}",
         CC_JWT_MODERATOR_YES},
        {"{\"room\":\"a\",\"exp\":1900000600,\"context\":{\"user\":{\"moderator\":\"false\"}}}",
         CC_JWT_MODERATOR_NO},
        {"{\"room\":\"a\",\"exp\":1900000600,\"context\":{\"user\":\"x\"}}",
         CC_JWT_MODERATOR_UNSET},
        {"{\"room\":\"a\",\"exp\":1900000600,\"moderator\":true,"
         "\"context\":{\"user\":{\"moderator\":false}}}",
         -1},
        {"{\"room\":\"a\",\"exp\":1900000600,\"moderator\":1}", -1},
        {"{\"room\":\"a\",\"exp\":1900000600,\"moderator\":\"yes\"}", -1},
        {"{\"room\":\"a\",\"exp\":1900000600,\"context\":{\"user\":{\"moderator\":[true]}}}", -1},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *token = hs_token(cases[i].payload);
        g_autoptr(GError) error = NULL;
        g_autoptr(CcJwtClaims) claims = cc_jwt_verify(token, key, &plain, &error);
        if (cases[i].moderator < 0) {
            ck_assert_msg(claims == NULL, "accepted %s", cases[i].payload);
            ck_assert(g_error_matches(error, CC_JWT_ERROR, CC_JWT_ERROR_MALFORMED));
        } else {
            ck_assert_msg(claims != NULL, "%s: %s", cases[i].payload, error->message);
            ck_assert_int_eq(claims->moderator, cases[i].moderator);
        }
    }
}
END_TEST

START_TEST(test_room_claim)
{
    g_autoptr(CcJwtKey) key = hs_key();
    g_autofree char *any = hs_token("{\"room\":\"*\",\"exp\":1900000600}");
    g_autoptr(CcJwtClaims) claims = cc_jwt_verify(any, key, &plain, NULL);
    ck_assert_ptr_nonnull(claims);
    ck_assert(cc_jwt_claims_allow_room(claims, "anything"));
    const char *bad[] = {"{\"exp\":1900000600}", "{\"room\":\"\",\"exp\":1900000600}",
                         "{\"room\":7,\"exp\":1900000600}", "{\"room\":null,\"exp\":1900000600}",
                         "{\"room\":\"a\",\"sub\":{},\"exp\":1900000600}"};
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *token = hs_token(bad[i]);
        assert_refused(token, key, &plain, CC_JWT_ERROR_MALFORMED);
    }
    g_autofree char *long_room = g_strnfill(1024, 'r');
    g_autofree char *payload = g_strdup_printf("{\"room\":\"%s\",\"exp\":1900000600}", long_room);
    g_autofree char *token = hs_token(payload);
    assert_refused(token, key, &plain, CC_JWT_ERROR_MALFORMED);
}
END_TEST

START_TEST(test_malformed_tokens)
{
    g_autoptr(CcJwtKey) key = hs_key();
    g_autofree char *good = hs_token(good_payload);
    const char *shapes[] = {
        "", ".", "..", "a.b", "a.b.c.d", ".b.c", "a..c", "a.b.", "a b.c.d",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(shapes); i++)
        assert_refused(shapes[i], key, &plain, CC_JWT_ERROR_MALFORMED);
    /* Padding, '+' and '/' are base64, not base64url. */
    g_autofree char *padded = g_strdup_printf("%s=", good);
    assert_refused(padded, key, &plain, CC_JWT_ERROR_MALFORMED);
    g_autofree char *plus = g_strdup(good);
    plus[3] = '+';
    assert_refused(plus, key, &plain, CC_JWT_ERROR_MALFORMED);
    /* Headers and payloads that are not JSON objects. */
    const char *headers[] = {"[\"HS256\"]", "\"HS256\"", "{\"alg\":\"HS256\"", "{\"alg\":7}",
                             "{\"alg\":\"HS256\",\"typ\":\"JOSE+JSON\"}"};
    for (gsize i = 0; i < G_N_ELEMENTS(headers); i++) {
        g_autofree char *token = sign(headers[i], good_payload, "HS256", NULL);
        assert_refused(token, key, &plain, CC_JWT_ERROR_MALFORMED);
    }
    g_autofree char *crit =
        sign("{\"alg\":\"HS256\",\"crit\":[\"b64\"],\"b64\":false}", good_payload, "HS256", NULL);
    assert_refused(crit, key, &plain, CC_JWT_ERROR_ALGORITHM);
    const char *payloads[] = {"[]", "null", "{", "{\"room\":\"a\",\"exp\":1900000600",
                              "{\"room\":\"a\",\"exp\":1900000600}x"};
    for (gsize i = 0; i < G_N_ELEMENTS(payloads); i++) {
        g_autofree char *token = hs_token(payloads[i]);
        assert_refused(token, key, &plain, CC_JWT_ERROR_MALFORMED);
    }
    /* A NUL inside the decoded payload, signed correctly. */
    g_autoptr(GError) error = NULL;
    ck_assert_ptr_null(
        cc_jwt_claims_parse("{\"room\":\"a\0\",\"exp\":1900000600}", 31, &plain, &error));
    ck_assert(g_error_matches(error, CC_JWT_ERROR, CC_JWT_ERROR_MALFORMED));
    /* Oversize: refused before any decoding. */
    g_autofree char *big = g_strnfill(CC_JWT_MAX_LEN + 1, 'a');
    assert_refused(big, key, &plain, CC_JWT_ERROR_TOO_LARGE);
}
END_TEST

START_TEST(test_keys_refused)
{
    g_autoptr(GError) error = NULL;
    ck_assert_ptr_null(cc_jwt_key_new(CC_JWT_HS256, (const guint8 *)"short", 5, &error));
    g_clear_error(&error);
    g_autoptr(EVP_PKEY) small = keygen("RSA", "1024");
    g_autofree char *small_pem = public_pem(small);
    ck_assert_ptr_null(
        cc_jwt_key_new(CC_JWT_RS256, (const guint8 *)small_pem, strlen(small_pem), &error));
    ck_assert_ptr_nonnull(strstr(error->message, "1024 bits"));
    g_clear_error(&error);
    g_autoptr(EVP_PKEY) p384 = keygen("EC", "P-384");
    g_autofree char *p384_pem = public_pem(p384);
    ck_assert_ptr_null(
        cc_jwt_key_new(CC_JWT_ES256, (const guint8 *)p384_pem, strlen(p384_pem), &error));
    g_clear_error(&error);
    g_autoptr(EVP_PKEY) rsa = keygen("RSA", "2048");
    g_autofree char *rsa_pem = public_pem(rsa);
    ck_assert_ptr_null(
        cc_jwt_key_new(CC_JWT_ES256, (const guint8 *)rsa_pem, strlen(rsa_pem), &error));
    g_clear_error(&error);
    /* A private key never goes on the focus. */
    BIO *bio = BIO_new(BIO_s_mem());
    ck_assert(PEM_write_bio_PrivateKey(bio, rsa, NULL, NULL, 0, NULL, NULL) == 1);
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    ck_assert_ptr_null(cc_jwt_key_new(CC_JWT_RS256, (const guint8 *)data, (gsize)len, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "private key"));
    BIO_free(bio);
    g_clear_error(&error);
    ck_assert_ptr_null(cc_jwt_key_new(CC_JWT_RS256, (const guint8 *)"junk", 4, &error));
    CcJwtAlgorithm alg;
    ck_assert(cc_jwt_algorithm_parse("ES256", &alg) && alg == CC_JWT_ES256);
    ck_assert(!cc_jwt_algorithm_parse("none", &alg));
    ck_assert(!cc_jwt_algorithm_parse("hs256", &alg));
}
END_TEST

/* A token made by another implementation (PyJWT 2.6, HS256), kept as a fixed vector. */
START_TEST(test_interop_vector)
{
    static const char secret[] = "interop-secret-interop-secret-0123456789";
    static const char token[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJtZWV0IiwiYXVkIjoiY29uY2xhdmUiLCJyb29tIj"
        "oic3RhbmR1cCIsImV4cCI6MjAwMDAwMDAwMCwiY29udGV4dCI6eyJ1c2VyIjp7Im1vZGVyYXRvciI6dHJ1ZX19fQ"
        ".z3B7p2KQgoxwS0VT10FLqzbqe0-i-7UWQn0Xh-PbjFc";
    g_autoptr(CcJwtKey) key =
        cc_jwt_key_new(CC_JWT_HS256, (const guint8 *)secret, strlen(secret), NULL);
    CcJwtExpect expect = {.issuer = "meet", .audience = "conclave", .now = NOW};
    g_autoptr(GError) error = NULL;
    g_autoptr(CcJwtClaims) claims = cc_jwt_verify(token, key, &expect, &error);
    ck_assert_msg(claims != NULL, "%s", error ? error->message : "");
    ck_assert_str_eq(claims->room, "standup");
    ck_assert_int_eq(claims->moderator, CC_JWT_MODERATOR_YES);
}
END_TEST

static Suite *
jwt_suite(void)
{
    Suite *s = suite_create("jwt");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_good_tokens);
    tcase_add_test(tc, test_alg_none_and_confusion);
    tcase_add_test(tc, test_forged_signatures);
    tcase_add_test(tc, test_times);
    tcase_add_test(tc, test_issuer_and_audience);
    tcase_add_test(tc, test_moderator_shapes);
    tcase_add_test(tc, test_room_claim);
    tcase_add_test(tc, test_malformed_tokens);
    tcase_add_test(tc, test_keys_refused);
    tcase_add_test(tc, test_interop_vector);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(jwt_suite)
