/* Peer-to-peer sessions between two participants, as the focus sees them in the Jingle IQs
 * it routes between occupants (muc-iq-route.c): a session-accept makes a pair, which lasts
 * until one of them leaves or pairs with someone else. The media never touches the focus
 * or a bridge.
 *
 * What the pair changes: while two participants talk peer to peer, Jitsi clients take
 * their own sources off the bridge session (source-remove) and put the same ones back
 * when a third person joins (source-add). Relayed to the peer, that remove and re-add
 * leaves two m-lines with one msid in its browser, which Chromium refuses. So the peer is
 * not told a removal of its partner's sources while the pair lasts (also just after the
 * peer-to-peer session ended, when the sources come back): if they come back unchanged
 * there is nothing to tell, and if not, the usual difference is sent then. */
#include "focus-media.h"

#include <string.h>

static const char *
jingle_action(xmpp_stanza_t *iq)
{
    xmpp_stanza_t *j = xmpp_stanza_get_child_by_name_and_ns(iq, "jingle", CC_NS_JINGLE);
    return j ? xmpp_stanza_get_attribute(j, "action") : NULL;
}

static void
unpair(FocusParticipant *p)
{
    if (p->p2p_peer == NULL)
        return;
    FocusParticipant *peer = p->p2p_peer;
    p->p2p_peer = NULL;
    if (peer->p2p_peer == p)
        peer->p2p_peer = NULL;
}

void
focus_p2p_on_routed(FocusRoom *room, FocusOccupant *from, FocusOccupant *to, xmpp_stanza_t *iq,
                    gpointer data)
{
    FocusConference *conf = room->media;
    const char *action = jingle_action(iq);
    if (conf == NULL || action == NULL)
        return;
    FocusParticipant *a = g_hash_table_lookup(conf->by_jid, from->jid_text);
    FocusParticipant *b = g_hash_table_lookup(conf->by_jid, to->jid_text);
    if (a == NULL || b == NULL)
        return;
    if (strcmp(action, "session-accept") == 0) {
        unpair(a);
        unpair(b);
        a->p2p_peer = b;
        b->p2p_peer = a;
        g_info("room %s: two participants talk peer to peer", room->tag);
    } else if (strcmp(action, "session-terminate") == 0 && a->p2p_peer == b) {
        /* The pair stays, and so do held-back removals: each client puts its sources back
         * on the bridge right after, and a removal sent now would come before that. */
        g_info("room %s: a peer-to-peer session ended", room->tag);
    }
}

void
focus_p2p_forget(FocusParticipant *p)
{
    unpair(p);
}

gboolean
focus_p2p_holds_removal(FocusParticipant *p, const FocusToldSource *told)
{
    if (p->p2p_peer == NULL)
        return FALSE;
    g_autofree char *peer = focus_conference_owner(p->conf, p->p2p_peer);
    return g_strcmp0(told->owner, peer) == 0;
}
