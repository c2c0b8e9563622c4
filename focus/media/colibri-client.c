/* The focus's side of Colibri2 to the bridge that carries a conference: building and sending
 * conference-modify, reading what a failed answer says, and the requests whose answer
 * changes nothing (expiring an endpoint or the whole conference). What an answer means for
 * the conference (placement, failover) is conference.c's; this file does not decide it.
 * A conference's name on the bridge is the room's tag, the HMAC that logs use, never the
 * room's name. */
#include "focus-media.h"

#include "cc-error.h"

CcColibri2Modify *
focus_colibri_modify_new(FocusConference *conf)
{
    CcColibri2Modify *m = cc_colibri2_modify_new(conf->room->meeting_id);
    m->name = g_strdup(conf->room->tag);
    return m;
}

void
focus_colibri_send(FocusConference *conf, CcColibri2Modify *m, CcIqCallback callback,
                   FocusRequest *request)
{
    FocusMedia *media = conf->media;
    xmpp_stanza_t *iq = xmpp_iq_new(cc_xmpp_component_ctx(media->xmpp), "set", NULL);
    xmpp_stanza_set_to(iq, conf->bridge);
    xmpp_stanza_set_from(iq, cc_xmpp_component_domain(media->xmpp));
    cc_colibri2_modify_write(iq, m);
    cc_xmpp_component_send_iq(media->xmpp, iq, media->settings.bridge_timeout_ms, callback,
                              request);
    xmpp_stanza_release(iq);
}

const char *
focus_colibri_reason(xmpp_stanza_t *reply)
{
    xmpp_stanza_t *err = reply ? xmpp_stanza_get_child_by_name(reply, "error") : NULL;
    xmpp_stanza_t *r =
        err ? xmpp_stanza_get_child_by_name_and_ns(err, "error", CC_NS_COLIBRI2) : NULL;
    return r ? xmpp_stanza_get_attribute(r, "reason") : NULL;
}

gboolean
focus_colibri_bridge_at_fault(xmpp_stanza_t *reply, const GError *error)
{
    if (!g_error_matches(error, CC_ERROR, CC_ERROR_REMOTE))
        return TRUE; /* timeout, not connected */
    const char *reason = focus_colibri_reason(reply);
    if (reason == NULL) /* the XMPP server answered: the bridge is not there */
        return TRUE;
    /* forbidden: the bridge does not trust this focus, a configuration error to route
     * around like a dead bridge. */
    static const char *const fatal[] = {"graceful_shutdown", "internal_error", "forbidden", NULL};
    return g_strv_contains(fatal, reason);
}

gboolean
focus_colibri_conference_gone(xmpp_stanza_t *reply)
{
    return g_strcmp0(focus_colibri_reason(reply), "conference_not_found") == 0;
}

/* --- expiry: nothing waits for the answer ------------------------------------------------- */

static gboolean
placed_there(FocusMedia *media, const char *bridge, const char *meeting_id)
{
    g_autoptr(GPtrArray) confs = focus_media_conferences(media);
    for (guint i = 0; i < confs->len; i++) {
        FocusConference *conf = g_ptr_array_index(confs, i);
        if (g_strcmp0(conf->bridge, bridge) == 0 &&
            g_strcmp0(conf->room->meeting_id, meeting_id) == 0)
            return TRUE;
    }
    return FALSE;
}

static void
on_expired(CcXmppComponent *xmpp, xmpp_stanza_t *reply, const GError *error, gpointer data)
{
    g_autoptr(FocusRequest) request = data;
    const char *meeting_id = request->payload;
    if (error == NULL || focus_colibri_reason(reply) != NULL)
        return; /* done, or refused by the bridge itself (it no longer has it) */
    g_info("bridge %s: expiring failed: %s", request->bridge, error->message);
    /* The bridge did not hear it (stopped, or not connected): tell it again when it answers
     * health checks, unless the conference has meanwhile come back to it. */
    if (meeting_id != NULL && !placed_there(request->media, request->bridge, meeting_id))
        focus_bridges_expire_later(request->media->bridges, request->bridge, meeting_id);
}

void
focus_colibri_expire_endpoint(FocusConference *conf, const char *endpoint)
{
    if (conf->bridge == NULL)
        return;
    g_autoptr(CcColibri2Modify) m = focus_colibri_modify_new(conf);
    cc_colibri2_modify_add_endpoint(m, endpoint)->expire = TRUE;
    focus_colibri_send(conf, m, on_expired, focus_request_new(conf->media, conf, NULL));
}

void
focus_colibri_expire_conference(FocusConference *conf)
{
    g_autoptr(CcColibri2Modify) m = focus_colibri_modify_new(conf);
    m->expire = TRUE;
    FocusRequest *request = focus_request_new(conf->media, conf, NULL);
    request->payload = g_strdup(conf->room->meeting_id);
    request->payload_free = g_free;
    focus_colibri_send(conf, m, on_expired, request);
}
