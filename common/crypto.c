/* Crypto helpers (see crypto.h). Owns nothing long-lived but the fetched HMAC algorithm and
 * the per-process key used to compare secrets of unequal length in constant time. */
#include "crypto.h"

#include "cc-autoptr.h"
#include "cc-error.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

void
cc_set_openssl_error(GError **error, const char *what)
{
    char buf[256];
    unsigned long code = ERR_get_error();
    ERR_error_string_n(code, buf, sizeof buf);
    ERR_clear_error();
    g_set_error(error, CC_ERROR, CC_ERROR_CRYPTO, "%s: %s", what, code ? buf : "failed");
}

gboolean
cc_random_bytes(guint8 *buf, gsize len, GError **error)
{
    if (len > G_MAXINT || RAND_bytes(buf, (int)len) != 1) {
        cc_set_openssl_error(error, "random bytes");
        return FALSE;
    }
    return TRUE;
}

static gpointer
fetch_hmac(gpointer unused)
{
    return EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* Fetched once: fetching is a provider lookup, far too slow to repeat per call. */
EVP_MAC *
cc_hmac_algorithm(void)
{
    static GOnce once = G_ONCE_INIT;
    return g_once(&once, fetch_hmac, NULL);
}

gboolean
cc_hmac_sha256(const guint8 *key, gsize key_len, const void *data, gsize data_len,
               guint8 out[CC_HMAC_SHA256_LEN], GError **error)
{
    EVP_MAC *mac = cc_hmac_algorithm();
    if (mac == NULL) {
        cc_set_openssl_error(error, "HMAC unavailable");
        return FALSE;
    }
    g_autoptr(EVP_MAC_CTX) ctx = EVP_MAC_CTX_new(mac);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    size_t out_len = 0;
    /* OpenSSL refuses an empty key; an empty key is a caller's bug, not input. */
    if (ctx == NULL || EVP_MAC_init(ctx, key, key_len, params) != 1 ||
        EVP_MAC_update(ctx, data, data_len) != 1 ||
        EVP_MAC_final(ctx, out, &out_len, CC_HMAC_SHA256_LEN) != 1 ||
        out_len != CC_HMAC_SHA256_LEN) {
        cc_set_openssl_error(error, "HMAC-SHA256");
        return FALSE;
    }
    return TRUE;
}

gboolean
cc_const_time_equal(const void *a, gsize a_len, const void *b, gsize b_len)
{
    if (a_len != b_len)
        return FALSE;
    return CRYPTO_memcmp(a, b, a_len) == 0;
}

gboolean
cc_secret_equal(const char *a, const char *b)
{
    static guint8 key[CC_KEY_LEN];
    static gsize key_ready;
    if (g_once_init_enter(&key_ready)) {
        if (!cc_random_bytes(key, sizeof key, NULL))
            g_error("no secure random source");
        g_once_init_leave(&key_ready, 1);
    }
    guint8 da[CC_HMAC_SHA256_LEN], db[CC_HMAC_SHA256_LEN];
    if (!cc_hmac_sha256(key, sizeof key, a, strlen(a), da, NULL) ||
        !cc_hmac_sha256(key, sizeof key, b, strlen(b), db, NULL))
        return FALSE;
    return CRYPTO_memcmp(da, db, sizeof da) == 0;
}

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *
cc_base64url_encode(const guint8 *data, gsize len)
{
    GString *out = g_string_sized_new((len + 2) / 3 * 4 + 1);
    gsize i = 0;
    for (; i + 2 < len; i += 3) {
        guint32 v = (guint32)data[i] << 16 | (guint32)data[i + 1] << 8 | data[i + 2];
        g_string_append_c(out, b64url_alphabet[(v >> 18) & 63]);
        g_string_append_c(out, b64url_alphabet[(v >> 12) & 63]);
        g_string_append_c(out, b64url_alphabet[(v >> 6) & 63]);
        g_string_append_c(out, b64url_alphabet[v & 63]);
    }
    if (len - i == 1) {
        guint32 v = (guint32)data[i] << 16;
        g_string_append_c(out, b64url_alphabet[(v >> 18) & 63]);
        g_string_append_c(out, b64url_alphabet[(v >> 12) & 63]);
    } else if (len - i == 2) {
        guint32 v = (guint32)data[i] << 16 | (guint32)data[i + 1] << 8;
        g_string_append_c(out, b64url_alphabet[(v >> 18) & 63]);
        g_string_append_c(out, b64url_alphabet[(v >> 12) & 63]);
        g_string_append_c(out, b64url_alphabet[(v >> 6) & 63]);
    }
    return g_string_free(out, FALSE);
}

static int
b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

guint8 *
cc_base64url_decode(const char *text, gsize *out_len, GError **error)
{
    gsize len = strlen(text);
    if (len % 4 == 1) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "base64url: impossible length %zu", len);
        return NULL;
    }
    guint8 *out = g_malloc(len / 4 * 3 + 3);
    gsize n = 0;
    guint32 acc = 0;
    int bits = 0;
    for (gsize i = 0; i < len; i++) {
        int v = b64url_value(text[i]);
        if (v < 0) {
            g_free(out);
            g_set_error(error, CC_ERROR, CC_ERROR_INVALID,
                        "base64url: invalid character at offset %zu", i);
            return NULL;
        }
        acc = (acc << 6) | (guint32)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (guint8)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Leftover bits must be zero, so that every byte string has exactly one encoding. */
    if (acc != 0) {
        g_free(out);
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "base64url: non-canonical trailing bits");
        return NULL;
    }
    *out_len = n;
    return out;
}

