/* Joins under the policy store (docs/muc.md, "Reserved rooms and roles"). With a database,
 * a join that passed the first checks (domain, lockout, nickname) is parked here — a copy of
 * its presence, in a bounded table keyed by sender and room — while the store looks up the
 * room's reservation and the user's roles; then the room is found again (another join may
 * have created it meanwhile) and the join is decided:
 *   - creating a room needs the answer: with the database down it is refused with
 *     wait/service-unavailable; a reservation is applied when the room is created;
 *   - joining a room that exists proceeds without the answer when the database is down
 *     (a reservation already lives in the room; admin powers from roles are then skipped);
 *   - a password checked against an Argon2id hash runs in a worker thread; and when there
 *     is no hash to check — a free room's clear password was wrong, or the room may not be
 *     started by this user — a dummy verification of the same cost runs instead, so that a
 *     reserved room, a free room and a missing room answer alike and in the same time.
 * Everything else a join does is muc-presence.c's (focus_muc_enter). */
#include "muc.h"

#include "password-hash.h"

#define PENDING_MAX    1000
#define VERIFY_THREADS 2

typedef struct _FocusJoinPolicy {
    FocusMuc *muc;
    GHashTable *pending; /* "full JID\nroom@service/nick" -> PendingJoin* */
    GThreadPool *pool;   /* Argon2id verifications */
    GMainContext *context;
    guint verifying; /* verifications whose answer has not reached the main loop */
    gboolean closing;
} FocusJoinPolicy;

typedef struct {
    FocusJoinPolicy *jp;
    char *key;
    xmpp_stanza_t *stanza; /* our copy of the join */
    CcJid *from, *to;
    char *bare_key;
    char subject[2 * CC_HMAC_SHA256_LEN + 1]; /* the user's subject HMAC, hex */
    char tag[CC_ROOM_TAG_SIZE];
    FocusDomainClass class;
    CcJwtClaims *token;       /* a valid access token of the join, or NULL */
    FocusStoreAnswer *answer; /* NULL: the database did not answer */
    char *verified_hash;      /* the hash this join's password matched */
    /* The verification in flight: against `hash`, or a dummy one when NULL. */
    char *hash, *password;
    gboolean match;
    FocusRefusal deny; /* the answer when it fails */
} PendingJoin;

static void decide(PendingJoin *pj);

static void
pending_free(PendingJoin *pj)
{
    g_free(pj->key);
    xmpp_stanza_release(pj->stanza);
    cc_jid_free(pj->from);
    cc_jid_free(pj->to);
    g_free(pj->bare_key);
    cc_jwt_claims_free(pj->token);
    focus_store_answer_free(pj->answer);
    g_free(pj->verified_hash);
    g_free(pj->hash);
    if (pj->password != NULL)
        memset(pj->password, 0, strlen(pj->password));
    g_free(pj->password);
    g_free(pj);
}

static void
done(PendingJoin *pj)
{
    g_hash_table_remove(pj->jp->pending, pj->key);
}

static void
refuse(PendingJoin *pj, FocusRefusal refusal)
{
    focus_muc_refuse_stanza(pj->jp->muc, pj->stanza, refusal);
    done(pj);
}

/* --- password checks off the main loop -------------------------------------------------- */

static void
count_failure(PendingJoin *pj)
{
    FocusMuc *muc = pj->jp->muc;
    /* Only a wrong password counts against the room: a refusal to start it (the same answer,
     * the same cost) counts against the sender alone, or anyone could lock any name, owners
     * of a reserved room included, by knocking on a room that does not run. */
    const char *room = pj->deny == FOCUS_REFUSE_PASSWORD ? pj->tag : NULL;
    if (!focus_policy_record_failure(muc->policy, pj->bare_key, room))
        return;
    cc_metric_inc(muc->metrics.lockouts);
    g_message("room %s: password lockout started", pj->tag);
    gboolean user = focus_policy_is_locked(muc->policy, pj->bare_key, NULL);
    g_autofree char *local = g_utf8_casefold(pj->to->local, -1);
    focus_muc_audit(muc, "lockout", local, user ? pj->bare_key : NULL, user ? "user" : "room");
}

static gboolean
on_verified(gpointer data)
{
    PendingJoin *pj = data;
    FocusJoinPolicy *jp = pj->jp;
    jp->verifying--;
    if (jp->closing) {
        done(pj);
    } else if (pj->hash != NULL && pj->match) {
        pj->verified_hash = g_steal_pointer(&pj->hash);
        decide(pj); /* the room may have changed meanwhile */
    } else {
        count_failure(pj);
        refuse(pj, pj->deny);
    }
    return G_SOURCE_REMOVE;
}

