/* The store's one PostgreSQL connection, driven by libpq's non-blocking API on the focus's
 * main loop: PQconnectStart/PQconnectPoll under fd watches, then PQsendQueryParams with one
 * query in flight and a FIFO behind it, results read on readability, output flushed on
 * writability. A query unanswered within [database] lookup_timeout_ms fails and resets the
 * link; a lost link fails every waiting query at once and is re-made with a backoff (0.5 s
 * doubling to 5 s). The schema version is checked before anything else runs. What the
 * queries mean is store-policy.c's and store-audit.c's. */
#include "store.h"

#include "cc-autoptr.h"

#include <glib-unix.h>

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 5000
/* The newest migration this focus knows (schemas/sql/). */
#define SCHEMA_VERSION 1

typedef struct {
    char *sql; /* a copy: callers may build it (the audit batches) */
    int n;
    char **values;
    int *lengths, *formats;
    FocusStoreDone done;
    gpointer data;
    guint timer;
    FocusStore *store;
} StoreQuery;

static void start_connect(FocusStore *store);
static void kick(FocusStore *store);

static void
query_free(StoreQuery *q)
{
    g_clear_handle_id(&q->timer, g_source_remove);
    g_free(q->sql);
    for (int i = 0; i < q->n; i++)
        g_free(q->values[i]);
    g_free(q->values);
    g_free(q->lengths);
    g_free(q->formats);
    g_free(q);
}

/* The first line of a libpq message, for logs and /health. */
static char *
first_line(const char *message)
{
    if (message == NULL || *message == '\0')
        return g_strdup("unknown error");
    return g_strstrip(g_strndup(message, strcspn(message, "\n")));
}

static void
remove_watches(FocusStore *store)
{
    g_clear_handle_id(&store->read_watch, g_source_remove);
    g_clear_handle_id(&store->write_watch, g_source_remove);
    g_clear_handle_id(&store->connect_timer, g_source_remove);
}

static gboolean
on_retry(gpointer data)
{
    FocusStore *store = data;
    store->retry_source = 0;
    cc_metric_inc(store->m_reconnects);
    start_connect(store);
    return G_SOURCE_REMOVE;
}

/* Every query waiting gets no answer. */
static void
fail_all(FocusStore *store)
{
    StoreQuery *q;
    store->in_flight = FALSE;
    g_clear_pointer(&store->pending_result, PQclear);
    while ((q = g_queue_pop_head(&store->queries)) != NULL) {
        cc_metric_inc(store->m_unavailable);
        q->done(store, NULL, q->data);
        query_free(q);
    }
}

/* The link is gone (or never came): close it, fail what waits, try again later. */
static void
set_down(FocusStore *store, const char *why)
{
    gboolean was_up = store->state == FOCUS_STORE_UP;
    remove_watches(store);
    g_clear_pointer(&store->conn, PQfinish);
    store->state = FOCUS_STORE_DOWN;
    cc_metric_set(store->m_up, 0);
    if (was_up || !g_str_equal(store->reason->str, why))
        g_warning("database unavailable: %s", why);
    g_string_assign(store->reason, why);
    store->audit_writing = 0;
    store->purging = FALSE;
    fail_all(store);
    if (store->retry_source == 0 && store->conninfo != NULL) {
        store->retry_source = g_timeout_add(store->backoff_ms, on_retry, store);
        store->backoff_ms = MIN(store->backoff_ms * 2, BACKOFF_MAX_MS);
    }
}

static void
set_down_conn_error(FocusStore *store, const char *what)
{
    g_autofree char *line = first_line(store->conn ? PQerrorMessage(store->conn) : NULL);
    g_autofree char *why = g_strdup_printf("%s: %s", what, line);
    set_down(store, why);
}

static void
on_schema_checked(FocusStore *store, const PGresult *result, gpointer data)
{
    if (store->state != FOCUS_STORE_CHECKING)
        return; /* the link went away meanwhile */
    gint64 version = 0;
    if (result != NULL && PQntuples(result) == 1 && !PQgetisnull(result, 0, 0))
        version = g_ascii_strtoll(PQgetvalue(result, 0, 0), NULL, 10);
    if (version < SCHEMA_VERSION) {
        g_autofree char *why =
            g_strdup_printf("database schema is version %" G_GINT64_FORMAT ", focus needs %d",
                            version, SCHEMA_VERSION);
        g_warning("%s", why);
        set_down(store, why);
        return;
    }
    store->state = FOCUS_STORE_UP;
    store->backoff_ms = BACKOFF_MIN_MS;
    g_string_truncate(store->reason, 0);
    cc_metric_set(store->m_up, 1);
    g_message("database connected (schema version %" G_GINT64_FORMAT ")", version);
    if (store->on_up != NULL)
        store->on_up(store);
    kick(store);
}

/* --- sending and receiving ----------------------------------------------------------------- */

