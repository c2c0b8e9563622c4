/* conclavectl db migrate / db status: the policy store's schema versions. The migrations of
 * schemas/sql/ are built into the tool (ctl-data.h). `migrate` holds an advisory lock so
 * that two runs never interleave, creates the bookkeeping table `conclave_migrations` if
 * missing, and applies each missing version in its own transaction together with its
 * bookkeeping row. A database that has a version this tool does not know is refused. */
#include "db-cmd.h"

#include "ctl-data.h"
#include "ctl-db.h"

#include <stdio.h>

const char ctl_db_usage[] =
    "  db migrate [--config FILE]\n"
    "                Create or upgrade the policy store's tables (PostgreSQL, the focus's\n"
    "                [database] conninfo). Safe to run again; refuses a newer database.\n"
    "  db status [--config FILE]\n"
    "                Show the applied and pending schema versions; exit 1 if a version is\n"
    "                pending, the database is newer than this tool, or unreachable.\n";

/* "Conclave" in ASCII: the key of the session-level advisory lock. */
#define MIGRATION_LOCK "4859223896255198821"

#define CREATE_BOOKKEEPING                                                                         \
    "CREATE TABLE IF NOT EXISTS conclave_migrations (version integer PRIMARY KEY, name text "      \
    "NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"

static int
known_max(void)
{
    return ctl_n_migrations > 0 ? ctl_migrations[ctl_n_migrations - 1].version : 0;
}

/* The applied versions (a set), or NULL on a database error. With `create`, the table is
 * created when missing; without, a missing table is an empty set. */
static GHashTable *
applied_versions(PGconn *db, gboolean create, PGresult **rows, GError **error)
{
    if (create && !ctl_db_run(db, CREATE_BOOKKEEPING, error))
        return NULL;
    g_autoptr(PGresult) exists =
        ctl_db_query(db, "SELECT to_regclass('conclave_migrations') IS NOT NULL", NULL, 0, error);
    if (exists == NULL)
        return NULL;
    GHashTable *set = g_hash_table_new(g_direct_hash, g_direct_equal);
    *rows = NULL;
    if (g_str_equal(PQgetvalue(exists, 0, 0), "f"))
        return set;
    *rows = ctl_db_query(
        db,
        "SELECT version, name, " CTL_SQL_TIME("applied_at") " FROM "
                                                            "conclave_migrations ORDER BY version",
        NULL, 0, error);
    if (*rows == NULL) {
        g_hash_table_unref(set);
        return NULL;
    }
    for (int i = 0; i < PQntuples(*rows); i++)
        g_hash_table_add(set, GINT_TO_POINTER(atoi(PQgetvalue(*rows, i, 0))));
    return set;
}

/* An applied version this tool does not know (0 if none). */
static int
unknown_version(PGresult *rows)
{
    for (int i = 0; rows != NULL && i < PQntuples(rows); i++) {
        int v = atoi(PQgetvalue(rows, i, 0));
        if (v < 1 || v > known_max())
            return v;
    }
    return 0;
}

static gboolean
apply_one(PGconn *db, const CtlMigration *m, GError **error)
{
    char version[16];
    g_snprintf(version, sizeof version, "%d", m->version);
    const CtlParam params[] = {CTL_TEXT(version), CTL_TEXT(m->name)};
    if (!ctl_db_run(db, "BEGIN", error))
        return FALSE;
    g_autoptr(PGresult) res = NULL;
    if (!ctl_db_run(db, m->sql, error) ||
        (res = ctl_db_query(db, "INSERT INTO conclave_migrations (version, name) VALUES ($1, $2)",
                            params, 2, error)) == NULL ||
        !ctl_db_run(db, "COMMIT", error)) {
        ctl_db_rollback(db);
        g_prefix_error(error, "migration %04d_%s: ", m->version, m->name);
        return FALSE;
    }
    return TRUE;
}

