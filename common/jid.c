/* JID parsing and comparison (see jid.h). Input comes from the network: every path that can
 * reject does so with a message, and nothing here trusts a length it did not measure. */
#include "jid.h"

#include "cc-error.h"

static gboolean
has_control_chars(const char *s)
{
    for (const char *p = s; *p != '\0'; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0xfffe || c == 0xffff)
            return TRUE;
    }
    return FALSE;
}

static gboolean
check_part(const char *what, const char *part, GError **error)
{
    gsize len = strlen(part);
    if (len == 0) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "JID %s is empty", what);
        return FALSE;
    }
    if (len > CC_JID_PART_MAX) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "JID %s is longer than %d bytes", what,
                    CC_JID_PART_MAX);
        return FALSE;
    }
    if (!g_utf8_validate(part, -1, NULL)) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "JID %s is not valid UTF-8", what);
        return FALSE;
    }
    if (has_control_chars(part)) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "JID %s contains a control character", what);
        return FALSE;
    }
    return TRUE;
}

static gboolean
check_local(const char *local, GError **error)
{
    if (!check_part("localpart", local, error))
        return FALSE;
    if (strpbrk(local, "\"&'/:<>@ ") != NULL) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID,
                    "JID localpart contains a forbidden character");
        return FALSE;
    }
    return TRUE;
}

static gboolean
check_domain(const char *domain, GError **error)
{
    if (!check_part("domain", domain, error))
        return FALSE;
    if (strpbrk(domain, " @/\t") != NULL) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "JID domain contains a forbidden character");
        return FALSE;
    }
    /* An IPv6 literal is the one domain that may hold ':' and brackets. */
    if (domain[0] != '[' && strchr(domain, ':') != NULL) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "JID domain contains ':'");
        return FALSE;
    }
    if (domain[0] == '.' || strstr(domain, "..") != NULL) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "JID domain has an empty label");
        return FALSE;
    }
    return TRUE;
}

CcJid *
cc_jid_new(const char *local, const char *domain, const char *resource, GError **error)
{
    if (local != NULL && !check_local(local, error))
        return NULL;
    if (domain == NULL) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "JID domain is empty");
        return NULL;
    }
    if (!check_domain(domain, error))
        return NULL;
    if (resource != NULL && !check_part("resource", resource, error))
        return NULL;
    CcJid *jid = g_new0(CcJid, 1);
    jid->local = g_strdup(local);
    /* A trailing dot is the fully qualified form of the same domain (RFC 7622 3.2). */
    gsize len = strlen(domain);
    jid->domain = domain[len - 1] == '.' ? g_strndup(domain, len - 1) : g_strdup(domain);
    jid->resource = g_strdup(resource);
    return jid;
}

CcJid *
cc_jid_parse(const char *text, GError **error)
{
    if (text == NULL || *text == '\0') {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "empty JID");
        return NULL;
    }
    /* The resource starts at the first '/', and may itself hold '/' and '@'. */
    const char *slash = strchr(text, '/');
    g_autofree char *head = slash ? g_strndup(text, slash - text) : g_strdup(text);
    const char *resource = slash ? slash + 1 : NULL;
    char *at = strchr(head, '@');
    const char *local = NULL;
    const char *domain = head;
    if (at != NULL) {
        *at = '\0';
        local = head;
        domain = at + 1;
        if (*local == '\0') {
            g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "JID localpart is empty");
            return NULL;
        }
    }
    if (resource != NULL && *resource == '\0') {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "JID resource is empty");
        return NULL;
    }
    return cc_jid_new(local, domain, resource, error);
}

CcJid *
cc_jid_copy(const CcJid *jid)
{
    CcJid *copy = g_new0(CcJid, 1);
    copy->local = g_strdup(jid->local);
    copy->domain = g_strdup(jid->domain);
    copy->resource = g_strdup(jid->resource);
    return copy;
}

void
cc_jid_free(CcJid *jid)
{
    if (jid == NULL)
        return;
    g_free(jid->local);
    g_free(jid->domain);
    g_free(jid->resource);
    g_free(jid);
}

gboolean
cc_jid_is_bare(const CcJid *jid)
{
    return jid->resource == NULL;
}

char *
cc_jid_bare_string(const CcJid *jid)
{
    if (jid->local != NULL)
        return g_strconcat(jid->local, "@", jid->domain, NULL);
    return g_strdup(jid->domain);
}

char *
cc_jid_to_string(const CcJid *jid)
{
    g_autofree char *bare = cc_jid_bare_string(jid);
    if (jid->resource != NULL)
        return g_strconcat(bare, "/", jid->resource, NULL);
    return g_steal_pointer(&bare);
}

CcJid *
cc_jid_bare(const CcJid *jid)
{
    CcJid *bare = cc_jid_copy(jid);
    g_clear_pointer(&bare->resource, g_free);
    return bare;
}

static gboolean
folded_equal(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    g_autofree char *fa = g_utf8_casefold(a, -1);
    g_autofree char *fb = g_utf8_casefold(b, -1);
    return g_str_equal(fa, fb);
}

gboolean
cc_jid_bare_equal(const CcJid *a, const CcJid *b)
{
    return folded_equal(a->local, b->local) && folded_equal(a->domain, b->domain);
}

gboolean
cc_jid_equal(const CcJid *a, const CcJid *b)
{
    return cc_jid_bare_equal(a, b) && g_strcmp0(a->resource, b->resource) == 0;
}

char *
cc_jid_bare_key(const CcJid *jid)
{
    g_autofree char *bare = cc_jid_bare_string(jid);
    return g_utf8_casefold(bare, -1);
}
