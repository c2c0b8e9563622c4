/* muc#owner (XEP-0045 section 10): the room configuration form (get and submit, instant
 * rooms, passwords, members-only, anonymity, moderation, limits) and destroying a room.
 * Only owners get here past the first check. Rooms are always temporary and hidden. */
#include "muc.h"

typedef struct {
    char *var;
    char *value; /* first value, "" when the field has none */
} Field;

static void
field_clear(Field *f)
{
    g_free(f->var);
    g_free(f->value);
}

static void
add_field(xmpp_stanza_t *form, const char *var, const char *type, const char *label,
          const char *value)
{
    xmpp_stanza_t *field = cc_stanza_add_child(form, "field", NULL);
    xmpp_stanza_set_attribute(field, "var", var);
    xmpp_stanza_set_attribute(field, "type", type);
    if (label != NULL)
        xmpp_stanza_set_attribute(field, "label", label);
    xmpp_stanza_t *v = cc_stanza_add_child(field, "value", NULL);
    g_autoptr(xmpp_stanza_t) text = xmpp_stanza_new(xmpp_stanza_get_context(form));
    xmpp_stanza_set_text(text, value ? value : "");
    xmpp_stanza_add_child(v, text);
    if (g_str_equal(var, "muc#roomconfig_whois")) {
        static const char *const options[] = {"moderators", "anyone"};
        for (gsize i = 0; i < G_N_ELEMENTS(options); i++) {
            xmpp_stanza_t *option = cc_stanza_add_child(field, "option", NULL);
            xmpp_stanza_t *ov = cc_stanza_add_child(option, "value", NULL);
            g_autoptr(xmpp_stanza_t) ot = xmpp_stanza_new(xmpp_stanza_get_context(form));
            xmpp_stanza_set_text(ot, options[i]);
            xmpp_stanza_add_child(ov, ot);
        }
    }
}

static const char *
flag(gboolean b)
{
    return b ? "1" : "0";
}

static void
send_form(FocusMuc *muc, FocusRoom *room, xmpp_stanza_t *iq)
{
    const FocusRoomConfig *c = &room->config;
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(iq);
    xmpp_stanza_t *query = cc_stanza_add_child(reply, "query", NS_MUC_OWNER);
    xmpp_stanza_t *form = cc_stanza_add_child(query, "x", NS_DATA);
    xmpp_stanza_set_type(form, "form");
    char max[16];
    g_snprintf(max, sizeof max, "%u", c->max_users);
    add_field(form, "FORM_TYPE", "hidden", NULL, "http://jabber.org/protocol/muc#roomconfig");
    add_field(form, "muc#roomconfig_roomname", "text-single", "Name", c->name);
    add_field(form, "muc#roomconfig_roomdesc", "text-single", "Description", c->description);
    add_field(form, "muc#roomconfig_persistentroom", "boolean",
              "Persistent (never: rooms end with their last occupant)", "0");
    add_field(form, "muc#roomconfig_publicroom", "boolean",
              "Listed in the directory (never: room names are secrets)", "0");
    add_field(form, "muc#roomconfig_membersonly", "boolean", "Members only", flag(c->members_only));
    add_field(form, "muc#roomconfig_moderatedroom", "boolean", "Moderated", flag(c->moderated));
    add_field(form, "muc#roomconfig_passwordprotectedroom", "boolean", "Password protected",
              flag(c->password_protected));
    add_field(form, "muc#roomconfig_roomsecret", "text-private", "Password", c->password);
    add_field(form, "muc#roomconfig_whois", "list-single", "Who may see real JIDs",
              c->whois_anyone ? "anyone" : "moderators");
    add_field(form, "muc#roomconfig_changesubject", "boolean",
              "Participants may change the subject", flag(c->change_subject));
    add_field(form, "muc#roomconfig_maxusers", "text-single", "Maximum occupants", max);
    focus_muc_send(muc, reply);
}

static GArray *
read_fields(xmpp_stanza_t *form)
{
    GArray *fields = g_array_new(FALSE, TRUE, sizeof(Field));
    g_array_set_clear_func(fields, (GDestroyNotify)field_clear);
    for (xmpp_stanza_t *f = xmpp_stanza_get_children(form); f != NULL;
         f = xmpp_stanza_get_next(f)) {
        if (!xmpp_stanza_is_tag(f) || !g_str_equal(xmpp_stanza_get_name(f), "field"))
            continue;
        const char *var = xmpp_stanza_get_attribute(f, "var");
        if (var == NULL)
            continue;
        xmpp_stanza_t *v = xmpp_stanza_get_child_by_name(f, "value");
        char *text = v ? xmpp_stanza_get_text(v) : NULL;
        Field field = {g_strdup(var), text ? text : g_strdup("")};
        g_array_append_val(fields, field);
    }
    return fields;
}

