/* The worker pool: a fixed number of threads, each running its own GMainContext. Every
 * endpoint of a conference lives on one worker, so forwarding inside a conference is
 * single-threaded and lock-free. The control thread hands work to a worker by message
 * (bridge_worker_call), never by sharing mutable state. Each worker owns the scratch
 * buffers its per-packet path uses, its send batch and its counters: at the start of every
 * iteration of its loop, before it waits, it sends the batch and publishes the counts. */
#pragma once

#include "metrics.h"
#include "packet-size.h"
#include "poller.h"
#include "recv-batch.h"
#include "send-batch.h"
#include "stats.h"

#include <glib.h>

G_BEGIN_DECLS

/* The longest the loop reads media in passes of its own before GLib's next (worker.c). */
#define BRIDGE_WORKER_OWN_PASSES_MS 10

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
    guint8 out[BRIDGE_BUFFER_SIZE]; /* one receiver's copy, when it cannot be batched */
    /* The per-packet path counts here, without atomics; the counts are added to the shared
     * metrics when an iteration of the worker's loop ends, after the batch is sent. */
    BridgeWorkerCounts counts;
    BridgeSendBatch *batch;
    BridgeRecvBatch *recv_batch; /* the buffers and state of its endpoints' recv sources */
    GSource *flush_source;
    BridgePoller *poller;     /* its loop's poll; NULL: GLib's poll() */
    const BridgeStats *stats; /* NULL: counts are kept, not published (unit tests) */
};

BridgeWorkerPool *bridge_worker_pool_new(guint n_workers, CcMetrics *metrics,
                                         const BridgeStats *stats);
/* Stops and joins every thread. Everything living on the workers must be gone already. */
void bridge_worker_pool_free(BridgeWorkerPool *pool);
guint bridge_worker_pool_size(BridgeWorkerPool *pool);
BridgeWorker *bridge_worker_pool_get(BridgeWorkerPool *pool, guint index);
/* The worker with the fewest endpoints (ties: fewest conferences). */
BridgeWorker *bridge_worker_pool_pick(BridgeWorkerPool *pool);

/* Runs `fn(data)` on the worker's thread and waits until it returns. */
void bridge_worker_call(BridgeWorker *worker, void (*fn)(gpointer data), gpointer data);

/* A socket was made for the worker's loop: its number may be one closed since the loop
 * last polled, which the loop's poll must not take for the old one (poller.h). */
void bridge_worker_sockets_changed(BridgeWorker *worker);

void bridge_worker_add_conferences(BridgeWorker *worker, gint delta);
void bridge_worker_add_endpoints(BridgeWorker *worker, gint delta);

G_END_DECLS
