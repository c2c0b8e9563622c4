/* conclavectl's database access: libpq's blocking API (a command-line tool may wait), one
 * connection per command, every value passed as a parameter (bytea in binary), never
 * interpolated into SQL. */
#pragma once

#include "ctl-config.h"

#include <glib.h>
#include <libpq-fe.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PGconn, PQfinish)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PGresult, PQclear)

/* One query parameter: NULL `value` is SQL NULL; `length` > 0 marks a binary bytea. */
typedef struct {
    const char *value;
    int length;
} CtlParam;

#define CTL_TEXT(s)         ((CtlParam){(s), 0})
#define CTL_BYTEA(buf, len) ((CtlParam){(const char *)(buf), (int)(len)})
#define CTL_NULL            ((CtlParam){NULL, 0})

/* Connects with the configuration's conninfo; session in UTC, notices off. */
PGconn *ctl_db_connect(CtlConfig *config, GError **error);

/* Runs `sql` with parameters; NULL with an error unless it succeeded (a command or rows). */
PGresult *ctl_db_query(PGconn *db, const char *sql, const CtlParam *params, int n_params,
                       GError **error);
/* The same for a statement without parameters and without a result to read; `sql` may hold
 * several statements (only for SQL built into the tool). */
gboolean ctl_db_run(PGconn *db, const char *sql, GError **error);

/* Best effort, for an error path inside a transaction. */
void ctl_db_rollback(PGconn *db);

/* Formats a timestamptz column in ISO 8601, UTC. */
#define CTL_SQL_TIME(column)                                                                       \
    "to_char(" column " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
/* The first 6 bytes of an HMAC column in hex (the 12 digits logs show). */
#define CTL_SQL_PREFIX(column) "encode(substr(" column ", 1, 6), 'hex')"
