/* Rooms' conferences on bridges (see conference.h): a conference's participants, placing
 * it on the least-stressed bridge, asking that bridge for endpoints, keeping endpoints'
 * transports and sources up to date, and moving everything to another bridge when one
 * fails (a failed request, the pool's listener, or the bridge saying it lost an endpoint),
 * and re-creating it when the bridge expired it on its own (conference-expired, or
 * conference_not_found to a later request).
 * A recording (recording.c) ends when its conference leaves the bridge, by either way.
 * A conference's id on the bridge is a random meeting id per room instance. It does not
 * hear the MUC itself: media-service.c turns the MUC's hooks into calls here. */
#include "focus-media.h"

#include <string.h>

#include "cc-error.h"

static FocusParticipant *
by_endpoint(FocusConference *conf, const char *endpoint)
{
    for (guint i = 0; i < conf->participants->len; i++) {
        FocusParticipant *p = g_ptr_array_index(conf->participants, i);
        if (p->endpoint != NULL && g_str_equal(p->endpoint, endpoint))
            return p;
    }
    return NULL;
}

static gboolean
has_endpoints(FocusConference *conf)
{
    for (guint i = 0; i < conf->participants->len; i++) {
        FocusParticipant *p = g_ptr_array_index(conf->participants, i);
        if (p->state >= PART_ALLOCATING)
            return TRUE;
    }
    return FALSE;
}

/* Takes the bridge out and the conference away from it, unless that already happened. */
static void
bridge_failed(FocusRequest *request, xmpp_stanza_t *reply, const GError *error)
{
    FocusMedia *media = request->media;
    cc_metric_inc(media->metrics.colibri_errors);
    const char *reason = focus_colibri_reason(reply);
    g_message("bridge %s failed a request (%s%s%s)", request->bridge, error->message,
              reason ? ": " : "", reason ? reason : "");
    focus_bridges_fail(media->bridges, request->bridge);
    FocusConference *conf = focus_request_conference(request);
    if (conf != NULL)
        focus_conference_move(conf, "its bridge failed");
}

/* --- allocation ---------------------------------------------------------------------------- */

/* A client that refuses (or never answers) the offer is left without media. */
static void
offer_refused(FocusParticipant *p, const char *sid, gpointer data)
{
    if (p->state != PART_INITIATED || g_strcmp0(p->sid, sid) != 0)
        return; /* a later session, or it answered after all */
    focus_participant_end_session(p, NULL, NULL, TRUE);
    focus_participant_set_state(p, PART_TEXT_ONLY);
    focus_conference_settle(p->conf);
}

