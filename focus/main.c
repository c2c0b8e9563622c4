/* conclave-focus: the Multi-User Chat service and Jingle focus of a domain. This file
 * declares the focus's configuration keys and builds the MUC service on the shared daemon
 * skeleton; rooms live in muc-*.c and room.c, access rules in policy.c, STUN/TURN for
 * clients (XEP-0215) in turn/, the optional PostgreSQL policy store in store/. */
#include "bridges.h"
#include "conference.h"
#include "daemon.h"
#include "muc.h"
#include "store.h"
#include "turn.h"

#include <stdio.h>

static const char *const focus_features[] = {NULL};

static const CcServiceIdentity focus_identity = {
    .category = "conference",
    .type = "text",
    .name = "Conclave conferences",
    .features = focus_features,
};

static const char *const whois_choices[] = {"moderators", "anyone", NULL};
static const char *const expiry_choices[] = {"warn", "remove", NULL};

static const CcConfigKey focus_keys[] = {
    {"focus", "bridges", CC_CONFIG_LIST, FALSE, ""},
    {"focus", "bridge_check_interval_s", CC_CONFIG_INT, FALSE, "10", 1, 3600},
    {"focus", "bridge_timeout_ms", CC_CONFIG_INT, FALSE, "5000", 100, 60000},
    {"focus", "max_ssrcs_per_participant", CC_CONFIG_INT, FALSE, "20", 1, 32},
    {"focus", "client_timeout_ms", CC_CONFIG_INT, FALSE, "10000", 100, 120000},
    {"security", "authenticated_domains", CC_CONFIG_LIST, FALSE, ""},
    {"security", "guest_domains", CC_CONFIG_LIST, FALSE, ""},
    {"security", "room_key_file", CC_CONFIG_STRING, FALSE, ""},
    {"security", "password_failures_per_jid", CC_CONFIG_INT, FALSE, "5", 1, 1000},
    {"security", "password_failures_per_room", CC_CONFIG_INT, FALSE, "20", 1, 100000},
    {"security", "failure_window_s", CC_CONFIG_INT, FALSE, "300", 1, 86400},
    {"security", "lockout_s", CC_CONFIG_INT, FALSE, "60", 1, 86400},
    {"security", "lockout_max_s", CC_CONFIG_INT, FALSE, "3600", 1, 604800},
    {"security", "jwt_algorithm", CC_CONFIG_STRING, FALSE, ""},
    {"security", "jwt_key_file", CC_CONFIG_STRING, FALSE, ""},
    {"security", "jwt_issuer", CC_CONFIG_STRING, FALSE, ""},
    {"security", "jwt_audience", CC_CONFIG_STRING, FALSE, ""},
    {"security", "jwt_leeway_s", CC_CONFIG_INT, FALSE, "30", 0, 300},
    {"security", "jwt_expiry_action", CC_CONFIG_CHOICE, FALSE, "warn", 0, 0, expiry_choices},
    {"muc", "max_rooms", CC_CONFIG_INT, FALSE, "10000", 1, 10000000},
    {"muc", "max_occupants", CC_CONFIG_INT, FALSE, "500", 1, 100000},
    {"muc", "max_nick_length", CC_CONFIG_INT, FALSE, "64", 1, 1023},
    {"muc", "max_room_name_length", CC_CONFIG_INT, FALSE, "256", 1, 1023},
    {"muc", "max_stanzas_per_second", CC_CONFIG_INT, FALSE, "50", 0, 100000},
    {"muc", "max_room_backlog", CC_CONFIG_INT, FALSE, "5000", 0, 10000000},
    {"muc", "default_whois", CC_CONFIG_CHOICE, FALSE, "moderators", 0, 0, whois_choices},
    {"turn", "host", CC_CONFIG_STRING, FALSE, ""},
    {"turn", "port", CC_CONFIG_INT, FALSE, "3478", 1, 65535},
    {"turn", "tls_port", CC_CONFIG_INT, FALSE, "0", 0, 65535},
    {"turn", "transports", CC_CONFIG_LIST, FALSE, "udp,tcp"},
    {"turn", "secret", CC_CONFIG_SECRET, FALSE, ""},
    {"turn", "ttl_s", CC_CONFIG_INT, FALSE, "86400", 300, 604800},
    {"turn", "stun", CC_CONFIG_BOOL, FALSE, "true"},
    {"database", "conninfo", CC_CONFIG_SECRET, FALSE, ""},
    {"database", "lookup_timeout_ms", CC_CONFIG_INT, FALSE, "2000", 50, 60000},
    {"database", "audit_retention_days", CC_CONFIG_INT, FALSE, "90", 0, 36500},
};