static gboolean
parse_flag(const char *value, gboolean *out)
{
    if (g_str_equal(value, "1") || g_str_equal(value, "true"))
        *out = TRUE;
    else if (g_str_equal(value, "0") || g_str_equal(value, "false"))
        *out = FALSE;
    else
        return FALSE;
    return TRUE;
}

/* Fills `next` from the submitted fields; NULL when valid, else a reason. */
static const char *
apply_fields(FocusMuc *muc, GArray *fields, FocusRoomConfig *next)
{
    for (guint i = 0; i < fields->len; i++) {
        Field *f = &g_array_index(fields, Field, i);
        gboolean b = FALSE;
        if (g_str_equal(f->var, "muc#roomconfig_roomname")) {
            g_free(next->name);
            next->name = g_strdup(f->value);
        } else if (g_str_equal(f->var, "muc#roomconfig_roomdesc")) {
            g_free(next->description);
            next->description = g_strdup(f->value);
        } else if (g_str_equal(f->var, "muc#roomconfig_persistentroom") ||
                   g_str_equal(f->var, "muc#roomconfig_publicroom")) {
            if (!parse_flag(f->value, &b) || b)
                return "Rooms are always temporary and hidden";
        } else if (g_str_equal(f->var, "muc#roomconfig_membersonly")) {
            if (!parse_flag(f->value, &next->members_only))
                return "membersonly must be 0 or 1";
        } else if (g_str_equal(f->var, "muc#roomconfig_moderatedroom")) {
            if (!parse_flag(f->value, &next->moderated))
                return "moderatedroom must be 0 or 1";
        } else if (g_str_equal(f->var, "muc#roomconfig_passwordprotectedroom")) {
            if (!parse_flag(f->value, &next->password_protected))
                return "passwordprotectedroom must be 0 or 1";
        } else if (g_str_equal(f->var, "muc#roomconfig_roomsecret")) {
            g_free(next->password);
            next->password = g_strdup(f->value);
        } else if (g_str_equal(f->var, "muc#roomconfig_whois")) {
            if (!g_str_equal(f->value, "anyone") && !g_str_equal(f->value, "moderators"))
                return "whois must be moderators or anyone";
            next->whois_anyone = g_str_equal(f->value, "anyone");
        } else if (g_str_equal(f->var, "muc#roomconfig_changesubject")) {
            if (!parse_flag(f->value, &next->change_subject))
                return "changesubject must be 0 or 1";
        } else if (g_str_equal(f->var, "muc#roomconfig_maxusers")) {
            char *end = NULL;
            guint64 n = g_ascii_strtoull(f->value, &end, 10);
            if (end == f->value || *end != '\0' || n < 1 || n > muc->limits.max_occupants)
                return "maxusers is out of range";
            next->max_users = (guint)n;
        }
        /* Other fields (FORM_TYPE, options we do not offer) are ignored, as XEP-0004 lets
         * a form processor do. */
    }
    if (next->password_protected && (next->password == NULL || *next->password == '\0'))
        return "A password-protected room needs a password";
    if (!next->password_protected)
        g_clear_pointer(&next->password, g_free);
    return NULL;
}

static void
config_copy(FocusRoomConfig *dst, const FocusRoomConfig *src)
{
    *dst = *src;
    dst->name = g_strdup(src->name);
    dst->description = g_strdup(src->description);
    dst->password = g_strdup(src->password);
}

static void
config_clear(FocusRoomConfig *c)
{
    g_free(c->name);
    g_free(c->description);
    g_free(c->password);
}

static void
announce(FocusMuc *muc, FocusRoom *room, const int *codes)
{
    for (guint i = 0; i < room->occupants->len; i++) {
        FocusOccupant *o = g_ptr_array_index(room->occupants, i);
        g_autoptr(xmpp_stanza_t) m =
            xmpp_message_new(focus_muc_ctx(muc), "groupchat", o->jid_text, NULL);
        xmpp_stanza_set_from(m, room->jid);
        g_autofree char *id = cc_stanza_new_id();
        xmpp_stanza_set_id(m, id);
        xmpp_stanza_t *x = cc_stanza_add_child(m, "x", NS_MUC_USER);
        for (const int *c = codes; *c != 0; c++) {
            xmpp_stanza_t *status = cc_stanza_add_child(x, "status", NULL);
            char code[8];
            g_snprintf(code, sizeof code, "%d", *c);
            xmpp_stanza_set_attribute(status, "code", code);
        }
        focus_muc_send(muc, m);
    }
}

