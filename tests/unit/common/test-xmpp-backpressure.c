/* Unit tests of common/xmpp.c's send queue against a component server in the test itself:
 * while the server does not read, the queue grows past its high-water mark and the
 * component stops reading the server's stanzas (backpressure); once the server reads, every
 * stanza arrives whole and in order per room, another room's stanza is not stuck behind the
 * backlog, reading resumes and the stanza that waited is handled. */
#include "../check-main.h"
#include "cc-autoptr.h"
#include "xmpp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WAIT_MS 5000

static int
listener_socket(guint16 *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, len), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    ck_assert_int_eq(listen(fd, 4), 0);
    *port = ntohs(addr.sin_port);
    return fd;
}

/* Runs the main loop, reading what the component writes (when `read` is set) until
 * `done` says so or the time is up. */
static void
run(int fd, GString *got, gboolean read, gboolean (*done)(gpointer), gpointer data,
    guint timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * G_TIME_SPAN_MILLISECOND;
    while ((done == NULL || !done(data)) && g_get_monotonic_time() < deadline) {
        for (int i = 0; i < 100 && g_main_context_iteration(NULL, FALSE); i++)
            ;
        if (!read) {
            g_usleep(1000);
            continue;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 2) <= 0)
            continue;
        char chunk[65536];
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n > 0)
            g_string_append_len(got, chunk, n);
    }
}

static gboolean
has_header(gpointer data)
{
    return strstr(((GString *)data)->str, "jabber:component:accept") != NULL;
}

static gboolean
has_handshake(gpointer data)
{
    return strstr(((GString *)data)->str, "</handshake>") != NULL;
}

static gboolean
is_true(gpointer data)
{
    return *(gboolean *)data;
}

static int messages_handled;

static gboolean
on_message(CcXmppComponent *comp, xmpp_stanza_t *stanza, gpointer data)
{
    messages_handled++;
    return TRUE;
}

static gboolean
handled(gpointer data)
{
    return messages_handled > 0;
}

static gint64
metric(CcMetrics *metrics, const char *name)
{
    g_autofree char *text = cc_metrics_render(metrics);
    g_autofree char *needle = g_strconcat("\n", name, " ", NULL);
    const char *at = strstr(text, needle);
    ck_assert_msg(at != NULL, "no metric %s", name);
    return g_ascii_strtoll(at + strlen(needle), NULL, 10);
}

static void
send_text(int fd, const char *text)
{
    ck_assert_int_eq(send(fd, text, strlen(text), MSG_NOSIGNAL), (ssize_t)strlen(text));
}

static void
on_state(CcXmppComponent *comp, gboolean connected, gpointer data)
{
    *(gboolean *)data = connected;
}

static guint
count(const char *haystack, const char *needle)
{
    guint n = 0;
    for (const char *at = haystack; (at = strstr(at, needle)) != NULL; at += strlen(needle))
        n++;
    return n;
}

#define FLOOD 3000

