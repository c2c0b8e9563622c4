/* The XEP-0114 component connection (see xmpp.h). Owns the reconnect backoff, the stanza
 * dispatch tables, the IQs waiting for an answer, and the writing of the send queue with the
 * backpressure it drives; the queue's order belongs to xmpp-sendq.c, the libstrophe
 * connection and its driving from GLib to strophe-loop.c, what a stanza means to the
 * handlers. */
#include "xmpp.h"

#include "cc-autoptr.h"
#include "cc-error.h"
#include "stanza.h"
#include "strophe-loop.h"
#include "xmpp-sendq.h"

#define SEND_QUEUE_HIGH_DEFAULT (8 * 1024 * 1024)
#define SEND_QUEUE_LOW_DEFAULT  (4 * 1024 * 1024)

typedef struct {
    CcStanzaHandler handler;
    gpointer user_data;
} Handler;

typedef struct {
    CcXmppComponent *comp;
    char *id;
    char *to;
    CcIqCallback callback;
    gpointer user_data;
    guint timeout_source;
} PendingIq;

struct _CcXmppComponent {
    char *server, *domain, *secret;
    guint16 port;
    guint backoff_min_ms, backoff_max_ms, backoff_ms;

    CcStropheLoop *loop;
    gboolean connected, started, stopping;
    CcSendQueue *sendq;
    gboolean close_when_sent; /* stopping: the stream closes once the queue is written */
    gint64 paused_since;      /* monotonic µs when reading was paused, 0 while reading */

    guint reconnect_source, stop_timeout_source;
    GSourceFunc stop_done;
    gpointer stop_done_data;

    GHashTable *iq_handlers; /* "ns name" -> Handler* */
    Handler message_handler, presence_handler, iq_router;
    GHashTable *pending; /* id -> PendingIq* */

    CcStateCallback state_callback;
    gpointer state_data;
    CcXmppOutbox outbox;
    gpointer outbox_data;

    CcMetric *m_connected, *m_connects, *m_disconnects, *m_in, *m_out, *m_dropped, *m_iq_timeouts,
        *m_unhandled, *m_malformed, *m_paused, *m_paused_ms, *m_pauses;
};

static void connect_now(CcXmppComponent *comp);

static void
pending_free(PendingIq *p)
{
    g_clear_handle_id(&p->timeout_source, g_source_remove);
    g_free(p->id);
    g_free(p->to);
    g_free(p);
}

static void
pending_finish(CcXmppComponent *comp, PendingIq *p, xmpp_stanza_t *reply, const GError *error)
{
    /* Steal first: the callback may send new IQs (and so touch the table). */
    g_hash_table_steal(comp->pending, p->id);
    p->callback(comp, reply, error, p->user_data);
    pending_free(p);
}

static gboolean
drop_pending(gpointer key, gpointer value, gpointer data)
{
    pending_free(value);
    return TRUE;
}

static void
fail_all_pending(CcXmppComponent *comp)
{
    g_autoptr(GError) error =
        g_error_new_literal(CC_ERROR, CC_ERROR_DISCONNECTED, "connection to the server lost");
    GList *all = g_hash_table_get_values(comp->pending);
    for (GList *l = all; l != NULL; l = l->next)
        pending_finish(comp, l->data, NULL, error);
    g_list_free(all);
}

static guint
next_backoff(CcXmppComponent *comp)
{
    guint delay = comp->backoff_ms;
    comp->backoff_ms = MIN(comp->backoff_ms * 2, comp->backoff_max_ms);
    /* Up to 25% jitter so that many components do not reconnect in lock step. */
    return delay + g_random_int_range(0, (gint32)(delay / 4 + 1));
}

static gboolean
on_reconnect(gpointer data)
{
    CcXmppComponent *comp = data;
    comp->reconnect_source = 0;
    connect_now(comp);
    return G_SOURCE_REMOVE;
}

static gboolean
on_stop_done(gpointer data)
{
    CcXmppComponent *comp = data;
    comp->stop_timeout_source = 0;
    GSourceFunc done = g_steal_pointer(&comp->stop_done);
    if (done != NULL)
        done(comp->stop_done_data);
    return G_SOURCE_REMOVE;
}

