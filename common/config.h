/* Configuration files: GLib key files checked against a schema that each daemon declares.
 *
 * Every key a daemon reads is listed in its schema with a type, a default and (for numbers)
 * a range. Loading validates the whole file at once: an unknown group or key, a value of the
 * wrong type, a missing required key or an unreadable secret file is an error that names the
 * file, the group and the key. After a successful load the getters cannot fail.
 *
 * Secrets (type CC_CONFIG_SECRET) may be given inline as `key = value` or as
 * `key_file = /path`; the file must not be readable by group or others.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
    CC_CONFIG_STRING,
    CC_CONFIG_INT,
    CC_CONFIG_BOOL,
    CC_CONFIG_LIST,   /* comma-separated strings, blanks trimmed, empty items dropped */
    CC_CONFIG_SECRET, /* string, or a file holding it through `<key>_file` */
    CC_CONFIG_CHOICE, /* one of `choices` */
    CC_CONFIG_LISTEN, /* "ip:port" or "[ipv6]:port"; empty means disabled */
} CcConfigType;

typedef struct {
    const char *group;
    const char *key;
    CcConfigType type;
    gboolean required;
    const char *default_value;  /* as it would be written in the file; NULL means "" */
    gint64 min, max;            /* CC_CONFIG_INT only */
    const char *const *choices; /* CC_CONFIG_CHOICE only, NULL-terminated */
} CcConfigKey;

typedef struct _CcConfig CcConfig;

CcConfig *cc_config_load(const char *path, const CcConfigKey *schema, gsize n_keys, GError **error);
CcConfig *cc_config_load_data(const char *name, const char *data, const CcConfigKey *schema,
                              gsize n_keys, GError **error);
void cc_config_free(CcConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CcConfig, cc_config_free)

const char *cc_config_path(const CcConfig *config);
const char *cc_config_get_string(const CcConfig *config, const char *group, const char *key);
gint64 cc_config_get_int(const CcConfig *config, const char *group, const char *key);
gboolean cc_config_get_bool(const CcConfig *config, const char *group, const char *key);
/* NULL-terminated; owned by the config. Never NULL (an empty list is { NULL }). */
const char *const *cc_config_get_list(const CcConfig *config, const char *group, const char *key);

/* Sets `error` to "<file>: [group] key: <message>", the shape of every config error. */
void cc_config_set_error(const CcConfig *config, const char *group, const char *key, GError **error,
                         const char *format, ...) G_GNUC_PRINTF(5, 6);

/* Splits "ip:port" / "[ip]:port" into its parts; FALSE if it is not that shape. */
gboolean cc_config_parse_listen(const char *value, char **host, guint16 *port);

G_END_DECLS
