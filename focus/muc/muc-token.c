/* JSON Web Tokens in the MUC (schemas/jwt.md): verifying a token with the service's key,
 * issuer, audience, leeway and clock; what a valid one grants (pure functions, so that the
 * rules can be tested alone); the memory of tokens given in the Jitsi `conference` IQ,
 * bounded in count and time, until the same full JID joins; and the watch over an occupant
 * whose token expires during the meeting (a warning, then removal when configured).
 * Refusals go through muc-reply.c's table. It owns no join logic: muc-presence.c and
 * muc-disco.c ask it, and apply what it answers. Neither a token nor a claim is ever logged. */
#include "muc.h"

/* Conference-IQ tokens: how many are remembered at most, and for how long at most. */
#define REMEMBER_MAX   10000
#define REMEMBER_US    (5 * 60 * G_USEC_PER_SEC)
#define SWEEP_S        30
#define WARN_BEFORE_S  60
#define EXPIRED_REASON "Your access token expired"

struct _FocusMucTokens {
    FocusMuc *muc;
    FocusTokenSettings s;
    FocusMucRemover remove;
    GHashTable *remembered; /* full JID -> Remembered* */
    guint sweep_source;
};

typedef struct {
    char *room; /* case-folded local part of the IQ's room */
    CcJwtClaims *claims;
    gint64 until; /* wall clock, microseconds */
} Remembered;

typedef struct {
    FocusMucTokens *tokens;
    FocusRoom *room;
    FocusOccupant *occ;
    gint64 end; /* seconds: when verification would refuse the token (exp + leeway) */
    gboolean warned;
} Expiry;

static gint64
now_us(const FocusMucTokens *t)
{
    return t->s.clock != NULL ? t->s.clock() : g_get_real_time();
}

static void
remembered_free(Remembered *r)
{
    g_free(r->room);
    cc_jwt_claims_free(r->claims);
    g_free(r);
}

static CcJwtClaims *
claims_copy(const CcJwtClaims *c)
{
    CcJwtClaims *copy = g_new0(CcJwtClaims, 1);
    copy->room = g_strdup(c->room);
    copy->sub = g_strdup(c->sub);
    copy->exp = c->exp;
    copy->moderator = c->moderator;
    return copy;
}

static gboolean
remembered_stale(gpointer key, gpointer value, gpointer data)
{
    return ((Remembered *)value)->until <= *(gint64 *)data;
}

static gboolean
on_sweep(gpointer data)
{
    FocusMucTokens *t = data;
    gint64 now = now_us(t);
    g_hash_table_foreach_remove(t->remembered, remembered_stale, &now);
    return G_SOURCE_CONTINUE;
}

FocusMucTokens *
focus_muc_tokens_new(FocusMuc *muc, FocusTokenSettings *settings, FocusMucRemover remove)
{
    FocusMucTokens *t = g_new0(FocusMucTokens, 1);
    t->muc = muc;
    t->s = *settings;
    t->s.issuer = g_strdup(settings->issuer);
    t->s.audience = g_strdup(settings->audience);
    settings->key = NULL; /* ours now */
    t->remove = remove;
    t->remembered =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)remembered_free);
    t->sweep_source = g_timeout_add_seconds(SWEEP_S, on_sweep, t);
    return t;
}

void
focus_muc_tokens_free(FocusMucTokens *tokens)
{
    if (tokens == NULL)
        return;
    g_clear_handle_id(&tokens->sweep_source, g_source_remove);
    g_hash_table_unref(tokens->remembered);
    cc_jwt_key_free(tokens->s.key);
    g_free(tokens->s.issuer);
    g_free(tokens->s.audience);
    g_free(tokens);
}

guint
focus_muc_tokens_remembered(FocusMucTokens *tokens)
{
    return tokens ? g_hash_table_size(tokens->remembered) : 0;
}

/* The grant rules (docs/muc.md, "Access tokens"). */

FocusTokenGrant
focus_token_grant(const CcJwtClaims *claims)
{
    if (claims == NULL)
        return FOCUS_TOKEN_NONE;
    return claims->moderator == CC_JWT_MODERATOR_YES ? FOCUS_TOKEN_MODERATOR
                                                     : FOCUS_TOKEN_PARTICIPANT;
}

