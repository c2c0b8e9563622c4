/* Occupants whose session ended while the focus was not connected to the XMPP server. A
 * server restart ends every client session, and no unavailable presence reaches the focus
 * for them, so their occupants would stay: seen by everyone who joins later, holding their
 * nicknames against the same people rejoining, keeping bridge endpoints for nobody. After
 * every reconnection the focus asks each occupant's client for its disco#info. The answer a
 * server gives for a session it does not have (cancel: service-unavailable, item-not-found,
 * recipient-unavailable, gone) is a bounce, and the occupant is removed as any bounce
 * removes one (status 333). Anything else removes nobody: no answer in time (a slow client
 * is not a gone one), a remote server not reachable yet after the restart, a wait error. A
 * client that reconnected first, with the same full JID, answers and rejoins (muc-presence.c
 * takes its join presence as a rejoin). What removal does to media is the media side's. */
#include "muc.h"

#include "cc-autoptr.h"
#include "stanza.h"

#define GHOST_CHECK_TIMEOUT_MS 15000

typedef struct {
    FocusMuc *muc;
    char *room;     /* the room's key */
    char *occupant; /* the occupant's real full JID */
} GhostCheck;

static void
ghost_check_free(GhostCheck *g)
{
    g_free(g->room);
    g_free(g->occupant);
    g_free(g);
}

static void
on_answer(CcXmppComponent *xmpp, xmpp_stanza_t *reply, const GError *error, gpointer data)
{
    (void)xmpp;
    GhostCheck *g = data;
    /* A reply of type error from the occupant's address: its server (or client) bounced the
     * query. NULL reply: timeout or disconnection, which prove nothing. */
    if (reply != NULL && error != NULL && g_strcmp0(xmpp_stanza_get_type(reply), "error") == 0) {
        FocusRoom *room = focus_muc_find_room(g->muc, g->room);
        FocusOccupant *occ = room ? focus_room_by_jid(room, g->occupant) : NULL;
        if (occ != NULL) {
            g_info("room %s: an occupant's session ended while the focus was disconnected",
                   room->tag);
            static const int bounced[] = {333, 0};
            focus_muc_remove_occupant(g->muc, room, occ, bounced, NULL, NULL);
        }
    }
    g_hash_table_remove(g->muc->ghost_checks, g); /* frees it */
}

void
focus_muc_check_occupants(FocusMuc *muc)
{
    xmpp_ctx_t *ctx = focus_muc_ctx(muc);
    guint asked = 0;
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, muc->rooms);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        FocusRoom *room = value;
        g_autofree char *from = focus_room_occupant_jid(room, FOCUS_NICK);
        for (guint i = 0; i < room->occupants->len; i++) {
            FocusOccupant *occ = g_ptr_array_index(room->occupants, i);
            g_autoptr(xmpp_stanza_t) iq = xmpp_iq_new(ctx, "get", NULL);
            xmpp_stanza_set_from(iq, from);
            xmpp_stanza_set_to(iq, occ->jid_text);
            cc_stanza_add_child(iq, "query", CC_NS_DISCO_INFO);
            if (muc->ghost_checks == NULL)
                muc->ghost_checks =
                    g_hash_table_new_full(NULL, NULL, (GDestroyNotify)ghost_check_free, NULL);
            GhostCheck *g = g_new0(GhostCheck, 1);
            g_hash_table_add(muc->ghost_checks, g);
            g->muc = muc;
            g->room = g_strdup(room->local);
            g->occupant = g_strdup(occ->jid_text);
            cc_xmpp_component_send_iq(muc->xmpp, iq, GHOST_CHECK_TIMEOUT_MS, on_answer, g);
            asked++;
        }
    }
    if (asked > 0)
        g_message("reconnected: asking %u occupant(s) whether their sessions survived", asked);
}

/* The component drops the callbacks of IQs still in flight when it is freed: the checks are
 * the MUC's to free. */
void
focus_muc_ghosts_free(FocusMuc *muc)
{
    g_clear_pointer(&muc->ghost_checks, g_hash_table_unref);
}
