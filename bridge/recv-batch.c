/* Batched reading of a selected pair's socket beside libnice (see recv-batch.h). */
#include "recv-batch.h"

#include "rtp.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

struct _BridgeRecvBatch {
    struct mmsghdr msgs[BRIDGE_RECV_BATCH_SIZE];
    struct iovec iov[BRIDGE_RECV_BATCH_SIZE];
    struct sockaddr_storage from[BRIDGE_RECV_BATCH_SIZE];
    guint8 buf[BRIDGE_RECV_BATCH_SIZE][BRIDGE_BUFFER_SIZE];
    BridgeWorkerCounts *counts;
    /* Iterations of the worker's loop: the current one, the last in which a source read
     * media, how many in a row did without the loop having waited in poll() (since when),
     * and the one in which the sources stand aside. */
    guint64 iteration, busy_iteration, hold_iteration;
    guint busy_streak;
    gint64 busy_since_us;
    GHashTable *sources; /* socket number -> its RecvSource, for bridge_recv_batch_read_ready */
};

BridgeRecvBatch *
bridge_recv_batch_new(BridgeWorkerCounts *counts)
{
    BridgeRecvBatch *b = g_new0(BridgeRecvBatch, 1);
    b->counts = counts;
    b->iteration = 1; /* so that hold_iteration 0 holds none */
    b->sources = g_hash_table_new(NULL, NULL);
    return b;
}

void
bridge_recv_batch_free(BridgeRecvBatch *batch)
{
    if (batch == NULL)
        return;
    g_hash_table_unref(batch->sources);
    g_free(batch);
}

void
bridge_recv_batch_iteration(BridgeRecvBatch *b)
{
    gint64 now = g_get_monotonic_time();
    if (b->busy_iteration == b->iteration) {
        b->busy_streak++;
    } else { /* in that one, the sources below ours had their turn */
        b->busy_streak = 0;
        b->busy_since_us = now;
    }
    b->iteration++;
    if (b->busy_streak >= BRIDGE_RECV_HOLD_AFTER ||
        now - b->busy_since_us >= BRIDGE_RECV_HOLD_AFTER_US) {
        b->hold_iteration = b->iteration;
        b->busy_streak = 0;
        b->busy_since_us = now;
    }
}

void
bridge_recv_batch_waited(BridgeRecvBatch *b)
{
    b->busy_streak = 0;
    b->busy_since_us = g_get_monotonic_time();
}

gboolean
bridge_recv_batch_held(const BridgeRecvBatch *b)
{
    return b->hold_iteration == b->iteration;
}

gboolean
bridge_recv_batch_prepare_socket(int fd)
{
    int zero = 0;
    return setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof zero) == 0;
}

static gboolean
same_address(const struct sockaddr_storage *a, socklen_t a_len, const struct sockaddr *b)
{
    if (a->ss_family != b->sa_family)
        return FALSE;
    if (b->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)a;
        const struct sockaddr_in *y = (const struct sockaddr_in *)b;
        return a_len >= sizeof *x && x->sin_port == y->sin_port &&
               x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (b->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
        const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
        /* A scope matters when both have one, as libnice compares addresses. */
        return a_len >= sizeof *x && x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0 &&
               (x->sin6_scope_id == 0 || y->sin6_scope_id == 0 ||
                x->sin6_scope_id == y->sin6_scope_id);
    }
    return FALSE;
}

/* recvmmsg() of up to `n` datagrams into the batch's buffers, its headers reset first (the
 * kernel writes their lengths and flags). */
static int
receive(BridgeRecvBatch *b, int fd, guint n, int flags)
{
    for (guint i = 0; i < n; i++) {
        b->iov[i] = (struct iovec){.iov_base = b->buf[i], .iov_len = BRIDGE_BUFFER_SIZE};
        b->msgs[i].msg_hdr = (struct msghdr){.msg_name = &b->from[i],
                                             .msg_namelen = sizeof b->from[i],
                                             .msg_iov = &b->iov[i],
                                             .msg_iovlen = 1};
        b->msgs[i].msg_len = 0;
    }
    int got;
    do {
        b->counts->recv_calls++;
        got = recvmmsg(fd, b->msgs, n, flags | MSG_DONTWAIT, NULL);
    } while (got < 0 && errno == EINTR);
    return got;
}