static void
verify_in_thread(gpointer data, gpointer pool_data)
{
    PendingJoin *pj = data;
    if (pj->hash != NULL)
        pj->match = cc_password_verify(pj->hash, pj->password, NULL);
    else
        cc_password_verify_dummy(pj->password);
    GSource *source = g_idle_source_new();
    /* Not starved by a steady stream of stanzas at the default priority. */
    g_source_set_priority(source, G_PRIORITY_DEFAULT);
    g_source_set_callback(source, on_verified, pj, NULL);
    g_source_attach(source, pj->jp->context);
    g_source_unref(source);
}

/* Checks the join's password against `hash` (NULL: a dummy check that always fails) in a
 * worker; a failure answers `deny` and counts towards lockouts. */
static void
verify(PendingJoin *pj, const char *hash, FocusRefusal deny)
{
    g_free(pj->hash);
    pj->hash = g_strdup(hash);
    g_free(pj->password);
    char *given = focus_muc_join_password(pj->stanza);
    pj->password = g_strdup(given != NULL && strlen(given) <= CC_PASSWORD_MAX_LEN ? given : "");
    if (given != NULL)
        memset(given, 0, strlen(given));
    g_free(given);
    pj->match = FALSE;
    pj->deny = deny;
    pj->jp->verifying++;
    g_thread_pool_push(pj->jp->pool, pj, NULL);
}

/* --- deciding -------------------------------------------------------------------------- */

static FocusStoreRole
role_of(const PendingJoin *pj)
{
    if (pj->answer == NULL)
        return FOCUS_STORE_ROLE_NONE;
    return pj->answer->user_role != FOCUS_STORE_ROLE_NONE ? pj->answer->user_role
                                                          : pj->answer->domain_role;
}

static gboolean
listed(GHashTable *set, const PendingJoin *pj)
{
    return set != NULL && g_hash_table_contains(set, pj->subject);
}

static void
apply_reservation(FocusRoom *room, FocusStoreAnswer *a)
{
    FocusReservation *r = g_new0(FocusReservation, 1);
    r->password_hash = g_steal_pointer(&a->password_hash);
    r->owners = g_steal_pointer(&a->owners);
    r->members = g_steal_pointer(&a->members);
    r->valid_until = a->valid_until;
    room->reservation = r;
    room->config.members_only = a->members_only;
    room->config.password_protected = r->password_hash != NULL;
    if (a->max_occupants > 0)
        room->config.max_users = a->max_occupants;
}

static void
create(PendingJoin *pj, FocusAffiliation aff)
{
    FocusMuc *muc = pj->jp->muc;
    gboolean reserved = pj->answer->reserved;
    FocusRoom *room = focus_muc_create_room(muc, pj->to->local);
    if (reserved)
        apply_reservation(room, pj->answer);
    if (aff != FOCUS_AFF_NONE)
        focus_room_set_affiliation(room, pj->bare_key, aff);
    focus_muc_audit(muc, "room_created", room->local, pj->bare_key, reserved ? "reserved" : "free");
    focus_muc_enter(muc, room, pj->from, pj->to, pj->stanza, TRUE, pj->token);
    done(pj);
}

