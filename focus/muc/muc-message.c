/* Messages in rooms (XEP-0045 sections 7.4-7.5, 8.1): groupchat broadcast keeping the
 * sender's id (muc#stable_id), private messages between occupants, subject changes by
 * those allowed. Non-occupants get not-acceptable; bounces remove the occupant; a room with
 * too much still waiting to go out refuses new messages (room_busy). */
#include "muc.h"

static xmpp_stanza_t *
relay_copy(FocusMuc *muc, FocusRoom *room, FocusOccupant *sender, xmpp_stanza_t *original,
           const char *to, const char *type)
{
    xmpp_stanza_t *m = xmpp_message_new(focus_muc_ctx(muc), type, to, NULL);
    g_autofree char *from = focus_room_occupant_jid(room, sender->nick);
    xmpp_stanza_set_from(m, from);
    const char *id = xmpp_stanza_get_id(original);
    if (id != NULL)
        xmpp_stanza_set_id(m, id);
    focus_room_copy_payload(m, original);
    focus_room_add_occupant_id(m, sender);
    return m;
}

static void
broadcast(FocusMuc *muc, FocusRoom *room, FocusOccupant *sender, xmpp_stanza_t *original)
{
    for (guint i = 0; i < room->occupants->len; i++) {
        FocusOccupant *to = g_ptr_array_index(room->occupants, i);
        g_autoptr(xmpp_stanza_t) m =
            relay_copy(muc, room, sender, original, to->jid_text, "groupchat");
        focus_muc_send(muc, m);
    }
    cc_metric_inc(muc->metrics.messages);
}

/* A room whose stanzas already wait in the send queue in numbers takes no more messages
 * until they are out: a flood into one room is refused there instead of filling the queue
 * that every room shares. */
static gboolean
room_busy(FocusMuc *muc, FocusRoom *room)
{
    return muc->limits.max_room_backlog != 0 &&
           cc_xmpp_component_backlog(muc->xmpp, room->jid) >= muc->limits.max_room_backlog;
}

static void
groupchat(FocusMuc *muc, FocusRoom *room, FocusOccupant *occ, xmpp_stanza_t *stanza)
{
    if (occ == NULL) {
        focus_muc_refuse_stanza(muc, stanza, FOCUS_REFUSE_NOT_OCCUPANT);
        return;
    }
    if (occ->role < FOCUS_ROLE_PARTICIPANT) {
        focus_muc_refuse_stanza(muc, stanza, FOCUS_REFUSE_VISITOR_SPEAKS);
        return;
    }
    xmpp_stanza_t *subject = xmpp_stanza_get_child_by_name(stanza, "subject");
    if (subject != NULL) {
        gboolean allowed = occ->role == FOCUS_ROLE_MODERATOR || room->config.change_subject;
        if (!allowed) {
            focus_muc_refuse(muc, "forbidden");
            focus_muc_error(muc, stanza, "auth", "forbidden",
                            "Only moderators may change the subject");
            return;
        }
        g_free(room->subject);
        room->subject = xmpp_stanza_get_text(subject);
        g_free(room->subject_by);
        room->subject_by = g_strdup(occ->nick);
    }
    broadcast(muc, room, occ, stanza);
}

static void
private_message(FocusMuc *muc, FocusRoom *room, FocusOccupant *occ, const char *nick,
                const char *type, xmpp_stanza_t *stanza)
{
    if (g_str_equal(type, "groupchat")) {
        focus_muc_error(muc, stanza, "modify", "bad-request",
                        "Groupchat messages go to the room, not to an occupant");
        return;
    }
    if (occ == NULL) {
        focus_muc_refuse_stanza(muc, stanza, FOCUS_REFUSE_NOT_OCCUPANT);
        return;
    }
    FocusOccupant *target = focus_room_by_nick(room, nick);
    if (target == NULL) {
        focus_muc_error(muc, stanza, "cancel", "item-not-found", NULL);
        return;
    }
    g_autoptr(xmpp_stanza_t) m = relay_copy(muc, room, occ, stanza, target->jid_text, type);
    cc_stanza_add_child(m, "x", NS_MUC_USER);
    focus_muc_send(muc, m);
    cc_metric_inc(muc->metrics.messages);
}

gboolean
focus_muc_on_message(CcXmppComponent *comp, xmpp_stanza_t *stanza, gpointer data)
{
    FocusMuc *muc = data;
    const char *type = xmpp_stanza_get_type(stanza);
    if (type == NULL)
        type = "normal";
    g_autoptr(CcJid) from = cc_jid_parse(xmpp_stanza_get_from(stanza), NULL);
    g_autoptr(CcJid) to = cc_jid_parse(xmpp_stanza_get_to(stanza), NULL);
    if (from == NULL || to == NULL) {
        focus_muc_error(muc, stanza, "modify", "jid-malformed", NULL);
        return TRUE;
    }
    g_autofree char *from_text = cc_jid_to_string(from);
    FocusRoom *room = to->local ? focus_muc_find_room(muc, to->local) : NULL;
    FocusOccupant *occ = room ? focus_room_by_jid(room, from_text) : NULL;
    if (g_str_equal(type, "error")) {
        static const int bounced[] = {333, 0};
        if (occ != NULL)
            focus_muc_remove_occupant(muc, room, occ, bounced, NULL, NULL);
        return TRUE;
    }
    if (to->local == NULL && muc->hooks.service_message != NULL &&
        muc->hooks.service_message(stanza, muc->hooks.data))
        return TRUE;
    if (!focus_policy_allow_stanza(muc->policy, from_text)) {
        focus_muc_refuse_stanza(muc, stanza, FOCUS_REFUSE_RATE_LIMITED);
        return TRUE;
    }
    if (to->local == NULL) {
        focus_muc_error(muc, stanza, "cancel", "service-unavailable", NULL);
        return TRUE;
    }
    if (room == NULL) {
        focus_muc_error(muc, stanza, "cancel", "item-not-found", NULL);
        return TRUE;
    }
    if (occ != NULL && room_busy(muc, room)) {
        focus_muc_refuse_stanza(muc, stanza, FOCUS_REFUSE_ROOM_BUSY);
        return TRUE;
    }
    if (to->resource != NULL)
        private_message(muc, room, occ, to->resource, type, stanza);
    else if (g_str_equal(type, "groupchat"))
        groupchat(muc, room, occ, stanza);
    else if (occ == NULL) {
        focus_muc_refuse_stanza(muc, stanza, FOCUS_REFUSE_NOT_OCCUPANT);
    } else
        /* Mediated invitations and voice requests are not offered (see disco). */
        focus_muc_error(muc, stanza, "cancel", "feature-not-implemented", NULL);
    return TRUE;
}
