/* conclave-bridge: the Selective Forwarding Unit. This file describes the daemon to the
 * shared skeleton (its configuration keys and life cycle) and wires the media plane (worker
 * pool, DTLS identity, counters), the bridge channel and the recordings to the Colibri2
 * server; the media plane itself lives in the other files of this folder. */
#include "channel.h"
#include "colibri-server.h"
#include "daemon.h"
#include "recordings.h"

#include "cc-error.h"
#include "jid.h"

#include <conclave-version.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

static const char *const bridge_features[] = {CC_NS_COLIBRI2, CC_NS_HEALTHCHECK, NULL};

static const CcServiceIdentity bridge_identity = {
    .category = "component",
    .type = "generic",
    .name = "Conclave media bridge",
    .features = bridge_features,
};

static const CcConfigKey bridge_keys[] = {
    {"media", "addresses", CC_CONFIG_LIST, FALSE, ""},
    {"media", "port_min", CC_CONFIG_INT, FALSE, "10000", 0, 65535},
    {"media", "port_max", CC_CONFIG_INT, FALSE, "20000", 0, 65535},
    {"media", "public_address", CC_CONFIG_STRING, FALSE, ""},
    {"media", "workers", CC_CONFIG_INT, FALSE, "0", 0, 256},
    {"media", "ice_lite", CC_CONFIG_BOOL, FALSE, "false"},
    {"media", "media_timeout", CC_CONFIG_INT, FALSE, "30", 2, 3600},
    {"media", "connect_timeout", CC_CONFIG_INT, FALSE, "30", 2, 3600},
    {"media", "empty_conference_grace", CC_CONFIG_INT, FALSE, "30", 1, 3600},
    {"media", "pli_interval_ms", CC_CONFIG_INT, FALSE, "500", 0, 60000},
    {"media", "capacity_pps", CC_CONFIG_INT, FALSE, "200000", 1, G_MAXINT32},
    {"media", "drain_timeout", CC_CONFIG_INT, FALSE, "0", 0, 86400},
    {"colibri", "trusted", CC_CONFIG_LIST, FALSE, ""},
    {"http", "channel_base_url", CC_CONFIG_STRING, FALSE, ""},
    {"http", "channel_max_messages_per_second", CC_CONFIG_INT, FALSE, "50", 1, 10000},
    {"recording", "dir", CC_CONFIG_STRING, FALSE, ""},
    {"recording", "public_key", CC_CONFIG_STRING, FALSE, ""},
    {"recording", "queue_kib", CC_CONFIG_INT, FALSE, "4096", 16, 1048576},
};

/* Room for "/<meeting-id>/<endpoint-id>?pwd=<password>" within a Colibri2 URL. */
#define MAX_BASE_URL_LEN 300

typedef struct {
    BridgeMediaConfig media;
    BridgeStats stats;
    BridgeWorkerPool *pool;
    BridgeChannels *channels;
    BridgeRecordings *recordings;
    BridgeColibriServer *colibri;
} Bridge;

/* The first SIGTERM: refuse new conferences and let the running ones finish, for at most
 * [media] drain_timeout seconds. */
static guint
bridge_drain(CcDaemon *daemon)
{
    Bridge *b = cc_daemon_get_data(daemon);
    if (b == NULL || b->colibri == NULL)
        return 0;
    bridge_colibri_server_drain(b->colibri);
    return (guint)cc_config_get_int(cc_daemon_config(daemon), "media", "drain_timeout") * 1000;
}

static gboolean
bridge_drained(CcDaemon *daemon)
{
    Bridge *b = cc_daemon_get_data(daemon);
    return b == NULL || b->colibri == NULL || bridge_colibri_server_conferences(b->colibri) == 0;
}

