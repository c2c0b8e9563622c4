/* Does an occupant's client want media? The focus asks it (disco#info on its full JID) and
 * looks for urn:xmpp:jingle:apps:rtp:1. A client that sends XEP-0115 caps is asked once per
 * distinct caps string: the answer is cached, but only when the hash the client claimed is
 * the hash of what it answered, so that one client cannot poison the cache for others. The
 * answer goes to the callback the asker gave; what follows from it is not this file's. */
#include "focus-media.h"

#include <string.h>

#define NS_CAPS         "http://jabber.org/protocol/caps"
#define CAPS_CACHE_SIZE 4096

static int
compare_strings(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static char *
attr_or_empty(xmpp_stanza_t *s, const char *name)
{
    const char *v = xmpp_stanza_get_attribute(s, name);
    return g_strdup(v ? v : "");
}

/* XEP-0115 section 5.1: identities, then features, then extended forms, each sorted. */
static char *
form_string(xmpp_stanza_t *x)
{
    g_autoptr(GPtrArray) fields = g_ptr_array_new_with_free_func(g_free);
    char *form_type = NULL;
    for (xmpp_stanza_t *f = xmpp_stanza_get_children(x); f; f = xmpp_stanza_get_next(f)) {
        if (!xmpp_stanza_is_tag(f) || g_strcmp0(xmpp_stanza_get_name(f), "field") != 0)
            continue;
        const char *var = xmpp_stanza_get_attribute(f, "var");
        g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func(g_free);
        for (xmpp_stanza_t *v = xmpp_stanza_get_children(f); v; v = xmpp_stanza_get_next(v))
            if (xmpp_stanza_is_tag(v) && g_strcmp0(xmpp_stanza_get_name(v), "value") == 0) {
                char *text = xmpp_stanza_get_text(v);
                g_ptr_array_add(values, g_strdup(text ? text : ""));
                xmpp_free(xmpp_stanza_get_context(v), text);
            }
        g_ptr_array_sort(values, compare_strings);
        if (g_strcmp0(var, "FORM_TYPE") == 0) {
            if (values->len > 0) {
                g_free(form_type);
                form_type = g_strdup(g_ptr_array_index(values, 0));
            }
            continue;
        }
        GString *field = g_string_new(var ? var : "");
        g_string_append_c(field, '<');
        for (guint i = 0; i < values->len; i++)
            g_string_append_printf(field, "%s<", (char *)g_ptr_array_index(values, i));
        g_ptr_array_add(fields, g_string_free(field, FALSE));
    }
    if (form_type == NULL)
        return NULL;
    g_ptr_array_sort(fields, compare_strings);
    GString *s = g_string_new(form_type);
    g_string_append_c(s, '<');
    for (guint i = 0; i < fields->len; i++)
        g_string_append(s, g_ptr_array_index(fields, i));
    g_free(form_type);
    return g_string_free(s, FALSE);
}

char *
focus_capabilities_ver(xmpp_stanza_t *query)
{
    g_autoptr(GPtrArray) identities = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) features = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) forms = g_ptr_array_new_with_free_func(g_free);
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(query); c; c = xmpp_stanza_get_next(c)) {
        const char *name = xmpp_stanza_is_tag(c) ? xmpp_stanza_get_name(c) : NULL;
        if (g_strcmp0(name, "identity") == 0) {
            g_autofree char *cat = attr_or_empty(c, "category");
            g_autofree char *type = attr_or_empty(c, "type");
            /* libstrophe's parser keeps xml:lang as "lang" */
            const char *l = xmpp_stanza_get_attribute(c, "xml:lang");
            l = l ? l : xmpp_stanza_get_attribute(c, "lang");
            g_autofree char *lang = g_strdup(l ? l : "");
            g_autofree char *iname = attr_or_empty(c, "name");
            g_ptr_array_add(identities, g_strdup_printf("%s/%s/%s/%s", cat, type, lang, iname));
        } else if (g_strcmp0(name, "feature") == 0) {
            g_ptr_array_add(features, attr_or_empty(c, "var"));
        } else if (g_strcmp0(name, "x") == 0 &&
                   g_strcmp0(xmpp_stanza_get_ns(c), "jabber:x:data") == 0) {
            char *form = form_string(c);
            if (form != NULL)
                g_ptr_array_add(forms, form);
        }
    }
    if (identities->len == 0)
        return NULL;
    g_ptr_array_sort(identities, compare_strings);
    g_ptr_array_sort(features, compare_strings);
    g_ptr_array_sort(forms, compare_strings);
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < identities->len; i++)
        g_string_append_printf(s, "%s<", (char *)g_ptr_array_index(identities, i));
    for (guint i = 0; i < features->len; i++)
        g_string_append_printf(s, "%s<", (char *)g_ptr_array_index(features, i));
    for (guint i = 0; i < forms->len; i++) /* each already ends with '<' */
        g_string_append(s, g_ptr_array_index(forms, i));
    guint8 digest[20];
    gsize len = sizeof digest;
    g_autoptr(GChecksum) sha1 = g_checksum_new(G_CHECKSUM_SHA1);
    g_checksum_update(sha1, (const guchar *)s->str, s->len);
    g_checksum_get_digest(sha1, digest, &len);
    g_string_free(s, TRUE);
    return g_base64_encode(digest, len);
}

