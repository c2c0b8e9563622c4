/* muc#admin (XEP-0045 sections 8-10): kick, voice, moderator and affiliation changes, bans,
 * and the role and affiliation lists. Every request is checked in full before anything
 * changes; refusals use the conditions XEP-0045 lists (forbidden, not-allowed, conflict,
 * item-not-found, bad-request). */
#include "muc.h"

typedef struct {
    xmpp_stanza_t *item;   /* the request's item */
    FocusOccupant *target; /* for role changes */
    char *bare_key;        /* for affiliation changes */
    gboolean is_role;
    FocusRole role;
    FocusAffiliation aff;
} Change;

typedef struct {
    const char *actor_nick;
    char *reason;
} Cause;

static void
change_clear(Change *c)
{
    g_free(c->bare_key);
}

static void
decorate_cause(xmpp_stanza_t *item, xmpp_stanza_t *x, gpointer data)
{
    Cause *cause = data;
    if (cause->actor_nick != NULL) {
        xmpp_stanza_t *actor = cc_stanza_add_child(item, "actor", NULL);
        xmpp_stanza_set_attribute(actor, "nick", cause->actor_nick);
    }
    if (cause->reason != NULL) {
        xmpp_stanza_t *reason = cc_stanza_add_child(item, "reason", NULL);
        g_autoptr(xmpp_stanza_t) text = xmpp_stanza_new(xmpp_stanza_get_context(item));
        xmpp_stanza_set_text(text, cause->reason);
        xmpp_stanza_add_child(reason, text);
    }
}

static guint
count_owners(FocusRoom *room)
{
    guint n = 0;
    GHashTableIter iter;
    gpointer value;
    g_hash_table_iter_init(&iter, room->affiliations);
    while (g_hash_table_iter_next(&iter, NULL, &value))
        n += GPOINTER_TO_INT(value) == FOCUS_AFF_OWNER;
    return n;
}

/* Checks one role change; returns NULL when allowed, else the error condition. */
static const char *
check_role(FocusRoom *room, FocusOccupant *actor, FocusAffiliation actor_aff, Change *c,
           const char **type)
{
    *type = "cancel";
    if (actor == NULL || actor->role != FOCUS_ROLE_MODERATOR) {
        *type = "auth";
        return "forbidden";
    }
    const char *nick = xmpp_stanza_get_attribute(c->item, "nick");
    c->target = focus_room_by_nick(room, nick);
    if (c->target == NULL)
        return "item-not-found";
    FocusAffiliation target_aff = focus_room_affiliation_by_key(room, c->target->bare_key);
    /* Nobody changes their own role: a kick of oneself, or an admin's demotion of itself
     * (owners and admins are always moderators). */
    if (c->target == actor)
        return "conflict";
    /* Admins and owners keep their role against anyone not above them. */
    if (target_aff >= FOCUS_AFF_ADMIN && c->role < FOCUS_ROLE_MODERATOR && target_aff >= actor_aff)
        return "not-allowed";
    /* Granting or revoking moderator is for admins and owners (9.6, 9.7). */
    if ((c->role == FOCUS_ROLE_MODERATOR || c->target->role == FOCUS_ROLE_MODERATOR) &&
        actor_aff < FOCUS_AFF_ADMIN) {
        *type = "auth";
        return "forbidden";
    }
    return NULL;
}

static const char *
check_affiliation(FocusRoom *room, const CcJid *actor_jid, FocusAffiliation actor_aff, Change *c,
                  const char **type)
{
    *type = "cancel";
    if (actor_aff < FOCUS_AFF_ADMIN) {
        *type = "auth";
        return "forbidden";
    }
    g_autoptr(CcJid) target = cc_jid_parse(xmpp_stanza_get_attribute(c->item, "jid"), NULL);
    if (target == NULL) {
        *type = "modify";
        return "jid-malformed";
    }
    c->bare_key = cc_jid_bare_key(target);
    FocusAffiliation current = focus_room_affiliation_by_key(room, c->bare_key);
    /* Only owners touch admins and owners, or make them (10.3-10.7). */
    if (current >= FOCUS_AFF_ADMIN && actor_aff < FOCUS_AFF_OWNER)
        return "not-allowed";
    if (c->aff >= FOCUS_AFF_ADMIN && actor_aff < FOCUS_AFF_OWNER) {
        *type = "auth";
        return "forbidden";
    }
    if (current == FOCUS_AFF_OWNER && c->aff != FOCUS_AFF_OWNER && count_owners(room) <= 1)
        return "conflict"; /* a room always keeps an owner */
    return NULL;
}

