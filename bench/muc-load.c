/* muc-load: a load generator for a Multi-User Chat service (XEP-0045) behind a real XMPP
 * server. N client connections (c2s, plaintext, SASL ANONYMOUS) share one libstrophe context
 * driven by xmpp_run_once(); the run goes through phases, each bounded by a stall timeout
 * and all of them by a global deadline:
 *
 *   login     at most --concurrency logins in flight; each client sends initial presence
 *   join      client i joins room (i mod M) as nick u<i>, at most --join-window joins in
 *             flight; latency = join presence sent -> own presence (status 110) received
 *   settle    until every occupant has seen the presence of every occupant of its room
 *   messages  every joined client sends K groupchat messages at once; each occupant must
 *             receive each message of its room exactly once (counted per client)
 *   leave     unavailable presence to the room, then disconnect
 *
 * Client sockets get TCP_NODELAY (--nagle leaves Nagle's algorithm on), so that what is
 * measured is the servers, not the clients' own coalescing of back-to-back stanzas.
 *
 * Phase changes are announced on stderr as lines starting with '@' (a driver samples the
 * server processes there); the result is one JSON object on stdout. Exit status: 0 when
 * everyone joined and every delivery arrived, 1 otherwise, 2 on bad usage.
 *
 * libstrophe 0.12 watches its sockets with select(): every socket must stay below
 * FD_SETSIZE, which bounds the clients one process can hold (see max_clients()). */
#include <glib.h>
#include <strophe.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "muc-load.h"

gint64
now_us(void)
{
    return g_get_monotonic_time();
}

double
seconds(gint64 us)
{
    return (double)us / G_USEC_PER_SEC;
}

static void
phase(Bench *b, const char *name)
{
    fprintf(stderr, "@phase %s %.3f\n", name, seconds(now_us() - b->start));
    fflush(stderr);
}

static void
progress(Bench *b)
{
    b->last_progress = now_us();
}

static void
strophe_log(void *userdata, xmpp_log_level_t level, const char *area, const char *msg)
{
    if (level >= XMPP_LEVEL_WARN)
        fprintf(stderr, "libstrophe %s: %s\n", area, msg);
}

static void
count_name(GHashTable *table, const char *name)
{
    guint n = GPOINTER_TO_UINT(g_hash_table_lookup(table, name));
    g_hash_table_replace(table, g_strdup(name), GUINT_TO_POINTER(n + 1));
}

static void
count_condition(GHashTable *table, xmpp_stanza_t *stanza)
{
    const char *condition = "unknown";
    xmpp_stanza_t *error = xmpp_stanza_get_child_by_name(stanza, "error");
    for (xmpp_stanza_t *c = error ? xmpp_stanza_get_children(error) : NULL; c != NULL;
         c = xmpp_stanza_get_next(c)) {
        const char *name = xmpp_stanza_get_name(c), *ns = xmpp_stanza_get_ns(c);
        if (xmpp_stanza_is_tag(c) && name != NULL && ns != NULL && g_str_equal(ns, NS_STANZAS) &&
            !g_str_equal(name, "text")) {
            condition = name;
            break;
        }
    }
    count_name(table, condition);
}

static gboolean
has_status(xmpp_stanza_t *stanza, const char *code)
{
    xmpp_stanza_t *x = xmpp_stanza_get_child_by_name_and_ns(stanza, "x", NS_MUC_USER);
    for (xmpp_stanza_t *c = x ? xmpp_stanza_get_children(x) : NULL; c != NULL;
         c = xmpp_stanza_get_next(c)) {
        const char *name = xmpp_stanza_get_name(c);
        const char *value = xmpp_stanza_get_attribute(c, "code");
        if (name != NULL && g_str_equal(name, "status") && value != NULL &&
            g_str_equal(value, code))
            return TRUE;
    }
    return FALSE;
}

/* TRUE if `from` is the client's room or an occupant of it. */
static gboolean
from_room(Client *c, const char *from)
{
    const char *room = c->bench->room_jids[c->room];
    size_t len = strlen(room);
    return from != NULL && g_ascii_strncasecmp(from, room, len) == 0 &&
           (from[len] == '\0' || from[len] == '/');
}