static void
on_allocated(CcXmppComponent *xmpp, xmpp_stanza_t *reply, const GError *error, gpointer data)
{
    g_autoptr(FocusRequest) request = data;
    FocusConference *conf = focus_request_conference(request);
    if (conf == NULL)
        return; /* moved or gone: those endpoints went with the old conference */
    if (error != NULL) {
        if (focus_colibri_conference_gone(reply)) {
            focus_conference_recreate(conf, "conference_not_found");
            return;
        }
        if (focus_colibri_bridge_at_fault(reply, error)) {
            bridge_failed(request, reply, error);
            return;
        }
        g_warning("room %s: bridge %s refused endpoints: %s", conf->room->tag, conf->bridge,
                  error->message);
        cc_metric_inc(conf->media->metrics.colibri_errors);
        conf->creating = FALSE;
        if (!conf->created) { /* nothing was placed there after all */
            focus_bridges_count_conference(conf->media->bridges, conf->bridge, -1);
            g_clear_pointer(&conf->bridge, g_free);
            conf->generation++;
        }
        for (guint i = 0; i < conf->participants->len; i++) {
            FocusParticipant *p = g_ptr_array_index(conf->participants, i);
            if (p->state == PART_ALLOCATING)
                focus_participant_set_state(p, PART_TEXT_ONLY);
        }
        focus_conference_settle(conf);
        return;
    }
    g_autoptr(GError) parse_error = NULL;
    xmpp_stanza_t *body =
        xmpp_stanza_get_child_by_name_and_ns(reply, "conference-modified", CC_NS_COLIBRI2);
    g_autoptr(CcColibri2Modify) answer =
        body ? cc_colibri2_modified_parse(body, &parse_error) : NULL;
    if (answer == NULL) {
        GError bad = {CC_ERROR, CC_ERROR_INVALID, (char *)"malformed conference-modified"};
        bridge_failed(request, NULL, parse_error ? parse_error : &bad);
        return;
    }
    conf->creating = FALSE;
    conf->created = TRUE;
    for (guint i = 0; i < answer->endpoints->len; i++) {
        CcColibri2Endpoint *ep = g_ptr_array_index(answer->endpoints, i);
        FocusParticipant *p = by_endpoint(conf, ep->id);
        if (p == NULL || p->state != PART_ALLOCATING)
            continue;
        if (ep->transport == NULL || ep->transport->fingerprint == NULL) {
            g_warning("room %s: bridge %s gave an endpoint no transport", conf->room->tag,
                      conf->bridge);
            focus_participant_set_state(p, PART_TEXT_ONLY);
            continue;
        }
        focus_participant_initiate(p, ep->transport, offer_refused, NULL);
    }
    focus_conference_settle(conf);
    focus_conference_pump(conf);
}

void
focus_conference_pump(FocusConference *conf)
{
    FocusMedia *media = conf->media;
    if (conf->creating)
        return; /* the rest follow the create's answer */
    g_autoptr(GPtrArray) waiting = g_ptr_array_new();
    for (guint i = 0; i < conf->participants->len; i++) {
        FocusParticipant *p = g_ptr_array_index(conf->participants, i);
        if (p->state == PART_WAITING && waiting->len < CC_COLIBRI2_MAX_ENDPOINTS)
            g_ptr_array_add(waiting, p);
    }
    if (waiting->len == 0)
        return;
    if (conf->bridge == NULL) {
        const char *bridge = focus_bridges_select(media->bridges);
        if (bridge == NULL) {
            g_message("room %s: no bridge available; %u participants wait for media",
                      conf->room->tag, waiting->len);
            return;
        }
        conf->bridge = g_strdup(bridge);
        focus_bridges_count_conference(media->bridges, bridge, 1);
        /* The bridge may still hold this meeting id from before a failover: expire it
         * first (requests are answered in order). */
        focus_bridges_expire_pending(media->bridges, bridge, conf->room->meeting_id);
        g_info("room %s: conference placed on %s", conf->room->tag, bridge);
    }
    g_autoptr(CcColibri2Modify) m = focus_colibri_modify_new(conf);
    if (!conf->created) {
        m->create = TRUE;
        conf->creating = TRUE;
    }
    for (guint i = 0; i < waiting->len; i++) {
        FocusParticipant *p = g_ptr_array_index(waiting, i);
        CcColibri2Endpoint *ep = cc_colibri2_modify_add_endpoint(m, p->endpoint);
        ep->create = TRUE;
        /* Jitsi clients know each other by nickname on the bridge channel (a longer one
         * than Colibri2 carries leaves the endpoint id there). */
        if (strlen(p->occ->nick) <= CC_COLIBRI2_MAX_CHANNEL_ID_LEN)
            ep->channel_id = g_strdup(p->occ->nick);
        /* A recording names the owner of each stream by it (never by nick or JID). */
        if (cc_colibri2_valid_id(p->occ->occupant_id))
            ep->occupant_id = g_strdup(p->occ->occupant_id);
        ep->audio_level_ext = FOCUS_AUDIO_LEVEL_EXT;
        focus_participant_set_state(p, PART_ALLOCATING);
    }
    focus_colibri_send(conf, m, on_allocated, focus_request_new(media, conf, NULL));
    focus_occupant_update(conf);
    if (!conf->creating)
        focus_conference_pump(conf); /* more than one request's worth waiting */
}

