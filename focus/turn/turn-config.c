/* The [turn] configuration group: what the schema in main.c cannot check (the host's shape,
 * the transport names, a secret when the feature is on) and the settings read from it. What
 * the settings are used for belongs to turn-service.c. */
#include "turn.h"

#include <gio/gio.h>

/* A DNS name (letters, digits, hyphens; labels of 1 to 63, 253 in all) or an IP address. */
static gboolean
host_valid(const char *host)
{
    if (g_hostname_is_ip_address(host))
        return TRUE;
    gsize len = strlen(host);
    if (len == 0 || len > 253)
        return FALSE;
    g_auto(GStrv) labels = g_strsplit(host, ".", -1);
    for (char **l = labels; *l != NULL; l++) {
        gsize n = strlen(*l);
        if (n == 0 || n > 63 || (*l)[0] == '-' || (*l)[n - 1] == '-')
            return FALSE;
        for (const char *c = *l; *c != '\0'; c++) {
            if (!g_ascii_isalnum(*c) && *c != '-')
                return FALSE;
        }
    }
    return TRUE;
}

gboolean
focus_turn_config_check(const CcConfig *config, GError **error)
{
    const char *host = cc_config_get_string(config, "turn", "host");
    for (const char *const *t = cc_config_get_list(config, "turn", "transports"); *t != NULL; t++) {
        if (!g_str_equal(*t, "udp") && !g_str_equal(*t, "tcp")) {
            cc_config_set_error(config, "turn", "transports", error, "'%s' is not one of: udp, tcp",
                                *t);
            return FALSE;
        }
    }
    if (*host == '\0')
        return TRUE;
    if (!host_valid(host)) {
        cc_config_set_error(config, "turn", "host", error,
                            "'%s' is not a host name or an IP address", host);
        return FALSE;
    }
    if (*cc_config_get_list(config, "turn", "transports") == NULL &&
        cc_config_get_int(config, "turn", "tls_port") == 0) {
        cc_config_set_error(config, "turn", "transports", error,
                            "needs udp or tcp when there is no tls_port");
        return FALSE;
    }
    if (*cc_config_get_string(config, "turn", "secret") == '\0') {
        cc_config_set_error(config, "turn", "secret", error,
                            "a host needs the TURN server's shared secret (secret_file)");
        return FALSE;
    }
    return TRUE;
}

FocusTurnSettings *
focus_turn_settings_from_config(const CcConfig *config)
{
    const char *host = cc_config_get_string(config, "turn", "host");
    if (*host == '\0')
        return NULL;
    FocusTurnSettings *s = g_new0(FocusTurnSettings, 1);
    s->host = g_strdup(host);
    s->port = (guint)cc_config_get_int(config, "turn", "port");
    s->tls_port = (guint)cc_config_get_int(config, "turn", "tls_port");
    const char *const *transports = cc_config_get_list(config, "turn", "transports");
    s->udp = g_strv_contains(transports, "udp");
    s->tcp = g_strv_contains(transports, "tcp");
    s->secret = g_strdup(cc_config_get_string(config, "turn", "secret"));
    s->ttl_s = (guint)cc_config_get_int(config, "turn", "ttl_s");
    s->stun = cc_config_get_bool(config, "turn", "stun");
    return s;
}

void
focus_turn_settings_free(FocusTurnSettings *settings)
{
    if (settings == NULL)
        return;
    g_free(settings->host);
    if (settings->secret != NULL) {
        memset(settings->secret, 0, strlen(settings->secret));
        g_free(settings->secret);
    }
    g_free(settings);
}
