/* The bridge channel (schemas/bridge-channel.md): one WebSocket per endpoint, at
 * <base>/<meeting-id>/<endpoint-id>?pwd=<password>, over which lib-jitsi-meet exchanges
 * JSON messages with the bridge: endpoint messages relayed between the clients of a
 * conference, and dominant speaker events.
 *
 * Everything here runs on the control thread, which owns the HTTP server and every
 * WebSocket: the Colibri2 server registers and removes endpoints, and the workers' speaker
 * elections arrive by message (bridge_channels_dominant_speaker). The channel only knows
 * ids and passwords; it never touches a conference or an endpoint of the media plane. */
#pragma once

#include "http.h"
#include "metrics.h"

#include <glib.h>

G_BEGIN_DECLS

#define BRIDGE_CHANNEL_PATH "/colibri-ws" /* served under this prefix */

typedef struct _BridgeChannels BridgeChannels;

/* `base_url`: the public base of the channel URLs (ws:// or wss://, no trailing slash);
 * NULL or empty: "ws://" plus the HTTP server's address plus BRIDGE_CHANNEL_PATH.
 * `max_rate`: messages per second an endpoint may send (bursts of twice that). */
BridgeChannels *bridge_channels_new(CcHttpServer *http, const char *base_url, guint max_rate,
                                    const char *version, CcMetrics *metrics);
/* Closes every channel. */
void bridge_channels_free(BridgeChannels *channels);

/* A new endpoint: returns its channel URL (with a fresh password) for the Colibri2 answer.
 * `channel_id` (may be NULL: the endpoint id) is how the other clients know it. */
char *bridge_channels_add_endpoint(BridgeChannels *channels, const char *meeting_id,
                                   const char *endpoint_id, const char *channel_id);
void bridge_channels_set_channel_id(BridgeChannels *channels, const char *meeting_id,
                                    const char *endpoint_id, const char *channel_id);
/* The endpoint or the whole conference is gone: its channels are closed. */
void bridge_channels_remove_endpoint(BridgeChannels *channels, const char *meeting_id,
                                     const char *endpoint_id);
void bridge_channels_remove_conference(BridgeChannels *channels, const char *meeting_id);
/* A worker elected a new dominant speaker: every open channel of the conference is told. */
void bridge_channels_dominant_speaker(BridgeChannels *channels, const char *meeting_id,
                                      const char *endpoint_id);

/* The part of a channel path after the prefix: "/<meeting-id>/<endpoint-id>". FALSE if
 * `path` is not that shape (the ids are Colibri2 ids). Exposed for the unit tests. */
gboolean bridge_channel_parse_path(const char *path, char **meeting_id, char **endpoint_id);

G_END_DECLS
