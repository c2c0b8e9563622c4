/* The worker's send queue (see send-batch.h). Entries are chained per destination (the
 * receiving endpoint) as they are committed; forgetting a destination unlinks its chain; a flush
 * walks the destinations in the order they were first queued and, for each, cuts its chain into
 * messages: a run of equal-sized packets (the last may be shorter) up to the kernel's GSO limits
 * becomes one message with a UDP_SEGMENT control message, everything else a plain datagram; a
 * destination's messages leave in one sendmmsg() on its socket. A message the kernel refuses is
 * counted as dropped, and the rest still go; a GSO message refused as such is sent again packet by
 * packet. */
#include "send-batch.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

#define DEST_BUCKETS (2 * BRIDGE_SEND_BATCH_SLOTS) /* open addressing, at most half full */

typedef struct {
    int fd;
    socklen_t addr_len;
    struct sockaddr_storage addr;
    guint16 len;
    gboolean forwarded;
    gint next; /* the next entry to the same owner, -1 */
} Entry;

typedef struct {
    gconstpointer owner;
    guint64 generation; /* the bucket is in use when it equals the batch's (never wraps) */
    gint head, tail;
} Dest;

typedef struct {
    struct mmsghdr msgs[BRIDGE_SEND_BATCH_SLOTS];
    struct iovec iovs[BRIDGE_SEND_BATCH_SLOTS];
    union {
        char buf[CMSG_SPACE(sizeof(guint16))];
        struct cmsghdr align;
    } cmsgs[BRIDGE_SEND_BATCH_SLOTS];
    gint first[BRIDGE_SEND_BATCH_SLOTS]; /* each message's first entry */
    guint segments[BRIDGE_SEND_BATCH_SLOTS];
} Scratch;

struct _BridgeSendBatch {
    guint8 (*bufs)[BRIDGE_BUFFER_SIZE];
    Entry entries[BRIDGE_SEND_BATCH_SLOTS];
    guint n;
    Dest dests[DEST_BUCKETS];
    guint64 generation;
    gint order[BRIDGE_SEND_BATCH_SLOTS]; /* buckets of the destinations, first queued first */
    guint n_dests;
    gboolean gso;
    BridgeWorkerCounts *counts;
    Scratch *scratch;
};

/* Kernels before 4.18 do not know UDP_SEGMENT and would ignore it in a control message,
 * sending a run as one oversized datagram: ask once. */
static gboolean
gso_supported(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return FALSE;
    int size = 0;
    socklen_t len = sizeof size;
    gboolean ok = getsockopt(fd, SOL_UDP, UDP_SEGMENT, &size, &len) == 0;
    close(fd);
    if (!ok)
        g_info("this kernel has no UDP GSO; media is sent packet by packet");
    return ok;
}

BridgeSendBatch *
bridge_send_batch_new(BridgeWorkerCounts *counts)
{
    BridgeSendBatch *b = g_new0(BridgeSendBatch, 1);
    b->bufs = g_malloc(sizeof *b->bufs * BRIDGE_SEND_BATCH_SLOTS);
    b->scratch = g_new0(Scratch, 1);
    b->generation = 1;
    b->gso = gso_supported();
    b->counts = counts;
    return b;
}

void
bridge_send_batch_free(BridgeSendBatch *b)
{
    if (b == NULL)
        return;
    g_free(b->bufs);
    g_free(b->scratch);
    g_free(b);
}

guint
bridge_send_batch_pending(const BridgeSendBatch *b)
{
    return b->n;
}

void
bridge_send_batch_disable_gso(BridgeSendBatch *b)
{
    b->gso = FALSE;
}

gboolean
bridge_send_batch_gso_enabled(const BridgeSendBatch *b)
{
    return b->gso;
}

guint8 *
bridge_send_batch_slot(BridgeSendBatch *b)
{
    if (b->n == BRIDGE_SEND_BATCH_SLOTS)
        bridge_send_batch_flush(b);
    return b->bufs[b->n];
}

