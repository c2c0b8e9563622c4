/* Discovery and address-routed IQs of the MUC service: disco#info / #items on the service
 * and on rooms, XEP-0199 ping and XEP-0410 self-ping, the routing of muc#admin and
 * muc#owner to their room, and the Jitsi `conference` IQ. The service lists no rooms:
 * room names are secrets. */
#include "muc.h"

#include "xmpp-service.h"

static const char *const service_features[] = {
    CC_NS_DISCO_INFO, CC_NS_DISCO_ITEMS, CC_NS_PING,     NS_MUC, NS_OCCUPANT_ID,
    NS_STABLE_ID,     NS_SELF_PING_OPT,  NS_JITSI_FOCUS, NULL,
};

static void
add_feature(xmpp_stanza_t *query, const char *var)
{
    xmpp_stanza_t *f = cc_stanza_add_child(query, "feature", NULL);
    xmpp_stanza_set_attribute(f, "var", var);
}

static void
add_identity(xmpp_stanza_t *query, const char *name)
{
    xmpp_stanza_t *id = cc_stanza_add_child(query, "identity", NULL);
    xmpp_stanza_set_attribute(id, "category", "conference");
    xmpp_stanza_set_attribute(id, "type", "text");
    xmpp_stanza_set_attribute(id, "name", name);
}

static void
add_form_field(xmpp_stanza_t *form, const char *var, const char *type, const char *value)
{
    xmpp_stanza_t *field = cc_stanza_add_child(form, "field", NULL);
    xmpp_stanza_set_attribute(field, "var", var);
    if (type != NULL)
        xmpp_stanza_set_attribute(field, "type", type);
    xmpp_stanza_t *v = cc_stanza_add_child(field, "value", NULL);
    g_autoptr(xmpp_stanza_t) text = xmpp_stanza_new(xmpp_stanza_get_context(form));
    xmpp_stanza_set_text(text, value);
    xmpp_stanza_add_child(v, text);
}

gboolean
focus_muc_room_disco_info(FocusMuc *muc, FocusRoom *room, xmpp_stanza_t *iq)
{
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(iq);
    xmpp_stanza_t *query = cc_stanza_add_child(reply, "query", CC_NS_DISCO_INFO);
    const FocusRoomConfig *c = &room->config;
    add_identity(query, c->name && *c->name ? c->name : room->local);
    add_feature(query, NS_MUC);
    add_feature(query, c->password_protected ? "muc_passwordprotected" : "muc_unsecured");
    add_feature(query, "muc_temporary");
    add_feature(query, "muc_hidden");
    add_feature(query, c->members_only ? "muc_membersonly" : "muc_open");
    add_feature(query, c->whois_anyone ? "muc_nonanonymous" : "muc_semianonymous");
    add_feature(query, c->moderated ? "muc_moderated" : "muc_unmoderated");
    add_feature(query, NS_OCCUPANT_ID);
    add_feature(query, NS_STABLE_ID);
    add_feature(query, NS_SELF_PING_OPT);
    add_feature(query, CC_NS_PING);
    xmpp_stanza_t *form = cc_stanza_add_child(query, "x", NS_DATA);
    xmpp_stanza_set_type(form, "result");
    add_form_field(form, "FORM_TYPE", "hidden", "http://jabber.org/protocol/muc#roominfo");
    char count[16];
    g_snprintf(count, sizeof count, "%u", room->occupants->len);
    add_form_field(form, "muc#roominfo_occupants", NULL, count);
    add_form_field(form, "muc#roominfo_description", NULL, c->description ? c->description : "");
    add_form_field(form, "muc#roominfo_meetingId", NULL, room->meeting_id);
    /* Conclave's own field (schemas/jibri.md): is the conference being recorded now? */
    add_form_field(form, "conclave#recording", "boolean", room->recording ? "1" : "0");
    focus_muc_send(muc, reply);
    return TRUE;
}

gboolean
focus_muc_room_disco_items(FocusMuc *muc, FocusRoom *room, xmpp_stanza_t *iq)
{
    /* Occupants are not listed: nicknames are for those in the room. */
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(iq);
    cc_stanza_add_child(reply, "query", CC_NS_DISCO_ITEMS);
    focus_muc_send(muc, reply);
    return TRUE;
}

