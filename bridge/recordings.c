/* The table of running recordings and everything about them that happens on the control
 * thread (see recordings.h). Once a second it looks at each recording: a new overflow
 * episode is reported to the conference's owner as `damaged` (one message however many
 * packets were dropped); a failed writer is detached from the conference's worker,
 * finished, counted and reported as `failed`. The recorders themselves (recorder.c) never
 * talk to XMPP. */
#include "recordings.h"

#include "cc-autoptr.h"
#include "stanza.h"

#include <string.h>

#define CHECK_INTERVAL_S 1

struct _BridgeRecordings {
    char *dir; /* NULL: disabled */
    EVP_PKEY *key;
    gsize queue_size;
    CcXmppComponent *xmpp;
    BridgeRecMetrics metrics;
    GHashTable *running; /* meeting-id -> Running* */
    guint timer;
};

typedef struct {
    BridgeConference *conference; /* the Colibri2 server's; removed from here before it goes */
    char *meeting_id, *id, *owner;
    BridgeRecorder *recorder;
    guint overflows_told;
} Running;

static void
running_free(gpointer data)
{
    Running *r = data;
    bridge_recorder_free(r->recorder, FALSE);
    g_free(r->meeting_id);
    g_free(r->id);
    g_free(r->owner);
    g_free(r);
}

static void
refuse(BridgeRecRefusal *r, const char *type, const char *condition, const char *reason,
       const char *text)
{
    *r = (BridgeRecRefusal){type, condition, reason, text};
}

/* --- reports to the focus ------------------------------------------------------------------ */

static void
send_status(BridgeRecordings *recs, const Running *r, const char *state, const char *reason)
{
    xmpp_ctx_t *ctx = cc_xmpp_component_ctx(recs->xmpp);
    g_autoptr(xmpp_stanza_t) msg = xmpp_message_new(ctx, NULL, r->owner, NULL);
    xmpp_stanza_set_from(msg, cc_xmpp_component_domain(recs->xmpp));
    CcColibri2RecordingStatus st = {
        .meeting_id = r->meeting_id, .id = r->id, .state = (char *)state, .reason = (char *)reason};
    cc_colibri2_recording_status_write(msg, &st);
    cc_xmpp_component_send(recs->xmpp, msg);
}

static void
count_failure(BridgeRecordings *recs, BridgeRecFailure failure)
{
    cc_metric_inc(failure == BRIDGE_REC_DISK_FULL ? recs->metrics.failed_disk_full
                                                  : recs->metrics.failed_write_error);
}

static void
detach_on_worker(gpointer data)
{
    BridgeConference *conf = data;
    conf->recorder = NULL;
}

/* FALSE when the recording failed and was removed (the caller's iterator removes it). */
static gboolean
check_one(BridgeRecordings *recs, Running *r)
{
    BridgeRecFailure failure = bridge_recorder_failure(r->recorder);
    if (failure != BRIDGE_REC_OK) {
        bridge_worker_call(r->conference->worker, detach_on_worker, r->conference);
        bridge_recorder_finish(r->recorder, NULL, NULL);
        count_failure(recs, failure);
        cc_metric_add(recs->metrics.active, -1);
        g_message("recording %s of conference %s stopped: it failed (%s)", r->id, r->meeting_id,
                  bridge_rec_failure_reason(failure));
        send_status(recs, r, "failed", bridge_rec_failure_reason(failure));
        return FALSE;
    }
    guint overflows = bridge_recorder_overflows(r->recorder);
    if (overflows != r->overflows_told) {
        r->overflows_told = overflows;
        g_message("recording %s of conference %s is damaged: its queue overflowed", r->id,
                  r->meeting_id);
        send_status(recs, r, "damaged", "queue_overflow");
    }
    return TRUE;
}

static gboolean
on_check(gpointer data)
{
    BridgeRecordings *recs = data;
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, recs->running);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        if (!check_one(recs, value))
            g_hash_table_iter_remove(&it);
    }
    return G_SOURCE_CONTINUE;
}

/* --- Colibri2 ------------------------------------------------------------------------------- */

gboolean
bridge_recordings_check(BridgeRecordings *recs, const CcColibri2Modify *m, BridgeRecRefusal *r)
{
    if (m->recording == CC_COLIBRI2_RECORDING_NONE)
        return TRUE;
    const Running *running = g_hash_table_lookup(recs->running, m->meeting_id);
    if (recs->dir == NULL) {
        refuse(r, "cancel", "feature-not-implemented", "recording_disabled",
               "this bridge does not record");
    } else if (m->recording == CC_COLIBRI2_RECORDING_START && m->expire) {
        refuse(r, "modify", "bad-request", "bad_request",
               "a recording cannot start in a conference being expired");
    } else if (m->recording == CC_COLIBRI2_RECORDING_START && running != NULL) {
        refuse(r, "cancel", "conflict", "recording_active",
               "a recording of this conference is running");
    } else if (m->recording == CC_COLIBRI2_RECORDING_STOP &&
               (running == NULL || strcmp(running->id, m->recording_id) != 0)) {
        refuse(r, "cancel", "item-not-found", "unknown_recording", "no such recording is running");
    } else {
        return TRUE;
    }
    return FALSE;
}

/* <dir>/<UTC time>-<meeting-id>-<recording-id>.ccrec: never the room's name. */
static char *
recording_path(BridgeRecordings *recs, const char *meeting_id, const char *id)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *stamp = g_date_time_format(now, "%Y%m%dT%H%M%SZ");
    for (guint n = 1;; n++) {
        g_autofree char *name =
            n == 1 ? g_strdup_printf("%s-%s-%s.ccrec", stamp, meeting_id, id)
                   : g_strdup_printf("%s-%s-%s-%u.ccrec", stamp, meeting_id, id, n);
        char *path = g_build_filename(recs->dir, name, NULL);
        if (n >= 100 || !g_file_test(path, G_FILE_TEST_EXISTS))
            return path; /* the writer's O_EXCL has the last word */
        g_free(path);
    }
}

