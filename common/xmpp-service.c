/* Disco and ping answers for a component's own domain (see xmpp-service.h). */
#include "xmpp-service.h"

#include "cc-autoptr.h"
#include "jid.h"
#include "stanza.h"

gboolean
cc_xmpp_service_is_for_domain(CcXmppComponent *comp, xmpp_stanza_t *stanza)
{
    const char *to = xmpp_stanza_get_to(stanza);
    if (to == NULL)
        return FALSE;
    g_autoptr(CcJid) jid = cc_jid_parse(to, NULL);
    return jid != NULL && jid->local == NULL && jid->resource == NULL &&
           g_ascii_strcasecmp(jid->domain, cc_xmpp_component_domain(comp)) == 0;
}

static gboolean
reject_if_not_domain(CcXmppComponent *comp, xmpp_stanza_t *stanza)
{
    if (cc_xmpp_service_is_for_domain(comp, stanza))
        return FALSE;
    g_autoptr(xmpp_stanza_t) reply =
        cc_stanza_error_reply(stanza, "cancel", "item-not-found", NULL);
    cc_xmpp_component_send(comp, reply);
    return TRUE;
}

static void
add_feature(xmpp_stanza_t *query, const char *var)
{
    xmpp_stanza_t *feature = cc_stanza_add_child(query, "feature", NULL);
    xmpp_stanza_set_attribute(feature, "var", var);
}

static gboolean
on_disco_info(CcXmppComponent *comp, xmpp_stanza_t *stanza, gpointer data)
{
    const CcServiceIdentity *identity = data;
    const char *type = xmpp_stanza_get_type(stanza);
    if (!g_str_equal(type, "get"))
        return FALSE;
    if (reject_if_not_domain(comp, stanza))
        return TRUE;
    xmpp_stanza_t *request = cc_stanza_first_element(stanza);
    if (xmpp_stanza_get_attribute(request, "node") != NULL) {
        g_autoptr(xmpp_stanza_t) reply =
            cc_stanza_error_reply(stanza, "cancel", "item-not-found", NULL);
        cc_xmpp_component_send(comp, reply);
        return TRUE;
    }
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(stanza);
    xmpp_stanza_t *query = cc_stanza_add_child(reply, "query", CC_NS_DISCO_INFO);
    xmpp_stanza_t *id = cc_stanza_add_child(query, "identity", NULL);
    xmpp_stanza_set_attribute(id, "category", identity->category);
    xmpp_stanza_set_attribute(id, "type", identity->type);
    xmpp_stanza_set_attribute(id, "name", identity->name);
    add_feature(query, CC_NS_DISCO_INFO);
    add_feature(query, CC_NS_DISCO_ITEMS);
    add_feature(query, CC_NS_PING);
    for (const char *const *f = identity->features; f != NULL && *f != NULL; f++)
        add_feature(query, *f);
    cc_xmpp_component_send(comp, reply);
    return TRUE;
}

static gboolean
on_disco_items(CcXmppComponent *comp, xmpp_stanza_t *stanza, gpointer data)
{
    if (!g_str_equal(xmpp_stanza_get_type(stanza), "get"))
        return FALSE;
    if (reject_if_not_domain(comp, stanza))
        return TRUE;
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(stanza);
    cc_stanza_add_child(reply, "query", CC_NS_DISCO_ITEMS);
    cc_xmpp_component_send(comp, reply);
    return TRUE;
}

static gboolean
on_ping(CcXmppComponent *comp, xmpp_stanza_t *stanza, gpointer data)
{
    if (!g_str_equal(xmpp_stanza_get_type(stanza), "get"))
        return FALSE;
    if (reject_if_not_domain(comp, stanza))
        return TRUE;
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(stanza);
    cc_xmpp_component_send(comp, reply);
    return TRUE;
}

void
cc_xmpp_service_install(CcXmppComponent *comp, const CcServiceIdentity *identity)
{
    cc_xmpp_component_register_iq(comp, CC_NS_DISCO_INFO, "query", on_disco_info,
                                  (gpointer)identity);
    cc_xmpp_component_register_iq(comp, CC_NS_DISCO_ITEMS, "query", on_disco_items, NULL);
    cc_xmpp_component_register_iq(comp, CC_NS_PING, "ping", on_ping, NULL);
}
