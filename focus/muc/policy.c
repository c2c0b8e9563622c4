/* Domain classes, password lockouts and stanza rate limits (see policy.h). Nothing here
 * knows rooms beyond the tag it is given, nor sends anything. */
#include "policy.h"

/* Senders tracked at most per table (rate buckets, answered refusals): a server can send
 * from as many addresses as it likes, and the sweep comes only every 30 s. Past it, an
 * unknown sender counts as over its rate. */
#define TRACKED_MAX 100000

struct _FocusPolicy {
    GHashTable *authenticated; /* case-folded domain -> itself */
    GHashTable *guests;
    FocusPolicySettings s;
    GHashTable *failures_by_jid;  /* bare key -> Failures* */
    GHashTable *failures_by_room; /* room tag -> Failures* */
    GHashTable *buckets;          /* full JID -> Bucket* */
    GHashTable *refused;          /* full JID -> gint64* when its last refusal was answered */
    gint64 early_sweep;           /* when a full table last forced a sweep */
};

typedef struct {
    guint count;
    gint64 window_start;
    gint64 locked_until;
    guint lockouts; /* how many so far: each doubles the next */
    gint64 last_lockout;
} Failures;

typedef struct {
    double tokens;
    gint64 updated;
} Bucket;

static gint64
policy_now(const FocusPolicy *policy)
{
    return policy->s.clock != NULL ? policy->s.clock() : g_get_monotonic_time();
}

static GHashTable *
domain_set(const char *const *domains)
{
    GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (const char *const *d = domains; d != NULL && *d != NULL; d++)
        g_hash_table_add(set, g_utf8_casefold(*d, -1));
    return set;
}

FocusPolicy *
focus_policy_new(const char *const *authenticated_domains, const char *const *guest_domains,
                 const FocusPolicySettings *settings)
{
    FocusPolicy *p = g_new0(FocusPolicy, 1);
    p->authenticated = domain_set(authenticated_domains);
    p->guests = domain_set(guest_domains);
    p->s = *settings;
    p->failures_by_jid = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    p->failures_by_room = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    p->buckets = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    p->refused = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    return p;
}

void
focus_policy_free(FocusPolicy *policy)
{
    if (policy == NULL)
        return;
    g_hash_table_unref(policy->authenticated);
    g_hash_table_unref(policy->guests);
    g_hash_table_unref(policy->failures_by_jid);
    g_hash_table_unref(policy->failures_by_room);
    g_hash_table_unref(policy->buckets);
    g_hash_table_unref(policy->refused);
    g_free(policy);
}

FocusDomainClass
focus_policy_classify(FocusPolicy *policy, const CcJid *from)
{
    g_autofree char *domain = g_utf8_casefold(from->domain, -1);
    /* A domain JID (no localpart) is a server or a component, never a person. */
    if (from->local == NULL)
        return FOCUS_DOMAIN_REFUSED;
    if (g_hash_table_contains(policy->authenticated, domain))
        return FOCUS_DOMAIN_AUTHENTICATED;
    if (g_hash_table_contains(policy->guests, domain))
        return FOCUS_DOMAIN_GUEST;
    return FOCUS_DOMAIN_REFUSED;
}

static gboolean
locked(GHashTable *table, const char *key, gint64 now)
{
    Failures *f = key ? g_hash_table_lookup(table, key) : NULL;
    return f != NULL && f->locked_until > now;
}

gboolean
focus_policy_is_locked(FocusPolicy *policy, const char *bare_key, const char *room)
{
    gint64 now = policy_now(policy);
    return locked(policy->failures_by_jid, bare_key, now) ||
           locked(policy->failures_by_room, room, now);
}

static gboolean
count_failure(FocusPolicy *policy, GHashTable *table, const char *key, guint threshold, gint64 now)
{
    Failures *f = g_hash_table_lookup(table, key);
    if (f == NULL) {
        f = g_new0(Failures, 1);
        g_hash_table_insert(table, g_strdup(key), f);
    }
    gint64 window = (gint64)policy->s.window_s * G_USEC_PER_SEC;
    if (f->count == 0 || now - f->window_start > window) {
        f->count = 0;
        f->window_start = now;
    }
    f->count++;
    if (f->count < threshold || f->locked_until > now)
        return FALSE;
    /* Each lockout doubles the previous one, up to the ceiling. */
    guint64 seconds = policy->s.lockout_s;
    for (guint i = 0; i < f->lockouts && seconds < policy->s.lockout_max_s; i++)
        seconds *= 2;
    seconds = MIN(seconds, policy->s.lockout_max_s);
    f->lockouts++;
    f->locked_until = now + (gint64)seconds * G_USEC_PER_SEC;
    f->last_lockout = now;
    f->count = 0;
    return TRUE;
}

