/* Configuration loading and validation against a daemon's schema (see config.h).
 * This file owns parsing and checking values; what each key means belongs to the daemons. */
#include "config.h"

#include "cc-error.h"
#include "crypto.h"

#include <errno.h>
#include <gio/gio.h>
#include <stdarg.h>
#include <stdlib.h>

struct _CcConfig {
    char *path;
    const CcConfigKey *schema;
    gsize n_keys;
    GHashTable *values; /* "group\nkey" -> char* (resolved, secrets read) */
    GHashTable *lists;  /* "group\nkey" -> char** */
};

static char *
value_id(const char *group, const char *key)
{
    return g_strconcat(group, "\n", key, NULL);
}

static const CcConfigKey *
schema_find(const CcConfigKey *schema, gsize n, const char *group, const char *key)
{
    for (gsize i = 0; i < n; i++) {
        if (g_str_equal(schema[i].group, group) && g_str_equal(schema[i].key, key))
            return &schema[i];
    }
    return NULL;
}

static gboolean
schema_has_group(const CcConfigKey *schema, gsize n, const char *group)
{
    for (gsize i = 0; i < n; i++) {
        if (g_str_equal(schema[i].group, group))
            return TRUE;
    }
    return FALSE;
}

void
cc_config_set_error(const CcConfig *config, const char *group, const char *key, GError **error,
                    const char *format, ...)
{
    va_list args;
    va_start(args, format);
    g_autofree char *message = g_strdup_vprintf(format, args);
    va_end(args);
    if (key != NULL)
        g_set_error(error, CC_ERROR, CC_ERROR_CONFIG, "%s: [%s] %s: %s", config->path, group, key,
                    message);
    else
        g_set_error(error, CC_ERROR, CC_ERROR_CONFIG, "%s: [%s]: %s", config->path, group, message);
}

static gboolean
parse_int(const char *text, gint64 *out)
{
    char *end = NULL;
    errno = 0;
    gint64 v = g_ascii_strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0')
        return FALSE;
    *out = v;
    return TRUE;
}

static gboolean
parse_bool(const char *text, gboolean *out)
{
    if (g_str_equal(text, "true")) {
        *out = TRUE;
        return TRUE;
    }
    if (g_str_equal(text, "false")) {
        *out = FALSE;
        return TRUE;
    }
    return FALSE;
}

gboolean
cc_config_parse_listen(const char *value, char **host, guint16 *port)
{
    const char *colon;
    g_autofree char *h = NULL;
    if (value[0] == '[') {
        const char *close = strchr(value, ']');
        if (close == NULL || close[1] != ':')
            return FALSE;
        h = g_strndup(value + 1, close - value - 1);
        colon = close + 1;
    } else {
        colon = strrchr(value, ':');
        if (colon == NULL)
            return FALSE;
        h = g_strndup(value, colon - value);
    }
    gint64 p;
    if (!parse_int(colon + 1, &p) || p < 0 || p > 65535)
        return FALSE;
    if (!g_hostname_is_ip_address(h))
        return FALSE;
    if (host != NULL)
        *host = g_steal_pointer(&h);
    if (port != NULL)
        *port = (guint16)p;
    return TRUE;
}

static char **
split_list(const char *text)
{
    g_auto(GStrv) parts = g_strsplit(text, ",", -1);
    GPtrArray *items = g_ptr_array_new();
    for (char **p = parts; *p != NULL; p++) {
        char *item = g_strstrip(*p);
        if (*item != '\0')
            g_ptr_array_add(items, g_strdup(item));
    }
    g_ptr_array_add(items, NULL);
    return (char **)g_ptr_array_free(items, FALSE);
}

