/* Rooms' conferences on bridges (see conference.h): placing a conference on the
 * least-stressed bridge, asking it for endpoints, keeping endpoints' transports and sources
 * up to date, and moving everything to another bridge when one fails. A conference's id on
 * the bridge is a random meeting id per room instance; the name it is given is the room's
 * tag, the HMAC that logs use, never the room's name. */
#include "focus-media.h"

#include <string.h>

#include "cc-error.h"

/* --- requests --------------------------------------------------------------------------- */

static void
request_destroy(FocusRequest *r)
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

static GPtrArray *
all_conferences(FocusMedia *media)
{
    GPtrArray *out = g_ptr_array_new();
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, media->conferences);
    while (g_hash_table_iter_next(&it, NULL, &value))
        g_ptr_array_add(out, value);
    return out;
}

/* --- helpers ------------------------------------------------------------------------------ */

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

static CcColibri2Modify *
modify_new(FocusConference *conf)
{
    CcColibri2Modify *m = cc_colibri2_modify_new(conf->room->meeting_id);
    m->name = g_strdup(conf->room->tag);
    return m;
}

static void
send_modify(FocusConference *conf, CcColibri2Modify *m, CcIqCallback callback,
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

static const char *
colibri_reason(xmpp_stanza_t *reply)
{
    xmpp_stanza_t *err = reply ? xmpp_stanza_get_child_by_name(reply, "error") : NULL;
    xmpp_stanza_t *r =
        err ? xmpp_stanza_get_child_by_name_and_ns(err, "error", CC_NS_COLIBRI2) : NULL;
    return r ? xmpp_stanza_get_attribute(r, "reason") : NULL;
}

/* An error that says the bridge, not our request, is the problem. */
static gboolean
bridge_is_at_fault(xmpp_stanza_t *reply, const GError *error)
{
    if (!g_error_matches(error, CC_ERROR, CC_ERROR_REMOTE))
        return TRUE; /* timeout, not connected */
    const char *reason = colibri_reason(reply);
    if (reason == NULL) /* the XMPP server answered: the bridge is not there */
        return TRUE;
    /* forbidden: the bridge does not trust this focus, a configuration error to route
     * around like a dead bridge. */
    static const char *const fatal[] = {"graceful_shutdown", "conference_not_found",
                                        "internal_error", "forbidden", NULL};
    return g_strv_contains(fatal, reason);
}

/* Takes the bridge out and the conference away from it, unless that already happened. */
static void
bridge_failed(FocusRequest *request, xmpp_stanza_t *reply, const GError *error)
{
    FocusMedia *media = request->media;
    cc_metric_inc(media->metrics.colibri_errors);
    const char *reason = colibri_reason(reply);
    g_message("bridge %s failed a request (%s%s%s)", request->bridge, error->message,
              reason ? ": " : "", reason ? reason : "");
    focus_bridges_fail(media->bridges, request->bridge);
    FocusConference *conf = focus_request_conference(request);
    if (conf != NULL)
        focus_conference_move(conf, "its bridge failed");
}

/* --- allocation ---------------------------------------------------------------------------- */

static void
on_allocated(CcXmppComponent *xmpp, xmpp_stanza_t *reply, const GError *error, gpointer data)
{
    g_autoptr(FocusRequest) request = data;
    FocusConference *conf = focus_request_conference(request);
    if (conf == NULL)
        return; /* moved or gone: those endpoints went with the old conference */
    if (error != NULL) {
        if (bridge_is_at_fault(reply, error)) {
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
        focus_participant_initiate(p, ep->transport);
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
        g_info("room %s: conference placed on %s", conf->room->tag, bridge);
    }
    g_autoptr(CcColibri2Modify) m = modify_new(conf);
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
        ep->audio_level_ext = FOCUS_AUDIO_LEVEL_EXT;
        focus_participant_set_state(p, PART_ALLOCATING);
    }
    send_modify(conf, m, on_allocated, focus_request_new(media, conf, NULL));
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
        if (bridge_is_at_fault(reply, error)) {
            bridge_failed(request, reply, error);
            return;
        }
        if (g_strcmp0(colibri_reason(reply), "unknown_endpoint") == 0) {
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
    g_autoptr(CcColibri2Modify) m = modify_new(conf);
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
    send_modify(conf, m, on_updated, request);
    /* Others hear of the sources now, not after the bridge's answer: the Colibri2 update
     * and the source-adds travel the same way, so clients know an SSRC before its first
     * packet. If the bridge refuses, the session ends and a source-remove follows. */
    if (with_sources)
        focus_conference_sync_sources(conf);
}

static void
on_expired(CcXmppComponent *xmpp, xmpp_stanza_t *reply, const GError *error, gpointer data)
{
    g_autoptr(FocusRequest) request = data;
    if (error != NULL)
        g_info("bridge %s: expiring failed: %s", request->bridge, error->message);
}

void
focus_conference_expire_endpoint(FocusConference *conf, const char *endpoint)
{
    if (conf->bridge == NULL)
        return;
    g_autoptr(CcColibri2Modify) m = modify_new(conf);
    cc_colibri2_modify_add_endpoint(m, endpoint)->expire = TRUE;
    send_modify(conf, m, on_expired, focus_request_new(conf->media, conf, NULL));
}

/* Ends the conference on its bridge; answers to earlier requests become stale. */
static void
release_bridge(FocusConference *conf)
{
    if (conf->bridge == NULL)
        return;
    g_autoptr(CcColibri2Modify) m = modify_new(conf);
    m->expire = TRUE;
    send_modify(conf, m, on_expired, focus_request_new(conf->media, conf, NULL));
    focus_bridges_count_conference(conf->media->bridges, conf->bridge, -1);
    g_clear_pointer(&conf->bridge, g_free);
    conf->created = conf->creating = FALSE;
    conf->generation++;
}

void
focus_conference_settle(FocusConference *conf)
{
    focus_conference_sync_sources(conf);
    if (conf->bridge != NULL && !conf->creating && !has_endpoints(conf)) {
        release_bridge(conf);
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

void
focus_conference_move(FocusConference *conf, const char *why)
{
    FocusMedia *media = conf->media;
    g_message("room %s: moving its conference off %s: %s", conf->room->tag,
              conf->bridge ? conf->bridge : "(none)", why);
    cc_metric_inc(media->metrics.moves);
    release_bridge(conf);
    for (guint i = 0; i < conf->participants->len; i++) {
        FocusParticipant *p = g_ptr_array_index(conf->participants, i);
        if (p->state < PART_WAITING)
            continue;
        if (p->state >= PART_ALLOCATING)
            cc_metric_inc(media->metrics.reinvites);
        focus_participant_end_session(p, "connectivity-error",
                                      "The media bridge failed: a new session follows", FALSE);
        focus_participant_set_state(p, PART_WAITING);
        focus_participant_renew(p);
    }
    focus_conference_pump(conf);
}

void
focus_conference_sync_sources(FocusConference *conf)
{
    g_autoptr(GHashTable) active = focus_conference_active_sources(conf);
    for (guint i = 0; i < conf->participants->len; i++)
        focus_participant_sync(g_ptr_array_index(conf->participants, i), active);
}

/* --- the MUC's hooks ------------------------------------------------------------------------ */

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

static void
conference_free(FocusConference *conf)
{
    g_hash_table_remove(conf->media->conferences, &conf->serial);
    conf->room->media = NULL;
    g_hash_table_unref(conf->by_jid);
    g_ptr_array_unref(conf->participants);
    g_free(conf->bridge);
    g_free(conf);
}

static void
on_joined(FocusRoom *room, FocusOccupant *occ, xmpp_stanza_t *presence, gpointer data)
{
    FocusConference *conf = focus_conference_of(data, room);
    FocusParticipant *p = focus_participant_new(conf, occ);
    g_ptr_array_add(conf->participants, p);
    g_hash_table_insert(conf->by_jid, p->jid, p);
    focus_capabilities_query(p, presence);
}

void
focus_media_capable(FocusParticipant *p, gboolean wants_media)
{
    if (!wants_media) {
        cc_metric_inc(p->conf->media->metrics.text_only);
        focus_participant_set_state(p, PART_TEXT_ONLY);
        return;
    }
    focus_participant_set_state(p, PART_WAITING);
    focus_participant_renew(p);
    focus_occupant_show(p);
    focus_conference_pump(p->conf);
}

static void
on_leaving(FocusRoom *room, FocusOccupant *occ, gboolean removed, gpointer data)
{
    FocusConference *conf = room->media;
    FocusParticipant *p = conf ? g_hash_table_lookup(conf->by_jid, occ->jid_text) : NULL;
    if (p == NULL)
        return;
    focus_p2p_forget(p);
    focus_participant_end_session(p, removed ? "gone" : NULL, NULL, TRUE);
    g_hash_table_remove(conf->by_jid, p->jid);
    g_ptr_array_remove(conf->participants, p);
    focus_conference_settle(conf);
}

static void
on_destroying(FocusRoom *room, gpointer data)
{
    FocusConference *conf = room->media;
    if (conf == NULL)
        return;
    release_bridge(conf);
    conference_free(conf);
}

/* A bridge says it expired an endpoint on its own (ICE, DTLS or media stopped): that
 * participant gets a new session. Only the conference's own bridge is believed. */
static gboolean
on_service_message(xmpp_stanza_t *message, gpointer data)
{
    FocusMedia *media = data;
    xmpp_stanza_t *e =
        xmpp_stanza_get_child_by_name_and_ns(message, "endpoint-expired", CC_NS_COLIBRI2);
    if (e == NULL)
        return FALSE;
    const char *meeting = xmpp_stanza_get_attribute(e, "meeting-id");
    const char *endpoint = xmpp_stanza_get_attribute(e, "id");
    const char *from = xmpp_stanza_get_from(message);
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, media->conferences);
    while (meeting != NULL && endpoint != NULL && g_hash_table_iter_next(&it, NULL, &value)) {
        FocusConference *conf = value;
        if (conf->bridge == NULL || g_ascii_strcasecmp(conf->bridge, from) != 0 ||
            g_strcmp0(conf->room->meeting_id, meeting) != 0)
            continue;
        FocusParticipant *p = by_endpoint(conf, endpoint);
        if (p != NULL && p->state >= PART_INITIATED) {
            g_info("room %s: the bridge lost a participant's endpoint (%s)", conf->room->tag,
                   xmpp_stanza_get_attribute(e, "reason"));
            focus_conference_restart(conf, p, "connectivity-error");
        }
        break;
    }
    return TRUE; /* handled, or not believed: either way nothing to answer */
}

static void
on_bridge_change(const char *jid, gboolean usable, gboolean failed, gpointer data)
{
    FocusMedia *media = data;
    g_autoptr(GPtrArray) confs = all_conferences(media);
    for (guint i = 0; i < confs->len; i++) {
        FocusConference *conf = g_ptr_array_index(confs, i);
        if (failed && g_strcmp0(conf->bridge, jid) == 0)
            focus_conference_move(conf, "its bridge stopped answering");
        else if (usable)
            focus_conference_pump(conf);
    }
}

/* --- the service --------------------------------------------------------------------------- */

static void
register_metrics(FocusMedia *media, CcMetrics *r)
{
    FocusMediaMetrics *m = &media->metrics;
    m->sessions = cc_metrics_gauge(r, "conclave_focus_sessions",
                                   "Jingle sessions accepted and running now", NULL);
    m->participants = cc_metrics_gauge(r, "conclave_focus_media_participants",
                                       "Occupants that want media (in any session state)", NULL);
    m->reinvites = cc_metrics_counter(r, "conclave_focus_reinvites_total",
                                      "Sessions restarted on another bridge", NULL);
    m->moves = cc_metrics_counter(r, "conclave_focus_conference_moves_total",
                                  "Conferences moved off a failed bridge", NULL);
    m->jingle_in = cc_metrics_counter(r, "conclave_focus_jingle_requests_total",
                                      "Jingle requests received from clients", NULL);
    m->colibri_errors = cc_metrics_counter(r, "conclave_focus_colibri_errors_total",
                                           "Colibri2 requests that failed", NULL);
    m->text_only = cc_metrics_counter(r, "conclave_focus_text_only_total",
                                      "Occupants found to want no media", NULL);
    m->restarts = cc_metrics_counter(r, "conclave_focus_session_restarts_total",
                                     "Sessions restarted on the same bridge after their "
                                     "transport failed",
                                     NULL);
    m->candidates_skipped =
        cc_metrics_counter(r, "conclave_focus_ice_candidates_skipped_total",
                           "Well-formed ICE candidates from clients left out because Conclave "
                           "cannot use them (TCP, unknown types)",
                           NULL);
    /* The Jingle condition when there is one, else the stanza error's. */
    static const char *const conditions[] = {
        "unknown-session", "out-of-order",     "unsupported-info",    "bad-request",
        "not-acceptable",  "policy-violation", "resource-constraint", NULL};
    m->jingle_errors = g_hash_table_new(g_str_hash, g_str_equal);
    for (const char *const *c = conditions; *c != NULL; c++)
        g_hash_table_insert(m->jingle_errors, (gpointer)*c,
                            cc_metrics_counter(r, "conclave_focus_jingle_errors_total",
                                               "Jingle requests refused, by error", "error", *c,
                                               NULL));
}

FocusMedia *
focus_media_new(CcXmppComponent *xmpp, FocusMuc *muc, FocusBridges *bridges,
                const FocusMediaSettings *settings, CcMetrics *metrics)
{
    FocusMedia *media = g_new0(FocusMedia, 1);
    media->xmpp = xmpp;
    media->muc = muc;
    media->bridges = bridges;
    media->settings = *settings;
    media->conferences = g_hash_table_new(g_int64_hash, g_int64_equal);
    media->caps = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    media->requests =
        g_hash_table_new_full(g_direct_hash, g_direct_equal, (GDestroyNotify)request_destroy, NULL);
    register_metrics(media, metrics);
    FocusMucHooks hooks = {
        .joined = on_joined,
        .leaving = on_leaving,
        .destroying = on_destroying,
        .iq_routed = focus_p2p_on_routed,
        .service_message = on_service_message,
        .data = media,
    };
    focus_muc_set_hooks(muc, &hooks);
    focus_bridges_set_listener(bridges, on_bridge_change, media);
    focus_jingle_install(media);
    return media;
}

void
focus_media_free(FocusMedia *media)
{
    if (media == NULL)
        return;
    FocusMucHooks none = {0};
    focus_muc_set_hooks(media->muc, &none);
    focus_bridges_set_listener(media->bridges, NULL, NULL);
    g_autoptr(GPtrArray) confs = all_conferences(media);
    for (guint i = 0; i < confs->len; i++)
        conference_free(g_ptr_array_index(confs, i));
    g_hash_table_unref(media->conferences);
    g_hash_table_unref(media->caps);
    g_hash_table_unref(media->requests);
    g_hash_table_unref(media->metrics.jingle_errors);
    g_free(media);
}
