/* Strict XML reading helpers (see xml-read.h). */
#include "xml-read.h"

#include "cc-error.h"

#include <errno.h>
#include <string.h>

gboolean
cc_xml_is(xmpp_stanza_t *s, const char *name, const char *ns)
{
    const char *n = xmpp_stanza_get_name(s);
    const char *x = xmpp_stanza_get_ns(s);
    return xmpp_stanza_is_tag(s) && n != NULL && strcmp(n, name) == 0 &&
           (ns == NULL || (x != NULL && strcmp(x, ns) == 0));
}

gboolean
cc_xml_invalid(GError **error, const char *message)
{
    g_set_error_literal(error, CC_ERROR, CC_ERROR_INVALID, message);
    return FALSE;
}

gboolean
cc_xml_parse_u64(const char *s, guint64 max, guint64 *out)
{
    if (s == NULL || *s == '\0' || strlen(s) > 20)
        return FALSE;
    for (const char *p = s; *p; p++) {
        if (!g_ascii_isdigit(*p))
            return FALSE;
    }
    errno = 0;
    guint64 v = g_ascii_strtoull(s, NULL, 10);
    if (errno != 0 || v > max)
        return FALSE;
    *out = v;
    return TRUE;
}

gboolean
cc_xml_read_ssrc(xmpp_stanza_t *s, guint32 *out)
{
    guint64 v;
    if (!cc_xml_parse_u64(xmpp_stanza_get_attribute(s, "ssrc"), G_MAXUINT32, &v) || v == 0)
        return FALSE;
    *out = (guint32)v;
    return TRUE;
}