static gboolean on_writable(gint fd, GIOCondition condition, gpointer data);

static void
flush(FocusStore *store)
{
    int r = PQflush(store->conn);
    if (r < 0) {
        set_down_conn_error(store, "send failed");
        return;
    }
    if (r == 1 && store->write_watch == 0)
        store->write_watch = g_unix_fd_add(PQsocket(store->conn), G_IO_OUT, on_writable, store);
    else if (r == 0)
        g_clear_handle_id(&store->write_watch, g_source_remove);
}

static gboolean
on_writable(gint fd, GIOCondition condition, gpointer data)
{
    FocusStore *store = data;
    int r = PQflush(store->conn);
    if (r == 1)
        return G_SOURCE_CONTINUE;
    store->write_watch = 0;
    if (r < 0)
        set_down_conn_error(store, "send failed");
    return G_SOURCE_REMOVE;
}

static gboolean
is_check(const StoreQuery *q)
{
    return q->done == on_schema_checked;
}

static void
kick(FocusStore *store)
{
    StoreQuery *q = g_queue_peek_head(&store->queries);
    if (store->in_flight || q == NULL)
        return;
    if (store->state != FOCUS_STORE_UP && !(store->state == FOCUS_STORE_CHECKING && is_check(q)))
        return;
    if (!PQsendQueryParams(store->conn, q->sql, q->n, NULL, (const char *const *)q->values,
                           q->lengths, q->formats, 0)) {
        set_down_conn_error(store, "query not sent");
        return;
    }
    store->in_flight = TRUE;
    flush(store);
}

static void
complete(FocusStore *store)
{
    StoreQuery *q = g_queue_pop_head(&store->queries);
    g_autoptr(PGresult) result = g_steal_pointer(&store->pending_result);
    store->in_flight = FALSE;
    ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
    gboolean ok = status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK;
    if (ok) {
        cc_metric_inc(store->m_ok);
    } else {
        /* The primary message only: details may quote a row's values. */
        cc_metric_inc(store->m_failed);
        g_autofree char *line =
            first_line(result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : NULL);
        if (!is_check(q))
            g_warning("database query failed: %s", line);
    }
    q->done(store, ok ? result : NULL, q->data);
    query_free(q);
    kick(store);
}

static gboolean
on_readable(gint fd, GIOCondition condition, gpointer data)
{
    FocusStore *store = data;
    if (!PQconsumeInput(store->conn) || PQstatus(store->conn) == CONNECTION_BAD) {
        store->read_watch = 0;
        set_down_conn_error(store, "connection closed");
        return G_SOURCE_REMOVE;
    }
    while (store->in_flight && !PQisBusy(store->conn)) {
        PGresult *r = PQgetResult(store->conn);
        if (r == NULL) {
            complete(store);
            if (store->conn == NULL)
                return G_SOURCE_REMOVE; /* read_watch was removed with the link */
        } else if (store->pending_result == NULL) {
            store->pending_result = r;
        } else {
            PQclear(r);
        }
    }
    return G_SOURCE_CONTINUE;
}

/* --- connecting ---------------------------------------------------------------------------- */

static gboolean on_connect_io(gint fd, GIOCondition condition, gpointer data);

static void
watch_connect(FocusStore *store, PostgresPollingStatusType status)
{
    g_clear_handle_id(&store->read_watch, g_source_remove);
    GIOCondition cond = status == PGRES_POLLING_READING ? G_IO_IN : G_IO_OUT;
    store->read_watch = g_unix_fd_add(PQsocket(store->conn), cond, on_connect_io, store);
}

static void
connected(FocusStore *store)
{
    remove_watches(store);
    PQsetnonblocking(store->conn, 1);
    store->state = FOCUS_STORE_CHECKING;
    store->read_watch = g_unix_fd_add(PQsocket(store->conn), G_IO_IN, on_readable, store);
    StoreQuery *q = g_new0(StoreQuery, 1);
    q->sql = g_strdup("SELECT max(version) FROM conclave_migrations");
    q->done = on_schema_checked;
    q->store = store;
    g_queue_push_head(&store->queries, q);
    kick(store);
}

static gboolean
on_connect_io(gint fd, GIOCondition condition, gpointer data)
{
    FocusStore *store = data;
    store->read_watch = 0;
    PostgresPollingStatusType status = PQconnectPoll(store->conn);
    if (status == PGRES_POLLING_FAILED)
        set_down_conn_error(store, "connection failed");
    else if (status == PGRES_POLLING_OK)
        connected(store);
    else
        watch_connect(store, status);
    return G_SOURCE_REMOVE;
}

static gboolean
on_connect_timeout(gpointer data)
{
    FocusStore *store = data;
    store->connect_timer = 0;
    set_down(store, "connection timed out");
    return G_SOURCE_REMOVE;
}

