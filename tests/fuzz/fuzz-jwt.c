/* libFuzzer target: JWT verification (tokens come from any client, in the Jitsi conference
 * IQ and the MUC join). The first byte picks what the rest is:
 *   0: a whole token, verified as received (shape, base64url, header, signature);
 *   1: a payload, signed here with the test key, so the claims parser is reached;
 *   2: a header, signed here over a valid payload, so the header rules are reached.
 * Properties beyond "no crash": an accepted token has a room claim of 1 to 1023 bytes and
 * came through a header naming HS256; a token accepted in mode 0 really is signed with the
 * key (checked here again, independently). */
#include "crypto.h"
#include "jwt.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "fuzzing-secret-fuzzing-secret-0123456789"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
mac_of(const char *input, gsize len)
{
    guint8 mac[CC_HMAC_SHA256_LEN];
    if (!cc_hmac_sha256((const guint8 *)SECRET, strlen(SECRET), input, len, mac, NULL))
        abort();
    return cc_base64url_encode(mac, sizeof mac);
}

static char *
signed_token(const char *header, gsize header_len, const char *payload, gsize payload_len)
{
    char *h = cc_base64url_encode((const guint8 *)header, header_len);
    char *p = cc_base64url_encode((const guint8 *)payload, payload_len);
    char *input = g_strdup_printf("%s.%s", h, p);
    char *s = mac_of(input, strlen(input));
    char *token = g_strdup_printf("%s.%s", input, s);
    g_free(h);
    g_free(p);
    g_free(input);
    g_free(s);
    return token;
}

/* The signature part is exactly the MAC of what precedes it. */
static gboolean
really_signed(const char *token)
{
    const char *dot = strrchr(token, '.');
    char *mac = mac_of(token, (gsize)(dot - token));
    gboolean same = strcmp(mac, dot + 1) == 0;
    g_free(mac);
    return same;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    static const char payload[] = "{\"room\":\"a\",\"exp\":2000000000,\"moderator\":true}";
    if (size == 0)
        return 0;
    CcJwtKey *key = cc_jwt_key_new(CC_JWT_HS256, (const guint8 *)SECRET, strlen(SECRET), NULL);
    const char *rest = (const char *)data + 1;
    gsize rest_len = size - 1;
    char *token;
    switch (data[0] % 3) {
    case 0:
        token = g_strndup(rest, rest_len);
        break;
    case 1:
        token = signed_token(header, strlen(header), rest, rest_len);
        break;
    default:
        token = signed_token(rest, rest_len, payload, strlen(payload));
        break;
    }
    CcJwtExpect expect = {.now = 1900000000, .leeway_s = 30};
    CcJwtClaims *claims = cc_jwt_verify(token, key, &expect, NULL);
    if (claims != NULL) {
        gsize room_len = strlen(claims->room);
        if (room_len == 0 || room_len > 1023 || !really_signed(token))
            abort();
        if (data[0] % 3 == 2 && memmem(rest, rest_len, "HS256", 5) == NULL)
            abort();
        cc_jwt_claims_free(claims);
    }
    g_free(token);
    cc_jwt_key_free(key);
    return 0;
}
