/* SRTP and SRTCP sessions, keyed from a DTLS-SRTP handshake: inbound SRTCP on libsrtp2,
 * the rest on the bridge's own transforms over GnuTLS and OpenSSL (srtp-send.h,
 * srtp-receive.h: what libsrtp2 does, at less cost). One BridgeSrtp protects
 * (outbound) or unprotects (inbound) every SSRC of one endpoint. The protect/unprotect calls are
 * per-packet: they work in place and return 0 or a negative code, never log, and allocate
 * nothing after the first packet of an SSRC, except that OpenSSL 3.0's HMAC allocates twice
 * per SRTP_AES128_CM_SHA1_80 packet (copies of its digest context). */
#pragma once

#include "srtp-key.h"

#include <glib.h>

G_BEGIN_DECLS

typedef struct _BridgeSrtp BridgeSrtp;

/* Once per process, before any session. */
void bridge_srtp_global_init(void);
const char *bridge_srtp_profile_name(BridgeSrtpProfile profile);

BridgeSrtp *bridge_srtp_new(const BridgeSrtpKey *key, gboolean outbound, GError **error);
void bridge_srtp_free(BridgeSrtp *srtp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BridgeSrtp, bridge_srtp_free)

/* `len` in: plaintext/ciphertext length; out: the new length. On an outbound session,
 * bridge_srtp_protect() refuses (-EALREADY) an RTP index it already used, and
 * bridge_srtp_protect_again() is for retransmissions, which may reuse one. RTP is
 * protected on outbound sessions and unprotected on inbound ones only (-EINVAL
 * otherwise), and so is SRTCP. */
int bridge_srtp_protect(BridgeSrtp *srtp, guint8 *buf, gsize *len);
int bridge_srtp_protect_again(BridgeSrtp *srtp, guint8 *buf, gsize *len);
/* An SSRC changed hands in the conference: its old packets may not be sent again. */
void bridge_srtp_retire_ssrc(BridgeSrtp *srtp, guint32 ssrc);
int bridge_srtp_unprotect(BridgeSrtp *srtp, guint8 *buf, gsize *len);
int bridge_srtp_protect_rtcp(BridgeSrtp *srtp, guint8 *buf, gsize *len);
int bridge_srtp_unprotect_rtcp(BridgeSrtp *srtp, guint8 *buf, gsize *len);

G_END_DECLS
