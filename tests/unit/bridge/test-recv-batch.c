/* Unit tests of bridge/recv-batch.c on real UDP sockets on 127.0.0.1. The reader takes RTP,
 * RTCP and DTLS from the selected remote, in order, in partial and full batches and over
 * several rounds; it stops before the first datagram that is libnice's (STUN, another
 * source, an unknown kind, one too big for its buffers), which a plain read (as libnice's)
 * then gets first, whole, with nothing lost or taken twice after it; a callback that stops
 * it drops only what it had taken. In a loop, the source stands aside for one iteration
 * after such a stop and after BRIDGE_RECV_HOLD_AFTER busy ones, so that a reader at
 * libnice's priority gets its datagram and a timer at that priority runs while media keeps
 * the source busy. The loop's own passes read only when all a poll found is their media,
 * stand aside after libnice's datagram, and follow sources that go or replace others. */
#include "../check-main.h"
#include "recv-batch.h"
#include "udp-socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int rx;                     /* the bridge's socket */
    int tx;                     /* the selected remote */
    int other;                  /* a second sender, on another address */
    struct sockaddr_in rx_addr; /* where both send */
    struct sockaddr_in tx_addr; /* the remote as the reader must see it */
} Sockets;

static Sockets
sockets_new(void)
{
    Sockets s;
    struct sockaddr_in other_addr;
    s.rx = udp_bound_ipv4(&s.rx_addr, INADDR_LOOPBACK);
    s.tx = udp_bound_ipv4(&s.tx_addr, INADDR_LOOPBACK);
    s.other = udp_bound_ipv4(&other_addr, INADDR_LOOPBACK + 1); /* 127.0.0.2 */
    int size = 8 << 20; /* room for every test's datagrams at once; root is not capped */
    if (setsockopt(s.rx, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
        ck_assert_int_eq(setsockopt(s.rx, SOL_SOCKET, SO_RCVBUF, &size, sizeof size), 0);
    ck_assert(bridge_recv_batch_prepare_socket(s.rx));
    return s;
}

static void
sockets_close(Sockets *s)
{
    close(s->rx);
    close(s->tx);
    close(s->other);
}

/* A datagram of `len` bytes starting with `first` (which says its kind, RFC 7983) and
 * carrying `number` in bytes 2-3. */
static void
send_from(int fd, const Sockets *s, guint8 first, guint16 number, gsize len)
{
    guint8 buf[4096];
    ck_assert_uint_le(len, sizeof buf);
    ck_assert_uint_ge(len, 12);
    memset(buf, 0x5a, len);
    buf[0] = first;
    buf[1] = 96;
    buf[2] = (guint8)(number >> 8);
    buf[3] = (guint8)number;
    ck_assert_int_eq(
        sendto(fd, buf, len, 0, (const struct sockaddr *)&s->rx_addr, sizeof s->rx_addr),
        (gssize)len);
}

#define RTP  0x80
#define DTLS 23
#define STUN 0x00

static void
send_rtcp(const Sockets *s, guint16 number)
{
    guint8 buf[32] = {0x81, 201, 0, 7};
    buf[8] = (guint8)(number >> 8);
    buf[9] = (guint8)number;
    ck_assert_int_eq(
        sendto(s->tx, buf, sizeof buf, 0, (const struct sockaddr *)&s->rx_addr, sizeof s->rx_addr),
        (gssize)sizeof buf);
}

typedef struct {
    guint n;
    guint16 numbers[4096];
    guint8 first[4096];
    gsize lengths[4096];
    guint stop_after; /* 0: never */
    gulong sleep_us;  /* per datagram: a slow receiver */
} Seen;

static gboolean
record(guint8 *buf, gsize len, gpointer data)
{
    Seen *seen = data;
    ck_assert_uint_lt(seen->n, G_N_ELEMENTS(seen->numbers));
    seen->first[seen->n] = buf[0];
    seen->numbers[seen->n] =
        (guint16)(buf[1] >= 200 ? (buf[8] << 8) | buf[9] : (buf[2] << 8) | buf[3]);
    seen->lengths[seen->n] = len;
    seen->n++;
    if (seen->sleep_us != 0)
        g_usleep(seen->sleep_us);
    return seen->stop_after == 0 || seen->n < seen->stop_after;
}

static BridgeRecvResult
read_all(BridgeRecvBatch *b, const Sockets *s, Seen *seen, guint *handled)
{
    return bridge_recv_batch_read(b, s->rx, (const struct sockaddr *)&s->tx_addr, record, seen,
                                  handled);
}

/* A plain read of the next datagram, as libnice's: its first byte and number. */
static gssize
plain_read(const Sockets *s, guint8 *first, guint16 *number, struct sockaddr_in *from)
{
    guint8 buf[4096];
    socklen_t len = sizeof *from;
    gssize n = recvfrom(s->rx, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)from, &len);
    if (n >= 4) {
        *first = buf[0];
        *number = (guint16)((buf[2] << 8) | buf[3]);
    }
    return n;
}

/* After every read the next peek must start at the head. */
static void
assert_peek_at_head(const Sockets *s)
{
    int offset = -1;
    socklen_t len = sizeof offset;
    ck_assert_int_eq(getsockopt(s->rx, SOL_SOCKET, SO_PEEK_OFF, &offset, &len), 0);
    ck_assert_int_eq(offset, 0);
}

static void
assert_queue_empty(const Sockets *s)
{
    guint8 first;
    guint16 number;
    struct sockaddr_in from;
    ck_assert_int_lt(plain_read(s, &first, &number, &from), 0);
    ck_assert_int_eq(errno, EAGAIN);
}

START_TEST(test_partial_batch_is_read_whole_and_in_order)
{
    Sockets s = sockets_new();
    BridgeWorkerCounts counts = {0};
    BridgeRecvBatch *b = bridge_recv_batch_new(&counts);
    for (guint16 i = 0; i < 5; i++)
        send_from(s.tx, &s, RTP, i, 100 + i * 200);
    send_rtcp(&s, 5);
    send_from(s.tx, &s, DTLS, 6, 80);
    Seen seen = {0};
    guint handled = 0;
    ck_assert_int_eq(read_all(b, &s, &seen, &handled), BRIDGE_RECV_EMPTY);
    ck_assert_uint_eq(handled, 7);
    ck_assert_uint_eq(seen.n, 7);
    for (guint i = 0; i < 7; i++)
        ck_assert_uint_eq(seen.numbers[i], i);
    for (guint i = 0; i < 5; i++)
        ck_assert_uint_eq(seen.lengths[i], 100 + i * 200);
    ck_assert_uint_eq(seen.first[6], DTLS);
    /* One peek, one take. */
    ck_assert_uint_eq(counts.recv_calls, 2);
    ck_assert_uint_eq(counts.recv_batched, 7);
    ck_assert_uint_eq(counts.recv_yields, 0);
    assert_queue_empty(&s);
    bridge_recv_batch_free(b);
    sockets_close(&s);
}
END_TEST

START_TEST(test_full_batches_over_several_rounds)
{
    Sockets s = sockets_new();
    BridgeWorkerCounts counts = {0};
    BridgeRecvBatch *b = bridge_recv_batch_new(&counts);
    const guint per_read = BRIDGE_RECV_BATCH_SIZE * BRIDGE_RECV_BATCH_ROUNDS;
    const guint total = per_read + BRIDGE_RECV_BATCH_SIZE; /* then exactly one full batch */
    for (guint i = 0; i < total; i++)
        send_from(s.tx, &s, RTP, (guint16)i, 1100);
    Seen seen = {0};
    guint handled = 0;
    ck_assert_int_eq(read_all(b, &s, &seen, &handled), BRIDGE_RECV_MORE);
    ck_assert_uint_eq(handled, per_read);
    /* A full batch, then a peek that finds nothing. */
    ck_assert_int_eq(read_all(b, &s, &seen, &handled), BRIDGE_RECV_EMPTY);
    ck_assert_uint_eq(handled, BRIDGE_RECV_BATCH_SIZE);
    ck_assert_uint_eq(seen.n, total);
    for (guint i = 0; i < total; i++)
        ck_assert_uint_eq(seen.numbers[i], i);
    ck_assert_int_eq(read_all(b, &s, &seen, &handled), BRIDGE_RECV_EMPTY);
    ck_assert_uint_eq(handled, 0);
    bridge_recv_batch_free(b);
    sockets_close(&s);
}
END_TEST

/* RTP 0-2, then what is libnice's, then RTP 4-5: the reader stops before it, a plain read
 * gets it next, and the reader then gets 4-5 (its peek starts at the head again). */
static void
stops_before(void (*send_odd)(const Sockets *s), guint8 odd_first, gssize odd_len,
             gboolean odd_from_remote)
{
    Sockets s = sockets_new();
    BridgeWorkerCounts counts = {0};
    BridgeRecvBatch *b = bridge_recv_batch_new(&counts);
    for (guint16 i = 0; i < 3; i++)
        send_from(s.tx, &s, RTP, i, 200);
    send_odd(&s);
    for (guint16 i = 4; i < 6; i++)
        send_from(s.tx, &s, RTP, i, 200);
    Seen seen = {0};
    guint handled = 0;
    ck_assert_int_eq(read_all(b, &s, &seen, &handled), BRIDGE_RECV_YIELD);
    ck_assert_uint_eq(handled, 3);
    ck_assert_uint_eq(counts.recv_yields, 1);
    ck_assert_uint_eq(counts.recv_batched, 3);
    guint8 first = 0;
    guint16 number = 0;
    struct sockaddr_in from;
    ck_assert_int_eq(plain_read(&s, &first, &number, &from), odd_len);
    ck_assert_uint_eq(first, odd_first);
    ck_assert_uint_eq(number, 3);
    ck_assert(odd_from_remote == (from.sin_port == s.tx_addr.sin_port));
    ck_assert_int_eq(read_all(b, &s, &seen, &handled), BRIDGE_RECV_EMPTY);
    ck_assert_uint_eq(handled, 2);
    ck_assert_uint_eq(seen.n, 5);
    const guint16 expected[] = {0, 1, 2, 4, 5};
    for (guint i = 0; i < 5; i++)
        ck_assert_uint_eq(seen.numbers[i], expected[i]);
    assert_queue_empty(&s);
    bridge_recv_batch_free(b);
    sockets_close(&s);
}

static void
send_stun(const Sockets *s)
{
    send_from(s->tx, s, STUN, 3, 64);
}

static void
send_from_other(const Sockets *s)
{
    send_from(s->other, s, RTP, 3, 200);
}

static void
send_unknown(const Sockets *s)
{
    send_from(s->tx, s, 100, 3, 50); /* 64..127: TURN channels, not ours */
}

static void
send_too_big(const Sockets *s)
{
    send_from(s->tx, s, RTP, 3, BRIDGE_BUFFER_SIZE + 1);
}

START_TEST(test_stops_before_stun)
{
    stops_before(send_stun, STUN, 64, TRUE);
}
END_TEST

START_TEST(test_stops_before_another_source)
{
    stops_before(send_from_other, RTP, 200, FALSE);
}
END_TEST

START_TEST(test_stops_before_an_unknown_kind)
{
    stops_before(send_unknown, 100, 50, TRUE);
}
END_TEST

START_TEST(test_stops_before_a_datagram_too_big_and_libnice_gets_it_whole)
{
    stops_before(send_too_big, RTP, BRIDGE_BUFFER_SIZE + 1, TRUE);
}
END_TEST

START_TEST(test_libnice_datagram_first_in_the_queue)
{
    Sockets s = sockets_new();
    BridgeWorkerCounts counts = {0};
    BridgeRecvBatch *b = bridge_recv_batch_new(&counts);
    send_stun(&s);
    send_from(s.tx, &s, RTP, 9, 200);
    Seen seen = {0};
    guint handled = 7;
    ck_assert_int_eq(read_all(b, &s, &seen, &handled), BRIDGE_RECV_YIELD);
    ck_assert_uint_eq(handled, 0);
    guint8 first;
    guint16 number;
    struct sockaddr_in from;
    ck_assert_int_eq(plain_read(&s, &first, &number, &from), 64);
    ck_assert_int_eq(read_all(b, &s, &seen, &handled), BRIDGE_RECV_EMPTY);
    ck_assert_uint_eq(handled, 1);
    ck_assert_uint_eq(seen.numbers[0], 9);
    bridge_recv_batch_free(b);
    sockets_close(&s);
}
END_TEST

START_TEST(test_callback_that_stops_drops_only_what_was_taken)
{
    Sockets s = sockets_new();
    BridgeWorkerCounts counts = {0};
    BridgeRecvBatch *b = bridge_recv_batch_new(&counts);
    const guint total = BRIDGE_RECV_BATCH_SIZE + 8;
    for (guint i = 0; i < total; i++)
        send_from(s.tx, &s, RTP, (guint16)i, 300);
    Seen seen = {.stop_after = 2};
    guint handled = 0;
    ck_assert_int_eq(read_all(b, &s, &seen, &handled), BRIDGE_RECV_STOPPED);
    ck_assert_uint_eq(handled, 2);
    /* The first batch was taken whole; the next starts after it, at the head. */
    seen.stop_after = 0;
    ck_assert_int_eq(read_all(b, &s, &seen, &handled), BRIDGE_RECV_EMPTY);
    ck_assert_uint_eq(handled, 8);
    ck_assert_uint_eq(seen.numbers[2], BRIDGE_RECV_BATCH_SIZE);
    ck_assert_uint_eq(seen.numbers[9], total - 1);
    bridge_recv_batch_free(b);
    sockets_close(&s);
}
END_TEST

START_TEST(test_empty_socket)
{
    Sockets s = sockets_new();
    BridgeWorkerCounts counts = {0};
    BridgeRecvBatch *b = bridge_recv_batch_new(&counts);
    Seen seen = {0};
    guint handled = 5;
    ck_assert_int_eq(read_all(b, &s, &seen, &handled), BRIDGE_RECV_EMPTY);
    ck_assert_uint_eq(handled, 0);
    bridge_recv_batch_free(b);
    sockets_close(&s);
}
END_TEST

START_TEST(test_closed_socket_fails)
{
    BridgeWorkerCounts counts = {0};
    BridgeRecvBatch *b = bridge_recv_batch_new(&counts);
    struct sockaddr_in nowhere = {.sin_family = AF_INET};
    Seen seen = {0};
    ck_assert_int_eq(
        bridge_recv_batch_read(b, -1, (const struct sockaddr *)&nowhere, record, &seen, NULL),
        BRIDGE_RECV_FAILED);
    ck_assert_uint_eq(seen.n, 0);
    bridge_recv_batch_free(b);
}
END_TEST

/* Two empty datagrams from a stranger, then media: the first peek marks both as seen and
 * stops at the first; libnice reads it; the next peek skips the second (the kernel skips
 * an empty datagram it has peeked), which the take then gets instead of the last media
 * datagram. The reader must drop it, hand over only media, and start the peek over. */
START_TEST(test_empty_datagrams_do_not_shift_what_is_taken)
{
    Sockets s = sockets_new();
    BridgeWorkerCounts counts = {0};
    BridgeRecvBatch *b = bridge_recv_batch_new(&counts);
    struct sockaddr_in to = s.rx_addr;
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(sendto(s.other, "", 0, 0, (const struct sockaddr *)&to, sizeof to), 0);
    send_from(s.tx, &s, RTP, 1, 200);
    send_from(s.tx, &s, RTP, 2, 300);
    Seen seen = {0};
    guint handled = 0;
    ck_assert_int_eq(read_all(b, &s, &seen, &handled), BRIDGE_RECV_YIELD);
    ck_assert_uint_eq(handled, 0);
    assert_peek_at_head(&s);
    guint8 first;
    guint16 number;
    struct sockaddr_in from;
    ck_assert_int_eq(plain_read(&s, &first, &number, &from), 0); /* libnice's read */
    /* Media 1 and 2 arrive once each, in order, and nothing else reaches the callback. */
    for (int i = 0; i < 3 && seen.n < 2; i++) {
        read_all(b, &s, &seen, &handled);
        assert_peek_at_head(&s);
    }
    ck_assert_uint_eq(seen.n, 2);
    ck_assert_uint_eq(seen.numbers[0], 1);
    ck_assert_uint_eq(seen.numbers[1], 2);
    ck_assert_uint_eq(seen.lengths[0], 200);
    ck_assert_uint_eq(seen.lengths[1], 300);
    /* The second empty one was taken and dropped (counted), not handed over. */
    ck_assert_uint_eq(counts.recv_dropped, 1);
    assert_queue_empty(&s);
    bridge_recv_batch_free(b);
    sockets_close(&s);
}
END_TEST

static int
bound_socket6(struct sockaddr_in6 *addr)
{
    *addr = (struct sockaddr_in6){.sin6_family = AF_INET6, .sin6_addr = in6addr_loopback};
    return udp_bound((struct sockaddr *)addr, sizeof *addr);
}

static void
send6(int fd, const struct sockaddr_in6 *to, guint16 number)
{
    guint8 buf[100] = {RTP, 96, (guint8)(number >> 8), (guint8)number};
    ck_assert_int_eq(sendto(fd, buf, sizeof buf, 0, (const struct sockaddr *)to, sizeof *to),
                     (gssize)sizeof buf);
}

START_TEST(test_ipv6_remote_and_another_port)
{
    struct sockaddr_in6 rx_addr, tx_addr, other_addr;
    int rx = bound_socket6(&rx_addr), tx = bound_socket6(&tx_addr),
        other = bound_socket6(&other_addr);
    ck_assert(bridge_recv_batch_prepare_socket(rx));
    BridgeWorkerCounts counts = {0};
    BridgeRecvBatch *b = bridge_recv_batch_new(&counts);
    send6(tx, &rx_addr, 0);
    send6(tx, &rx_addr, 1);
    send6(other, &rx_addr, 2);
    send6(tx, &rx_addr, 3);
    Seen seen = {0};
    guint handled = 0;
    ck_assert_int_eq(
        bridge_recv_batch_read(b, rx, (const struct sockaddr *)&tx_addr, record, &seen, &handled),
        BRIDGE_RECV_YIELD);
    ck_assert_uint_eq(handled, 2);
    guint8 buf[200];
    ck_assert_int_eq(recv(rx, buf, sizeof buf, MSG_DONTWAIT), 100); /* libnice's */
    ck_assert_uint_eq(buf[3], 2);
    ck_assert_int_eq(
        bridge_recv_batch_read(b, rx, (const struct sockaddr *)&tx_addr, record, &seen, &handled),
        BRIDGE_RECV_EMPTY);
    ck_assert_uint_eq(seen.n, 3);
    ck_assert_uint_eq(seen.numbers[2], 3);
    bridge_recv_batch_free(b);
    close(rx);
    close(tx);
    close(other);
}
END_TEST

/* The loop as a worker runs it: a source at the top calls bridge_recv_batch_iteration() in
 * its prepare (as the worker's flush source does), the recv source, and at libnice's
 * priority a reader of the same socket standing for libnice's source and an idle source
 * standing for its timers. */
typedef struct {
    GSource source;
    BridgeRecvBatch *batch;
} IterationSource;

static gboolean
iteration_prepare(GSource *source, gint *timeout)
{
    bridge_recv_batch_iteration(((IterationSource *)source)->batch);
    *timeout = -1;
    return FALSE;
}

static gboolean
never_dispatch(GSource *source, GSourceFunc callback, gpointer data)
{
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs iteration_funcs = {.prepare = iteration_prepare, .dispatch = never_dispatch};

typedef struct {
    const Sockets *s;
    guint8 first[64];
    guint16 numbers[64];
    guint n;
    guint media_seen_before; /* the recv source's count when this reader first ran */
    const Seen *media;
} Libnice;

static gboolean
libnice_read(gint fd, GIOCondition condition, gpointer data)
{
    Libnice *l = data;
    struct sockaddr_in from;
    if (l->n == 0)
        l->media_seen_before = l->media->n;
    /* As libnice: until the queue is empty. */
    while (l->n < G_N_ELEMENTS(l->numbers) &&
           plain_read(l->s, &l->first[l->n], &l->numbers[l->n], &from) > 0)
        l->n++;
    return G_SOURCE_CONTINUE;
}

typedef struct {
    guint runs;
    guint media_seen_at_first_run;
    const Seen *media;
} Timer;

static gboolean
timer_run(gpointer data)
{
    Timer *t = data;
    if (t->runs++ == 0)
        t->media_seen_at_first_run = t->media->n;
    return G_SOURCE_CONTINUE;
}

typedef struct {
    GMainContext *context;
    GSource *top, *recv, *libnice;
} Loop;

static Loop
loop_new(BridgeRecvBatch *b, const Sockets *s, Seen *seen, Libnice *libnice)
{
    Loop l = {.context = g_main_context_new()};
    l.top = g_source_new(&iteration_funcs, sizeof(IterationSource));
    ((IterationSource *)l.top)->batch = b;
    g_source_set_priority(l.top, G_PRIORITY_HIGH - 100);
    g_source_attach(l.top, l.context);
    if (libnice != NULL) {
        l.libnice = g_unix_fd_source_new(s->rx, G_IO_IN);
        g_source_set_callback(l.libnice, G_SOURCE_FUNC(libnice_read), libnice, NULL);
        g_source_attach(l.libnice, l.context);
    }
    l.recv = bridge_recv_source_new(b, s->rx, (const struct sockaddr *)&s->tx_addr,
                                    sizeof s->tx_addr, record, seen);
    ck_assert_ptr_nonnull(l.recv);
    g_source_attach(l.recv, l.context);
    return l;
}

static void
loop_free(Loop *l)
{
    GSource *sources[] = {l->top, l->recv, l->libnice};
    for (guint i = 0; i < G_N_ELEMENTS(sources); i++) {
        if (sources[i] != NULL) {
            g_source_destroy(sources[i]);
            g_source_unref(sources[i]);
        }
    }
    g_main_context_unref(l->context);
}

/* A loop's sockets, batch and sources, with or without libnice's reader. */
typedef struct {
    Sockets s;
    BridgeWorkerCounts counts;
    BridgeRecvBatch *b;
    Seen seen;
    Libnice libnice;
    Loop loop;
} LoopFixture;

static void
loop_fixture_init(LoopFixture *f, gboolean with_libnice)
{
    memset(f, 0, sizeof *f);
    f->s = sockets_new();
    f->b = bridge_recv_batch_new(&f->counts);
    f->libnice = (Libnice){.s = &f->s, .media = &f->seen};
    f->loop = loop_new(f->b, &f->s, &f->seen, with_libnice ? &f->libnice : NULL);
}

static void
loop_fixture_clear(LoopFixture *f)
{
    loop_free(&f->loop);
    bridge_recv_batch_free(f->b);
    sockets_close(&f->s);
}

START_TEST(test_source_stands_aside_for_libnice_datagram)
{
    LoopFixture f;
    loop_fixture_init(&f, TRUE);
    for (guint16 i = 0; i < 3; i++)
        send_from(f.s.tx, &f.s, RTP, i, 200);
    send_stun(&f.s);
    send_from(f.s.tx, &f.s, RTP, 4, 200);
    for (guint i = 0; i < 10; i++)
        g_main_context_iteration(f.loop.context, FALSE);
    /* The recv source took 0-2 alone; libnice's reader then got the STUN and, reading on
     * as libnice does, what followed it. */
    ck_assert_uint_eq(f.seen.n, 3);
    ck_assert_uint_eq(f.libnice.n, 2);
    ck_assert_uint_eq(f.libnice.media_seen_before, 3);
    ck_assert_uint_eq(f.libnice.first[0], STUN);
    ck_assert_uint_eq(f.libnice.numbers[1], 4);
    /* And the next media is the recv source's again. */
    send_from(f.s.tx, &f.s, RTP, 5, 200);
    for (guint i = 0; i < 4; i++)
        g_main_context_iteration(f.loop.context, FALSE);
    ck_assert_uint_eq(f.seen.n, 4);
    ck_assert_uint_eq(f.seen.numbers[3], 5);
    ck_assert_uint_eq(f.libnice.n, 2);
    loop_fixture_clear(&f);
}
END_TEST

/* Queues `total` media datagrams, then runs the loop (with an idle source at libnice's
 * priority standing for its timers) until all are read: they arrive whole and in order,
 * and the idle source ran before the last. */
static void
timer_runs_before_the_queue_is_empty(guint total, gulong sleep_us)
{
    Sockets s = sockets_new();
    BridgeWorkerCounts counts = {0};
    BridgeRecvBatch *b = bridge_recv_batch_new(&counts);
    Seen seen = {.sleep_us = sleep_us};
    ck_assert_uint_le(total, G_N_ELEMENTS(seen.numbers));
    Loop loop = loop_new(b, &s, &seen, NULL);
    Timer timer = {.media = &seen};
    GSource *idle = g_idle_source_new();
    g_source_set_priority(idle, G_PRIORITY_DEFAULT);
    g_source_set_callback(idle, timer_run, &timer, NULL);
    g_source_attach(idle, loop.context);
    for (guint i = 0; i < total; i++)
        send_from(s.tx, &s, RTP, (guint16)i, 100);
    for (guint i = 0; i < 200 && seen.n < total; i++)
        g_main_context_iteration(loop.context, FALSE);
    ck_assert_uint_eq(seen.n, total);
    for (guint i = 0; i < total; i++)
        ck_assert_uint_eq(seen.numbers[i], i);
    ck_assert_uint_ge(timer.runs, 1);
    ck_assert_uint_lt(timer.media_seen_at_first_run, total);
    g_source_destroy(idle);
    g_source_unref(idle);
    loop_free(&loop);
    bridge_recv_batch_free(b);
    sockets_close(&s);
}

#define PER_DISPATCH (BRIDGE_RECV_BATCH_SIZE * BRIDGE_RECV_BATCH_ROUNDS)

/* More than BRIDGE_RECV_HOLD_AFTER dispatches' worth, all queued before the loop runs:
 * without standing aside, the source would keep the idle one waiting until the end. */
START_TEST(test_timers_at_libnice_priority_run_while_media_keeps_it_busy)
{
    timer_runs_before_the_queue_is_empty(PER_DISPATCH * (BRIDGE_RECV_HOLD_AFTER + 4), 0);
}
END_TEST

/* A few passes that each take longer than BRIDGE_RECV_HOLD_AFTER_US (a slow receiver): the
 * source stands aside long before BRIDGE_RECV_HOLD_AFTER passes. */
START_TEST(test_long_busy_passes_let_timers_run_too)
{
    timer_runs_before_the_queue_is_empty(3 * PER_DISPATCH,
                                         2 * BRIDGE_RECV_HOLD_AFTER_US / BRIDGE_RECV_BATCH_SIZE);
}
END_TEST

/* The loop's own passes (bridge_recv_batch_read_ready), given what a poll found. */
static gboolean
read_ready(BridgeRecvBatch *b, int fd, gushort revents, int other_fd)
{
    GPollFD fds[] = {{.fd = fd, .events = G_IO_IN, .revents = revents},
                     {.fd = other_fd, .events = G_IO_IN, .revents = other_fd >= 0 ? G_IO_IN : 0}};
    return bridge_recv_batch_read_ready(b, fds, G_N_ELEMENTS(fds));
}

START_TEST(test_read_ready_reads_only_when_all_that_is_ready_is_its_media)
{
    LoopFixture f;
    loop_fixture_init(&f, TRUE);
    const Sockets *s = &f.s;
    for (guint16 i = 0; i < 3; i++)
        send_from(s->tx, s, RTP, i, 200);
    ck_assert(read_ready(f.b, s->rx, G_IO_IN, -1));
    ck_assert_uint_eq(f.seen.n, 3);
    /* Anything else ready, an error beside readable, or nothing ready: GLib's, nothing read. */
    for (guint16 i = 3; i < 5; i++)
        send_from(s->tx, s, RTP, i, 200);
    ck_assert(!read_ready(f.b, s->rx, G_IO_IN, s->other));
    ck_assert(!read_ready(f.b, s->rx, G_IO_IN | G_IO_ERR, -1));
    ck_assert(!read_ready(f.b, s->rx, G_IO_IN | G_IO_OUT, -1));
    ck_assert(!read_ready(f.b, s->rx, 0, -1));
    ck_assert(!read_ready(f.b, s->other, G_IO_IN, -1)); /* not a source's socket */
    ck_assert_uint_eq(f.seen.n, 3);
    ck_assert(read_ready(f.b, s->rx, G_IO_IN, -1));
    ck_assert_uint_eq(f.seen.n, 5);
    for (guint i = 0; i < 5; i++)
        ck_assert_uint_eq(f.seen.numbers[i], i);
    assert_queue_empty(s);
    ck_assert_uint_eq(f.libnice.n, 0);
    loop_fixture_clear(&f);
}
END_TEST

/* After it left libnice's datagram at the head, the next pass is GLib's (where libnice's
 * source reads it); the one after may be the loop's own again. */
START_TEST(test_read_ready_stands_aside_after_libnice_datagram)
{
    LoopFixture f;
    loop_fixture_init(&f, TRUE);
    const Sockets *s = &f.s;
    send_from(s->tx, s, RTP, 0, 200);
    send_stun(s);
    ck_assert(read_ready(f.b, s->rx, G_IO_IN, -1));
    ck_assert_uint_eq(f.seen.n, 1);
    bridge_recv_batch_iteration(f.b); /* the next pass */
    ck_assert(bridge_recv_batch_held(f.b));
    ck_assert(!read_ready(f.b, s->rx, G_IO_IN, -1));
    guint8 first = 0;
    guint16 number = 0;
    struct sockaddr_in from;
    ck_assert_int_eq(plain_read(s, &first, &number, &from), 64); /* as libnice would */
    ck_assert_uint_eq(first, STUN);
    bridge_recv_batch_iteration(f.b);
    send_from(s->tx, s, RTP, 2, 200);
    ck_assert(read_ready(f.b, s->rx, G_IO_IN, -1));
    ck_assert_uint_eq(f.seen.n, 2);
    ck_assert_uint_eq(f.seen.numbers[1], 2);
    loop_fixture_clear(&f);
}
END_TEST

/* A destroyed source reads no more, one not attached reads nothing, and a source for the
 * same socket (a new selected pair) is not forgotten when the old one goes. */
START_TEST(test_read_ready_follows_sources_that_go_and_replace_others)
{
    LoopFixture f;
    loop_fixture_init(&f, FALSE);
    const Sockets *s = &f.s;
    send_from(s->tx, s, RTP, 0, 200);
    GSource *old = g_steal_pointer(&f.loop.recv);
    g_source_destroy(old);
    ck_assert(!read_ready(f.b, s->rx, G_IO_IN, -1));
    Seen seen_new = {0};
    GSource *detached = bridge_recv_source_new(f.b, s->rx, (const struct sockaddr *)&s->tx_addr,
                                               sizeof s->tx_addr, record, &seen_new);
    ck_assert(!read_ready(f.b, s->rx, G_IO_IN, -1));
    g_source_attach(detached, f.loop.context);
    f.loop.recv = detached;
    g_source_unref(old); /* finalized now: it must not take the new one's place with it */
    ck_assert(read_ready(f.b, s->rx, G_IO_IN, -1));
    ck_assert_uint_eq(f.seen.n, 0);
    ck_assert_uint_eq(seen_new.n, 1);
    g_source_destroy(f.loop.recv);
    g_clear_pointer(&f.loop.recv, g_source_unref);
    ck_assert(!read_ready(f.b, s->rx, G_IO_IN, -1));
    loop_fixture_clear(&f);
}
END_TEST

static Suite *
recv_batch_suite(void)
{
    Suite *s = suite_create("recv-batch");
    TCase *tc = tcase_create("recv-batch");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_partial_batch_is_read_whole_and_in_order);
    tcase_add_test(tc, test_full_batches_over_several_rounds);
    tcase_add_test(tc, test_stops_before_stun);
    tcase_add_test(tc, test_stops_before_another_source);
    tcase_add_test(tc, test_stops_before_an_unknown_kind);
    tcase_add_test(tc, test_stops_before_a_datagram_too_big_and_libnice_gets_it_whole);
    tcase_add_test(tc, test_libnice_datagram_first_in_the_queue);
    tcase_add_test(tc, test_callback_that_stops_drops_only_what_was_taken);
    tcase_add_test(tc, test_empty_socket);
    tcase_add_test(tc, test_closed_socket_fails);
    tcase_add_test(tc, test_empty_datagrams_do_not_shift_what_is_taken);
    tcase_add_test(tc, test_ipv6_remote_and_another_port);
    tcase_add_test(tc, test_source_stands_aside_for_libnice_datagram);
    tcase_add_test(tc, test_timers_at_libnice_priority_run_while_media_keeps_it_busy);
    tcase_add_test(tc, test_long_busy_passes_let_timers_run_too);
    tcase_add_test(tc, test_read_ready_reads_only_when_all_that_is_ready_is_its_media);
    tcase_add_test(tc, test_read_ready_stands_aside_after_libnice_datagram);
    tcase_add_test(tc, test_read_ready_follows_sources_that_go_and_replace_others);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(recv_batch_suite)