static guint
dest_hash(gconstpointer owner)
{
    /* Fibonacci hashing: the top bits of the product depend on every bit of the pointer. */
    return (guint)(((guint64)(guintptr)owner * G_GUINT64_CONSTANT(0x9E3779B97F4A7C15)) >> 54) %
           DEST_BUCKETS;
}

static Dest *
dest_for(BridgeSendBatch *b, gconstpointer owner)
{
    guint h = dest_hash(owner);
    for (;; h = (h + 1) % DEST_BUCKETS) {
        Dest *d = &b->dests[h];
        if (d->generation != b->generation) {
            *d = (Dest){.owner = owner, .generation = b->generation, .head = -1, .tail = -1};
            b->order[b->n_dests++] = (gint)h;
            return d;
        }
        if (d->owner == owner)
            return d;
    }
}

void
bridge_send_batch_commit(BridgeSendBatch *b, int fd, const struct sockaddr *addr,
                         socklen_t addr_len, gsize len, gconstpointer owner, gboolean forwarded)
{
    g_return_if_fail(b->n < BRIDGE_SEND_BATCH_SLOTS && len <= BRIDGE_BUFFER_SIZE &&
                     addr_len <= sizeof(struct sockaddr_storage) && owner != NULL);
    gint i = (gint)b->n++;
    Entry *e = &b->entries[i];
    e->fd = fd;
    e->addr_len = addr_len;
    memcpy(&e->addr, addr, addr_len);
    e->len = (guint16)len;
    e->forwarded = forwarded;
    e->next = -1;
    Dest *d = dest_for(b, owner);
    if (d->tail < 0)
        d->head = i;
    else
        b->entries[d->tail].next = i;
    d->tail = i;
}

static Dest *
dest_lookup(BridgeSendBatch *b, gconstpointer owner)
{
    guint h = dest_hash(owner);
    for (;; h = (h + 1) % DEST_BUCKETS) {
        Dest *d = &b->dests[h];
        if (d->generation != b->generation)
            return NULL;
        if (d->owner == owner)
            return d;
    }
}

void
bridge_send_batch_forget(BridgeSendBatch *b, gconstpointer owner)
{
    Dest *d = dest_lookup(b, owner);
    if (d == NULL)
        return;
    for (gint i = d->head; i >= 0; i = b->entries[i].next)
        b->counts->receiver_gone++;
    /* A new endpoint at the same address starts a chain of its own. */
    d->head = d->tail = -1;
}

static gboolean
same_destination(const Entry *a, const Entry *b)
{
    return a->fd == b->fd && a->addr_len == b->addr_len &&
           memcmp(&a->addr, &b->addr, a->addr_len) == 0;
}

static void
count_sent(BridgeSendBatch *b, gint first, guint segments)
{
    BridgeWorkerCounts *c = b->counts;
    gint i = first;
    for (guint k = 0; k < segments; k++, i = b->entries[i].next) {
        c->packets_out++;
        c->bytes_out += b->entries[i].len;
        if (b->entries[i].forwarded)
            c->rtp_forwarded++;
    }
    if (segments > 1)
        c->gso_packets += segments;
}

/* A GSO message the kernel refused as such (no UDP_SEGMENT support, no checksum offload on
 * the way out, a segment over the path MTU): its packets one by one. */
static void
send_one_by_one(BridgeSendBatch *b, gint first, guint segments)
{
    gint i = first;
    for (guint k = 0; k < segments; k++, i = b->entries[i].next) {
        const Entry *e = &b->entries[i];
        b->counts->send_calls++;
        if (sendto(e->fd, b->bufs[i], e->len, MSG_DONTWAIT, (const struct sockaddr *)&e->addr,
                   e->addr_len) < 0)
            b->counts->send_failed++;
        else
            count_sent(b, i, 1);
    }
}

