/* Presence in rooms (XEP-0045 sections 7.2-7.14): joining with every check that may refuse
 * it, presence updates, nick changes, leaving, and removing an occupant for any reason.
 * A room that loses its last occupant is destroyed here. */
#include "muc.h"

static const int no_codes[] = {0};

char *
focus_muc_join_password(xmpp_stanza_t *stanza)
{
    xmpp_stanza_t *x = xmpp_stanza_get_child_by_name_and_ns(stanza, "x", NS_MUC);
    xmpp_stanza_t *pw = x ? xmpp_stanza_get_child_by_name(x, "password") : NULL;
    return pw ? xmpp_stanza_get_text(pw) : NULL;
}

static void
store_presence(FocusMuc *muc, FocusOccupant *occ, xmpp_stanza_t *stanza)
{
    if (occ->presence != NULL)
        xmpp_stanza_release(occ->presence);
    occ->presence = xmpp_presence_new(focus_muc_ctx(muc));
    focus_room_copy_payload(occ->presence, stanza);
}

void
focus_muc_remove_occupant(FocusMuc *muc, FocusRoom *room, FocusOccupant *occ, const int *codes,
                          FocusPresenceDecorator decorate, gpointer data)
{
    /* Leaving on one's own (no code) or vanishing (333) needs no goodbye from the focus;
     * kick, ban, membership loss and destroy end the media session explicitly. */
    gboolean removed = codes == NULL || (codes[0] != 0 && codes[0] != 333);
    if (muc->hooks.leaving != NULL)
        muc->hooks.leaving(room, occ, removed, muc->hooks.data);
    focus_room_broadcast_presence(room, occ, "unavailable", codes, NULL, decorate, data);
    focus_room_remove_occupant(room, occ);
    cc_metric_add(muc->metrics.occupants, -1);
    if (room->occupants->len == 0)
        focus_muc_destroy_room(muc, room);
}

static void
send_occupants_to(FocusMuc *muc, FocusRoom *room, FocusOccupant *joiner)
{
    for (guint i = 0; i < room->occupants->len; i++) {
        FocusOccupant *other = g_ptr_array_index(room->occupants, i);
        if (other == joiner)
            continue;
        g_autoptr(xmpp_stanza_t) p = focus_room_presence(room, other, joiner, NULL, NULL);
        focus_muc_send(muc, p);
    }
}

static gboolean
nick_acceptable(FocusMuc *muc, xmpp_stanza_t *stanza, const char *nick)
{
    if (g_utf8_strlen(nick, -1) > (glong)muc->limits.max_nick_length) {
        focus_muc_refuse_stanza(muc, stanza, FOCUS_REFUSE_NICK_TOO_LONG);
        return FALSE;
    }
    g_autofree char *folded = g_utf8_casefold(nick, -1);
    if (g_str_equal(folded, FOCUS_NICK)) {
        focus_muc_refuse_stanza(muc, stanza, FOCUS_REFUSE_NICK_CONFLICT);
        return FALSE;
    }
    return TRUE;
}

/* The checks an existing room makes before letting someone in; TRUE if admitted. `floor`
 * is the affiliation a token gives (a ban still wins over it). */
static gboolean
admit(FocusMuc *muc, FocusRoom *room, const CcJid *from, const char *bare_key, const char *nick,
      xmpp_stanza_t *stanza, FocusAffiliation floor)
{
    FocusAffiliation aff = focus_room_affiliation_by_key(room, bare_key);
    if (aff == FOCUS_AFF_OUTCAST) {
        focus_muc_refuse_stanza(muc, stanza, FOCUS_REFUSE_BANNED);
        return FALSE;
    }
    aff = MAX(aff, floor);
    if (room->config.members_only && aff < FOCUS_AFF_MEMBER) {
        focus_muc_refuse_stanza(muc, stanza, FOCUS_REFUSE_MEMBERS_ONLY);
        return FALSE;
    }
    if (room->config.password_protected) {
        g_autofree char *given = focus_muc_join_password(stanza);
        if (given == NULL || !cc_secret_equal(given, room->config.password)) {
            if (focus_policy_record_failure(muc->policy, bare_key, room->tag)) {
                cc_metric_inc(muc->metrics.lockouts);
                g_message("room %s: password lockout started", room->tag);
            }
            focus_muc_refuse_stanza(muc, stanza, FOCUS_REFUSE_PASSWORD);
            return FALSE;
        }
    }
    if (room->occupants->len >= room->config.max_users && aff < FOCUS_AFF_ADMIN) {
        focus_muc_refuse_stanza(muc, stanza, FOCUS_REFUSE_ROOM_FULL);
        return FALSE;
    }
    if (focus_room_by_nick(room, nick) != NULL) {
        focus_muc_refuse_stanza(muc, stanza, FOCUS_REFUSE_NICK_CONFLICT);
        return FALSE;
    }
    return TRUE;
}

