/* A conference: the endpoints that forward to each other, the SSRC table the router checks
 * every packet against (rebuilt when sources are signalled, never on the packet path), and
 * a timer that drives DTLS retransmissions, expires endpoints whose ICE, DTLS or media
 * stopped, runs the dominant speaker election (speaker.c) over the audio levels the
 * router collected, and says when the conference stayed empty for the grace period (its
 * owner is gone or forgot it: the Colibri2 server removes it). Created on the control thread, then
 * only touched on its worker. */
#include "bridge-media.h"

#define TICK_MS 100

BridgeConference *
bridge_conference_new(const char *meeting_id, BridgeWorker *worker, const BridgeMediaConfig *config)
{
    BridgeConference *conf = g_new0(BridgeConference, 1);
    conf->meeting_id = g_strdup(meeting_id);
    conf->worker = worker;
    conf->config = config;
    conf->endpoints = g_hash_table_new(g_str_hash, g_str_equal);
    conf->list = g_ptr_array_new();
    conf->ssrc_owner = g_hash_table_new(g_direct_hash, g_direct_equal);
    conf->empty_since_us = g_get_monotonic_time();
    bridge_worker_add_conferences(worker, 1);
    cc_metric_inc(config->stats->conferences_created);
    return conf;
}

BridgeEndpoint *
bridge_conference_endpoint(BridgeConference *conf, const char *id)
{
    return g_hash_table_lookup(conf->endpoints, id);
}

void
bridge_conference_rebuild_ssrcs(BridgeConference *conf)
{
    GHashTable *old = conf->ssrc_owner;
    conf->ssrc_owner = g_hash_table_new(NULL, NULL);
    for (guint i = 0; i < conf->list->len; i++) {
        BridgeEndpoint *ep = g_ptr_array_index(conf->list, i);
        for (guint j = 0; j < ep->n_ssrcs; j++) {
            gpointer key = GUINT_TO_POINTER(ep->ssrcs[j]);
            /* First come keeps an SSRC: a later endpoint cannot take it over. */
            if (!g_hash_table_contains(conf->ssrc_owner, key))
                g_hash_table_insert(conf->ssrc_owner, key, ep);
        }
    }
    /* An SSRC that lost its sender (which is still allocated here: this runs before an
     * endpoint is freed) may be taken by another one, whose packets must never be sent
     * under indexes the old sender's already used: every receiver retires it. */
    GHashTableIter it;
    gpointer key, owner;
    g_hash_table_iter_init(&it, old);
    while (g_hash_table_iter_next(&it, &key, &owner)) {
        if (g_hash_table_lookup(conf->ssrc_owner, key) == owner)
            continue;
        for (guint i = 0; i < conf->list->len; i++) {
            BridgeEndpoint *to = g_ptr_array_index(conf->list, i);
            if (to->srtp_out != NULL)
                bridge_srtp_retire_ssrc(to->srtp_out, GPOINTER_TO_UINT(key));
        }
    }
    g_hash_table_unref(old);
}

static const char *
expire_reason_name(BridgeExpireReason reason)
{
    switch (reason) {
    case BRIDGE_EXPIRE_ICE:
        return "ice_failed";
    case BRIDGE_EXPIRE_DTLS:
        return "dtls_failed";
    case BRIDGE_EXPIRE_MEDIA:
        return "media_timeout";
    default:
        return "signalled";
    }
}

static void
count_expiry(const BridgeStats *s, BridgeExpireReason reason)
{
    switch (reason) {
    case BRIDGE_EXPIRE_ICE:
        cc_metric_inc(s->endpoints_expired_ice);
        break;
    case BRIDGE_EXPIRE_DTLS:
        cc_metric_inc(s->endpoints_expired_dtls);
        break;
    case BRIDGE_EXPIRE_MEDIA:
        cc_metric_inc(s->endpoints_expired_media);
        break;
    default:
        cc_metric_inc(s->endpoints_expired_signalled);
        break;
    }
}