/* The room an IQ is addressed to, as a bare room JID. Answers the error itself and returns
 * NULL when there is no such room (item-not-found) or the IQ went to an occupant's address
 * (`type`/`condition`). */
static FocusRoom *
bare_room_for(FocusMuc *muc, xmpp_stanza_t *iq, const char *type, const char *condition)
{
    g_autoptr(CcJid) to = cc_jid_parse(xmpp_stanza_get_to(iq), NULL);
    FocusRoom *room = to && to->local ? focus_muc_find_room(muc, to->local) : NULL;
    if (room == NULL) {
        focus_muc_error(muc, iq, "cancel", "item-not-found", NULL);
        return NULL;
    }
    if (to->resource != NULL) {
        focus_muc_error(muc, iq, type, condition, NULL);
        return NULL;
    }
    return room;
}

static gboolean
rate_ok(FocusMuc *muc, xmpp_stanza_t *iq)
{
    if (focus_policy_allow_stanza(muc->policy, xmpp_stanza_get_from(iq)))
        return TRUE;
    focus_muc_refuse_stanza(muc, iq, FOCUS_REFUSE_RATE_LIMITED);
    return FALSE;
}

static gboolean
is_get(xmpp_stanza_t *iq)
{
    return g_str_equal(xmpp_stanza_get_type(iq), "get");
}

static gboolean
on_disco_info(CcXmppComponent *comp, xmpp_stanza_t *iq, gpointer data)
{
    FocusMuc *muc = data;
    if (!is_get(iq))
        return FALSE;
    if (!rate_ok(muc, iq))
        return TRUE;
    xmpp_stanza_t *query = cc_stanza_first_element(iq);
    if (xmpp_stanza_get_attribute(query, "node") != NULL) {
        focus_muc_error(muc, iq, "cancel", "item-not-found", NULL);
        return TRUE;
    }
    if (cc_xmpp_service_is_for_domain(comp, iq)) {
        g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(iq);
        xmpp_stanza_t *q = cc_stanza_add_child(reply, "query", CC_NS_DISCO_INFO);
        add_identity(q, "Conclave conferences");
        for (const char *const *f = service_features; *f != NULL; f++)
            add_feature(q, *f);
        for (guint i = 0; i < muc->extra_features->len; i++)
            add_feature(q, g_ptr_array_index(muc->extra_features, i));
        focus_muc_send(muc, reply);
        return TRUE;
    }
    FocusRoom *room = bare_room_for(muc, iq, "cancel", "service-unavailable");
    return room == NULL || focus_muc_room_disco_info(muc, room, iq);
}

static gboolean
on_disco_items(CcXmppComponent *comp, xmpp_stanza_t *iq, gpointer data)
{
    FocusMuc *muc = data;
    if (!is_get(iq))
        return FALSE;
    if (!rate_ok(muc, iq))
        return TRUE;
    if (cc_xmpp_service_is_for_domain(comp, iq)) {
        /* No room is ever listed: a room's name is the key to it. */
        g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(iq);
        cc_stanza_add_child(reply, "query", CC_NS_DISCO_ITEMS);
        focus_muc_send(muc, reply);
        return TRUE;
    }
    FocusRoom *room = bare_room_for(muc, iq, "cancel", "service-unavailable");
    return room == NULL || focus_muc_room_disco_items(muc, room, iq);
}

static gboolean
on_ping(CcXmppComponent *comp, xmpp_stanza_t *iq, gpointer data)
{
    FocusMuc *muc = data;
    if (!is_get(iq))
        return FALSE;
    if (!rate_ok(muc, iq))
        return TRUE;
    g_autoptr(CcJid) to = cc_jid_parse(xmpp_stanza_get_to(iq), NULL);
    if (to != NULL && to->local != NULL) {
        FocusRoom *room = focus_muc_find_room(muc, to->local);
        FocusOccupant *occ = room ? focus_room_by_nick(room, to->resource) : NULL;
        /* XEP-0410: a ping to one's own occupant address says "still joined". */
        gboolean joined = occ != NULL && g_str_equal(occ->jid_text, xmpp_stanza_get_from(iq));
        if (to->resource != NULL && !joined) {
            focus_muc_error(muc, iq, "cancel", "not-acceptable", NULL);
            return TRUE;
        }
        if (room == NULL) {
            focus_muc_error(muc, iq, "cancel", "item-not-found", NULL);
            return TRUE;
        }
    }
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(iq);
    focus_muc_send(muc, reply);
    return TRUE;
}

