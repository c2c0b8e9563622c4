/* libpq helpers for conclavectl (see ctl-db.h). Error messages are libpq's, trimmed; the
 * connection string is never printed (it may hold a password). */
#include "ctl-db.h"

#include "cc-error.h"

#define BYTEA_OID 17

static void
set_db_error(GError **error, const char *what, const char *message)
{
    g_autofree char *text = g_strdup(message ? message : "unknown error");
    g_set_error(error, CC_ERROR, CC_ERROR_REMOTE, "%s: %s", what, g_strstrip(text));
}

PGconn *
ctl_db_connect(CtlConfig *config, GError **error)
{
    g_autofree char *conninfo = ctl_config_conninfo(config, error);
    if (conninfo == NULL)
        return NULL;
    /* The conninfo (expanded from "dbname") overrides the timeout given before it. */
    const char *const keywords[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
    const char *const values[] = {"10", "conclavectl", conninfo, NULL};
    g_autoptr(PGconn) db = PQconnectdbParams(keywords, values, 1);
    if (db == NULL || PQstatus(db) != CONNECTION_OK) {
        set_db_error(error, "cannot connect to the database",
                     db ? PQerrorMessage(db) : "out of memory");
        return NULL;
    }
    if (!ctl_db_run(db, "SET client_min_messages = warning; SET TimeZone = 'UTC'", error))
        return NULL;
    return g_steal_pointer(&db);
}

PGresult *
ctl_db_query(PGconn *db, const char *sql, const CtlParam *params, int n_params, GError **error)
{
    Oid types[8] = {0};
    const char *values[8] = {NULL};
    int lengths[8] = {0};
    int formats[8] = {0};
    g_return_val_if_fail(n_params >= 0 && n_params <= 8, NULL);
    for (int i = 0; i < n_params; i++) {
        values[i] = params[i].value;
        if (params[i].length > 0) {
            types[i] = BYTEA_OID;
            lengths[i] = params[i].length;
            formats[i] = 1;
        }
    }
    g_autoptr(PGresult) res = PQexecParams(db, sql, n_params, types, values, lengths, formats, 0);
    ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        set_db_error(error, "database error", res ? PQresultErrorMessage(res) : PQerrorMessage(db));
        return NULL;
    }
    return g_steal_pointer(&res);
}

gboolean
ctl_db_run(PGconn *db, const char *sql, GError **error)
{
    g_autoptr(PGresult) res = PQexec(db, sql);
    ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        set_db_error(error, "database error", res ? PQresultErrorMessage(res) : PQerrorMessage(db));
        return FALSE;
    }
    return TRUE;
}

void
ctl_db_rollback(PGconn *db)
{
    PGresult *res = PQexec(db, "ROLLBACK");
    PQclear(res);
}
