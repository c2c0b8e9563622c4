/* A room's data (see muc.h): occupants in join order with nick and real-JID indexes,
 * affiliations by bare JID, roles, occupant-ids, and the presences occupants see of each
 * other. Protocol decisions (who may do what) belong to the muc-*.c files. */
#include "muc.h"

static const char *const role_names[] = {"none", "visitor", "participant", "moderator"};
static const char *const aff_names[] = {"outcast", "none", "member", "admin", "owner"};

const char *
focus_role_name(FocusRole role)
{
    return role_names[role];
}

gboolean
focus_role_parse(const char *name, FocusRole *role)
{
    for (gsize i = 0; name != NULL && i < G_N_ELEMENTS(role_names); i++) {
        if (g_str_equal(name, role_names[i])) {
            *role = (FocusRole)i;
            return TRUE;
        }
    }
    return FALSE;
}

const char *
focus_affiliation_name(FocusAffiliation aff)
{
    return aff_names[aff];
}

gboolean
focus_affiliation_parse(const char *name, FocusAffiliation *aff)
{
    for (gsize i = 0; name != NULL && i < G_N_ELEMENTS(aff_names); i++) {
        if (g_str_equal(name, aff_names[i])) {
            *aff = (FocusAffiliation)i;
            return TRUE;
        }
    }
    return FALSE;
}

static void
occupant_free(FocusOccupant *occ)
{
    g_clear_handle_id(&occ->token_timer, g_source_remove);
    g_free(occ->nick);
    cc_jid_free(occ->jid);
    g_free(occ->jid_text);
    g_free(occ->bare_key);
    g_free(occ->occupant_id);
    if (occ->presence != NULL)
        xmpp_stanza_release(occ->presence);
    g_free(occ);
}

FocusRoom *
focus_room_new(FocusMuc *muc, const char *local)
{
    FocusRoom *room = g_new0(FocusRoom, 1);
    room->muc = muc;
    room->local = g_utf8_casefold(local, -1);
    room->jid = g_strconcat(local, "@", muc->domain, NULL);
    cc_log_room_tag(muc->room_key, room->local, room->tag);
    room->occupants = g_ptr_array_new_with_free_func((GDestroyNotify)occupant_free);
    room->by_nick = g_hash_table_new(g_str_hash, g_str_equal);
    room->by_jid = g_hash_table_new(g_str_hash, g_str_equal);
    room->affiliations = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    room->config.allow_pm = TRUE;
    room->config.max_users = muc->limits.max_occupants;
    room->config.whois_anyone = muc->limits.whois_anyone;
    /* Fresh secrets per room instance: a later room of the same name shares nothing. */
    if (!cc_random_bytes(room->occupant_key, sizeof room->occupant_key, NULL))
        g_error("no secure random source");
    room->meeting_id = g_uuid_string_random();
    return room;
}

void
focus_room_free(FocusRoom *room)
{
    if (room == NULL)
        return;
    g_hash_table_unref(room->by_nick);
    g_hash_table_unref(room->by_jid);
    g_ptr_array_unref(room->occupants);
    g_hash_table_unref(room->affiliations);
    g_free(room->config.name);
    g_free(room->config.description);
    g_free(room->config.password);
    g_free(room->subject);
    g_free(room->subject_by);
    g_free(room->meeting_id);
    if (room->reservation != NULL) {
        g_free(room->reservation->password_hash);
        g_hash_table_unref(room->reservation->owners);
        g_hash_table_unref(room->reservation->members);
        g_free(room->reservation);
    }
    memset(room->occupant_key, 0, sizeof room->occupant_key);
    g_free(room->local);
    g_free(room->jid);
    g_free(room);
}

static char *
occupant_id(FocusRoom *room, const char *bare_key)
{
    guint8 mac[CC_HMAC_SHA256_LEN];
    if (!cc_hmac_sha256(room->occupant_key, sizeof room->occupant_key, bare_key, strlen(bare_key),
                        mac, NULL))
        g_error("HMAC failed");
    return cc_base64url_encode(mac, 16);
}

