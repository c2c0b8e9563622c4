/* The test peer's XMPP half, shared by the client (peer-xmpp.c: connection, presence, MUC,
 * disco, raw stanzas, IQ replies) and the Jingle session (peer-jingle.c). */
#pragma once

#include "peer.h"

#include "jingle.h"
#include "strophe-loop.h"

#define PEER_CAPS_NODE "https://conclave.invalid/test-peer"

struct _PeerXmpp {
    Peer *peer;
    CcStropheLoop *loop;
    xmpp_ctx_t *ctx; /* the loop's, for building stanzas */
    gboolean debug, connected, closing;
    char *jid; /* as bound by the server */
    gboolean no_jingle, jingle_from_anyone, keep_media;
    char *caps_ver;
    /* the room (joined with "join", left with "leave") */
    char *room;     /* bare JID */
    char *nick;     /* as asked */
    char *occupant; /* room/nick as the room confirmed it (status 110) */
    gboolean in_room, joined;
    GHashTable *pending; /* id of an IQ we sent -> what it was (for "iq-reply") */
    /* the Jingle session: sid == NULL when there is none */
    char *sid;
    char *focus; /* the full JID the session-initiate came from */
    CcJingle *offer;
    gboolean accept_sent;
};

/* peer-xmpp.c */
void peer_xmpp_send(PeerXmpp *x, xmpp_stanza_t *stanza);
/* Sends an IQ get/set, with a new id if it has none, remembering that id so that its
 * reply is reported as an "iq-reply" event naming `what`. Returns the id (free it). */
char *peer_xmpp_send_iq(PeerXmpp *x, xmpp_stanza_t *iq, const char *what);
/* An error reply to `request` with an optional Jingle error condition and text. */
void peer_xmpp_answer_error(PeerXmpp *x, xmpp_stanza_t *request, const char *type,
                            const char *condition, const char *jingle_condition, const char *text);
void peer_xmpp_answer_result(PeerXmpp *x, xmpp_stanza_t *request);
/* `from` is the room or one of its occupants (and we are in the room). */
gboolean peer_xmpp_from_room(PeerXmpp *x, const char *from);
/* Our occupant JID in the room, or our own JID when not in one. */
const char *peer_xmpp_owner(PeerXmpp *x);
/* Our nick in the room, or the local part of our JID. */
char *peer_xmpp_nick(PeerXmpp *x);

/* peer-jingle.c */
void peer_jingle_handle(PeerXmpp *x, xmpp_stanza_t *iq, xmpp_stanza_t *jingle);
/* Ends the current session locally (no IQ), with a "session-ended" event. */
void peer_jingle_end(PeerXmpp *x, const char *reason, const char *by);
void peer_jingle_send_accept(PeerXmpp *x);
gboolean peer_jingle_command(PeerXmpp *x, const char *cmd, JsonObject *args);
