/* JSON Web Tokens (RFC 7519) as Jitsi deployments issue them, verified with OpenSSL: one
 * algorithm fixed by the operator (HS256, RS256 or ES256; a token naming any other, `none`
 * included, is refused), the key type bound to it (a PEM public key is never accepted as an
 * HMAC secret), bounded size, strict base64url, and the claims a conference needs: `iss`,
 * `aud`, `exp`, `nbf`, `room`, `sub`, and `moderator` (plain, or Jitsi's
 * `context.user.moderator`). What a valid token grants is the caller's business. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CC_JWT_ERROR (cc_jwt_error_quark())
GQuark cc_jwt_error_quark(void);

typedef enum {
    CC_JWT_ERROR_MALFORMED,     /* not three base64url parts of JSON objects, or bad claims */
    CC_JWT_ERROR_TOO_LARGE,     /* longer than CC_JWT_MAX_LEN */
    CC_JWT_ERROR_ALGORITHM,     /* `alg` is not the configured algorithm, or `crit` is used */
    CC_JWT_ERROR_SIGNATURE,     /* the signature does not verify */
    CC_JWT_ERROR_EXPIRED,       /* `exp` has passed */
    CC_JWT_ERROR_NOT_YET_VALID, /* `nbf` is in the future */
    CC_JWT_ERROR_ISSUER,        /* `iss` is not the configured issuer */
    CC_JWT_ERROR_AUDIENCE,      /* the configured audience is not in `aud` */
} CcJwtError;

/* Bigger tokens are refused before any decoding (Jitsi's are well under 2 KiB). */
#define CC_JWT_MAX_LEN 8192

typedef enum {
    CC_JWT_HS256,
    CC_JWT_RS256,
    CC_JWT_ES256,
} CcJwtAlgorithm;

typedef struct _CcJwtKey CcJwtKey;

/* "HS256", "RS256" or "ES256"; FALSE for anything else. */
gboolean cc_jwt_algorithm_parse(const char *name, CcJwtAlgorithm *out);
const char *cc_jwt_algorithm_name(CcJwtAlgorithm algorithm);

/* HS256: the secret, at least 32 bytes, from a private file (a PEM key is refused: it is the
 * algorithm-confusion mistake). RS256: an RSA public key of at least 2048 bits in PEM.
 * ES256: a P-256 public key in PEM. A private key is refused for RS256 and ES256: the focus
 * only verifies. */
CcJwtKey *cc_jwt_key_load(CcJwtAlgorithm algorithm, const char *path, GError **error);
/* The same from memory (tests, and the fuzz target). */
CcJwtKey *cc_jwt_key_new(CcJwtAlgorithm algorithm, const guint8 *data, gsize len, GError **error);
void cc_jwt_key_free(CcJwtKey *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CcJwtKey, cc_jwt_key_free)

typedef struct {
    const char *issuer;   /* required `iss`; NULL: not checked */
    const char *audience; /* must be `aud` or one of its items; NULL: not checked */
    gint64 now;           /* seconds since the epoch */
    guint leeway_s;       /* tolerated clock difference for `exp` and `nbf` */
} CcJwtExpect;

typedef enum {
    CC_JWT_MODERATOR_UNSET, /* the token says nothing: the server's rules decide */
    CC_JWT_MODERATOR_NO,
    CC_JWT_MODERATOR_YES,
} CcJwtModerator;

typedef struct {
    char *room; /* the `room` claim: a room name, or "*" for every room */
    char *sub;  /* may be NULL */
    gint64 exp;
    CcJwtModerator moderator;
} CcJwtClaims;

CcJwtClaims *cc_jwt_claims_copy(const CcJwtClaims *claims); /* NULL stays NULL */
void cc_jwt_claims_free(CcJwtClaims *claims);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CcJwtClaims, cc_jwt_claims_free)

/* Verifies the signature first, then the claims; NULL with a CC_JWT_ERROR otherwise. */
CcJwtClaims *cc_jwt_verify(const char *token, const CcJwtKey *key, const CcJwtExpect *expect,
                           GError **error);

/* The claims part alone (a decoded payload), for tests and fuzzing; checks `exp` and `nbf`
 * against expect->now and the rest as cc_jwt_verify does. */
CcJwtClaims *cc_jwt_claims_parse(const char *json, gsize len, const CcJwtExpect *expect,
                                 GError **error);

/* TRUE when the token's room claim covers `room` (the room's local part, compared without
 * regard to ASCII case, as room names are). */
gboolean cc_jwt_claims_allow_room(const CcJwtClaims *claims, const char *room);

G_END_DECLS