FocusOccupant *
focus_room_add_occupant(FocusRoom *room, const char *nick, const CcJid *jid, FocusRole role)
{
    FocusOccupant *occ = g_new0(FocusOccupant, 1);
    occ->nick = g_strdup(nick);
    occ->jid = cc_jid_copy(jid);
    occ->jid_text = cc_jid_to_string(jid);
    occ->bare_key = cc_jid_bare_key(jid);
    occ->role = role;
    occ->occupant_id = occupant_id(room, occ->bare_key);
    g_ptr_array_add(room->occupants, occ);
    g_hash_table_insert(room->by_nick, occ->nick, occ);
    g_hash_table_insert(room->by_jid, occ->jid_text, occ);
    return occ;
}

void
focus_room_remove_occupant(FocusRoom *room, FocusOccupant *occ)
{
    g_hash_table_remove(room->by_nick, occ->nick);
    g_hash_table_remove(room->by_jid, occ->jid_text);
    g_ptr_array_remove(room->occupants, occ);
}

void
focus_room_rename_occupant(FocusRoom *room, FocusOccupant *occ, const char *nick)
{
    g_hash_table_remove(room->by_nick, occ->nick);
    g_free(occ->nick);
    occ->nick = g_strdup(nick);
    g_hash_table_insert(room->by_nick, occ->nick, occ);
}

FocusOccupant *
focus_room_by_nick(FocusRoom *room, const char *nick)
{
    return nick ? g_hash_table_lookup(room->by_nick, nick) : NULL;
}

FocusOccupant *
focus_room_by_jid(FocusRoom *room, const char *full_jid)
{
    return full_jid ? g_hash_table_lookup(room->by_jid, full_jid) : NULL;
}

FocusAffiliation
focus_room_affiliation_by_key(FocusRoom *room, const char *bare_key)
{
    gpointer value;
    if (g_hash_table_lookup_extended(room->affiliations, bare_key, NULL, &value))
        return (FocusAffiliation)GPOINTER_TO_INT(value);
    return FOCUS_AFF_NONE;
}

FocusAffiliation
focus_room_affiliation(FocusRoom *room, const CcJid *jid)
{
    g_autofree char *key = cc_jid_bare_key(jid);
    return focus_room_affiliation_by_key(room, key);
}

void
focus_room_set_affiliation(FocusRoom *room, const char *bare_key, FocusAffiliation aff)
{
    if (aff == FOCUS_AFF_NONE)
        g_hash_table_remove(room->affiliations, bare_key);
    else
        g_hash_table_replace(room->affiliations, g_strdup(bare_key), GINT_TO_POINTER(aff));
}

FocusRole
focus_room_default_role(FocusRoom *room, FocusAffiliation aff)
{
    if (aff >= FOCUS_AFF_ADMIN)
        return FOCUS_ROLE_MODERATOR;
    if (room->config.moderated && aff < FOCUS_AFF_MEMBER)
        return FOCUS_ROLE_VISITOR;
    return FOCUS_ROLE_PARTICIPANT;
}

gboolean
focus_room_is_anonymous_for(FocusRoom *room, FocusOccupant *viewer)
{
    return !room->config.whois_anyone && viewer->role != FOCUS_ROLE_MODERATOR;
}

char *
focus_room_occupant_jid(FocusRoom *room, const char *nick)
{
    return g_strconcat(room->jid, "/", nick, NULL);
}

static gboolean
is_ours(xmpp_stanza_t *child)
{
    const char *ns = xmpp_stanza_get_ns(child);
    const char *name = xmpp_stanza_get_name(child);
    if (ns == NULL || name == NULL)
        return FALSE;
    /* Clients must not smuggle in MUC status or someone else's occupant-id; a join's access
     * token is for the service alone. */
    return g_str_equal(ns, NS_OCCUPANT_ID) || g_str_equal(ns, NS_CONCLAVE_JWT) ||
           (g_str_equal(name, "x") && (g_str_equal(ns, NS_MUC) || g_str_equal(ns, NS_MUC_USER)));
}

void
focus_room_copy_payload(xmpp_stanza_t *dst, xmpp_stanza_t *src)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(src); c != NULL; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c) || is_ours(c))
            continue;
        xmpp_stanza_t *copy = xmpp_stanza_copy(c);
        xmpp_stanza_add_child(dst, copy);
        xmpp_stanza_release(copy);
    }
}

