/* libFuzzer target: the strict base64url decoder (it will read JWTs from the network).
 * Property beyond "no crash": whatever decodes re-encodes to exactly the input, so every
 * byte string has one accepted spelling. */
#include "crypto.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = g_strndup((const char *)data, size);
    gsize len = 0;
    guint8 *decoded = cc_base64url_decode(text, &len, NULL);
    if (decoded != NULL) {
        char *encoded = cc_base64url_encode(decoded, len);
        if (strcmp(encoded, text) != 0)
            abort();
        g_free(encoded);
        g_free(decoded);
    }
    g_free(text);
    return 0;
}
