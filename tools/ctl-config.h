/* What conclavectl reads from the focus's configuration file: the database connection
 * (`[database] conninfo` or `conninfo_file`), the audit retention and the room key
 * (`[security] room_key_file`). The file is read with GKeyFile directly, only these keys:
 * the focus's full schema is the focus's. */
#pragma once

#include <glib.h>

#define CTL_DEFAULT_CONFIG "/etc/conclave/focus.conf"

/* The option every database command takes. */
#define CTL_CONFIG_OPTION(path_ptr)                                                                \
    {                                                                                              \
        "config", 'c', 0, G_OPTION_ARG_FILENAME, (path_ptr),                                       \
            "The focus's configuration file (default " CTL_DEFAULT_CONFIG ")", "FILE"              \
    }

typedef struct _CtlConfig CtlConfig;

/* `path` NULL means CTL_DEFAULT_CONFIG. */
CtlConfig *ctl_config_load(const char *path, GError **error);
void ctl_config_free(CtlConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtlConfig, ctl_config_free)

/* The libpq connection string; an error naming file, group and key when it is missing. */
char *ctl_config_conninfo(CtlConfig *config, GError **error);
/* The 32-byte room key. */
GBytes *ctl_config_room_key(CtlConfig *config, GError **error);
/* `[database] audit_retention_days` (default 90, 0 keeps rows forever). */
gboolean ctl_config_retention_days(CtlConfig *config, gint64 *days, GError **error);