BridgeRecorder *
bridge_recordings_open(BridgeRecordings *recs, const char *meeting_id, const char *id,
                       BridgeRecRefusal *r)
{
    g_autofree char *path = recording_path(recs, meeting_id, id);
    g_autoptr(GError) error = NULL;
    BridgeRecorder *rec =
        bridge_recorder_new(path, recs->key, recs->queue_size, &recs->metrics, &error);
    if (rec == NULL) {
        g_warning("recording %s of conference %s not started: %s", id, meeting_id, error->message);
        cc_metric_inc(recs->metrics.failed_create);
        refuse(r, "wait", "internal-server-error", "recording_failed",
               "the recording file could not be created");
    }
    return rec;
}

void
bridge_recordings_started(BridgeRecordings *recs, BridgeConference *conf, const char *id,
                          BridgeRecorder *recorder)
{
    Running *r = g_new0(Running, 1);
    r->conference = conf;
    r->meeting_id = g_strdup(conf->meeting_id);
    r->id = g_strdup(id);
    r->owner = g_strdup(conf->owner);
    r->recorder = recorder;
    g_hash_table_replace(recs->running, r->meeting_id, r);
    cc_metric_inc(recs->metrics.started);
    cc_metric_add(recs->metrics.active, 1);
    g_message("recording %s of conference %s started: %s", id, conf->meeting_id,
              bridge_recorder_path(recorder));
}

static void
finish(BridgeRecordings *recs, Running *r)
{
    BridgeRecFailure failure;
    g_autoptr(GError) error = NULL;
    if (bridge_recorder_finish(r->recorder, &failure, &error)) {
        g_message("recording %s of conference %s stopped: %s", r->id, r->meeting_id,
                  bridge_recorder_path(r->recorder));
    } else {
        /* A failure the periodic check had not seen yet, or one in the last writes: the
         * focus hears of it even though it asked for the stop. */
        count_failure(recs, failure);
        g_warning("recording %s of conference %s stopped, failed: %s", r->id, r->meeting_id,
                  error->message);
        send_status(recs, r, "failed", bridge_rec_failure_reason(failure));
    }
    cc_metric_add(recs->metrics.active, -1);
}

void
bridge_recordings_stopped(BridgeRecordings *recs, const char *meeting_id)
{
    Running *r = g_hash_table_lookup(recs->running, meeting_id);
    if (r == NULL)
        return;
    finish(recs, r);
    g_hash_table_remove(recs->running, meeting_id);
}

void
bridge_recordings_stop_all(BridgeRecordings *recs)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, recs->running);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        finish(recs, value);
        g_hash_table_iter_remove(&it);
    }
}

/* --- life --------------------------------------------------------------------------------- */

static void
register_metrics(BridgeRecMetrics *m, CcMetrics *metrics)
{
#define DROPS    "conclave_bridge_recording_dropped_packets_total"
#define DROPS_H  "Packets not recorded, by reason"
#define FAILED   "conclave_bridge_recording_failures_total"
#define FAILED_H "Recordings that could not start or stopped on a failure, by reason"
    m->active = cc_metrics_gauge(metrics, "conclave_bridge_recordings_active",
                                 "Recordings running now", NULL);
    m->started = cc_metrics_counter(metrics, "conclave_bridge_recordings_started_total",
                                    "Recordings started", NULL);
    m->bytes = cc_metrics_counter(metrics, "conclave_bridge_recording_bytes_total",
                                  "Bytes written to recording files", NULL);
    m->chunks = cc_metrics_counter(metrics, "conclave_bridge_recording_chunks_total",
                                   "Encrypted chunks written to recording files", NULL);
    m->packets = cc_metrics_counter(metrics, "conclave_bridge_recording_packets_total",
                                    "RTP and RTCP packets written to recording files", NULL);
    m->dropped_overflow =
        cc_metrics_counter(metrics, DROPS, DROPS_H, "reason", "queue_overflow", NULL);
    m->dropped_streams =
        cc_metrics_counter(metrics, DROPS, DROPS_H, "reason", "stream_limit", NULL);
    m->failed_create = cc_metrics_counter(metrics, FAILED, FAILED_H, "reason", "create", NULL);
    m->failed_disk_full =
        cc_metrics_counter(metrics, FAILED, FAILED_H, "reason", "disk_full", NULL);
    m->failed_write_error =
        cc_metrics_counter(metrics, FAILED, FAILED_H, "reason", "write_error", NULL);
}

BridgeRecordings *
bridge_recordings_new(const char *dir, EVP_PKEY *key, gsize queue_size, CcXmppComponent *xmpp,
                      CcMetrics *metrics)
{
    BridgeRecordings *recs = g_new0(BridgeRecordings, 1);
    recs->dir = dir != NULL && *dir != '\0' ? g_strdup(dir) : NULL;
    recs->key = key;
    recs->queue_size = queue_size;
    recs->xmpp = xmpp;
    recs->running = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, running_free);
    register_metrics(&recs->metrics, metrics);
    if (recs->dir != NULL)
        recs->timer = g_timeout_add_seconds(CHECK_INTERVAL_S, on_check, recs);
    return recs;
}

void
bridge_recordings_free(BridgeRecordings *recs)
{
    if (recs == NULL)
        return;
    bridge_recordings_stop_all(recs);
    g_clear_handle_id(&recs->timer, g_source_remove);
    g_hash_table_unref(recs->running);
    EVP_PKEY_free(recs->key);
    g_free(recs->dir);
    g_free(recs);
}
