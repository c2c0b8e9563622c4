/* The bridge channel's endpoints and WebSockets (see channel.h): the table of conferences
 * and endpoints with their passwords, the HTTP checks before the upgrade, the relay of
 * client messages, rate limits, dominant speaker events and the channel's metrics. Message
 * shapes are channel-message.c's; speaker elections are the workers' (speaker.c). */
#include "channel.h"

#include "channel-message.h"
#include "crypto.h"

#include <string.h>

#define PASSWORD_BYTES    16    /* 128 bits, 22 characters of base64url */
#define MAX_PREVIOUS      4     /* previousSpeakers in a dominant speaker event */
#define MAX_INCOMING      65536 /* libsoup closes the connection beyond this (1009) */
#define KEEPALIVE_SECONDS 25    /* pings keep proxies from closing an idle channel */

typedef struct _ChannelConference ChannelConference;

typedef struct {
    ChannelConference *conf;
    char *id;         /* the endpoint id */
    char *channel_id; /* how the others know it; NULL: the endpoint id. Never logged */
    char *password;
    SoupWebsocketConnection *ws; /* NULL while no client is connected */
    double tokens;               /* rate limit bucket */
    gint64 refilled_us;
} ChannelEndpoint;

struct _ChannelConference {
    BridgeChannels *channels;
    char *meeting_id;
    GHashTable *endpoints;        /* endpoint id -> ChannelEndpoint* (owned) */
    char *dominant;               /* endpoint id, or NULL */
    char *previous[MAX_PREVIOUS]; /* endpoint ids, most recent first */
};

enum { OUT_HELLO, OUT_MESSAGE, OUT_STATS, OUT_SPEAKER, N_OUT };

struct _BridgeChannels {
    CcHttpServer *http;
    char *base_url;
    char *version;
    guint max_rate;
    GHashTable *conferences; /* meeting id -> ChannelConference* (owned) */
    GHashTable *closing;     /* SoupWebsocketConnection* we closed, until libsoup says closed */
    CcMetric *m_open, *m_opened, *m_refused_password, *m_refused_unknown, *m_replaced;
    CcMetric *m_speaker_changes;
    CcMetric **m_in; /* per class */
    CcMetric *m_out[N_OUT];
    CcMetric *m_drop[BRIDGE_CHANNEL_N_DROPS];
};

static const char *
channel_id_of(const ChannelEndpoint *ep)
{
    return ep->channel_id != NULL ? ep->channel_id : ep->id;
}

/* --- WebSockets -------------------------------------------------------------------------- */

static void
on_orphan_closed(SoupWebsocketConnection *ws, gpointer data)
{
    BridgeChannels *ch = data;
    g_hash_table_remove(ch->closing, ws); /* drops our reference */
}

/* Lets go of an endpoint's WebSocket, closing it (1000, or 1001 when the endpoint is gone)
 * unless the client already did. */
static void
release_ws(ChannelEndpoint *ep, gushort code, const char *reason)
{
    BridgeChannels *ch = ep->conf->channels;
    SoupWebsocketConnection *ws = g_steal_pointer(&ep->ws);
    if (ws == NULL)
        return;
    g_signal_handlers_disconnect_by_data(ws, ep);
    cc_metric_add(ch->m_open, -1);
    if (soup_websocket_connection_get_state(ws) != SOUP_WEBSOCKET_STATE_OPEN) {
        g_object_unref(ws);
        return;
    }
    g_hash_table_add(ch->closing, ws);
    g_signal_connect(ws, "closed", G_CALLBACK(on_orphan_closed), ch);
    soup_websocket_connection_close(ws, code, reason);
}

static void
send_text(ChannelEndpoint *ep, const char *text, guint out)
{
    if (ep->ws == NULL || text == NULL ||
        soup_websocket_connection_get_state(ep->ws) != SOUP_WEBSOCKET_STATE_OPEN)
        return;
    soup_websocket_connection_send_text(ep->ws, text);
    cc_metric_inc(ep->conf->channels->m_out[out]);
}

static void
drop(BridgeChannels *ch, BridgeChannelDrop reason)
{
    cc_metric_inc(ch->m_drop[reason]);
}

