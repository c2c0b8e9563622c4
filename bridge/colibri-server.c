/* Colibri2 request handling (see colibri-server.h). A request is parsed, checked against
 * the table of conferences, then applied whole or not at all on the conference's worker
 * (colibri-apply.c), and the answer (each created endpoint's ICE ufrag, pwd, candidates, DTLS
 * fingerprint and bridge channel URL) is built back on the control thread, which also keeps the
 * bridge channel's table of endpoints in step. A <recording> start creates its file first and
 * attaches the recorder as the last step of applying; a stop detaches it there (recordings.c owns
 * the recordings). Errors are stanza errors plus a colibri2 `reason`. */
#include "colibri-server.h"

#include "channel.h"
#include "colibri-apply.h"
#include "recordings.h"

#include "cc-autoptr.h"
#include "stanza.h"
#include "tsan.h"

#include <string.h>

struct _BridgeColibriServer {
    CcXmppComponent *xmpp;
    BridgeWorkerPool *pool;
    const BridgeMediaConfig *config;
    BridgeChannels *channels; /* NULL: no bridge channel */
    BridgeRecordings *recordings;
    char **trusted;
    GHashTable *conferences; /* meeting-id -> BridgeConference* */
    gboolean draining;
    guint capacity_pps;
    guint rate_timer;
    gint64 last_in, last_out;
    gint64 rate_in, rate_out; /* packets per second over the last second */
};

static void
send_failure(CcXmppComponent *xmpp, xmpp_stanza_t *request, BridgeColibriFailure *f)
{
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_error_reply(request, f->type, f->condition, f->text);
    cc_colibri2_error_reason(xmpp_stanza_get_child_by_name(reply, "error"), f->reason);
    cc_xmpp_component_send(xmpp, reply);
    bridge_colibri_failure_clear(f);
}

/* --- endpoints the bridge lost on its own ------------------------------------------------ */

typedef struct {
    BridgeColibriServer *srv;
    char *owner, *meeting_id, *endpoint, *reason;
} Lost;

static void
lost_free(gpointer data)
{
    Lost *l = data;
    g_free(l->owner);
    g_free(l->meeting_id);
    g_free(l->endpoint);
    g_free(l->reason);
    g_free(l);
}

/* On the control thread: tells the conference's owner, so that it can start a new session
 * for that participant instead of leaving it with a dead one. */
static gboolean
send_lost(gpointer data)
{
    Lost *l = data;
    cc_tsan_acquire(l);
    xmpp_ctx_t *ctx = cc_xmpp_component_ctx(l->srv->xmpp);
    g_autoptr(xmpp_stanza_t) msg = xmpp_message_new(ctx, NULL, l->owner, NULL);
    xmpp_stanza_set_from(msg, cc_xmpp_component_domain(l->srv->xmpp));
    xmpp_stanza_t *e = cc_stanza_add_child(msg, "endpoint-expired", CC_NS_COLIBRI2);
    xmpp_stanza_set_attribute(e, "meeting-id", l->meeting_id);
    xmpp_stanza_set_attribute(e, "id", l->endpoint);
    xmpp_stanza_set_attribute(e, "reason", l->reason);
    cc_xmpp_component_send(l->srv->xmpp, msg);
    if (l->srv->channels != NULL)
        bridge_channels_remove_endpoint(l->srv->channels, l->meeting_id, l->endpoint);
    return G_SOURCE_REMOVE;
}

static void
on_endpoint_lost(BridgeConference *conf, const char *endpoint, const char *reason, gpointer data)
{
    Lost *l = g_new0(Lost, 1);
    l->srv = data;
    l->owner = g_strdup(conf->owner);
    l->meeting_id = g_strdup(conf->meeting_id);
    l->endpoint = g_strdup(endpoint);
    l->reason = g_strdup(reason);
    cc_tsan_release(l); /* built on a worker, read on the control thread */
    g_main_context_invoke_full(NULL, G_PRIORITY_DEFAULT, send_lost, l, lost_free);
}

/* A new dominant speaker: the bridge channel (control thread) tells the clients. */
static gboolean
send_speaker(gpointer data)
{
    Lost *l = data;
    cc_tsan_acquire(l);
    if (l->srv->channels != NULL)
        bridge_channels_dominant_speaker(l->srv->channels, l->meeting_id, l->endpoint);
    return G_SOURCE_REMOVE;
}