static gboolean
parse_item(xmpp_stanza_t *item, Change *c)
{
    const char *role = xmpp_stanza_get_attribute(item, "role");
    const char *aff = xmpp_stanza_get_attribute(item, "affiliation");
    c->item = item;
    if (role != NULL && aff == NULL && xmpp_stanza_get_attribute(item, "nick") != NULL) {
        c->is_role = TRUE;
        return focus_role_parse(role, &c->role);
    }
    if (aff != NULL && role == NULL && xmpp_stanza_get_attribute(item, "jid") != NULL)
        return focus_affiliation_parse(aff, &c->aff);
    return FALSE;
}

static char *
item_reason(xmpp_stanza_t *item)
{
    xmpp_stanza_t *reason = xmpp_stanza_get_child_by_name(item, "reason");
    return reason ? xmpp_stanza_get_text(reason) : NULL;
}

/* Occupants whose real bare JID has `bare_key` (one person may join from several clients
 * under different nicks). */
static GPtrArray *
occupants_of(FocusRoom *room, const char *bare_key)
{
    GPtrArray *found = g_ptr_array_new();
    for (guint i = 0; i < room->occupants->len; i++) {
        FocusOccupant *o = g_ptr_array_index(room->occupants, i);
        if (g_str_equal(o->bare_key, bare_key))
            g_ptr_array_add(found, o);
    }
    return found;
}

static void
apply_role(FocusMuc *muc, FocusRoom *room, Change *c, Cause *cause)
{
    if (c->role == FOCUS_ROLE_NONE) {
        static const int kicked[] = {307, 0};
        g_info("room %s: occupant kicked", room->tag);
        focus_muc_remove_occupant(muc, room, c->target, kicked, decorate_cause, cause);
        return;
    }
    c->target->role = c->role;
    focus_room_broadcast_presence(room, c->target, NULL, NULL, NULL, decorate_cause, cause);
}

/* Returns FALSE when the room was destroyed (its last occupant removed). */
static gboolean
apply_affiliation(FocusMuc *muc, FocusRoom *room, Change *c, Cause *cause)
{
    focus_room_set_affiliation(room, c->bare_key, c->aff);
    g_autoptr(GPtrArray) affected = occupants_of(room, c->bare_key);
    for (guint i = 0; i < affected->len; i++) {
        FocusOccupant *o = g_ptr_array_index(affected, i);
        gboolean last = room->occupants->len == 1;
        if (c->aff == FOCUS_AFF_OUTCAST) {
            static const int banned[] = {301, 0};
            focus_muc_remove_occupant(muc, room, o, banned, decorate_cause, cause);
        } else if (room->config.members_only && c->aff < FOCUS_AFF_MEMBER) {
            static const int not_member[] = {321, 0};
            focus_muc_remove_occupant(muc, room, o, not_member, decorate_cause, cause);
        } else {
            o->role = focus_room_default_role(room, c->aff);
            focus_room_broadcast_presence(room, o, NULL, NULL, NULL, decorate_cause, cause);
            continue;
        }
        if (last)
            return FALSE;
    }
    return TRUE;
}

static void
admin_set(FocusMuc *muc, FocusRoom *room, xmpp_stanza_t *iq)
{
    const char *from = xmpp_stanza_get_from(iq);
    g_autoptr(CcJid) actor_jid = cc_jid_parse(from, NULL);
    FocusOccupant *actor = focus_room_by_jid(room, from);
    FocusAffiliation actor_aff =
        actor_jid ? focus_room_affiliation(room, actor_jid) : FOCUS_AFF_NONE;
    g_autoptr(GArray) changes = g_array_new(FALSE, TRUE, sizeof(Change));
    g_array_set_clear_func(changes, (GDestroyNotify)change_clear);
    xmpp_stanza_t *query = cc_stanza_first_element(iq);
    for (xmpp_stanza_t *item = xmpp_stanza_get_children(query); item != NULL;
         item = xmpp_stanza_get_next(item)) {
        if (!xmpp_stanza_is_tag(item) || !g_str_equal(xmpp_stanza_get_name(item), "item"))
            continue;
        Change c = {0};
        if (!parse_item(item, &c)) {
            focus_muc_error(muc, iq, "modify", "bad-request", NULL);
            return;
        }
        g_array_append_val(changes, c);
        Change *stored = &g_array_index(changes, Change, changes->len - 1);
        const char *type = NULL;
        const char *refusal = stored->is_role
                                  ? check_role(room, actor, actor_aff, stored, &type)
                                  : check_affiliation(room, actor_jid, actor_aff, stored, &type);
        if (refusal != NULL) {
            focus_muc_refuse(muc, g_str_equal(refusal, "forbidden") ? "forbidden" : "bad_request");
            focus_muc_error(muc, iq, type, refusal, NULL);
            return;
        }
    }
    if (changes->len == 0) {
        focus_muc_error(muc, iq, "modify", "bad-request", NULL);
        return;
    }
    /* Answer first: the room may be gone once the changes are applied. */
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(iq);
    focus_muc_send(muc, reply);
    for (guint i = 0; i < changes->len; i++) {
        Change *c = &g_array_index(changes, Change, i);
        Cause cause = {.actor_nick = actor ? actor->nick : NULL, .reason = item_reason(c->item)};
        g_autofree char *actor_key = actor_jid ? cc_jid_bare_key(actor_jid) : NULL;
        const char *role = c->role == FOCUS_ROLE_NONE ? "kicked" : focus_role_name(c->role);
        focus_muc_audit(muc, c->is_role ? "role_change" : "affiliation_change", room->local,
                        actor_key, c->is_role ? role : focus_affiliation_name(c->aff));
        gboolean room_alive = TRUE;
        if (c->is_role) {
            /* An earlier item of this request may have removed the occupant already. */
            c->target = focus_room_by_nick(room, xmpp_stanza_get_attribute(c->item, "nick"));
            if (c->target != NULL) {
                room_alive = room->occupants->len > 1 || c->role != FOCUS_ROLE_NONE;
                apply_role(muc, room, c, &cause);
            }
        } else {
            room_alive = apply_affiliation(muc, room, c, &cause);
        }
        g_free(cause.reason);
        if (!room_alive)
            return;
    }
}