/* A room that does not exist yet: may this user start it, and as what? */
static void
decide_create(PendingJoin *pj)
{
    FocusMuc *muc = pj->jp->muc;
    FocusStoreAnswer *a = pj->answer;
    if (a == NULL) {
        refuse(pj, FOCUS_REFUSE_STORE_UNAVAILABLE);
        return;
    }
    FocusStoreRole role = role_of(pj);
    gboolean owner = a->reserved && listed(a->owners, pj);
    /* A moderator token may start the room and owns it (muc-token.c); it never bypasses a
     * password, and no other token lets anyone start a room. */
    FocusAffiliation token_aff = focus_token_affiliation(focus_token_grant(pj->token));
    gboolean may_create =
        role == FOCUS_STORE_ROLE_ADMIN || role == FOCUS_STORE_ROLE_HOST || owner ||
        token_aff == FOCUS_AFF_OWNER ||
        (role == FOCUS_STORE_ROLE_NONE && pj->class == FOCUS_DOMAIN_AUTHENTICATED);
    if (!may_create) {
        verify(pj, NULL, FOCUS_REFUSE_NOT_STARTED);
        return;
    }
    if (!a->valid_now) {
        verify(pj, NULL, FOCUS_REFUSE_NOT_VALID_NOW);
        return;
    }
    if (g_utf8_strlen(pj->to->local, -1) > (glong)muc->limits.max_room_name_length) {
        refuse(pj, FOCUS_REFUSE_ROOM_NAME_TOO_LONG);
        return;
    }
    if (g_hash_table_size(muc->rooms) >= muc->limits.max_rooms) {
        refuse(pj, FOCUS_REFUSE_MAX_ROOMS);
        return;
    }
    /* A free room belongs to whoever starts it; a reserved one to its listed owners. */
    FocusAffiliation aff = FOCUS_AFF_OWNER;
    if (a->reserved && !owner && role != FOCUS_STORE_ROLE_ADMIN)
        aff = listed(a->members, pj) ? FOCUS_AFF_MEMBER : FOCUS_AFF_NONE;
    if (a->reserved && a->members_only && MAX(aff, token_aff) < FOCUS_AFF_MEMBER) {
        refuse(pj, FOCUS_REFUSE_MEMBERS_ONLY);
        return;
    }
    if (a->reserved && a->password_hash != NULL && aff < FOCUS_AFF_OWNER &&
        g_strcmp0(pj->verified_hash, a->password_hash) != 0) {
        verify(pj, a->password_hash, FOCUS_REFUSE_PASSWORD);
        return;
    }
    create(pj, aff);
}

/* The affiliation the database gives this user in `room`, written into the room. */
static FocusAffiliation
affiliation_in(PendingJoin *pj, FocusRoom *room)
{
    FocusAffiliation aff = focus_room_affiliation_by_key(room, pj->bare_key);
    FocusAffiliation from_db = FOCUS_AFF_NONE;
    if (room->reservation != NULL && listed(room->reservation->owners, pj))
        from_db = FOCUS_AFF_OWNER;
    else if (room->reservation != NULL && listed(room->reservation->members, pj))
        from_db = FOCUS_AFF_MEMBER;
    if (role_of(pj) == FOCUS_STORE_ROLE_ADMIN)
        from_db = FOCUS_AFF_OWNER; /* owner powers in every room, even over a ban */
    if (from_db > aff && (aff != FOCUS_AFF_OUTCAST || from_db == FOCUS_AFF_OWNER)) {
        focus_room_set_affiliation(room, pj->bare_key, from_db);
        aff = from_db;
    }
    return aff;
}

/* FALSE when the password check answered or went to a worker. */
static gboolean
password_ok(PendingJoin *pj, FocusRoom *room, FocusAffiliation aff)
{
    if (!room->config.password_protected)
        return TRUE;
    gboolean privileged = aff == FOCUS_AFF_OWNER &&
                          (room->reservation != NULL || role_of(pj) == FOCUS_STORE_ROLE_ADMIN);
    if (privileged)
        return TRUE;
    if (room->config.password != NULL) {
        g_autofree char *given = focus_muc_join_password(pj->stanza);
        if (given != NULL && cc_secret_equal(given, room->config.password))
            return TRUE;
        verify(pj, NULL, FOCUS_REFUSE_PASSWORD); /* the time a hash would have taken */
        return FALSE;
    }
    const char *hash = room->reservation ? room->reservation->password_hash : NULL;
    if (hash == NULL || g_strcmp0(pj->verified_hash, hash) == 0)
        return TRUE;
    verify(pj, hash, FOCUS_REFUSE_PASSWORD);
    return FALSE;
}

static void
decide_existing(PendingJoin *pj, FocusRoom *room)
{
    FocusMuc *muc = pj->jp->muc;
    if (room->reservation != NULL && room->reservation->valid_until > 0 &&
        g_get_real_time() / G_USEC_PER_SEC >= room->reservation->valid_until) {
        verify(pj, NULL, FOCUS_REFUSE_NOT_VALID_NOW);
        return;
    }
    FocusAffiliation aff = affiliation_in(pj, room);
    if (aff == FOCUS_AFF_OUTCAST) {
        refuse(pj, FOCUS_REFUSE_BANNED);
        return;
    }
    /* A token passes members-only and the occupant limit as its affiliation would, never
     * the password (muc-token.c). */
    FocusAffiliation with_token = MAX(aff, focus_token_affiliation(focus_token_grant(pj->token)));
    if (room->config.members_only && with_token < FOCUS_AFF_MEMBER) {
        refuse(pj, FOCUS_REFUSE_MEMBERS_ONLY);
        return;
    }
    if (!password_ok(pj, room, aff))
        return;
    if (room->occupants->len >= room->config.max_users && with_token < FOCUS_AFF_ADMIN) {
        refuse(pj, FOCUS_REFUSE_ROOM_FULL);
        return;
    }
    if (focus_room_by_nick(room, pj->to->resource) != NULL) {
        refuse(pj, FOCUS_REFUSE_NICK_CONFLICT);
        return;
    }
    focus_muc_enter(muc, room, pj->from, pj->to, pj->stanza, FALSE, pj->token);
    done(pj);
}