static void
join_done(Client *c, ClientState state)
{
    Bench *b = c->bench;
    c->state = state;
    b->joining--;
    b->join_last_done = now_us();
    progress(b);
}

static void
on_presence(Client *c, xmpp_stanza_t *stanza)
{
    Bench *b = c->bench;
    const char *type = xmpp_stanza_get_type(stanza);
    if (!from_room(c, xmpp_stanza_get_from(stanza)))
        return;
    if (type != NULL && g_str_equal(type, "error")) {
        if (c->state == CLIENT_JOINING) {
            b->join_failed++;
            count_condition(b->join_errors, stanza);
            join_done(c, CLIENT_JOIN_FAILED);
        }
        return;
    }
    if (type != NULL)
        return; /* unavailable: someone left */
    c->presences++;
    b->presences_received++;
    progress(b);
    if (c->state == CLIENT_JOINING && has_status(stanza, "110")) {
        gint64 latency = now_us() - c->join_sent;
        g_array_append_val(b->join_us, latency);
        b->joined++;
        b->room_joined[c->room]++;
        join_done(c, CLIENT_JOINED);
    }
}

static void
on_message(Client *c, xmpp_stanza_t *stanza)
{
    Bench *b = c->bench;
    const char *type = xmpp_stanza_get_type(stanza);
    if (type != NULL && g_str_equal(type, "error")) {
        b->message_errors++;
        count_condition(b->message_errors_by_condition, stanza);
        progress(b);
        return;
    }
    if (type == NULL || !g_str_equal(type, "groupchat") ||
        !from_room(c, xmpp_stanza_get_from(stanza)))
        return;
    xmpp_stanza_t *body = xmpp_stanza_get_child_by_name(stanza, "body");
    if (body == NULL)
        return; /* the subject */
    char *text = xmpp_stanza_get_text(body);
    guint sender, seq;
    gint64 sent;
    if (text != NULL && sscanf(text, "m %u %u %" G_GINT64_FORMAT, &sender, &seq, &sent) == 3) {
        c->deliveries++;
        b->deliveries_received++;
        if (b->delivery_us->len < MAX_LATENCY_SAMPLES) {
            gint64 latency = now_us() - sent;
            g_array_append_val(b->delivery_us, latency);
        }
        progress(b);
    } else {
        b->foreign_messages++;
    }
    if (text != NULL)
        xmpp_free(b->ctx, text);
}

static int
on_stanza(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *data)
{
    Client *c = data;
    const char *name = xmpp_stanza_get_name(stanza);
    if (name == NULL)
        return 1;
    if (g_str_equal(name, "presence"))
        on_presence(c, stanza);
    else if (g_str_equal(name, "message"))
        on_message(c, stanza);
    return 1;
}

static void
on_conn_event(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
              xmpp_stream_error_t *stream_error, void *data)
{
    Client *c = data;
    Bench *b = c->bench;
    if (event == XMPP_CONN_CONNECT) {
        if (c->state != CLIENT_CONNECTING)
            return;
        gint64 latency = now_us() - c->login_started;
        g_array_append_val(b->login_us, latency);
        c->state = CLIENT_ONLINE;
        b->connecting--;
        b->online++;
        b->login_phase_end = now_us();
        progress(b);
        /* Initial presence, as real clients send: the server then tracks the directed
         * presence to the room and tells it when the session ends. */
        xmpp_send_raw_string(conn, "<presence/>");
        return;
    }
    if (event != XMPP_CONN_DISCONNECT && event != XMPP_CONN_FAIL)
        return;
    switch (c->state) {
    case CLIENT_CONNECTING:
        if (b->opt.verbose)
            fprintf(stderr, "client %u: login failed (%s)\n", c->index,
                    stream_error ? "stream error"
                    : error      ? g_strerror(error)
                                 : "closed");
        c->state = CLIENT_LOGIN_FAILED;
        b->connecting--;
        b->login_failed++;
        progress(b);
        break;
    case CLIENT_JOINING:
        b->join_failed++;
        count_name(b->join_errors, "disconnected");
        join_done(c, CLIENT_JOIN_FAILED);
        c->lost = TRUE;
        b->disconnects_after_login++;
        break;
    case CLIENT_ONLINE:
    case CLIENT_JOINED:
    case CLIENT_JOIN_FAILED:
        c->lost = TRUE;
        b->disconnects_after_login++;
        break;
    default:
        break;
    }
}

