/* How big a datagram the bridge handles, shared by the receive and send paths. */
#pragma once

/* The largest datagram the bridge accepts, and the room a buffer needs for SRTP on top. */
#define BRIDGE_MAX_PACKET  1500
#define BRIDGE_BUFFER_SIZE (BRIDGE_MAX_PACKET + 160)
