/* The join lookup: what the database says about one user joining one room, in one query —
 * the room's reservation (password hash, members-only, occupant limit, validity window), its
 * owners and members (as subject HMACs), the user's role and its domain's role. Parses the
 * answer; deciding what it means for the join is the MUC's (muc-join-policy.c). */
#include "store.h"

/* $1 room HMAC, $2 the user's subject HMAC, $3 the domain's subject HMAC (all bytea). */
static const char lookup_sql[] =
    "SELECT r.room_hmac IS NOT NULL, r.password_hash, COALESCE(r.members_only, false), "
    "r.max_occupants, "
    "(r.valid_from IS NULL OR r.valid_from <= now()) AND "
    "(r.valid_until IS NULL OR now() < r.valid_until), "
    "COALESCE(extract(epoch FROM r.valid_until)::bigint, 0), "
    "(SELECT string_agg(a.affiliation || ':' || encode(a.subject_hmac, 'hex'), ',') "
    "FROM room_affiliations a WHERE a.room_hmac = $1), "
    "(SELECT role FROM roles WHERE subject_hmac = $2 AND subject_kind = 'jid'), "
    "(SELECT role FROM roles WHERE subject_hmac = $3 AND subject_kind = 'domain') "
    "FROM (VALUES (1)) AS one (x) LEFT JOIN reserved_rooms r ON r.room_hmac = $1";

typedef struct {
    FocusStoreLookupDone done;
    gpointer data;
} Lookup;

void
focus_store_answer_free(FocusStoreAnswer *answer)
{
    if (answer == NULL)
        return;
    g_free(answer->password_hash);
    g_clear_pointer(&answer->owners, g_hash_table_unref);
    g_clear_pointer(&answer->members, g_hash_table_unref);
    g_free(answer);
}

static FocusStoreRole
parse_role(const PGresult *r, int column)
{
    if (PQgetisnull(r, 0, column))
        return FOCUS_STORE_ROLE_NONE;
    const char *role = PQgetvalue(r, 0, column);
    if (g_str_equal(role, "admin"))
        return FOCUS_STORE_ROLE_ADMIN;
    if (g_str_equal(role, "host"))
        return FOCUS_STORE_ROLE_HOST;
    if (g_str_equal(role, "member"))
        return FOCUS_STORE_ROLE_MEMBER;
    return FOCUS_STORE_ROLE_NONE;
}

static gboolean
is_true(const PGresult *r, int column)
{
    return !PQgetisnull(r, 0, column) && g_str_equal(PQgetvalue(r, 0, column), "t");
}

static gboolean
is_lower_hex(const char *text, gsize len)
{
    if (strlen(text) != len)
        return FALSE;
    for (gsize i = 0; i < len; i++)
        if (!g_ascii_isxdigit(text[i]) || g_ascii_isupper(text[i]))
            return FALSE;
    return TRUE;
}

/* "owner:<hex>,member:<hex>,..." into the two sets; anything else is skipped. */
static void
parse_affiliations(FocusStoreAnswer *a, const char *text)
{
    a->owners = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    a->members = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    if (text == NULL)
        return;
    g_auto(GStrv) items = g_strsplit(text, ",", -1);
    for (char **item = items; *item != NULL; item++) {
        const char *colon = strchr(*item, ':');
        if (colon == NULL || !is_lower_hex(colon + 1, 2 * CC_HMAC_SHA256_LEN))
            continue;
        if (g_str_has_prefix(*item, "owner:"))
            g_hash_table_add(a->owners, g_strdup(colon + 1));
        else if (g_str_has_prefix(*item, "member:"))
            g_hash_table_add(a->members, g_strdup(colon + 1));
    }
}

FocusStoreAnswer *
focus_store_parse_answer(const PGresult *r)
{
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) != 9)
        return NULL;
    FocusStoreAnswer *a = g_new0(FocusStoreAnswer, 1);
    a->reserved = is_true(r, 0);
    if (!PQgetisnull(r, 0, 1))
        a->password_hash = g_strdup(PQgetvalue(r, 0, 1));
    a->members_only = is_true(r, 2);
    if (!PQgetisnull(r, 0, 3))
        a->max_occupants = (guint)CLAMP(g_ascii_strtoll(PQgetvalue(r, 0, 3), NULL, 10), 0, 100000);
    a->valid_now = !a->reserved || is_true(r, 4);
    a->valid_until = g_ascii_strtoll(PQgetvalue(r, 0, 5), NULL, 10);
    parse_affiliations(a, PQgetisnull(r, 0, 6) ? NULL : PQgetvalue(r, 0, 6));
    a->user_role = parse_role(r, 7);
    a->domain_role = parse_role(r, 8);
    return a;
}

static void
on_lookup(FocusStore *store, const PGresult *result, gpointer data)
{
    Lookup *lookup = data;
    FocusStoreAnswer *answer = result ? focus_store_parse_answer(result) : NULL;
    lookup->done(answer, lookup->data);
    g_free(lookup);
}

void
focus_store_lookup(FocusStore *store, const char *room_local, const char *bare_key,
                   const char *domain, FocusStoreLookupDone done, gpointer data)
{
    guint8 room[CC_HMAC_SHA256_LEN], user[CC_HMAC_SHA256_LEN], dom[CC_HMAC_SHA256_LEN];
    focus_store_room_hmac(store->room_key, room_local, room);
    focus_store_jid_hmac(store->room_key, bare_key, user);
    focus_store_domain_hmac(store->room_key, domain, dom);
    const char *values[] = {(const char *)room, (const char *)user, (const char *)dom};
    const int lengths[] = {CC_HMAC_SHA256_LEN, CC_HMAC_SHA256_LEN, CC_HMAC_SHA256_LEN};
    const int formats[] = {1, 1, 1};
    Lookup *lookup = g_new0(Lookup, 1);
    lookup->done = done;
    lookup->data = data;
    focus_store_query(store, lookup_sql, 3, values, lengths, formats, on_lookup, lookup);
}