/* A token bucket: max_rate per second (at least 1, by the config), bursts of twice that. */
static double
burst_of(guint max_rate)
{
    return 2.0 * max_rate;
}

static gboolean
take_token(ChannelEndpoint *ep, guint max_rate)
{
    gint64 now = g_get_monotonic_time();
    double burst = burst_of(max_rate);
    ep->tokens += (double)(now - ep->refilled_us) * max_rate / G_USEC_PER_SEC;
    ep->refilled_us = now;
    if (ep->tokens > burst)
        ep->tokens = burst;
    if (ep->tokens < 1.0)
        return FALSE;
    ep->tokens -= 1.0;
    return TRUE;
}

static ChannelEndpoint *
find_by_channel_id(ChannelConference *conf, const char *channel_id)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, conf->endpoints);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        if (strcmp(channel_id_of(value), channel_id) == 0)
            return value;
    }
    return NULL;
}

static void
relay(ChannelEndpoint *from, BridgeChannelMessage *m)
{
    BridgeChannels *ch = from->conf->channels;
    const BridgeChannelClass *klass = &bridge_channel_classes[m->klass];
    if (klass->action == BRIDGE_CHANNEL_IGNORE)
        return;
    guint out = klass->action == BRIDGE_CHANNEL_RELAY ? OUT_MESSAGE : OUT_STATS;
    ChannelEndpoint *target = NULL;
    if (klass->action == BRIDGE_CHANNEL_RELAY && m->to != NULL && *m->to != '\0') {
        target = find_by_channel_id(from->conf, m->to);
        if (target == NULL) {
            drop(ch, BRIDGE_CHANNEL_DROP_UNKNOWN_TARGET);
            return;
        }
    }
    g_autofree char *text = bridge_channel_message_relay(m, channel_id_of(from));
    if (text == NULL) {
        drop(ch, BRIDGE_CHANNEL_DROP_BAD_JSON);
        return;
    }
    if (target != NULL) {
        if (target != from) /* never back to its sender */
            send_text(target, text, out);
        return;
    }
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, from->conf->endpoints);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        if (value != from)
            send_text(value, text, out);
    }
}

static void
on_message(SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer data)
{
    ChannelEndpoint *ep = data;
    BridgeChannels *ch = ep->conf->channels;
    if (type != SOUP_WEBSOCKET_DATA_TEXT) {
        drop(ch, BRIDGE_CHANNEL_DROP_BINARY);
        return;
    }
    if (!take_token(ep, ch->max_rate)) {
        drop(ch, BRIDGE_CHANNEL_DROP_RATE);
        return;
    }
    gsize len = 0;
    const char *text = g_bytes_get_data(message, &len);
    BridgeChannelDrop reason = BRIDGE_CHANNEL_DROP_NONE;
    g_autoptr(BridgeChannelMessage) m = bridge_channel_message_parse(text, len, &reason);
    if (m == NULL) {
        drop(ch, reason);
        return;
    }
    cc_metric_inc(ch->m_in[m->klass]);
    relay(ep, m);
}