gboolean
focus_token_may_enter(FocusDomainClass class, FocusTokenGrant grant, gboolean room_exists,
                      FocusRefusal *refusal)
{
    /* A token only adds to what the domain allows: it never takes anything away. */
    if (class == FOCUS_DOMAIN_REFUSED && grant == FOCUS_TOKEN_NONE) {
        *refusal = FOCUS_REFUSE_POLICY;
        return FALSE;
    }
    if (!room_exists && class != FOCUS_DOMAIN_AUTHENTICATED && grant != FOCUS_TOKEN_MODERATOR) {
        *refusal = FOCUS_REFUSE_GUEST_CREATE;
        return FALSE;
    }
    return TRUE;
}

FocusAffiliation
focus_token_affiliation(FocusTokenGrant grant)
{
    return grant == FOCUS_TOKEN_MODERATOR ? FOCUS_AFF_OWNER : FOCUS_AFF_NONE;
}

/* Verification. */

/* The claims of `token` when it is valid now and covers `room`; NULL otherwise. Only the
 * kind of failure is logged (the library's messages hold no value from the token). */
static CcJwtClaims *
verify(FocusMucTokens *t, const char *token, const char *room)
{
    CcJwtExpect expect = {
        .issuer = t->s.issuer,
        .audience = t->s.audience,
        .now = now_us(t) / G_USEC_PER_SEC,
        .leeway_s = t->s.leeway_s,
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(CcJwtClaims) claims = cc_jwt_verify(token, t->s.key, &expect, &error);
    if (claims == NULL) {
        g_info("token refused: %s", error->message);
        return NULL;
    }
    if (!cc_jwt_claims_allow_room(claims, room)) {
        g_info("token refused: it is for another room");
        return NULL;
    }
    return g_steal_pointer(&claims);
}

gboolean
focus_muc_token_for_join(FocusMuc *muc, xmpp_stanza_t *presence, const char *from, const char *room,
                         CcJwtClaims **claims)
{
    *claims = NULL;
    FocusMucTokens *t = muc->tokens;
    if (t == NULL)
        return TRUE;
    xmpp_stanza_t *element =
        xmpp_stanza_get_child_by_name_and_ns(presence, "token", NS_CONCLAVE_JWT);
    if (element != NULL) {
        /* The element wins over a remembered token; an empty one is an invalid token. */
        g_autofree char *text = xmpp_stanza_get_text(element);
        *claims = verify(t, text != NULL ? g_strstrip(text) : "", room);
        if (*claims == NULL) {
            focus_muc_refuse_stanza(muc, presence, FOCUS_REFUSE_TOKEN);
            return FALSE;
        }
        return TRUE;
    }
    Remembered *r = g_hash_table_lookup(t->remembered, from);
    if (r == NULL)
        return TRUE;
    g_autofree char *folded = g_utf8_casefold(room, -1);
    if (r->until <= now_us(t)) {
        g_hash_table_remove(t->remembered, from);
        return TRUE;
    }
    /* Given for another room: that join has no token (the IQ checked its own room). */
    if (g_str_equal(r->room, folded))
        *claims = claims_copy(r->claims);
    return TRUE;
}

/* Remembers `claims` for the next join of `from` to `room`, replacing what it gave before,
 * for at most REMEMBER_US and never beyond the token's own end. */
static void
remember(FocusMucTokens *t, const char *from, const char *room, const CcJwtClaims *claims)
{
    gint64 now = now_us(t);
    if (!g_hash_table_contains(t->remembered, from) &&
        g_hash_table_size(t->remembered) >= REMEMBER_MAX) {
        g_hash_table_foreach_remove(t->remembered, remembered_stale, &now);
        if (g_hash_table_size(t->remembered) >= REMEMBER_MAX) {
            /* Still full of live entries: one is forgotten (its client can send the token
             * again, or in its join presence). */
            GHashTableIter iter;
            gpointer key;
            g_hash_table_iter_init(&iter, t->remembered);
            if (g_hash_table_iter_next(&iter, &key, NULL))
                g_hash_table_iter_remove(&iter);
        }
    }
    Remembered *r = g_new0(Remembered, 1);
    r->room = g_utf8_casefold(room, -1);
    r->claims = claims_copy(claims);
    r->until = MIN(now + REMEMBER_US, (claims->exp + (gint64)t->s.leeway_s) * G_USEC_PER_SEC);
    g_hash_table_replace(t->remembered, g_strdup(from), r);
}

gboolean
focus_muc_token_for_conference(FocusMuc *muc, xmpp_stanza_t *iq, const char *from, const char *room,
                               FocusTokenGrant *grant)
{
    *grant = FOCUS_TOKEN_NONE;
    FocusMucTokens *t = muc->tokens;
    xmpp_stanza_t *conference = cc_stanza_first_element(iq);
    const char *token = conference ? xmpp_stanza_get_attribute(conference, "token") : NULL;
    /* lib-jitsi-meet sends no attribute (or an empty one) when it has no token. */
    if (t == NULL || token == NULL || *token == '\0')
        return TRUE;
    g_autoptr(CcJwtClaims) claims = verify(t, token, room);
    if (claims == NULL) {
        focus_muc_refuse_stanza(muc, iq, FOCUS_REFUSE_TOKEN);
        return FALSE;
    }
    remember(t, from, room, claims);
    *grant = focus_token_grant(claims);
    return TRUE;
}

/* Expiry during a meeting. */

static void
add_reason(xmpp_stanza_t *item, xmpp_stanza_t *x, gpointer data)
{
    xmpp_stanza_t *reason = cc_stanza_add_child(item, "reason", NULL);
    cc_stanza_add_text(reason, data);
}

static void
send_warning(FocusMucTokens *t, Expiry *e, gint64 left_s)
{
    g_autofree char *text = NULL;
    const char *then = t->s.remove_on_exp ? ": you will then leave this meeting" : "";
    if (left_s > WARN_BEFORE_S - 5)
        text = g_strdup_printf("Your access token expires in one minute%s.", then);
    else
        text = g_strdup_printf("Your access token expires in %" G_GINT64_FORMAT " seconds%s.",
                               MAX(left_s, 0), then);
    g_autoptr(xmpp_stanza_t) m =
        xmpp_message_new(focus_muc_ctx(t->muc), "groupchat", e->occ->jid_text, NULL);
    xmpp_stanza_set_from(m, e->room->jid);
    g_autofree char *id = cc_stanza_new_id();
    xmpp_stanza_set_id(m, id);
    xmpp_stanza_t *body = cc_stanza_add_child(m, "body", NULL);
    cc_stanza_add_text(body, text);
    focus_muc_send(t->muc, m);
}

static gboolean on_expiry(gpointer data);

/* Arms the occupant's timer for the next step of `e` (which the timer then owns). */
static void
arm(Expiry *e)
{
    gint64 at_s = e->warned ? e->end : e->end - WARN_BEFORE_S;
    gint64 delay_ms = (at_s * G_USEC_PER_SEC - now_us(e->tokens)) / 1000;
    delay_ms = CLAMP(delay_ms, 0, (gint64)G_MAXUINT);
    e->occ->token_timer =
        g_timeout_add_full(G_PRIORITY_DEFAULT, (guint)delay_ms, on_expiry, e, g_free);
}

static gboolean
on_expiry(gpointer data)
{
    Expiry *e = data;
    FocusMucTokens *t = e->tokens;
    e->occ->token_timer = 0; /* this source ends here, whatever comes next */
    if (!e->warned) {
        send_warning(t, e, e->end - now_us(t) / G_USEC_PER_SEC);
        focus_muc_audit(t->muc, "token_expired", e->room->local, e->occ->bare_key, "warned");
        if (t->s.remove_on_exp) {
            Expiry *next = g_memdup2(e, sizeof *e);
            next->warned = TRUE;
            arm(next);
        }
        return G_SOURCE_REMOVE;
    }
    g_info("room %s: occupant removed, its token expired", e->room->tag);
    focus_muc_audit(t->muc, "token_expired", e->room->local, e->occ->bare_key, "removed");
    static const int kicked[] = {307, 0};
    t->remove(t->muc, e->room, e->occ, kicked, add_reason, (gpointer)EXPIRED_REASON);
    return G_SOURCE_REMOVE; /* `e` is freed with the source; the room may be gone */
}

void
focus_muc_token_watch(FocusMuc *muc, FocusRoom *room, FocusOccupant *occ, const CcJwtClaims *claims)
{
    FocusMucTokens *t = muc->tokens;
    if (t == NULL || claims == NULL)
        return;
    g_clear_handle_id(&occ->token_timer, g_source_remove);
    Expiry *e = g_new0(Expiry, 1);
    e->tokens = t;
    e->room = room;
    e->occ = occ;
    e->end = claims->exp + (gint64)t->s.leeway_s;
    arm(e);
}