static void
on_speaker_changed(BridgeConference *conf, const char *endpoint, gpointer data)
{
    Lost *l = g_new0(Lost, 1);
    l->srv = data;
    l->meeting_id = g_strdup(conf->meeting_id);
    l->endpoint = g_strdup(endpoint);
    cc_tsan_release(l);
    g_main_context_invoke_full(NULL, G_PRIORITY_DEFAULT, send_speaker, l, lost_free);
}

/* --- conferences left empty ----------------------------------------------------------- */

static void
check_expirable(gpointer data)
{
    gpointer *args = data;
    args[1] = GINT_TO_POINTER(bridge_conference_expirable(args[0]));
}

/* On the control thread: removes a conference that stayed empty for the grace period (its
 * focus died, restarted or lost track of it) and tells the JID that created it. A focus
 * that missed this message learns it the Jitsi way: `conference_not_found` to its next
 * request for the conference. */
static gboolean
expire_empty(gpointer data)
{
    Lost *l = data;
    cc_tsan_acquire(l);
    BridgeColibriServer *srv = l->srv;
    BridgeConference *conf = g_hash_table_lookup(srv->conferences, l->meeting_id);
    if (conf == NULL)
        return G_SOURCE_REMOVE;
    gpointer args[2] = {conf, NULL};
    bridge_worker_call(conf->worker, check_expirable, args);
    if (args[1] == NULL)
        return G_SOURCE_REMOVE; /* a request gave it endpoints meanwhile */
    g_info("a conference had no endpoint for %u s: expired", srv->config->empty_grace_s);
    cc_metric_inc(srv->config->stats->conferences_expired_empty);
    if (srv->channels != NULL)
        bridge_channels_remove_conference(srv->channels, l->meeting_id);
    g_hash_table_remove(srv->conferences, l->meeting_id);
    bridge_recordings_stopped(srv->recordings, l->meeting_id);
    xmpp_ctx_t *ctx = cc_xmpp_component_ctx(srv->xmpp);
    g_autoptr(xmpp_stanza_t) msg = xmpp_message_new(ctx, NULL, l->owner, NULL);
    xmpp_stanza_set_from(msg, cc_xmpp_component_domain(srv->xmpp));
    xmpp_stanza_t *e = cc_stanza_add_child(msg, "conference-expired", CC_NS_COLIBRI2);
    xmpp_stanza_set_attribute(e, "meeting-id", l->meeting_id);
    xmpp_stanza_set_attribute(e, "reason", "empty");
    cc_xmpp_component_send(srv->xmpp, msg);
    return G_SOURCE_REMOVE;
}

static void
on_conference_empty(BridgeConference *conf, gpointer data)
{
    Lost *l = g_new0(Lost, 1);
    l->srv = data;
    l->owner = g_strdup(conf->owner);
    l->meeting_id = g_strdup(conf->meeting_id);
    cc_tsan_release(l);
    g_main_context_invoke_full(NULL, G_PRIORITY_DEFAULT, expire_empty, l, lost_free);
}

static void
shutdown_on_worker(gpointer data)
{
    bridge_conference_shutdown(data);
}

static void
conference_destroy(gpointer data)
{
    BridgeConference *conf = data;
    bridge_worker_call(conf->worker, shutdown_on_worker, conf);
    bridge_conference_free(conf);
}

/* --- the IQ handlers ------------------------------------------------------------------- */

static gboolean
is_trusted(BridgeColibriServer *srv, const char *from)
{
    /* Deny by default: any XMPP user can address the bridge's component domain. */
    if (srv->trusted == NULL || from == NULL)
        return FALSE;
    g_autofree char *bare = g_strndup(from, strcspn(from, "/"));
    const char *at = strchr(bare, '@');
    const char *domain = at ? at + 1 : bare;
    for (char **t = srv->trusted; *t != NULL; t++) {
        if (g_ascii_strcasecmp(*t, bare) == 0 || g_ascii_strcasecmp(*t, domain) == 0)
            return TRUE;
    }
    return FALSE;
}