static void
add_list_item(FocusRoom *room, xmpp_stanza_t *query, const char *jid, FocusAffiliation aff,
              FocusOccupant *occ)
{
    xmpp_stanza_t *item = cc_stanza_add_child(query, "item", NULL);
    xmpp_stanza_set_attribute(item, "affiliation", focus_affiliation_name(aff));
    if (jid != NULL)
        xmpp_stanza_set_attribute(item, "jid", jid);
    if (occ != NULL) {
        xmpp_stanza_set_attribute(item, "nick", occ->nick);
        xmpp_stanza_set_attribute(item, "role", focus_role_name(occ->role));
    }
}

static void
admin_get(FocusMuc *muc, FocusRoom *room, xmpp_stanza_t *iq)
{
    const char *from = xmpp_stanza_get_from(iq);
    g_autoptr(CcJid) actor_jid = cc_jid_parse(from, NULL);
    FocusOccupant *actor = focus_room_by_jid(room, from);
    FocusAffiliation actor_aff =
        actor_jid ? focus_room_affiliation(room, actor_jid) : FOCUS_AFF_NONE;
    xmpp_stanza_t *item = xmpp_stanza_get_child_by_name(cc_stanza_first_element(iq), "item");
    const char *role_text = item ? xmpp_stanza_get_attribute(item, "role") : NULL;
    const char *aff_text = item ? xmpp_stanza_get_attribute(item, "affiliation") : NULL;
    FocusRole role;
    FocusAffiliation aff;
    gboolean by_role = role_text != NULL && focus_role_parse(role_text, &role) &&
                       (role == FOCUS_ROLE_MODERATOR || role == FOCUS_ROLE_PARTICIPANT);
    gboolean by_aff =
        aff_text != NULL && focus_affiliation_parse(aff_text, &aff) && aff != FOCUS_AFF_NONE;
    if (by_role == by_aff) {
        focus_muc_error(muc, iq, "modify", "bad-request", NULL);
        return;
    }
    /* Moderators see role lists; admins see member and ban lists; owners see all. */
    gboolean allowed = by_role ? actor != NULL && actor->role == FOCUS_ROLE_MODERATOR
                               : (aff >= FOCUS_AFF_ADMIN ? actor_aff == FOCUS_AFF_OWNER
                                                         : actor_aff >= FOCUS_AFF_ADMIN);
    if (!allowed) {
        focus_muc_refuse(muc, "forbidden");
        focus_muc_error(muc, iq, "auth", "forbidden", NULL);
        return;
    }
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(iq);
    xmpp_stanza_t *query = cc_stanza_add_child(reply, "query", NS_MUC_ADMIN);
    if (by_role) {
        for (guint i = 0; i < room->occupants->len; i++) {
            FocusOccupant *o = g_ptr_array_index(room->occupants, i);
            if (o->role == role)
                add_list_item(room, query, o->jid_text,
                              focus_room_affiliation_by_key(room, o->bare_key), o);
        }
    } else {
        GHashTableIter iter;
        gpointer key, value;
        g_hash_table_iter_init(&iter, room->affiliations);
        while (g_hash_table_iter_next(&iter, &key, &value)) {
            if ((FocusAffiliation)GPOINTER_TO_INT(value) == aff)
                add_list_item(room, query, key, aff, NULL);
        }
    }
    focus_muc_send(muc, reply);
}

gboolean
focus_muc_admin_iq(FocusMuc *muc, FocusRoom *room, xmpp_stanza_t *iq)
{
    if (g_str_equal(xmpp_stanza_get_type(iq), "get"))
        admin_get(muc, room, iq);
    else
        admin_set(muc, room, iq);
    return TRUE;
}
