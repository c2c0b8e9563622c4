/* JWT verification (see jwt.h). Tokens come from any client: every step bounds what it reads,
 * the algorithm comes from the operator's configuration and never from the token, and the
 * signature is checked before a claim is read. Owns no policy: the focus decides what a
 * valid token grants. */
#include "jwt.h"

#include "crypto.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <string.h>

G_DEFINE_QUARK(cc - jwt - error - quark, cc_jwt_error)

#define HMAC_SECRET_MIN 32
#define RSA_BITS_MIN    2048
#define PEM_MAX         65536
#define ROOM_CLAIM_MAX  1023

struct _CcJwtKey {
    CcJwtAlgorithm algorithm;
    GBytes *secret; /* HS256 */
    EVP_PKEY *pkey; /* RS256, ES256 */
};

static const char *const algorithm_names[] = {"HS256", "RS256", "ES256"};

gboolean
cc_jwt_algorithm_parse(const char *name, CcJwtAlgorithm *out)
{
    for (guint i = 0; i < G_N_ELEMENTS(algorithm_names); i++) {
        if (g_strcmp0(name, algorithm_names[i]) == 0) {
            *out = (CcJwtAlgorithm)i;
            return TRUE;
        }
    }
    return FALSE;
}

const char *
cc_jwt_algorithm_name(CcJwtAlgorithm algorithm)
{
    return algorithm_names[algorithm];
}

void
cc_jwt_key_free(CcJwtKey *key)
{
    if (key == NULL)
        return;
    g_clear_pointer(&key->secret, g_bytes_unref);
    EVP_PKEY_free(key->pkey);
    g_free(key);
}

static gboolean
looks_like_pem(const guint8 *data, gsize len)
{
    static const char mark[] = "-----BEGIN";
    return g_strstr_len((const char *)data, (gssize)len, mark) != NULL;
}

static gboolean
check_public_key(CcJwtAlgorithm algorithm, EVP_PKEY *pkey, GError **error)
{
    if (algorithm == CC_JWT_RS256) {
        if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
            g_set_error(error, CC_JWT_ERROR, CC_JWT_ERROR_ALGORITHM,
                        "RS256 needs an RSA public key");
            return FALSE;
        }
        if (EVP_PKEY_get_bits(pkey) < RSA_BITS_MIN) {
            g_set_error(error, CC_JWT_ERROR, CC_JWT_ERROR_ALGORITHM,
                        "the RSA key has %d bits; at least %d are needed", EVP_PKEY_get_bits(pkey),
                        RSA_BITS_MIN);
            return FALSE;
        }
        return TRUE;
    }
    char group[64] = "";
    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC ||
        !EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                        NULL) ||
        strcmp(group, "prime256v1") != 0) {
        g_set_error(error, CC_JWT_ERROR, CC_JWT_ERROR_ALGORITHM,
                    "ES256 needs an EC public key on the P-256 curve");
        return FALSE;
    }
    return TRUE;
}

CcJwtKey *
cc_jwt_key_new(CcJwtAlgorithm algorithm, const guint8 *data, gsize len, GError **error)
{
    g_autoptr(CcJwtKey) key = g_new0(CcJwtKey, 1);
    key->algorithm = algorithm;
    if (algorithm == CC_JWT_HS256) {
        if (looks_like_pem(data, len)) {
            g_set_error(error, CC_JWT_ERROR, CC_JWT_ERROR_ALGORITHM,
                        "HS256 takes a shared secret, not a PEM key (a public key used as an "
                        "HMAC secret lets anyone who has it sign tokens)");
            return NULL;
        }
        if (len < HMAC_SECRET_MIN) {
            g_set_error(error, CC_JWT_ERROR, CC_JWT_ERROR_MALFORMED,
                        "the HS256 secret has %zu bytes; at least %d are needed", len,
                        HMAC_SECRET_MIN);
            return NULL;
        }
        key->secret = g_bytes_new(data, len);
        return g_steal_pointer(&key);
    }
    if (len > PEM_MAX || g_strstr_len((const char *)data, (gssize)len, "PRIVATE KEY") != NULL) {
        g_set_error(error, CC_JWT_ERROR, CC_JWT_ERROR_MALFORMED,
                    "expected a public key in PEM (never a private key: the focus only verifies)");
        return NULL;
    }
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    key->pkey = bio != NULL ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (key->pkey == NULL) {
        g_set_error(error, CC_JWT_ERROR, CC_JWT_ERROR_MALFORMED, "not a PEM public key");
        return NULL;
    }
    if (!check_public_key(algorithm, key->pkey, error))
        return NULL;
    return g_steal_pointer(&key);
}

