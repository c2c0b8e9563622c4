/* Unit tests of bridge/worker.c: a call runs on the worker's own thread and the caller sees
 * everything it wrote; calls from the control thread interleave with work the workers start
 * themselves (metrics, timers) without a data race; pick() follows the endpoint counts; the
 * pool stops and joins cleanly. In the ThreadSanitizer build (tests/run.sh) these are the
 * races it looks for. */
#include "../check-main.h"
#include "worker.h"

#include <string.h>

typedef struct {
    BridgeWorker *worker;
    GThread *ran_on;
    guint64 sum;   /* written on the worker, read by the caller after the call */
    guint8 *block; /* allocated by the caller, filled on the worker */
    gsize len;
} Job;

static void
fill_on_worker(gpointer data)
{
    Job *job = data;
    job->ran_on = g_thread_self();
    for (gsize i = 0; i < job->len; i++) {
        job->sum += job->block[i];
        job->block[i] = (guint8)(job->block[i] + 1);
    }
    bridge_worker_add_endpoints(job->worker, 1);
}

START_TEST(test_call_runs_on_the_worker_and_hands_back)
{
    g_autoptr(CcMetrics) metrics = cc_metrics_new();
    BridgeWorkerPool *pool = bridge_worker_pool_new(2, metrics, NULL);
    ck_assert_uint_eq(bridge_worker_pool_size(pool), 2);
    for (guint round = 0; round < 200; round++) {
        Job job = {.worker = bridge_worker_pool_get(pool, round % 2), .len = 256};
        job.block = g_malloc(job.len);
        for (gsize i = 0; i < job.len; i++)
            job.block[i] = (guint8)(i + round);
        bridge_worker_call(job.worker, fill_on_worker, &job);
        ck_assert_ptr_nonnull(job.ran_on);
        ck_assert_ptr_ne(job.ran_on, g_thread_self());
        guint64 expect = 0;
        for (gsize i = 0; i < job.len; i++) {
            expect += (guint8)(i + round);
            ck_assert_uint_eq(job.block[i], (guint8)(i + round + 1));
        }
        ck_assert_uint_eq(job.sum, expect);
        g_free(job.block);
    }
    /* 100 endpoints on each: the counts were kept on the workers, read here. */
    ck_assert_int_eq(g_atomic_int_get(&bridge_worker_pool_get(pool, 0)->endpoints), 100);
    ck_assert_int_eq(g_atomic_int_get(&bridge_worker_pool_get(pool, 1)->endpoints), 100);
    bridge_worker_pool_free(pool);
}
END_TEST

/* Each worker ticks a timer of its own that counts into a shared metric, while the control
 * thread renders the metrics and makes calls: the pattern of the bridge under load. */
typedef struct {
    CcMetric *packets;
    guint ticks; /* the worker's own */
    GSource *timer;
} Ticker;

static gboolean
tick(gpointer data)
{
    Ticker *t = data;
    t->ticks++;
    cc_metric_add(t->packets, 3);
    return G_SOURCE_CONTINUE;
}

static void
start_ticker(gpointer data)
{
    Ticker *t = data;
    t->timer = g_timeout_source_new(1);
    g_source_set_callback(t->timer, tick, t, NULL);
    g_source_attach(t->timer, g_main_context_get_thread_default());
}

static void
stop_ticker(gpointer data)
{
    Ticker *t = data;
    g_source_destroy(t->timer);
    g_clear_pointer(&t->timer, g_source_unref);
}

START_TEST(test_workers_count_while_the_control_thread_reads)
{
    g_autoptr(CcMetrics) metrics = cc_metrics_new();
    CcMetric *packets = cc_metrics_counter(metrics, "conclave_test_packets_total", "Packets", NULL);
    BridgeWorkerPool *pool = bridge_worker_pool_new(2, metrics, NULL);
    Ticker tickers[2] = {{.packets = packets}, {.packets = packets}};
    for (guint i = 0; i < 2; i++)
        bridge_worker_call(bridge_worker_pool_get(pool, i), start_ticker, &tickers[i]);
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (cc_metric_get(packets) < 3 * 40 && g_get_monotonic_time() < deadline) {
        g_autofree char *text = cc_metrics_render(metrics);
        ck_assert_ptr_nonnull(strstr(text, "conclave_test_packets_total"));
        BridgeWorker *w = bridge_worker_pool_pick(pool);
        bridge_worker_add_conferences(w, 1);
        g_usleep(1000);
    }
    for (guint i = 0; i < 2; i++)
        bridge_worker_call(bridge_worker_pool_get(pool, i), stop_ticker, &tickers[i]);
    /* The timers are gone: what the workers counted is final and seen here. */
    ck_assert_int_eq(cc_metric_get(packets), 3 * (gint64)(tickers[0].ticks + tickers[1].ticks));
    ck_assert_int_ge(cc_metric_get(packets), 3 * 40);
    bridge_worker_pool_free(pool);
}
END_TEST

START_TEST(test_pick_follows_the_endpoint_counts)
{
    g_autoptr(CcMetrics) metrics = cc_metrics_new();
    BridgeWorkerPool *pool = bridge_worker_pool_new(3, metrics, NULL);
    BridgeWorker *w0 = bridge_worker_pool_get(pool, 0), *w1 = bridge_worker_pool_get(pool, 1),
                 *w2 = bridge_worker_pool_get(pool, 2);
    ck_assert_ptr_eq(bridge_worker_pool_pick(pool), w0); /* all empty: the first */
    bridge_worker_add_endpoints(w0, 2);
    bridge_worker_add_endpoints(w1, 1);
    ck_assert_ptr_eq(bridge_worker_pool_pick(pool), w2);
    bridge_worker_add_endpoints(w2, 1);
    bridge_worker_add_conferences(w1, 1);
    ck_assert_ptr_eq(bridge_worker_pool_pick(pool), w2); /* tie on endpoints: fewer conferences */
    bridge_worker_add_endpoints(w0, -2);
    ck_assert_ptr_eq(bridge_worker_pool_pick(pool), w0);
    g_autofree char *text = cc_metrics_render(metrics);
    ck_assert_ptr_nonnull(strstr(text, "conclave_bridge_worker_endpoints{worker=\"1\"} 1"));
    bridge_worker_pool_free(pool);
}
END_TEST

static Suite *
worker_suite(void)
{
    Suite *s = suite_create("worker");
    TCase *tc = tcase_create("worker");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_call_runs_on_the_worker_and_hands_back);
    tcase_add_test(tc, test_workers_count_while_the_control_thread_reads);
    tcase_add_test(tc, test_pick_follows_the_endpoint_counts);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(worker_suite)
