/* The worker pool: a fixed number of threads, each running its own GMainContext. Every
 * endpoint of a conference lives on one worker, so forwarding inside a conference is
 * single-threaded and lock-free. The control thread hands work to a worker by message
 * (bridge_worker_call), never by sharing mutable state. Each worker owns the scratch
 * buffers its per-packet path uses. */
#pragma once

#include "metrics.h"

#include <glib.h>

G_BEGIN_DECLS

/* The largest datagram the bridge accepts, and the room a buffer needs for SRTP on top. */
#define BRIDGE_MAX_PACKET  1500
#define BRIDGE_BUFFER_SIZE (BRIDGE_MAX_PACKET + 160)

typedef struct _BridgeWorker BridgeWorker;
typedef struct _BridgeWorkerPool BridgeWorkerPool;

struct _BridgeWorker {
    guint index;
    GMainContext *context;
    GMainLoop *loop;
    GThread *thread;
    gint conferences; /* atomic: read by the control thread */
    gint endpoints;   /* atomic */
    CcMetric *m_conferences;
    CcMetric *m_endpoints;
    guint8 in[BRIDGE_BUFFER_SIZE];  /* the packet being routed, decrypted in place */
    guint8 out[BRIDGE_BUFFER_SIZE]; /* one receiver's copy, encrypted in place */
};

BridgeWorkerPool *bridge_worker_pool_new(guint n_workers, CcMetrics *metrics);
/* Stops and joins every thread. Everything living on the workers must be gone already. */
void bridge_worker_pool_free(BridgeWorkerPool *pool);
guint bridge_worker_pool_size(BridgeWorkerPool *pool);
BridgeWorker *bridge_worker_pool_get(BridgeWorkerPool *pool, guint index);
/* The worker with the fewest endpoints (ties: fewest conferences). */
BridgeWorker *bridge_worker_pool_pick(BridgeWorkerPool *pool);

/* Runs `fn(data)` on the worker's thread and waits until it returns. */
void bridge_worker_call(BridgeWorker *worker, void (*fn)(gpointer data), gpointer data);

void bridge_worker_add_conferences(BridgeWorker *worker, gint delta);
void bridge_worker_add_endpoints(BridgeWorker *worker, gint delta);

G_END_DECLS
