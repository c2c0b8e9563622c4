/* What every file of the media wing needs, and nothing that calls back up: the IQs the focus
 * has in flight (FocusRequest), so that an answer finds its conference again or is known to
 * be stale, and a conference's addresses (the focus occupant, a participant's occupant JID)
 * and its way out to the XMPP server. It owns no conference and decides nothing. */
#include "focus-media.h"

/* --- requests --------------------------------------------------------------------------- */

void
focus_request_destroy(FocusRequest *r)
{
    if (r->payload_free != NULL)
        r->payload_free(r->payload);
    g_free(r->jid);
    g_free(r->bridge);
    g_free(r);
}

FocusRequest *
focus_request_new(FocusMedia *media, FocusConference *conf, const char *jid)
{
    FocusRequest *r = g_new0(FocusRequest, 1);
    r->media = media;
    r->serial = conf ? conf->serial : 0;
    r->generation = conf ? conf->generation : 0;
    r->bridge = conf ? g_strdup(conf->bridge) : NULL;
    r->jid = g_strdup(jid);
    g_hash_table_add(media->requests, r);
    return r;
}

FocusConference *
focus_request_conference(FocusRequest *r)
{
    FocusConference *conf = g_hash_table_lookup(r->media->conferences, &r->serial);
    return conf != NULL && conf->generation == r->generation ? conf : NULL;
}

void
focus_request_free(FocusRequest *r)
{
    g_hash_table_remove(r->media->requests, r);
}

GPtrArray *
focus_media_conferences(FocusMedia *media)
{
    GPtrArray *out = g_ptr_array_new();
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, media->conferences);
    while (g_hash_table_iter_next(&it, NULL, &value))
        g_ptr_array_add(out, value);
    return out;
}

/* --- addresses ---------------------------------------------------------------------------- */

char *
focus_conference_owner(FocusConference *conf, FocusParticipant *p)
{
    return g_strconcat(conf->room->jid, "/", p->occ->nick, NULL);
}

char *
focus_conference_focus_jid(FocusConference *conf)
{
    return g_strconcat(conf->room->jid, "/" FOCUS_NICK, NULL);
}

void
focus_conference_send(FocusConference *conf, xmpp_stanza_t *stanza)
{
    cc_xmpp_component_send(conf->media->xmpp, stanza);
}

xmpp_stanza_t *
focus_participant_iq_new(FocusParticipant *p, const char *type)
{
    xmpp_stanza_t *iq = xmpp_iq_new(cc_xmpp_component_ctx(p->conf->media->xmpp), type, NULL);
    g_autofree char *from = focus_conference_focus_jid(p->conf);
    xmpp_stanza_set_from(iq, from);
    xmpp_stanza_set_to(iq, p->jid);
    return iq;
}

void
focus_participant_iq_send(FocusParticipant *p, xmpp_stanza_t *iq, gpointer payload,
                          GDestroyNotify payload_free, CcIqCallback callback)
{
    FocusMedia *media = p->conf->media;
    FocusRequest *request = focus_request_new(media, p->conf, p->jid);
    request->payload = payload;
    request->payload_free = payload_free;
    cc_xmpp_component_send_iq(media->xmpp, iq, media->settings.client_timeout_ms, callback,
                              request);
    xmpp_stanza_release(iq);
}