/* --- updates ------------------------------------------------------------------------------- */

static void
on_updated(CcXmppComponent *xmpp, xmpp_stanza_t *reply, const GError *error, gpointer data)
{
    g_autoptr(FocusRequest) request = data;
    FocusConference *conf = focus_request_conference(request);
    if (conf == NULL)
        return;
    FocusParticipant *p = g_hash_table_lookup(conf->by_jid, request->jid);
    const char *endpoint = request->payload;
    if (p == NULL || g_strcmp0(p->endpoint, endpoint) != 0)
        return; /* that session is over */
    if (error != NULL) {
        if (focus_colibri_conference_gone(reply)) {
            focus_conference_recreate(conf, "conference_not_found");
            return;
        }
        if (focus_colibri_bridge_at_fault(reply, error)) {
            bridge_failed(request, reply, error);
            return;
        }
        if (g_strcmp0(focus_colibri_reason(reply), "unknown_endpoint") == 0) {
            /* The bridge expired it on its own (ICE, DTLS or media timeout). */
            focus_conference_restart(conf, p, "connectivity-error");
            return;
        }
        g_warning("room %s: bridge %s refused a participant's transport or sources: %s",
                  conf->room->tag, conf->bridge, error->message);
        cc_metric_inc(conf->media->metrics.colibri_errors);
        focus_participant_end_session(p, "general-error", "The media bridge refused the session",
                                      TRUE);
        focus_participant_set_state(p, PART_TEXT_ONLY);
        focus_conference_settle(conf);
        return;
    }
}

void
focus_conference_update_endpoint(FocusConference *conf, FocusParticipant *p,
                                 const CcIceUdpTransport *transport, gboolean with_sources)
{
    g_autoptr(CcColibri2Modify) m = focus_colibri_modify_new(conf);
    CcColibri2Endpoint *ep = cc_colibri2_modify_add_endpoint(m, p->endpoint);
    if (transport != NULL)
        ep->transport = cc_ice_udp_transport_copy(transport);
    if (transport != NULL && transport->fingerprint != NULL && p->has_payload_types) {
        ep->has_payload_types = TRUE;
        ep->audio = p->audio_pts;
        ep->video = p->video_pts;
        ep->audio_level_ext = p->audio_level_ext;
    }
    if (with_sources) {
        ep->sources = g_ptr_array_new_with_free_func((GDestroyNotify)cc_colibri2_source_free);
        for (guint i = 0; i < p->sources->len; i++)
            g_ptr_array_add(ep->sources, cc_colibri2_source_copy(g_ptr_array_index(p->sources, i)));
    }
    FocusRequest *request = focus_request_new(conf->media, conf, p->jid);
    request->payload = g_strdup(p->endpoint);
    request->payload_free = g_free;
    focus_colibri_send(conf, m, on_updated, request);
    /* Others hear of the sources now, not after the bridge's answer: the Colibri2 update
     * and the source-adds travel the same way, so clients know an SSRC before its first
     * packet. If the bridge refuses, the session ends and a source-remove follows. */
    if (with_sources)
        focus_conference_sync_sources(conf);
}

/* The conference is no longer on its bridge, as far as this focus is concerned. */
static void
forget_bridge(FocusConference *conf)
{
    focus_bridges_count_conference(conf->media->bridges, conf->bridge, -1);
    g_clear_pointer(&conf->bridge, g_free);
    conf->created = conf->creating = FALSE;
    conf->generation++;
}

void
focus_conference_release(FocusConference *conf)
{
    if (conf->bridge == NULL)
        return;
    focus_recording_end(conf, FOCUS_REC_END_CONFERENCE); /* expiring it stops the recording */
    focus_colibri_expire_conference(conf);
    forget_bridge(conf);
}

