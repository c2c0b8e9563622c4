/* What keys an SRTP session: the profile DTLS-SRTP negotiated and the master key and salt it
 * exported. Shared by the libsrtp2 sessions (srtp.h) and the RTP transforms on OpenSSL
 * (srtp-cipher.h, srtp-send.h, srtp-receive.h), which need nothing else of each other's. */
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

static inline gsize
bridge_srtp_salt_len(BridgeSrtpProfile profile)
{
    return profile == BRIDGE_SRTP_AEAD_AES_128_GCM ? 12 : 14;
}

G_END_DECLS
