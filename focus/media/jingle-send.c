/* Jingle from the focus (room@service/focus) to a participant's client: the IQ set, and
 * the check of its answer. A refusal or a timeout is logged here; what it means for the
 * session is the sender's, told through the callback it gave. Jingle that clients send is
 * jingle-handler.c's. */
#include "focus-media.h"

typedef struct {
    CcJingleAction action;
    char *sid;
    FocusJingleRefused refused;
    gpointer data;
} Sent;

static void
sent_free(Sent *s)
{
    g_free(s->sid);
    g_free(s);
}

static void
on_jingle_reply(CcXmppComponent *xmpp, xmpp_stanza_t *reply, const GError *error, gpointer data)
{
    g_autoptr(FocusRequest) request = data;
    Sent *sent = request->payload;
    if (error == NULL)
        return;
    FocusConference *conf = focus_request_conference(request);
    FocusParticipant *p = conf ? g_hash_table_lookup(conf->by_jid, request->jid) : NULL;
    g_info("room %s: a participant answered %s with %s", conf ? conf->room->tag : "(gone)",
           cc_jingle_action_name(sent->action), error->message);
    if (p != NULL && sent->refused != NULL)
        sent->refused(p, sent->sid, sent->data);
}

void
focus_jingle_send(FocusParticipant *p, CcJingle *jingle, FocusJingleRefused refused, gpointer data)
{
    xmpp_stanza_t *iq = focus_participant_iq_new(p, "set");
    cc_jingle_write(iq, jingle);
    Sent *sent = g_new0(Sent, 1);
    sent->action = jingle->action;
    sent->sid = g_strdup(jingle->sid);
    sent->refused = refused;
    sent->data = data;
    focus_participant_iq_send(p, iq, sent, (GDestroyNotify)sent_free, on_jingle_reply);
}