CcJwtKey *
cc_jwt_key_load(CcJwtAlgorithm algorithm, const char *path, GError **error)
{
    g_autofree char *data = NULL;
    gsize len = 0;
    if (algorithm == CC_JWT_HS256) {
        data = cc_secret_file_read(path, error); /* private, like every secret */
        if (data == NULL)
            return NULL;
        len = strlen(data);
    } else if (!g_file_get_contents(path, &data, &len, error)) {
        return NULL;
    }
    g_autoptr(GError) local = NULL;
    CcJwtKey *key = cc_jwt_key_new(algorithm, (const guint8 *)data, len, &local);
    if (data != NULL)
        explicit_bzero(data, len);
    if (key == NULL)
        g_set_error(error, local->domain, local->code, "%s: %s", path, local->message);
    return key;
}

CcJwtClaims *
cc_jwt_claims_copy(const CcJwtClaims *claims)
{
    if (claims == NULL)
        return NULL;
    CcJwtClaims *copy = g_memdup2(claims, sizeof *claims);
    copy->room = g_strdup(claims->room);
    copy->sub = g_strdup(claims->sub);
    return copy;
}

void
cc_jwt_claims_free(CcJwtClaims *claims)
{
    if (claims == NULL)
        return;
    g_free(claims->room);
    g_free(claims->sub);
    g_free(claims);
}

static gboolean G_GNUC_PRINTF(3, 4) fail(GError **error, CcJwtError code, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    g_autofree char *message = g_strdup_vprintf(format, args);
    va_end(args);
    g_set_error_literal(error, CC_JWT_ERROR, code, message);
    return FALSE;
}

/* A JSON object from bytes that may hold anything (NUL bytes included). */
static JsonObject *
parse_object(const char *json, gsize len, const char *what, GError **error)
{
    if (len == 0 || memchr(json, '\0', len) != NULL || !g_utf8_validate(json, (gssize)len, NULL)) {
        fail(error, CC_JWT_ERROR_MALFORMED, "the %s is not UTF-8 JSON text", what);
        return NULL;
    }
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    if (!json_parser_load_from_data(parser, json, (gssize)len, NULL)) {
        fail(error, CC_JWT_ERROR_MALFORMED, "the %s is not JSON", what);
        return NULL;
    }
    JsonNode *root = json_parser_get_root(parser);
    if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root)) {
        fail(error, CC_JWT_ERROR_MALFORMED, "the %s is not a JSON object", what);
        return NULL;
    }
    return json_object_ref(json_node_get_object(root));
}

static gboolean
get_string(JsonObject *object, const char *name, const char **out)
{
    JsonNode *node = json_object_get_member(object, name);
    *out = NULL;
    if (node == NULL)
        return TRUE;
    if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
        return FALSE;
    *out = json_node_get_string(node);
    return TRUE;
}

/* A NumericDate: whole seconds (a fraction is cut off), within what gint64 holds. */
static gboolean
get_time(JsonObject *object, const char *name, gboolean *present, gint64 *out)
{
    JsonNode *node = json_object_get_member(object, name);
    *present = node != NULL;
    if (node == NULL)
        return TRUE;
    if (!JSON_NODE_HOLDS_VALUE(node))
        return FALSE;
    GType type = json_node_get_value_type(node);
    if (type == G_TYPE_INT64) {
        *out = json_node_get_int(node);
        return TRUE;
    }
    if (type == G_TYPE_DOUBLE) {
        double v = json_node_get_double(node);
        if (!isfinite(v) || v < -9.2e18 || v > 9.2e18)
            return FALSE;
        *out = (gint64)floor(v);
        return TRUE;
    }
    return FALSE;
}

/* TRUE/FALSE from a JSON boolean, or the strings "true"/"false" some issuers write. */
static gboolean
get_flag(JsonNode *node, CcJwtModerator *out)
{
    if (node == NULL) {
        *out = CC_JWT_MODERATOR_UNSET;
        return TRUE;
    }
    if (!JSON_NODE_HOLDS_VALUE(node))
        return FALSE;
    GType type = json_node_get_value_type(node);
    gboolean value;
    if (type == G_TYPE_BOOLEAN)
        value = json_node_get_boolean(node);
    else if (type == G_TYPE_STRING && g_str_equal(json_node_get_string(node), "true"))
        value = TRUE;
    else if (type == G_TYPE_STRING && g_str_equal(json_node_get_string(node), "false"))
        value = FALSE;
    else
        return FALSE;
    *out = value ? CC_JWT_MODERATOR_YES : CC_JWT_MODERATOR_NO;
    return TRUE;
}

static JsonNode *
path_member(JsonObject *object, const char *first, const char *second, const char *third)
{
    JsonNode *a = json_object_get_member(object, first);
    if (a == NULL || !JSON_NODE_HOLDS_OBJECT(a))
        return NULL;
    JsonNode *b = json_object_get_member(json_node_get_object(a), second);
    if (b == NULL || !JSON_NODE_HOLDS_OBJECT(b))
        return NULL;
    return json_object_get_member(json_node_get_object(b), third);
}