static void
set_connected(CcXmppComponent *comp, gboolean connected)
{
    if (comp->connected == connected)
        return;
    comp->connected = connected;
    cc_metric_set(comp->m_connected, connected);
    cc_metric_inc(connected ? comp->m_connects : comp->m_disconnects);
    if (comp->state_callback != NULL)
        comp->state_callback(comp, connected, comp->state_data);
}

/* Reading pauses while the send queue is over its high-water mark and resumes under the
 * low one; the time spent paused is counted. */
static void
update_input(CcXmppComponent *comp)
{
    gboolean throttled = cc_send_queue_throttled(comp->sendq);
    if (throttled == (comp->paused_since != 0))
        return;
    gint64 now = g_get_monotonic_time();
    if (throttled) {
        comp->paused_since = now;
        cc_metric_inc(comp->m_pauses);
    } else {
        cc_metric_add(comp->m_paused_ms, (now - comp->paused_since) / 1000);
        comp->paused_since = 0;
    }
    cc_metric_set(comp->m_paused, throttled);
    cc_strophe_loop_pause_input(comp->loop, throttled);
}

static void
drop_queued(CcXmppComponent *comp)
{
    cc_metric_add(comp->m_dropped, cc_send_queue_clear(comp->sendq));
    cc_strophe_loop_want_write(comp->loop, FALSE);
    update_input(comp);
}

/* Writes queued stanzas until the socket takes no more. */
static void
on_writable(gpointer data)
{
    CcXmppComponent *comp = data;
    gsize len;
    const char *bytes;
    while ((bytes = cc_send_queue_peek(comp->sendq, &len)) != NULL) {
        gsize written = cc_strophe_loop_write(comp->loop, bytes, len);
        cc_send_queue_consumed(comp->sendq, written);
        if (written < len)
            break;
    }
    gboolean empty = cc_send_queue_length(comp->sendq) == 0;
    cc_strophe_loop_want_write(comp->loop, !empty);
    update_input(comp);
    if (empty && comp->close_when_sent) {
        comp->close_when_sent = FALSE;
        cc_strophe_loop_disconnect(comp->loop);
    }
}

static void
on_conn_event(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
              xmpp_stream_error_t *stream_error, void *data)
{
    CcXmppComponent *comp = data;
    if (event == XMPP_CONN_CONNECT) {
        g_message("connected to %s:%u as %s", comp->server, comp->port, comp->domain);
        comp->backoff_ms = comp->backoff_min_ms;
        set_connected(comp, TRUE);
        return;
    }
    if (event != XMPP_CONN_DISCONNECT && event != XMPP_CONN_FAIL)
        return;
    gboolean was_connected = comp->connected;
    set_connected(comp, FALSE);
    drop_queued(comp);
    fail_all_pending(comp);
    if (comp->stopping) {
        g_clear_handle_id(&comp->stop_timeout_source, g_source_remove);
        comp->stop_timeout_source = g_idle_add(on_stop_done, comp);
        return;
    }
    guint delay = next_backoff(comp);
    const char *reason = stream_error ? "stream error" : error ? g_strerror(error) : "closed";
    if (was_connected)
        g_warning("connection to %s:%u lost (%s); reconnecting in %u ms", comp->server, comp->port,
                  reason, delay);
    else
        g_info("cannot connect to %s:%u (%s); retrying in %u ms", comp->server, comp->port, reason,
               delay);
    comp->reconnect_source = g_timeout_add(delay, on_reconnect, comp);
}

static void
answer_error(CcXmppComponent *comp, xmpp_stanza_t *request, const char *type, const char *condition)
{
    const char *stanza_type = xmpp_stanza_get_type(request);
    /* Never answer an error with an error (RFC 6120 8.3.1). */
    if (stanza_type != NULL && g_str_equal(stanza_type, "error"))
        return;
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_error_reply(request, type, condition, NULL);
    cc_xmpp_component_send(comp, reply);
}

