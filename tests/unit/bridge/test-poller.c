/* Unit tests of bridge/poller.c on real descriptors: it reports what g_poll() reports for
 * the same array (readable and idle sockets, a writable one, a pipe and one whose writer
 * closed, a socket with an error, the same descriptor twice, a negative one, one not
 * open), says whether it had to wait, waits for the timeout or until something is ready,
 * follows GLib's array as descriptors come and go (and keeps them when GLib lists fewer
 * and asks for no wait), and sees a socket that took a closed one's number once told to
 * resync, or within BRIDGE_POLLER_REBUILD_US without being told, even in a wait that asked
 * for longer (epoll silently forgets a closed descriptor). In a worker's loop, a socket
 * made on the worker in the place of a closed one is read. */
#include "../check-main.h"
#include "poller.h"
#include "udp-socket.h"
#include "worker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

static void
send_to(int from, const struct sockaddr_in *to)
{
    ck_assert_int_eq(sendto(from, "x", 1, 0, (const struct sockaddr *)to, sizeof *to), 1);
}

/* Both answers for the same array: the poller's (returned, in `fds`) and g_poll()'s. */
static void
assert_same_as_g_poll(BridgePoller *p, GPollFD *fds, guint n)
{
    GPollFD expected[16];
    ck_assert_uint_le(n, G_N_ELEMENTS(expected));
    memcpy(expected, fds, n * sizeof *fds);
    gint want = g_poll(expected, n, 0);
    gint got = bridge_poller_poll(p, fds, n, 0, NULL);
    ck_assert_int_eq(got, want);
    for (guint i = 0; i < n; i++)
        ck_assert_msg(fds[i].revents == expected[i].revents, "entry %u (fd %d): %#x, poll %#x", i,
                      fds[i].fd, fds[i].revents, expected[i].revents);
}

START_TEST(test_reports_what_poll_reports)
{
    BridgePoller *p = bridge_poller_new();
    ck_assert_ptr_nonnull(p);
    struct sockaddr_in a_addr, b_addr, c_addr;
    int a = udp_bound_ipv4(&a_addr, INADDR_LOOPBACK), b = udp_bound_ipv4(&b_addr, INADDR_LOOPBACK),
        c = udp_bound_ipv4(&c_addr, INADDR_LOOPBACK);
    int pipe_fds[2], hung_up[2];
    ck_assert_int_eq(pipe(pipe_fds), 0);
    ck_assert_int_eq(pipe(hung_up), 0);
    close(hung_up[1]); /* its reader sees G_IO_HUP */
    /* a socket connected to a port nobody listens on: the ICMP answer is its error */
    struct sockaddr_in gone_addr, err_addr;
    int gone = udp_bound_ipv4(&gone_addr, INADDR_LOOPBACK),
        err = udp_bound_ipv4(&err_addr, INADDR_LOOPBACK);
    close(gone);
    ck_assert_int_eq(connect(err, (struct sockaddr *)&gone_addr, sizeof gone_addr), 0);
    ck_assert_int_eq(send(err, "z", 1, 0), 1);
    g_usleep(20 * 1000);
    int closed = 4000; /* a number that is not open (a closed low one could be taken by the
                        * poller's own epoll instance when it builds the set again) */
    ck_assert_int_eq(fcntl(closed, F_GETFD), -1);
    send_to(c, &a_addr);
    GPollFD fds[] = {
        {.fd = a, .events = G_IO_IN},           /* readable */
        {.fd = b, .events = G_IO_IN},           /* idle */
        {.fd = c, .events = G_IO_OUT},          /* writable */
        {.fd = pipe_fds[0], .events = G_IO_IN}, /* idle, then readable */
        {.fd = a, .events = G_IO_OUT},          /* the same descriptor asking for another event */
        {.fd = -1, .events = G_IO_IN},          /* ignored, as poll() does */
        {.fd = hung_up[0], .events = G_IO_IN},  {.fd = err, .events = G_IO_IN},
    };
    for (int round = 0; round < 3; round++) {
        if (round == 1)
            ck_assert_int_eq(write(pipe_fds[1], "y", 1), 1);
        for (guint i = 0; i < G_N_ELEMENTS(fds); i++)
            fds[i].revents = 0;
        assert_same_as_g_poll(p, fds, G_N_ELEMENTS(fds));
    }
    ck_assert_uint_eq(fds[0].revents, G_IO_IN);
    ck_assert_uint_eq(fds[1].revents, 0);
    ck_assert_uint_eq(fds[3].revents, G_IO_IN);
    ck_assert_uint_eq(fds[4].revents, G_IO_OUT);
    ck_assert_uint_eq(fds[6].revents, G_IO_HUP);
    ck_assert_uint_eq(fds[7].revents & G_IO_ERR, G_IO_ERR);
    /* a descriptor that is not open: G_IO_NVAL, at once even with no timeout */
    GPollFD bad[] = {{.fd = b, .events = G_IO_IN}, {.fd = closed, .events = G_IO_IN}};
    ck_assert_int_eq(bridge_poller_poll(p, bad, 2, -1, NULL), 1);
    ck_assert_uint_eq(bad[0].revents, 0);
    ck_assert_uint_eq(bad[1].revents, G_IO_NVAL);
    close(a);
    close(b);
    close(c);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    close(hung_up[0]);
    close(err);
    bridge_poller_free(p);
}
END_TEST

