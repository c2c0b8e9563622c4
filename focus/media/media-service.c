/* The media wing as one service (see conference.h): FocusMedia's life, its metrics, and the
 * wiring of everything the wing hears from outside: the MUC's hooks (joins, departures,
 * destroyed rooms, routed Jingle, messages from bridges), the Jingle and Jibri IQ handlers
 * and the bridge pool's listener. It is the top of the wing: it calls into the other files and
 * nothing calls into it, so a join's path (capabilities, then a session) is read here. */
#include "focus-media.h"

/* --- the MUC's hooks ----------------------------------------------------------------------- */

/* What capabilities.c learned: `p` wants media (it waits for a session) or not. */
static void
on_capable(FocusParticipant *p, gboolean wants_media, gpointer data)
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
on_joined(FocusRoom *room, FocusOccupant *occ, xmpp_stanza_t *presence, gpointer data)
{
    FocusConference *conf = focus_conference_of(data, room);
    FocusParticipant *p = focus_conference_add(conf, occ);
    focus_capabilities_query(p, presence, on_capable, NULL);
}

static void
on_leaving(FocusRoom *room, FocusOccupant *occ, gboolean removed, gpointer data)
{
    FocusConference *conf = room->media;
    FocusParticipant *p = conf ? g_hash_table_lookup(conf->by_jid, occ->jid_text) : NULL;
    if (p == NULL)
        return;
    focus_p2p_forget(p);
    focus_conference_remove(conf, p, removed ? "gone" : NULL);
}

static void
on_destroying(FocusRoom *room, gpointer data)
{
    FocusConference *conf = room->media;
    if (conf == NULL)
        return;
    focus_conference_release(conf);
    focus_conference_free(conf);
}

/* A message to the service from a bridge: a lost endpoint or conference, or a recording's
 * report. */
static gboolean
on_service_message(xmpp_stanza_t *message, gpointer data)
{
    return focus_conference_on_bridge_message(message, data) ||
           focus_recording_on_bridge_message(message, data);
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
    m->recordings =
        cc_metrics_gauge(r, "conclave_focus_recordings", "Conference recordings running now", NULL);
    m->recordings_failed =
        cc_metrics_counter(r, "conclave_focus_recordings_failed_total",
                           "Recordings that ended on their own (bridge failure or failover)", NULL);
    m->recreated = cc_metrics_counter(r, "conclave_focus_conferences_recreated_total",
                                      "Conferences re-created after their bridge expired or lost "
                                      "them (conference-expired, conference_not_found)",
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
    media->requests = g_hash_table_new_full(g_direct_hash, g_direct_equal,
                                            (GDestroyNotify)focus_request_destroy, NULL);
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
    focus_bridges_set_listener(bridges, focus_conference_on_bridge_change, media);
    focus_jingle_install(media);
    focus_recording_install(media);
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
    g_autoptr(GPtrArray) confs = focus_media_conferences(media);
    for (guint i = 0; i < confs->len; i++)
        focus_conference_free(g_ptr_array_index(confs, i));
    g_hash_table_unref(media->conferences);
    g_hash_table_unref(media->caps);
    g_hash_table_unref(media->requests);
    g_hash_table_unref(media->metrics.jingle_errors);
    g_free(media);
}
