/* Stanza building and error helpers (see stanza.h). No protocol logic lives here. */
#include "stanza.h"

#include "cc-autoptr.h"
#include "crypto.h"

xmpp_stanza_t *
cc_stanza_add_child(xmpp_stanza_t *parent, const char *name, const char *ns)
{
    g_autoptr(xmpp_stanza_t) child = xmpp_stanza_new(xmpp_stanza_get_context(parent));
    xmpp_stanza_set_name(child, name);
    if (ns != NULL)
        xmpp_stanza_set_ns(child, ns);
    xmpp_stanza_add_child(parent, child);
    return child; /* the parent now holds a reference */
}

xmpp_stanza_t *
cc_stanza_first_element(xmpp_stanza_t *stanza)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(stanza); c != NULL;
         c = xmpp_stanza_get_next(c)) {
        if (xmpp_stanza_is_tag(c))
            return c;
    }
    return NULL;
}

static xmpp_stanza_t *
reply_skeleton(xmpp_stanza_t *request, const char *type)
{
    xmpp_stanza_t *reply = xmpp_stanza_new(xmpp_stanza_get_context(request));
    xmpp_stanza_set_name(reply, xmpp_stanza_get_name(request));
    xmpp_stanza_set_type(reply, type);
    const char *id = xmpp_stanza_get_id(request);
    const char *from = xmpp_stanza_get_from(request);
    const char *to = xmpp_stanza_get_to(request);
    if (id != NULL)
        xmpp_stanza_set_id(reply, id);
    if (from != NULL)
        xmpp_stanza_set_to(reply, from);
    if (to != NULL)
        xmpp_stanza_set_from(reply, to);
    return reply;
}

xmpp_stanza_t *
cc_stanza_iq_result(xmpp_stanza_t *request)
{
    return reply_skeleton(request, "result");
}

xmpp_stanza_t *
cc_stanza_error_reply(xmpp_stanza_t *request, const char *type, const char *condition,
                      const char *text)
{
    xmpp_stanza_t *reply = reply_skeleton(request, "error");
    xmpp_stanza_t *error = cc_stanza_add_child(reply, "error", NULL);
    xmpp_stanza_set_type(error, type);
    cc_stanza_add_child(error, condition, CC_NS_STANZAS);
    if (text != NULL) {
        xmpp_stanza_t *text_el = cc_stanza_add_child(error, "text", CC_NS_STANZAS);
        g_autoptr(xmpp_stanza_t) body = xmpp_stanza_new(xmpp_stanza_get_context(request));
        xmpp_stanza_set_text(body, text);
        xmpp_stanza_add_child(text_el, body);
    }
    return reply;
}

const char *
cc_stanza_error_condition(xmpp_stanza_t *stanza)
{
    xmpp_stanza_t *error = xmpp_stanza_get_child_by_name(stanza, "error");
    if (error == NULL)
        return NULL;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(error); c != NULL;
         c = xmpp_stanza_get_next(c)) {
        const char *ns = xmpp_stanza_get_ns(c);
        const char *name = xmpp_stanza_get_name(c);
        if (xmpp_stanza_is_tag(c) && ns != NULL && g_str_equal(ns, CC_NS_STANZAS) &&
            !g_str_equal(name, "text"))
            return name;
    }
    return NULL;
}

char *
cc_stanza_new_id(void)
{
    guint8 raw[8];
    if (!cc_random_bytes(raw, sizeof raw, NULL))
        g_error("no secure random source");
    GString *id = g_string_sized_new(17);
    for (gsize i = 0; i < sizeof raw; i++)
        g_string_append_printf(id, "%02x", raw[i]);
    return g_string_free(id, FALSE);
}

void
cc_stanza_set_uint(xmpp_stanza_t *stanza, const char *name, guint64 value)
{
    char num[24];
    g_snprintf(num, sizeof num, "%" G_GUINT64_FORMAT, value);
    xmpp_stanza_set_attribute(stanza, name, num);
}

void
cc_stanza_set_optional(xmpp_stanza_t *stanza, const char *name, const char *value)
{
    if (value != NULL)
        xmpp_stanza_set_attribute(stanza, name, value);
}

void
cc_stanza_add_text(xmpp_stanza_t *parent, const char *text)
{
    xmpp_stanza_t *t = xmpp_stanza_new(xmpp_stanza_get_context(parent));
    xmpp_stanza_set_text(t, text);
    xmpp_stanza_add_child(parent, t);
    xmpp_stanza_release(t);
}