typedef gboolean (*RoomIqHandler)(FocusMuc *muc, FocusRoom *room, xmpp_stanza_t *iq);

/* muc#admin and muc#owner requests go to the bare room. */
static gboolean
room_iq(FocusMuc *muc, xmpp_stanza_t *iq, RoomIqHandler handler)
{
    if (!rate_ok(muc, iq))
        return TRUE;
    FocusRoom *room = bare_room_for(muc, iq, "modify", "bad-request");
    return room == NULL || handler(muc, room, iq);
}

static gboolean
on_admin(CcXmppComponent *comp, xmpp_stanza_t *iq, gpointer data)
{
    return room_iq(data, iq, focus_muc_admin_iq);
}

static gboolean
on_owner(CcXmppComponent *comp, xmpp_stanza_t *iq, gpointer data)
{
    return room_iq(data, iq, focus_muc_owner_iq);
}

/* Jitsi-style clients ask the focus to start a conference before joining the room. */
static gboolean
on_jitsi_conference(CcXmppComponent *comp, xmpp_stanza_t *iq, gpointer data)
{
    FocusMuc *muc = data;
    if (!g_str_equal(xmpp_stanza_get_type(iq), "set"))
        return FALSE;
    if (!rate_ok(muc, iq))
        return TRUE;
    xmpp_stanza_t *conference = cc_stanza_first_element(iq);
    const char *room_attr = xmpp_stanza_get_attribute(conference, "room");
    g_autoptr(CcJid) room_jid = room_attr ? cc_jid_parse(room_attr, NULL) : NULL;
    g_autoptr(CcJid) from = cc_jid_parse(xmpp_stanza_get_from(iq), NULL);
    if (room_jid == NULL || room_jid->local == NULL || room_jid->resource != NULL ||
        g_ascii_strcasecmp(room_jid->domain, muc->domain) != 0 || from == NULL) {
        focus_muc_refuse(muc, "bad_request");
        focus_muc_error(muc, iq, "modify", "bad-request", "room must be a room of this service");
        return TRUE;
    }
    /* A `token` is checked here and remembered for the join that follows (muc-token.c). */
    FocusTokenGrant grant;
    g_autofree char *from_text = cc_jid_to_string(from);
    if (!focus_muc_token_for_conference(muc, iq, from_text, room_jid->local, &grant))
        return TRUE;
    FocusDomainClass class = focus_policy_classify(muc->policy, from);
    FocusRefusal refusal;
    if (!focus_token_may_enter(class, grant, TRUE, &refusal) ||
        !focus_token_may_enter(class, grant, focus_muc_find_room(muc, room_jid->local) != NULL,
                               &refusal)) {
        focus_muc_refuse_stanza(muc, iq, refusal);
        return TRUE;
    }
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(iq);
    xmpp_stanza_t *answer = cc_stanza_add_child(reply, "conference", NS_JITSI_FOCUS);
    xmpp_stanza_set_attribute(answer, "ready", "true");
    xmpp_stanza_set_attribute(answer, "room", room_attr);
    xmpp_stanza_set_attribute(answer, "focusjid", muc->domain);
    focus_muc_send(muc, reply);
    return TRUE;
}

void
focus_muc_disco_install(FocusMuc *muc)
{
    CcXmppComponent *x = muc->xmpp;
    cc_xmpp_component_register_iq(x, CC_NS_DISCO_INFO, "query", on_disco_info, muc);
    cc_xmpp_component_register_iq(x, CC_NS_DISCO_ITEMS, "query", on_disco_items, muc);
    cc_xmpp_component_register_iq(x, CC_NS_PING, "ping", on_ping, muc);
    cc_xmpp_component_register_iq(x, NS_MUC_ADMIN, "query", on_admin, muc);
    cc_xmpp_component_register_iq(x, NS_MUC_OWNER, "query", on_owner, muc);
    cc_xmpp_component_register_iq(x, NS_JITSI_FOCUS, "conference", on_jitsi_conference, muc);
}