static int
migrate(PGconn *db)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PGresult) rows = NULL;
    g_autoptr(GHashTable) applied = NULL;
    if (!ctl_db_run(db, "SELECT pg_advisory_lock(" MIGRATION_LOCK ")", &error) ||
        (applied = applied_versions(db, TRUE, &rows, &error)) == NULL) {
        fprintf(stderr, "conclavectl db migrate: %s\n", error->message);
        return 1;
    }
    int unknown = unknown_version(rows);
    if (unknown != 0) {
        fprintf(stderr,
                "conclavectl db migrate: the database has schema version %d, this conclavectl "
                "knows versions 1 to %d: use a newer conclavectl\n",
                unknown, known_max());
        return 1;
    }
    int done = 0;
    for (gsize i = 0; i < ctl_n_migrations; i++) {
        const CtlMigration *m = &ctl_migrations[i];
        if (g_hash_table_contains(applied, GINT_TO_POINTER(m->version)))
            continue;
        if (!apply_one(db, m, &error)) {
            fprintf(stderr, "conclavectl db migrate: %s\n", error->message);
            return 1;
        }
        printf("applied %04d_%s\n", m->version, m->name);
        done++;
    }
    if (done == 0)
        printf("schema is up to date (version %d)\n", known_max());
    else
        printf("schema is now at version %d\n", known_max());
    return 0;
}

static int
status(PGconn *db)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PGresult) rows = NULL;
    g_autoptr(GHashTable) applied = applied_versions(db, FALSE, &rows, &error);
    if (applied == NULL) {
        fprintf(stderr, "conclavectl db status: %s\n", error->message);
        return 1;
    }
    printf("connection: OK (database %s, server version %d)\n", PQdb(db), PQserverVersion(db));
    printf("applied:%s\n", rows != NULL && PQntuples(rows) > 0 ? "" : " none");
    for (int i = 0; rows != NULL && i < PQntuples(rows); i++)
        printf("  %04d_%s  %s\n", atoi(PQgetvalue(rows, i, 0)), PQgetvalue(rows, i, 1),
               PQgetvalue(rows, i, 2));
    int pending = 0;
    for (gsize i = 0; i < ctl_n_migrations; i++)
        if (!g_hash_table_contains(applied, GINT_TO_POINTER(ctl_migrations[i].version)))
            pending++;
    printf("pending:%s\n", pending ? "" : " none");
    for (gsize i = 0; i < ctl_n_migrations; i++)
        if (!g_hash_table_contains(applied, GINT_TO_POINTER(ctl_migrations[i].version)))
            printf("  %04d_%s\n", ctl_migrations[i].version, ctl_migrations[i].name);
    int unknown = unknown_version(rows);
    if (unknown != 0)
        printf("the database has schema version %d, newer than this conclavectl (%d)\n", unknown,
               known_max());
    if (pending)
        printf("run 'conclavectl db migrate' to apply the pending versions\n");
    return pending || unknown ? 1 : 0;
}

int
ctl_db(int argc, char **argv)
{
    g_autofree char *config_path = NULL;
    GOptionEntry entries[] = {CTL_CONFIG_OPTION(&config_path), {NULL}};
    g_autoptr(GOptionContext) ctx = g_option_context_new("migrate|status");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "conclavectl db: %s\n", error->message);
        return 2;
    }
    if (argc != 2 || (!g_str_equal(argv[1], "migrate") && !g_str_equal(argv[1], "status"))) {
        fprintf(stderr, "conclavectl db: expected 'migrate' or 'status' (try --help)\n");
        return 2;
    }
    g_autoptr(CtlConfig) config = ctl_config_load(config_path, &error);
    g_autoptr(PGconn) db = config ? ctl_db_connect(config, &error) : NULL;
    if (db == NULL) {
        fprintf(stderr, "conclavectl db %s: %s\n", argv[1], error->message);
        return 1;
    }
    return g_str_equal(argv[1], "migrate") ? migrate(db) : status(db);
}