gboolean
focus_policy_record_failure(FocusPolicy *policy, const char *bare_key, const char *room)
{
    gint64 now = policy_now(policy);
    gboolean by_jid =
        count_failure(policy, policy->failures_by_jid, bare_key, policy->s.jid_failures, now);
    gboolean by_room = room != NULL && count_failure(policy, policy->failures_by_room, room,
                                                     policy->s.room_failures, now);
    return by_jid || by_room;
}

/* TRUE when `table` may take a new sender, after an early sweep if it is full. */
static gboolean
room_for_one_more(FocusPolicy *policy, GHashTable *table)
{
    if (g_hash_table_size(table) < TRACKED_MAX)
        return TRUE;
    /* At most one early sweep a second: under a flood of new senders, a sweep each time
     * would cost more than the flood. */
    gint64 now = policy_now(policy);
    if (now - policy->early_sweep >= G_USEC_PER_SEC) {
        policy->early_sweep = now;
        focus_policy_sweep(policy);
    }
    return g_hash_table_size(table) < TRACKED_MAX;
}

gboolean
focus_policy_allow_stanza(FocusPolicy *policy, const char *full_jid)
{
    if (policy->s.stanzas_per_second == 0)
        return TRUE;
    gint64 now = policy_now(policy);
    double rate = policy->s.stanzas_per_second, burst = 2.0 * rate;
    Bucket *b = g_hash_table_lookup(policy->buckets, full_jid);
    if (b == NULL && !room_for_one_more(policy, policy->buckets))
        return FALSE;
    if (b == NULL) {
        b = g_new0(Bucket, 1);
        b->tokens = burst;
        b->updated = now;
        g_hash_table_insert(policy->buckets, g_strdup(full_jid), b);
    }
    b->tokens = MIN(burst, b->tokens + rate * (double)(now - b->updated) / G_USEC_PER_SEC);
    b->updated = now;
    if (b->tokens < 1.0)
        return FALSE;
    b->tokens -= 1.0;
    return TRUE;
}

gboolean
focus_policy_allow_refusal(FocusPolicy *policy, const char *full_jid)
{
    gint64 now = policy_now(policy);
    gint64 *last = g_hash_table_lookup(policy->refused, full_jid);
    if (last == NULL && !room_for_one_more(policy, policy->refused))
        return FALSE;
    if (last == NULL) {
        last = g_new(gint64, 1);
        g_hash_table_insert(policy->refused, g_strdup(full_jid), last);
    } else if (now - *last < G_USEC_PER_SEC) {
        return FALSE;
    }
    *last = now;
    return TRUE;
}

static gboolean
refusal_forgotten(gpointer key, gpointer value, gpointer data)
{
    gint64 now = *(gint64 *)((gpointer *)data)[1];
    return now - *(gint64 *)value >= G_USEC_PER_SEC;
}

static gboolean
failures_expired(gpointer key, gpointer value, gpointer data)
{
    const FocusPolicy *policy = ((gpointer *)data)[0];
    gint64 now = *(gint64 *)((gpointer *)data)[1];
    Failures *f = value;
    gint64 window = (gint64)policy->s.window_s * G_USEC_PER_SEC;
    gint64 memory = (gint64)policy->s.lockout_max_s * 2 * G_USEC_PER_SEC;
    /* Keep lockout history long enough that the next lockout still grows. */
    return f->locked_until <= now && now - f->window_start > window &&
           (f->lockouts == 0 || now - f->last_lockout > memory);
}

static gboolean
bucket_full(gpointer key, gpointer value, gpointer data)
{
    const FocusPolicy *policy = ((gpointer *)data)[0];
    gint64 now = *(gint64 *)((gpointer *)data)[1];
    Bucket *b = value;
    double rate = policy->s.stanzas_per_second;
    return b->tokens + rate * (double)(now - b->updated) / G_USEC_PER_SEC >= 2.0 * rate;
}

void
focus_policy_sweep(FocusPolicy *policy)
{
    gint64 now = policy_now(policy);
    gpointer data[2] = {policy, &now};
    g_hash_table_foreach_remove(policy->failures_by_jid, failures_expired, data);
    g_hash_table_foreach_remove(policy->failures_by_room, failures_expired, data);
    g_hash_table_foreach_remove(policy->buckets, bucket_full, data);
    g_hash_table_foreach_remove(policy->refused, refusal_forgotten, data);
}

guint
focus_policy_tracked(FocusPolicy *policy)
{
    return g_hash_table_size(policy->failures_by_jid) +
           g_hash_table_size(policy->failures_by_room) + g_hash_table_size(policy->buckets) +
           g_hash_table_size(policy->refused);
}
