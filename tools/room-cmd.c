/* conclavectl room reserve / show / unreserve: a reserved room's policy (password, owners,
 * members, members-only, occupant limit, validity window) in the policy store. The name is
 * stored only as its HMAC, owners and members only as subject HMACs, the password only as
 * an Argon2id string; what the tool prints back is the room tag and HMAC prefixes. */
#include "room-cmd.h"

#include "cc-error.h"
#include "ctl-db.h"
#include "ctl-input.h"
#include "log.h"
#include "password-hash.h"

#include <stdio.h>
#include <string.h>

const char ctl_room_usage[] =
    "  room reserve NAME --owner JID... [--member JID...] [--password-file FILE]\n"
    "               [--members-only] [--max-occupants N] [--valid-from TIME]\n"
    "               [--valid-until TIME] [--replace] [--config FILE]\n"
    "                Reserve a room (NAME is its local part): owners and members are\n"
    "                bare JIDs, the password the first line of FILE (never an argument),\n"
    "                TIME ISO 8601 with a zone. --replace replaces an existing reservation.\n"
    "  room show NAME [--config FILE]\n"
    "                Show a reserved room's policy (tag, HMAC prefixes, never a name).\n"
    "  room unreserve NAME [--config FILE]\n"
    "                Delete a reservation, its owners and members.\n";

typedef struct {
    char *config_path, *password_file, *valid_from, *valid_until;
    char **owners, **members;
    gboolean members_only, replace;
    int max_occupants;
} ReserveOptions;

static void
reserve_options_clear(ReserveOptions *o)
{
    g_free(o->config_path);
    g_free(o->password_file);
    g_free(o->valid_from);
    g_free(o->valid_until);
    g_strfreev(o->owners);
    g_strfreev(o->members);
}

/* What goes into the rows, checked before the database is touched. */
typedef struct {
    guint8 room[CC_HMAC_SHA256_LEN];
    char tag[CC_ROOM_TAG_SIZE];
    char *password_hash, *valid_from, *valid_until, max_occupants[16];
    gboolean members_only;
    GPtrArray *owner_inputs, *member_inputs; /* "jid:" + folded bare JID */
    GArray *owners, *members;                /* of CC_HMAC_SHA256_LEN-byte HMACs */
} Reservation;

static void
reservation_init(Reservation *r)
{
    memset(r, 0, sizeof *r);
    r->owner_inputs = g_ptr_array_new_with_free_func(g_free);
    r->member_inputs = g_ptr_array_new_with_free_func(g_free);
    r->owners = g_array_new(FALSE, FALSE, CC_HMAC_SHA256_LEN);
    r->members = g_array_new(FALSE, FALSE, CC_HMAC_SHA256_LEN);
}

static void
reservation_clear(Reservation *r)
{
    g_free(r->password_hash);
    g_free(r->valid_from);
    g_free(r->valid_until);
    g_ptr_array_unref(r->owner_inputs);
    g_ptr_array_unref(r->member_inputs);
    g_array_unref(r->owners);
    g_array_unref(r->members);
}

/* Prints the error; returns `status` (2 for a bad command line, 1 for a failure). */
static int
fail(const char *command, GError *error, int status)
{
    fprintf(stderr, "conclavectl room %s: %s\n", command, error->message);
    return status;
}

/* Passwords never come from the command line, where ps and shell history would keep them. */
static gboolean
refuse_password_option(int argc, char **argv, GError **error)
{
    for (int i = 1; i < argc; i++) {
        if (g_str_equal(argv[i], "--"))
            break;
        if (g_str_equal(argv[i], "--password") || g_str_has_prefix(argv[i], "--password=")) {
            g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                                "--password is refused: a password on the command line shows "
                                "in ps and in shell history; use --password-file FILE");
            return FALSE;
        }
    }
    return TRUE;
}

/* The first line of the file, hashed; the clear text is wiped. */
static char *
hash_password_file(const char *path, GError **error)
{
    g_autofree char *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &data, &len, error))
        return NULL;
    gsize line = strcspn(data, "\r\n");
    char *hash = NULL;
    if (line == 0 || memchr(data, '\0', line) != NULL)
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "%s: the first line (the password) is empty",
                    path);
    else {
        data[line] = '\0';
        hash = cc_password_hash(data, error);
        if (hash == NULL)
            g_prefix_error(error, "%s: ", path);
    }
    explicit_bzero(data, len);
    return hash;
}

