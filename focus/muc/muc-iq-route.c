/* IQs between occupants (XEP-0045 private IQs): a request to room@service/nick from an
 * occupant of that room goes to that occupant's real JID as if from the sender's occupant
 * address, and its answer comes back the same way. Two clients can so run a Jingle session
 * between themselves (peer-to-peer 1:1 calls) without learning each other's real JID.
 *
 * The request's id is replaced by one of ours, remembered with where the answer must go;
 * answers are accepted only from the JID the request went to. What one sender may have in
 * flight, and the whole table, are bounded; a request unanswered for ROUTE_TIMEOUT_S gets
 * a remote-server-timeout error. IQs to the room itself, to the focus, and to one's own
 * occupant address (XEP-0410 self-ping) are the service's, not routed. */
#include "muc.h"

#define ROUTE_PER_SENDER 32
#define ROUTE_MAX        4096
#define ROUTE_TIMEOUT_S  30

typedef struct {
    FocusMuc *muc;
    char *id;          /* ours */
    char *request_id;  /* the sender's */
    char *sender;      /* real full JID of the sender */
    char *sender_addr; /* room@service/nick the request came from, as we sent it */
    char *target;      /* real full JID it went to */
    char *target_addr; /* room@service/nick the sender addressed */
    guint timeout;
} RoutedIq;

static void
routed_free(RoutedIq *r)
{
    g_clear_handle_id(&r->timeout, g_source_remove);
    g_free(r->id);
    g_free(r->request_id);
    g_free(r->sender);
    g_free(r->sender_addr);
    g_free(r->target);
    g_free(r->target_addr);
    g_free(r);
}

void
focus_muc_routes_init(FocusMuc *muc)
{
    muc->routed = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)routed_free);
    muc->routed_by_sender = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

void
focus_muc_routes_free(FocusMuc *muc)
{
    g_clear_pointer(&muc->routed, g_hash_table_unref);
    g_clear_pointer(&muc->routed_by_sender, g_hash_table_unref);
}

static void
forget(FocusMuc *muc, RoutedIq *r)
{
    guint n = GPOINTER_TO_UINT(g_hash_table_lookup(muc->routed_by_sender, r->sender));
    if (n <= 1)
        g_hash_table_remove(muc->routed_by_sender, r->sender);
    else
        g_hash_table_insert(muc->routed_by_sender, g_strdup(r->sender), GUINT_TO_POINTER(n - 1));
    g_hash_table_remove(muc->routed, r->id);
}

static gboolean
on_timeout(gpointer data)
{
    RoutedIq *r = data;
    r->timeout = 0;
    /* The error answers the sender's request as if the addressed occupant gave it. */
    g_autoptr(xmpp_stanza_t) request = xmpp_iq_new(focus_muc_ctx(r->muc), "get", r->request_id);
    xmpp_stanza_set_from(request, r->sender);
    xmpp_stanza_set_to(request, r->target_addr);
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_error_reply(request, "wait", "remote-server-timeout",
                                                           "The occupant did not answer");
    focus_muc_send(r->muc, reply);
    cc_metric_inc(r->muc->metrics.iq_timeouts);
    forget(r->muc, r);
    return G_SOURCE_REMOVE;
}

static void
forward_request(FocusMuc *muc, FocusRoom *room, FocusOccupant *sender, FocusOccupant *target,
                xmpp_stanza_t *iq)
{
    RoutedIq *r = g_new0(RoutedIq, 1);
    r->muc = muc;
    r->id = cc_stanza_new_id();
    r->request_id = g_strdup(xmpp_stanza_get_id(iq));
    r->sender = g_strdup(sender->jid_text);
    r->sender_addr = focus_room_occupant_jid(room, sender->nick);
    r->target = g_strdup(target->jid_text);
    r->target_addr = g_strdup(xmpp_stanza_get_to(iq));
    r->timeout = g_timeout_add_seconds(ROUTE_TIMEOUT_S, on_timeout, r);
    g_hash_table_insert(muc->routed, r->id, r);
    guint n = GPOINTER_TO_UINT(g_hash_table_lookup(muc->routed_by_sender, r->sender));
    g_hash_table_insert(muc->routed_by_sender, g_strdup(r->sender), GUINT_TO_POINTER(n + 1));

    g_autoptr(xmpp_stanza_t) copy = xmpp_stanza_copy(iq);
    xmpp_stanza_set_from(copy, r->sender_addr);
    xmpp_stanza_set_to(copy, r->target);
    xmpp_stanza_set_id(copy, r->id);
    focus_muc_send(muc, copy);
    cc_metric_inc(muc->metrics.iqs_routed);
    if (muc->hooks.iq_routed != NULL)
        muc->hooks.iq_routed(room, sender, target, iq, muc->hooks.data);
}