static void
on_closed(SoupWebsocketConnection *ws, gpointer data)
{
    ChannelEndpoint *ep = data;
    if (ep->ws == ws)
        release_ws(ep, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
}

static char *
speaker_event(ChannelConference *conf)
{
    ChannelEndpoint *speaker = g_hash_table_lookup(conf->endpoints, conf->dominant);
    if (speaker == NULL)
        return NULL;
    const char *previous[MAX_PREVIOUS + 1] = {NULL};
    guint n = 0;
    for (guint i = 0; i < MAX_PREVIOUS && conf->previous[i] != NULL; i++) {
        ChannelEndpoint *p = g_hash_table_lookup(conf->endpoints, conf->previous[i]);
        if (p != NULL)
            previous[n++] = channel_id_of(p);
    }
    return bridge_channel_dominant_speaker(channel_id_of(speaker), previous);
}

/* --- the HTTP side --------------------------------------------------------------------- */

gboolean
bridge_channel_parse_path(const char *path, char **meeting_id, char **endpoint_id)
{
    if (path == NULL || path[0] != '/')
        return FALSE;
    const char *m = path + 1;
    const char *slash = strchr(m, '/');
    if (slash == NULL)
        return FALSE;
    g_autofree char *meeting = g_strndup(m, (gsize)(slash - m));
    if (!cc_colibri2_valid_id(meeting) || !cc_colibri2_valid_id(slash + 1))
        return FALSE;
    *meeting_id = g_steal_pointer(&meeting);
    *endpoint_id = g_strdup(slash + 1);
    return TRUE;
}

/* The endpoint a request names, if its password is right; otherwise the HTTP status. */
static ChannelEndpoint *
authorize(BridgeChannels *ch, const char *path, GHashTable *query, guint *status)
{
    g_autofree char *meeting = NULL, *endpoint = NULL;
    ChannelConference *conf = NULL;
    ChannelEndpoint *ep = NULL;
    if (g_str_has_prefix(path, BRIDGE_CHANNEL_PATH) &&
        bridge_channel_parse_path(path + strlen(BRIDGE_CHANNEL_PATH), &meeting, &endpoint))
        conf = g_hash_table_lookup(ch->conferences, meeting);
    if (conf != NULL)
        ep = g_hash_table_lookup(conf->endpoints, endpoint);
    if (ep == NULL) {
        cc_metric_inc(ch->m_refused_unknown);
        *status = SOUP_STATUS_NOT_FOUND;
        return NULL;
    }
    const char *pwd = query != NULL ? g_hash_table_lookup(query, "pwd") : NULL;
    if (pwd == NULL || !cc_secret_equal(pwd, ep->password)) {
        cc_metric_inc(ch->m_refused_password);
        *status = SOUP_STATUS_FORBIDDEN;
        return NULL;
    }
    *status = SOUP_STATUS_SWITCHING_PROTOCOLS;
    return ep;
}

static guint
on_check(const char *path, GHashTable *query, gpointer data)
{
    guint status;
    authorize(data, path, query, &status);
    return status;
}

static void
on_open(const char *path, GHashTable *query, SoupWebsocketConnection *ws, gpointer data)
{
    BridgeChannels *ch = data;
    guint status;
    /* again: the endpoint may have gone while the upgrade was answered */
    ChannelEndpoint *ep = authorize(ch, path, query, &status);
    if (ep == NULL) {
        soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "gone");
        return;
    }
    if (ep->ws != NULL) {
        release_ws(ep, SOUP_WEBSOCKET_CLOSE_NORMAL, "replaced");
        cc_metric_inc(ch->m_replaced);
    }
    ep->ws = g_object_ref(ws);
    ep->tokens = burst_of(ch->max_rate);
    ep->refilled_us = g_get_monotonic_time();
    soup_websocket_connection_set_max_incoming_payload_size(ws, MAX_INCOMING);
    soup_websocket_connection_set_keepalive_interval(ws, KEEPALIVE_SECONDS);
    g_signal_connect(ws, "message", G_CALLBACK(on_message), ep);
    g_signal_connect(ws, "closed", G_CALLBACK(on_closed), ep);
    cc_metric_add(ch->m_open, 1);
    cc_metric_inc(ch->m_opened);
    g_info("channel of endpoint %s (conference %s) open", ep->id, ep->conf->meeting_id);
    g_autofree char *hello = bridge_channel_server_hello(ch->version);
    send_text(ep, hello, OUT_HELLO);
    if (ep->conf->dominant != NULL) {
        g_autofree char *speaker = speaker_event(ep->conf);
        send_text(ep, speaker, OUT_SPEAKER);
    }
}

/* --- the table ------------------------------------------------------------------------- */

static void
endpoint_free(gpointer data)
{
    ChannelEndpoint *ep = data;
    release_ws(ep, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "expired");
    g_free(ep->id);
    g_free(ep->channel_id);
    g_free(ep->password);
    g_free(ep);
}

static void
conference_free(gpointer data)
{
    ChannelConference *conf = data;
    g_hash_table_unref(conf->endpoints);
    g_free(conf->meeting_id);
    g_free(conf->dominant);
    for (guint i = 0; i < MAX_PREVIOUS; i++)
        g_free(conf->previous[i]);
    g_free(conf);
}