static void
decide(PendingJoin *pj)
{
    FocusMuc *muc = pj->jp->muc;
    if (focus_policy_is_locked(muc->policy, pj->bare_key, pj->tag)) {
        refuse(pj, FOCUS_REFUSE_LOCKED_OUT); /* a lockout began while this join waited */
        return;
    }
    /* The sender may have joined meanwhile (a duplicate presence): nothing more to do. */
    FocusRoom *room = focus_muc_find_room(muc, pj->to->local);
    g_autofree char *full = cc_jid_to_string(pj->from);
    if (room != NULL && focus_room_by_jid(room, full) != NULL) {
        done(pj);
        return;
    }
    if (room == NULL)
        decide_create(pj);
    else
        decide_existing(pj, room);
}

/* --- parking --------------------------------------------------------------------------- */

static void
on_answer(FocusStoreAnswer *answer, gpointer data)
{
    PendingJoin *pj = data;
    pj->answer = answer;
    if (pj->jp->closing)
        done(pj);
    else
        decide(pj);
}

static void
join_hook(FocusMuc *muc, const CcJid *from, const CcJid *to, xmpp_stanza_t *stanza,
          FocusDomainClass class, const CcJwtClaims *token)
{
    FocusJoinPolicy *jp = muc->join_policy;
    g_autofree char *from_text = cc_jid_to_string(from);
    g_autofree char *to_text = cc_jid_to_string(to);
    g_autofree char *key = g_strconcat(from_text, "\n", to_text, NULL);
    if (g_hash_table_contains(jp->pending, key) || g_hash_table_size(jp->pending) >= PENDING_MAX) {
        focus_muc_refuse_stanza(muc, stanza, FOCUS_REFUSE_STORE_BUSY);
        return;
    }
    PendingJoin *pj = g_new0(PendingJoin, 1);
    pj->jp = jp;
    pj->key = g_steal_pointer(&key);
    pj->stanza = xmpp_stanza_copy(stanza);
    pj->from = cc_jid_copy(from);
    pj->to = cc_jid_copy(to);
    pj->bare_key = cc_jid_bare_key(from);
    pj->class = class;
    pj->token = cc_jwt_claims_copy(token);
    guint8 mac[CC_HMAC_SHA256_LEN];
    focus_store_jid_hmac(muc->room_key, pj->bare_key, mac);
    focus_store_hex(mac, pj->subject);
    cc_log_room_tag(muc->room_key, to->local, pj->tag);
    g_hash_table_insert(jp->pending, pj->key, pj);
    /* Last: the answer may come at once (the store is down). */
    focus_store_lookup(muc->store, to->local, pj->bare_key, from->domain, on_answer, pj);
}

void
focus_muc_set_store(FocusMuc *muc, FocusStore *store)
{
    if (store == NULL) {
        /* Shutting down: answers still to come are dropped, not acted on. */
        if (muc->join_policy != NULL)
            muc->join_policy->closing = TRUE;
        muc->join_hook = NULL;
        muc->store = NULL;
        return;
    }
    FocusJoinPolicy *jp = g_new0(FocusJoinPolicy, 1);
    jp->muc = muc;
    jp->pending =
        g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)pending_free);
    jp->pool = g_thread_pool_new(verify_in_thread, jp, VERIFY_THREADS, FALSE, NULL);
    jp->context = g_main_context_ref_thread_default();
    muc->join_policy = jp;
    muc->store = store;
    muc->join_hook = join_hook;
}

void
focus_muc_join_policy_free(FocusMuc *muc)
{
    FocusJoinPolicy *jp = muc->join_policy;
    if (jp == NULL)
        return;
    jp->closing = TRUE;
    g_thread_pool_free(jp->pool, FALSE, TRUE);
    /* Their answers are on their way to the main context: let them arrive (and be dropped). */
    while (jp->verifying > 0)
        g_main_context_iteration(jp->context, TRUE);
    g_hash_table_unref(jp->pending);
    g_main_context_unref(jp->context);
    g_free(jp);
    muc->join_policy = NULL;
}
