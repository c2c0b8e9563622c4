/* Unit tests of bridge/worker.c: a call runs on the worker's own thread and the caller sees
 * everything it wrote; calls from the control thread interleave with work the workers start
 * themselves (metrics, timers) without a data race; pick() follows the endpoint counts; the
 * pool stops and joins cleanly. Media read in batches on a worker, one wake-up per datagram,
 * is read in the loop's own passes, in order, while its timers, calls and libnice's
 * datagrams still get GLib's pass. In the ThreadSanitizer build (tests/run.sh) these are the
 * races it looks for. */
#include "../check-main.h"
#include "udp-socket.h"
#include "worker.h"

#include <glib-unix.h>
#include <string.h>
#include <unistd.h>

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

/* A selected pair's socket on a worker, as an endpoint sets it up: media read in batches,
 * a reader at libnice's priority standing for libnice's source, and a timer. */
typedef struct {
    BridgeWorker *worker;
    int rx, tx;
    struct sockaddr_in rx_addr, tx_addr;
    GSource *recv, *libnice, *timer;
    gint media;          /* atomic: datagrams the recv source read */
    gint out_of_order;   /* atomic */
    gint libnice_got;    /* atomic: datagrams libnice's reader took */
    gint timer_runs;     /* atomic */
    guint64 direct_seen; /* the loop's own passes, read on the worker at the end */
} Pair;

static gboolean
pair_media(guint8 *buf, gsize len, gpointer data)
{
    Pair *p = data;
    guint16 number = (guint16)((buf[2] << 8) | buf[3]);
    if (number != (guint16)g_atomic_int_get(&p->media))
        g_atomic_int_inc(&p->out_of_order);
    g_atomic_int_inc(&p->media);
    return TRUE;
}

static gboolean
pair_libnice(gint fd, GIOCondition condition, gpointer data)
{
    Pair *p = data;
    guint8 buf[2048];
    gssize n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    /* Media too when the recv source stands aside after a stall of the worker (1 ms busy) */
    if (n >= 4 && buf[0] >= 128)
        pair_media(buf, (gsize)n, p);
    else if (n > 0)
        g_atomic_int_inc(&p->libnice_got);
    return G_SOURCE_CONTINUE;
}

static gboolean
pair_tick(gpointer data)
{
    g_atomic_int_inc(&((Pair *)data)->timer_runs);
    return G_SOURCE_CONTINUE;
}

static void
pair_start(gpointer data)
{
    Pair *p = data;
    GMainContext *context = p->worker->context;
    ck_assert(bridge_recv_batch_prepare_socket(p->rx));
    p->libnice = g_unix_fd_source_new(p->rx, G_IO_IN);
    g_source_set_callback(p->libnice, G_SOURCE_FUNC(pair_libnice), p, NULL);
    g_source_attach(p->libnice, context);
    p->recv =
        bridge_recv_source_new(p->worker->recv_batch, p->rx, (const struct sockaddr *)&p->tx_addr,
                               sizeof p->tx_addr, pair_media, p);
    g_source_attach(p->recv, context);
    p->timer = g_timeout_source_new(2);
    g_source_set_callback(p->timer, pair_tick, p, NULL);
    g_source_attach(p->timer, context);
}

static void
pair_stop(gpointer data)
{
    Pair *p = data;
    p->direct_seen = p->worker->counts.direct_passes; /* not published without stats */
    GSource *sources[] = {p->recv, p->libnice, p->timer};
    for (guint i = 0; i < G_N_ELEMENTS(sources); i++) {
        g_source_destroy(sources[i]);
        g_source_unref(sources[i]);
    }
}

static void
nothing(gpointer data)
{
}

static void
pair_send(const Pair *p, guint8 first, guint16 number)
{
    guint8 buf[200];
    memset(buf, 0x5a, sizeof buf);
    buf[0] = first;
    buf[1] = 96;
    buf[2] = (guint8)(number >> 8);
    buf[3] = (guint8)number;
    ck_assert_int_eq(
        sendto(p->tx, buf, sizeof buf, 0, (const struct sockaddr *)&p->rx_addr, sizeof p->rx_addr),
        (gssize)sizeof buf);
}

static void
wait_until(gint *counter, gint n)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (g_atomic_int_get(counter) < n && g_get_monotonic_time() < deadline)
        g_usleep(20);
    ck_assert_int_eq(g_atomic_int_get(counter), n);
}

/* One datagram at a time, each read before the next is sent: a wake-up per datagram, which
 * the loop reads in its own passes (worker.c); meanwhile GLib still gets its turn for the
 * timer, for a call from this thread and for libnice's datagram. */
START_TEST(test_loop_reads_media_in_its_own_passes_and_glib_keeps_its_turn)
{
    g_autoptr(CcMetrics) metrics = cc_metrics_new();
    BridgeWorkerPool *pool = bridge_worker_pool_new(1, metrics, NULL);
    Pair p = {.worker = bridge_worker_pool_get(pool, 0)};
    p.rx = udp_bound_ipv4(&p.rx_addr, INADDR_LOOPBACK);
    p.tx = udp_bound_ipv4(&p.tx_addr, INADDR_LOOPBACK);
    bridge_worker_call(p.worker, pair_start, &p);
    gint64 start = g_get_monotonic_time();
    guint16 sent = 0;
    while (sent < 200 || (g_get_monotonic_time() - start < 100 * 1000 && sent < 5000)) {
        if (sent == 50) {
            pair_send(&p, 0x00, 0xffff); /* STUN: libnice's */
            wait_until(&p.libnice_got, 1);
        }
        if (sent == 60)
            bridge_worker_call(p.worker, nothing, NULL);
        pair_send(&p, 0x80, sent++);
        wait_until(&p.media, sent);
    }
    gint runs_while_flowing = g_atomic_int_get(&p.timer_runs);
    bridge_worker_call(p.worker, pair_stop, &p);
    ck_assert_int_eq(g_atomic_int_get(&p.media), sent);
    ck_assert_int_eq(g_atomic_int_get(&p.out_of_order), 0);
    ck_assert_int_eq(g_atomic_int_get(&p.libnice_got), 1);
    ck_assert_uint_ge(p.direct_seen, sent / 2);
    ck_assert_int_ge(runs_while_flowing, 5); /* at 2 ms, over 100 ms or more */
    close(p.rx);
    close(p.tx);
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
    tcase_add_test(tc, test_loop_reads_media_in_its_own_passes_and_glib_keeps_its_turn);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(worker_suite)
