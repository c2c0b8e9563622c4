/* SRTP and SRTCP sessions through libsrtp2, keyed from a DTLS-SRTP handshake. One
 * BridgeSrtp protects (outbound) or unprotects (inbound) every SSRC of one endpoint. The
 * protect/unprotect calls are per-packet: they work in place and return 0 or a negative
 * code, never allocate after the first packet of an SSRC, never log. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
    BRIDGE_SRTP_AES128_CM_SHA1_80,
    BRIDGE_SRTP_AEAD_AES_128_GCM,
} BridgeSrtpProfile;

/* Bytes SRTP/SRTCP may add to a packet: the caller's buffer must have that much room. */
#define BRIDGE_SRTP_MAX_TRAILER 148

typedef struct {
    BridgeSrtpProfile profile;
    guint8 key[16];
    guint8 salt[14]; /* 14 for CM, 12 for GCM */
} BridgeSrtpKey;

typedef struct _BridgeSrtp BridgeSrtp;

/* Once per process, before any session. */
void bridge_srtp_global_init(void);
const char *bridge_srtp_profile_name(BridgeSrtpProfile profile);
gsize bridge_srtp_salt_len(BridgeSrtpProfile profile);

BridgeSrtp *bridge_srtp_new(const BridgeSrtpKey *key, gboolean outbound, GError **error);
void bridge_srtp_free(BridgeSrtp *srtp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BridgeSrtp, bridge_srtp_free)

/* `len` in: plaintext/ciphertext length; out: the new length. */
int bridge_srtp_protect(BridgeSrtp *srtp, guint8 *buf, gsize *len);
int bridge_srtp_unprotect(BridgeSrtp *srtp, guint8 *buf, gsize *len);
int bridge_srtp_protect_rtcp(BridgeSrtp *srtp, guint8 *buf, gsize *len);
int bridge_srtp_unprotect_rtcp(BridgeSrtp *srtp, guint8 *buf, gsize *len);

G_END_DECLS
