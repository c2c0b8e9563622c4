/* The shared daemon skeleton (see daemon.h). Owns the main loop, the configuration, the
 * component connection and the HTTP server; knows nothing of MUC or media. */
#include "daemon.h"

#include "cc-error.h"
#include "jid.h"
#include "log.h"
#include "sd-notify.h"

#include <conclave-version.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>

struct _CcDaemon {
    const CcDaemonSpec *spec;
    GArray *schema;
    CcConfig *config;
    CcMetrics *metrics;
    CcXmppComponent *xmpp;
    CcHttpServer *http;
    GMainLoop *loop;
    gboolean shutting_down;
    gint64 drain_deadline;
    guint drain_timer;
    guint notify_timer; /* systemd watchdog pings and status, only under a service manager */
    char *notified_status;
    gpointer data;
};

static const char *const log_levels[] = {CC_LOG_LEVEL_NAMES, NULL};

static const CcConfigKey common_keys[] = {
    {"xmpp", "server", CC_CONFIG_STRING, FALSE, "127.0.0.1"},
    {"xmpp", "port", CC_CONFIG_INT, FALSE, "5347", 1, 65535},
    {"xmpp", "domain", CC_CONFIG_STRING, TRUE},
    {"xmpp", "secret", CC_CONFIG_SECRET, TRUE},
    {"xmpp", "reconnect_max_ms", CC_CONFIG_INT, FALSE, "4000", 100, 600000},
    /* The send queue's high- and low-water marks (reading pauses between them). */
    {"xmpp", "send_queue_high_kib", CC_CONFIG_INT, FALSE, "8192", 64, 1048576},
    {"xmpp", "send_queue_low_kib", CC_CONFIG_INT, FALSE, "4096", 32, 1048576},
    {"log", "level", CC_CONFIG_CHOICE, FALSE, "message", 0, 0, log_levels},
};

static GArray *
build_schema(const CcDaemonSpec *spec)
{
    GArray *schema = g_array_new(FALSE, FALSE, sizeof(CcConfigKey));
    g_array_append_vals(schema, common_keys, G_N_ELEMENTS(common_keys));
    CcConfigKey listen = {"http", "listen", CC_CONFIG_LISTEN, FALSE, spec->default_listen};
    g_array_append_val(schema, listen);
    g_array_append_vals(schema, spec->keys, spec->n_keys);
    return schema;
}

static gboolean
check_common(const CcConfig *config, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autoptr(CcJid) domain = NULL;
    const char *text = cc_config_get_string(config, "xmpp", "domain");
    domain = cc_jid_parse(text, &local);
    if (domain == NULL || domain->local != NULL || domain->resource != NULL) {
        cc_config_set_error(config, "xmpp", "domain", error, "'%s' is not a domain name%s%s", text,
                            local ? ": " : "", local ? local->message : "");
        return FALSE;
    }
    if (cc_config_get_int(config, "xmpp", "send_queue_low_kib") >=
        cc_config_get_int(config, "xmpp", "send_queue_high_kib")) {
        cc_config_set_error(config, "xmpp", "send_queue_low_kib", error,
                            "must be below send_queue_high_kib");
        return FALSE;
    }
    return TRUE;
}

static CcConfig *
load_config(CcDaemon *daemon, const char *path, GError **error)
{
    daemon->schema = build_schema(daemon->spec);
    g_autoptr(CcConfig) config =
        cc_config_load(path, (const CcConfigKey *)daemon->schema->data, daemon->schema->len, error);
    if (config == NULL || !check_common(config, error))
        return NULL;
    if (daemon->spec->validate != NULL && !daemon->spec->validate(config, error))
        return NULL;
    return g_steal_pointer(&config);
}

static gboolean
health(GString *reason, gpointer data)
{
    CcDaemon *daemon = data;
    if (daemon->shutting_down) {
        g_string_append(reason, "shutting down");
        return FALSE;
    }
    if (!cc_xmpp_component_is_connected(daemon->xmpp)) {
        g_string_append(reason, "not connected to the XMPP server");
        return FALSE;
    }
    if (daemon->spec->ready != NULL)
        return daemon->spec->ready(daemon, reason);
    return TRUE;
}

static gboolean
on_stopped(gpointer data)
{
    CcDaemon *daemon = data;
    g_main_loop_quit(daemon->loop);
    return G_SOURCE_REMOVE;
}

