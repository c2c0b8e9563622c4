/* Health and metrics over HTTP, and WebSocket prefixes (see http.h). Owns the libsoup
 * server; the meaning of "ready", and what a WebSocket carries, belong to the daemon. */
#include "http.h"

#include "cc-error.h"
#include "config.h"

#include <libsoup/soup.h>
#include <string.h>

struct _CcHttpServer {
    SoupServer *soup;
    CcMetrics *metrics;
    CcHealthFunc health;
    gpointer user_data;
    guint16 port;
    char *host;            /* the address bound */
    GPtrArray *websockets; /* Websocket*, freed with the server */
};

typedef struct {
    CcHttpWebsocketCheck check;
    CcHttpWebsocketOpen open;
    gpointer user_data;
} Websocket;

static void
reply_text(SoupServerMessage *msg, guint status, const char *content_type, char *body)
{
    soup_server_message_set_status(msg, status, NULL);
    soup_server_message_set_response(msg, content_type, SOUP_MEMORY_TAKE, body, strlen(body));
}

static gboolean
method_allowed(SoupServerMessage *msg)
{
    const char *method = soup_server_message_get_method(msg);
    if (g_str_equal(method, "GET") || g_str_equal(method, "HEAD"))
        return TRUE;
    soup_message_headers_append(soup_server_message_get_response_headers(msg), "Allow",
                                "GET, HEAD");
    reply_text(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "text/plain", g_strdup("GET only\n"));
    return FALSE;
}

static void
on_health(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
          gpointer data)
{
    CcHttpServer *server = data;
    if (!method_allowed(msg))
        return;
    g_autoptr(GString) reason = g_string_new(NULL);
    gboolean ready = server->health(reason, server->user_data);
    if (reason->len == 0)
        g_string_append(reason, ready ? "ready" : "not ready");
    g_string_append_c(reason, '\n');
    reply_text(msg, ready ? SOUP_STATUS_OK : SOUP_STATUS_SERVICE_UNAVAILABLE, "text/plain",
               g_strdup(reason->str));
}

static void
on_metrics(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
           gpointer data)
{
    CcHttpServer *server = data;
    if (!method_allowed(msg))
        return;
    reply_text(msg, SOUP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8",
               cc_metrics_render(server->metrics));
}

static void
on_other(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
         gpointer data)
{
    reply_text(msg, SOUP_STATUS_NOT_FOUND, "text/plain", g_strdup("not found\n"));
}

CcHttpServer *
cc_http_server_new(const char *listen, CcMetrics *metrics, CcHealthFunc health, gpointer user_data,
                   GError **error)
{
    g_autofree char *host = NULL;
    guint16 port = 0;
    if (!cc_config_parse_listen(listen, &host, &port)) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "bad listen address '%s'", listen);
        return NULL;
    }
    g_autoptr(CcHttpServer) server = g_new0(CcHttpServer, 1);
    server->metrics = metrics;
    server->health = health;
    server->user_data = user_data;
    /* No server header: it would only tell scanners which software answers. */
    server->soup = soup_server_new("server-header", NULL, NULL);
    soup_server_add_handler(server->soup, NULL, on_other, server, NULL);
    soup_server_add_handler(server->soup, "/health", on_health, server, NULL);
    soup_server_add_handler(server->soup, "/metrics", on_metrics, server, NULL);

    g_autoptr(GInetAddress) address = g_inet_address_new_from_string(host);
    g_autoptr(GSocketAddress) sockaddr = g_inet_socket_address_new(address, port);
    if (!soup_server_listen(server->soup, sockaddr, 0, error))
        return NULL;
    GSList *uris = soup_server_get_uris(server->soup);
    if (uris != NULL)
        server->port = (guint16)g_uri_get_port(uris->data);
    server->host = g_steal_pointer(&host);
    server->websockets = g_ptr_array_new_with_free_func(g_free);
    g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
    return g_steal_pointer(&server);
}

void
cc_http_server_free(CcHttpServer *server)
{
    if (server == NULL)
        return;
    if (server->soup != NULL) {
        soup_server_disconnect(server->soup);
        g_object_unref(server->soup);
    }
    if (server->websockets != NULL)
        g_ptr_array_unref(server->websockets);
    g_free(server->host);
    g_free(server);
}

guint16
cc_http_server_port(CcHttpServer *server)
{
    return server->port;
}

char *
cc_http_server_authority(CcHttpServer *server)
{
    if (strchr(server->host, ':') != NULL)
        return g_strdup_printf("[%s]:%u", server->host, server->port);
    return g_strdup_printf("%s:%u", server->host, server->port);
}

/* Runs before the upgrade: a status set here stops it. */
static void
on_websocket_request(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
                     gpointer data)
{
    Websocket *ws = data;
    if (!g_str_equal(soup_server_message_get_method(msg), "GET")) {
        soup_message_headers_append(soup_server_message_get_response_headers(msg), "Allow", "GET");
        reply_text(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "text/plain", g_strdup("GET only\n"));
        return;
    }
    guint status = ws->check(path, query, ws->user_data);
    if (status == SOUP_STATUS_SWITCHING_PROTOCOLS)
        return;
    /* A refused upgrade ends the connection: WebSocket clients wait for that. */
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Connection",
                                 "close");
    reply_text(msg, status, "text/plain", g_strdup_printf("%s\n", soup_status_get_phrase(status)));
}

static void
on_websocket_open(SoupServer *soup, SoupServerMessage *msg, const char *path,
                  SoupWebsocketConnection *connection, gpointer data)
{
    Websocket *ws = data;
    const char *raw = g_uri_get_query(soup_server_message_get_uri(msg));
    g_autoptr(GHashTable) query =
        raw ? g_uri_parse_params(raw, -1, "&", G_URI_PARAMS_NONE, NULL) : NULL;
    ws->open(path, query, connection, ws->user_data);
}

void
cc_http_server_add_websocket(CcHttpServer *server, const char *prefix, CcHttpWebsocketCheck check,
                             CcHttpWebsocketOpen open, gpointer user_data)
{
    Websocket *ws = g_new0(Websocket, 1);
    ws->check = check;
    ws->open = open;
    ws->user_data = user_data;
    g_ptr_array_add(server->websockets, ws);
    /* permessage-deflate is on by default: a few compressed bytes could inflate to a
     * lot of memory, and the messages are small anyway. */
    soup_server_remove_websocket_extension(server->soup, SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);
    soup_server_add_handler(server->soup, prefix, on_websocket_request, ws, NULL);
    soup_server_add_websocket_handler(server->soup, prefix, NULL, NULL, on_websocket_open, ws,
                                      NULL);
}

void
cc_http_server_remove_websocket(CcHttpServer *server, const char *prefix)
{
    soup_server_remove_handler(server->soup, prefix);
}
