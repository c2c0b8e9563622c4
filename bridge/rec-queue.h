/* The queue between a conference's media worker and its recording's writer thread: a
 * single-producer, single-consumer ring of variable-sized entries in one buffer allocated
 * when the recording starts. The producer (the worker) never allocates, never takes a lock
 * and never waits: when an entry does not fit, reserving fails and the caller drops it. The
 * consumer (the writer thread) reads entries in place and releases them in order. The two
 * sides share only the two positions, published with release stores and read with acquire
 * loads. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define BRIDGE_REC_QUEUE_MIN (16 * 1024)

typedef struct _BridgeRecQueue BridgeRecQueue;

/* `size` bytes (rounded up to a power of two, at least BRIDGE_REC_QUEUE_MIN). */
BridgeRecQueue *bridge_rec_queue_new(gsize size);
void bridge_rec_queue_free(BridgeRecQueue *queue);
gsize bridge_rec_queue_capacity(const BridgeRecQueue *queue);

/* Producer: room for an entry of `len` bytes (8-byte aligned), or NULL when it does not fit
 * now. Nothing is visible to the consumer until bridge_rec_queue_commit(). */
guint8 *bridge_rec_queue_reserve(BridgeRecQueue *queue, gsize len);
void bridge_rec_queue_commit(BridgeRecQueue *queue);

/* Consumer: the oldest entry (its length in *len), or NULL when the queue is empty; the
 * entry stays valid until bridge_rec_queue_release(). */
const guint8 *bridge_rec_queue_peek(BridgeRecQueue *queue, gsize *len);
void bridge_rec_queue_release(BridgeRecQueue *queue);

G_END_DECLS