/* Keeps the bridge channel's endpoints in step with a request that was applied, and puts
 * each created endpoint's channel URL in its answer. */
static void
update_channels(BridgeColibriServer *srv, const CcColibri2Modify *m, GPtrArray *answers)
{
    if (srv->channels == NULL)
        return;
    if (m->expire) {
        bridge_channels_remove_conference(srv->channels, m->meeting_id);
        return;
    }
    for (guint i = 0; i < m->endpoints->len; i++) {
        const CcColibri2Endpoint *req = g_ptr_array_index(m->endpoints, i);
        CcIceUdpTransport *answer = g_ptr_array_index(answers, i);
        if (req->expire)
            bridge_channels_remove_endpoint(srv->channels, m->meeting_id, req->id);
        else if (answer != NULL)
            answer->websocket_url = bridge_channels_add_endpoint(srv->channels, m->meeting_id,
                                                                 req->id, req->channel_id);
        else if (req->channel_id != NULL)
            bridge_channels_set_channel_id(srv->channels, m->meeting_id, req->id, req->channel_id);
    }
}

static xmpp_stanza_t *
build_result(xmpp_stanza_t *request, const CcColibri2Modify *m, GPtrArray *answers)
{
    xmpp_stanza_t *reply = cc_stanza_iq_result(request);
    xmpp_stanza_t *mod = cc_stanza_add_child(reply, "conference-modified", CC_NS_COLIBRI2);
    xmpp_stanza_set_attribute(mod, "meeting-id", m->meeting_id);
    for (guint i = 0; i < m->endpoints->len; i++) {
        const CcColibri2Endpoint *req = g_ptr_array_index(m->endpoints, i);
        xmpp_stanza_t *e = cc_stanza_add_child(mod, "endpoint", NULL);
        xmpp_stanza_set_attribute(e, "id", req->id);
        if (req->expire)
            xmpp_stanza_set_attribute(e, "expire", "true");
        CcIceUdpTransport *answer = g_ptr_array_index(answers, i);
        if (answer != NULL)
            cc_colibri2_transport_write(e, answer);
    }
    return reply;
}

/* The request against the table of conferences and the recordings: FALSE (with a failure)
 * refuses it before anything changes. */
static gboolean
check_request(BridgeColibriServer *srv, const CcColibri2Modify *m, BridgeConference *conf,
              BridgeColibriFailure *f)
{
    BridgeRecRefusal r;
    if (m->create && conf != NULL)
        bridge_colibri_fail(f, "cancel", "conflict", "conference_already_exists", NULL);
    else if (m->create && srv->draining)
        bridge_colibri_fail(f, "cancel", "service-unavailable", "graceful_shutdown", NULL);
    else if (!m->create && conf == NULL)
        bridge_colibri_fail(f, "cancel", "item-not-found", "conference_not_found", NULL);
    else if (!bridge_recordings_check(srv->recordings, m, &r))
        bridge_colibri_fail(f, r.type, r.condition, r.reason, r.text);
    return f->reason == NULL;
}

static BridgeConference *
create_conference(BridgeColibriServer *srv, const CcColibri2Modify *m, const char *from)
{
    BridgeConference *conf =
        bridge_conference_new(m->meeting_id, bridge_worker_pool_pick(srv->pool), srv->config);
    conf->owner = g_strdup(from);
    conf->lost = on_endpoint_lost;
    conf->lost_data = srv;
    conf->speaker_changed = on_speaker_changed;
    conf->speaker_data = srv;
    conf->empty = on_conference_empty;
    conf->empty_data = srv;
    g_hash_table_insert(srv->conferences, conf->meeting_id, conf);
    return conf;
}

/* Answers a request that applied, and what follows it: the recording started or stopped,
 * the bridge channel's endpoints, the conference expired. */
