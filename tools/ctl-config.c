/* conclavectl's view of the focus's configuration file (see ctl-config.h). Every error
 * names the file, and the group and key it is about, in the shape the daemons use:
 * "<file>: [group] key: <message>". */
#include "ctl-config.h"

#include "cc-error.h"
#include "crypto.h"

struct _CtlConfig {
    char *path;
    GKeyFile *keys;
};

CtlConfig *
ctl_config_load(const char *path, GError **error)
{
    g_autoptr(GKeyFile) keys = g_key_file_new();
    if (path == NULL)
        path = CTL_DEFAULT_CONFIG;
    g_autoptr(GError) local = NULL;
    if (!g_key_file_load_from_file(keys, path, G_KEY_FILE_NONE, &local)) {
        g_set_error(error, CC_ERROR, CC_ERROR_CONFIG, "%s: %s", path, local->message);
        return NULL;
    }
    CtlConfig *config = g_new0(CtlConfig, 1);
    config->path = g_strdup(path);
    config->keys = g_steal_pointer(&keys);
    return config;
}

void
ctl_config_free(CtlConfig *config)
{
    if (config == NULL)
        return;
    g_free(config->path);
    g_key_file_free(config->keys);
    g_free(config);
}

/* The stripped value of group/key, or NULL (without an error) when the key is absent. */
static char *
get_string(CtlConfig *config, const char *group, const char *key, GError **error)
{
    if (!g_key_file_has_group(config->keys, group)) {
        g_set_error(error, CC_ERROR, CC_ERROR_CONFIG, "%s: [%s]: missing group (needed for %s)",
                    config->path, group, key);
        return NULL;
    }
    if (!g_key_file_has_key(config->keys, group, key, NULL))
        return NULL;
    g_autoptr(GError) local = NULL;
    char *value = g_key_file_get_string(config->keys, group, key, &local);
    if (value == NULL) {
        g_set_error(error, CC_ERROR, CC_ERROR_CONFIG, "%s: [%s] %s: %s", config->path, group, key,
                    local->message);
        return NULL;
    }
    return g_strstrip(value);
}

char *
ctl_config_conninfo(CtlConfig *config, GError **error)
{
    GError *local = NULL;
    g_autofree char *inline_value = get_string(config, "database", "conninfo", &local);
    if (local != NULL) {
        g_propagate_error(error, local);
        return NULL;
    }
    g_autofree char *file = get_string(config, "database", "conninfo_file", &local);
    if (local != NULL) {
        g_propagate_error(error, local);
        return NULL;
    }
    if (file == NULL && inline_value == NULL) {
        g_set_error(error, CC_ERROR, CC_ERROR_CONFIG,
                    "%s: [database] conninfo: missing key (or conninfo_file)", config->path);
        return NULL;
    }
    if (file != NULL && inline_value != NULL) {
        g_set_error(error, CC_ERROR, CC_ERROR_CONFIG,
                    "%s: [database] conninfo: give conninfo or conninfo_file, not both",
                    config->path);
        return NULL;
    }
    if (inline_value != NULL) {
        if (*inline_value == '\0') {
            g_set_error(error, CC_ERROR, CC_ERROR_CONFIG,
                        "%s: [database] conninfo: empty (no database configured)", config->path);
            return NULL;
        }
        return g_steal_pointer(&inline_value);
    }
    g_autoptr(GError) read_error = NULL;
    char *secret = cc_secret_file_read(file, &read_error);
    if (secret == NULL)
        g_set_error(error, CC_ERROR, CC_ERROR_CONFIG, "%s: [database] conninfo_file: %s",
                    config->path, read_error->message);
    return secret;
}

GBytes *
ctl_config_room_key(CtlConfig *config, GError **error)
{
    GError *local = NULL;
    g_autofree char *path = get_string(config, "security", "room_key_file", &local);
    if (local != NULL) {
        g_propagate_error(error, local);
        return NULL;
    }
    if (path == NULL || *path == '\0') {
        g_set_error(error, CC_ERROR, CC_ERROR_CONFIG,
                    "%s: [security] room_key_file: missing key (the policy store needs the "
                    "room key)",
                    config->path);
        return NULL;
    }
    g_autoptr(GError) load_error = NULL;
    GBytes *key = cc_key_file_load(path, &load_error);
    if (key == NULL)
        g_set_error(error, CC_ERROR, CC_ERROR_CONFIG, "%s: [security] room_key_file: %s",
                    config->path, load_error->message);
    return key;
}

gboolean
ctl_config_retention_days(CtlConfig *config, gint64 *days, GError **error)
{
    *days = 90;
    if (!g_key_file_has_key(config->keys, "database", "audit_retention_days", NULL))
        return TRUE;
    g_autoptr(GError) local = NULL;
    gint64 value = g_key_file_get_int64(config->keys, "database", "audit_retention_days", &local);
    if (local != NULL || value < 0 || value > 36500) {
        g_set_error(error, CC_ERROR, CC_ERROR_CONFIG,
                    "%s: [database] audit_retention_days: expected an integer 0..36500",
                    config->path);
        return FALSE;
    }
    *days = value;
    return TRUE;
}