static ChannelEndpoint *
lookup(BridgeChannels *ch, const char *meeting_id, const char *endpoint_id)
{
    ChannelConference *conf = g_hash_table_lookup(ch->conferences, meeting_id);
    return conf != NULL ? g_hash_table_lookup(conf->endpoints, endpoint_id) : NULL;
}

char *
bridge_channels_add_endpoint(BridgeChannels *ch, const char *meeting_id, const char *endpoint_id,
                             const char *channel_id)
{
    ChannelConference *conf = g_hash_table_lookup(ch->conferences, meeting_id);
    if (conf == NULL) {
        conf = g_new0(ChannelConference, 1);
        conf->channels = ch;
        conf->meeting_id = g_strdup(meeting_id);
        conf->endpoints = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, endpoint_free);
        g_hash_table_insert(ch->conferences, conf->meeting_id, conf);
    }
    guint8 secret[PASSWORD_BYTES];
    g_autoptr(GError) error = NULL;
    if (!cc_random_bytes(secret, sizeof secret, &error))
        g_error("no randomness for a channel password: %s", error->message);
    ChannelEndpoint *ep = g_new0(ChannelEndpoint, 1);
    ep->conf = conf;
    ep->id = g_strdup(endpoint_id);
    ep->channel_id = g_strdup(channel_id);
    ep->password = cc_base64url_encode(secret, sizeof secret);
    memset(secret, 0, sizeof secret);
    g_hash_table_replace(conf->endpoints, ep->id, ep);
    return g_strdup_printf("%s/%s/%s?pwd=%s", ch->base_url, meeting_id, endpoint_id, ep->password);
}

void
bridge_channels_set_channel_id(BridgeChannels *ch, const char *meeting_id, const char *endpoint_id,
                               const char *channel_id)
{
    ChannelEndpoint *ep = lookup(ch, meeting_id, endpoint_id);
    if (ep != NULL && channel_id != NULL) {
        g_free(ep->channel_id);
        ep->channel_id = g_strdup(channel_id);
    }
}

static void
forget_speaker(ChannelConference *conf, const char *endpoint_id)
{
    if (g_strcmp0(conf->dominant, endpoint_id) == 0)
        g_clear_pointer(&conf->dominant, g_free);
    guint n = 0;
    for (guint i = 0; i < MAX_PREVIOUS; i++) {
        char *p = conf->previous[i];
        conf->previous[i] = NULL;
        if (p != NULL && strcmp(p, endpoint_id) == 0)
            g_free(p);
        else if (p != NULL)
            conf->previous[n++] = p;
    }
}

void
bridge_channels_remove_endpoint(BridgeChannels *ch, const char *meeting_id, const char *endpoint_id)
{
    ChannelConference *conf = g_hash_table_lookup(ch->conferences, meeting_id);
    if (conf == NULL)
        return;
    forget_speaker(conf, endpoint_id);
    g_hash_table_remove(conf->endpoints, endpoint_id);
    if (g_hash_table_size(conf->endpoints) == 0)
        g_hash_table_remove(ch->conferences, meeting_id);
}

void
bridge_channels_remove_conference(BridgeChannels *ch, const char *meeting_id)
{
    g_hash_table_remove(ch->conferences, meeting_id);
}

void
bridge_channels_dominant_speaker(BridgeChannels *ch, const char *meeting_id,
                                 const char *endpoint_id)
{
    ChannelConference *conf = g_hash_table_lookup(ch->conferences, meeting_id);
    if (conf == NULL || g_hash_table_lookup(conf->endpoints, endpoint_id) == NULL ||
        g_strcmp0(conf->dominant, endpoint_id) == 0)
        return;
    forget_speaker(conf, endpoint_id);
    if (conf->dominant != NULL) {
        g_free(conf->previous[MAX_PREVIOUS - 1]);
        memmove(conf->previous + 1, conf->previous, (MAX_PREVIOUS - 1) * sizeof(char *));
        conf->previous[0] = g_steal_pointer(&conf->dominant);
    }
    conf->dominant = g_strdup(endpoint_id);
    cc_metric_inc(ch->m_speaker_changes);
    g_autofree char *event = speaker_event(conf);
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, conf->endpoints);
    while (g_hash_table_iter_next(&it, NULL, &value))
        send_text(value, event, OUT_SPEAKER);
}

