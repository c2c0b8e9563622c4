/* Media in rooms: the focus's half of a conference. Every occupant whose client wants media
 * (learned by disco#info, cached by XEP-0115 caps) gets a Jingle session from
 * room@service/focus whose transport is an endpoint on the bridge that carries the room;
 * sources travel to the bridge by Colibri2 and to the other participants by source-add /
 * source-remove. A bridge that fails takes its conferences elsewhere: every participant
 * gets a fresh session on another bridge without leaving the room.
 *
 *   media-service.c   FocusMedia (below): the MUC's hooks, the handlers, metrics
 *   jingle-handler.c  Jingle IQs from clients (accept, source-add/-remove, terminate...)
 *   conference.c      rooms' conferences: placement on bridges, endpoints, failover
 *   recording.c       recordings started and stopped by moderators with the Jibri IQ
 *   capabilities.c    does this occupant want media? disco#info and a verified caps cache
 *   participant.c     one participant's session: states, the sources others are told of
 *   focus-occupant.c  the focus's own occupant, as media participants are shown it
 *   p2p.c             peer-to-peer pairs seen in the Jingle the MUC routes between occupants
 *   jingle-send.c     Jingle IQs to clients, and the check of their answers
 *   colibri-client.c  Colibri2 conference-modify to a conference's bridge, failure reasons
 *   offer.c           the codec offer, and Jingle sources <-> Colibri2 media-sources
 *   media-base.c      requests in flight, a conference's addresses
 *   bridges.c         the bridge pool (bridges.h): health checks, load, choice
 * Calls go down this list only (focus-media.h says how answers come back up).
 */
#pragma once

#include "bridges.h"
#include "muc.h"

G_BEGIN_DECLS

typedef struct _FocusMedia FocusMedia;

typedef struct {
    guint max_ssrcs;         /* SSRCs one participant may announce */
    guint client_timeout_ms; /* disco#info and Jingle IQs to clients */
    guint bridge_timeout_ms; /* Colibri2 requests */
} FocusMediaSettings;

/* Installs itself as the MUC's hooks, the Jingle IQ handler and the bridge pool's
 * listener. */
FocusMedia *focus_media_new(CcXmppComponent *xmpp, FocusMuc *muc, FocusBridges *bridges,
                            const FocusMediaSettings *settings, CcMetrics *metrics);
void focus_media_free(FocusMedia *media);

G_END_DECLS
