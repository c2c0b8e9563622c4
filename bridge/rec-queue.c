/* The recording queue (see rec-queue.h). Positions count bytes from the start and only grow;
 * `position & mask` is the offset in the buffer. Each entry is a 4-byte length followed by
 * the entry, padded to 8 bytes; an entry never wraps: when it does not fit before the end
 * of the buffer, a WRAP marker fills the rest and the entry starts at offset 0. */
#include "rec-queue.h"

#include <string.h>

#define WRAP       G_MAXUINT32
#define ALIGN8(n)  (((n) + 7) & ~(gsize)7)
#define ENTRY(len) ALIGN8(4 + (len))

struct _BridgeRecQueue {
    guint8 *buf;
    gsize mask;
    /* The producer's cache line: what it published, and what it is writing. */
    guint8 pad0[64];
    guint64 head;
    guint64 next_head;
    /* The consumer's, apart. */
    guint8 pad1[64];
    guint64 tail;
    gsize peeked; /* bytes the entry returned by peek takes (marker skips included) */
};

BridgeRecQueue *
bridge_rec_queue_new(gsize size)
{
    gsize cap = BRIDGE_REC_QUEUE_MIN;
    while (cap < size)
        cap <<= 1;
    BridgeRecQueue *q = g_new0(BridgeRecQueue, 1);
    q->buf = g_malloc(cap);
    memset(q->buf, 0, cap); /* every page touched now, not on the packet path */
    q->mask = cap - 1;
    return q;
}

void
bridge_rec_queue_free(BridgeRecQueue *q)
{
    if (q == NULL)
        return;
    g_free(q->buf);
    g_free(q);
}

gsize
bridge_rec_queue_capacity(const BridgeRecQueue *q)
{
    return q->mask + 1;
}

static void
put32(guint8 *at, guint32 v)
{
    memcpy(at, &v, sizeof v);
}

static guint32
get32(const guint8 *at)
{
    guint32 v;
    memcpy(&v, at, sizeof v);
    return v;
}

guint8 *
bridge_rec_queue_reserve(BridgeRecQueue *q, gsize len)
{
    gsize cap = q->mask + 1;
    gsize need = ENTRY(len);
    guint64 head = q->head;
    guint64 tail = __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE);
    gsize pos = head & q->mask;
    gsize until_end = cap - pos;
    gsize skip = need > until_end ? until_end : 0;
    if (need > cap / 2 || head + skip + need - tail > cap)
        return NULL;
    if (skip > 0) {
        put32(q->buf + pos, WRAP);
        pos = 0;
    }
    put32(q->buf + pos, (guint32)len);
    q->next_head = head + skip + need;
    return q->buf + pos + 4;
}

void
bridge_rec_queue_commit(BridgeRecQueue *q)
{
    __atomic_store_n(&q->head, q->next_head, __ATOMIC_RELEASE);
}

const guint8 *
bridge_rec_queue_peek(BridgeRecQueue *q, gsize *len)
{
    guint64 head = __atomic_load_n(&q->head, __ATOMIC_ACQUIRE);
    guint64 tail = q->tail;
    if (tail == head)
        return NULL;
    gsize pos = tail & q->mask;
    gsize skip = 0;
    guint32 n = get32(q->buf + pos);
    if (n == WRAP) {
        skip = q->mask + 1 - pos;
        pos = 0;
        n = get32(q->buf);
    }
    q->peeked = skip + ENTRY(n);
    *len = n;
    return q->buf + pos + 4;
}

void
bridge_rec_queue_release(BridgeRecQueue *q)
{
    __atomic_store_n(&q->tail, q->tail + q->peeked, __ATOMIC_RELEASE);
    q->peeked = 0;
}