static void
complete_request(BridgeColibriServer *srv, xmpp_stanza_t *stanza, const CcColibri2Modify *m,
                 BridgeColibriApply *a)
{
    if (a->start != NULL)
        bridge_recordings_started(srv->recordings, a->conf, m->recording_id, a->start);
    else if (m->recording == CC_COLIBRI2_RECORDING_STOP)
        bridge_recordings_stopped(srv->recordings, m->meeting_id);
    update_channels(srv, m, a->answers);
    g_autoptr(xmpp_stanza_t) reply = build_result(stanza, m, a->answers);
    if (m->expire) {
        g_hash_table_remove(srv->conferences, m->meeting_id);
        /* Its worker no longer feeds the recording: finish it. */
        bridge_recordings_stopped(srv->recordings, m->meeting_id);
    }
    cc_xmpp_component_send(srv->xmpp, reply);
}

static gboolean
on_modify(CcXmppComponent *xmpp, xmpp_stanza_t *stanza, gpointer data)
{
    BridgeColibriServer *srv = data;
    BridgeColibriFailure f = {0};
    xmpp_stanza_t *elem =
        xmpp_stanza_get_child_by_name_and_ns(stanza, "conference-modify", CC_NS_COLIBRI2);
    if (g_strcmp0(xmpp_stanza_get_type(stanza), "set") != 0 || elem == NULL) {
        bridge_colibri_fail(&f, "modify", "bad-request", "bad_request",
                            "conference-modify is a set");
        send_failure(xmpp, stanza, &f);
        return TRUE;
    }
    if (!is_trusted(srv, xmpp_stanza_get_from(stanza))) {
        bridge_colibri_fail(&f, "auth", "forbidden", "forbidden", NULL);
        send_failure(xmpp, stanza, &f);
        return TRUE;
    }
    g_autoptr(GError) error = NULL;
    g_autoptr(CcColibri2Modify) m = cc_colibri2_modify_parse(elem, &error);
    if (m == NULL) {
        bridge_colibri_fail(&f, "modify", "bad-request", "bad_request", error->message);
        send_failure(xmpp, stanza, &f);
        return TRUE;
    }
    BridgeConference *conf = g_hash_table_lookup(srv->conferences, m->meeting_id);
    if (!check_request(srv, m, conf, &f)) {
        send_failure(xmpp, stanza, &f);
        return TRUE;
    }
    gboolean created = conf == NULL;
    if (created)
        conf = create_conference(srv, m, xmpp_stanza_get_from(stanza));
    BridgeColibriApply a = {.conf = conf, .modify = m};
    a.answers = g_ptr_array_new_with_free_func((GDestroyNotify)cc_ice_udp_transport_free);
    g_ptr_array_set_size(a.answers, m->endpoints->len);
    BridgeRecRefusal r;
    if (m->recording == CC_COLIBRI2_RECORDING_START &&
        (a.start = bridge_recordings_open(srv->recordings, m->meeting_id, m->recording_id, &r)) ==
            NULL)
        bridge_colibri_fail(&a.failure, r.type, r.condition, r.reason, r.text);
    else
        bridge_worker_call(conf->worker, bridge_colibri_apply, &a);
    if (a.failure.reason != NULL) {
        bridge_recorder_free(a.start, TRUE);
        if (created)
            g_hash_table_remove(srv->conferences, m->meeting_id);
        send_failure(xmpp, stanza, &a.failure);
    } else {
        complete_request(srv, stanza, m, &a);
    }
    g_ptr_array_unref(a.answers);
    return TRUE;
}

static void
add_stat(xmpp_stanza_t *stats, const char *name, const char *value)
{
    xmpp_stanza_t *s = cc_stanza_add_child(stats, "stat", NULL);
    xmpp_stanza_set_attribute(s, "name", name);
    xmpp_stanza_set_attribute(s, "value", value);
}

static void
write_stats(BridgeColibriServer *srv, xmpp_stanza_t *parent)
{
    xmpp_stanza_t *stats = cc_stanza_add_child(parent, "stats", CC_NS_COLIBRI_STAT);
    gint endpoints = 0;
    for (guint i = 0; i < bridge_worker_pool_size(srv->pool); i++)
        endpoints += g_atomic_int_get(&bridge_worker_pool_get(srv->pool, i)->endpoints);
    char num[64];
    double stress = (double)(srv->rate_in + srv->rate_out) / (double)srv->capacity_pps;
    g_ascii_formatd(num, sizeof num, "%.4f", stress);
    add_stat(stats, "stress_level", num);
    g_snprintf(num, sizeof num, "%u", g_hash_table_size(srv->conferences));
    add_stat(stats, "conferences", num);
    g_snprintf(num, sizeof num, "%d", endpoints);
    add_stat(stats, "endpoints", num);
    g_snprintf(num, sizeof num, "%" G_GINT64_FORMAT, srv->rate_in);
    add_stat(stats, "packet_rate_download", num);
    g_snprintf(num, sizeof num, "%" G_GINT64_FORMAT, srv->rate_out);
    add_stat(stats, "packet_rate_upload", num);
    add_stat(stats, "graceful_shutdown", srv->draining ? "true" : "false");
}