static gpointer
send_later(gpointer data)
{
    int *fds = data; /* a sender and, as a port, where to send */
    g_usleep(50 * 1000);
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = (in_port_t)fds[1]};
    send_to(fds[0], &to);
    return NULL;
}

/* The same with epoll (_i = 0) and with g_poll() (a NULL poller, _i = 1). */
START_TEST(test_waits_for_the_timeout_or_until_ready)
{
    BridgePoller *p = bridge_poller_new();
    BridgePoller *poller = _i == 0 ? p : NULL;
    struct sockaddr_in a_addr, b_addr;
    int a = udp_bound_ipv4(&a_addr, INADDR_LOOPBACK), b = udp_bound_ipv4(&b_addr, INADDR_LOOPBACK);
    GPollFD fds[] = {{.fd = a, .events = G_IO_IN}};
    gboolean waited = TRUE;
    ck_assert_int_eq(bridge_poller_poll(poller, fds, 1, 0, &waited), 0);
    ck_assert(!waited); /* asked not to */
    gint64 start = g_get_monotonic_time();
    ck_assert_int_eq(bridge_poller_poll(poller, fds, 1, 60, &waited), 0);
    ck_assert_int_ge(g_get_monotonic_time() - start, 55 * 1000);
    ck_assert_uint_eq(fds[0].revents, 0);
    ck_assert(waited);
    int args[2] = {b, a_addr.sin_port};
    GThread *sender = g_thread_new("sender", send_later, args);
    start = g_get_monotonic_time();
    waited = FALSE;
    ck_assert_int_eq(bridge_poller_poll(poller, fds, 1, -1, &waited), 1); /* the datagram */
    ck_assert_int_ge(g_get_monotonic_time() - start, 40 * 1000);
    ck_assert_uint_eq(fds[0].revents, G_IO_IN);
    ck_assert(waited);
    g_thread_join(sender);
    /* ready as it begins: no wait */
    ck_assert_int_eq(bridge_poller_poll(poller, fds, 1, -1, &waited), 1);
    ck_assert(!waited);
    close(a);
    close(b);
    bridge_poller_free(p);
}
END_TEST

