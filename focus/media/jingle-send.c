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
    FocusMedia *media = p->conf->media;
    xmpp_stanza_t *iq = xmpp_iq_new(cc_xmpp_component_ctx(media->xmpp), "set", NULL);
    g_autofree char *from = focus_conference_focus_jid(p->conf);
    xmpp_stanza_set_from(iq, from);
    xmpp_stanza_set_to(iq, p->jid);
    cc_jingle_write(iq, jingle);
    Sent *sent = g_new0(Sent, 1);
    sent->action = jingle->action;
    sent->sid = g_strdup(jingle->sid);
    sent->refused = refused;
    sent->data = data;
    FocusRequest *request = focus_request_new(media, p->conf, p->jid);
    request->payload = sent;
    request->payload_free = (GDestroyNotify)sent_free;
    cc_xmpp_component_send_iq(media->xmpp, iq, media->settings.client_timeout_ms, on_jingle_reply,
                              request);
    xmpp_stanza_release(iq);
}