static void
submit(FocusMuc *muc, FocusRoom *room, xmpp_stanza_t *iq, xmpp_stanza_t *form)
{
    g_autoptr(GArray) fields = read_fields(form);
    FocusRoomConfig next;
    config_copy(&next, &room->config);
    const char *invalid = apply_fields(muc, fields, &next);
    if (invalid != NULL) {
        config_clear(&next);
        focus_muc_error(muc, iq, "modify", "not-acceptable", invalid);
        return;
    }
    gboolean anonymity_changed = next.whois_anyone != room->config.whois_anyone;
    gboolean changed = fields->len > 0;
    config_clear(&room->config);
    room->config = next;
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(iq);
    focus_muc_send(muc, reply);
    g_info("room %s: configuration changed", room->tag);
    if (room->config.members_only) {
        /* Turning members-only on removes those who are no longer allowed in (322). */
        static const int removed[] = {322, 0};
        for (guint i = room->occupants->len; i > 0; i--) {
            FocusOccupant *o = g_ptr_array_index(room->occupants, i - 1);
            if (focus_room_affiliation_by_key(room, o->bare_key) < FOCUS_AFF_MEMBER) {
                gboolean last = room->occupants->len == 1;
                focus_muc_remove_occupant(muc, room, o, removed, NULL, NULL);
                if (last)
                    return;
            }
        }
    }
    if (changed) {
        int codes[3] = {104, 0, 0};
        if (anonymity_changed)
            codes[1] = room->config.whois_anyone ? 172 : 173;
        announce(muc, room, codes);
    }
}

static void
add_text_child(xmpp_stanza_t *parent, const char *name, xmpp_stanza_t *source)
{
    g_autofree char *text = source ? xmpp_stanza_get_text(source) : NULL;
    if (text == NULL)
        return;
    xmpp_stanza_t *child = cc_stanza_add_child(parent, name, NULL);
    g_autoptr(xmpp_stanza_t) body = xmpp_stanza_new(xmpp_stanza_get_context(parent));
    xmpp_stanza_set_text(body, text);
    xmpp_stanza_add_child(child, body);
}

/* The <destroy/> element every occupant gets, rebuilt in the muc#user namespace. */
static void
add_destroy(xmpp_stanza_t *item, xmpp_stanza_t *x, gpointer data)
{
    xmpp_stanza_t *request = data;
    xmpp_stanza_t *destroy = cc_stanza_add_child(x, "destroy", NULL);
    const char *alternate = xmpp_stanza_get_attribute(request, "jid");
    if (alternate != NULL)
        xmpp_stanza_set_attribute(destroy, "jid", alternate);
    add_text_child(destroy, "reason", xmpp_stanza_get_child_by_name(request, "reason"));
    add_text_child(destroy, "password", xmpp_stanza_get_child_by_name(request, "password"));
}

static void
destroy_room(FocusMuc *muc, FocusRoom *room, xmpp_stanza_t *iq, xmpp_stanza_t *destroy)
{
    const char *alternate = xmpp_stanza_get_attribute(destroy, "jid");
    g_autoptr(CcJid) venue = alternate ? cc_jid_parse(alternate, NULL) : NULL;
    if (alternate != NULL && venue == NULL) {
        focus_muc_error(muc, iq, "modify", "jid-malformed", NULL);
        return;
    }
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(iq);
    room->destroyed = TRUE;
    /* Everyone hears it; then the room is gone, with all it knew. */
    while (room->occupants->len > 1) {
        FocusOccupant *o = g_ptr_array_index(room->occupants, room->occupants->len - 1);
        focus_muc_remove_occupant(muc, room, o, NULL, add_destroy, destroy);
    }
    if (room->occupants->len == 1)
        focus_muc_remove_occupant(muc, room, g_ptr_array_index(room->occupants, 0), NULL,
                                  add_destroy, destroy);
    else
        focus_muc_destroy_room(muc, room);
    focus_muc_send(muc, reply);
}

gboolean
focus_muc_owner_iq(FocusMuc *muc, FocusRoom *room, xmpp_stanza_t *iq)
{
    g_autoptr(CcJid) from = cc_jid_parse(xmpp_stanza_get_from(iq), NULL);
    if (from == NULL || focus_room_affiliation(room, from) != FOCUS_AFF_OWNER) {
        focus_muc_refuse(muc, "forbidden");
        focus_muc_error(muc, iq, "auth", "forbidden", "Only owners may do this");
        return TRUE;
    }
    xmpp_stanza_t *query = cc_stanza_first_element(iq);
    if (g_str_equal(xmpp_stanza_get_type(iq), "get")) {
        send_form(muc, room, iq);
        return TRUE;
    }
    xmpp_stanza_t *destroy = xmpp_stanza_get_child_by_name(query, "destroy");
    if (destroy != NULL) {
        g_info("room %s: destroyed by an owner", room->tag);
        destroy_room(muc, room, iq, destroy);
        return TRUE;
    }
    xmpp_stanza_t *form = xmpp_stanza_get_child_by_name_and_ns(query, "x", NS_DATA);
    const char *form_type = form ? xmpp_stanza_get_type(form) : NULL;
    if (form_type != NULL && g_str_equal(form_type, "cancel")) {
        g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(iq);
        focus_muc_send(muc, reply);
        return TRUE;
    }
    if (form_type == NULL || !g_str_equal(form_type, "submit")) {
        focus_muc_error(muc, iq, "modify", "bad-request", "Expected a submitted data form");
        return TRUE;
    }
    submit(muc, room, iq, form);
    return TRUE;
}
