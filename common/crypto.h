/* Crypto helpers on OpenSSL 3: secure random, HMAC-SHA256, constant-time comparison,
 * base64url, and key/secret files that must not be readable by anyone but their owner. */
#pragma once

#include <glib.h>
#include <openssl/types.h>

G_BEGIN_DECLS

#define CC_HMAC_SHA256_LEN 32
#define CC_KEY_LEN         32

gboolean cc_random_bytes(guint8 *buf, gsize len, GError **error);

/* A CC_ERROR_CRYPTO error: `what` and OpenSSL's first queued error, which it clears. */
void cc_set_openssl_error(GError **error, const char *what);

/* OpenSSL's HMAC, fetched once (fetching is a provider lookup); NULL if unavailable. */
EVP_MAC *cc_hmac_algorithm(void);

gboolean cc_hmac_sha256(const guint8 *key, gsize key_len, const void *data, gsize data_len,
                        guint8 out[CC_HMAC_SHA256_LEN], GError **error);

/* Constant time in the contents; lengths are compared openly. */
gboolean cc_const_time_equal(const void *a, gsize a_len, const void *b, gsize b_len);

/* Constant time in contents and lengths: both sides are reduced to a keyed digest first
 * (for passwords, where even the length is a secret). */
gboolean cc_secret_equal(const char *a, const char *b);

/* RFC 4648 section 5, without padding. Decoding is strict: padding, whitespace or
 * characters outside the alphabet are errors. */
char *cc_base64url_encode(const guint8 *data, gsize len);
guint8 *cc_base64url_decode(const char *text, gsize *out_len, GError **error);

/* A regular file owned by us, with no access for group or others. */
gboolean cc_file_check_private(const char *path, GError **error);

/* A secret string kept in a private file; one trailing newline is removed. */
char *cc_secret_file_read(const char *path, GError **error);

/* A key file holds exactly CC_KEY_LEN raw random bytes and is private. */
GBytes *cc_key_file_load(const char *path, GError **error);
/* Creates a new key file (mode 0600); never overwrites an existing file. */
gboolean cc_key_file_write(const char *path, GError **error);

G_END_DECLS
