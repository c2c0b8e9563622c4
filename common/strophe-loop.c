/* A libstrophe context and connection on a GLib main context (see strophe-loop.h). Owns the
 * context, the current connection, the GSource that drives them, the socket options and the
 * work-around that lets a 0.12 component connection live. Not what any stanza means. */
#include "strophe-loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

/* libstrophe's timers (connect and disconnect timeouts, login steps) need no finer grain. */
#define TICK_US            (100 * G_TIME_SPAN_MILLISECOND)
#define SOCKET_SEND_BUFFER (32 * 1024)

struct _CcStropheLoop {
    xmpp_log_t logger;
    CcStropheLog log;
    gpointer log_data;
    gboolean quiet, flush;
    xmpp_ctx_t *ctx;
    xmpp_conn_t *conn;
    xmpp_conn_handler handler;
    gpointer handler_data;
    GMainContext *context;
    GSource *source;
    int fd;
    gpointer fd_tag;
    GIOCondition events;
    CcStropheWritable writable;
    gpointer writable_data;
    gboolean want_write, paused;
    gboolean write_failed; /* the socket is broken: let libstrophe read to find out */
};

/* libstrophe 0.12's sockopt callback has no user data, and runs only inside
 * xmpp_connect_*(): the socket it saw last there is the connection's. */
static _Thread_local int opened_socket = -1;

static void
strophe_log(void *userdata, xmpp_log_level_t level, const char *area, const char *msg)
{
    CcStropheLoop *loop = userdata;
    if (loop->quiet)
        return;
    if (loop->log != NULL)
        loop->log(level, area, msg, loop->log_data);
    else if (level == XMPP_LEVEL_ERROR || level == XMPP_LEVEL_WARN)
        g_warning("xmpp (%s): %s", area, msg); /* never stanza content: that is debug */
}

static gboolean
socket_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0 && p.revents != 0;
}

/* Readable always; writable while the TCP connect is under way (that is how it ends) and
 * while our stanzas wait for room in the kernel's buffer. */
static void
update_watch(CcStropheLoop *loop)
{
    if (loop->fd_tag == NULL)
        return;
    GIOCondition events = (loop->paused ? 0 : G_IO_IN) | G_IO_HUP | G_IO_ERR;
    if (xmpp_conn_is_connecting(loop->conn) || xmpp_conn_send_queue_len(loop->conn) > 0 ||
        loop->want_write)
        events |= G_IO_OUT;
    if (events != loop->events)
        g_source_modify_unix_fd(loop->source, loop->fd_tag, events);
    loop->events = events;
}

static void
unwatch_socket(CcStropheLoop *loop)
{
    if (loop->fd_tag != NULL)
        g_source_remove_unix_fd(loop->source, loop->fd_tag);
    loop->fd_tag = NULL;
    loop->fd = -1;
}

static void
flush_soon(CcStropheLoop *loop)
{
    loop->flush = TRUE;
    g_source_set_ready_time(loop->source, 0);
}

/* One turn of libstrophe. What it queues itself (the stream header once connected, login
 * and handshake answers to what it reads) is not in xmpp_conn_send_queue_len(): after a
 * turn that completed a connect or read input, take another turn to write it. */
static void
drive(CcStropheLoop *loop)
{
    gboolean connecting = loop->fd >= 0 && xmpp_conn_is_connecting(loop->conn);
    gboolean input = loop->fd >= 0 && !connecting && socket_readable(loop->fd);
    xmpp_run_once(loop->ctx, 0);
    update_watch(loop);
    if (input || (connecting && xmpp_conn_is_connected(loop->conn)))
        flush_soon(loop);
}

static gboolean
connected(CcStropheLoop *loop)
{
    return loop->conn != NULL && loop->fd >= 0 && xmpp_conn_is_connected(loop->conn);
}

static void
write_owned(CcStropheLoop *loop)
{
    if (loop->want_write && loop->writable != NULL && connected(loop))
        loop->writable(loop->writable_data);
}

/* While input is paused libstrophe only runs for what is not reading: its own output, the
 * connect and close handshakes, and a socket that hung up or failed. */
static gboolean
may_drive(CcStropheLoop *loop)
{
    if (!loop->paused || !connected(loop) || xmpp_conn_send_queue_len(loop->conn) > 0 ||
        loop->write_failed)
        return TRUE;
    return loop->fd_tag != NULL &&
           (g_source_query_unix_fd(loop->source, loop->fd_tag) & (G_IO_HUP | G_IO_ERR)) != 0;
}

static gboolean
on_ready(gpointer data)
{
    CcStropheLoop *loop = data;
    loop->flush = FALSE;
    write_owned(loop);
    if (may_drive(loop))
        drive(loop);
    /* What the stanzas just read produced goes out in the same turn. */
    write_owned(loop);
    update_watch(loop);
    /* Unless a flush is due, tick while a connection is open (libstrophe's timers). */
    if (!loop->flush) {
        gboolean open = loop->conn != NULL && !xmpp_conn_is_disconnected(loop->conn);
        gint64 next = open ? g_source_get_time(loop->source) + TICK_US : -1;
        g_source_set_ready_time(loop->source, next);
    }
    return G_SOURCE_CONTINUE;
}

