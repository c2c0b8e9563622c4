/* Unit tests of bridge/send-batch.c on real UDP sockets on 127.0.0.1: what a flush sends
 * arrives whole and, per destination, in order; equal-sized runs leave as GSO messages and
 * a shorter packet ends a run; a partial batch, a full one (flushed on its own), a receiver
 * whose socket is full, a message the kernel refuses in the middle of a sendmmsg(), a
 * refused GSO message (sent again packet by packet), a receiver removed mid-batch, and GSO
 * off all leave the counters matching what was sent. */
#include "../check-main.h"
#include "send-batch.h"
#include "udp-socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int fd;
    struct sockaddr_in addr;
} Receiver;

static Receiver
receiver_new(int rcvbuf)
{
    Receiver r;
    r.fd = udp_bound_ipv4(&r.addr, INADDR_LOOPBACK);
    /* As root the size is not capped by net.core.rmem_max. */
    if (rcvbuf > 0 && setsockopt(r.fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
        ck_assert_int_eq(setsockopt(r.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
    return r;
}

static int
sender_new(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    return fd;
}

/* Queues a packet of `len` bytes whose content says who it is for and its number. */
static void
queue(BridgeSendBatch *b, int fd, const Receiver *to, gsize len, guint8 tag, guint16 number,
      gconstpointer owner)
{
    guint8 *slot = bridge_send_batch_slot(b);
    memset(slot, tag, len);
    slot[0] = tag;
    slot[1] = (guint8)(number >> 8);
    slot[2] = (guint8)number;
    bridge_send_batch_commit(b, fd, (const struct sockaddr *)&to->addr, sizeof to->addr, len, owner,
                             TRUE);
}

/* Reads what is waiting; checks each datagram is intact and returns their numbers. */
static guint
drain(const Receiver *r, guint8 tag, guint16 *numbers, gsize *sizes, guint max)
{
    guint n = 0;
    guint8 buf[2048];
    for (;;) {
        ssize_t len = recv(r->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (len < 0) {
            ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
            return n;
        }
        ck_assert_int_ge(len, 3);
        ck_assert_uint_eq(buf[0], tag);
        ssize_t bad = 3; /* one assertion a datagram: Check's cost is per assertion */
        while (bad < len && buf[bad] == tag)
            bad++;
        ck_assert_int_eq(bad, len);
        ck_assert_uint_lt(n, max);
        numbers[n] = (guint16)(buf[1] << 8 | buf[2]);
        sizes[n] = (gsize)len;
        n++;
    }
}

static int owner_a, owner_b, owner_c;

START_TEST(test_partial_batch_keeps_order_and_groups_equal_sizes)
{
    BridgeWorkerCounts counts = {0};
    BridgeSendBatch *b = bridge_send_batch_new(&counts);
    int tx = sender_new();
    Receiver a = receiver_new(0), r_b = receiver_new(0);
    /* A: 1000, 1000, 400 (a run of three, the last shorter), then B, then A 1000 again. */
    queue(b, tx, &a, 1000, 'a', 0, &owner_a);
    queue(b, tx, &a, 1000, 'a', 1, &owner_a);
    queue(b, tx, &a, 400, 'a', 2, &owner_a);
    queue(b, tx, &r_b, 500, 'b', 0, &owner_b);
    queue(b, tx, &r_b, 600, 'b', 1, &owner_b); /* longer than the first: a run of its own */
    queue(b, tx, &a, 1000, 'a', 3, &owner_a);
    ck_assert_uint_eq(bridge_send_batch_pending(b), 6);
    bridge_send_batch_flush(b);
    ck_assert_uint_eq(bridge_send_batch_pending(b), 0);
    guint16 nums[16];
    gsize sizes[16];
    ck_assert_uint_eq(drain(&a, 'a', nums, sizes, 16), 4);
    for (guint i = 0; i < 4; i++)
        ck_assert_uint_eq(nums[i], i);
    ck_assert_uint_eq(sizes[2], 400);
    ck_assert_uint_eq(sizes[3], 1000);
    ck_assert_uint_eq(drain(&r_b, 'b', nums, sizes, 16), 2);
    ck_assert_uint_eq(nums[0], 0);
    ck_assert_uint_eq(nums[1], 1);
    ck_assert_uint_eq(sizes[1], 600);
    ck_assert_uint_eq(counts.packets_out, 6);
    ck_assert_uint_eq(counts.rtp_forwarded, 6);
    ck_assert_uint_eq(counts.bytes_out, 1000 * 3 + 400 + 500 + 600);
    ck_assert_uint_eq(counts.gso_packets, 3);
    /* A: one sendmmsg() for its two messages; B: one for its two. */
    ck_assert_uint_eq(counts.send_calls, 2);
    ck_assert_uint_eq(counts.send_failed, 0);
    /* An empty flush sends nothing. */
    bridge_send_batch_flush(b);
    ck_assert_uint_eq(counts.send_calls, 2);
    bridge_send_batch_free(b);
    close(tx);
    close(a.fd);
    close(r_b.fd);
}
END_TEST

START_TEST(test_full_batch_flushes_on_its_own)
{
    BridgeWorkerCounts counts = {0};
    BridgeSendBatch *b = bridge_send_batch_new(&counts);
    int tx = sender_new();
    Receiver a = receiver_new(8 << 20);
    guint total = BRIDGE_SEND_BATCH_SLOTS + 100;
    guint16 *nums = g_new(guint16, total);
    gsize *sizes = g_new(gsize, total);
    for (guint i = 0; i <= BRIDGE_SEND_BATCH_SLOTS; i++)
        queue(b, tx, &a, 100, 'a', (guint16)i, &owner_a);
    /* The slot for packet 513 flushed the first 512. */
    ck_assert_uint_eq(bridge_send_batch_pending(b), 1);
    ck_assert_uint_eq(counts.packets_out, BRIDGE_SEND_BATCH_SLOTS);
    guint got = drain(&a, 'a', nums, sizes, total);
    ck_assert_uint_eq(got, BRIDGE_SEND_BATCH_SLOTS);
    for (guint i = BRIDGE_SEND_BATCH_SLOTS + 1; i < total; i++)
        queue(b, tx, &a, 100, 'a', (guint16)i, &owner_a);
    bridge_send_batch_flush(b);
    ck_assert_uint_eq(drain(&a, 'a', nums + got, sizes + got, total - got), 100);
    for (guint i = 0; i < total; i++)
        ck_assert_uint_eq(nums[i], i);
    ck_assert_uint_eq(counts.packets_out, total);
    /* 64 segments per GSO message: 8 messages for the first 512, 2 for the last 100. */
    ck_assert_uint_eq(counts.gso_packets, total);
    ck_assert_uint_eq(counts.send_calls, 2);
    g_free(nums);
    g_free(sizes);
    bridge_send_batch_free(b);
    close(tx);
    close(a.fd);
}
END_TEST

/* A receiver that stops reading fills its socket; the kernel drops what no longer fits on
 * its side, and the flush neither blocks nor holds back the other receiver. */
START_TEST(test_full_receiver_socket_does_not_hold_back_the_others)
{
    BridgeWorkerCounts counts = {0};
    BridgeSendBatch *b = bridge_send_batch_new(&counts);
    int tx = sender_new();
    Receiver stalled = receiver_new(2048), ok = receiver_new(4 << 20);
    guint16 nums[600];
    gsize sizes[600];
    guint got_ok = 0;
    for (guint round = 0; round < 5; round++) {
        for (guint i = 0; i < 100; i++) {
            queue(b, tx, &stalled, 1200, 's', (guint16)(round * 100 + i), &owner_a);
            queue(b, tx, &ok, 1200, 'o', (guint16)(round * 100 + i), &owner_b);
        }
        gint64 start = g_get_monotonic_time();
        bridge_send_batch_flush(b);
        ck_assert_int_lt(g_get_monotonic_time() - start, G_USEC_PER_SEC);
        got_ok += drain(&ok, 'o', nums + got_ok, sizes + got_ok, 600 - got_ok);
    }
    ck_assert_uint_eq(got_ok, 500);
    for (guint i = 0; i < 500; i++)
        ck_assert_uint_eq(nums[i], i);
    guint got = drain(&stalled, 's', nums, sizes, 600);
    ck_assert_uint_lt(got, 500);
    for (guint i = 1; i < got; i++)
        ck_assert_uint_gt(nums[i], nums[i - 1]); /* what it got is in order */
    ck_assert_uint_eq(counts.packets_out, 1000);
    bridge_send_batch_free(b);
    close(tx);
    close(stalled.fd);
    close(ok.fd);
}
END_TEST

/* One message in the middle of a sendmmsg() is refused (an IPv6 address on an IPv4
 * socket): it is counted as failed, and the messages after it still go. A socket that is
 * gone fails only its own packets. */
START_TEST(test_refused_message_mid_batch_fails_alone)
{
    BridgeWorkerCounts counts = {0};
    BridgeSendBatch *b = bridge_send_batch_new(&counts);
    int tx = sender_new();
    Receiver a = receiver_new(0), c = receiver_new(0);
    struct sockaddr_in6 v6 = {
        .sin6_family = AF_INET6, .sin6_port = htons(9), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    queue(b, tx, &a, 300, 'a', 0, &owner_a);
    guint8 *slot = bridge_send_batch_slot(b);
    memset(slot, 'x', 300);
    bridge_send_batch_commit(b, tx, (const struct sockaddr *)&v6, sizeof v6, 300, &owner_a, TRUE);
    queue(b, tx, &a, 300, 'a', 1, &owner_a);
    int closed = sender_new();
    close(closed);
    queue(b, closed, &c, 300, 'c', 0, &owner_b); /* a socket number no longer open */
    queue(b, tx, &c, 300, 'c', 1, &owner_c);
    bridge_send_batch_flush(b);
    guint16 nums[8];
    gsize sizes[8];
    ck_assert_uint_eq(drain(&a, 'a', nums, sizes, 8), 2);
    ck_assert_uint_eq(nums[0], 0);
    ck_assert_uint_eq(nums[1], 1);
    ck_assert_uint_eq(drain(&c, 'c', nums, sizes, 8), 1);
    ck_assert_uint_eq(nums[0], 1);
    ck_assert_uint_eq(counts.send_failed, 2);
    ck_assert_uint_eq(counts.packets_out, 3);
    ck_assert_uint_eq(counts.rtp_forwarded, 3);
    bridge_send_batch_free(b);
    close(tx);
    close(a.fd);
    close(c.fd);
}
END_TEST

/* The kernel refuses GSO on a socket without UDP checksums (EINVAL): the run is sent again
 * packet by packet, nothing is lost, and GSO stays on for other sockets. */
START_TEST(test_refused_gso_message_is_sent_one_by_one)
{
    BridgeWorkerCounts counts = {0};
    BridgeSendBatch *b = bridge_send_batch_new(&counts);
    int tx = sender_new();
    int on = 1;
    ck_assert_int_eq(setsockopt(tx, SOL_SOCKET, SO_NO_CHECK, &on, sizeof on), 0);
    Receiver a = receiver_new(0);
    for (guint i = 0; i < 10; i++)
        queue(b, tx, &a, 800, 'a', (guint16)i, &owner_a);
    bridge_send_batch_flush(b);
    guint16 nums[16];
    gsize sizes[16];
    ck_assert_uint_eq(drain(&a, 'a', nums, sizes, 16), 10);
    for (guint i = 0; i < 10; i++)
        ck_assert_uint_eq(nums[i], i);
    ck_assert_uint_eq(counts.packets_out, 10);
    ck_assert_uint_eq(counts.gso_packets, 0);
    ck_assert_uint_eq(counts.send_failed, 0);
    ck_assert(bridge_send_batch_gso_enabled(b));
    bridge_send_batch_free(b);
    close(tx);
    close(a.fd);
}
END_TEST

/* A receiver removed mid-batch: its packets are dropped (receiver_gone), the others go, and
 * a new receiver at the same address in memory starts afresh. */
START_TEST(test_receiver_removed_mid_batch)
{
    BridgeWorkerCounts counts = {0};
    BridgeSendBatch *b = bridge_send_batch_new(&counts);
    int tx = sender_new();
    Receiver a = receiver_new(0), r_b = receiver_new(0);
    for (guint i = 0; i < 5; i++) {
        queue(b, tx, &a, 900, 'a', (guint16)i, &owner_a);
        queue(b, tx, &r_b, 900, 'b', (guint16)i, &owner_b);
    }
    bridge_send_batch_forget(b, &owner_a);
    bridge_send_batch_forget(b, &owner_c);     /* nothing queued for it: nothing happens */
    queue(b, tx, &a, 900, 'a', 100, &owner_a); /* the same owner, after it was forgotten */
    bridge_send_batch_flush(b);
    guint16 nums[16];
    gsize sizes[16];
    ck_assert_uint_eq(drain(&a, 'a', nums, sizes, 16), 1);
    ck_assert_uint_eq(nums[0], 100);
    ck_assert_uint_eq(drain(&r_b, 'b', nums, sizes, 16), 5);
    ck_assert_uint_eq(counts.receiver_gone, 5);
    ck_assert_uint_eq(counts.packets_out, 6);
    bridge_send_batch_free(b);
    close(tx);
    close(a.fd);
    close(r_b.fd);
}
END_TEST

/* Forwarding one packet to many receivers at a time, with the batch filling up in the
 * middle of a fan-out: 300 receivers, each packet to all of them, every receiver gets every
 * packet in order. */
START_TEST(test_many_receivers_and_a_batch_full_mid_fan_out)
{
    enum { RECEIVERS = 300, PACKETS = 4 };
    BridgeWorkerCounts counts = {0};
    BridgeSendBatch *b = bridge_send_batch_new(&counts);
    int tx = sender_new();
    static Receiver rs[RECEIVERS];
    static int owners[RECEIVERS];
    for (guint r = 0; r < RECEIVERS; r++)
        rs[r] = receiver_new(0);
    for (guint p = 0; p < PACKETS; p++) {
        for (guint r = 0; r < RECEIVERS; r++)
            queue(b, tx, &rs[r], 300, (guint8)('a' + r % 26), (guint16)p, &owners[r]);
    }
    bridge_send_batch_flush(b);
    /* 1,200 packets: two full batches went out on their own, mid fan-out. */
    ck_assert_uint_eq(counts.packets_out, RECEIVERS * PACKETS);
    for (guint r = 0; r < RECEIVERS; r++) {
        guint16 nums[8];
        gsize sizes[8];
        ck_assert_uint_eq(drain(&rs[r], (guint8)('a' + r % 26), nums, sizes, 8), PACKETS);
        for (guint p = 0; p < PACKETS; p++)
            ck_assert_uint_eq(nums[p], p);
        close(rs[r].fd);
    }
    bridge_send_batch_free(b);
    close(tx);
}
END_TEST

START_TEST(test_without_gso_every_packet_is_a_message)
{
    BridgeWorkerCounts counts = {0};
    BridgeSendBatch *b = bridge_send_batch_new(&counts);
    bridge_send_batch_disable_gso(b);
    int tx = sender_new();
    Receiver a = receiver_new(0);
    for (guint i = 0; i < 20; i++)
        queue(b, tx, &a, 700, 'a', (guint16)i, &owner_a);
    bridge_send_batch_flush(b);
    guint16 nums[32];
    gsize sizes[32];
    ck_assert_uint_eq(drain(&a, 'a', nums, sizes, 32), 20);
    for (guint i = 0; i < 20; i++)
        ck_assert_uint_eq(nums[i], i);
    ck_assert_uint_eq(counts.gso_packets, 0);
    ck_assert_uint_eq(counts.send_calls, 1); /* still one sendmmsg() */
    bridge_send_batch_free(b);
    close(tx);
    close(a.fd);
}
END_TEST

static Suite *
send_batch_suite(void)
{
    Suite *s = suite_create("send-batch");
    TCase *tc = tcase_create("send-batch");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_partial_batch_keeps_order_and_groups_equal_sizes);
    tcase_add_test(tc, test_full_batch_flushes_on_its_own);
    tcase_add_test(tc, test_full_receiver_socket_does_not_hold_back_the_others);
    tcase_add_test(tc, test_refused_message_mid_batch_fails_alone);
    tcase_add_test(tc, test_refused_gso_message_is_sent_one_by_one);
    tcase_add_test(tc, test_receiver_removed_mid_batch);
    tcase_add_test(tc, test_many_receivers_and_a_batch_full_mid_fan_out);
    tcase_add_test(tc, test_without_gso_every_packet_is_a_message);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(send_batch_suite)
