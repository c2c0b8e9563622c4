/* The bridge's Colibri2 server: answers conference-modify (create, update and expire
 * conferences and endpoints), the health check, and load statistics, as an XMPP component.
 * Owns the table of conferences on the control thread; every change to a conference runs
 * on that conference's worker. */
#pragma once

#include "channel.h"
#include "bridge-media.h"
#include "recordings.h"
#include "xmpp.h"

G_BEGIN_DECLS

typedef struct _BridgeColibriServer BridgeColibriServer;

/* `trusted`: bare JIDs or domains allowed to send conference-modify; empty: nobody.
 * `channels`: the bridge channel, kept in step with the endpoints (NULL: none).
 * `recordings`: the recordings (disabled or not); it must outlive the server. */
BridgeColibriServer *bridge_colibri_server_new(CcXmppComponent *xmpp, BridgeWorkerPool *pool,
                                               const BridgeMediaConfig *config,
                                               BridgeChannels *channels,
                                               BridgeRecordings *recordings,
                                               const char *const *trusted, guint capacity_pps,
                                               CcMetrics *metrics);
/* Stops accepting new conferences (graceful_shutdown); existing ones keep running. */
void bridge_colibri_server_drain(BridgeColibriServer *server);
guint bridge_colibri_server_conferences(BridgeColibriServer *server);
/* Expires every endpoint and conference cleanly, and finishes their recordings. */
void bridge_colibri_server_free(BridgeColibriServer *server);

G_END_DECLS