static void
dispatch_iq_request(CcXmppComponent *comp, xmpp_stanza_t *stanza)
{
    xmpp_stanza_t *payload = cc_stanza_first_element(stanza);
    const char *ns = payload ? xmpp_stanza_get_ns(payload) : NULL;
    if (payload == NULL || ns == NULL || xmpp_stanza_get_id(stanza) == NULL) {
        cc_metric_inc(comp->m_unhandled);
        answer_error(comp, stanza, "modify", "bad-request");
        return;
    }
    g_autofree char *key = g_strconcat(ns, " ", xmpp_stanza_get_name(payload), NULL);
    Handler *h = g_hash_table_lookup(comp->iq_handlers, key);
    if (h == NULL || !h->handler(comp, stanza, h->user_data)) {
        cc_metric_inc(comp->m_unhandled);
        answer_error(comp, stanza, "cancel", "service-unavailable");
    }
}

static void
dispatch_iq_response(CcXmppComponent *comp, xmpp_stanza_t *stanza, gboolean is_error)
{
    const char *id = xmpp_stanza_get_id(stanza);
    PendingIq *p = id ? g_hash_table_lookup(comp->pending, id) : NULL;
    const char *from = xmpp_stanza_get_from(stanza);
    /* An answer must come from where the request went, or anyone could answer for it. */
    if (p == NULL || from == NULL || g_ascii_strcasecmp(from, p->to) != 0) {
        cc_metric_inc(comp->m_unhandled);
        g_debug("dropping an IQ response that matches no request");
        return;
    }
    g_autoptr(GError) error = NULL;
    if (is_error) {
        const char *condition = cc_stanza_error_condition(stanza);
        error = g_error_new(CC_ERROR, CC_ERROR_REMOTE, "%s",
                            condition ? condition : "undefined-condition");
    }
    pending_finish(comp, p, stanza, error);
}

static int
on_stanza(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *data)
{
    CcXmppComponent *comp = data;
    const char *name = xmpp_stanza_get_name(stanza);
    const char *type = xmpp_stanza_get_type(stanza);
    if (name == NULL)
        return 1;
    /* The server stamps both addresses on everything it routes to a component: a stanza
     * without them cannot be answered or trusted. */
    if (xmpp_stanza_get_from(stanza) == NULL || xmpp_stanza_get_to(stanza) == NULL) {
        cc_metric_inc(comp->m_malformed);
        return 1;
    }
    if (g_str_equal(name, "iq")) {
        cc_metric_inc(comp->m_in);
        if (comp->iq_router.handler != NULL &&
            comp->iq_router.handler(comp, stanza, comp->iq_router.user_data))
            return 1;
        if (type != NULL && (g_str_equal(type, "get") || g_str_equal(type, "set")))
            dispatch_iq_request(comp, stanza);
        else if (type != NULL && (g_str_equal(type, "result") || g_str_equal(type, "error")))
            dispatch_iq_response(comp, stanza, g_str_equal(type, "error"));
        else
            answer_error(comp, stanza, "modify", "bad-request");
    } else if (g_str_equal(name, "message") || g_str_equal(name, "presence")) {
        cc_metric_inc(comp->m_in);
        gboolean is_message = g_str_equal(name, "message");
        Handler *h = is_message ? &comp->message_handler : &comp->presence_handler;
        gboolean handled = h->handler != NULL && h->handler(comp, stanza, h->user_data);
        if (!handled) {
            cc_metric_inc(comp->m_unhandled);
            /* Presence needs no answer; a message to nobody gets service-unavailable. */
            if (is_message)
                answer_error(comp, stanza, "cancel", "service-unavailable");
        }
    }
    return 1; /* keep this handler */
}

void
cc_xmpp_component_inject(CcXmppComponent *comp, xmpp_stanza_t *stanza)
{
    on_stanza(NULL, stanza, comp);
}

void
cc_xmpp_component_set_outbox(CcXmppComponent *comp, CcXmppOutbox outbox, gpointer user_data)
{
    comp->outbox = outbox;
    comp->outbox_data = user_data;
}

