/* Worker threads and the synchronous hand-off from the control thread (see worker.h). Owns
 * the threads and their main contexts; knows nothing of what runs on them. */
#include "worker.h"

#include "tsan.h"

struct _BridgeWorkerPool {
    GPtrArray *workers; /* BridgeWorker* */
};

typedef struct {
    void (*fn)(gpointer data);
    gpointer data;
    GMutex lock;
    GCond cond;
    gboolean done;
} Call;

/* What every pass of the worker's loop begins with, before it polls: what the last pass
 * queued goes out now, its counts are published, and the receive sources learn whether they
 * stand aside in this one (recv-batch.h). */
static void
begin_pass(BridgeWorker *w)
{
    bridge_send_batch_flush(w->batch);
    if (w->stats != NULL)
        bridge_stats_publish(w->stats, &w->counts);
    bridge_recv_batch_iteration(w->recv_batch);
}

/* Runs first in every iteration of GLib's loop (begin_pass). It never dispatches. */
typedef struct {
    GSource source;
    BridgeWorker *worker;
} FlushSource;

static gboolean
flush_prepare(GSource *source, gint *timeout)
{
    begin_pass(((FlushSource *)source)->worker);
    *timeout = -1;
    return FALSE;
}

static gboolean
flush_dispatch(GSource *source, GSourceFunc callback, gpointer data)
{
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs flush_funcs = {.prepare = flush_prepare, .dispatch = flush_dispatch};

/* The worker whose loop runs on this thread (GLib's poll function has no user data). */
static _Thread_local BridgeWorker *this_worker;

/* GLib's poll, on the worker's poller. Whether it had to wait tells the receive sources
 * whether the pass found work waiting (recv-batch.h). When all it found is media for them,
 * they read it here and the loop goes round again without GLib's pass (its walk over every
 * source, twice, costs as much as reading a datagram when each wake-up brings one): until
 * the poll finds anything else, or they stand aside, or GLib's timeout is up, or
 * BRIDGE_WORKER_OWN_PASSES_MS have passed. */
static gint
worker_poll(GPollFD *fds, guint n, gint timeout)
{
    BridgeWorker *w = this_worker;
    if (w == NULL)
        return g_poll(fds, n, timeout);
    /* GLib's pass comes at least every BRIDGE_WORKER_OWN_PASSES_MS: a source attached
     * without a descriptor from a handler does not wake the loop. */
    gint limit = timeout < 0 || timeout > BRIDGE_WORKER_OWN_PASSES_MS ? BRIDGE_WORKER_OWN_PASSES_MS
                                                                      : timeout;
    gint64 deadline_us = g_get_monotonic_time() + (gint64)limit * 1000;
    gboolean last = timeout == 0; /* GLib has a source ready: its pass comes next */
    for (gint wait = timeout;;) {
        gboolean waited;
        gint ready = bridge_poller_poll(w->poller, fds, n, wait, &waited);
        if (waited)
            bridge_recv_batch_waited(w->recv_batch); /* a busy spell starts after it */
        if (ready <= 0 || last || !bridge_recv_batch_read_ready(w->recv_batch, fds, n))
            return ready;
        w->counts.direct_passes++;
        begin_pass(w);
        gint64 left_us = deadline_us - g_get_monotonic_time();
        wait = left_us > 0 ? (gint)((left_us + 999) / 1000) : 0;
        last = wait == 0; /* one more look, then GLib's pass */
    }
}

static gpointer
worker_main(gpointer data)
{
    BridgeWorker *w = data;
    this_worker = w;
    g_main_context_push_thread_default(w->context);
    g_main_loop_run(w->loop);
    g_main_context_pop_thread_default(w->context);
    return NULL;
}

BridgeWorkerPool *
bridge_worker_pool_new(guint n, CcMetrics *metrics, const BridgeStats *stats)
{
    BridgeWorkerPool *pool = g_new0(BridgeWorkerPool, 1);
    pool->workers = g_ptr_array_new();
    for (guint i = 0; i < n; i++) {
        BridgeWorker *w = g_new0(BridgeWorker, 1);
        w->index = i;
        w->context = g_main_context_new();
        w->loop = g_main_loop_new(w->context, FALSE);
        g_main_context_set_poll_func(w->context, worker_poll);
        w->poller = bridge_poller_new(); /* NULL: poll() */
        w->stats = stats;
        w->batch = bridge_send_batch_new(&w->counts);
        w->recv_batch = bridge_recv_batch_new(&w->counts);
        w->flush_source = g_source_new(&flush_funcs, sizeof(FlushSource));
        ((FlushSource *)w->flush_source)->worker = w;
        /* Above every other source, so that its prepare runs in every iteration. */
        g_source_set_priority(w->flush_source, G_PRIORITY_HIGH - 100);
        g_source_attach(w->flush_source, w->context);
        char label[16];
        g_snprintf(label, sizeof label, "%u", i);
        w->m_conferences =
            cc_metrics_gauge(metrics, "conclave_bridge_worker_conferences",
                             "Conferences living on each worker thread", "worker", label, NULL);
        w->m_endpoints =
            cc_metrics_gauge(metrics, "conclave_bridge_worker_endpoints",
                             "Endpoints living on each worker thread", "worker", label, NULL);
        char name[16];
        g_snprintf(name, sizeof name, "media-%u", i);
        w->thread = g_thread_new(name, worker_main, w);
        g_ptr_array_add(pool->workers, w);
    }
    return pool;
}

static gboolean
quit_loop(gpointer data)
{
    g_main_loop_quit(data);
    return G_SOURCE_REMOVE;
}

void
bridge_worker_pool_free(BridgeWorkerPool *pool)
{
    if (pool == NULL)
        return;
    for (guint i = 0; i < pool->workers->len; i++) {
        BridgeWorker *w = g_ptr_array_index(pool->workers, i);
        g_main_context_invoke(w->context, quit_loop, w->loop);
        g_thread_join(w->thread);
        /* drain sources the last objects left behind (e.g. libnice closing sockets) */
        while (g_main_context_iteration(w->context, FALSE))
            ;
        bridge_send_batch_flush(w->batch);
        if (w->stats != NULL)
            bridge_stats_publish(w->stats, &w->counts);
        g_source_destroy(w->flush_source);
        g_source_unref(w->flush_source);
        bridge_send_batch_free(w->batch);
        g_main_loop_unref(w->loop);
        g_main_context_unref(w->context); /* finalizes what is left, recv sources too */
        bridge_recv_batch_free(w->recv_batch);
        bridge_poller_free(w->poller);
        g_free(w);
    }
    g_ptr_array_unref(pool->workers);
    g_free(pool);
}

guint
bridge_worker_pool_size(BridgeWorkerPool *pool)
{
    return pool->workers->len;
}

BridgeWorker *
bridge_worker_pool_get(BridgeWorkerPool *pool, guint index)
{
    return g_ptr_array_index(pool->workers, index);
}

BridgeWorker *
bridge_worker_pool_pick(BridgeWorkerPool *pool)
{
    BridgeWorker *best = NULL;
    for (guint i = 0; i < pool->workers->len; i++) {
        BridgeWorker *w = g_ptr_array_index(pool->workers, i);
        if (best == NULL || g_atomic_int_get(&w->endpoints) < g_atomic_int_get(&best->endpoints) ||
            (g_atomic_int_get(&w->endpoints) == g_atomic_int_get(&best->endpoints) &&
             g_atomic_int_get(&w->conferences) < g_atomic_int_get(&best->conferences)))
            best = w;
    }
    return best;
}

static gboolean
run_call(gpointer data)
{
    Call *call = data;
    cc_tsan_acquire(call); /* the caller's writes before the hand-off */
    call->fn(call->data);
    cc_mutex_lock(&call->lock);
    call->done = TRUE;
    g_cond_signal(&call->cond);
    cc_mutex_unlock(&call->lock);
    return G_SOURCE_REMOVE;
}

void
bridge_worker_call(BridgeWorker *worker, void (*fn)(gpointer data), gpointer data)
{
    Call call = {.fn = fn, .data = data};
    g_mutex_init(&call.lock);
    g_cond_init(&call.cond);
    GSource *source = g_idle_source_new();
    g_source_set_priority(source, G_PRIORITY_HIGH);
    g_source_set_callback(source, run_call, &call, NULL);
    cc_tsan_release(&call);
    g_source_attach(source, worker->context);
    g_source_unref(source);
    cc_mutex_lock(&call.lock);
    while (!call.done)
        cc_cond_wait(&call.cond, &call.lock);
    cc_mutex_unlock(&call.lock);
    g_mutex_clear(&call.lock);
    g_cond_clear(&call.cond);
}

void
bridge_worker_add_conferences(BridgeWorker *w, gint delta)
{
    cc_metric_set(w->m_conferences, g_atomic_int_add(&w->conferences, delta) + delta);
}

void
bridge_worker_add_endpoints(BridgeWorker *w, gint delta)
{
    cc_metric_set(w->m_endpoints, g_atomic_int_add(&w->endpoints, delta) + delta);
}

void
bridge_worker_sockets_changed(BridgeWorker *w)
{
    if (w->poller != NULL) {
        bridge_poller_resync(w->poller);
        g_main_context_wakeup(w->context); /* a poll waiting now must start over */
    }
}