/* Checks one value against its schema entry; returns the value to store (or NULL + error). */
static char *
check_value(CcConfig *config, const CcConfigKey *k, const char *text, GError **error)
{
    switch (k->type) {
    case CC_CONFIG_STRING:
    case CC_CONFIG_SECRET:
        break;
    case CC_CONFIG_LIST:
        /* ';' separates lists everywhere else in key files: 'a;b' would be one odd item. No
         * list here holds a value that may contain it (domains, JIDs, addresses, names). */
        if (strchr(text, ';') != NULL) {
            cc_config_set_error(config, k->group, k->key, error,
                                "'%s' contains ';': list items are separated by commas", text);
            return NULL;
        }
        break;
    case CC_CONFIG_INT: {
        gint64 v;
        if (!parse_int(text, &v)) {
            cc_config_set_error(config, k->group, k->key, error, "expected an integer, got '%s'",
                                text);
            return NULL;
        }
        if (v < k->min || v > k->max) {
            cc_config_set_error(config, k->group, k->key, error,
                                "%" G_GINT64_FORMAT " is out of range %" G_GINT64_FORMAT
                                "..%" G_GINT64_FORMAT,
                                v, k->min, k->max);
            return NULL;
        }
        break;
    }
    case CC_CONFIG_BOOL: {
        gboolean b;
        if (!parse_bool(text, &b)) {
            cc_config_set_error(config, k->group, k->key, error, "expected true or false, got '%s'",
                                text);
            return NULL;
        }
        break;
    }
    case CC_CONFIG_CHOICE:
        if (!g_strv_contains(k->choices, text)) {
            g_autofree char *all = g_strjoinv(", ", (char **)k->choices);
            cc_config_set_error(config, k->group, k->key, error, "'%s' is not one of: %s", text,
                                all);
            return NULL;
        }
        break;
    case CC_CONFIG_LISTEN:
        if (*text != '\0' && !cc_config_parse_listen(text, NULL, NULL)) {
            cc_config_set_error(config, k->group, k->key, error,
                                "expected IP:PORT or [IPv6]:PORT, got '%s'", text);
            return NULL;
        }
        break;
    }
    return g_strdup(text);
}

static gboolean
store_value(CcConfig *config, const CcConfigKey *k, const char *text, GError **error)
{
    char *value = check_value(config, k, text, error);
    if (value == NULL)
        return FALSE;
    g_hash_table_replace(config->values, value_id(k->group, k->key), value);
    if (k->type == CC_CONFIG_LIST)
        g_hash_table_replace(config->lists, value_id(k->group, k->key), split_list(value));
    return TRUE;
}

/* Every group and key in the file must be known: a typo must not silently become a default. */
static gboolean
check_known_keys(CcConfig *config, GKeyFile *kf, GError **error)
{
    g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
    for (char **g = groups; *g != NULL; g++) {
        if (!schema_has_group(config->schema, config->n_keys, *g)) {
            cc_config_set_error(config, *g, NULL, error, "unknown group");
            return FALSE;
        }
        g_auto(GStrv) keys = g_key_file_get_keys(kf, *g, NULL, NULL);
        for (char **key = keys; *key != NULL; key++) {
            const CcConfigKey *k = schema_find(config->schema, config->n_keys, *g, *key);
            if (k == NULL && g_str_has_suffix(*key, "_file")) {
                g_autofree char *base = g_strndup(*key, strlen(*key) - 5);
                k = schema_find(config->schema, config->n_keys, *g, base);
                if (k != NULL && k->type != CC_CONFIG_SECRET)
                    k = NULL;
            }
            if (k == NULL) {
                cc_config_set_error(config, *g, *key, error, "unknown key");
                return FALSE;
            }
        }
    }
    return TRUE;
}

static gboolean
load_key(CcConfig *config, GKeyFile *kf, const CcConfigKey *k, GError **error)
{
    g_autofree char *text = g_key_file_get_value(kf, k->group, k->key, NULL);
    if (k->type == CC_CONFIG_SECRET) {
        g_autofree char *file_key = g_strconcat(k->key, "_file", NULL);
        g_autofree char *file = g_key_file_get_value(kf, k->group, file_key, NULL);
        if (text != NULL && file != NULL) {
            cc_config_set_error(config, k->group, k->key, error, "set either %s or %s, not both",
                                k->key, file_key);
            return FALSE;
        }
        if (file != NULL) {
            g_autoptr(GError) local = NULL;
            g_free(text);
            text = cc_secret_file_read(g_strstrip(file), &local);
            if (text == NULL) {
                cc_config_set_error(config, k->group, file_key, error, "%s", local->message);
                return FALSE;
            }
        }
    }
    if (text != NULL)
        g_strstrip(text);
    if (text == NULL || (k->required && *text == '\0')) {
        if (k->required) {
            cc_config_set_error(config, k->group, k->key, error, "missing required key");
            return FALSE;
        }
        return store_value(config, k, k->default_value ? k->default_value : "", error);
    }
    return store_value(config, k, text, error);
}