static gboolean
on_drain_tick(gpointer data)
{
    CcDaemon *daemon = data;
    gboolean done = daemon->spec->drained(daemon);
    if (!done && g_get_monotonic_time() < daemon->drain_deadline)
        return G_SOURCE_CONTINUE;
    g_message(done ? "drained" : "drain time is up");
    daemon->drain_timer = 0;
    cc_xmpp_component_stop(daemon->xmpp, 3000, on_stopped, daemon);
    return G_SOURCE_REMOVE;
}

/* Under systemd: the watchdog ping proves the main loop still turns (a hung daemon is
 * restarted), and STATUS= shows in `systemctl status` why /health is what it is. */
static gboolean
on_notify_tick(gpointer data)
{
    CcDaemon *daemon = data;
    g_autoptr(GString) reason = g_string_new(NULL);
    gboolean healthy = health(reason, daemon);
    g_autofree char *status = g_strdup_printf("STATUS=%s", healthy ? "serving" : reason->str);
    if (cc_sd_watchdog_usec() > 0)
        cc_sd_notify("WATCHDOG=1");
    if (g_strcmp0(status, daemon->notified_status) != 0) {
        cc_sd_notify(status);
        g_free(daemon->notified_status);
        daemon->notified_status = g_steal_pointer(&status);
    }
    return G_SOURCE_CONTINUE;
}

/* READY once the configuration, the HTTP server and the daemon's own state are up; the
 * XMPP connection is not awaited (the server may start later, and the daemon reconnects by
 * itself), its state goes into STATUS instead. */
static void
notify_ready(CcDaemon *daemon)
{
    int sent = cc_sd_notify("READY=1");
    if (sent < 0)
        g_warning("cannot notify the service manager: %s", g_strerror(-sent));
    if (sent <= 0)
        return;
    guint64 watchdog_usec = cc_sd_watchdog_usec();
    /* Ping at half the interval systemd gave (its own advice); status at least every 5 s. */
    guint64 interval_ms = watchdog_usec > 0 ? MAX(watchdog_usec / 2000, 1) : 5000;
    daemon->notify_timer = g_timeout_add((guint)MIN(interval_ms, 5000), on_notify_tick, daemon);
    on_notify_tick(daemon);
}

static gboolean
on_signal(gpointer data)
{
    CcDaemon *daemon = data;
    if (daemon->shutting_down) {
        g_message("second signal: exiting now");
        g_main_loop_quit(daemon->loop);
        return G_SOURCE_CONTINUE;
    }
    g_message("shutting down");
    daemon->shutting_down = TRUE;
    cc_sd_notify("STOPPING=1");
    guint drain_ms = daemon->spec->drain != NULL ? daemon->spec->drain(daemon) : 0;
    if (drain_ms > 0 && daemon->spec->drained != NULL) {
        daemon->drain_deadline = g_get_monotonic_time() + (gint64)drain_ms * 1000;
        daemon->drain_timer = g_timeout_add(100, on_drain_tick, daemon);
        return G_SOURCE_CONTINUE;
    }
    cc_xmpp_component_stop(daemon->xmpp, 3000, on_stopped, daemon);
    return G_SOURCE_CONTINUE;
}

static gboolean
start(CcDaemon *daemon, GError **error)
{
    CcConfig *config = daemon->config;
    CcXmppSettings settings = {
        .server = cc_config_get_string(config, "xmpp", "server"),
        .port = (guint16)cc_config_get_int(config, "xmpp", "port"),
        .domain = cc_config_get_string(config, "xmpp", "domain"),
        .secret = cc_config_get_string(config, "xmpp", "secret"),
        .reconnect_max_ms = (guint)cc_config_get_int(config, "xmpp", "reconnect_max_ms"),
        .send_queue_high_bytes =
            (gsize)cc_config_get_int(config, "xmpp", "send_queue_high_kib") * 1024,
        .send_queue_low_bytes =
            (gsize)cc_config_get_int(config, "xmpp", "send_queue_low_kib") * 1024,
    };
    daemon->xmpp = cc_xmpp_component_new(&settings, daemon->metrics);
    cc_xmpp_service_install(daemon->xmpp, daemon->spec->identity);
    /* Before setup, so that the daemon can add its own paths (the bridge's channel). */
    const char *listen = cc_config_get_string(config, "http", "listen");
    if (*listen != '\0') {
        daemon->http = cc_http_server_new(listen, daemon->metrics, health, daemon, error);
        if (daemon->http == NULL) {
            g_prefix_error(error, "[http] listen %s: ", listen);
            return FALSE;
        }
    }
    if (daemon->spec->setup != NULL && !daemon->spec->setup(daemon, error))
        return FALSE;
    cc_xmpp_component_start(daemon->xmpp);
    return TRUE;
}

