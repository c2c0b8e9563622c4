/* The bridge channel's messages (schemas/bridge-channel.md): JSON objects with a
 * `colibriClass`, exchanged with lib-jitsi-meet over the endpoint's WebSocket. This file
 * parses and checks what a client sends, and writes what the bridge sends; it knows
 * nothing of connections, conferences or rate limits (channel.c does).
 *
 * Parsing is bounded: at most BRIDGE_CHANNEL_MAX_MESSAGE bytes of UTF-8, nesting at most
 * BRIDGE_CHANNEL_MAX_DEPTH deep, a JSON object whose `colibriClass` is one of the classes
 * below. Anything else is a drop reason, never an error message: the channel counts it. */
#pragma once

#include "colibri2.h"

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define BRIDGE_CHANNEL_MAX_MESSAGE 16384
#define BRIDGE_CHANNEL_MAX_DEPTH   32
#define BRIDGE_CHANNEL_MAX_ID_LEN  CC_COLIBRI2_MAX_CHANNEL_ID_LEN /* `to`: a channel id */

/* What the bridge does with a class of client message. */
typedef enum {
    BRIDGE_CHANNEL_RELAY,     /* EndpointMessage: to `to`, or to every other endpoint */
    BRIDGE_CHANNEL_BROADCAST, /* EndpointStats: to every other endpoint */
    BRIDGE_CHANNEL_IGNORE,    /* accepted and counted, nothing else */
} BridgeChannelAction;

typedef struct {
    const char *name; /* the colibriClass, also the metric label */
    BridgeChannelAction action;
} BridgeChannelClass;

/* The classes a client may send, in a fixed order (indexes are stable). */
extern const BridgeChannelClass bridge_channel_classes[];
extern const guint bridge_channel_n_classes;

typedef enum {
    BRIDGE_CHANNEL_DROP_NONE = 0,
    BRIDGE_CHANNEL_DROP_TOO_BIG,        /* over BRIDGE_CHANNEL_MAX_MESSAGE */
    BRIDGE_CHANNEL_DROP_BAD_JSON,       /* not UTF-8, not JSON, too deep, not an object */
    BRIDGE_CHANNEL_DROP_BAD_MESSAGE,    /* no colibriClass, or a field of the wrong type */
    BRIDGE_CHANNEL_DROP_UNKNOWN_CLASS,  /* a colibriClass this bridge does not take */
    BRIDGE_CHANNEL_DROP_RATE,           /* over the sender's rate limit */
    BRIDGE_CHANNEL_DROP_UNKNOWN_TARGET, /* `to` names no endpoint of the conference */
    BRIDGE_CHANNEL_DROP_BINARY,         /* a binary frame */
    BRIDGE_CHANNEL_N_DROPS,
} BridgeChannelDrop;

const char *bridge_channel_drop_name(BridgeChannelDrop drop);

typedef struct {
    guint klass;        /* index into bridge_channel_classes */
    const char *to;     /* RELAY: the target's channel id; NULL or "": everyone else */
    JsonObject *object; /* the whole message */
} BridgeChannelMessage;

/* NULL with `*drop` set when the message is refused. */
BridgeChannelMessage *bridge_channel_message_parse(const char *data, gsize len,
                                                   BridgeChannelDrop *drop);
void bridge_channel_message_free(BridgeChannelMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BridgeChannelMessage, bridge_channel_message_free)

/* The message as the receivers get it: `from` set to the sender's channel id (whatever
 * the client wrote there is replaced). NULL if it cannot be written as valid UTF-8. */
char *bridge_channel_message_relay(BridgeChannelMessage *message, const char *from);

/* {"colibriClass":"ServerHello","version":...} */
char *bridge_channel_server_hello(const char *version);
/* {"colibriClass":"DominantSpeakerEndpointChangeEvent","dominantSpeakerEndpoint":...,
 *  "previousSpeakers":[...]} */
char *bridge_channel_dominant_speaker(const char *speaker, const char *const *previous);

G_END_DECLS
