/* The operator's HTTP endpoint (libsoup 3): `GET /health` and `GET /metrics`.
 *
 * /health answers 200 when the daemon says it is ready, 503 otherwise, with a one-line
 * text body saying why. /metrics renders the registry in the Prometheus text format. */
#pragma once

#include "metrics.h"

#include <glib.h>

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

G_END_DECLS