static void
start_connect(FocusStore *store)
{
    store->conn = PQconnectStart(store->conninfo);
    if (store->conn == NULL || PQstatus(store->conn) == CONNECTION_BAD) {
        set_down_conn_error(store, "connection failed");
        return;
    }
    store->state = FOCUS_STORE_CONNECTING;
    store->connect_timer =
        g_timeout_add(MAX(store->s.lookup_timeout_ms, 1000), on_connect_timeout, store);
    watch_connect(store, PGRES_POLLING_WRITING);
}

/* --- the interface -------------------------------------------------------------------------- */

static gboolean
on_query_timeout(gpointer data)
{
    StoreQuery *q = data;
    FocusStore *store = q->store;
    q->timer = 0;
    cc_metric_inc(store->m_timeout);
    if (store->in_flight && g_queue_peek_head(&store->queries) == q) {
        /* The database is stuck on it: drop the link (and with it the query). */
        set_down(store, "query timed out");
        return G_SOURCE_REMOVE;
    }
    g_queue_remove(&store->queries, q);
    q->done(store, NULL, q->data);
    query_free(q);
    return G_SOURCE_REMOVE;
}

void
focus_store_query(FocusStore *store, const char *sql, int n_params, const char *const *values,
                  const int *lengths, const int *formats, FocusStoreDone done, gpointer data)
{
    if (store->state == FOCUS_STORE_DOWN) {
        cc_metric_inc(store->m_unavailable);
        done(store, NULL, data);
        return;
    }
    StoreQuery *q = g_new0(StoreQuery, 1);
    q->sql = g_strdup(sql);
    q->n = n_params;
    q->values = g_new0(char *, MAX(n_params, 1));
    q->lengths = g_new0(int, MAX(n_params, 1));
    q->formats = g_new0(int, MAX(n_params, 1));
    for (int i = 0; i < n_params; i++) {
        q->formats[i] = formats ? formats[i] : 0;
        if (values[i] == NULL)
            continue;
        q->lengths[i] = q->formats[i] ? lengths[i] : (int)strlen(values[i]);
        q->values[i] =
            q->formats[i] ? g_memdup2(values[i], (gsize)lengths[i]) : g_strdup(values[i]);
    }
    q->done = done;
    q->data = data;
    q->store = store;
    q->timer = g_timeout_add(store->s.lookup_timeout_ms, on_query_timeout, q);
    g_queue_push_tail(&store->queries, q);
    kick(store);
}

static void
register_metrics(FocusStore *store, CcMetrics *metrics)
{
    const char *name = "conclave_focus_store_queries_total", *help = "Database queries, by result";
    store->m_up = cc_metrics_gauge(metrics, "conclave_focus_store_up",
                                   "1 when the policy database is connected and usable", NULL);
    store->m_ok = cc_metrics_counter(metrics, name, help, "result", "ok", NULL);
    store->m_failed = cc_metrics_counter(metrics, name, help, "result", "error", NULL);
    store->m_unavailable = cc_metrics_counter(metrics, name, help, "result", "unavailable", NULL);
    store->m_timeout = cc_metrics_counter(metrics, name, help, "result", "timeout", NULL);
    store->m_reconnects = cc_metrics_counter(metrics, "conclave_focus_store_reconnects_total",
                                             "Attempts to connect to the database again", NULL);
}

FocusStore *
focus_store_conn_new(const char *conninfo, GBytes *room_key, const FocusStoreSettings *settings,
                     CcMetrics *metrics)
{
    FocusStore *store = g_new0(FocusStore, 1);
    store->conninfo = g_strdup(conninfo);
    store->room_key = g_bytes_ref(room_key);
    store->s = *settings;
    store->backoff_ms = BACKOFF_MIN_MS;
    store->reason = g_string_new("connecting");
    g_queue_init(&store->queries);
    register_metrics(store, metrics);
    return store;
}

void
focus_store_conn_start(FocusStore *store)
{
    start_connect(store);
}

void
focus_store_conn_stop(FocusStore *store)
{
    g_clear_pointer(&store->conninfo, g_free); /* no retry from set_down */
    store->on_up = NULL;
    set_down(store, "shutting down");
    g_clear_handle_id(&store->retry_source, g_source_remove);
}

void
focus_store_conn_free(FocusStore *store)
{
    g_string_free(store->reason, TRUE);
    g_bytes_unref(store->room_key);
    g_free(store);
}

gboolean
focus_store_is_up(const FocusStore *store)
{
    return store->state == FOCUS_STORE_UP;
}

gboolean
focus_store_is_down(const FocusStore *store)
{
    return store->state == FOCUS_STORE_DOWN;
}

const char *
focus_store_down_reason(const FocusStore *store)
{
    return store->state == FOCUS_STORE_UP ? "" : store->reason->str;
}

GBytes *
focus_store_room_key(FocusStore *store)
{
    return store->room_key;
}
