/* The component's outgoing stanzas while they wait for the socket, written in a fair order.
 *
 * Each stanza belongs to a flow (the bare JID it is sent from: a room, or the service) and
 * has a class. Flows take turns one stanza at a time, so one room's fan-out never holds back
 * another room's joins; a flow whose next stanza is control (an IQ: answers, Jingle,
 * Colibri) is served before those whose next is bulk (messages, presences). Within a flow
 * the order never changes: a room's IQ never overtakes the presences sent before it.
 *
 * The queue counts its bytes. Past `high_bytes` it says "throttled" until it has drained
 * to `low_bytes`: its owner stops reading new stanzas meanwhile (backpressure), so a flood
 * slows down instead of growing memory. A stanza that is partly written stays first until
 * it is whole: the stream must never interleave two stanzas. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
    CC_SEND_CONTROL,
    CC_SEND_BULK,
} CcSendClass;

typedef struct _CcSendQueue CcSendQueue;

/* `low_bytes` is clamped to at most `high_bytes`. */
CcSendQueue *cc_send_queue_new(gsize high_bytes, gsize low_bytes);
void cc_send_queue_free(CcSendQueue *queue);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CcSendQueue, cc_send_queue_free)

/* Queues `len` bytes of `text` (taken; freed with g_free) in `flow` (copied). */
void cc_send_queue_push(CcSendQueue *queue, CcSendClass cls, const char *flow, char *text,
                        gsize len);

/* The bytes to write next (the rest of the stanza under way, else the next one in turn), or
 * NULL when the queue is empty. */
const char *cc_send_queue_peek(CcSendQueue *queue, gsize *len);
/* `written` bytes of what cc_send_queue_peek() returned went out. */
void cc_send_queue_consumed(CcSendQueue *queue, gsize written);

/* Drops everything (the stream is gone); returns how many stanzas were dropped. */
guint cc_send_queue_clear(CcSendQueue *queue);

gsize cc_send_queue_bytes(const CcSendQueue *queue);
guint cc_send_queue_length(const CcSendQueue *queue);
/* Stanzas of `flow` (any class) waiting, the one under way included. */
guint cc_send_queue_flow_length(const CcSendQueue *queue, const char *flow);
/* TRUE from when the bytes exceed the high-water mark until they are back at the low one. */
gboolean cc_send_queue_throttled(const CcSendQueue *queue);
/* The most bytes the queue has held. */
gsize cc_send_queue_peak_bytes(const CcSendQueue *queue);

G_END_DECLS
