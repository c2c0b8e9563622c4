/* conclavectl audit / audit purge: the audit rows the focus writes (schemas/policy-store.md),
 * newest first, with rooms and actors as HMAC prefixes; and deleting rows past the retention
 * (`[database] audit_retention_days`, or --older-than-days). */
#include "audit-cmd.h"

#include "ctl-db.h"
#include "ctl-input.h"

#include <stdio.h>

const char ctl_audit_usage[] =
    "  audit [--since TIME] [--room NAME] [--limit N] [--config FILE]\n"
    "                Print audit rows, newest first (default limit 100).\n"
    "  audit purge [--older-than-days N] [--config FILE]\n"
    "                Delete rows older than N days (default: [database]\n"
    "                audit_retention_days, 90; 0 there keeps rows forever).\n";

/* --older-than-days absent: the configuration's retention. */
#define NOT_GIVEN G_MININT

typedef struct {
    char *config_path, *since, *room;
    int limit, older_than_days;
} Options;

static int
report(const char *command, GError *error, int status)
{
    fprintf(stderr, "conclavectl audit%s: %s\n", command, error->message);
    return status;
}

static int
list(const Options *o, const char *since)
{
    g_autoptr(GError) error = NULL;
    if (o->room != NULL && !ctl_room_name_check(o->room, &error))
        return report("", error, 2);
    g_autoptr(CtlConfig) config = ctl_config_load(o->config_path, &error);
    if (config == NULL)
        return report("", error, 1);
    guint8 room[CC_HMAC_SHA256_LEN];
    if (o->room != NULL) {
        g_autoptr(GBytes) key = ctl_config_room_key(config, &error);
        if (key == NULL || !ctl_room_hmac(key, o->room, room, &error))
            return report("", error, 1);
    }
    g_autoptr(PGconn) db = ctl_db_connect(config, &error);
    if (db == NULL)
        return report("", error, 1);
    char limit[16];
    g_snprintf(limit, sizeof limit, "%d", o->limit);
    const CtlParam p[] = {CTL_TEXT(since), o->room ? CTL_BYTEA(room, sizeof room) : CTL_NULL,
                          CTL_TEXT(limit)};
    g_autoptr(PGresult) rows =
        ctl_db_query(db,
                     "SELECT " CTL_SQL_TIME("at") ", event, coalesce('r:' || " CTL_SQL_PREFIX(
                         "room_hmac") ", "
                                      "'-'), coalesce('u:' || " CTL_SQL_PREFIX(
                                          "actor_hmac") ", '-'), coalesce(detail, '-') "
                                                        "FROM audit WHERE ($1::timestamptz IS NULL "
                                                        "OR at >= $1::timestamptz) "
                                                        "AND ($2::bytea IS NULL OR room_hmac = "
                                                        "$2::bytea) ORDER BY at DESC, id DESC "
                                                        "LIMIT $3::integer",
                     p, 3, &error);
    if (rows == NULL)
        return report("", error, 1);
    for (int i = 0; i < PQntuples(rows); i++)
        printf("%s  %-18s  %-15s  %-15s  %s\n", PQgetvalue(rows, i, 0), PQgetvalue(rows, i, 1),
               PQgetvalue(rows, i, 2), PQgetvalue(rows, i, 3), PQgetvalue(rows, i, 4));
    if (PQntuples(rows) == 0)
        printf("no audit rows\n");
    return 0;
}

static int
purge(const Options *o)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CtlConfig) config = ctl_config_load(o->config_path, &error);
    gint64 days = o->older_than_days;
    if (config == NULL || (days == NOT_GIVEN && !ctl_config_retention_days(config, &days, &error)))
        return report(" purge", error, 1);
    if (days == 0) {
        printf("audit_retention_days is 0 (keep forever): nothing deleted\n");
        return 0;
    }
    g_autoptr(PGconn) db = ctl_db_connect(config, &error);
    if (db == NULL)
        return report(" purge", error, 1);
    char text[24];
    g_snprintf(text, sizeof text, "%" G_GINT64_FORMAT, days);
    const CtlParam p = CTL_TEXT(text);
    g_autoptr(PGresult) res =
        ctl_db_query(db, "DELETE FROM audit WHERE at < now() - make_interval(days => $1::integer)",
                     &p, 1, &error);
    if (res == NULL)
        return report(" purge", error, 1);
    printf("deleted %s audit rows older than %" G_GINT64_FORMAT " days\n", PQcmdTuples(res), days);
    return 0;
}

int
ctl_audit(int argc, char **argv)
{
    Options o = {.limit = 100, .older_than_days = NOT_GIVEN};
    gboolean is_purge = argc >= 2 && g_str_equal(argv[1], "purge");
    GOptionEntry list_entries[] = {
        CTL_CONFIG_OPTION(&o.config_path),
        {"since", 0, 0, G_OPTION_ARG_STRING, &o.since, "Rows at or after TIME (ISO 8601)", "TIME"},
        {"room", 0, 0, G_OPTION_ARG_STRING, &o.room, "Only this room's rows", "NAME"},
        {"limit", 0, 0, G_OPTION_ARG_INT, &o.limit, "At most N rows (default 100)", "N"},
        {NULL},
    };
    GOptionEntry purge_entries[] = {
        CTL_CONFIG_OPTION(&o.config_path),
        {"older-than-days", 0, 0, G_OPTION_ARG_INT, &o.older_than_days,
         "Delete rows older than N days", "N"},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new(is_purge ? "purge" : "");
    g_option_context_add_main_entries(ctx, is_purge ? purge_entries : list_entries, NULL);
    g_autoptr(GError) error = NULL;
    g_autofree char *since = NULL;
    int rc = -1;
    if (!g_option_context_parse(ctx, &argc, &argv, &error))
        rc = report(is_purge ? " purge" : "", error, 2);
    else if (argc != (is_purge ? 2 : 1))
        rc = (fprintf(stderr, "conclavectl audit: unexpected argument '%s'\n", argv[argc - 1]), 2);
    else if (o.limit < 1 || o.limit > 1000000)
        rc = (fprintf(stderr, "conclavectl audit: --limit: expected 1..1000000\n"), 2);
    else if (is_purge && o.older_than_days != NOT_GIVEN && o.older_than_days < 1)
        rc = (fprintf(stderr, "conclavectl audit purge: --older-than-days: expected N >= 1\n"), 2);
    else if (o.since != NULL && !(since = ctl_time_parse("--since", o.since, &error)))
        rc = report("", error, 2);
    if (rc < 0)
        rc = is_purge ? purge(&o) : list(&o, since);
    g_free(o.config_path);
    g_free(o.since);
    g_free(o.room);
    return rc;
}