static gboolean
over_deadline(Bench *b)
{
    if (now_us() < b->deadline)
        return FALSE;
    b->deadline_hit = TRUE;
    return TRUE;
}

static gboolean
stalled(Bench *b)
{
    return now_us() - b->last_progress > (gint64)(b->opt.stall_s * G_USEC_PER_SEC);
}

static void
run_once(Bench *b)
{
    xmpp_run_once(b->ctx, 5);
}

/* Nagle's algorithm would hold back a client's back-to-back stanzas (its messages) for a
 * delayed ACK: the benchmark measures the servers, so clients send at once. */
static int
on_sockopt(xmpp_conn_t *conn, void *sock)
{
    int one = 1;
    return setsockopt(*(int *)sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0 ? 0 : -1;
}

static void
start_client(Bench *b, Client *c)
{
    c->conn = xmpp_conn_new(b->ctx);
    xmpp_conn_set_flags(c->conn, XMPP_CONN_FLAG_DISABLE_TLS | XMPP_CONN_FLAG_DISABLE_SM);
    /* A JID without a localpart: libstrophe then logs in with SASL ANONYMOUS. */
    xmpp_conn_set_jid(c->conn, b->opt.domain);
    xmpp_handler_add(c->conn, on_stanza, NULL, NULL, NULL, c);
    if (b->opt.nodelay)
        xmpp_conn_set_sockopt_callback(c->conn, on_sockopt);
    c->state = CLIENT_CONNECTING;
    c->login_started = now_us();
    b->connecting++;
    if (xmpp_connect_client(c->conn, b->opt.server, (unsigned short)b->opt.port, on_conn_event,
                            c) != XMPP_EOK) {
        c->state = CLIENT_LOGIN_FAILED;
        b->connecting--;
        b->login_failed++;
    }
}

static void
login_phase(Bench *b)
{
    guint next = 0, n = (guint)b->opt.clients;
    b->login_phase_start = now_us();
    progress(b);
    while (!over_deadline(b) && !stalled(b)) {
        while (next < n && b->connecting < (guint)b->opt.concurrency)
            start_client(b, &b->clients[next++]);
        if (next == n && b->connecting == 0)
            break;
        run_once(b);
    }
    /* Whoever is still logging in now has failed. */
    for (guint i = 0; i < n; i++) {
        Client *c = &b->clients[i];
        if (c->state == CLIENT_IDLE || c->state == CLIENT_CONNECTING) {
            if (c->state == CLIENT_CONNECTING)
                b->connecting--;
            c->state = CLIENT_LOGIN_FAILED;
            b->login_failed++;
            if (c->conn != NULL)
                xmpp_disconnect(c->conn);
        }
    }
    if (b->login_phase_end == 0)
        b->login_phase_end = now_us();
}

static void
send_join(Bench *b, Client *c)
{
    c->state = CLIENT_JOINING;
    c->join_sent = now_us();
    if (b->join_first_sent == 0)
        b->join_first_sent = c->join_sent;
    b->joining++;
    b->joins_sent++;
    xmpp_send_raw_string(c->conn, "<presence to='%s/u%u' id='join%u'><x xmlns='%s'/></presence>",
                         b->room_jids[c->room], c->index, c->index, NS_MUC);
}

static void
join_phase(Bench *b)
{
    guint next = 0, n = (guint)b->opt.clients;
    progress(b);
    while (!over_deadline(b) && !stalled(b)) {
        while (next < n && b->joining < (guint)b->opt.join_window) {
            Client *c = &b->clients[next++];
            if (c->state == CLIENT_ONLINE && !c->lost)
                send_join(b, c);
        }
        if (next == n && b->joining == 0)
            break;
        run_once(b);
    }
    for (guint i = 0; i < n; i++) {
        if (b->clients[i].state == CLIENT_JOINING) {
            b->clients[i].state = CLIENT_JOIN_FAILED;
            b->join_unanswered++;
        }
    }
    b->joining = 0;
}

static void
settle_phase(Bench *b)
{
    b->settle_start = now_us();
    b->presences_expected = 0;
    for (guint r = 0; r < (guint)b->opt.rooms; r++)
        b->presences_expected += (guint64)b->room_joined[r] * b->room_joined[r];
    progress(b);
    while (!over_deadline(b) && !stalled(b) && b->presences_received < b->presences_expected)
        run_once(b);
    b->settle_end = now_us();
}

static void
hold(Bench *b)
{
    gint64 until = now_us() + (gint64)(b->opt.hold_s * G_USEC_PER_SEC);
    while (now_us() < until && !over_deadline(b))
        run_once(b);
}

static void
message_phase(Bench *b)
{
    guint n = (guint)b->opt.clients;
    b->deliveries_expected = 0;
    for (guint r = 0; r < (guint)b->opt.rooms; r++)
        b->deliveries_expected +=
            (guint64)b->opt.messages * b->room_joined[r] * (guint64)b->room_joined[r];
    b->messages_start = now_us();
    for (int k = 0; k < b->opt.messages; k++) {
        for (guint i = 0; i < n; i++) {
            Client *c = &b->clients[i];
            if (c->state != CLIENT_JOINED || c->lost)
                continue;
            xmpp_send_raw_string(c->conn,
                                 "<message to='%s' type='groupchat' id='m%u-%d'>"
                                 "<body>m %u %d %" G_GINT64_FORMAT "</body></message>",
                                 b->room_jids[c->room], i, k, i, k, now_us());
            b->messages_sent++;
        }
    }
    progress(b);
    while (!over_deadline(b) && !stalled(b) && b->deliveries_received < b->deliveries_expected)
        run_once(b);
    b->messages_end = now_us();
    for (guint i = 0; i < n; i++) {
        Client *c = &b->clients[i];
        if (c->state != CLIENT_JOINED)
            continue;
        guint expected = (guint)b->opt.messages * b->room_joined[c->room];
        if (c->deliveries < expected)
            b->clients_short++;
        else if (c->deliveries > expected)
            b->clients_over++;
    }
}

static gboolean
queues_empty(Bench *b)
{
    for (guint i = 0; i < (guint)b->opt.clients; i++) {
        xmpp_conn_t *conn = b->clients[i].conn;
        if (conn != NULL && xmpp_conn_is_connected(conn) && xmpp_conn_send_queue_len(conn) > 0)
            return FALSE;
    }
    return TRUE;
}

static gboolean
all_disconnected(Bench *b)
{
    for (guint i = 0; i < (guint)b->opt.clients; i++) {
        xmpp_conn_t *conn = b->clients[i].conn;
        if (conn != NULL && !xmpp_conn_is_disconnected(conn))
            return FALSE;
    }
    return TRUE;
}

/* Bounded by its own few seconds, even past the deadline: sockets must be closed. */
static void
leave_phase(Bench *b)
{
    for (guint i = 0; i < (guint)b->opt.clients; i++) {
        Client *c = &b->clients[i];
        if (c->state == CLIENT_JOINED && !c->lost) {
            xmpp_send_raw_string(c->conn, "<presence to='%s/u%u' type='unavailable'/>",
                                 b->room_jids[c->room], c->index);
            c->state = CLIENT_LEFT;
        }
    }
    gint64 until = now_us() + 5 * G_USEC_PER_SEC;
    while (now_us() < until && !queues_empty(b))
        run_once(b);
    for (guint i = 0; i < (guint)b->opt.clients; i++) {
        xmpp_conn_t *conn = b->clients[i].conn;
        if (conn != NULL && !xmpp_conn_is_disconnected(conn))
            xmpp_disconnect(conn);
    }
    until = now_us() + 5 * G_USEC_PER_SEC;
    while (now_us() < until && !all_disconnected(b))
        run_once(b);
}

static guint
max_clients(void)
{
    return FD_SETSIZE - FD_RESERVE;
}

static gboolean
raise_fd_limit(guint clients)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return FALSE;
    rlim_t want = clients + FD_RESERVE + 64;
    if (rl.rlim_cur >= want)
        return TRUE;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
        fprintf(stderr, "muc-load: the hard limit on open files (%lu) is below %lu\n",
                (unsigned long)rl.rlim_max, (unsigned long)want);
        return FALSE;
    }
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        fprintf(stderr, "muc-load: setrlimit(NOFILE, %lu): %s\n", (unsigned long)want,
                g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

/* Sockets get the lowest free descriptors: they must all stay below FD_SETSIZE. */
static gboolean
fds_fit(guint clients)
{
    int lowest = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (lowest < 0) {
        fprintf(stderr, "muc-load: open /dev/null: %s\n", g_strerror(errno));
        return FALSE;
    }
    close(lowest);
    if ((guint)lowest + clients + 8 > FD_SETSIZE) {
        fprintf(stderr,
                "muc-load: %u clients from descriptor %d on would reach FD_SETSIZE (%d), "
                "which libstrophe's select() cannot watch\n",
                clients, lowest, FD_SETSIZE);
        return FALSE;
    }
    return TRUE;
}

static gboolean
parse_options(Options *o, int *argc, char ***argv)
{
    *o = (Options){.server = g_strdup("127.0.0.1"),
                   .port = 5222,
                   .room_prefix = g_strdup("benchroom"),
                   .clients = 1000,
                   .rooms = 50,
                   .messages = 5,
                   .concurrency = 50,
                   .join_window = 50,
                   .deadline_s = 600,
                   .stall_s = 30,
                   .hold_s = 0,
                   .nodelay = TRUE};
    gboolean nagle = FALSE;
    GOptionEntry entries[] = {
        {"server", 's', 0, G_OPTION_ARG_STRING, &o->server, "XMPP server host (127.0.0.1)", "HOST"},
        {"port", 'p', 0, G_OPTION_ARG_INT, &o->port, "c2s port (5222)", "PORT"},
        {"domain", 'd', 0, G_OPTION_ARG_STRING, &o->domain,
         "Client domain: a host with SASL ANONYMOUS (required)", "DOMAIN"},
        {"service", 'm', 0, G_OPTION_ARG_STRING, &o->service, "MUC service domain (required)",
         "DOMAIN"},
        {"clients", 'n', 0, G_OPTION_ARG_INT, &o->clients, "Client connections (1000)", "N"},
        {"rooms", 'r', 0, G_OPTION_ARG_INT, &o->rooms, "Rooms; client i joins room i mod M (50)",
         "M"},
        {"messages", 'k', 0, G_OPTION_ARG_INT, &o->messages,
         "Groupchat messages each client sends (5)", "K"},
        {"concurrency", 'c', 0, G_OPTION_ARG_INT, &o->concurrency, "Logins in flight (50)", "C"},
        {"join-window", 'w', 0, G_OPTION_ARG_INT, &o->join_window,
         "Joins in flight, sent in client order (50)", "W"},
        {"deadline", 't', 0, G_OPTION_ARG_DOUBLE, &o->deadline_s,
         "Stop and report after this many seconds (600)", "SECONDS"},
        {"stall", 0, 0, G_OPTION_ARG_DOUBLE, &o->stall_s,
         "End a phase after this long without progress (30)", "SECONDS"},
        {"hold", 0, 0, G_OPTION_ARG_DOUBLE, &o->hold_s,
         "Pause between the settled rooms and the messages (0)", "SECONDS"},
        {"room-prefix", 0, 0, G_OPTION_ARG_STRING, &o->room_prefix,
         "Room names are PREFIX0..PREFIX<M-1> (benchroom)", "PREFIX"},
        {"nagle", 0, 0, G_OPTION_ARG_NONE, &nagle,
         "Leave Nagle's algorithm on for client sockets (default: TCP_NODELAY)", NULL},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &o->verbose,
         "libstrophe warnings and per-client failures on stderr", NULL},
        {NULL}};
    g_autoptr(GOptionContext) context = g_option_context_new("- load a Multi-User Chat service");
    g_option_context_set_summary(
        context, "N clients log in, join M rooms, chat, and leave; a JSON report on stdout.");
    g_option_context_add_main_entries(context, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(context, argc, argv, &error)) {
        fprintf(stderr, "muc-load: %s\n", error->message);
        return FALSE;
    }
    o->nodelay = !nagle;
    const char *problem = NULL;
    if (*argc > 1)
        problem = "unexpected arguments";
    else if (o->domain == NULL || o->service == NULL)
        problem = "--domain and --service are required";
    else if (o->clients < 1 || (guint)o->clients > max_clients())
        problem = "--clients must be 1..FD_SETSIZE-24 (libstrophe 0.12 uses select())";
    else if (o->rooms < 1 || o->rooms > o->clients)
        problem = "--rooms must be 1..clients";
    else if (o->messages < 0 || o->messages > 100000)
        problem = "--messages must be 0..100000";
    else if (o->concurrency < 1 || o->join_window < 1)
        problem = "--concurrency and --join-window must be at least 1";
    else if (o->port < 1 || o->port > 65535)
        problem = "--port must be 1..65535";
    else if (o->deadline_s <= 0 || o->stall_s <= 0 || o->hold_s < 0)
        problem = "--deadline and --stall must be positive, --hold not negative";
    if (problem != NULL) {
        fprintf(stderr, "muc-load: %s (max clients here: %u)\n", problem, max_clients());
        return FALSE;
    }
    return TRUE;
}