void
bridge_conference_remove_endpoint(BridgeConference *conf, BridgeEndpoint *ep,
                                  BridgeExpireReason reason)
{
    g_hash_table_remove(conf->endpoints, ep->id);
    g_ptr_array_remove(conf->list, ep);
    bridge_speaker_election_forget(&conf->election, &ep->speaker);
    bridge_conference_rebuild_ssrcs(conf);
    count_expiry(conf->config->stats, reason);
    bridge_worker_add_endpoints(conf->worker, -1);
    if (conf->list->len == 0) {
        conf->empty_since_us = g_get_monotonic_time();
        conf->empty_told = FALSE;
    }
    g_info("endpoint %s expired (%s)", ep->id, expire_reason_name(reason));
    if (reason != BRIDGE_EXPIRE_SIGNALLED && conf->lost != NULL)
        conf->lost(conf, ep->id, expire_reason_name(reason), conf->lost_data);
    bridge_endpoint_free(ep);
}

/* One round of the dominant speaker election, once per tick. */
static void
elect_speaker(BridgeConference *conf)
{
    bridge_speaker_election_begin(&conf->election);
    for (guint i = 0; i < conf->list->len; i++) {
        BridgeEndpoint *ep = g_ptr_array_index(conf->list, i);
        if (ep->audio_level_ext == 0)
            continue;
        bridge_speaker_level_tick(&ep->speaker);
        bridge_speaker_election_consider(&conf->election, &ep->speaker);
    }
    if (!bridge_speaker_election_end(&conf->election) || conf->speaker_changed == NULL)
        return;
    for (guint i = 0; i < conf->list->len; i++) {
        BridgeEndpoint *ep = g_ptr_array_index(conf->list, i);
        if (&ep->speaker == conf->election.dominant)
            conf->speaker_changed(conf, ep->id, conf->speaker_data);
    }
}

static gboolean
on_tick(gpointer data)
{
    BridgeConference *conf = data;
    /* What this pass of the loop forwarded goes out before the slower work of the tick
     * (DTLS retransmissions, expiries). */
    bridge_send_batch_flush(conf->worker->batch);
    gint64 now = g_get_monotonic_time();
    for (guint i = conf->list->len; i-- > 0;) {
        BridgeEndpoint *ep = g_ptr_array_index(conf->list, i);
        BridgeExpireReason reason = bridge_endpoint_tick(ep, now);
        if (reason != BRIDGE_EXPIRE_NONE)
            bridge_conference_remove_endpoint(conf, ep, reason);
    }
    elect_speaker(conf);
    if (conf->list->len == 0 && !conf->empty_told && conf->empty != NULL &&
        now - conf->empty_since_us >= (gint64)conf->config->empty_grace_s * G_USEC_PER_SEC) {
        conf->empty_told = TRUE;
        conf->empty(conf, conf->empty_data);
    }
    return G_SOURCE_CONTINUE;
}

void
bridge_conference_start(BridgeConference *conf)
{
    if (conf->timer != NULL)
        return;
    conf->timer = g_timeout_source_new(TICK_MS);
    g_source_set_callback(conf->timer, on_tick, conf, NULL);
    g_source_attach(conf->timer, conf->worker->context);
}

gboolean
bridge_conference_expirable(BridgeConference *conf)
{
    return conf->list->len == 0 && conf->empty_told;
}

void
bridge_conference_add_endpoint(BridgeConference *conf, BridgeEndpoint *ep)
{
    g_hash_table_insert(conf->endpoints, ep->id, ep);
    g_ptr_array_add(conf->list, ep);
    bridge_worker_add_endpoints(conf->worker, 1);
    conf->empty_since_us = 0;
    conf->empty_told = FALSE;
    bridge_conference_start(conf);
}

void
bridge_conference_shutdown(BridgeConference *conf)
{
    while (conf->list->len > 0) {
        BridgeEndpoint *ep = g_ptr_array_index(conf->list, conf->list->len - 1);
        bridge_conference_remove_endpoint(conf, ep, BRIDGE_EXPIRE_SIGNALLED);
    }
    if (conf->timer != NULL) {
        g_source_destroy(conf->timer);
        g_clear_pointer(&conf->timer, g_source_unref);
    }
}

void
bridge_conference_free(BridgeConference *conf)
{
    if (conf == NULL)
        return;
    bridge_worker_add_conferences(conf->worker, -1);
    g_hash_table_unref(conf->endpoints);
    g_ptr_array_unref(conf->list);
    g_hash_table_unref(conf->ssrc_owner);
    g_free(conf->meeting_id);
    g_free(conf->owner);
    g_free(conf);
}
