/* The process-wide log writer and level filter, and room tags (see log.h). */
#include "log.h"

#include "crypto.h"

#include <stdio.h>

static CcLogLevel current_level = CC_LOG_MESSAGE;

gboolean
cc_log_level_parse(const char *name, CcLogLevel *level)
{
    static const char *const names[] = {CC_LOG_LEVEL_NAMES};
    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        if (g_str_equal(name, names[i])) {
            *level = (CcLogLevel)i;
            return TRUE;
        }
    }
    return FALSE;
}

static CcLogLevel
from_glib(GLogLevelFlags flags)
{
    if (flags & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
        return CC_LOG_ERROR;
    if (flags & G_LOG_LEVEL_WARNING)
        return CC_LOG_WARNING;
    if (flags & G_LOG_LEVEL_MESSAGE)
        return CC_LOG_MESSAGE;
    if (flags & G_LOG_LEVEL_INFO)
        return CC_LOG_INFO;
    return CC_LOG_DEBUG;
}

static GLogWriterOutput
writer(GLogLevelFlags flags, const GLogField *fields, gsize n_fields, gpointer user_data)
{
    if (from_glib(flags) > current_level && !(flags & G_LOG_FLAG_FATAL))
        return G_LOG_WRITER_HANDLED;
    if (g_log_writer_is_journald(fileno(stderr)) &&
        g_log_writer_journald(flags, fields, n_fields, user_data) == G_LOG_WRITER_HANDLED)
        return G_LOG_WRITER_HANDLED;
    /* Everything to stderr: stdout belongs to the program (and to TAP in tests). */
    g_autofree char *line = g_log_writer_format_fields(flags, fields, n_fields, FALSE);
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
    return G_LOG_WRITER_HANDLED;
}

void
cc_log_init(CcLogLevel level, int raise)
{
    int l = (int)level + raise;
    current_level = (CcLogLevel)CLAMP(l, CC_LOG_ERROR, CC_LOG_DEBUG);
    /* GLib drops debug and info unless told otherwise; our writer does the filtering. */
    if (current_level >= CC_LOG_INFO)
        g_log_set_debug_enabled(TRUE);
    static gsize installed;
    if (g_once_init_enter(&installed)) {
        g_log_set_writer_func(writer, NULL, NULL);
        g_once_init_leave(&installed, 1);
    }
}

CcLogLevel
cc_log_get_level(void)
{
    return current_level;
}

void
cc_log_room_tag(GBytes *room_key, const char *room, char out[CC_ROOM_TAG_SIZE])
{
    g_autofree char *folded = g_utf8_casefold(room, -1);
    guint8 mac[CC_HMAC_SHA256_LEN];
    gsize key_len = 0;
    const guint8 *key = g_bytes_get_data(room_key, &key_len);
    out[0] = 'r';
    out[1] = ':';
    if (!cc_hmac_sha256(key, key_len, folded, strlen(folded), mac, NULL)) {
        /* Never fall back to the name itself. */
        memset(out + 2, '?', CC_ROOM_TAG_LEN);
    } else {
        for (int i = 0; i < CC_ROOM_TAG_LEN / 2; i++)
            g_snprintf(out + 2 + 2 * i, 3, "%02x", mac[i]);
    }
    out[CC_ROOM_TAG_SIZE - 1] = '\0';
}