static void
daemon_clear(CcDaemon *daemon)
{
    if (daemon->spec->teardown != NULL)
        daemon->spec->teardown(daemon);
    g_clear_pointer(&daemon->http, cc_http_server_free);
    g_clear_pointer(&daemon->xmpp, cc_xmpp_component_free);
    g_clear_pointer(&daemon->metrics, cc_metrics_free);
    g_clear_pointer(&daemon->config, cc_config_free);
    g_clear_pointer(&daemon->loop, g_main_loop_unref);
    g_clear_pointer(&daemon->notified_status, g_free);
    if (daemon->schema != NULL)
        g_array_unref(daemon->schema);
}

static int verbosity;

static gboolean
on_verbose(const char *option, const char *value, gpointer data, GError **error)
{
    verbosity++;
    return TRUE;
}

int
cc_daemon_main(const CcDaemonSpec *spec, int argc, char **argv)
{
    g_autofree char *config_path = NULL;
    gboolean check_only = FALSE, version = FALSE;
    GOptionEntry entries[] = {
        {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Configuration file", "FILE"},
        {"check-config", 0, 0, G_OPTION_ARG_NONE, &check_only,
         "Validate the configuration and exit", NULL},
        {"version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL},
        {"verbose", 'v', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, (gpointer)on_verbose,
         "More log output (repeatable)", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) options = g_option_context_new(NULL);
    g_option_context_set_summary(options, spec->summary);
    g_option_context_add_main_entries(options, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(options, &argc, &argv, &error)) {
        fprintf(stderr, "%s: %s (try --help)\n", spec->program, error->message);
        return CC_EXIT_USAGE;
    }
    if (version) {
        printf("%s %s\n", spec->program, CONCLAVE_VERSION);
        return CC_EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "%s: unexpected argument '%s' (try --help)\n", spec->program, argv[1]);
        return CC_EXIT_USAGE;
    }

    CcDaemon daemon = {.spec = spec};
    const char *path = config_path ? config_path : spec->default_config;
    daemon.config = load_config(&daemon, path, &error);
    if (daemon.config == NULL) {
        fprintf(stderr, "%s: %s\n", spec->program, error->message);
        daemon_clear(&daemon);
        return CC_EXIT_USAGE;
    }
    if (check_only) {
        printf("%s: configuration OK\n", path);
        daemon_clear(&daemon);
        return CC_EXIT_OK;
    }

    CcLogLevel level = CC_LOG_MESSAGE;
    cc_log_level_parse(cc_config_get_string(daemon.config, "log", "level"), &level);
    cc_log_init(level, verbosity);
    signal(SIGPIPE, SIG_IGN);

    daemon.loop = g_main_loop_new(NULL, FALSE);
    daemon.metrics = cc_metrics_new();
    int status = CC_EXIT_OK;
    if (!start(&daemon, &error)) {
        g_critical("cannot start: %s", error->message);
        status = CC_EXIT_FAILURE;
    } else {
        guint term = g_unix_signal_add(SIGTERM, on_signal, &daemon);
        guint intr = g_unix_signal_add(SIGINT, on_signal, &daemon);
        g_message("%s %s started (component %s, health and metrics on %s)", spec->program,
                  CONCLAVE_VERSION, cc_config_get_string(daemon.config, "xmpp", "domain"),
                  daemon.http ? cc_config_get_string(daemon.config, "http", "listen") : "none");
        notify_ready(&daemon);
        g_main_loop_run(daemon.loop);
        if (daemon.drain_timer != 0)
            g_source_remove(daemon.drain_timer);
        if (daemon.notify_timer != 0)
            g_source_remove(daemon.notify_timer);
        g_source_remove(term);
        g_source_remove(intr);
        g_message("stopped");
    }
    daemon_clear(&daemon);
    return status;
}

CcConfig *
cc_daemon_config(CcDaemon *daemon)
{
    return daemon->config;
}

CcXmppComponent *
cc_daemon_xmpp(CcDaemon *daemon)
{
    return daemon->xmpp;
}

CcMetrics *
cc_daemon_metrics(CcDaemon *daemon)
{
    return daemon->metrics;
}

CcHttpServer *
cc_daemon_http(CcDaemon *daemon)
{
    return daemon->http;
}

void
cc_daemon_set_data(CcDaemon *daemon, gpointer data)
{
    daemon->data = data;
}

gpointer
cc_daemon_get_data(CcDaemon *daemon)
{
    return daemon->data;
}
