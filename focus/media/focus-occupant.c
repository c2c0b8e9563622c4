/* The focus's own occupant in a room (room@service/focus), as Jitsi clients need to see it:
 * they accept Jingle only from an occupant whose presence carries the focus's JID (the
 * `focusjid` of the `conference` answer) in its muc#user item, and they read the
 * conference's properties (<conference-properties>) and the recording's status
 * (<jibri-recording-status>, schemas/jibri.md) from that presence.
 *
 * It is not a FocusOccupant of the room: it holds no seat (occupant limits, counts, disco
 * items, admin lists and the room's lifetime ignore it) and only participants that want
 * media are shown it, just before their first session-initiate, so plain text clients
 * never see an occupant they did not expect. It never leaves while the room lives. */
#include "focus-media.h"

#include "stanza.h"

/* The one property that changes (support-terminate-restart is always true); a change is
 * sent to everyone who was shown the focus. */
static gint
bridge_count(FocusConference *conf)
{
    return conf->bridge != NULL ? 1 : 0;
}

static void
add_property(xmpp_stanza_t *props, const char *key, const char *value)
{
    xmpp_stanza_t *p = cc_stanza_add_child(props, "property", NULL);
    xmpp_stanza_set_attribute(p, "key", key);
    xmpp_stanza_set_attribute(p, "value", value);
}

static FocusOccupant *
occupant_by_id(FocusRoom *room, const char *occupant_id)
{
    for (guint i = 0; occupant_id != NULL && i < room->occupants->len; i++) {
        FocusOccupant *occ = g_ptr_array_index(room->occupants, i);
        if (g_str_equal(occ->occupant_id, occupant_id))
            return occ;
    }
    return NULL;
}

/* The status of the running or last recording, as Jicofo shows it: on while it runs (the
 * initiator is who started it), off once it ended (the initiator is who stopped it;
 * failure_reason='error' when it ended on its own). Who is named by their occupant JID, if
 * still in the room. */
static void
add_recording_status(FocusConference *conf, xmpp_stanza_t *presence)
{
    const FocusRecording *rec = &conf->recording;
    if (rec->id == NULL)
        return;
    gboolean on = rec->state == FOCUS_REC_ON || rec->state == FOCUS_REC_STOPPING;
    xmpp_stanza_t *s = cc_stanza_add_child(presence, "jibri-recording-status", NS_JIBRI);
    xmpp_stanza_set_attribute(s, "status", on ? "on" : "off");
    xmpp_stanza_set_attribute(s, "recording_mode", "file");
    xmpp_stanza_set_attribute(s, "session_id", rec->id);
    FocusOccupant *who = occupant_by_id(conf->room, on ? rec->initiator : rec->terminator);
    if (who != NULL) {
        g_autofree char *jid = g_strconcat(conf->room->jid, "/", who->nick, NULL);
        xmpp_stanza_set_attribute(s, "initiator", jid);
    }
    if (!on && rec->failed)
        xmpp_stanza_set_attribute(s, "failure_reason", "error");
}

/* From room@service/focus to `to`: the muc#user item with the focus's real JID, <service
 * domain>/focus (the `conference` answer's focusjid is the service domain), owner and
 * moderator, and the conference-properties. */
static xmpp_stanza_t *
focus_presence(FocusConference *conf, const char *to)
{
    xmpp_stanza_t *p = xmpp_presence_new(cc_xmpp_component_ctx(conf->media->xmpp));
    g_autofree char *from = focus_conference_focus_jid(conf);
    xmpp_stanza_set_from(p, from);
    xmpp_stanza_set_to(p, to);
    xmpp_stanza_t *x = cc_stanza_add_child(p, "x", NS_MUC_USER);
    xmpp_stanza_t *item = cc_stanza_add_child(x, "item", NULL);
    /* Shown even in semi-anonymous rooms: it is the service, not a person. */
    g_autofree char *jid =
        g_strconcat(cc_xmpp_component_domain(conf->media->xmpp), "/" FOCUS_NICK, NULL);
    xmpp_stanza_set_attribute(item, "jid", jid);
    xmpp_stanza_set_attribute(item, "affiliation", "owner");
    xmpp_stanza_set_attribute(item, "role", "moderator");
    xmpp_stanza_t *props = cc_stanza_add_child(p, "conference-properties", NS_JITSI_FOCUS);
    add_property(props, "bridge-count", bridge_count(conf) ? "1" : "0");
    add_property(props, "support-terminate-restart", "true");
    add_recording_status(conf, p);
    return p;
}

void
focus_occupant_show(FocusParticipant *p)
{
    if (p->focus_shown)
        return;
    FocusConference *conf = p->conf;
    if (conf->shown_bridge_count < 0)
        conf->shown_bridge_count = bridge_count(conf);
    g_autoptr(xmpp_stanza_t) presence = focus_presence(conf, p->jid);
    focus_conference_send(conf, presence);
    p->focus_shown = TRUE;
}

void
focus_occupant_update(FocusConference *conf)
{
    if (bridge_count(conf) != conf->shown_bridge_count)
        focus_occupant_refresh(conf);
}

void
focus_occupant_refresh(FocusConference *conf)
{
    conf->shown_bridge_count = bridge_count(conf);
    for (guint i = 0; i < conf->participants->len; i++) {
        FocusParticipant *p = g_ptr_array_index(conf->participants, i);
        if (!p->focus_shown)
            continue;
        g_autoptr(xmpp_stanza_t) presence = focus_presence(conf, p->jid);
        focus_conference_send(conf, presence);
    }
}
