/* One libstrophe context and its connection, driven from a GLib main context.
 *
 * libstrophe wants xmpp_run_once() whenever its socket is ready, whenever it has queued
 * data, and often enough for its timed handlers. A CcStropheLoop does that from one GSource
 * on the main context that is the thread default when it is created: it watches the socket
 * (and its writability while connecting or while stanzas wait), ticks while a connection is
 * open, and runs once more after each send. Sockets get TCP_NODELAY, keepalive and a small
 * kernel send buffer (an owner with its own queue decides the order; the kernel's is FIFO).
 * An owner may also write for itself and pause reading (backpressure), below.
 *
 * The users own what the connection is for: its JID, login, stanza handlers, reconnecting
 * (common/xmpp.c's component, the test peer's client). */
#pragma once

#include <glib.h>
#include <strophe.h>

G_BEGIN_DECLS

typedef struct _CcStropheLoop CcStropheLoop;

/* One of libstrophe's log lines; its debug lines carry raw XML. */
typedef void (*CcStropheLog)(xmpp_log_level_t level, const char *area, const char *msg,
                             gpointer user_data);

/* `log` NULL: libstrophe's warnings and errors go to g_warning(), the rest nowhere. */
CcStropheLoop *cc_strophe_loop_new(CcStropheLog log, gpointer log_data);
/* Releases the connection without calling its handler (a live one is dropped, not closed:
 * call cc_strophe_loop_disconnect() first for a clean close), then the context. */
void cc_strophe_loop_free(CcStropheLoop *loop);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CcStropheLoop, cc_strophe_loop_free)

/* The context stanzas are built in; it lives as long as the loop. */
xmpp_ctx_t *cc_strophe_loop_ctx(CcStropheLoop *loop);
/* The current connection, or NULL before the first cc_strophe_loop_new_conn(). */
xmpp_conn_t *cc_strophe_loop_conn(CcStropheLoop *loop);
/* Replaces the connection (the old one is released without a call to its handler) with a
 * new one for the caller to configure: JID, password, flags, stanza handlers. Never call it
 * from that connection's own handlers. */
xmpp_conn_t *cc_strophe_loop_new_conn(CcStropheLoop *loop);

/* Start connecting the current connection to `host`:`port`. `handler` then gets every
 * connection event (XMPP_CONN_DISCONNECT also for a failed attempt). FALSE when the attempt
 * cannot even start; no event follows then. */
gboolean cc_strophe_loop_connect_client(CcStropheLoop *loop, const char *host, guint16 port,
                                        xmpp_conn_handler handler, gpointer user_data);
/* The same as an XEP-0114 component, with the connection's JID and password as its domain
 * and handshake secret. */
gboolean cc_strophe_loop_connect_component(CcStropheLoop *loop, const char *host, guint16 port,
                                           xmpp_conn_handler handler, gpointer user_data);

/* Queues `stanza` (not consumed) on the current connection, which must be connected; it is
 * written from the main loop, never re-entrantly. */
void cc_strophe_loop_send(CcStropheLoop *loop, xmpp_stanza_t *stanza);
/* Owners that keep their own send queue (common/xmpp.c) write through these instead of
 * cc_strophe_loop_send(). `writable` runs from the main loop while writing is wanted and the
 * connection is up; it calls cc_strophe_loop_write() until that takes less than offered. */
typedef void (*CcStropheWritable)(gpointer user_data);
void cc_strophe_loop_set_writer(CcStropheLoop *loop, CcStropheWritable writable,
                                gpointer user_data);
void cc_strophe_loop_want_write(CcStropheLoop *loop, gboolean want);
/* Writes what the socket takes now of `len` bytes (never blocks); 0 while libstrophe still
 * has bytes of its own to write or the connection is not up. */
gsize cc_strophe_loop_write(CcStropheLoop *loop, const char *data, gsize len);
/* While paused, nothing more is read from the server (backpressure: the server buffers, and
 * then stops reading its own senders); writing, closing and errors still go on. */
void cc_strophe_loop_pause_input(CcStropheLoop *loop, gboolean paused);

/* Closes the stream: the handler gets XMPP_CONN_DISCONNECT when the server has closed its
 * side too, or after libstrophe's own timeout. FALSE if there was nothing to close. */
gboolean cc_strophe_loop_disconnect(CcStropheLoop *loop);
/* The same, blocking at most `timeout_ms`, for exit paths that no longer run a main loop. */
void cc_strophe_loop_disconnect_sync(CcStropheLoop *loop, guint timeout_ms);

G_END_DECLS
