/* Logging through GLib structured logging: one writer for the process that filters by level
 * and writes to the journal when stderr is connected to it, to stderr otherwise.
 *
 * Room names never reach a log: code logs cc_log_room_tag() instead, a short HMAC of the
 * name under the server's room key, the same prefix an operator finds in the database. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
    CC_LOG_ERROR,
    CC_LOG_WARNING,
    CC_LOG_MESSAGE,
    CC_LOG_INFO,
    CC_LOG_DEBUG,
} CcLogLevel;

#define CC_LOG_LEVEL_NAMES "error", "warning", "message", "info", "debug"

/* Parses a level name as written in `[log] level`; FALSE if unknown. */
gboolean cc_log_level_parse(const char *name, CcLogLevel *level);

/* Installs the writer. `raise` steps the level up (each -v on the command line). */
void cc_log_init(CcLogLevel level, int raise);
CcLogLevel cc_log_get_level(void);

/* Hex characters in a room tag. 12 (48 bits) tells rooms apart in logs without naming them. */
#define CC_ROOM_TAG_LEN 12

/* Writes "r:" + CC_ROOM_TAG_LEN hex chars + NUL into `out`: the first bytes of
 * HMAC-SHA256(room_key, room name folded to lower case). */
#define CC_ROOM_TAG_SIZE (CC_ROOM_TAG_LEN + 3)
void cc_log_room_tag(GBytes *room_key, const char *room, char out[CC_ROOM_TAG_SIZE]);

G_END_DECLS
