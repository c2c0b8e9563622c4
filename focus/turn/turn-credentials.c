/* TURN credentials in coturn's shared-secret (REST API) scheme, and the pseudonym that
 * stands for a user inside them. Pure computation: no state, no I/O, no logging.
 *
 * coturn logs usernames, so the user part must not be the requester's JID: it is a keyed
 * hash of the bare JID under a key derived from the server's room key. Without that key
 * nobody can link the pseudonym to a JID, not even by trying every known JID; the operator,
 * who holds the key, can recompute a user's pseudonym when investigating abuse, and coturn's
 * per-user quota applies to one user across credential refreshes. */
#include "turn.h"

#include <string.h>

#define DERIVE_LABEL "conclave turn user id v1"

void
focus_turn_derive_key(GBytes *room_key, guint8 out[CC_KEY_LEN])
{
    gsize key_len = 0;
    const guint8 *key = g_bytes_get_data(room_key, &key_len);
    if (!cc_hmac_sha256(key, key_len, DERIVE_LABEL, strlen(DERIVE_LABEL), out, NULL))
        g_error("HMAC-SHA256 failed"); /* OpenSSL without SHA-256: nothing can work */
}

void
focus_turn_user_id(const guint8 key[CC_KEY_LEN], const CcJid *jid,
                   char out[FOCUS_TURN_USER_ID_LEN + 1])
{
    g_autofree char *bare = cc_jid_bare_key(jid);
    guint8 digest[CC_HMAC_SHA256_LEN];
    if (!cc_hmac_sha256(key, CC_KEY_LEN, bare, strlen(bare), digest, NULL))
        g_error("HMAC-SHA256 failed");
    g_autofree char *encoded = cc_base64url_encode(digest, sizeof digest);
    memcpy(out, encoded, FOCUS_TURN_USER_ID_LEN);
    out[FOCUS_TURN_USER_ID_LEN] = '\0';
}

char *
focus_turn_username(gint64 expiry, const char *user_id)
{
    return g_strdup_printf("%" G_GINT64_FORMAT ":%s", expiry, user_id);
}

char *
focus_turn_password(const char *secret, const char *username)
{
    g_autoptr(GHmac) hmac = g_hmac_new(G_CHECKSUM_SHA1, (const guchar *)secret, strlen(secret));
    g_hmac_update(hmac, (const guchar *)username, (gssize)strlen(username));
    guint8 digest[20];
    gsize len = sizeof digest;
    g_hmac_get_digest(hmac, digest, &len);
    return g_base64_encode(digest, len);
}
