/* Reading an endpoint's media from its selected pair's socket many datagrams per system
 * call, instead of through libnice: one recvmsg() per datagram, each with libnice's checks
 * and a socket address object, and one more that finds the queue empty. libnice keeps ICE:
 * it still owns the socket, and whatever is not media from the selected remote address
 * (STUN: consent checks and their answers, keepalives; anything from another address; a
 * datagram too big for our buffers) is left at the head of the queue for libnice to read.
 * To see what is next without taking it, a batch is first peeked (with SO_PEEK_OFF set,
 * one recvmmsg() peeks many datagrams), then the media at its head is taken.
 *
 * The source polls the socket beside libnice's own source for it, one priority above
 * libnice's, so that GLib dispatches it alone while media waits (and libnice's source
 * does not wake only to find the queue empty). All of a worker's sources stand aside for
 * the next iteration of its loop when one finds libnice's datagram next, and for one after
 * BRIDGE_RECV_HOLD_AFTER iterations or BRIDGE_RECV_HOLD_AFTER_US in which media kept
 * them busy without the loop ever waiting in poll(): libnice's sources, and every other
 * at its priority (its timers, relayed endpoints' sockets), then run. Used only on its worker's
 * thread. */
#pragma once

#include "packet-size.h"
#include "stats.h"

#include <glib.h>
#include <sys/socket.h>

G_BEGIN_DECLS

#define BRIDGE_RECV_BATCH_SIZE    32   /* datagrams per recvmmsg() */
#define BRIDGE_RECV_BATCH_ROUNDS  4    /* recvmmsg() rounds per dispatch: then others' turn */
#define BRIDGE_RECV_HOLD_AFTER    16   /* iterations in a row busy with media, */
#define BRIDGE_RECV_HOLD_AFTER_US 1000 /* or this long: then one stands aside */

typedef enum {
    BRIDGE_RECV_EMPTY,   /* the last read found fewer datagrams than it could take */
    BRIDGE_RECV_YIELD,   /* the next datagram is libnice's */
    BRIDGE_RECV_MORE,    /* it stopped after its rounds with a full last read */
    BRIDGE_RECV_STOPPED, /* the callback asked it to stop */
    BRIDGE_RECV_FAILED,  /* the socket refused with an error other than EAGAIN */
} BridgeRecvResult;

/* Handles one datagram, which it may change in place (BRIDGE_BUFFER_SIZE bytes of room);
 * FALSE stops the read: the datagrams already taken and not handled are dropped. */
typedef gboolean (*BridgeRecvFunc)(guint8 *buf, gsize len, gpointer data);

/* A worker's buffers, and the state of its sources. */
typedef struct _BridgeRecvBatch BridgeRecvBatch;

/* Counts go to `counts` (the worker's own; see stats.h). */
BridgeRecvBatch *bridge_recv_batch_new(BridgeWorkerCounts *counts);
void bridge_recv_batch_free(BridgeRecvBatch *batch);
/* Called once at the start of every iteration of the worker's loop, before any source is
 * prepared: decides whether the sources stand aside in this one. */
void bridge_recv_batch_iteration(BridgeRecvBatch *batch);
/* Called by the loop's poll after it had to wait (nothing was ready as it began: nothing
 * at a lower priority was waiting either): the sources' busy spell starts over. Only
 * passes that found work waiting count towards standing aside. */
void bridge_recv_batch_waited(BridgeRecvBatch *batch);
gboolean bridge_recv_batch_held(const BridgeRecvBatch *batch);

/* Sets the socket up for peeking batches: FALSE (errno set) when the kernel cannot, and
 * then the socket is left to libnice. */
gboolean bridge_recv_batch_prepare_socket(int fd);

/* Reads up to BRIDGE_RECV_BATCH_ROUNDS batches of datagrams from `remote` that are RTP,
 * RTCP or DTLS (RFC 7983) and fit BRIDGE_BUFFER_SIZE, calling `fn` for each; stops before
 * the first datagram that is not. `*handled`, when not NULL, gets the number handed to fn. */
BridgeRecvResult bridge_recv_batch_read(BridgeRecvBatch *batch, int fd,
                                        const struct sockaddr *remote, BridgeRecvFunc fn,
                                        gpointer data, guint *handled);

/* A source (to attach to the worker's context) that reads `fd` with the worker's `batch`
 * and hands each datagram to `fn`; destroy it before the socket closes. `remote` is
 * copied. */
GSource *bridge_recv_source_new(BridgeRecvBatch *batch, int fd, const struct sockaddr *remote,
                                socklen_t remote_len, BridgeRecvFunc fn, gpointer data);

/* The loop's passes without GLib's: after a poll of the worker's whole array (`fds`, as
 * GLib gave it to its poll function) found only sockets of this batch's sources ready, and
 * ready only to read, and the sources do not stand aside in this pass, reads them as their
 * dispatch would and returns TRUE: the loop may begin its next pass and poll again without
 * GLib's walk over all its sources (prepare, check, dispatch). Otherwise it reads nothing
 * and returns FALSE: the poll's answer goes to GLib, which dispatches all it found. */
gboolean bridge_recv_batch_read_ready(BridgeRecvBatch *batch, const GPollFD *fds, guint n);

G_END_DECLS
