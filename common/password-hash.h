/* Room passwords at rest: Argon2id (libargon2) in the PHC string format
 * `$argon2id$v=19$m=...,t=...,p=...$salt$hash`, so a stolen database yields only slow,
 * salted hashes. Verification refuses stored parameters that are weaker than the OWASP
 * minimum or large enough to exhaust memory, and has a dummy form of the same cost so that
 * "no such room" takes as long as "wrong password". Each call costs tens of milliseconds of
 * CPU: the focus runs them off its main loop. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What new hashes use (OWASP's Argon2id minimum: 19 MiB, two passes, one lane). */
#define CC_PASSWORD_MEMORY_KIB 19456
#define CC_PASSWORD_PASSES     2
#define CC_PASSWORD_LANES      1
/* Longer passwords are refused (the cost must not depend on an attacker's input size). */
#define CC_PASSWORD_MAX_LEN 1024

/* A new PHC string for `password` with a random salt; NULL with an error when the password
 * is empty or too long. */
char *cc_password_hash(const char *password, GError **error);

/* TRUE when `password` matches `encoded`. FALSE without an error for a wrong password; FALSE
 * with an error when `encoded` is not an Argon2id PHC string within the accepted
 * parameters (a corrupt or hostile database row). */
gboolean cc_password_verify(const char *encoded, const char *password, GError **error);

/* Does the work of a verification that fails, for answers that must not reveal whether
 * there was a hash to check. */
void cc_password_verify_dummy(const char *password);

G_END_DECLS