/* --- life ------------------------------------------------------------------------------ */

static void
register_metrics(BridgeChannels *ch, CcMetrics *m)
{
    ch->m_open = cc_metrics_gauge(m, "conclave_bridge_channels_open",
                                  "Bridge channel WebSockets open", NULL);
    ch->m_opened = cc_metrics_counter(m, "conclave_bridge_channel_opened_total",
                                      "Bridge channel WebSockets opened", NULL);
    ch->m_replaced =
        cc_metrics_counter(m, "conclave_bridge_channel_replaced_total",
                           "Bridge channels closed because the endpoint connected again", NULL);
#define REFUSED      "conclave_bridge_channel_refused_total"
#define REFUSED_HELP "Bridge channel connections refused before the upgrade, by reason"
    ch->m_refused_password =
        cc_metrics_counter(m, REFUSED, REFUSED_HELP, "reason", "bad_password", NULL);
    ch->m_refused_unknown =
        cc_metrics_counter(m, REFUSED, REFUSED_HELP, "reason", "unknown_endpoint", NULL);
    ch->m_in = g_new0(CcMetric *, bridge_channel_n_classes);
    for (guint i = 0; i < bridge_channel_n_classes; i++)
        ch->m_in[i] = cc_metrics_counter(m, "conclave_bridge_channel_messages_in_total",
                                         "Bridge channel messages accepted from clients, by class",
                                         "class", bridge_channel_classes[i].name, NULL);
    static const char *const out[N_OUT] = {"ServerHello", "EndpointMessage", "EndpointStats",
                                           "DominantSpeakerEndpointChangeEvent"};
    for (guint i = 0; i < N_OUT; i++)
        ch->m_out[i] = cc_metrics_counter(m, "conclave_bridge_channel_messages_out_total",
                                          "Bridge channel messages sent to clients, by class",
                                          "class", out[i], NULL);
    for (guint i = 1; i < BRIDGE_CHANNEL_N_DROPS; i++)
        ch->m_drop[i] = cc_metrics_counter(m, "conclave_bridge_channel_dropped_total",
                                           "Bridge channel messages dropped, by reason", "reason",
                                           bridge_channel_drop_name(i), NULL);
    ch->m_speaker_changes = cc_metrics_counter(m, "conclave_bridge_dominant_speaker_changes_total",
                                               "Dominant speaker changes announced", NULL);
}

BridgeChannels *
bridge_channels_new(CcHttpServer *http, const char *base_url, guint max_rate, const char *version,
                    CcMetrics *metrics)
{
    BridgeChannels *ch = g_new0(BridgeChannels, 1);
    ch->http = http;
    if (base_url != NULL && *base_url != '\0') {
        ch->base_url = g_strdup(base_url);
    } else {
        g_autofree char *authority = cc_http_server_authority(http);
        ch->base_url = g_strdup_printf("ws://%s%s", authority, BRIDGE_CHANNEL_PATH);
    }
    ch->version = g_strdup(version);
    ch->max_rate = max_rate;
    ch->conferences = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, conference_free);
    ch->closing = g_hash_table_new_full(g_direct_hash, g_direct_equal, g_object_unref, NULL);
    register_metrics(ch, metrics);
    cc_http_server_add_websocket(http, BRIDGE_CHANNEL_PATH, on_check, on_open, ch);
    g_message("bridge channel: %s/<meeting-id>/<endpoint-id>", ch->base_url);
    return ch;
}

void
bridge_channels_free(BridgeChannels *ch)
{
    if (ch == NULL)
        return;
    cc_http_server_remove_websocket(ch->http, BRIDGE_CHANNEL_PATH);
    g_hash_table_unref(ch->conferences);
    /* the loop stops after this: closing sockets are let go of at once */
    GHashTableIter it;
    gpointer ws;
    g_hash_table_iter_init(&it, ch->closing);
    while (g_hash_table_iter_next(&it, &ws, NULL))
        g_signal_handlers_disconnect_by_data(ws, ch);
    g_hash_table_unref(ch->closing);
    g_free(ch->m_in);
    g_free(ch->base_url);
    g_free(ch->version);
    g_free(ch);
}