gboolean
cc_file_check_private(const char *path, GError **error)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int saved = errno;
        g_set_error(error, CC_ERROR, CC_ERROR_KEY_FILE, "%s: %s", path, g_strerror(saved));
        return FALSE;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error, CC_ERROR, CC_ERROR_KEY_FILE, "%s: not a regular file", path);
        return FALSE;
    }
    if (st.st_uid != geteuid()) {
        g_set_error(error, CC_ERROR, CC_ERROR_KEY_FILE, "%s: not owned by the user running this",
                    path);
        return FALSE;
    }
    if ((st.st_mode & 077) != 0) {
        g_set_error(error, CC_ERROR, CC_ERROR_KEY_FILE,
                    "%s: mode %04o lets group or others read it; chmod 600 it", path,
                    (unsigned)(st.st_mode & 07777));
        return FALSE;
    }
    return TRUE;
}

char *
cc_secret_file_read(const char *path, GError **error)
{
    g_autofree char *data = NULL;
    gsize len = 0;
    if (!cc_file_check_private(path, error))
        return NULL;
    if (!g_file_get_contents(path, &data, &len, error))
        return NULL;
    if (len > 0 && data[len - 1] == '\n')
        data[--len] = '\0';
    if (len > 0 && data[len - 1] == '\r')
        data[--len] = '\0';
    if (len == 0 || strlen(data) != len) {
        g_set_error(error, CC_ERROR, CC_ERROR_KEY_FILE, "%s: empty or contains a NUL byte", path);
        return NULL;
    }
    return g_steal_pointer(&data);
}

GBytes *
cc_key_file_load(const char *path, GError **error)
{
    g_autofree char *data = NULL;
    gsize len = 0;
    if (!cc_file_check_private(path, error))
        return NULL;
    if (!g_file_get_contents(path, &data, &len, error))
        return NULL;
    if (len != CC_KEY_LEN) {
        OPENSSL_cleanse(data, len);
        g_set_error(error, CC_ERROR, CC_ERROR_KEY_FILE,
                    "%s: a key file holds exactly %d bytes, this one has %zu (make one with "
                    "'conclavectl keygen')",
                    path, CC_KEY_LEN, len);
        return NULL;
    }
    return g_bytes_new_take(g_steal_pointer(&data), len);
}

gboolean
cc_key_file_write(const char *path, GError **error)
{
    guint8 key[CC_KEY_LEN];
    if (!cc_random_bytes(key, sizeof key, error))
        return FALSE;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int saved = errno;
        g_set_error(error, CC_ERROR, CC_ERROR_KEY_FILE, "%s: %s", path, g_strerror(saved));
        return FALSE;
    }
    gboolean ok = write(fd, key, sizeof key) == (ssize_t)sizeof key && fsync(fd) == 0;
    int saved = errno;
    OPENSSL_cleanse(key, sizeof key);
    if (close(fd) != 0 && ok) {
        ok = FALSE;
        saved = errno;
    }
    if (!ok) {
        unlink(path);
        g_set_error(error, CC_ERROR, CC_ERROR_KEY_FILE, "%s: write failed: %s", path,
                    g_strerror(saved));
    }
    return ok;
}