void
focus_conference_settle(FocusConference *conf)
{
    focus_conference_sync_sources(conf);
    if (conf->bridge != NULL && !conf->creating && !has_endpoints(conf)) {
        focus_conference_release(conf);
        focus_conference_pump(conf); /* anyone still waiting starts afresh */
        focus_occupant_update(conf);
    }
}

void
focus_conference_restart(FocusConference *conf, FocusParticipant *p, const char *reason)
{
    FocusMedia *media = conf->media;
    gint64 now = g_get_monotonic_time();
    if (now - p->restart_window_us > 60 * G_USEC_PER_SEC) {
        p->restart_window_us = now;
        p->restarts = 0;
    }
    focus_participant_end_session(p, reason, "A new session follows", TRUE);
    if (++p->restarts > FOCUS_RESTARTS_PER_MINUTE) {
        g_message("room %s: a participant's sessions keep failing: left without media",
                  conf->room->tag);
        focus_participant_set_state(p, PART_TEXT_ONLY);
    } else {
        cc_metric_inc(media->metrics.restarts);
        focus_participant_set_state(p, PART_WAITING);
        focus_participant_renew(p);
    }
    focus_conference_settle(conf);
    focus_conference_pump(conf);
}

/* Every participant that wants media gets a new session, wherever the conference is placed
 * next. */
static void
renew_everyone(FocusConference *conf, const char *text)
{
    for (guint i = 0; i < conf->participants->len; i++) {
        FocusParticipant *p = g_ptr_array_index(conf->participants, i);
        if (p->state < PART_WAITING)
            continue;
        if (p->state >= PART_ALLOCATING)
            cc_metric_inc(conf->media->metrics.reinvites);
        focus_participant_end_session(p, "connectivity-error", text, FALSE);
        focus_participant_set_state(p, PART_WAITING);
        focus_participant_renew(p);
    }
    focus_conference_pump(conf);
}

void
focus_conference_move(FocusConference *conf, const char *why)
{
    FocusMedia *media = conf->media;
    g_message("room %s: moving its conference off %s: %s", conf->room->tag,
              conf->bridge ? conf->bridge : "(none)", why);
    cc_metric_inc(media->metrics.moves);
    /* The recording ends with what the failed bridge wrote; it does not follow the
     * conference (a new one is a moderator's decision). */
    focus_recording_end(conf, FOCUS_REC_END_BRIDGE_FAILED);
    focus_conference_release(conf);
    renew_everyone(conf, "The media bridge failed: a new session follows");
}

void
focus_conference_recreate(FocusConference *conf, const char *why)
{
    if (conf->bridge == NULL)
        return;
    g_message("room %s: bridge %s no longer has its conference (%s): creating it afresh",
              conf->room->tag, conf->bridge, why);
    cc_metric_inc(conf->media->metrics.recreated);
    /* The bridge already ended it, recording included: nothing to expire there. */
    focus_recording_end(conf, FOCUS_REC_END_CONFERENCE);
    forget_bridge(conf);
    renew_everyone(conf, "The media bridge ended the conference: a new session follows");
}

void
focus_conference_sync_sources(FocusConference *conf)
{
    g_autoptr(GHashTable) active = focus_conference_active_sources(conf);
    for (guint i = 0; i < conf->participants->len; i++)
        focus_participant_sync(g_ptr_array_index(conf->participants, i), active);
}

/* --- life and membership ------------------------------------------------------------------ */

FocusConference *
focus_conference_of(FocusMedia *media, FocusRoom *room)
{
    if (room->media != NULL)
        return room->media;
    FocusConference *conf = g_new0(FocusConference, 1);
    conf->media = media;
    conf->room = room;
    conf->serial = ++media->next_serial;
    conf->shown_bridge_count = -1;
    conf->participants = g_ptr_array_new_with_free_func((GDestroyNotify)focus_participant_free);
    conf->by_jid = g_hash_table_new(g_str_hash, g_str_equal);
    g_hash_table_insert(media->conferences, &conf->serial, conf);
    room->media = conf;
    return conf;
}