void
focus_room_add_occupant_id(xmpp_stanza_t *stanza, FocusOccupant *occ)
{
    xmpp_stanza_t *oid = cc_stanza_add_child(stanza, "occupant-id", NS_OCCUPANT_ID);
    xmpp_stanza_set_attribute(oid, "id", occ->occupant_id);
}

xmpp_stanza_t *
focus_room_presence(FocusRoom *room, FocusOccupant *occ, FocusOccupant *viewer, const char *type,
                    const int *codes)
{
    xmpp_stanza_t *p = xmpp_presence_new(focus_muc_ctx(room->muc));
    g_autofree char *from = focus_room_occupant_jid(room, occ->nick);
    xmpp_stanza_set_from(p, from);
    xmpp_stanza_set_to(p, viewer->jid_text);
    if (type != NULL)
        xmpp_stanza_set_type(p, type);
    else if (occ->presence != NULL)
        focus_room_copy_payload(p, occ->presence);
    xmpp_stanza_t *x = cc_stanza_add_child(p, "x", NS_MUC_USER);
    xmpp_stanza_t *item = cc_stanza_add_child(x, "item", NULL);
    FocusAffiliation aff = focus_room_affiliation_by_key(room, occ->bare_key);
    xmpp_stanza_set_attribute(item, "affiliation", focus_affiliation_name(aff));
    xmpp_stanza_set_attribute(item, "role", focus_role_name(type ? FOCUS_ROLE_NONE : occ->role));
    if (viewer == occ || !focus_room_is_anonymous_for(room, viewer))
        xmpp_stanza_set_attribute(item, "jid", occ->jid_text);
    for (const int *c = codes; c != NULL && *c != 0; c++) {
        xmpp_stanza_t *status = cc_stanza_add_child(x, "status", NULL);
        char code[8];
        g_snprintf(code, sizeof code, "%d", *c);
        xmpp_stanza_set_attribute(status, "code", code);
    }
    focus_room_add_occupant_id(p, occ);
    return p;
}

void
focus_room_broadcast_presence(FocusRoom *room, FocusOccupant *occ, const char *type,
                              const int *codes, const int *self_only,
                              FocusPresenceDecorator decorate, gpointer data)
{
    int self_codes[16];
    gsize n = 0;
    for (const int *c = codes; c != NULL && *c != 0 && n < 7; c++)
        self_codes[n++] = *c;
    for (const int *c = self_only; c != NULL && *c != 0 && n < 14; c++)
        self_codes[n++] = *c;
    self_codes[n++] = 110;
    self_codes[n] = 0;
    for (guint i = 0; i < room->occupants->len; i++) {
        FocusOccupant *viewer = g_ptr_array_index(room->occupants, i);
        xmpp_stanza_t *p =
            focus_room_presence(room, occ, viewer, type, viewer == occ ? self_codes : codes);
        if (decorate != NULL) {
            xmpp_stanza_t *x = xmpp_stanza_get_child_by_ns(p, NS_MUC_USER);
            decorate(xmpp_stanza_get_child_by_name(x, "item"), x, data);
        }
        focus_muc_send(room->muc, p);
        xmpp_stanza_release(p);
    }
}

void
focus_room_send_subject(FocusRoom *room, FocusOccupant *to)
{
    FocusMuc *muc = room->muc;
    g_autoptr(xmpp_stanza_t) m =
        xmpp_message_new(focus_muc_ctx(muc), "groupchat", to->jid_text, NULL);
    FocusOccupant *setter = focus_room_by_nick(room, room->subject_by);
    if (setter != NULL) {
        g_autofree char *from = focus_room_occupant_jid(room, setter->nick);
        xmpp_stanza_set_from(m, from);
    } else {
        xmpp_stanza_set_from(m, room->jid);
    }
    g_autofree char *id = cc_stanza_new_id();
    xmpp_stanza_set_id(m, id);
    xmpp_stanza_t *subject = cc_stanza_add_child(m, "subject", NULL);
    if (room->subject != NULL && *room->subject != '\0') {
        g_autoptr(xmpp_stanza_t) text = xmpp_stanza_new(focus_muc_ctx(muc));
        xmpp_stanza_set_text(text, room->subject);
        xmpp_stanza_add_child(subject, text);
    }
    focus_muc_send(muc, m);
}
