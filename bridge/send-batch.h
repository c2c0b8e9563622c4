/* A worker's outgoing datagrams, queued while its main loop iteration forwards packets and
 * sent together when the iteration ends (or the queue is full). Consecutive packets to one
 * destination, all of one size but the last, leave as a single UDP GSO message: the
 * kernel routes and builds the message once and splits it, which costs far less than a
 * system call and a trip through the stack per packet. A destination's packets keep their
 * order. Used only on its worker's thread. */
#pragma once

#include "packet-size.h"
#include "stats.h"

#include <glib.h>
#include <sys/socket.h>

G_BEGIN_DECLS

#define BRIDGE_SEND_BATCH_SLOTS 512 /* packets queued before a flush is forced */
#define BRIDGE_GSO_MAX_SEGMENTS 64  /* the kernel's UDP_MAX_SEGMENTS on older kernels */
#define BRIDGE_GSO_MAX_BYTES    60000

typedef struct _BridgeSendBatch BridgeSendBatch;

/* Counts go to `counts` (the worker's own; see stats.h). */
BridgeSendBatch *bridge_send_batch_new(BridgeWorkerCounts *counts);
void bridge_send_batch_free(BridgeSendBatch *batch);
/* The buffer for the next packet (BRIDGE_BUFFER_SIZE bytes): fill it, then commit. A slot
 * that is not committed is simply reused. Flushes first when the queue is full. */
guint8 *bridge_send_batch_slot(BridgeSendBatch *batch);
/* Queues the slot's `len` bytes for `addr` through socket `fd`, on behalf of `owner` (the
 * receiving endpoint; see bridge_send_batch_forget). `forwarded`: an RTP copy, counted in
 * rtp_forwarded once it is sent. */
void bridge_send_batch_commit(BridgeSendBatch *batch, int fd, const struct sockaddr *addr,
                              socklen_t addr_len, gsize len, gconstpointer owner,
                              gboolean forwarded);
/* Sends everything queued. */
void bridge_send_batch_flush(BridgeSendBatch *batch);
/* Drops what is queued for `owner` (counted as receiver_gone): its socket is about to go. */
void bridge_send_batch_forget(BridgeSendBatch *batch, gconstpointer owner);
guint bridge_send_batch_pending(const BridgeSendBatch *batch);
/* Stops using GSO (as when the kernel refuses it); for tests and for kernels without it. */
void bridge_send_batch_disable_gso(BridgeSendBatch *batch);
gboolean bridge_send_batch_gso_enabled(const BridgeSendBatch *batch);

G_END_DECLS