static void
connect_now(CcXmppComponent *comp)
{
    xmpp_conn_t *conn = cc_strophe_loop_new_conn(comp->loop);
    xmpp_conn_set_jid(conn, comp->domain);
    xmpp_conn_set_pass(conn, comp->secret);
    xmpp_handler_add(conn, on_stanza, NULL, NULL, NULL, comp);
    if (!cc_strophe_loop_connect_component(comp->loop, comp->server, comp->port, on_conn_event,
                                           comp)) {
        guint delay = next_backoff(comp);
        g_warning("cannot start a connection to %s:%u; retrying in %u ms", comp->server, comp->port,
                  delay);
        comp->reconnect_source = g_timeout_add(delay, on_reconnect, comp);
    }
}

static gint64
send_queue_length(gpointer data)
{
    return cc_send_queue_length(((CcXmppComponent *)data)->sendq);
}

static gint64
send_queue_bytes(gpointer data)
{
    return (gint64)cc_send_queue_bytes(((CcXmppComponent *)data)->sendq);
}

static gint64
send_queue_peak_bytes(gpointer data)
{
    return (gint64)cc_send_queue_peak_bytes(((CcXmppComponent *)data)->sendq);
}

CcXmppComponent *
cc_xmpp_component_new(const CcXmppSettings *settings, CcMetrics *metrics)
{
    CcXmppComponent *comp = g_new0(CcXmppComponent, 1);
    comp->server = g_strdup(settings->server);
    comp->port = settings->port;
    comp->domain = g_strdup(settings->domain);
    comp->secret = g_strdup(settings->secret);
    comp->backoff_min_ms = settings->reconnect_min_ms ? settings->reconnect_min_ms : 250;
    comp->backoff_max_ms =
        MAX(settings->reconnect_max_ms ? settings->reconnect_max_ms : 4000, comp->backoff_min_ms);
    comp->backoff_ms = comp->backoff_min_ms;
    /* libstrophe's debug output is raw XML with room names and JIDs: the default log keeps
     * only its warnings and errors, which carry no stanza content. */
    comp->loop = cc_strophe_loop_new(NULL, NULL);
    cc_strophe_loop_set_writer(comp->loop, on_writable, comp);
    gsize high =
        settings->send_queue_high_bytes ? settings->send_queue_high_bytes : SEND_QUEUE_HIGH_DEFAULT;
    gsize low = settings->send_queue_low_bytes ? settings->send_queue_low_bytes
                                               : MIN(high / 2, SEND_QUEUE_LOW_DEFAULT);
    comp->sendq = cc_send_queue_new(high, low);
    comp->iq_handlers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    comp->pending = g_hash_table_new(g_str_hash, g_str_equal);
    comp->m_connected = cc_metrics_gauge(metrics, "conclave_xmpp_connected",
                                         "1 while the component stream is up", NULL);
    comp->m_connects = cc_metrics_counter(metrics, "conclave_xmpp_connects_total",
                                          "Component streams established", NULL);
    comp->m_disconnects = cc_metrics_counter(metrics, "conclave_xmpp_disconnects_total",
                                             "Component streams lost or closed", NULL);
    comp->m_in = cc_metrics_counter(metrics, "conclave_xmpp_stanzas_received_total",
                                    "Stanzas received", NULL);
    comp->m_out =
        cc_metrics_counter(metrics, "conclave_xmpp_stanzas_sent_total", "Stanzas sent", NULL);
    comp->m_dropped = cc_metrics_counter(metrics, "conclave_xmpp_stanzas_dropped_total",
                                         "Stanzas not sent because the stream was down", NULL);
    comp->m_iq_timeouts = cc_metrics_counter(metrics, "conclave_xmpp_iq_timeouts_total",
                                             "IQ requests that got no answer in time", NULL);
    comp->m_unhandled = cc_metrics_counter(metrics, "conclave_xmpp_stanzas_unhandled_total",
                                           "Stanzas no handler took (answered with an error "
                                           "where the protocol allows)",
                                           NULL);
    cc_metrics_gauge_func(metrics, "conclave_xmpp_send_queue",
                          "Stanzas waiting to be written to the server", send_queue_length, comp);
    cc_metrics_gauge_func(metrics, "conclave_xmpp_send_queue_bytes",
                          "Bytes waiting to be written to the server", send_queue_bytes, comp);
    cc_metrics_gauge_func(metrics, "conclave_xmpp_send_queue_peak_bytes",
                          "The most bytes the send queue has held", send_queue_peak_bytes, comp);
    comp->m_malformed = cc_metrics_counter(metrics, "conclave_xmpp_stanzas_malformed_total",
                                           "Stanzas dropped for lacking from or to", NULL);
    comp->m_paused = cc_metrics_gauge(metrics, "conclave_xmpp_input_paused",
                                      "1 while reading is paused: the send queue is full", NULL);
    comp->m_pauses = cc_metrics_counter(metrics, "conclave_xmpp_input_pauses_total",
                                        "Times reading paused for a full send queue", NULL);
    comp->m_paused_ms =
        cc_metrics_counter(metrics, "conclave_xmpp_input_paused_milliseconds_total",
                           "Time spent not reading because the send queue was full", NULL);
    return comp;
}