/* `moderator` and Jitsi's `context.user.moderator`: either may say it; both must agree. */
static gboolean
read_moderator(JsonObject *payload, CcJwtModerator *out, GError **error)
{
    CcJwtModerator plain, nested;
    if (!get_flag(json_object_get_member(payload, "moderator"), &plain) ||
        !get_flag(path_member(payload, "context", "user", "moderator"), &nested))
        return fail(error, CC_JWT_ERROR_MALFORMED, "moderator is not a boolean");
    if (plain != CC_JWT_MODERATOR_UNSET && nested != CC_JWT_MODERATOR_UNSET && plain != nested)
        return fail(error, CC_JWT_ERROR_MALFORMED, "moderator and context.user.moderator disagree");
    *out = plain != CC_JWT_MODERATOR_UNSET ? plain : nested;
    return TRUE;
}

static gboolean
check_audience(JsonObject *payload, const char *audience, GError **error)
{
    JsonNode *aud = json_object_get_member(payload, "aud");
    if (aud != NULL && JSON_NODE_HOLDS_VALUE(aud) &&
        json_node_get_value_type(aud) == G_TYPE_STRING &&
        g_str_equal(json_node_get_string(aud), audience))
        return TRUE;
    if (aud != NULL && JSON_NODE_HOLDS_ARRAY(aud)) {
        JsonArray *items = json_node_get_array(aud);
        for (guint i = 0; i < json_array_get_length(items); i++) {
            JsonNode *item = json_array_get_element(items, i);
            if (JSON_NODE_HOLDS_VALUE(item) && json_node_get_value_type(item) == G_TYPE_STRING &&
                g_str_equal(json_node_get_string(item), audience))
                return TRUE;
        }
    }
    return fail(error, CC_JWT_ERROR_AUDIENCE, "the token is not for this audience");
}

static gboolean
check_times(JsonObject *payload, const CcJwtExpect *expect, gint64 *exp, GError **error)
{
    gboolean has_exp, has_nbf;
    gint64 nbf = 0;
    if (!get_time(payload, "exp", &has_exp, exp) || !get_time(payload, "nbf", &has_nbf, &nbf))
        return fail(error, CC_JWT_ERROR_MALFORMED, "exp or nbf is not a number");
    if (!has_exp) /* a token that never expires is a password that never changes */
        return fail(error, CC_JWT_ERROR_MALFORMED, "the token has no exp");
    gint64 leeway = expect->leeway_s;
    if (*exp <= G_MAXINT64 - leeway && expect->now >= *exp + leeway)
        return fail(error, CC_JWT_ERROR_EXPIRED, "the token has expired");
    if (has_nbf && nbf >= G_MININT64 + leeway && expect->now < nbf - leeway)
        return fail(error, CC_JWT_ERROR_NOT_YET_VALID, "the token is not valid yet");
    return TRUE;
}

CcJwtClaims *
cc_jwt_claims_parse(const char *json, gsize len, const CcJwtExpect *expect, GError **error)
{
    g_autoptr(JsonObject) payload = parse_object(json, len, "payload", error);
    if (payload == NULL)
        return NULL;
    g_autoptr(CcJwtClaims) claims = g_new0(CcJwtClaims, 1);
    if (!check_times(payload, expect, &claims->exp, error))
        return NULL;
    const char *iss, *room, *sub;
    if (!get_string(payload, "iss", &iss) || !get_string(payload, "room", &room) ||
        !get_string(payload, "sub", &sub)) {
        fail(error, CC_JWT_ERROR_MALFORMED, "iss, room or sub is not a string");
        return NULL;
    }
    if (expect->issuer != NULL && g_strcmp0(iss, expect->issuer) != 0) {
        fail(error, CC_JWT_ERROR_ISSUER, "the token is from another issuer");
        return NULL;
    }
    if (expect->audience != NULL && !check_audience(payload, expect->audience, error))
        return NULL;
    if (room == NULL || *room == '\0' || strlen(room) > ROOM_CLAIM_MAX) {
        fail(error, CC_JWT_ERROR_MALFORMED, "the token has no usable room claim");
        return NULL;
    }
    if (!read_moderator(payload, &claims->moderator, error))
        return NULL;
    claims->room = g_strdup(room);
    claims->sub = g_strdup(sub);
    return g_steal_pointer(&claims);
}