static void
join(FocusMuc *muc, FocusRoom *room, const CcJid *from, const CcJid *to, xmpp_stanza_t *stanza,
     const char *from_text)
{
    /* An access token (muc-token.c) only adds to what the sender's domain allows. */
    g_autoptr(CcJwtClaims) token = NULL;
    if (!focus_muc_token_for_join(muc, stanza, from_text, to->local, &token))
        return;
    FocusTokenGrant grant = focus_token_grant(token);
    FocusRefusal refusal;
    FocusDomainClass class = focus_policy_classify(muc->policy, from);
    if (!focus_token_may_enter(class, grant, TRUE, &refusal)) {
        focus_muc_refuse_stanza(muc, stanza, refusal);
        return;
    }
    g_autofree char *bare_key = cc_jid_bare_key(from);
    char tag[CC_ROOM_TAG_SIZE];
    cc_log_room_tag(muc->room_key, to->local, tag);
    /* Locked out: the same answer as a wrong password, whether or not the room exists or
     * has a password, so that a lockout tells nothing about the room. */
    if (focus_policy_is_locked(muc->policy, bare_key, tag)) {
        focus_muc_refuse_stanza(muc, stanza, FOCUS_REFUSE_LOCKED_OUT);
        return;
    }
    if (!nick_acceptable(muc, stanza, to->resource))
        return;
    if (muc->join_hook != NULL) {
        muc->join_hook(muc, from, to, stanza, class, token); /* the database's rules decide */
        return;
    }
    gboolean created = FALSE;
    if (room == NULL) {
        if (g_utf8_strlen(to->local, -1) > (glong)muc->limits.max_room_name_length) {
            focus_muc_refuse_stanza(muc, stanza, FOCUS_REFUSE_ROOM_NAME_TOO_LONG);
            return;
        }
        if (!focus_token_may_enter(class, grant, FALSE, &refusal)) {
            focus_muc_refuse_stanza(muc, stanza, refusal);
            return;
        }
        if (g_hash_table_size(muc->rooms) >= muc->limits.max_rooms) {
            focus_muc_refuse_stanza(muc, stanza, FOCUS_REFUSE_MAX_ROOMS);
            return;
        }
        room = focus_muc_create_room(muc, to->local);
        focus_room_set_affiliation(room, bare_key, FOCUS_AFF_OWNER);
        created = TRUE;
    } else if (!admit(muc, room, from, bare_key, to->resource, stanza,
                      focus_token_affiliation(grant))) {
        return;
    }
    focus_muc_enter(muc, room, from, to, stanza, created, token);
}

void
focus_muc_enter(FocusMuc *muc, FocusRoom *room, const CcJid *from, const CcJid *to,
                xmpp_stanza_t *stanza, gboolean created, const CcJwtClaims *token)
{
    g_autofree char *bare_key = cc_jid_bare_key(from);
    /* A token only adds to the affiliation the room gives (muc-token.c). */
    FocusAffiliation aff = MAX(focus_room_affiliation_by_key(room, bare_key),
                               focus_token_affiliation(focus_token_grant(token)));
    focus_room_set_affiliation(room, bare_key, aff);
    FocusOccupant *occ =
        focus_room_add_occupant(room, to->resource, from, focus_room_default_role(room, aff));
    store_presence(muc, occ, stanza);
    cc_metric_inc(muc->metrics.joins);
    cc_metric_add(muc->metrics.occupants, 1);
    send_occupants_to(muc, room, occ);
    int codes[4], n = 0;
    if (room->config.whois_anyone)
        codes[n++] = 100;
    if (room->recording) /* XEP-0045 7.2.12: a joiner is warned that the room is logged */
        codes[n++] = 170;
    if (created)
        codes[n++] = 201;
    codes[n] = 0;
    /* Everyone else first, the joiner's own presence (with 110) last. */
    focus_room_broadcast_presence(room, occ, NULL, NULL, codes, NULL, NULL);
    focus_room_send_subject(room, occ);
    focus_muc_token_watch(muc, room, occ, token);
    g_info("room %s: occupant joined (%u now)", room->tag, room->occupants->len);
    focus_muc_audit(muc, "join", room->local, bare_key, focus_role_name(occ->role));
    if (muc->hooks.joined != NULL)
        muc->hooks.joined(room, occ, stanza, muc->hooks.data);
}

/* A join presence from someone who already is an occupant: its client lost the room (it
 * reconnected with the same full JID before the focus noticed its old session had gone, say
 * after an XMPP server restart). It gets the room again as a joiner does (the others'
 * presences, its own with 110, the subject) and a new media session; to the others it is a
 * presence update. */
