/* The audit trail: rows (time, event, room HMAC, actor HMAC, reason code) queue in memory,
 * bounded by FocusStoreSettings.audit_queue_max, and are written in order by multi-row
 * INSERTs whenever the link is up. While the database is away they wait; beyond the bound
 * new rows are dropped and counted (conclave_focus_store_audit_dropped_total). A batch is
 * removed from the queue only once its INSERT succeeded: a link lost mid-INSERT may write it
 * twice, never lose it. Every hour (and when the link comes up) rows older than
 * [database] audit_retention_days are deleted. */
#include "store.h"

#define BATCH_MAX 100
#define CODE_MAX  40

typedef struct {
    gint64 at_us; /* wall clock */
    char event[CODE_MAX + 1];
    char detail[CODE_MAX + 1];
    gboolean has_room, has_actor;
    guint8 room[CC_HMAC_SHA256_LEN];
    guint8 actor[CC_HMAC_SHA256_LEN];
} AuditRow;

static void write_batch(FocusStore *store);

static const char purge_sql[] = "DELETE FROM audit WHERE at < now() - make_interval(days => $1)";

static void
on_purged(FocusStore *store, const PGresult *result, gpointer data)
{
    store->purging = FALSE;
    if (result != NULL)
        cc_metric_add(store->m_audit_purged,
                      g_ascii_strtoll(PQcmdTuples((PGresult *)result), NULL, 10));
}

static void
purge(FocusStore *store)
{
    if (store->s.audit_retention_days == 0 || store->purging || !focus_store_is_up(store))
        return;
    char days[16];
    g_snprintf(days, sizeof days, "%u", store->s.audit_retention_days);
    const char *values[] = {days};
    store->purging = TRUE;
    focus_store_query(store, purge_sql, 1, values, NULL, NULL, on_purged, NULL);
}

static gboolean
on_purge_tick(gpointer data)
{
    purge(data);
    return G_SOURCE_CONTINUE;
}

static void
on_written(FocusStore *store, const PGresult *result, gpointer data)
{
    guint n = store->audit_writing;
    store->audit_writing = 0;
    if (n == 0)
        return; /* the link was reset meanwhile: the rows are still queued */
    if (result == NULL && !focus_store_is_up(store))
        return; /* the link went down: they wait for the next one */
    /* Written, or refused by the database itself (they would be refused again). */
    for (guint i = 0; i < n; i++)
        g_free(g_queue_pop_head(&store->audit_rows));
    cc_metric_add(result ? store->m_audit_written : store->m_audit_dropped, n);
    cc_metric_set(store->m_audit_queued, g_queue_get_length(&store->audit_rows));
    write_batch(store);
}

static void
write_batch(FocusStore *store)
{
    guint n = MIN(g_queue_get_length(&store->audit_rows), BATCH_MAX);
    if (n == 0 || store->audit_writing > 0 || !focus_store_is_up(store))
        return;
    g_autoptr(GString) sql =
        g_string_new("INSERT INTO audit (at, event, room_hmac, actor_hmac, detail) VALUES ");
    g_autoptr(GPtrArray) times = g_ptr_array_new_with_free_func(g_free);
    const char *values[BATCH_MAX * 5];
    int lengths[BATCH_MAX * 5], formats[BATCH_MAX * 5];
    GList *link = store->audit_rows.head;
    for (guint i = 0; i < n; i++, link = link->next) {
        AuditRow *row = link->data;
        int p = (int)i * 5;
        g_string_append_printf(sql,
                               "%s(timestamptz 'epoch' + $%d::bigint * interval '1 microsecond', "
                               "$%d, $%d::bytea, $%d::bytea, $%d)",
                               i ? ", " : "", p + 1, p + 2, p + 3, p + 4, p + 5);
        char *text = g_strdup_printf("%" G_GINT64_FORMAT, row->at_us);
        g_ptr_array_add(times, text);
        values[p] = text;
        values[p + 1] = row->event;
        values[p + 2] = row->has_room ? (const char *)row->room : NULL;
        values[p + 3] = row->has_actor ? (const char *)row->actor : NULL;
        values[p + 4] = row->detail[0] ? row->detail : NULL;
        for (int k = 0; k < 5; k++) {
            formats[p + k] = k == 2 || k == 3;
            lengths[p + k] = formats[p + k] ? CC_HMAC_SHA256_LEN : 0;
        }
    }
    store->audit_writing = n;
    focus_store_query(store, sql->str, (int)n * 5, values, lengths, formats, on_written, NULL);
}

void
focus_store_audit(FocusStore *store, const char *event, const char *room_local,
                  const char *bare_key, const char *detail)
{
    if (store == NULL)
        return;
    if (g_queue_get_length(&store->audit_rows) >= store->s.audit_queue_max) {
        if (cc_metric_get(store->m_audit_dropped) == 0)
            g_warning("audit queue full (%u rows): dropping new rows", store->s.audit_queue_max);
        cc_metric_inc(store->m_audit_dropped);
        return;
    }
    AuditRow *row = g_new0(AuditRow, 1);
    row->at_us = g_get_real_time();
    g_strlcpy(row->event, event, sizeof row->event);
    g_strlcpy(row->detail, detail ? detail : "", sizeof row->detail);
    if (room_local != NULL) {
        focus_store_room_hmac(store->room_key, room_local, row->room);
        row->has_room = TRUE;
    }
    if (bare_key != NULL) {
        focus_store_jid_hmac(store->room_key, bare_key, row->actor);
        row->has_actor = TRUE;
    }
    g_queue_push_tail(&store->audit_rows, row);
    cc_metric_set(store->m_audit_queued, g_queue_get_length(&store->audit_rows));
    write_batch(store);
}

void
focus_store_audit_on_up(FocusStore *store)
{
    store->audit_writing = 0;
    write_batch(store);
    purge(store);
}

void
focus_store_audit_init(FocusStore *store)
{
    g_queue_init(&store->audit_rows);
    if (store->s.audit_retention_days > 0)
        store->purge_source = g_timeout_add_seconds(3600, on_purge_tick, store);
}

void
focus_store_audit_register(FocusStore *store, CcMetrics *metrics)
{
    store->m_audit_written = cc_metrics_counter(metrics, "conclave_focus_store_audit_written_total",
                                                "Audit rows written to the database", NULL);
    store->m_audit_dropped =
        cc_metrics_counter(metrics, "conclave_focus_store_audit_dropped_total",
                           "Audit rows lost: queue full, or refused by the database", NULL);
    store->m_audit_queued = cc_metrics_gauge(metrics, "conclave_focus_store_audit_queued",
                                             "Audit rows waiting to be written", NULL);
    store->m_audit_purged =
        cc_metrics_counter(metrics, "conclave_focus_store_audit_purged_total",
                           "Audit rows deleted after the retention period", NULL);
}

void
focus_store_audit_clear(FocusStore *store)
{
    g_clear_handle_id(&store->purge_source, g_source_remove);
    guint left = g_queue_get_length(&store->audit_rows);
    if (left > 0)
        g_warning("%u audit rows not written at exit", left);
    g_queue_clear_full(&store->audit_rows, g_free);
}