static gboolean
source_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
    return callback(user_data);
}

static GSourceFuncs source_funcs = {.dispatch = source_dispatch};

static void
on_conn_event(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
              xmpp_stream_error_t *stream_error, void *data)
{
    CcStropheLoop *loop = data;
    if (conn != loop->conn)
        return; /* one being released: its owner asked for no news */
    if (event == XMPP_CONN_DISCONNECT || event == XMPP_CONN_FAIL)
        unwatch_socket(loop); /* libstrophe has closed it */
    if (loop->handler != NULL)
        loop->handler(conn, event, error, stream_error, loop->handler_data);
}

static int
on_sockopt(xmpp_conn_t *conn, void *sock)
{
    int fd = *(int *)sock;
    /* A join is many small stanzas: without NODELAY all but the first wait for the peer's
     * delayed ACK (about 40 ms each time). Keepalive finds a dead peer. */
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        g_warning("cannot set TCP_NODELAY: %s", g_strerror(errno));
    /* What the kernel buffers is written in order, whoever it is for: kept small, the backlog
     * of a flood waits in the owner's fair queue instead, and a join's answer does not queue
     * behind megabytes of another room's messages (the kernel doubles this figure). */
    int sndbuf = SOCKET_SEND_BUFFER;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) != 0)
        g_warning("cannot set SO_SNDBUF: %s", g_strerror(errno));
    if (xmpp_sockopt_cb_keepalive(conn, sock) != 0)
        g_warning("cannot set TCP keepalive: %s", g_strerror(errno));
    opened_socket = fd;
    return 0;
}

static void
on_donor_event(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
               xmpp_stream_error_t *stream_error, void *data)
{
}

/* Connects the donor below to a port that refuses it; NULL if that cannot be arranged. */
static xmpp_sm_state_t *
sm_state_from_donor(CcStropheLoop *loop)
{
    int refuser = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    xmpp_sm_state_t *state = NULL;
    /* Bound but not listening: a connect to it is refused at once. */
    if (refuser >= 0 && bind(refuser, (struct sockaddr *)&addr, len) == 0 &&
        getsockname(refuser, (struct sockaddr *)&addr, &len) == 0) {
        xmpp_conn_t *donor = xmpp_conn_new(loop->ctx);
        xmpp_conn_set_jid(donor, "donor@localhost");
        loop->quiet = TRUE;
        if (xmpp_connect_client(donor, "127.0.0.1", ntohs(addr.sin_port), on_donor_event, NULL) ==
            XMPP_EOK) {
            for (int i = 0; i < 50 && !xmpp_conn_is_disconnected(donor); i++)
                xmpp_run_once(loop->ctx, 10);
        }
        loop->quiet = FALSE;
        state = xmpp_conn_is_disconnected(donor) ? xmpp_conn_get_sm_state(donor) : NULL;
        xmpp_conn_release(donor);
    }
    if (refuser >= 0)
        close(refuser);
    return state;
}

/* libstrophe 0.12.2 reads conn->sm_state when it sends, receives or closes, but allocates
 * it only in xmpp_connect_client(): a component connection crashes on its first stanza.
 * Until the library is fixed, take a (zeroed, unused) stream-management state from a
 * client connection attempt and give it to the component connection. */
static void
ensure_sm_state(CcStropheLoop *loop)
{
    xmpp_sm_state_t *state = xmpp_conn_get_sm_state(loop->conn);
    if (state == NULL)
        state = sm_state_from_donor(loop);
    if (state != NULL && xmpp_conn_set_sm_state(loop->conn, state) != XMPP_EOK)
        xmpp_free_sm_state(state);
}

static gboolean
start_connect(CcStropheLoop *loop, gboolean component, const char *host, guint16 port,
              xmpp_conn_handler handler, gpointer user_data)
{
    g_return_val_if_fail(loop->conn != NULL, FALSE);
    if (component)
        ensure_sm_state(loop);
    xmpp_conn_set_sockopt_callback(loop->conn, on_sockopt);
    opened_socket = -1;
    loop->write_failed = FALSE;
    int rc = component ? xmpp_connect_component(loop->conn, host, port, on_conn_event, loop)
                       : xmpp_connect_client(loop->conn, host, port, on_conn_event, loop);
    if (rc != XMPP_EOK)
        return FALSE;
    /* No event comes before the loop runs libstrophe. */
    loop->handler = handler;
    loop->handler_data = user_data;
    if (opened_socket >= 0) {
        loop->fd = opened_socket;
        loop->events = G_IO_IN | G_IO_HUP | G_IO_ERR | G_IO_OUT;
        loop->fd_tag = g_source_add_unix_fd(loop->source, loop->fd, loop->events);
    }
    if (!loop->flush)
        g_source_set_ready_time(loop->source, g_get_monotonic_time() + TICK_US);
    return TRUE;
}

gboolean
cc_strophe_loop_connect_client(CcStropheLoop *loop, const char *host, guint16 port,
                               xmpp_conn_handler handler, gpointer user_data)
{
    return start_connect(loop, FALSE, host, port, handler, user_data);
}