static void
options_clear(Options *o)
{
    g_free(o->server);
    g_free(o->domain);
    g_free(o->service);
    g_free(o->room_prefix);
}

int
main(int argc, char **argv)
{
    Bench bench = {0}, *b = &bench;
    if (!parse_options(&b->opt, &argc, &argv)) {
        options_clear(&b->opt);
        return 2;
    }
    if (!raise_fd_limit((guint)b->opt.clients) || !fds_fit((guint)b->opt.clients)) {
        options_clear(&b->opt);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    guint n = (guint)b->opt.clients, m = (guint)b->opt.rooms;
    b->clients = g_new0(Client, n);
    b->room_jids = g_new0(char *, m + 1);
    b->room_joined = g_new0(guint, m);
    for (guint r = 0; r < m; r++)
        b->room_jids[r] = g_strdup_printf("%s%u@%s", b->opt.room_prefix, r, b->opt.service);
    for (guint i = 0; i < n; i++)
        b->clients[i] = (Client){.bench = b, .index = i, .room = i % m};
    b->login_us = g_array_sized_new(FALSE, FALSE, sizeof(gint64), n);
    b->join_us = g_array_sized_new(FALSE, FALSE, sizeof(gint64), n);
    b->delivery_us = g_array_new(FALSE, FALSE, sizeof(gint64));
    b->join_errors = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    b->message_errors_by_condition = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    xmpp_initialize();
    xmpp_log_t logger = {.handler = strophe_log, .userdata = b};
    b->ctx = xmpp_ctx_new(NULL, b->opt.verbose ? &logger : NULL);
    b->start = now_us();
    b->deadline = b->start + (gint64)(b->opt.deadline_s * G_USEC_PER_SEC);

    phase(b, "login");
    login_phase(b);
    phase(b, "join");
    join_phase(b);
    phase(b, "settle");
    settle_phase(b);
    phase(b, "joined");
    hold(b);
    phase(b, "messages");
    if (!over_deadline(b))
        message_phase(b);
    phase(b, "leave");
    gint64 end = now_us();
    leave_phase(b);
    phase(b, "done");
    report(b, end);

    gboolean complete = b->joined == n && b->deliveries_received == b->deliveries_expected &&
                        b->clients_short == 0 && b->clients_over == 0 && !b->deadline_hit;
    for (guint i = 0; i < n; i++) {
        if (b->clients[i].conn != NULL)
            xmpp_conn_release(b->clients[i].conn);
    }
    xmpp_ctx_free(b->ctx);
    xmpp_shutdown();
    g_strfreev(b->room_jids);
    g_free(b->room_joined);
    g_free(b->clients);
    g_array_unref(b->login_us);
    g_array_unref(b->join_us);
    g_array_unref(b->delivery_us);
    g_hash_table_unref(b->join_errors);
    g_hash_table_unref(b->message_errors_by_condition);
    options_clear(&b->opt);
    return complete ? 0 : 1;
}
