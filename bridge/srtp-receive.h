/* The inbound SRTP transform (RTP only) on OpenSSL, keyed once per session: what
 * bridge_srtp_unprotect() runs for every packet an endpoint sends. It accepts and refuses
 * what libsrtp's inbound session does (replay window 1024): a packet is checked against the
 * replay window before it is authenticated, and counts as seen only once it has been; the
 * first packet of an SSRC has rollover counter 0. Unlike libsrtp, it keeps at most
 * BRIDGE_SRTP_RECEIVE_MAX_SSRCS SSRCs per session, and refuses a packet whose RTP version
 * is not 2 or that is longer than a UDP datagram (the bridge's demultiplexer passes
 * neither). SRTCP stays with libsrtp (srtp.h). */
#pragma once

#include "srtp-key.h"

#include <glib.h>

G_BEGIN_DECLS

/* SSRCs one session accepts at most; the next new one is refused with -ENOSPC. */
#define BRIDGE_SRTP_RECEIVE_MAX_SSRCS 1024

typedef struct _BridgeSrtpReceive BridgeSrtpReceive;

/* From the DTLS-SRTP master key and salt. */
BridgeSrtpReceive *bridge_srtp_receive_new(const BridgeSrtpKey *key, GError **error);
void bridge_srtp_receive_free(BridgeSrtpReceive *receive);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BridgeSrtpReceive, bridge_srtp_receive_free)

/* Authenticates and decrypts an SRTP packet in place; `*len` becomes the RTP packet's.
 * 0, or -EINVAL (malformed header, too short), -EALREADY (a replay, or older than the
 * window), -EBADMSG (authentication failed), -ENOSPC (too many SSRCs), -EIO (OpenSSL
 * failed). After a failure the packet is to be dropped: with GCM, its payload has been
 * wiped. */
int bridge_srtp_receive_unprotect(BridgeSrtpReceive *receive, guint8 *buf, gsize *len);

G_END_DECLS