/* Parses the JIDs into `out` (HMAC inputs); a JID given twice is an error. */
static gboolean
parse_subjects(char **jids, GPtrArray *out, GHashTable *seen, GError **error)
{
    for (char **j = jids; j && *j; j++) {
        CtlSubjectKind kind;
        char *input = ctl_subject_parse(*j, FALSE, &kind, error);
        if (input == NULL)
            return FALSE;
        g_ptr_array_add(out, input);
        if (!g_hash_table_add(seen, input)) {
            g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "'%s' is given twice", *j);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
hash_subjects(GBytes *key, GPtrArray *inputs, GArray *out, GError **error)
{
    for (guint i = 0; i < inputs->len; i++) {
        guint8 mac[CC_HMAC_SHA256_LEN];
        if (!ctl_hmac(key, inputs->pdata[i], mac, error))
            return FALSE;
        g_array_append_vals(out, mac, 1);
    }
    return TRUE;
}

/* Everything that can be checked without the key: a bad command line (exit 2). */
static gboolean
check_arguments(const ReserveOptions *o, const char *name, Reservation *r, GError **error)
{
    if (!ctl_room_name_check(name, error))
        return FALSE;
    if (o->owners == NULL || o->owners[0] == NULL) {
        g_set_error_literal(error, CC_ERROR, CC_ERROR_INVALID,
                            "at least one --owner JID is required");
        return FALSE;
    }
    if (o->max_occupants < 0 || o->max_occupants > 100000) {
        g_set_error_literal(error, CC_ERROR, CC_ERROR_INVALID,
                            "--max-occupants: expected 1..100000");
        return FALSE;
    }
    r->members_only = o->members_only;
    if (o->max_occupants > 0)
        g_snprintf(r->max_occupants, sizeof r->max_occupants, "%d", o->max_occupants);
    if ((o->valid_from &&
         !(r->valid_from = ctl_time_parse("--valid-from", o->valid_from, error))) ||
        (o->valid_until &&
         !(r->valid_until = ctl_time_parse("--valid-until", o->valid_until, error))))
        return FALSE;
    if (r->valid_from && r->valid_until && strcmp(r->valid_from, r->valid_until) >= 0) {
        g_set_error_literal(error, CC_ERROR, CC_ERROR_INVALID,
                            "--valid-from must be before --valid-until");
        return FALSE;
    }
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    return parse_subjects(o->owners, r->owner_inputs, seen, error) &&
           parse_subjects(o->members, r->member_inputs, seen, error);
}

/* The HMACs and the password hash (exit 1 when this fails). */
static gboolean
hash_all(const ReserveOptions *o, const char *name, GBytes *key, Reservation *r, GError **error)
{
    if (!ctl_room_hmac(key, name, r->room, error) ||
        !hash_subjects(key, r->owner_inputs, r->owners, error) ||
        !hash_subjects(key, r->member_inputs, r->members, error))
        return FALSE;
    cc_log_room_tag(key, name, r->tag);
    if (o->password_file && !(r->password_hash = hash_password_file(o->password_file, error)))
        return FALSE;
    return TRUE;
}

static gboolean
insert_affiliations(PGconn *db, const Reservation *r, GArray *subjects, const char *affiliation,
                    GError **error)
{
    for (guint i = 0; i < subjects->len; i++) {
        const guint8 *mac = (const guint8 *)subjects->data + i * CC_HMAC_SHA256_LEN;
        const CtlParam p[] = {CTL_BYTEA(r->room, CC_HMAC_SHA256_LEN),
                              CTL_BYTEA(mac, CC_HMAC_SHA256_LEN), CTL_TEXT(affiliation)};
        g_autoptr(PGresult) res =
            ctl_db_query(db,
                         "INSERT INTO room_affiliations (room_hmac, subject_hmac, affiliation) "
                         "VALUES ($1, $2, $3)",
                         p, 3, error);
        if (res == NULL)
            return FALSE;
    }
    return TRUE;
}

/* One transaction; FALSE with *exists set when the room is reserved and !replace. */
static gboolean
store(PGconn *db, const Reservation *r, gboolean replace, gboolean *exists, GError **error)
{
    const CtlParam room = CTL_BYTEA(r->room, CC_HMAC_SHA256_LEN);
    const CtlParam p[] = {room,
                          r->password_hash ? CTL_TEXT(r->password_hash) : CTL_NULL,
                          CTL_TEXT(r->max_occupants[0] ? r->max_occupants : NULL),
                          CTL_TEXT(r->valid_from),
                          CTL_TEXT(r->valid_until),
                          CTL_TEXT(r->members_only ? "true" : "false")};
    *exists = FALSE;
    if (!ctl_db_run(db, "BEGIN", error))
        return FALSE;
    g_autoptr(PGresult) del = NULL, ins = NULL;
    if (replace && !(del = ctl_db_query(db, "DELETE FROM reserved_rooms WHERE room_hmac = $1",
                                        &room, 1, error)))
        goto rollback;
    ins = ctl_db_query(db,
                       "INSERT INTO reserved_rooms (room_hmac, password_hash, members_only, "
                       "max_occupants, valid_from, valid_until) VALUES ($1, $2, $6::boolean, "
                       "$3::integer, $4::timestamptz, $5::timestamptz) "
                       "ON CONFLICT (room_hmac) DO NOTHING",
                       p, 6, error);
    if (ins == NULL)
        goto rollback;
    if (g_str_equal(PQcmdTuples(ins), "0")) {
        *exists = TRUE;
        goto rollback;
    }
    if (!insert_affiliations(db, r, r->owners, "owner", error) ||
        !insert_affiliations(db, r, r->members, "member", error) ||
        !ctl_db_run(db, "COMMIT", error))
        goto rollback;
    return TRUE;
rollback:
    ctl_db_rollback(db);
    return FALSE;
}

static void
print_reservation(const char *name, const Reservation *r, gboolean replaced)
{
    printf("%s room '%s' as %s\n", replaced ? "reserved (replaced)" : "reserved", name, r->tag);
    printf("  password: %s\n", r->password_hash ? "set (Argon2id)" : "none");
    printf("  members only: %s\n", r->members_only ? "yes" : "no");
    printf("  max occupants: %s\n", r->max_occupants[0] ? r->max_occupants : "service limit");
    printf("  valid: from %s until %s\n", r->valid_from ? r->valid_from : "always",
           r->valid_until ? r->valid_until : "forever");
    printf("  owners: %u, members: %u\n", r->owners->len, r->members->len);
}

static int
reserve(const ReserveOptions *o, const char *name, Reservation *r)
{
    g_autoptr(GError) error = NULL;
    if (!check_arguments(o, name, r, &error))
        return fail("reserve", error, 2);
    g_autoptr(CtlConfig) config = ctl_config_load(o->config_path, &error);
    g_autoptr(GBytes) key = config ? ctl_config_room_key(config, &error) : NULL;
    if (key == NULL || !hash_all(o, name, key, r, &error))
        return fail("reserve", error, 1);
    g_autoptr(PGconn) db = ctl_db_connect(config, &error);
    gboolean exists = FALSE;
    if (db == NULL || !store(db, r, o->replace, &exists, &error)) {
        if (!exists)
            return fail("reserve", error, 1);
        fprintf(stderr,
                "conclavectl room reserve: %s is already reserved (--replace replaces it)\n",
                r->tag);
        return 1;
    }
    print_reservation(name, r, o->replace);
    return 0;
}

static int
cmd_reserve(int argc, char **argv)
{
    ReserveOptions o = {0};
    GOptionEntry entries[] = {
        CTL_CONFIG_OPTION(&o.config_path),
        {"owner", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.owners, "An owner (repeatable)", "JID"},
        {"member", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.members, "A member (repeatable)", "JID"},
        {"password-file", 0, 0, G_OPTION_ARG_FILENAME, &o.password_file,
         "The password: the first line of FILE", "FILE"},
        {"members-only", 0, 0, G_OPTION_ARG_NONE, &o.members_only, "Only owners and members", NULL},
        {"max-occupants", 0, 0, G_OPTION_ARG_INT, &o.max_occupants, "Occupant limit", "N"},
        {"valid-from", 0, 0, G_OPTION_ARG_STRING, &o.valid_from, "Start (ISO 8601)", "TIME"},
        {"valid-until", 0, 0, G_OPTION_ARG_STRING, &o.valid_until, "End (ISO 8601)", "TIME"},
        {"replace", 0, 0, G_OPTION_ARG_NONE, &o.replace, "Replace an existing reservation", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("NAME");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) error = NULL;
    int rc;
    if (!refuse_password_option(argc, argv, &error) ||
        !g_option_context_parse(ctx, &argc, &argv, &error))
        rc = fail("reserve", error, 2);
    else if (argc != 2)
        rc = (fprintf(stderr, "conclavectl room reserve: expected one NAME\n"), 2);
    else {
        Reservation r;
        reservation_init(&r);
        rc = reserve(&o, argv[1], &r);
        reservation_clear(&r);
    }
    reserve_options_clear(&o);
    return rc;
}

/* show and unreserve: --config and one NAME; the room's HMAC and tag. Exit status or -1. */
static int
room_target(const char *command, int argc, char **argv, PGconn **db, Reservation *r)
{
    g_autofree char *config_path = NULL;
    GOptionEntry entries[] = {CTL_CONFIG_OPTION(&config_path), {NULL}};
    g_autofree char *summary = g_strdup_printf("%s NAME", command);
    g_autoptr(GOptionContext) ctx = g_option_context_new(summary);
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error))
        return fail(command, error, 2);
    if (argc != 2) {
        fprintf(stderr, "conclavectl room %s: expected one NAME\n", command);
        return 2;
    }
    if (!ctl_room_name_check(argv[1], &error))
        return fail(command, error, 2);
    g_autoptr(CtlConfig) config = ctl_config_load(config_path, &error);
    g_autoptr(GBytes) key = config ? ctl_config_room_key(config, &error) : NULL;
    if (key == NULL || !ctl_room_hmac(key, argv[1], r->room, &error) ||
        !(*db = ctl_db_connect(config, &error)))
        return fail(command, error, 1);
    cc_log_room_tag(key, argv[1], r->tag);
    return -1;
}

static void
print_affiliations(PGresult *rows, const char *affiliation)
{
    int n = 0;
    for (int i = 0; i < PQntuples(rows); i++)
        n += g_str_equal(PQgetvalue(rows, i, 0), affiliation);
    printf("  %ss: %d", affiliation, n);
    for (int i = 0; i < PQntuples(rows); i++)
        if (g_str_equal(PQgetvalue(rows, i, 0), affiliation))
            printf(" u:%s", PQgetvalue(rows, i, 1));
    printf("\n");
}

static int
cmd_show(int argc, char **argv)
{
    g_autoptr(PGconn) db = NULL;
    Reservation r;
    reservation_init(&r);
    int rc = room_target("show", argc, argv, &db, &r);
    const CtlParam room = CTL_BYTEA(r.room, CC_HMAC_SHA256_LEN);
    g_autoptr(GError) error = NULL;
    g_autoptr(PGresult) row = NULL, affs = NULL;
    if (rc < 0 &&
        (!(row = ctl_db_query(
               db,
               "SELECT password_hash IS NOT NULL, members_only, max_occupants, "
               "" CTL_SQL_TIME("valid_from") ", " CTL_SQL_TIME(
                   "valid_until") ", "
                                  "" CTL_SQL_TIME("created_at") " FROM reserved_rooms WHERE "
                                                                "room_hmac = $1",
               &room, 1, &error)) ||
         !(affs = ctl_db_query(
               db,
               "SELECT affiliation, " CTL_SQL_PREFIX(
                   "subject_hmac") " FROM "
                                   "room_affiliations WHERE room_hmac = $1 ORDER BY subject_hmac",
               &room, 1, &error))))
        rc = fail("show", error, 1);
    else if (rc < 0 && PQntuples(row) == 0)
        rc = (fprintf(stderr, "conclavectl room show: %s is not reserved\n", r.tag), 1);
    else if (rc < 0) {
        printf("%s (reserved %s)\n", r.tag, PQgetvalue(row, 0, 5));
        printf("  password: %s\n", g_str_equal(PQgetvalue(row, 0, 0), "t") ? "set" : "none");
        printf("  members only: %s\n", g_str_equal(PQgetvalue(row, 0, 1), "t") ? "yes" : "no");
        printf("  max occupants: %s\n",
               PQgetisnull(row, 0, 2) ? "service limit" : PQgetvalue(row, 0, 2));
        printf("  valid: from %s until %s\n",
               PQgetisnull(row, 0, 3) ? "always" : PQgetvalue(row, 0, 3),
               PQgetisnull(row, 0, 4) ? "forever" : PQgetvalue(row, 0, 4));
        print_affiliations(affs, "owner");
        print_affiliations(affs, "member");
        rc = 0;
    }
    reservation_clear(&r);
    return rc;
}

static int
cmd_unreserve(int argc, char **argv)
{
    g_autoptr(PGconn) db = NULL;
    Reservation r;
    reservation_init(&r);
    int rc = room_target("unreserve", argc, argv, &db, &r);
    const CtlParam room = CTL_BYTEA(r.room, CC_HMAC_SHA256_LEN);
    g_autoptr(GError) error = NULL;
    g_autoptr(PGresult) res = NULL;
    if (rc < 0 && !(res = ctl_db_query(db, "DELETE FROM reserved_rooms WHERE room_hmac = $1", &room,
                                       1, &error)))
        rc = fail("unreserve", error, 1);
    else if (rc < 0 && g_str_equal(PQcmdTuples(res), "0"))
        rc = (fprintf(stderr, "conclavectl room unreserve: %s is not reserved\n", r.tag), 1);
    else if (rc < 0)
        rc = (printf("unreserved %s\n", r.tag), 0);
    reservation_clear(&r);
    return rc;
}

int
ctl_room(int argc, char **argv)
{
    const char *sub = argc >= 2 ? argv[1] : "";
    if (g_str_equal(sub, "reserve"))
        return cmd_reserve(argc - 1, argv + 1);
    if (g_str_equal(sub, "show"))
        return cmd_show(argc - 1, argv + 1);
    if (g_str_equal(sub, "unreserve"))
        return cmd_unreserve(argc - 1, argv + 1);
    fprintf(stderr, "conclavectl room: expected reserve, show or unreserve (try --help)\n");
    return 2;
}