START_TEST(test_backpressure)
{
    guint16 port;
    int listener = listener_socket(&port);
    g_autoptr(CcMetrics) metrics = cc_metrics_new();
    CcXmppSettings settings = {.server = "127.0.0.1",
                               .port = port,
                               .domain = "comp.localhost",
                               .secret = "s3cret",
                               .send_queue_high_bytes = 64 * 1024,
                               .send_queue_low_bytes = 16 * 1024};
    g_autoptr(CcXmppComponent) comp = cc_xmpp_component_new(&settings, metrics);
    gboolean connected = FALSE;
    cc_xmpp_component_set_state_callback(comp, on_state, &connected);
    cc_xmpp_component_register_stanza(comp, "message", on_message, NULL);
    cc_xmpp_component_start(comp);
    int server = accept(listener, NULL, NULL);
    ck_assert_int_ge(server, 0);
    g_autoptr(GString) got = g_string_new(NULL);
    run(server, got, TRUE, has_header, got, WAIT_MS);
    send_text(server, "<?xml version='1.0'?><stream:stream "
                      "xmlns:stream='http://etherx.jabber.org/streams' "
                      "xmlns='jabber:component:accept' from='comp.localhost' id='abc'>");
    run(server, got, TRUE, has_handshake, got, WAIT_MS);
    send_text(server, "<handshake/>");
    run(server, got, TRUE, is_true, &connected, WAIT_MS);
    ck_assert(connected);
    g_string_truncate(got, 0);

    /* A room's fan-out the server does not read: far more than the kernel buffers hold. */
    xmpp_ctx_t *ctx = cc_xmpp_component_ctx(comp);
    g_autofree char *body = g_strnfill(500, 'x');
    for (int i = 0; i < FLOOD; i++) {
        g_autofree char *id = g_strdup_printf("f%d", i);
        g_autoptr(xmpp_stanza_t) m = xmpp_message_new(ctx, "groupchat", "u@localhost", id);
        xmpp_stanza_set_from(m, "flood@comp.localhost/n");
        xmpp_message_set_body(m, body);
        cc_xmpp_component_send(comp, m);
    }
    run(server, got, FALSE, NULL, NULL, 300);
    ck_assert_int_eq(metric(metrics, "conclave_xmpp_input_paused"), 1);
    ck_assert_int_eq(metric(metrics, "conclave_xmpp_input_pauses_total"), 1);
    ck_assert_int_gt(metric(metrics, "conclave_xmpp_send_queue_bytes"), 64 * 1024);
    ck_assert_int_gt(cc_xmpp_component_backlog(comp, "flood@comp.localhost"), 0);

    /* Another room's stanza, queued behind the backlog. */
    g_autoptr(xmpp_stanza_t) join = xmpp_presence_new(ctx);
    xmpp_stanza_set_from(join, "other@comp.localhost/me");
    xmpp_stanza_set_to(join, "joiner@localhost/r");
    xmpp_stanza_set_id(join, "join1");
    cc_xmpp_component_send(comp, join);

    /* Paused: a stanza from the server is not read. */
    send_text(server, "<message from='a@localhost/r' to='x@comp.localhost'><body>hi</body>"
                      "</message>");
    run(server, got, FALSE, NULL, NULL, 300);
    ck_assert_int_eq(messages_handled, 0);

    /* The server reads: everything arrives, the other room's stanza long before the end of
     * the flood, reading resumes and the waiting message is handled. */
    run(server, got, TRUE, handled, NULL, WAIT_MS);
    ck_assert_int_eq(messages_handled, 1);
    ck_assert_int_eq(metric(metrics, "conclave_xmpp_input_paused"), 0);
    run(server, got, TRUE, NULL, NULL, 200);
    ck_assert_uint_eq(count(got->str, "<message"), FLOOD);
    ck_assert_uint_eq(count(got->str, "</message>"), FLOOD);
    const char *join_at = strstr(got->str, "join1");
    g_autofree char *last_id = g_strdup_printf("\"f%d\"", FLOOD - 1);
    const char *last_at = strstr(got->str, last_id);
    ck_assert_ptr_nonnull(join_at);
    ck_assert_ptr_nonnull(last_at);
    ck_assert(join_at < last_at);
    /* In order within the room. */
    const char *prev = got->str;
    for (int i = 0; i < FLOOD; i += 499) {
        g_autofree char *id = g_strdup_printf("\"f%d\"", i);
        const char *at = strstr(got->str, id);
        ck_assert_ptr_nonnull(at);
        ck_assert(at >= prev);
        prev = at;
    }
    ck_assert_int_eq(metric(metrics, "conclave_xmpp_send_queue"), 0);
    ck_assert_int_eq(metric(metrics, "conclave_xmpp_send_queue_bytes"), 0);
    ck_assert_int_gt(metric(metrics, "conclave_xmpp_send_queue_peak_bytes"), FLOOD * 500);
    close(server);
    close(listener);
}
END_TEST

static Suite *
backpressure_suite(void)
{
    Suite *s = suite_create("xmpp-backpressure");
    TCase *tc = tcase_create("xmpp-backpressure");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_backpressure);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(backpressure_suite)