gboolean
cc_strophe_loop_connect_component(CcStropheLoop *loop, const char *host, guint16 port,
                                  xmpp_conn_handler handler, gpointer user_data)
{
    return start_connect(loop, TRUE, host, port, handler, user_data);
}

CcStropheLoop *
cc_strophe_loop_new(CcStropheLog log, gpointer log_data)
{
    static gsize initialized;
    if (g_once_init_enter(&initialized)) {
        xmpp_initialize();
        g_once_init_leave(&initialized, 1);
    }
    CcStropheLoop *loop = g_new0(CcStropheLoop, 1);
    loop->log = log;
    loop->log_data = log_data;
    loop->logger.handler = strophe_log;
    loop->logger.userdata = loop;
    loop->ctx = xmpp_ctx_new(NULL, &loop->logger);
    loop->fd = -1;
    loop->context = g_main_context_ref_thread_default();
    loop->source = g_source_new(&source_funcs, sizeof(GSource));
    g_source_set_static_name(loop->source, "libstrophe");
    g_source_set_callback(loop->source, on_ready, loop, NULL);
    g_source_attach(loop->source, loop->context);
    return loop;
}

static void
release_conn(CcStropheLoop *loop)
{
    unwatch_socket(loop);
    if (loop->conn == NULL)
        return;
    /* Releasing an open connection closes it and reports that: on_conn_event ignores it. */
    xmpp_conn_release(g_steal_pointer(&loop->conn));
    loop->handler = NULL;
    loop->handler_data = NULL;
}

void
cc_strophe_loop_free(CcStropheLoop *loop)
{
    if (loop == NULL)
        return;
    release_conn(loop);
    g_source_destroy(loop->source);
    g_source_unref(loop->source);
    g_main_context_unref(loop->context);
    xmpp_ctx_free(loop->ctx);
    g_free(loop);
}

xmpp_ctx_t *
cc_strophe_loop_ctx(CcStropheLoop *loop)
{
    return loop->ctx;
}

xmpp_conn_t *
cc_strophe_loop_conn(CcStropheLoop *loop)
{
    return loop->conn;
}

xmpp_conn_t *
cc_strophe_loop_new_conn(CcStropheLoop *loop)
{
    release_conn(loop);
    loop->conn = xmpp_conn_new(loop->ctx);
    return loop->conn;
}

void
cc_strophe_loop_send(CcStropheLoop *loop, xmpp_stanza_t *stanza)
{
    g_return_if_fail(loop->conn != NULL);
    xmpp_send(loop->conn, stanza);
    flush_soon(loop);
}

void
cc_strophe_loop_set_writer(CcStropheLoop *loop, CcStropheWritable writable, gpointer user_data)
{
    loop->writable = writable;
    loop->writable_data = user_data;
}

void
cc_strophe_loop_want_write(CcStropheLoop *loop, gboolean want)
{
    if (loop->want_write == want)
        return;
    loop->want_write = want;
    update_watch(loop);
    if (want)
        flush_soon(loop);
}

gsize
cc_strophe_loop_write(CcStropheLoop *loop, const char *data, gsize len)
{
    /* Our bytes go on the socket beside libstrophe's queue: only a plain component stream
     * (xmpp_connect_component turns TLS off) where, once the handshake is done, nothing but
     * the closing tag goes through libstrophe, and that after this queue is empty. The length
     * check catches whole stanzas of its queue, not one it has partly written. */
    g_return_val_if_fail(!xmpp_conn_is_secured(loop->conn), 0);
    if (!connected(loop) || xmpp_conn_send_queue_len(loop->conn) > 0)
        return 0;
    ssize_t n = send(loop->fd, data, len, MSG_NOSIGNAL);
    if (n < 0) {
        /* A broken socket is libstrophe's to find when it reads; until then, nothing went. */
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            g_debug("write to the server failed: %s", g_strerror(errno));
            loop->write_failed = TRUE;
        }
        return 0;
    }
    return (gsize)n;
}

void
cc_strophe_loop_pause_input(CcStropheLoop *loop, gboolean paused)
{
    if (loop->paused == paused)
        return;
    loop->paused = paused;
    update_watch(loop);
    if (!paused)
        flush_soon(loop); /* read what waited */
}

gboolean
cc_strophe_loop_disconnect(CcStropheLoop *loop)
{
    if (loop->conn == NULL || xmpp_conn_is_disconnected(loop->conn))
        return FALSE;
    xmpp_disconnect(loop->conn); /* queues the stream's end and arms libstrophe's timeout */
    flush_soon(loop);
    return TRUE;
}

void
cc_strophe_loop_disconnect_sync(CcStropheLoop *loop, guint timeout_ms)
{
    if (!cc_strophe_loop_disconnect(loop))
        return;
    gint64 deadline = g_get_monotonic_time() + timeout_ms * G_TIME_SPAN_MILLISECOND;
    while (!xmpp_conn_is_disconnected(loop->conn) && g_get_monotonic_time() < deadline)
        xmpp_run_once(loop->ctx, 10);
}