START_TEST(test_follows_descriptors_that_come_and_go)
{
    BridgePoller *p = bridge_poller_new();
    struct sockaddr_in addr[3];
    int s[3];
    for (int i = 0; i < 3; i++)
        s[i] = udp_bound_ipv4(&addr[i], INADDR_LOOPBACK);
    GPollFD two[] = {{.fd = s[0], .events = G_IO_IN}, {.fd = s[1], .events = G_IO_IN}};
    ck_assert_int_eq(bridge_poller_poll(p, two, 2, 0, NULL), 0);
    guint64 rebuilds = bridge_poller_rebuilds(p);
    /* one more: added to the set as it is */
    send_to(s[0], &addr[2]);
    GPollFD three[] = {{.fd = s[0], .events = G_IO_IN},
                       {.fd = s[1], .events = G_IO_IN},
                       {.fd = s[2], .events = G_IO_IN}};
    ck_assert_int_eq(bridge_poller_poll(p, three, 3, 0, NULL), 1);
    ck_assert_uint_eq(three[2].revents, G_IO_IN);
    ck_assert_uint_eq(bridge_poller_rebuilds(p), rebuilds);
    /* fewer listed with no wait (GLib with a source of a higher priority ready): kept */
    GPollFD first[] = {{.fd = s[0], .events = G_IO_IN}};
    ck_assert_int_eq(bridge_poller_poll(p, first, 1, 0, NULL), 0);
    ck_assert_uint_eq(bridge_poller_rebuilds(p), rebuilds);
    /* one gone: the set is built again, and still answers right */
    send_to(s[2], &addr[0]);
    GPollFD again[] = {{.fd = s[0], .events = G_IO_IN}, {.fd = s[2], .events = G_IO_IN}};
    ck_assert_int_eq(bridge_poller_poll(p, again, 2, 10, NULL), 2);
    ck_assert_uint_eq(bridge_poller_rebuilds(p), rebuilds + 1);
    /* s[1] is readable now but no longer asked for: nothing about it, and no wake-up */
    send_to(s[0], &addr[1]);
    char byte;
    ck_assert_int_eq(recv(s[0], &byte, 1, 0), 1);
    ck_assert_int_eq(recv(s[2], &byte, 1, 0), 1);
    gint64 start = g_get_monotonic_time();
    ck_assert_int_eq(bridge_poller_poll(p, again, 2, 30, NULL), 0);
    ck_assert_int_ge(g_get_monotonic_time() - start, 25 * 1000);
    /* the events asked for change: the registration follows */
    again[0].events = G_IO_OUT;
    ck_assert_int_eq(bridge_poller_poll(p, again, 2, 0, NULL), 1);
    ck_assert_uint_eq(again[0].revents, G_IO_OUT);
    for (int i = 0; i < 3; i++)
        close(s[i]);
    bridge_poller_free(p);
}
END_TEST

/* Closes `fd` and puts a new socket (readable) at its number. */
static int
reuse_number(int fd, struct sockaddr_in *addr, int sender)
{
    int fresh = udp_bound_ipv4(addr, INADDR_LOOPBACK);
    close(fd);
    ck_assert_int_eq(dup3(fresh, fd, O_CLOEXEC), fd);
    close(fresh);
    send_to(sender, addr);
    return fd;
}

START_TEST(test_a_reused_number_is_seen_after_a_resync)
{
    BridgePoller *p = bridge_poller_new();
    struct sockaddr_in a_addr, b_addr, sender_addr;
    int a = udp_bound_ipv4(&a_addr, INADDR_LOOPBACK), b = udp_bound_ipv4(&b_addr, INADDR_LOOPBACK),
        sender = udp_bound_ipv4(&sender_addr, INADDR_LOOPBACK);
    GPollFD fds[] = {{.fd = a, .events = G_IO_IN}, {.fd = b, .events = G_IO_IN}};
    ck_assert_int_eq(bridge_poller_poll(p, fds, 2, 0, NULL), 0);
    reuse_number(a, &a_addr, sender);
    /* the array is the same, and epoll forgot the number when it closed: unseen */
    ck_assert_int_eq(bridge_poller_poll(p, fds, 2, 0, NULL), 0);
    bridge_poller_resync(p);
    ck_assert_int_eq(bridge_poller_poll(p, fds, 2, 0, NULL), 1);
    ck_assert_uint_eq(fds[0].revents, G_IO_IN);
    close(a);
    close(b);
    close(sender);
    bridge_poller_free(p);
}
END_TEST

START_TEST(test_a_reused_number_is_seen_after_the_rebuild_interval)
{
    BridgePoller *p = bridge_poller_new();
    struct sockaddr_in a_addr, sender_addr;
    int a = udp_bound_ipv4(&a_addr, INADDR_LOOPBACK),
        sender = udp_bound_ipv4(&sender_addr, INADDR_LOOPBACK);
    GPollFD fds[] = {{.fd = a, .events = G_IO_IN}};
    ck_assert_int_eq(bridge_poller_poll(p, fds, 1, 0, NULL), 0);
    reuse_number(a, &a_addr, sender);
    /* one wait asking for three intervals, or for ever: either ends with the rebuild */
    for (int forever = 0; forever < 2; forever++) {
        gint64 start = g_get_monotonic_time();
        gint64 wait_ms = forever ? -1 : 3 * BRIDGE_POLLER_REBUILD_US / 1000;
        gint got = 0;
        while (got == 0 && g_get_monotonic_time() - start < 3 * BRIDGE_POLLER_REBUILD_US)
            got = bridge_poller_poll(p, fds, 1, (gint)wait_ms, NULL);
        ck_assert_int_eq(got, 1);
        gint64 took = g_get_monotonic_time() - start;
        ck_assert_int_le(took, BRIDGE_POLLER_REBUILD_US + 500 * 1000);
        if (!forever) { /* the same again, for the other kind of wait */
            char byte;
            ck_assert_int_eq(recv(a, &byte, 1, 0), 1);
            reuse_number(a, &a_addr, sender);
            ck_assert_int_eq(bridge_poller_poll(p, fds, 1, 0, NULL), 0); /* unseen */
        }
    }
    close(a);
    close(sender);
    bridge_poller_free(p);
}
END_TEST