/* The header: a JSON object whose `alg` is exactly the configured algorithm. */
static gboolean
check_header(const char *part, gsize part_len, CcJwtAlgorithm algorithm, GError **error)
{
    g_autofree char *text = g_strndup(part, part_len);
    gsize len = 0;
    g_autofree guint8 *json = cc_base64url_decode(text, &len, NULL);
    if (json == NULL)
        return fail(error, CC_JWT_ERROR_MALFORMED, "the header is not base64url");
    g_autoptr(JsonObject) header = parse_object((const char *)json, len, "header", error);
    if (header == NULL)
        return FALSE;
    const char *alg, *typ;
    if (!get_string(header, "alg", &alg) || !get_string(header, "typ", &typ))
        return fail(error, CC_JWT_ERROR_MALFORMED, "alg or typ is not a string");
    if (alg == NULL || !g_str_equal(alg, cc_jwt_algorithm_name(algorithm)))
        return fail(error, CC_JWT_ERROR_ALGORITHM, "the token is not signed with %s",
                    cc_jwt_algorithm_name(algorithm));
    if (typ != NULL && g_ascii_strcasecmp(typ, "JWT") != 0)
        return fail(error, CC_JWT_ERROR_MALFORMED, "typ is not JWT");
    if (json_object_has_member(header, "crit")) /* no extension is understood here */
        return fail(error, CC_JWT_ERROR_ALGORITHM, "the token needs extensions (crit)");
    return TRUE;
}

static gboolean
verify_ecdsa(EVP_PKEY *pkey, const guint8 *sig, gsize sig_len, const char *data, gsize len)
{
    /* JWS carries R || S (32 bytes each); OpenSSL verifies DER. */
    if (sig_len != 64)
        return FALSE;
    ECDSA_SIG *ecdsa = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    if (ecdsa == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(ecdsa, r, s)) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(ecdsa);
        return FALSE;
    }
    unsigned char *der = NULL;
    int der_len = i2d_ECDSA_SIG(ecdsa, &der);
    ECDSA_SIG_free(ecdsa);
    gboolean ok = FALSE;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (der_len > 0 && ctx != NULL &&
        EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1)
        ok = EVP_DigestVerify(ctx, der, (size_t)der_len, (const unsigned char *)data, len) == 1;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    return ok;
}

static gboolean
verify_signature(const CcJwtKey *key, const guint8 *sig, gsize sig_len, const char *data, gsize len)
{
    if (key->algorithm == CC_JWT_HS256) {
        gsize secret_len = 0;
        const guint8 *secret = g_bytes_get_data(key->secret, &secret_len);
        guint8 mac[CC_HMAC_SHA256_LEN];
        if (!cc_hmac_sha256(secret, secret_len, data, len, mac, NULL))
            return FALSE;
        return cc_const_time_equal(mac, sizeof mac, sig, sig_len);
    }
    if (key->algorithm == CC_JWT_ES256)
        return verify_ecdsa(key->pkey, sig, sig_len, data, len);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    gboolean ok = ctx != NULL &&
                  EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key->pkey) == 1 &&
                  EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)data, len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

CcJwtClaims *
cc_jwt_verify(const char *token, const CcJwtKey *key, const CcJwtExpect *expect, GError **error)
{
    gsize len = strnlen(token, CC_JWT_MAX_LEN + 1);
    if (len > CC_JWT_MAX_LEN) {
        fail(error, CC_JWT_ERROR_TOO_LARGE, "the token is longer than %d bytes", CC_JWT_MAX_LEN);
        return NULL;
    }
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
    if (dot1 == NULL || dot2 == NULL || strchr(dot2 + 1, '.') != NULL || dot1 == token ||
        dot2 == dot1 + 1 || dot2[1] == '\0') {
        fail(error, CC_JWT_ERROR_MALFORMED, "a token is three non-empty parts joined by dots");
        return NULL;
    }
    if (!check_header(token, (gsize)(dot1 - token), key->algorithm, error))
        return NULL;
    gsize sig_len = 0;
    g_autofree guint8 *sig = cc_base64url_decode(dot2 + 1, &sig_len, NULL);
    if (sig == NULL) {
        fail(error, CC_JWT_ERROR_MALFORMED, "the signature is not base64url");
        return NULL;
    }
    if (!verify_signature(key, sig, sig_len, token, (gsize)(dot2 - token))) {
        fail(error, CC_JWT_ERROR_SIGNATURE, "the signature does not verify");
        return NULL;
    }
    g_autofree char *payload_text = g_strndup(dot1 + 1, (gsize)(dot2 - dot1 - 1));
    gsize payload_len = 0;
    g_autofree guint8 *payload = cc_base64url_decode(payload_text, &payload_len, NULL);
    if (payload == NULL) {
        fail(error, CC_JWT_ERROR_MALFORMED, "the payload is not base64url");
        return NULL;
    }
    return cc_jwt_claims_parse((const char *)payload, payload_len, expect, error);
}

gboolean
cc_jwt_claims_allow_room(const CcJwtClaims *claims, const char *room)
{
    return g_str_equal(claims->room, "*") || g_ascii_strcasecmp(claims->room, room) == 0;
}
