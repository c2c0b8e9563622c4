/* Unit tests of common/strophe-loop.c against a TCP listener in the test itself: a refused
 * connect ends cleanly, a component stream goes both ways from the GLib main loop alone
 * (connect, handshake, stanzas, clean close), the socket options are set, and freeing an
 * open connection closes it without calling its handler. */
#include "../check-main.h"
#include "cc-autoptr.h"
#include "strophe-loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WAIT_MS 3000

typedef struct {
    int connects, disconnects, messages;
} Events;

static void
on_event(xmpp_conn_t *conn, xmpp_conn_event_t event, int error, xmpp_stream_error_t *stream_error,
         void *data)
{
    Events *e = data;
    if (event == XMPP_CONN_CONNECT)
        e->connects++;
    else if (event == XMPP_CONN_DISCONNECT || event == XMPP_CONN_FAIL)
        e->disconnects++;
}

static int
on_message(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *data)
{
    Events *e = data;
    xmpp_stanza_t *body = xmpp_stanza_get_child_by_name(stanza, "body");
    g_autofree char *text = body ? xmpp_stanza_get_text(body) : NULL;
    if (g_strcmp0(text, "hi") == 0)
        e->messages++;
    return 1;
}

/* A socket on 127.0.0.1 and an ephemeral port; listening, or only bound (refusing). */
static int
local_socket(gboolean listening, guint16 *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, len), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    if (listening)
        ck_assert_int_eq(listen(fd, 4), 0);
    *port = ntohs(addr.sin_port);
    return fd;
}

static void
run_until(int *counter, int value, guint timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * G_TIME_SPAN_MILLISECOND;
    while (*counter < value && g_get_monotonic_time() < deadline) {
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(1000);
    }
}

/* Runs the main loop while reading what the peer writes to `fd`, until `needle` arrives or
 * the peer closes. */
static gboolean
read_until(int fd, GString *got, const char *needle)
{
    gint64 deadline = g_get_monotonic_time() + WAIT_MS * G_TIME_SPAN_MILLISECOND;
    while (strstr(got->str, needle) == NULL && g_get_monotonic_time() < deadline) {
        g_main_context_iteration(NULL, FALSE);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5) <= 0)
            continue;
        char chunk[4096];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0)
            break;
        g_string_append_len(got, chunk, n);
    }
    return strstr(got->str, needle) != NULL;
}

static void
send_text(int fd, const char *text)
{
    ck_assert_int_eq(send(fd, text, strlen(text), MSG_NOSIGNAL), (ssize_t)strlen(text));
}

/* Our end of the connection the listener accepted as `server_fd`: the socket whose own
 * address is the server's peer address. */
static int
client_socket_of(int server_fd)
{
    struct sockaddr_in peer, own;
    socklen_t len = sizeof peer;
    ck_assert_int_eq(getpeername(server_fd, (struct sockaddr *)&peer, &len), 0);
    for (int fd = 3; fd < 1024; fd++) {
        socklen_t own_len = sizeof own;
        if (fd != server_fd && getsockname(fd, (struct sockaddr *)&own, &own_len) == 0 &&
            own_len == len && own.sin_family == AF_INET && own.sin_port == peer.sin_port &&
            own.sin_addr.s_addr == peer.sin_addr.s_addr)
            return fd;
    }
    return -1;
}

static int
socket_option(int fd, int level, int name)
{
    int value = 0;
    socklen_t len = sizeof value;
    ck_assert_int_eq(getsockopt(fd, level, name, &value, &len), 0);
    return value;
}

static void
connect_refused(gboolean component)
{
    guint16 port;
    int refuser = local_socket(FALSE, &port);
    Events ev = {0};
    CcStropheLoop *loop = cc_strophe_loop_new(NULL, NULL);
    xmpp_conn_t *conn = cc_strophe_loop_new_conn(loop);
    xmpp_conn_set_jid(conn, component ? "comp.localhost" : "peer@localhost");
    xmpp_conn_set_pass(conn, "secret");
    gboolean started =
        component ? cc_strophe_loop_connect_component(loop, "127.0.0.1", port, on_event, &ev)
                  : cc_strophe_loop_connect_client(loop, "127.0.0.1", port, on_event, &ev);
    /* Refused at once (no event then) or from the loop (one disconnection, no connect). */
    run_until(&ev.disconnects, 1, started ? WAIT_MS : 300);
    ck_assert_int_eq(ev.disconnects, started ? 1 : 0);
    ck_assert_int_eq(ev.connects, 0);
    ck_assert(xmpp_conn_is_disconnected(conn));
    /* Nothing left to tick for a closed connection: the loop stays asleep. */
    g_usleep(250 * G_TIME_SPAN_MILLISECOND);
    ck_assert(!g_main_context_pending(NULL));
    cc_strophe_loop_free(loop);
    close(refuser);
}