static void
route_request(FocusMuc *muc, FocusRoom *room, FocusOccupant *sender, FocusOccupant *target,
              xmpp_stanza_t *iq)
{
    if (xmpp_stanza_get_id(iq) == NULL) {
        focus_muc_refuse(muc, "bad_request");
        focus_muc_error(muc, iq, "modify", "bad-request", "An IQ needs an id");
        return;
    }
    if (sender == NULL) {
        focus_muc_refuse(muc, "not_occupant");
        focus_muc_error(muc, iq, "cancel", "not-acceptable", "Only occupants may send IQs here");
        return;
    }
    if (target == NULL) {
        focus_muc_error(muc, iq, "cancel", "item-not-found", "No occupant has that nickname");
        return;
    }
    if (!focus_policy_allow_stanza(muc->policy, sender->jid_text)) {
        focus_muc_refuse_stanza(muc, iq, FOCUS_REFUSE_RATE_LIMITED);
        return;
    }
    guint mine = GPOINTER_TO_UINT(g_hash_table_lookup(muc->routed_by_sender, sender->jid_text));
    if (mine >= ROUTE_PER_SENDER || g_hash_table_size(muc->routed) >= ROUTE_MAX) {
        focus_muc_refuse(muc, "rate_limited");
        focus_muc_error(muc, iq, "wait", "resource-constraint",
                        "Too many requests waiting for an answer");
        return;
    }
    forward_request(muc, room, sender, target, iq);
}

/* An answer to a routed request: TRUE when it was one (and went back to the sender). */
static gboolean
route_answer(FocusMuc *muc, xmpp_stanza_t *iq)
{
    const char *id = xmpp_stanza_get_id(iq);
    RoutedIq *r = id ? g_hash_table_lookup(muc->routed, id) : NULL;
    if (r == NULL || g_ascii_strcasecmp(xmpp_stanza_get_from(iq), r->target) != 0)
        return FALSE;
    g_autoptr(CcJid) to = cc_jid_parse(xmpp_stanza_get_to(iq), NULL);
    g_autoptr(CcJid) expected = cc_jid_parse(r->sender_addr, NULL);
    if (to == NULL || expected == NULL || !cc_jid_equal(to, expected))
        return FALSE;
    g_autoptr(xmpp_stanza_t) copy = xmpp_stanza_copy(iq);
    xmpp_stanza_set_from(copy, r->target_addr);
    xmpp_stanza_set_to(copy, r->sender);
    if (r->request_id != NULL)
        xmpp_stanza_set_id(copy, r->request_id);
    focus_muc_send(muc, copy);
    forget(muc, r);
    return TRUE;
}

gboolean
focus_muc_route_iq(CcXmppComponent *comp, xmpp_stanza_t *iq, gpointer data)
{
    FocusMuc *muc = data;
    g_autoptr(CcJid) to = cc_jid_parse(xmpp_stanza_get_to(iq), NULL);
    if (to == NULL || to->local == NULL || to->resource == NULL)
        return FALSE;
    g_autofree char *folded = g_utf8_casefold(to->resource, -1);
    if (g_str_equal(folded, FOCUS_NICK))
        return FALSE;
    const char *type = xmpp_stanza_get_type(iq);
    if (type == NULL)
        return FALSE;
    if (g_str_equal(type, "result") || g_str_equal(type, "error"))
        return route_answer(muc, iq);
    if (!g_str_equal(type, "get") && !g_str_equal(type, "set"))
        return FALSE;
    FocusRoom *room = focus_muc_find_room(muc, to->local);
    if (room == NULL)
        return FALSE; /* the service's own answer: no such room */
    FocusOccupant *sender = focus_room_by_jid(room, xmpp_stanza_get_from(iq));
    FocusOccupant *target = focus_room_by_nick(room, to->resource);
    if (sender != NULL && sender == target)
        return FALSE; /* to oneself: self-ping and the like are the service's */
    route_request(muc, room, sender, target, iq);
    return TRUE;
}
