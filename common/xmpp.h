/* An XEP-0114 component connection: libstrophe driven from a GLib main loop.
 *
 * The connection runs on the thread-default main context through a CcStropheLoop
 * (strophe-loop.h). When the server goes away the component reconnects with exponential
 * backoff (with jitter) until stopped.
 *
 * Incoming stanzas are dispatched here: IQ requests to the handler registered for the
 * namespace and name of their payload (unknown ones get service-unavailable), IQ responses
 * to the request that is waiting for them, messages and presences to one handler each.
 *
 * Outgoing stanzas wait in a bounded, fair queue (xmpp-sendq.h): rooms take turns, IQs go
 * first, and while the queue is over its high-water mark nothing more is read from the
 * server, so that a flood slows down instead of growing memory. */
#pragma once

#include "metrics.h"

#include <glib.h>
#include <strophe.h>

G_BEGIN_DECLS

typedef struct _CcXmppComponent CcXmppComponent;

typedef struct {
    const char *server; /* host of the XMPP server's component port */
    guint16 port;
    const char *domain;     /* the component's domain, e.g. conference.example.org */
    const char *secret;     /* the shared handshake secret */
    guint reconnect_min_ms; /* first retry delay; 0 means 250 ms */
    guint reconnect_max_ms; /* backoff ceiling; 0 means 4000 ms */
    /* The send queue's bounds (xmpp-sendq.h): past the high-water mark nothing more is read
     * from the server until the queue is down to the low one. 0: 8 MiB and 4 MiB. */
    gsize send_queue_high_bytes, send_queue_low_bytes;
} CcXmppSettings;

/* Handles one stanza. Returning FALSE from an IQ request handler makes the dispatcher
 * answer service-unavailable; from a message or presence handler it means "not mine". */
typedef gboolean (*CcStanzaHandler)(CcXmppComponent *comp, xmpp_stanza_t *stanza,
                                    gpointer user_data);

/* The answer to an IQ we sent: `reply` is the result or error stanza (borrowed), or NULL on
 * timeout or disconnection; `error` is set for anything but a result. */
typedef void (*CcIqCallback)(CcXmppComponent *comp, xmpp_stanza_t *reply, const GError *error,
                             gpointer user_data);

typedef void (*CcStateCallback)(CcXmppComponent *comp, gboolean connected, gpointer user_data);

CcXmppComponent *cc_xmpp_component_new(const CcXmppSettings *settings, CcMetrics *metrics);
/* Frees the component; IQs still waiting for an answer are dropped without their callback
 * (stop the component first to have them fail with a disconnection error). */
void cc_xmpp_component_free(CcXmppComponent *comp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CcXmppComponent, cc_xmpp_component_free)

/* The libstrophe context stanzas for this component are built in. Release every stanza
 * built in it before freeing the component, which frees the context. */
xmpp_ctx_t *cc_xmpp_component_ctx(CcXmppComponent *comp);
const char *cc_xmpp_component_domain(CcXmppComponent *comp);
gboolean cc_xmpp_component_is_connected(CcXmppComponent *comp);

void cc_xmpp_component_set_state_callback(CcXmppComponent *comp, CcStateCallback callback,
                                          gpointer user_data);
void cc_xmpp_component_register_iq(CcXmppComponent *comp, const char *ns, const char *name,
                                   CcStanzaHandler handler, gpointer user_data);
/* `name` is "message" or "presence". */
void cc_xmpp_component_register_stanza(CcXmppComponent *comp, const char *name,
                                       CcStanzaHandler handler, gpointer user_data);

/* Sees every IQ (request or response) before the dispatch above; when it returns TRUE the
 * stanza was its to handle and goes no further (the MUC routes IQs between occupants so). */
void cc_xmpp_component_set_iq_router(CcXmppComponent *comp, CcStanzaHandler handler,
                                     gpointer user_data);

/* Connects, and keeps reconnecting until cc_xmpp_component_stop(). */
void cc_xmpp_component_start(CcXmppComponent *comp);
/* Closes the stream cleanly; `done` runs once the connection is closed (at most after
 * `timeout_ms`). */
void cc_xmpp_component_stop(CcXmppComponent *comp, guint timeout_ms, GSourceFunc done,
                            gpointer user_data);

/* Handles `stanza` exactly as if the server had delivered it (tests and fuzzing drive the
 * daemons' handlers this way; replies are counted as dropped while not connected). */
void cc_xmpp_component_inject(CcXmppComponent *comp, xmpp_stanza_t *stanza);

/* Tests and fuzzing: hands every stanza the component sends to `outbox` (which must copy
 * what it keeps) instead of the connection, as if connected. NULL restores normal sending. */
typedef void (*CcXmppOutbox)(xmpp_stanza_t *stanza, gpointer user_data);
void cc_xmpp_component_set_outbox(CcXmppComponent *comp, CcXmppOutbox outbox, gpointer user_data);

/* Queues a stanza (reference taken by the caller is kept: this does not consume it) for
 * writing from the main loop, fairly among the addresses it is sent from (xmpp-sendq.h).
 * Dropped and counted when not connected. */
gboolean cc_xmpp_component_send(CcXmppComponent *comp, xmpp_stanza_t *stanza);
/* Stanzas sent from the bare JID `from` that still wait to be written (a room's backlog). */
guint cc_xmpp_component_backlog(CcXmppComponent *comp, const char *from);

/* Sends an IQ get/set, giving it a random id if it has none, and calls `callback` exactly
 * once: with the response, or with a timeout or disconnection error. */
void cc_xmpp_component_send_iq(CcXmppComponent *comp, xmpp_stanza_t *iq, guint timeout_ms,
                               CcIqCallback callback, gpointer user_data);

G_END_DECLS