/* Whether peeked datagram `i` is ours to take: whole, from the selected remote, and media
 * or DTLS. Anything else is libnice's. */
static gboolean
is_ours(const BridgeRecvBatch *b, guint i, const struct sockaddr *remote)
{
    const struct msghdr *h = &b->msgs[i].msg_hdr;
    if ((h->msg_flags & MSG_TRUNC) || b->msgs[i].msg_len == 0 ||
        !same_address(&b->from[i], h->msg_namelen, remote))
        return FALSE;
    BridgePacketKind kind = bridge_demux_classify(b->buf[i], b->msgs[i].msg_len);
    return kind == BRIDGE_PKT_RTP || kind == BRIDGE_PKT_RTCP || kind == BRIDGE_PKT_DTLS;
}

/* Back to the head of the queue for the next peek, and libnice's turn next. */
static void
rewind_peek(BridgeRecvBatch *b, int fd)
{
    bridge_recv_batch_prepare_socket(fd);
    b->counts->recv_yields++;
}

BridgeRecvResult
bridge_recv_batch_read(BridgeRecvBatch *b, int fd, const struct sockaddr *remote, BridgeRecvFunc fn,
                       gpointer data, guint *handled)
{
    guint count = 0;
    BridgeRecvResult result = BRIDGE_RECV_MORE;
    for (guint round = 0; round < BRIDGE_RECV_BATCH_ROUNDS && result == BRIDGE_RECV_MORE; round++) {
        int peeked = receive(b, fd, BRIDGE_RECV_BATCH_SIZE, MSG_PEEK);
        if (peeked < 0) {
            result =
                errno == EAGAIN || errno == EWOULDBLOCK ? BRIDGE_RECV_EMPTY : BRIDGE_RECV_FAILED;
            break;
        }
        guint take = 0;
        while (take < (guint)peeked && is_ours(b, take, remote))
            take++;
        if (take == 0) {
            rewind_peek(b, fd);
            result = BRIDGE_RECV_YIELD;
            break;
        }
        /* Taking them copies them again, into the same buffers: the peek offset then falls
         * back by exactly what was taken, to 0 when all were. */
        int got = receive(b, fd, take, 0);
        if (got < 0) {
            rewind_peek(b, fd);
            result = BRIDGE_RECV_FAILED;
            break;
        }
        /* What was taken is checked again: a peek skips a zero-length datagram it has
         * peeked before, which a take does not, so the two can differ. Such a datagram is
         * dropped (libnice reads one as nothing); after a difference the peek starts over. */
        gboolean ours[BRIDGE_RECV_BATCH_SIZE];
        gboolean same = (guint)got == take;
        for (guint i = 0; i < (guint)got; i++) {
            ours[i] = is_ours(b, i, remote);
            same = same && ours[i];
        }
        if (!same || take < (guint)peeked) {
            rewind_peek(b, fd);
            result = BRIDGE_RECV_YIELD;
        } else if ((guint)peeked < BRIDGE_RECV_BATCH_SIZE) {
            result = BRIDGE_RECV_EMPTY;
        }
        for (guint i = 0; i < (guint)got; i++) {
            if (!ours[i]) {
                b->counts->recv_dropped++;
                continue;
            }
            b->counts->recv_batched++;
            count++;
            if (!fn(b->buf[i], b->msgs[i].msg_len, data)) {
                result = BRIDGE_RECV_STOPPED;
                break;
            }
        }
    }
    if (handled != NULL)
        *handled = count;
    return result;
}

typedef struct {
    GSource source;
    BridgeRecvBatch *batch;
    GPollFD pollfd;
    struct sockaddr_storage remote;
    BridgeRecvFunc fn;
    gpointer data;
} RecvSource;

static gboolean
source_prepare(GSource *source, gint *timeout)
{
    *timeout = -1;
    return FALSE;
}

static gboolean
source_check(GSource *source)
{
    RecvSource *r = (RecvSource *)source;
    return (r->pollfd.revents & (G_IO_IN | G_IO_ERR)) != 0 && !bridge_recv_batch_held(r->batch);
}

/* The endpoint behind `fn` may go while a datagram is handled: its source is destroyed
 * first, and nothing more is handed to it. */