/* Audit rows held in memory while the database is away (beyond: dropped and counted). */
#define AUDIT_QUEUE_MAX 10000

typedef struct {
    FocusPolicy *policy;
    FocusMuc *muc;
    FocusBridges *bridges;
    FocusMedia *media;
    FocusTurn *turn;
    FocusStore *store; /* NULL: no database */
} Focus;

static gboolean
check_domains(const CcConfig *config, const char *key, GError **error)
{
    for (const char *const *d = cc_config_get_list(config, "security", key); *d != NULL; d++) {
        g_autoptr(CcJid) jid = cc_jid_parse(*d, NULL);
        if (jid == NULL || jid->local != NULL || jid->resource != NULL) {
            cc_config_set_error(config, "security", key, error, "'%s' is not a domain", *d);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
check_bridges(const CcConfig *config, GError **error)
{
    for (const char *const *b = cc_config_get_list(config, "focus", "bridges"); *b != NULL; b++) {
        g_autoptr(CcJid) jid = cc_jid_parse(*b, NULL);
        if (jid == NULL || jid->resource != NULL) {
            cc_config_set_error(config, "focus", "bridges", error, "'%s' is not a bare JID", *b);
            return FALSE;
        }
    }
    return TRUE;
}

/* The JWT verification key ([security] jwt_*), loaded as the daemon will use it. TRUE with
 * *key NULL when tokens are off (no algorithm). */
static gboolean
jwt_key(const CcConfig *config, CcJwtKey **key, GError **error)
{
    *key = NULL;
    const char *name = cc_config_get_string(config, "security", "jwt_algorithm");
    const char *path = cc_config_get_string(config, "security", "jwt_key_file");
    if (*name == '\0') {
        if (*path != '\0') {
            cc_config_set_error(config, "security", "jwt_key_file", error,
                                "set jwt_algorithm too (HS256, RS256 or ES256)");
            return FALSE;
        }
        return TRUE;
    }
    CcJwtAlgorithm algorithm;
    if (!cc_jwt_algorithm_parse(name, &algorithm)) {
        cc_config_set_error(config, "security", "jwt_algorithm", error,
                            "'%s' is not one of: HS256, RS256, ES256 (or empty: no tokens)", name);
        return FALSE;
    }
    if (*path == '\0') {
        cc_config_set_error(config, "security", "jwt_key_file", error,
                            "required when jwt_algorithm is set");
        return FALSE;
    }
    g_autoptr(GError) local = NULL;
    *key = cc_jwt_key_load(algorithm, path, &local);
    if (*key == NULL) {
        cc_config_set_error(config, "security", "jwt_key_file", error, "%s", local->message);
        return FALSE;
    }
    return TRUE;
}

static gboolean
focus_validate(const CcConfig *config, GError **error)
{
    if (!check_bridges(config, error))
        return FALSE;
    if (!check_domains(config, "authenticated_domains", error) ||
        !check_domains(config, "guest_domains", error))
        return FALSE;
    for (const char *const *g = cc_config_get_list(config, "security", "guest_domains"); *g != NULL;
         g++) {
        if (g_strv_contains(cc_config_get_list(config, "security", "authenticated_domains"), *g)) {
            cc_config_set_error(config, "security", "guest_domains", error,
                                "'%s' is also an authenticated domain", *g);
            return FALSE;
        }
    }
    if (cc_config_get_int(config, "security", "lockout_s") >
        cc_config_get_int(config, "security", "lockout_max_s")) {
        cc_config_set_error(config, "security", "lockout_s", error,
                            "must not exceed lockout_max_s");
        return FALSE;
    }
    const char *key_file = cc_config_get_string(config, "security", "room_key_file");
    if (*cc_config_get_string(config, "database", "conninfo") != '\0' && *key_file == '\0') {
        /* A random key per start would make every row written before unreachable. */
        cc_config_set_error(config, "security", "room_key_file", error,
                            "is required when [database] conninfo is set");
        return FALSE;
    }
    if (*key_file != '\0') {
        g_autoptr(GError) local = NULL;
        g_autoptr(GBytes) key = cc_key_file_load(key_file, &local);
        if (key == NULL) {
            cc_config_set_error(config, "security", "room_key_file", error, "%s", local->message);
            return FALSE;
        }
    }
    g_autoptr(CcJwtKey) jwt = NULL;
    if (!jwt_key(config, &jwt, error))
        return FALSE;
    return focus_turn_config_check(config, error);
}

static char *
optional_string(const CcConfig *config, const char *key)
{
    const char *value = cc_config_get_string(config, "security", key);
    return *value != '\0' ? g_strdup(value) : NULL;
}

/* Tokens are accepted when [security] jwt_algorithm is set; FALSE on a key that no longer
 * loads. */
static gboolean
setup_tokens(CcConfig *config, FocusMuc *muc, GError **error)
{
    FocusTokenSettings tokens = {
        .issuer = optional_string(config, "jwt_issuer"),
        .audience = optional_string(config, "jwt_audience"),
        .leeway_s = (guint)cc_config_get_int(config, "security", "jwt_leeway_s"),
        .remove_on_exp =
            g_str_equal(cc_config_get_string(config, "security", "jwt_expiry_action"), "remove"),
    };
    gboolean ok = jwt_key(config, &tokens.key, error);
    if (ok && tokens.key != NULL)
        focus_muc_set_tokens(muc, &tokens); /* takes the key */
    g_free(tokens.issuer);
    g_free(tokens.audience);
    return ok;
}

static GBytes *
room_key(const CcConfig *config, GError **error)
{
    const char *path = cc_config_get_string(config, "security", "room_key_file");
    if (*path != '\0')
        return cc_key_file_load(path, error);
    /* Without a key file, room tags only need to be stable for this process's life. */
    g_message("no [security] room_key_file: room tags in logs change at every restart");
    guint8 *key = g_malloc(CC_KEY_LEN);
    if (!cc_random_bytes(key, CC_KEY_LEN, error)) {
        g_free(key);
        return NULL;
    }
    return g_bytes_new_take(key, CC_KEY_LEN);
}

/* Bridges are checked as soon as the stream is up, not only at the next interval; and the
 * occupants, whose sessions the XMPP server may have lost meanwhile (a restart). */
static void
on_connection(CcXmppComponent *xmpp, gboolean connected, gpointer data)
{
    Focus *focus = data;
    if (connected) {
        focus_bridges_check_all(focus->bridges);
        focus_muc_check_occupants(focus->muc);
    }
}

static gboolean
focus_setup(CcDaemon *daemon, GError **error)
{
    CcConfig *config = cc_daemon_config(daemon);
    g_autoptr(GBytes) key = room_key(config, error);
    if (key == NULL)
        return FALSE;
    FocusPolicySettings settings = {
        .jid_failures = (guint)cc_config_get_int(config, "security", "password_failures_per_jid"),
        .room_failures = (guint)cc_config_get_int(config, "security", "password_failures_per_room"),
        .window_s = (guint)cc_config_get_int(config, "security", "failure_window_s"),
        .lockout_s = (guint)cc_config_get_int(config, "security", "lockout_s"),
        .lockout_max_s = (guint)cc_config_get_int(config, "security", "lockout_max_s"),
        .stanzas_per_second = (guint)cc_config_get_int(config, "muc", "max_stanzas_per_second"),
    };
    FocusMucLimits limits = {
        .max_rooms = (guint)cc_config_get_int(config, "muc", "max_rooms"),
        .max_occupants = (guint)cc_config_get_int(config, "muc", "max_occupants"),
        .max_nick_length = (guint)cc_config_get_int(config, "muc", "max_nick_length"),
        .max_room_name_length = (guint)cc_config_get_int(config, "muc", "max_room_name_length"),
        .whois_anyone = g_str_equal(cc_config_get_string(config, "muc", "default_whois"), "anyone"),
        .max_room_backlog = (guint)cc_config_get_int(config, "muc", "max_room_backlog"),
    };
    Focus *focus = g_new0(Focus, 1);
    focus->policy =
        focus_policy_new(cc_config_get_list(config, "security", "authenticated_domains"),
                         cc_config_get_list(config, "security", "guest_domains"), &settings);
    focus->muc = focus_muc_new(cc_daemon_xmpp(daemon), focus->policy, key, &limits,
                               cc_daemon_metrics(daemon));
    if (!setup_tokens(config, focus->muc, error)) {
        focus_muc_free(focus->muc);
        focus_policy_free(focus->policy);
        g_free(focus);
        return FALSE;
    }
    focus->bridges = focus_bridges_new(
        cc_daemon_xmpp(daemon), cc_config_get_list(config, "focus", "bridges"),
        (guint)cc_config_get_int(config, "focus", "bridge_check_interval_s"),
        (guint)cc_config_get_int(config, "focus", "bridge_timeout_ms"), cc_daemon_metrics(daemon));
    FocusMediaSettings media = {
        .max_ssrcs = (guint)cc_config_get_int(config, "focus", "max_ssrcs_per_participant"),
        .client_timeout_ms = (guint)cc_config_get_int(config, "focus", "client_timeout_ms"),
        .bridge_timeout_ms = (guint)cc_config_get_int(config, "focus", "bridge_timeout_ms"),
    };
    focus->media = focus_media_new(cc_daemon_xmpp(daemon), focus->muc, focus->bridges, &media,
                                   cc_daemon_metrics(daemon));
    g_autoptr(FocusTurnSettings) turn = focus_turn_settings_from_config(config);
    focus->turn =
        focus_turn_new(cc_daemon_xmpp(daemon), focus->policy, key, turn, cc_daemon_metrics(daemon));
    if (focus_turn_enabled(focus->turn))
        focus_muc_add_service_feature(focus->muc, FOCUS_NS_EXTDISCO);
    const char *conninfo = cc_config_get_string(config, "database", "conninfo");
    if (*conninfo != '\0') {
        FocusStoreSettings store = {
            .lookup_timeout_ms = (guint)cc_config_get_int(config, "database", "lookup_timeout_ms"),
            .audit_retention_days =
                (guint)cc_config_get_int(config, "database", "audit_retention_days"),
            .audit_queue_max = AUDIT_QUEUE_MAX,
        };
        focus->store = focus_store_new(conninfo, key, &store, cc_daemon_metrics(daemon));
        focus_muc_set_store(focus->muc, focus->store);
    }
    cc_xmpp_component_set_state_callback(cc_daemon_xmpp(daemon), on_connection, focus);
    cc_daemon_set_data(daemon, focus);
    return TRUE;
}

static void
focus_teardown(CcDaemon *daemon)
{
    Focus *focus = cc_daemon_get_data(daemon);
    if (focus == NULL)
        return;
    /* The store first: its last answers must find the MUC still whole, and do nothing. */
    focus_muc_set_store(focus->muc, NULL);
    focus_store_free(focus->store);
    focus_turn_free(focus->turn);
    focus_media_free(focus->media);
    focus_bridges_free(focus->bridges);
    focus_muc_free(focus->muc);
    focus_policy_free(focus->policy);
    g_free(focus);
}

/* A database that is down degrades the service but does not stop it (free rooms work):
 * /health stays 200 and says why in its body; metrics have conclave_focus_store_up. */
static gboolean
focus_ready(CcDaemon *daemon, GString *reason)
{
    Focus *focus = cc_daemon_get_data(daemon);
    if (focus != NULL && focus->store != NULL && !focus_store_is_up(focus->store))
        g_string_append_printf(reason, "degraded: database unavailable (%s)",
                               focus_store_down_reason(focus->store));
    return TRUE;
}

static const CcDaemonSpec focus_spec = {
    .program = "conclave-focus",
    .summary = "The Conclave conference focus: an XEP-0114 component that is the\n"
               "Multi-User Chat service of its domain.",
    .default_config = "/etc/conclave/focus.conf",
    .default_listen = "127.0.0.1:9471",
    .keys = focus_keys,
    .n_keys = G_N_ELEMENTS(focus_keys),
    .identity = &focus_identity,
    .validate = focus_validate,
    .setup = focus_setup,
    .teardown = focus_teardown,
    .ready = focus_ready,
};

int
main(int argc, char **argv)
{
    return cc_daemon_main(&focus_spec, argc, argv);
}
