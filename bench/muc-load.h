/* muc-load: the state a run keeps (see muc-load.c for what it does), shared by the
 * load generator and its report. */
#pragma once

#include <glib.h>
#include <strophe.h>

#define NS_MUC      "http://jabber.org/protocol/muc"
#define NS_MUC_USER "http://jabber.org/protocol/muc#user"
#define NS_STANZAS  "urn:ietf:params:xml:ns:xmpp-stanzas"

/* File descriptors kept free for stdio, the logger and anything libc opens. */
#define FD_RESERVE 24
/* Per-message delivery latencies kept for percentiles (the count stays exact beyond). */
#define MAX_LATENCY_SAMPLES 4000000

typedef enum {
    CLIENT_IDLE,
    CLIENT_CONNECTING,
    CLIENT_ONLINE,
    CLIENT_JOINING,
    CLIENT_JOINED,
    CLIENT_JOIN_FAILED,
    CLIENT_LOGIN_FAILED,
    CLIENT_LEFT,
} ClientState;

typedef struct _Bench Bench;

typedef struct {
    Bench *bench;
    guint index;
    guint room;
    xmpp_conn_t *conn;
    ClientState state;
    gboolean lost; /* the connection closed after login */
    gint64 login_started, join_sent;
    guint presences;  /* available presences of occupants of its room (itself included) */
    guint deliveries; /* groupchat messages of its room with a body */
} Client;

typedef struct {
    char *server, *domain, *service, *room_prefix;
    int port, clients, rooms, messages, concurrency, join_window;
    double deadline_s, stall_s, hold_s;
    gboolean verbose, nodelay;
} Options;

struct _Bench {
    Options opt;
    xmpp_ctx_t *ctx;
    Client *clients;
    char **room_jids;
    guint *room_joined; /* clients joined per room */
    gint64 start, deadline, last_progress;
    gboolean deadline_hit;

    guint connecting, online, login_failed;
    GArray *login_us;
    gint64 login_phase_start, login_phase_end;

    guint joins_sent, joining, joined, join_failed, join_unanswered;
    GArray *join_us;
    gint64 join_first_sent, join_last_done;
    GHashTable *join_errors; /* condition -> count */

    guint64 presences_expected, presences_received;
    gint64 settle_start, settle_end;

    guint64 messages_sent, deliveries_expected, deliveries_received, message_errors;
    guint64 foreign_messages; /* groupchat with a body that is not one of ours */
    GArray *delivery_us;
    GHashTable *message_errors_by_condition;
    gint64 messages_start, messages_end;
    guint clients_short, clients_over;

    guint disconnects_after_login;
};

gint64 now_us(void);
double seconds(gint64 us);

/* Prints the run's result as one JSON object on stdout (muc-load-report.c). */
void report(Bench *b, gint64 end);
