/* Argon2id password hashes (see password-hash.h). Owns the parameters and the bounds on
 * stored ones; knows nothing of rooms or the database. */
#include "password-hash.h"

#include "cc-error.h"
#include "crypto.h"

#include <argon2.h>
#include <stdio.h>
#include <string.h>

#define SALT_LEN 16
#define HASH_LEN 32
/* Accepted stored parameters: at least OWASP's weakest Argon2id point (7 MiB x 5 passes;
 * memory x passes >= 35840), at most 256 MiB, 16 passes, 8 lanes. */
#define MEMORY_MIN_KIB 7168
#define WORK_MIN       35840
#define MEMORY_MAX_KIB 262144
#define PASSES_MAX     16
#define LANES_MAX      8
#define ENCODED_MAX    256

static gboolean
check_password(const char *password, GError **error)
{
    gsize len = strnlen(password, CC_PASSWORD_MAX_LEN + 1);
    if (len == 0 || len > CC_PASSWORD_MAX_LEN) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "a password has 1 to %d bytes",
                    CC_PASSWORD_MAX_LEN);
        return FALSE;
    }
    return TRUE;
}

char *
cc_password_hash(const char *password, GError **error)
{
    if (!check_password(password, error))
        return NULL;
    guint8 salt[SALT_LEN];
    if (!cc_random_bytes(salt, sizeof salt, error))
        return NULL;
    char encoded[ENCODED_MAX];
    int rc = argon2id_hash_encoded(CC_PASSWORD_PASSES, CC_PASSWORD_MEMORY_KIB, CC_PASSWORD_LANES,
                                   password, strlen(password), salt, sizeof salt, HASH_LEN, encoded,
                                   sizeof encoded);
    if (rc != ARGON2_OK) {
        g_set_error(error, CC_ERROR, CC_ERROR_CRYPTO, "Argon2id: %s", argon2_error_message(rc));
        return NULL;
    }
    return g_strdup(encoded);
}

/* Reads the parameters before libargon2 does, so a stored string cannot make it allocate
 * gigabytes or do almost no work. */
static gboolean
check_parameters(const char *encoded, GError **error)
{
    unsigned version, memory, passes, lanes;
    int consumed = 0;
    if (strnlen(encoded, ENCODED_MAX) >= ENCODED_MAX ||
        sscanf(encoded, "$argon2id$v=%u$m=%u,t=%u,p=%u$%n", &version, &memory, &passes, &lanes,
               &consumed) != 4 ||
        consumed == 0) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "not an Argon2id PHC string");
        return FALSE;
    }
    if (version != ARGON2_VERSION_13 || memory < MEMORY_MIN_KIB || memory > MEMORY_MAX_KIB ||
        passes == 0 || passes > PASSES_MAX || lanes == 0 || lanes > LANES_MAX ||
        (guint64)memory * passes < WORK_MIN) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID,
                    "Argon2id parameters out of bounds (v=%u m=%u t=%u p=%u)", version, memory,
                    passes, lanes);
        return FALSE;
    }
    return TRUE;
}

gboolean
cc_password_verify(const char *encoded, const char *password, GError **error)
{
    if (!check_parameters(encoded, error))
        return FALSE;
    if (strnlen(password, CC_PASSWORD_MAX_LEN + 1) > CC_PASSWORD_MAX_LEN) {
        cc_password_verify_dummy("");
        return FALSE;
    }
    int rc = argon2id_verify(encoded, password, strlen(password));
    if (rc == ARGON2_OK)
        return TRUE;
    if (rc != ARGON2_VERIFY_MISMATCH)
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "Argon2id: %s", argon2_error_message(rc));
    return FALSE;
}

void
cc_password_verify_dummy(const char *password)
{
    /* A fixed hash of a random password with today's parameters: the same work as a real
     * verification, and it never matches anything an attacker can know. */
    static const char dummy[] = "$argon2id$v=19$m=19456,t=2,p=1$Y29uY2xhdmUtZHVtbXk$"
                                "2bA7l4M1yzhqkXYuOe3p4j8pRb6q2RNW/xvH4I9dGFo";
    gsize len = strnlen(password, CC_PASSWORD_MAX_LEN);
    (void)argon2id_verify(dummy, password, len);
}