/* ws:// or wss://, a host, a path at most; no query, fragment, user or trailing slash. */
static gboolean
check_channel_base_url(const CcConfig *config, GError **error)
{
    const char *url = cc_config_get_string(config, "http", "channel_base_url");
    if (*url == '\0')
        return TRUE;
    if (*cc_config_get_string(config, "http", "listen") == '\0') {
        cc_config_set_error(config, "http", "channel_base_url", error,
                            "the bridge channel is served on [http] listen, which is empty");
        return FALSE;
    }
    g_autoptr(GUri) uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
    gboolean printable = strlen(url) <= MAX_BASE_URL_LEN;
    for (const char *p = url; *p != '\0'; p++)
        printable = printable && (guchar)*p > 0x20 && (guchar)*p < 0x7f;
    if (!printable || uri == NULL ||
        (g_strcmp0(g_uri_get_scheme(uri), "ws") != 0 &&
         g_strcmp0(g_uri_get_scheme(uri), "wss") != 0) ||
        g_uri_get_host(uri) == NULL || *g_uri_get_host(uri) == '\0' ||
        g_uri_get_query(uri) != NULL || g_uri_get_fragment(uri) != NULL ||
        g_uri_get_userinfo(uri) != NULL || g_str_has_suffix(url, "/")) {
        cc_config_set_error(config, "http", "channel_base_url", error,
                            "'%s' is not a ws:// or wss:// URL of at most %d characters, "
                            "without query, fragment or trailing slash",
                            url, MAX_BASE_URL_LEN);
        return FALSE;
    }
    return TRUE;
}

/* [recording]: both keys or neither; an existing, writable folder; an X25519 public key
 * (a private key is refused: it must never be on the bridge). */
static gboolean
check_recording(const CcConfig *config, EVP_PKEY **key_out, GError **error)
{
    const char *dir = cc_config_get_string(config, "recording", "dir");
    const char *key_path = cc_config_get_string(config, "recording", "public_key");
    if (*dir == '\0' && *key_path == '\0')
        return TRUE;
    if (*key_path == '\0' || *dir == '\0') {
        cc_config_set_error(config, "recording", *dir == '\0' ? "dir" : "public_key", error,
                            "recording needs both [recording] dir and public_key");
        return FALSE;
    }
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        cc_config_set_error(config, "recording", "dir", error, "'%s' is not a folder", dir);
        return FALSE;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        int saved = errno;
        cc_config_set_error(config, "recording", "dir", error, "'%s' is not writable: %s", dir,
                            g_strerror(saved));
        return FALSE;
    }
    g_autoptr(GError) local = NULL;
    EVP_PKEY *key = cc_recording_public_key_load(key_path, &local);
    if (key == NULL) {
        cc_config_set_error(config, "recording", "public_key", error, "%s", local->message);
        return FALSE;
    }
    if (key_out != NULL)
        *key_out = key;
    else
        EVP_PKEY_free(key);
    return TRUE;
}

/* Each trusted sender is a bare JID (the focus's account) or a domain (the focus's
 * component): a typo would otherwise refuse every request without a word at start. */
