/* The life of a Conclave daemon, shared by conclave-focus and conclave-bridge: command line,
 * configuration (the common [xmpp], [http] and [log] groups plus the daemon's own keys),
 * logging, the component connection, health and metrics over HTTP, and a clean exit on
 * SIGTERM / SIGINT. The daemon plugs its own behaviour in through CcDaemonSpec. */
#pragma once

#include "config.h"
#include "http.h"
#include "metrics.h"
#include "xmpp-service.h"
#include "xmpp.h"

G_BEGIN_DECLS

typedef struct _CcDaemon CcDaemon;

typedef struct {
    const char *program;        /* "conclave-focus" */
    const char *summary;        /* one line for --help */
    const char *default_config; /* used when --config is not given */
    const char *default_listen; /* default of [http] listen */
    const CcConfigKey *keys;    /* the daemon's own keys, beyond the common groups */
    gsize n_keys;
    const CcServiceIdentity *identity;
    /* Checks that span several keys; runs for --check-config too. May be NULL. */
    gboolean (*validate)(const CcConfig *config, GError **error);
    /* Builds the daemon's state before the connection starts. May be NULL. */
    gboolean (*setup)(CcDaemon *daemon, GError **error);
    /* Frees what setup built, after the main loop ends. May be NULL. */
    void (*teardown)(CcDaemon *daemon);
    /* Extra readiness condition for /health beyond "connected". May be NULL. */
    gboolean (*ready)(CcDaemon *daemon, GString *reason);
    /* Graceful shutdown. On the first SIGTERM/SIGINT `drain` runs and returns how many ms
     * the daemon may keep serving (0: stop at once); the skeleton then polls `drained`
     * and closes the stream when it returns TRUE or the time is up. A second signal stops
     * at once. Both may be NULL. */
    guint (*drain)(CcDaemon *daemon);
    gboolean (*drained)(CcDaemon *daemon);
} CcDaemonSpec;

/* Exit statuses. */
#define CC_EXIT_OK      0
#define CC_EXIT_FAILURE 1
#define CC_EXIT_USAGE   2 /* bad command line or configuration */

int cc_daemon_main(const CcDaemonSpec *spec, int argc, char **argv);

CcConfig *cc_daemon_config(CcDaemon *daemon);
CcXmppComponent *cc_daemon_xmpp(CcDaemon *daemon);
CcMetrics *cc_daemon_metrics(CcDaemon *daemon);
/* The HTTP server ([http] listen), or NULL when it is disabled. Exists when setup runs. */
CcHttpServer *cc_daemon_http(CcDaemon *daemon);
void cc_daemon_set_data(CcDaemon *daemon, gpointer data);
gpointer cc_daemon_get_data(CcDaemon *daemon);

G_END_DECLS