static gboolean
guarded(guint8 *buf, gsize len, gpointer data)
{
    RecvSource *r = data;
    return r->fn(buf, len, r->data) && !g_source_is_destroyed(&r->source);
}

/* One source's turn: what GLib's dispatch and bridge_recv_batch_read_ready both do. */
static void
read_source(RecvSource *r)
{
    BridgeRecvBatch *b = r->batch;
    b->busy_iteration = b->iteration;
    BridgeRecvResult result = bridge_recv_batch_read(
        b, r->pollfd.fd, (const struct sockaddr *)&r->remote, guarded, r, NULL);
    if (result == BRIDGE_RECV_YIELD || result == BRIDGE_RECV_FAILED)
        b->hold_iteration = b->iteration + 1; /* libnice reads in the next one */
}

static gboolean
source_dispatch(GSource *source, GSourceFunc callback, gpointer data)
{
    read_source((RecvSource *)source);
    return G_SOURCE_CONTINUE;
}

static void
source_finalize(GSource *source)
{
    RecvSource *r = (RecvSource *)source;
    /* A later source may have the same socket (a new selected pair) */
    gpointer current = g_hash_table_lookup(r->batch->sources, GINT_TO_POINTER(r->pollfd.fd));
    if (current == r)
        g_hash_table_remove(r->batch->sources, GINT_TO_POINTER(r->pollfd.fd));
}

static GSourceFuncs source_funcs = {
    .prepare = source_prepare,
    .check = source_check,
    .dispatch = source_dispatch,
    .finalize = source_finalize,
};

GSource *
bridge_recv_source_new(BridgeRecvBatch *batch, int fd, const struct sockaddr *remote,
                       socklen_t remote_len, BridgeRecvFunc fn, gpointer data)
{
    g_return_val_if_fail(remote_len <= sizeof(struct sockaddr_storage), NULL);
    GSource *source = g_source_new(&source_funcs, sizeof(RecvSource));
    RecvSource *r = (RecvSource *)source;
    r->batch = batch;
    r->pollfd = (GPollFD){.fd = fd, .events = G_IO_IN | G_IO_ERR};
    memcpy(&r->remote, remote, remote_len);
    r->fn = fn;
    r->data = data;
    g_source_add_poll(source, &r->pollfd);
    /* One above libnice's socket sources (G_PRIORITY_DEFAULT): see recv-batch.h. */
    g_source_set_priority(source, G_PRIORITY_DEFAULT - 1);
    /* Not blocked while it dispatches: blocking takes its descriptor out of the poll set
     * and puts it back, a wasted pass each time (endpoint.c says more). It never runs the
     * loop itself. */
    g_source_set_can_recurse(source, TRUE);
    g_hash_table_insert(batch->sources, GINT_TO_POINTER(fd), r);
    return source;
}

/* The source reading `fd`, when it is one and may read in this pass. */
static RecvSource *
ready_source(BridgeRecvBatch *b, const GPollFD *pollfd)
{
    RecvSource *r = g_hash_table_lookup(b->sources, GINT_TO_POINTER(pollfd->fd));
    if (r == NULL || pollfd->revents != G_IO_IN || g_source_is_destroyed(&r->source) ||
        g_source_get_context(&r->source) == NULL)
        return NULL;
    return r;
}

gboolean
bridge_recv_batch_read_ready(BridgeRecvBatch *b, const GPollFD *fds, guint n)
{
    if (bridge_recv_batch_held(b))
        return FALSE;
    guint found = 0;
    for (guint i = 0; i < n; i++) {
        if (fds[i].revents == 0)
            continue;
        if (ready_source(b, &fds[i]) == NULL)
            return FALSE; /* GLib's to dispatch, with everything else it found */
        found++;
    }
    if (found == 0)
        return FALSE;
    for (guint i = 0; i < n; i++) {
        if (fds[i].revents == 0)
            continue;
        /* Looked up again: reading one may have ended another's endpoint. */
        RecvSource *r = ready_source(b, &fds[i]);
        if (r == NULL)
            continue;
        g_source_ref(&r->source); /* as GLib holds it while it dispatches */
        read_source(r);
        g_source_unref(&r->source);
    }
    return TRUE;
}