static void
message_failed(BridgeSendBatch *b, guint m, int err)
{
    Scratch *s = b->scratch;
    if (s->segments[m] > 1 &&
        (err == EIO || err == EINVAL || err == EOPNOTSUPP || err == ENOPROTOOPT)) {
        if (err != EINVAL && b->gso) { /* EINVAL may be one oversized segment, not the kernel */
            b->gso = FALSE;
            b->counts->gso_disabled++;
            g_info("UDP GSO refused by the kernel (%s); sending packet by packet", g_strerror(err));
        }
        send_one_by_one(b, s->first[m], s->segments[m]);
        return;
    }
    b->counts->send_failed += s->segments[m];
}

/* Sends messages [from, to) that all leave through one socket. */
static void
send_messages(BridgeSendBatch *b, int fd, guint from, guint to)
{
    Scratch *s = b->scratch;
    while (from < to) {
        b->counts->send_calls++;
        int n = sendmmsg(fd, s->msgs + from, to - from, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
            /* The socket's send buffer is full: the rest would fail the same way. */
            for (guint m = from; m < to; m++)
                b->counts->send_failed += s->segments[m];
            return;
        }
        if (n < 0) {
            message_failed(b, from, errno);
            from++;
            continue;
        }
        for (guint m = from; m < from + (guint)n; m++)
            count_sent(b, s->first[m], s->segments[m]);
        from += (guint)n;
    }
}

/* Cuts one destination's chain into messages starting at message `m`; returns the number
 * of messages after it. */
static guint
build_messages(BridgeSendBatch *b, gint head, guint m, guint *iov)
{
    Scratch *s = b->scratch;
    for (gint i = head; i >= 0;) {
        const Entry *first = &b->entries[i];
        guint segments = 1, bytes = first->len;
        s->iovs[*iov] = (struct iovec){.iov_base = b->bufs[i], .iov_len = first->len};
        gint j = first->next;
        while (b->gso && j >= 0 && segments < BRIDGE_GSO_MAX_SEGMENTS) {
            const Entry *e = &b->entries[j];
            if (e->len > first->len || bytes + e->len > BRIDGE_GSO_MAX_BYTES ||
                !same_destination(first, e))
                break;
            s->iovs[*iov + segments] = (struct iovec){.iov_base = b->bufs[j], .iov_len = e->len};
            segments++;
            bytes += e->len;
            j = e->next;
            if (e->len < first->len)
                break; /* only the last segment may be shorter */
        }
        struct msghdr *h = &s->msgs[m].msg_hdr;
        *h = (struct msghdr){.msg_name = (void *)&first->addr,
                             .msg_namelen = first->addr_len,
                             .msg_iov = &s->iovs[*iov],
                             .msg_iovlen = segments};
        if (segments > 1) {
            h->msg_control = s->cmsgs[m].buf;
            h->msg_controllen = sizeof s->cmsgs[m].buf;
            struct cmsghdr *c = CMSG_FIRSTHDR(h);
            c->cmsg_level = SOL_UDP;
            c->cmsg_type = UDP_SEGMENT;
            c->cmsg_len = CMSG_LEN(sizeof(guint16));
            guint16 size = first->len;
            memcpy(CMSG_DATA(c), &size, sizeof size);
        }
        s->first[m] = i;
        s->segments[m] = segments;
        *iov += segments;
        m++;
        i = j;
    }
    return m;
}

void
bridge_send_batch_flush(BridgeSendBatch *b)
{
    if (b->n == 0)
        return;
    guint iov = 0;
    for (guint d = 0; d < b->n_dests; d++) {
        const Dest *dest = &b->dests[b->order[d]];
        guint end = build_messages(b, dest->head, 0, &iov);
        /* A destination's entries may span sockets only if its pair changed mid-batch. */
        guint from = 0;
        for (guint m = 1; m <= end; m++) {
            int fd = b->entries[b->scratch->first[from]].fd;
            if (m == end || b->entries[b->scratch->first[m]].fd != fd) {
                send_messages(b, fd, from, m);
                from = m;
            }
        }
        iov = 0;
    }
    b->n = 0;
    b->n_dests = 0;
    b->generation++;
}
