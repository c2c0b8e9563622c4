/* conclavectl role grant / revoke / list: the `roles` table of the policy store. A subject is
 * a user (a bare JID, kind jid) or a whole domain (kind domain), stored only as its subject
 * HMAC; a listing shows `u:` or `d:` and the HMAC's first 12 hex digits. */
#include "role-cmd.h"

#include "cc-error.h"
#include "ctl-db.h"
#include "ctl-input.h"

#include <stdio.h>

const char ctl_role_usage[] =
    "  role grant SUBJECT admin|host|member [--config FILE]\n"
    "                Give a user (user@domain) or a whole domain a role (replaces its\n"
    "                previous one).\n"
    "  role revoke SUBJECT [--config FILE]\n"
    "                Remove a subject's role; exit 1 if it has none.\n"
    "  role list [--config FILE]\n"
    "                List roles by HMAC prefix (u: a user, d: a domain).\n";

static const char *const roles[] = {"admin", "host", "member", NULL};

typedef struct {
    const char *command;
    char *config_path;
    int argc;
    char **argv;
} Args;

/* --config and exactly `n_args` positional arguments. */
static gboolean
parse(Args *a, const char *usage, int n_args)
{
    GOptionEntry entries[] = {CTL_CONFIG_OPTION(&a->config_path), {NULL}};
    g_autoptr(GOptionContext) ctx = g_option_context_new(usage);
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &a->argc, &a->argv, &error)) {
        fprintf(stderr, "conclavectl role %s: %s\n", a->command, error->message);
        return FALSE;
    }
    if (a->argc != n_args + 1) {
        fprintf(stderr, "conclavectl role %s: expected %s\n", a->command, usage);
        return FALSE;
    }
    return TRUE;
}

/* The subject's HMAC and the database; FALSE after printing the error. */
static gboolean
open_subject(Args *a, const char *subject, CtlSubjectKind *kind, guint8 mac[CC_HMAC_SHA256_LEN],
             PGconn **db, GError **error)
{
    g_autoptr(CtlConfig) config = ctl_config_load(a->config_path, error);
    g_autoptr(GBytes) key = config ? ctl_config_room_key(config, error) : NULL;
    return key != NULL && ctl_subject_hmac(key, subject, TRUE, kind, mac, error) &&
           (*db = ctl_db_connect(config, error)) != NULL;
}

static int
report(Args *a, GError *error, int status)
{
    fprintf(stderr, "conclavectl role %s: %s\n", a->command, error->message);
    return status;
}

static int
cmd_grant(Args *a)
{
    if (!parse(a, "SUBJECT ROLE", 2))
        return 2;
    const char *subject = a->argv[1], *role = a->argv[2];
    g_autoptr(GError) error = NULL;
    CtlSubjectKind kind;
    g_autofree char *input = ctl_subject_parse(subject, TRUE, &kind, &error);
    if (input == NULL)
        return report(a, error, 2);
    if (!g_strv_contains(roles, role)) {
        fprintf(stderr, "conclavectl role grant: '%s' is not a role (admin, host or member)\n",
                role);
        return 2;
    }
    guint8 mac[CC_HMAC_SHA256_LEN];
    g_autoptr(PGconn) db = NULL;
    if (!open_subject(a, subject, &kind, mac, &db, &error))
        return report(a, error, 1);
    const char *kind_name = kind == CTL_SUBJECT_JID ? "jid" : "domain";
    const CtlParam p[] = {CTL_BYTEA(mac, sizeof mac), CTL_TEXT(kind_name), CTL_TEXT(role)};
    g_autoptr(PGresult) res = ctl_db_query(
        db,
        "INSERT INTO roles (subject_hmac, subject_kind, role) VALUES ($1, $2, $3) "
        "ON CONFLICT (subject_hmac) DO UPDATE SET subject_kind = EXCLUDED.subject_kind, "
        "role = EXCLUDED.role, granted_at = now()",
        p, 3, &error);
    if (res == NULL)
        return report(a, error, 1);
    g_autofree char *prefix = ctl_prefix(kind == CTL_SUBJECT_JID ? "u" : "d", mac);
    printf("granted %s to %s (%s %s)\n", role, prefix, kind_name, subject);
    return 0;
}

static int
cmd_revoke(Args *a)
{
    if (!parse(a, "SUBJECT", 1))
        return 2;
    g_autoptr(GError) error = NULL;
    CtlSubjectKind kind;
    g_autofree char *input = ctl_subject_parse(a->argv[1], TRUE, &kind, &error);
    if (input == NULL)
        return report(a, error, 2);
    guint8 mac[CC_HMAC_SHA256_LEN];
    g_autoptr(PGconn) db = NULL;
    if (!open_subject(a, a->argv[1], &kind, mac, &db, &error))
        return report(a, error, 1);
    const CtlParam p = CTL_BYTEA(mac, sizeof mac);
    g_autoptr(PGresult) res =
        ctl_db_query(db, "DELETE FROM roles WHERE subject_hmac = $1 RETURNING role", &p, 1, &error);
    if (res == NULL)
        return report(a, error, 1);
    g_autofree char *prefix = ctl_prefix(kind == CTL_SUBJECT_JID ? "u" : "d", mac);
    if (PQntuples(res) == 0) {
        fprintf(stderr, "conclavectl role revoke: %s has no role\n", prefix);
        return 1;
    }
    printf("revoked %s from %s\n", PQgetvalue(res, 0, 0), prefix);
    return 0;
}

static int
cmd_list(Args *a)
{
    if (!parse(a, "", 0))
        return 2;
    g_autoptr(GError) error = NULL;
    g_autoptr(CtlConfig) config = ctl_config_load(a->config_path, &error);
    g_autoptr(PGconn) db = config ? ctl_db_connect(config, &error) : NULL;
    g_autoptr(PGresult) rows = NULL;
    if (db == NULL ||
        !(rows = ctl_db_query(
              db,
              "SELECT CASE subject_kind WHEN 'jid' THEN 'u:' ELSE 'd:' END || "
              "" CTL_SQL_PREFIX(
                  "subject_hmac") ", subject_kind, role, "
                                  "" CTL_SQL_TIME("granted_at") " FROM roles "
                                                                "ORDER BY granted_at, subject_hmac",
              NULL, 0, &error)))
        return report(a, error, 1);
    if (PQntuples(rows) == 0)
        printf("no roles\n");
    for (int i = 0; i < PQntuples(rows); i++)
        printf("%s  %-6s  %-6s  %s\n", PQgetvalue(rows, i, 0), PQgetvalue(rows, i, 1),
               PQgetvalue(rows, i, 2), PQgetvalue(rows, i, 3));
    return 0;
}

int
ctl_role(int argc, char **argv)
{
    Args a = {argc >= 2 ? argv[1] : "", NULL, argc - 1, argv + 1};
    int rc;
    if (g_str_equal(a.command, "grant"))
        rc = cmd_grant(&a);
    else if (g_str_equal(a.command, "revoke"))
        rc = cmd_revoke(&a);
    else if (g_str_equal(a.command, "list"))
        rc = cmd_list(&a);
    else {
        fprintf(stderr, "conclavectl role: expected grant, revoke or list (try --help)\n");
        rc = 2;
    }
    g_free(a.config_path);
    return rc;
}