/* A worker's loop watching sockets that endpoints would own, made and closed on it. */
typedef struct {
    BridgeWorker *worker;
    int fd;
    struct sockaddr_in addr;
    GSource *source;
    gint got; /* datagrams read on the worker (atomic) */
} Watched;

static gboolean
on_readable(gint fd, GIOCondition condition, gpointer data)
{
    Watched *w = data;
    char byte;
    if (recv(fd, &byte, 1, MSG_DONTWAIT) == 1)
        g_atomic_int_inc(&w->got);
    return G_SOURCE_CONTINUE;
}

static void
watch_on_worker(gpointer data)
{
    Watched *w = data;
    w->source = g_unix_fd_source_new(w->fd, G_IO_IN);
    g_source_set_callback(w->source, G_SOURCE_FUNC(on_readable), w, NULL);
    g_source_attach(w->source, w->worker->context);
}

/* As an endpoint's end and another's start in one call: the new socket takes the number. */
static void
replace_on_worker(gpointer data)
{
    Watched *w = data;
    g_source_destroy(w->source);
    g_source_unref(w->source);
    int fresh = udp_bound_ipv4(&w->addr, INADDR_LOOPBACK);
    close(w->fd);
    ck_assert_int_eq(dup3(fresh, w->fd, O_CLOEXEC), w->fd);
    close(fresh);
    bridge_worker_sockets_changed(w->worker); /* as a new endpoint says */
    watch_on_worker(w);
}

static void
unwatch_on_worker(gpointer data)
{
    Watched *w = data;
    g_source_destroy(w->source);
    g_source_unref(w->source);
    close(w->fd);
}

/* Waits well under BRIDGE_POLLER_REBUILD_US: what is seen must be seen without it. */
static void
wait_for(Watched *w, gint n)
{
    gint64 deadline = g_get_monotonic_time() + BRIDGE_POLLER_REBUILD_US / 2;
    while (g_atomic_int_get(&w->got) < n && g_get_monotonic_time() < deadline)
        g_usleep(1000);
    ck_assert_int_eq(g_atomic_int_get(&w->got), n);
}

START_TEST(test_worker_reads_a_socket_that_took_a_closed_ones_number)
{
    g_autoptr(CcMetrics) metrics = cc_metrics_new();
    BridgeWorkerPool *pool = bridge_worker_pool_new(1, metrics, NULL);
    BridgeWorker *worker = bridge_worker_pool_get(pool, 0);
    ck_assert_ptr_nonnull(worker->poller);
    struct sockaddr_in sender_addr;
    int sender = udp_bound_ipv4(&sender_addr, INADDR_LOOPBACK);
    Watched w = {.worker = worker};
    w.fd = udp_bound_ipv4(&w.addr, INADDR_LOOPBACK);
    bridge_worker_call(worker, watch_on_worker, &w);
    send_to(sender, &w.addr);
    wait_for(&w, 1);
    bridge_worker_call(worker, replace_on_worker, &w);
    send_to(sender, &w.addr);
    wait_for(&w, 2);
    bridge_worker_call(worker, unwatch_on_worker, &w);
    close(sender);
    bridge_worker_pool_free(pool);
}
END_TEST

static Suite *
poller_suite(void)
{
    Suite *s = suite_create("poller");
    TCase *tc = tcase_create("poller");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_reports_what_poll_reports);
    tcase_add_loop_test(tc, test_waits_for_the_timeout_or_until_ready, 0, 2);
    tcase_add_test(tc, test_follows_descriptors_that_come_and_go);
    tcase_add_test(tc, test_a_reused_number_is_seen_after_a_resync);
    tcase_add_test(tc, test_a_reused_number_is_seen_after_the_rebuild_interval);
    tcase_add_test(tc, test_worker_reads_a_socket_that_took_a_closed_ones_number);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(poller_suite)
