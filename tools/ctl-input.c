/* Checking and hashing operator input (see ctl-input.h). The same HMACs the focus computes
 * when it looks a room or a user up, so the definitions must not drift from
 * schemas/policy-store.md. */
#include "ctl-input.h"

#include "cc-error.h"
#include "jid.h"

gboolean
ctl_room_name_check(const char *name, GError **error)
{
    if (name == NULL || *name == '\0') {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "room name is empty");
        return FALSE;
    }
    if (!g_utf8_validate(name, -1, NULL)) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "room name is not valid UTF-8");
        return FALSE;
    }
    if (g_utf8_strlen(name, -1) > CTL_ROOM_NAME_MAX) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "room name is longer than %d characters",
                    CTL_ROOM_NAME_MAX);
        return FALSE;
    }
    for (const char *p = name; *p != '\0'; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (g_unichar_isspace(c) || g_unichar_iscntrl(c)) {
            g_set_error(error, CC_ERROR, CC_ERROR_INVALID,
                        "room name contains whitespace or a control character");
            return FALSE;
        }
    }
    /* The rest of an XMPP localpart's rules ('@', '/', ':', quotes, '&', '<', '>'). */
    g_autoptr(GError) local = NULL;
    g_autoptr(CcJid) jid = cc_jid_new(name, "example.org", NULL, &local);
    if (jid == NULL) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID,
                    "room name is not a valid XMPP local part (no @ / : \" & ' < >)");
        return FALSE;
    }
    return TRUE;
}

gboolean
ctl_hmac(GBytes *key, const char *text, guint8 out[CC_HMAC_SHA256_LEN], GError **error)
{
    gsize key_len = 0;
    const guint8 *key_data = g_bytes_get_data(key, &key_len);
    return cc_hmac_sha256(key_data, key_len, text, strlen(text), out, error);
}

gboolean
ctl_room_hmac(GBytes *key, const char *name, guint8 out[CC_HMAC_SHA256_LEN], GError **error)
{
    g_autofree char *folded = g_utf8_casefold(name, -1);
    return ctl_hmac(key, folded, out, error);
}

char *
ctl_subject_parse(const char *text, gboolean allow_domain, CtlSubjectKind *kind, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autoptr(CcJid) jid = cc_jid_parse(text, &local);
    if (jid == NULL) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "'%s': %s", text, local->message);
        return NULL;
    }
    if (jid->resource != NULL || (jid->local == NULL && !allow_domain)) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "'%s': expected a bare JID user@domain%s",
                    text, allow_domain ? " or a domain" : "");
        return NULL;
    }
    g_autofree char *canonical = cc_jid_bare_key(jid);
    *kind = jid->local != NULL ? CTL_SUBJECT_JID : CTL_SUBJECT_DOMAIN;
    return g_strconcat(jid->local != NULL ? "jid:" : "domain:", canonical, NULL);
}

gboolean
ctl_subject_hmac(GBytes *key, const char *text, gboolean allow_domain, CtlSubjectKind *kind,
                 guint8 out[CC_HMAC_SHA256_LEN], GError **error)
{
    g_autofree char *input = ctl_subject_parse(text, allow_domain, kind, error);
    return input != NULL && ctl_hmac(key, input, out, error);
}

char *
ctl_prefix(const char *tag, const guint8 mac[CC_HMAC_SHA256_LEN])
{
    GString *s = g_string_new(tag);
    g_string_append_c(s, ':');
    for (int i = 0; i < CTL_PREFIX_LEN / 2; i++)
        g_string_append_printf(s, "%02x", mac[i]);
    return g_string_free(s, FALSE);
}

char *
ctl_time_parse(const char *what, const char *text, GError **error)
{
    /* A text without a zone takes the default one: parsed under two different defaults, it
     * gives two different instants. */
    g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
    g_autoptr(GTimeZone) other = g_time_zone_new_offset(3600);
    g_autoptr(GDateTime) a = g_date_time_new_from_iso8601(text, utc);
    g_autoptr(GDateTime) b = g_date_time_new_from_iso8601(text, other);
    if (a == NULL || b == NULL) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID,
                    "%s: '%s' is not an ISO 8601 date and time (e.g. 2030-01-31T18:00:00Z)", what,
                    text);
        return NULL;
    }
    if (g_date_time_compare(a, b) != 0) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID,
                    "%s: '%s' has no time zone (add Z or an offset such as +01:00)", what, text);
        return NULL;
    }
    g_autoptr(GDateTime) in_utc = g_date_time_to_utc(a);
    return g_date_time_format(in_utc, "%Y-%m-%dT%H:%M:%SZ");
}
