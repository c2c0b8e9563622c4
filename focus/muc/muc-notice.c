/* What the room itself tells its occupants about the room, as messages from the bare room
 * JID rather than relayed from an occupant: that it is being recorded or no longer is
 * (XEP-0045 status codes 170 and 171, which stand for room logging) and notices for its
 * moderators. The room only keeps the flag and says what it is told: whether and why a
 * recording runs is the media side's, which calls in here. Joiners learn of a running
 * recording from 170 in their own presence (muc-presence.c), disco#info shows it
 * (muc-disco.c). */
#include "muc.h"

/* A groupchat message from the room to `to` with `text` and, unless 0, a muc#user status
 * `code`. */
static xmpp_stanza_t *
room_message(FocusMuc *muc, FocusRoom *room, FocusOccupant *to, const char *text, int code)
{
    xmpp_stanza_t *m = xmpp_message_new(focus_muc_ctx(muc), "groupchat", to->jid_text, NULL);
    xmpp_stanza_set_from(m, room->jid);
    g_autofree char *id = cc_stanza_new_id();
    xmpp_stanza_set_id(m, id);
    xmpp_stanza_t *body = cc_stanza_add_child(m, "body", NULL);
    cc_stanza_add_text(body, text);
    if (code != 0) {
        xmpp_stanza_t *x = cc_stanza_add_child(m, "x", NS_MUC_USER);
        xmpp_stanza_t *status = cc_stanza_add_child(x, "status", NULL);
        cc_stanza_set_uint(status, "code", (guint64)code);
    }
    return m;
}

void
focus_muc_set_recording(FocusMuc *muc, FocusRoom *room, gboolean on, const char *text)
{
    if (room->recording == on)
        return;
    room->recording = on;
    focus_muc_audit(muc, on ? "recording_start" : "recording_stop", room->local, NULL, "ok");
    if (text == NULL)
        text = on ? "This room is now being recorded." : "This room is no longer being recorded.";
    for (guint i = 0; i < room->occupants->len; i++) {
        g_autoptr(xmpp_stanza_t) m =
            room_message(muc, room, g_ptr_array_index(room->occupants, i), text, on ? 170 : 171);
        focus_muc_send(muc, m);
    }
}

void
focus_muc_tell_moderators(FocusMuc *muc, FocusRoom *room, const char *text)
{
    for (guint i = 0; i < room->occupants->len; i++) {
        FocusOccupant *occ = g_ptr_array_index(room->occupants, i);
        if (occ->role != FOCUS_ROLE_MODERATOR)
            continue;
        g_autoptr(xmpp_stanza_t) m = room_message(muc, room, occ, text, 0);
        focus_muc_send(muc, m);
    }
}
