/* The operator's HTTP endpoint (libsoup 3): `GET /health` and `GET /metrics`, and the
 * WebSocket endpoints a daemon adds under a path prefix (the bridge's channel).
 *
 * /health answers 200 when the daemon says it is ready, 503 otherwise, with a one-line
 * text body saying why. /metrics renders the registry in the Prometheus text format. */
#pragma once

#include "metrics.h"

#include <glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef struct _CcHttpServer CcHttpServer;

/* Writes a short reason into `reason` (a GString) and returns TRUE when ready. */
typedef gboolean (*CcHealthFunc)(GString *reason, gpointer user_data);

/* `listen` is "ip:port" (port 0 picks a free one). */
CcHttpServer *cc_http_server_new(const char *listen, CcMetrics *metrics, CcHealthFunc health,
                                 gpointer user_data, GError **error);
void cc_http_server_free(CcHttpServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CcHttpServer, cc_http_server_free)

/* The port actually bound (useful when asked for port 0). */
guint16 cc_http_server_port(CcHttpServer *server);
/* "IP:PORT" (or "[IPv6]:PORT") actually bound, for URLs. */
char *cc_http_server_authority(CcHttpServer *server);

/* Decides, before the upgrade, whether a WebSocket request for `path` (under the prefix;
 * `query` holds the decoded parameters, or is NULL) may go on: returns
 * SOUP_STATUS_SWITCHING_PROTOCOLS to accept it, or the HTTP status that refuses it. */
typedef guint (*CcHttpWebsocketCheck)(const char *path, GHashTable *query, gpointer user_data);
/* After the upgrade, on the server's thread: takes a reference on `ws` to keep it. */
typedef void (*CcHttpWebsocketOpen)(const char *path, GHashTable *query,
                                    SoupWebsocketConnection *ws, gpointer user_data);

/* Serves WebSocket upgrades (GET only, no extension, no subprotocol) on `prefix` and every
 * path under it. */
void cc_http_server_add_websocket(CcHttpServer *server, const char *prefix,
                                  CcHttpWebsocketCheck check, CcHttpWebsocketOpen open,
                                  gpointer user_data);
void cc_http_server_remove_websocket(CcHttpServer *server, const char *prefix);

G_END_DECLS