static gboolean
check_trusted(const CcConfig *config, GError **error)
{
    for (const char *const *t = cc_config_get_list(config, "colibri", "trusted"); *t != NULL; t++) {
        g_autoptr(CcJid) jid = cc_jid_parse(*t, NULL);
        if (jid == NULL || jid->resource != NULL) {
            cc_config_set_error(config, "colibri", "trusted", error,
                                "'%s' is not a bare JID or a domain", *t);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
bridge_validate(const CcConfig *config, GError **error)
{
    if (!check_channel_base_url(config, error) || !check_recording(config, NULL, error) ||
        !check_trusted(config, error))
        return FALSE;
    gint64 min = cc_config_get_int(config, "media", "port_min");
    gint64 max = cc_config_get_int(config, "media", "port_max");
    if ((min == 0) != (max == 0) || min > max) {
        cc_config_set_error(config, "media", "port_max", error,
                            "must be at least port_min (or both 0 for any port)");
        return FALSE;
    }
    const char *pub = cc_config_get_string(config, "media", "public_address");
    if (*pub != '\0' && !g_hostname_is_ip_address(pub)) {
        cc_config_set_error(config, "media", "public_address", error, "'%s' is not an IP address",
                            pub);
        return FALSE;
    }
    for (const char *const *a = cc_config_get_list(config, "media", "addresses"); *a; a++) {
        if (!g_hostname_is_ip_address(*a)) {
            cc_config_set_error(config, "media", "addresses", error, "'%s' is not an IP address",
                                *a);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
bridge_setup(CcDaemon *daemon, GError **error)
{
    CcConfig *config = cc_daemon_config(daemon);
    CcMetrics *metrics = cc_daemon_metrics(daemon);
    bridge_srtp_global_init();
    Bridge *b = g_new0(Bridge, 1);
    cc_daemon_set_data(daemon, b);
    b->media.identity = bridge_dtls_identity_new(NULL, error);
    if (b->media.identity == NULL)
        return FALSE;
    bridge_stats_init(&b->stats, metrics);
    b->media.stats = &b->stats;
    b->media.addresses = g_strdupv((char **)cc_config_get_list(config, "media", "addresses"));
    b->media.port_min = (guint)cc_config_get_int(config, "media", "port_min");
    b->media.port_max = (guint)cc_config_get_int(config, "media", "port_max");
    const char *pub = cc_config_get_string(config, "media", "public_address");
    b->media.public_address = *pub ? g_strdup(pub) : NULL;
    b->media.ice_lite = cc_config_get_bool(config, "media", "ice_lite");
    b->media.media_timeout_s = (guint)cc_config_get_int(config, "media", "media_timeout");
    b->media.connect_timeout_s = (guint)cc_config_get_int(config, "media", "connect_timeout");
    b->media.empty_grace_s = (guint)cc_config_get_int(config, "media", "empty_conference_grace");
    b->media.pli_interval_ms = (guint)cc_config_get_int(config, "media", "pli_interval_ms");
    guint workers = (guint)cc_config_get_int(config, "media", "workers");
    if (workers == 0)
        workers = g_get_num_processors();
    b->pool = bridge_worker_pool_new(workers, metrics, &b->stats);
    if (cc_daemon_http(daemon) != NULL)
        b->channels = bridge_channels_new(
            cc_daemon_http(daemon), cc_config_get_string(config, "http", "channel_base_url"),
            (guint)cc_config_get_int(config, "http", "channel_max_messages_per_second"),
            "conclave-" CONCLAVE_VERSION, metrics);
    else
        g_message("[http] listen is empty: no bridge channel (no dominant speaker events)");
    EVP_PKEY *key = NULL;
    if (!check_recording(config, &key, error)) /* again: the folder may have gone since */
        return FALSE;
    b->recordings = bridge_recordings_new(
        key != NULL ? cc_config_get_string(config, "recording", "dir") : NULL, key,
        (gsize)cc_config_get_int(config, "recording", "queue_kib") * 1024, cc_daemon_xmpp(daemon),
        metrics);
    if (key != NULL)
        g_message("recording to %s", cc_config_get_string(config, "recording", "dir"));
    b->colibri = bridge_colibri_server_new(
        cc_daemon_xmpp(daemon), b->pool, &b->media, b->channels, b->recordings,
        cc_config_get_list(config, "colibri", "trusted"),
        (guint)cc_config_get_int(config, "media", "capacity_pps"), metrics);
    g_message("media plane: %u worker(s), ports %u-%u, DTLS fingerprint %s", workers,
              b->media.port_min, b->media.port_max,
              bridge_dtls_identity_fingerprint(b->media.identity));
    if (cc_config_get_list(config, "colibri", "trusted")[0] == NULL)
        g_warning("[colibri] trusted is empty: every Colibri2 request will be refused");
    return TRUE;
}

static void
bridge_teardown(CcDaemon *daemon)
{
    Bridge *b = cc_daemon_get_data(daemon);
    if (b == NULL)
        return;
    if (b->colibri != NULL) {
        bridge_colibri_server_drain(b->colibri);
        g_clear_pointer(&b->colibri, bridge_colibri_server_free);
    }
    g_clear_pointer(&b->recordings, bridge_recordings_free);
    g_clear_pointer(&b->channels, bridge_channels_free);
    g_clear_pointer(&b->pool, bridge_worker_pool_free);
    g_clear_pointer(&b->media.identity, bridge_dtls_identity_free);
    g_strfreev(b->media.addresses);
    g_free(b->media.public_address);
    g_free(b);
    cc_daemon_set_data(daemon, NULL);
}

static const CcDaemonSpec bridge_spec = {
    .program = "conclave-bridge",
    .summary = "The Conclave media bridge: a DTLS-SRTP Selective Forwarding Unit driven\n"
               "by the focus over Colibri2.",
    .default_config = "/etc/conclave/bridge.conf",
    .default_listen = "127.0.0.1:9472",
    .keys = bridge_keys,
    .n_keys = G_N_ELEMENTS(bridge_keys),
    .identity = &bridge_identity,
    .validate = bridge_validate,
    .setup = bridge_setup,
    .teardown = bridge_teardown,
    .drain = bridge_drain,
    .drained = bridge_drained,
};

int
main(int argc, char **argv)
{
    return cc_daemon_main(&bridge_spec, argc, argv);
}