static CcConfig *
config_from_keyfile(const char *path, GKeyFile *kf, const CcConfigKey *schema, gsize n_keys,
                    GError **error)
{
    g_autoptr(CcConfig) config = g_new0(CcConfig, 1);
    config->path = g_strdup(path);
    config->schema = schema;
    config->n_keys = n_keys;
    config->values = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    config->lists =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_strfreev);
    if (!check_known_keys(config, kf, error))
        return NULL;
    for (gsize i = 0; i < n_keys; i++) {
        if (!load_key(config, kf, &schema[i], error))
            return NULL;
    }
    return g_steal_pointer(&config);
}

CcConfig *
cc_config_load_data(const char *name, const char *data, const CcConfigKey *schema, gsize n_keys,
                    GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) local = NULL;
    if (!g_key_file_load_from_data(kf, data, -1, G_KEY_FILE_NONE, &local)) {
        g_set_error(error, CC_ERROR, CC_ERROR_CONFIG, "%s: %s", name, local->message);
        return NULL;
    }
    return config_from_keyfile(name, kf, schema, n_keys, error);
}

CcConfig *
cc_config_load(const char *path, const CcConfigKey *schema, gsize n_keys, GError **error)
{
    g_autofree char *data = NULL;
    g_autoptr(GError) local = NULL;
    if (!g_file_get_contents(path, &data, NULL, &local)) {
        g_set_error(error, CC_ERROR, CC_ERROR_CONFIG, "%s: cannot read: %s", path, local->message);
        return NULL;
    }
    return cc_config_load_data(path, data, schema, n_keys, error);
}

void
cc_config_free(CcConfig *config)
{
    if (config == NULL)
        return;
    g_free(config->path);
    g_clear_pointer(&config->values, g_hash_table_unref);
    g_clear_pointer(&config->lists, g_hash_table_unref);
    g_free(config);
}

const char *
cc_config_path(const CcConfig *config)
{
    return config->path;
}

static const char *
lookup(const CcConfig *config, const char *group, const char *key, CcConfigType type)
{
    const CcConfigKey *k = schema_find(config->schema, config->n_keys, group, key);
    g_return_val_if_fail(k != NULL, NULL);
    g_return_val_if_fail(k->type == type, NULL);
    g_autofree char *id = value_id(group, key);
    return g_hash_table_lookup(config->values, id);
}

const char *
cc_config_get_string(const CcConfig *config, const char *group, const char *key)
{
    const CcConfigKey *k = schema_find(config->schema, config->n_keys, group, key);
    g_return_val_if_fail(k != NULL, NULL);
    g_return_val_if_fail(k->type != CC_CONFIG_INT && k->type != CC_CONFIG_BOOL, NULL);
    return lookup(config, group, key, k->type);
}

gint64
cc_config_get_int(const CcConfig *config, const char *group, const char *key)
{
    const char *text = lookup(config, group, key, CC_CONFIG_INT);
    gint64 v = 0;
    if (text != NULL)
        parse_int(text, &v);
    return v;
}

gboolean
cc_config_get_bool(const CcConfig *config, const char *group, const char *key)
{
    const char *text = lookup(config, group, key, CC_CONFIG_BOOL);
    gboolean b = FALSE;
    if (text != NULL)
        parse_bool(text, &b);
    return b;
}

const char *const *
cc_config_get_list(const CcConfig *config, const char *group, const char *key)
{
    static const char *const empty[] = {NULL};
    if (lookup(config, group, key, CC_CONFIG_LIST) == NULL)
        return empty;
    g_autofree char *id = value_id(group, key);
    return (const char *const *)g_hash_table_lookup(config->lists, id);
}