void
cc_xmpp_component_free(CcXmppComponent *comp)
{
    if (comp == NULL)
        return;
    g_clear_handle_id(&comp->reconnect_source, g_source_remove);
    g_clear_handle_id(&comp->stop_timeout_source, g_source_remove);
    comp->stopping = TRUE;
    /* The owner is going away with its callbacks' data: drop what still waits, unanswered. */
    g_hash_table_foreach_remove(comp->pending, drop_pending, NULL);
    cc_strophe_loop_free(comp->loop); /* without a last call to on_conn_event */
    cc_send_queue_free(comp->sendq);
    g_hash_table_unref(comp->iq_handlers);
    g_hash_table_unref(comp->pending);
    g_free(comp->server);
    g_free(comp->domain);
    if (comp->secret != NULL)
        memset(comp->secret, 0, strlen(comp->secret));
    g_free(comp->secret);
    g_free(comp);
}

xmpp_ctx_t *
cc_xmpp_component_ctx(CcXmppComponent *comp)
{
    return cc_strophe_loop_ctx(comp->loop);
}

const char *
cc_xmpp_component_domain(CcXmppComponent *comp)
{
    return comp->domain;
}

gboolean
cc_xmpp_component_is_connected(CcXmppComponent *comp)
{
    return comp->connected || comp->outbox != NULL;
}

void
cc_xmpp_component_set_state_callback(CcXmppComponent *comp, CcStateCallback callback,
                                     gpointer user_data)
{
    comp->state_callback = callback;
    comp->state_data = user_data;
}

void
cc_xmpp_component_register_iq(CcXmppComponent *comp, const char *ns, const char *name,
                              CcStanzaHandler handler, gpointer user_data)
{
    Handler *h = g_new0(Handler, 1);
    h->handler = handler;
    h->user_data = user_data;
    g_hash_table_replace(comp->iq_handlers, g_strconcat(ns, " ", name, NULL), h);
}

void
cc_xmpp_component_register_stanza(CcXmppComponent *comp, const char *name, CcStanzaHandler handler,
                                  gpointer user_data)
{
    g_return_if_fail(g_str_equal(name, "message") || g_str_equal(name, "presence"));
    Handler *h = g_str_equal(name, "message") ? &comp->message_handler : &comp->presence_handler;
    h->handler = handler;
    h->user_data = user_data;
}

void
cc_xmpp_component_set_iq_router(CcXmppComponent *comp, CcStanzaHandler handler, gpointer user_data)
{
    comp->iq_router.handler = handler;
    comp->iq_router.user_data = user_data;
}

void
cc_xmpp_component_start(CcXmppComponent *comp)
{
    g_return_if_fail(!comp->started);
    comp->started = TRUE;
    connect_now(comp);
}