START_TEST(test_client_refused)
{
    connect_refused(FALSE);
}
END_TEST

/* Also the sm_state work-around: libstrophe 0.12.2 crashes closing a component connection
 * without one. */
START_TEST(test_component_refused)
{
    connect_refused(TRUE);
}
END_TEST

static const char server_header[] =
    "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
    "xmlns='jabber:component:accept' from='comp.localhost' id='abc123'>";

START_TEST(test_component_session)
{
    guint16 port;
    int listener = local_socket(TRUE, &port);
    Events ev = {0};
    g_autoptr(CcStropheLoop) loop = cc_strophe_loop_new(NULL, NULL);
    xmpp_conn_t *conn = cc_strophe_loop_new_conn(loop);
    xmpp_conn_set_jid(conn, "comp.localhost");
    xmpp_conn_set_pass(conn, "s3cret");
    xmpp_handler_add(conn, on_message, NULL, "message", NULL, &ev);
    ck_assert(cc_strophe_loop_connect_component(loop, "127.0.0.1", port, on_event, &ev));
    int server = accept(listener, NULL, NULL);
    ck_assert_int_ge(server, 0);

    int client = client_socket_of(server);
    ck_assert_int_ge(client, 0);
    ck_assert_int_eq(socket_option(client, IPPROTO_TCP, TCP_NODELAY), 1);
    ck_assert_int_eq(socket_option(client, SOL_SOCKET, SO_KEEPALIVE), 1);

    /* The stream header libstrophe queues itself once connected, then its handshake. */
    g_autoptr(GString) got = g_string_new(NULL);
    ck_assert(read_until(server, got, "jabber:component:accept"));
    send_text(server, server_header);
    ck_assert(read_until(server, got, "</handshake>"));
    g_autofree char *digest = g_compute_checksum_for_string(G_CHECKSUM_SHA1, "abc123s3cret", -1);
    g_autofree char *handshake = g_strdup_printf(">%s</handshake>", digest);
    ck_assert_ptr_nonnull(strstr(got->str, handshake));
    send_text(server, "<handshake/>");
    run_until(&ev.connects, 1, WAIT_MS);
    ck_assert_int_eq(ev.connects, 1);

    send_text(server, "<message from='a@localhost' to='comp.localhost'><body>hi</body></message>");
    run_until(&ev.messages, 1, WAIT_MS);
    ck_assert_int_eq(ev.messages, 1);

    g_autoptr(xmpp_stanza_t) presence = xmpp_presence_new(cc_strophe_loop_ctx(loop));
    xmpp_stanza_set_to(presence, "a@localhost");
    xmpp_stanza_set_id(presence, "p1");
    cc_strophe_loop_send(loop, presence);
    ck_assert(read_until(server, got, "id=\"p1\""));

    ck_assert(cc_strophe_loop_disconnect(loop));
    ck_assert(read_until(server, got, "</stream:stream>"));
    send_text(server, "</stream:stream>");
    run_until(&ev.disconnects, 1, WAIT_MS);
    ck_assert_int_eq(ev.disconnects, 1);
    ck_assert(!cc_strophe_loop_disconnect(loop));
    close(server);
    close(listener);
}
END_TEST

START_TEST(test_free_open_connection)
{
    guint16 port;
    int listener = local_socket(TRUE, &port);
    Events ev = {0};
    CcStropheLoop *loop = cc_strophe_loop_new(NULL, NULL);
    xmpp_conn_t *conn = cc_strophe_loop_new_conn(loop);
    xmpp_conn_set_flags(conn, XMPP_CONN_FLAG_DISABLE_TLS);
    xmpp_conn_set_jid(conn, "peer@localhost");
    ck_assert(cc_strophe_loop_connect_client(loop, "127.0.0.1", port, on_event, &ev));
    int server = accept(listener, NULL, NULL);
    ck_assert_int_ge(server, 0);
    g_autoptr(GString) got = g_string_new(NULL);
    ck_assert(read_until(server, got, "jabber:client"));

    cc_strophe_loop_free(loop);
    ck_assert_int_eq(ev.disconnects, 0);
    /* The socket is closed: the server reads the end of the connection. */
    char byte;
    struct pollfd p = {.fd = server, .events = POLLIN};
    ck_assert_int_eq(poll(&p, 1, WAIT_MS), 1);
    ck_assert_int_eq(recv(server, &byte, 1, 0), 0);
    close(server);
    close(listener);
}
END_TEST

static Suite *
strophe_loop_suite(void)
{
    Suite *s = suite_create("strophe-loop");
    TCase *tc = tcase_create("strophe-loop");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_client_refused);
    tcase_add_test(tc, test_component_refused);
    tcase_add_test(tc, test_component_session);
    tcase_add_test(tc, test_free_open_connection);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(strophe_loop_suite)
