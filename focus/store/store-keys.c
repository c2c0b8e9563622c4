/* The keyed hashes that stand for rooms and people in the database (schemas/policy-store.md):
 * HMAC-SHA256 under the focus's room key of the case-folded room local part, of "jid:" and
 * the case-folded bare JID, of "domain:" and the case-folded domain. Nothing here keeps a
 * name. */
#include "store.h"

static void
keyed(GBytes *room_key, const char *prefix, const char *text, guint8 out[CC_HMAC_SHA256_LEN])
{
    gsize key_len = 0;
    const guint8 *key = g_bytes_get_data(room_key, &key_len);
    g_autofree char *folded = g_utf8_casefold(text, -1);
    g_autofree char *data = g_strconcat(prefix, folded, NULL);
    if (!cc_hmac_sha256(key, key_len, data, strlen(data), out, NULL))
        g_error("HMAC failed");
    memset(data, 0, strlen(data));
}

void
focus_store_room_hmac(GBytes *room_key, const char *room_local, guint8 out[CC_HMAC_SHA256_LEN])
{
    keyed(room_key, "", room_local, out);
}

void
focus_store_jid_hmac(GBytes *room_key, const char *bare_key, guint8 out[CC_HMAC_SHA256_LEN])
{
    keyed(room_key, "jid:", bare_key, out);
}

void
focus_store_domain_hmac(GBytes *room_key, const char *domain, guint8 out[CC_HMAC_SHA256_LEN])
{
    keyed(room_key, "domain:", domain, out);
}

void
focus_store_hex(const guint8 mac[CC_HMAC_SHA256_LEN], char out[2 * CC_HMAC_SHA256_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (gsize i = 0; i < CC_HMAC_SHA256_LEN; i++) {
        out[2 * i] = digits[mac[i] >> 4];
        out[2 * i + 1] = digits[mac[i] & 0xf];
    }
    out[2 * CC_HMAC_SHA256_LEN] = '\0';
}