void
focus_conference_free(FocusConference *conf)
{
    g_hash_table_remove(conf->media->conferences, &conf->serial);
    focus_recording_clear(conf);
    conf->room->media = NULL;
    g_hash_table_unref(conf->by_jid);
    g_ptr_array_unref(conf->participants);
    g_free(conf->bridge);
    g_free(conf);
}

FocusParticipant *
focus_conference_add(FocusConference *conf, FocusOccupant *occ)
{
    FocusParticipant *p = focus_participant_new(conf, occ);
    g_ptr_array_add(conf->participants, p);
    g_hash_table_insert(conf->by_jid, p->jid, p);
    return p;
}

void
focus_conference_remove(FocusConference *conf, FocusParticipant *p, const char *reason)
{
    focus_participant_end_session(p, reason, NULL, TRUE);
    g_hash_table_remove(conf->by_jid, p->jid);
    g_ptr_array_remove(conf->participants, p);
    focus_conference_settle(conf);
}

/* --- failover ------------------------------------------------------------------------------ */

/* The conference `meeting` on `from`, if that bridge carries it now. */
static FocusConference *
on_bridge(FocusMedia *media, const char *from, const char *meeting)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, media->conferences);
    while (meeting != NULL && from != NULL && g_hash_table_iter_next(&it, NULL, &value)) {
        FocusConference *conf = value;
        if (conf->bridge != NULL && g_ascii_strcasecmp(conf->bridge, from) == 0 &&
            g_strcmp0(conf->room->meeting_id, meeting) == 0)
            return conf;
    }
    return NULL;
}

/* Only the conference's own bridge is believed about its endpoints and about the
 * conference: a bridge the conference left (a stopped one resumed, say) is ignored. */
gboolean
focus_conference_on_bridge_message(xmpp_stanza_t *message, gpointer data)
{
    FocusMedia *media = data;
    const char *from = xmpp_stanza_get_from(message);
    xmpp_stanza_t *gone =
        xmpp_stanza_get_child_by_name_and_ns(message, "conference-expired", CC_NS_COLIBRI2);
    if (gone != NULL) {
        FocusConference *conf =
            on_bridge(media, from, xmpp_stanza_get_attribute(gone, "meeting-id"));
        /* While a create is in flight the message may be about the bridge's previous
         * instance of this meeting: the create's own answer settles it. */
        if (conf != NULL && !conf->creating)
            focus_conference_recreate(conf, "conference-expired");
        return TRUE;
    }
    xmpp_stanza_t *e =
        xmpp_stanza_get_child_by_name_and_ns(message, "endpoint-expired", CC_NS_COLIBRI2);
    if (e == NULL)
        return FALSE;
    FocusConference *conf = on_bridge(media, from, xmpp_stanza_get_attribute(e, "meeting-id"));
    const char *endpoint = xmpp_stanza_get_attribute(e, "id");
    FocusParticipant *p = conf && endpoint ? by_endpoint(conf, endpoint) : NULL;
    if (p != NULL && p->state >= PART_INITIATED) {
        g_info("room %s: the bridge lost a participant's endpoint (%s)", conf->room->tag,
               xmpp_stanza_get_attribute(e, "reason"));
        focus_conference_restart(conf, p, "connectivity-error");
    }
    return TRUE; /* handled, or not believed: either way nothing to answer */
}

void
focus_conference_on_bridge_change(const char *jid, gboolean usable, gboolean failed, gpointer data)
{
    FocusMedia *media = data;
    g_autoptr(GPtrArray) confs = focus_media_conferences(media);
    for (guint i = 0; i < confs->len; i++) {
        FocusConference *conf = g_ptr_array_index(confs, i);
        if (failed && g_strcmp0(conf->bridge, jid) == 0)
            focus_conference_move(conf, "its bridge stopped answering");
        else if (usable)
            focus_conference_pump(conf);
    }
}