void
cc_xmpp_component_stop(CcXmppComponent *comp, guint timeout_ms, GSourceFunc done,
                       gpointer user_data)
{
    comp->stopping = TRUE;
    comp->stop_done = done;
    comp->stop_done_data = user_data;
    g_clear_handle_id(&comp->reconnect_source, g_source_remove);
    if (comp->connected && cc_send_queue_length(comp->sendq) > 0) {
        /* What was sent before the stop still goes out, then the stream closes. */
        comp->close_when_sent = TRUE;
        comp->stop_timeout_source = g_timeout_add(timeout_ms, on_stop_done, comp);
    } else if (cc_strophe_loop_disconnect(comp->loop)) {
        comp->stop_timeout_source = g_timeout_add(timeout_ms, on_stop_done, comp);
    } else {
        comp->stop_timeout_source = g_idle_add(on_stop_done, comp);
    }
}

gboolean
cc_xmpp_component_send(CcXmppComponent *comp, xmpp_stanza_t *stanza)
{
    if (comp->outbox != NULL) {
        comp->outbox(stanza, comp->outbox_data);
        cc_metric_inc(comp->m_out);
        return TRUE;
    }
    if (!comp->connected || comp->stopping) {
        cc_metric_inc(comp->m_dropped);
        return FALSE;
    }
    char *text = NULL;
    size_t len = 0;
    if (xmpp_stanza_to_text(stanza, &text, &len) != XMPP_EOK) {
        cc_metric_inc(comp->m_dropped);
        return FALSE;
    }
    const char *name = xmpp_stanza_get_name(stanza);
    CcSendClass cls = name != NULL && g_str_equal(name, "iq") ? CC_SEND_CONTROL : CC_SEND_BULK;
    /* The flow is the bare sender: a room (whatever occupant speaks) or the service. */
    const char *from = xmpp_stanza_get_from(stanza);
    g_autofree char *flow = from != NULL ? g_strndup(from, strcspn(from, "/")) : g_strdup("");
    cc_send_queue_push(comp->sendq, cls, flow, g_memdup2(text, len), len);
    xmpp_free(cc_strophe_loop_ctx(comp->loop), text);
    cc_strophe_loop_want_write(comp->loop, TRUE);
    update_input(comp);
    cc_metric_inc(comp->m_out);
    return TRUE;
}

guint
cc_xmpp_component_backlog(CcXmppComponent *comp, const char *from)
{
    return cc_send_queue_flow_length(comp->sendq, from);
}

static gboolean
on_iq_timeout(gpointer data)
{
    PendingIq *p = data;
    p->timeout_source = 0;
    cc_metric_inc(p->comp->m_iq_timeouts);
    g_autoptr(GError) error =
        g_error_new(CC_ERROR, CC_ERROR_TIMEOUT, "no answer from %s in time", p->to);
    pending_finish(p->comp, p, NULL, error);
    return G_SOURCE_REMOVE;
}

static gboolean
fail_later(gpointer data)
{
    PendingIq *p = data;
    g_autoptr(GError) error =
        g_error_new_literal(CC_ERROR, CC_ERROR_DISCONNECTED, "not connected to the server");
    p->callback(p->comp, NULL, error, p->user_data);
    pending_free(p);
    return G_SOURCE_REMOVE;
}

void
cc_xmpp_component_send_iq(CcXmppComponent *comp, xmpp_stanza_t *iq, guint timeout_ms,
                          CcIqCallback callback, gpointer user_data)
{
    g_return_if_fail(xmpp_stanza_get_to(iq) != NULL);
    if (xmpp_stanza_get_id(iq) == NULL) {
        g_autofree char *id = cc_stanza_new_id();
        xmpp_stanza_set_id(iq, id);
    }
    PendingIq *p = g_new0(PendingIq, 1);
    p->comp = comp;
    p->id = g_strdup(xmpp_stanza_get_id(iq));
    p->to = g_strdup(xmpp_stanza_get_to(iq));
    p->callback = callback;
    p->user_data = user_data;
    if (!cc_xmpp_component_send(comp, iq) || g_hash_table_contains(comp->pending, p->id)) {
        /* Callers get their answer from the main loop, never re-entrantly. */
        g_idle_add(fail_later, p);
        return;
    }
    p->timeout_source = g_timeout_add(timeout_ms, on_iq_timeout, p);
    g_hash_table_insert(comp->pending, p->id, p);
}