static gboolean
has_feature(xmpp_stanza_t *query, const char *feature)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(query); c; c = xmpp_stanza_get_next(c))
        if (xmpp_stanza_is_tag(c) && g_strcmp0(xmpp_stanza_get_name(c), "feature") == 0 &&
            g_strcmp0(xmpp_stanza_get_attribute(c, "var"), feature) == 0)
            return TRUE;
    return FALSE;
}

typedef struct {
    char *caps_key; /* node#ver claimed in presence, or NULL */
    char *ver;
    FocusCapable done;
    gpointer data;
} DiscoQuery;

static void
disco_query_free(DiscoQuery *q)
{
    g_free(q->caps_key);
    g_free(q->ver);
    g_free(q);
}

static void
on_disco_reply(CcXmppComponent *xmpp, xmpp_stanza_t *reply, const GError *error, gpointer data)
{
    FocusRequest *request = data;
    DiscoQuery *q = request->payload;
    FocusMedia *media = request->media;
    FocusConference *conf = focus_request_conference(request);
    FocusParticipant *p = conf ? g_hash_table_lookup(conf->by_jid, request->jid) : NULL;
    xmpp_stanza_t *query =
        error == NULL ? xmpp_stanza_get_child_by_name_and_ns(reply, "query", CC_NS_DISCO_INFO)
                      : NULL;
    gboolean wants = query != NULL && has_feature(query, CC_NS_JINGLE_RTP);
    if (query != NULL && q->caps_key != NULL) {
        g_autofree char *ver = focus_capabilities_ver(query);
        if (ver != NULL && g_strcmp0(ver, q->ver) == 0) {
            if (g_hash_table_size(media->caps) >= CAPS_CACHE_SIZE)
                g_hash_table_remove_all(media->caps);
            g_hash_table_replace(media->caps, g_steal_pointer(&q->caps_key),
                                 GINT_TO_POINTER(1 + wants));
        }
    }
    if (p != NULL && p->state == PART_DISCOVERING)
        q->done(p, wants, q->data);
    focus_request_free(request);
}

void
focus_capabilities_query(FocusParticipant *p, xmpp_stanza_t *presence, FocusCapable done,
                         gpointer data)
{
    FocusMedia *media = p->conf->media;
    xmpp_stanza_t *c = xmpp_stanza_get_child_by_name_and_ns(presence, "c", NS_CAPS);
    const char *node = c ? xmpp_stanza_get_attribute(c, "node") : NULL;
    const char *ver = c ? xmpp_stanza_get_attribute(c, "ver") : NULL;
    const char *hash = c ? xmpp_stanza_get_attribute(c, "hash") : NULL;
    g_autofree char *key = NULL;
    if (node != NULL && ver != NULL && g_strcmp0(hash, "sha-1") == 0 && strlen(node) < 512 &&
        strlen(ver) < 64) {
        key = g_strconcat(node, "#", ver, NULL);
        gpointer known = g_hash_table_lookup(media->caps, key);
        if (known != NULL) {
            done(p, GPOINTER_TO_INT(known) == 2, data);
            return;
        }
    }
    xmpp_stanza_t *iq = focus_participant_iq_new(p, "get");
    xmpp_stanza_t *query = cc_stanza_add_child(iq, "query", CC_NS_DISCO_INFO);
    if (key != NULL)
        xmpp_stanza_set_attribute(query, "node", key);
    DiscoQuery *q = g_new0(DiscoQuery, 1);
    q->caps_key = g_steal_pointer(&key);
    q->ver = g_strdup(ver);
    q->done = done;
    q->data = data;
    focus_participant_iq_send(p, iq, q, (GDestroyNotify)disco_query_free, on_disco_reply);
}