static void
rejoin(FocusMuc *muc, FocusRoom *room, FocusOccupant *occ, xmpp_stanza_t *stanza)
{
    if (muc->hooks.leaving != NULL)
        muc->hooks.leaving(room, occ, FALSE, muc->hooks.data);
    store_presence(muc, occ, stanza);
    send_occupants_to(muc, room, occ);
    focus_room_broadcast_presence(room, occ, NULL, NULL, NULL, NULL, NULL);
    focus_room_send_subject(room, occ);
    g_info("room %s: an occupant joined again", room->tag);
    if (muc->hooks.joined != NULL)
        muc->hooks.joined(room, occ, stanza, muc->hooks.data);
}

static void
set_nick(xmpp_stanza_t *item, xmpp_stanza_t *x, gpointer nick)
{
    xmpp_stanza_set_attribute(item, "nick", nick);
}

static void
change_nick(FocusMuc *muc, FocusRoom *room, FocusOccupant *occ, const char *nick,
            xmpp_stanza_t *stanza)
{
    if (!nick_acceptable(muc, stanza, nick))
        return;
    if (focus_room_by_nick(room, nick) != NULL) {
        focus_muc_refuse_stanza(muc, stanza, FOCUS_REFUSE_NICK_CONFLICT);
        return;
    }
    static const int changed[] = {303, 0};
    focus_room_broadcast_presence(room, occ, "unavailable", changed, NULL, set_nick,
                                  (gpointer)nick);
    focus_room_rename_occupant(room, occ, nick);
    store_presence(muc, occ, stanza);
    focus_room_broadcast_presence(room, occ, NULL, NULL, NULL, NULL, NULL);
}

static gboolean
over_rate(FocusMuc *muc, xmpp_stanza_t *stanza, const char *from, const char *type)
{
    /* Leaving always works; errors are never answered. */
    if (type != NULL && (g_str_equal(type, "unavailable") || g_str_equal(type, "error")))
        return FALSE;
    if (focus_policy_allow_stanza(muc->policy, from))
        return FALSE;
    focus_muc_refuse_stanza(muc, stanza, FOCUS_REFUSE_RATE_LIMITED);
    return TRUE;
}

gboolean
focus_muc_on_presence(CcXmppComponent *comp, xmpp_stanza_t *stanza, gpointer data)
{
    FocusMuc *muc = data;
    const char *type = xmpp_stanza_get_type(stanza);
    g_autoptr(CcJid) from = cc_jid_parse(xmpp_stanza_get_from(stanza), NULL);
    g_autoptr(CcJid) to = cc_jid_parse(xmpp_stanza_get_to(stanza), NULL);
    if (from == NULL || to == NULL) {
        focus_muc_error(muc, stanza, "modify", "jid-malformed", NULL);
        return TRUE;
    }
    g_autofree char *from_text = cc_jid_to_string(from);
    if (over_rate(muc, stanza, from_text, type))
        return TRUE;
    FocusRoom *room = to->local ? focus_muc_find_room(muc, to->local) : NULL;
    FocusOccupant *occ = room ? focus_room_by_jid(room, from_text) : NULL;
    if (type != NULL && g_str_equal(type, "error")) {
        /* The occupant's client or server bounced something: it is gone (Prosody 333). */
        static const int bounced[] = {333, 0};
        if (occ != NULL)
            focus_muc_remove_occupant(muc, room, occ, bounced, NULL, NULL);
        return TRUE;
    }
    if (type != NULL && g_str_equal(type, "unavailable")) {
        if (occ != NULL)
            focus_muc_remove_occupant(muc, room, occ, no_codes, NULL, NULL);
        return TRUE; /* from a non-occupant it means nothing (XEP-0045 7.14) */
    }
    if (type != NULL && g_str_equal(type, "probe")) {
        /* Servers probe where their users sent presence: answer for occupants only. */
        if (occ != NULL) {
            g_autoptr(xmpp_stanza_t) p = focus_room_presence(room, occ, occ, NULL, NULL);
            focus_muc_send(muc, p);
        }
        return TRUE;
    }
    if (type != NULL) {
        focus_muc_error(muc, stanza, "modify", "bad-request", "Rooms take no subscriptions");
        return TRUE;
    }
    if (to->local == NULL || to->resource == NULL) {
        focus_muc_refuse_stanza(muc, stanza, FOCUS_REFUSE_NO_NICK);
        return TRUE;
    }
    if (occ == NULL)
        join(muc, room, from, to, stanza, from_text);
    else if (g_str_equal(occ->nick, to->resource) &&
             xmpp_stanza_get_child_by_name_and_ns(stanza, "x", NS_MUC) != NULL)
        rejoin(muc, room, occ, stanza);
    else if (g_str_equal(occ->nick, to->resource)) {
        store_presence(muc, occ, stanza);
        focus_room_broadcast_presence(room, occ, NULL, NULL, NULL, NULL, NULL);
    } else
        change_nick(muc, room, occ, to->resource, stanza);
    return TRUE;
}