static gboolean
on_health(CcXmppComponent *xmpp, xmpp_stanza_t *stanza, gpointer data)
{
    BridgeColibriServer *srv = data;
    /* Load figures (conferences, endpoints, rates) are for the focus only. */
    if (!is_trusted(srv, xmpp_stanza_get_from(stanza))) {
        g_autoptr(xmpp_stanza_t) refusal = cc_stanza_error_reply(stanza, "auth", "forbidden", NULL);
        cc_xmpp_component_send(xmpp, refusal);
        return TRUE;
    }
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(stanza);
    write_stats(srv, reply);
    cc_xmpp_component_send(xmpp, reply);
    return TRUE;
}

static gboolean
on_rate_timer(gpointer data)
{
    BridgeColibriServer *srv = data;
    gint64 in = cc_metric_get(srv->config->stats->packets_in);
    gint64 out = cc_metric_get(srv->config->stats->packets_out);
    srv->rate_in = in - srv->last_in;
    srv->rate_out = out - srv->last_out;
    srv->last_in = in;
    srv->last_out = out;
    return G_SOURCE_CONTINUE;
}

static gint64
stress_permille(gpointer data)
{
    BridgeColibriServer *srv = data;
    return (srv->rate_in + srv->rate_out) * 1000 / srv->capacity_pps;
}

BridgeColibriServer *
bridge_colibri_server_new(CcXmppComponent *xmpp, BridgeWorkerPool *pool,
                          const BridgeMediaConfig *config, BridgeChannels *channels,
                          BridgeRecordings *recordings, const char *const *trusted,
                          guint capacity_pps, CcMetrics *metrics)
{
    BridgeColibriServer *srv = g_new0(BridgeColibriServer, 1);
    srv->xmpp = xmpp;
    srv->pool = pool;
    srv->config = config;
    srv->channels = channels;
    srv->recordings = recordings;
    srv->trusted = g_strdupv((char **)trusted);
    srv->capacity_pps = MAX(capacity_pps, 1);
    srv->conferences = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, conference_destroy);
    cc_xmpp_component_register_iq(xmpp, CC_NS_COLIBRI2, "conference-modify", on_modify, srv);
    cc_xmpp_component_register_iq(xmpp, CC_NS_HEALTHCHECK, "healthcheck", on_health, srv);
    cc_xmpp_component_register_iq(xmpp, CC_NS_COLIBRI_STAT, "stats", on_health, srv);
    cc_metrics_gauge_func(metrics, "conclave_bridge_stress_permille",
                          "Packet rate (in + out) per mille of [media] capacity_pps",
                          stress_permille, srv);
    srv->rate_timer = g_timeout_add_seconds(1, on_rate_timer, srv);
    return srv;
}

void
bridge_colibri_server_drain(BridgeColibriServer *srv)
{
    if (!srv->draining)
        g_message("draining: new conferences are refused (graceful_shutdown)");
    srv->draining = TRUE;
}

guint
bridge_colibri_server_conferences(BridgeColibriServer *srv)
{
    return g_hash_table_size(srv->conferences);
}

void
bridge_colibri_server_free(BridgeColibriServer *srv)
{
    if (srv == NULL)
        return;
    g_source_remove(srv->rate_timer);
    if (g_hash_table_size(srv->conferences) > 0)
        g_message("expiring %u conference(s)", g_hash_table_size(srv->conferences));
    g_hash_table_unref(srv->conferences);
    /* No worker feeds a recording any more: close them. */
    bridge_recordings_stop_all(srv->recordings);
    g_strfreev(srv->trusted);
    g_free(srv);
}
