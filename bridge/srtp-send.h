/* The outbound SRTP transform, keyed once per session: what bridge_srtp_protect() runs for
 * every packet the bridge forwards, and bridge_srtp_protect_rtcp() for every RTCP packet. It gives
 * the very bytes libsrtp's outbound session gives (replay window 1024): the same sequence number
 * protected again as a retransmission gives the same bytes, an index older than the
 * window is refused. Unlike libsrtp with allow_repeat_tx, it refuses to protect an index a
 * second time unless asked for a retransmission. SRTCP is libsrtp's too, byte for byte: a
 * counter per SSRC from 1. Inbound RTP is srtp-receive.h's; inbound SRTCP stays with
 * libsrtp (srtp.h). */
#pragma once

#include "srtp-key.h"

#include <glib.h>

G_BEGIN_DECLS

/* SSRCs one session protects at most (RTP and RTCP each); the next new one is refused
 * with -ENOSPC. */
#define BRIDGE_SRTP_SEND_MAX_SSRCS 1024
/* The last SRTCP index of an SSRC under one key (RFC 3711 §3.4: 31 bits). */
#define BRIDGE_SRTCP_MAX_INDEX 0x7fffffffu

typedef struct _BridgeSrtpSend BridgeSrtpSend;

/* From the DTLS-SRTP master key and salt: RTP and RTCP. */
BridgeSrtpSend *bridge_srtp_send_new(const BridgeSrtpKey *key, GError **error);
/* From RTP session keys directly, for known-answer tests (RTP only): `salt` is 14 bytes for
 * CM, 12 for GCM; `auth_key` is 20 bytes for CM, NULL for GCM. */
BridgeSrtpSend *bridge_srtp_send_new_session(BridgeSrtpProfile profile, const guint8 enc_key[16],
                                             const guint8 *salt, const guint8 *auth_key,
                                             GError **error);
void bridge_srtp_send_free(BridgeSrtpSend *send);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BridgeSrtpSend, bridge_srtp_send_free)

/* Protects an RTP packet in place; the buffer has BRIDGE_SRTP_MAX_TRAILER bytes of room
 * after `*len`. `again`: a retransmission of a packet sent before (a NACK answer), which
 * may reuse its index and gives the same bytes; otherwise an index already used is
 * refused, so that no index ever encrypts two different plaintexts. 0, or -EINVAL
 * (malformed header), -EALREADY (index already used, or older than the window), -ENOSPC
 * (too many SSRCs), -EIO (OpenSSL failed). */
int bridge_srtp_send_protect(BridgeSrtpSend *send, guint8 *buf, gsize *len, gboolean again);
/* `ssrc` changed hands (its sender left, or another endpoint took it): what was sent
 * under it may not be sent again, not even as a retransmission. */
void bridge_srtp_send_retire(BridgeSrtpSend *send, guint32 ssrc);
/* Protects an RTCP compound in place under the next SRTCP index of its sender SSRC; the
 * buffer has BRIDGE_SRTP_MAX_TRAILER bytes of room after `*len`. 0, or -EINVAL (shorter
 * than its 8-byte header, or a session made from RTP keys), -EALREADY (the SSRC's indexes
 * are spent), -ENOSPC (too many SSRCs), -EIO (the cipher failed: the index is used up and
 * the buffer is garbage). */
int bridge_srtp_send_protect_rtcp(BridgeSrtpSend *send, guint8 *buf, gsize *len);

G_END_DECLS
