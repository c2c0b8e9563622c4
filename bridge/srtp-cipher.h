/* SRTP's transform, keyed once per session (RFC 3711 AES-CM with HMAC-SHA1-80 on OpenSSL,
 * RFC 7714 AEAD_AES_128_GCM on GnuTLS): the session keys of RTP or RTCP derived from the
 * DTLS-SRTP master key, the encryption or decryption of one RTP packet whose rollover
 * counter the caller knows, and the encryption of one RTCP compound under a given index. Index
 * bookkeeping is srtp-index.h's; what a direction allows is srtp-send.h's and srtp-receive.h's.
 * libsrtp on Debian runs on NSS, whose per-call set-up (allocations, locks, lookups) costs more
 * than the cipher itself: keying once and setting only the IV per packet is the point. */
#pragma once

#include "srtp-key.h"

#include <glib.h>

G_BEGIN_DECLS

/* RFC 3711 §4.3.1 labels of the session keys of RTP. */
enum {
    BRIDGE_SRTP_LABEL_RTP_ENCRYPTION = 0x00,
    BRIDGE_SRTP_LABEL_RTP_AUTH = 0x01,
    BRIDGE_SRTP_LABEL_RTP_SALT = 0x02,
    BRIDGE_SRTP_LABEL_RTCP_ENCRYPTION = 0x03,
    BRIDGE_SRTP_LABEL_RTCP_AUTH = 0x04,
    BRIDGE_SRTP_LABEL_RTCP_SALT = 0x05,
};

typedef struct _BridgeSrtpCipher BridgeSrtpCipher;

/* The RFC 3711 §4.3 key derivation (AES-CM PRF, key derivation rate 0): `len` bytes for
 * `label`. A 12-byte GCM master salt is given zero-padded to 14 bytes, as libsrtp does. */
gboolean bridge_srtp_kdf(const guint8 master_key[16], const guint8 master_salt[14], guint8 label,
                         guint8 *out, gsize len);

/* From the DTLS-SRTP master key and salt: the session keys of RTP, or of RTCP. */
BridgeSrtpCipher *bridge_srtp_cipher_new(const BridgeSrtpKey *key, GError **error);
BridgeSrtpCipher *bridge_srtp_cipher_new_rtcp(const BridgeSrtpKey *key, GError **error);
/* From session keys directly, for known-answer tests: `salt` is 14 bytes for CM, 12 for
 * GCM; `auth_key` is 20 bytes for CM, NULL for GCM. */
BridgeSrtpCipher *bridge_srtp_cipher_new_session(BridgeSrtpProfile profile,
                                                 const guint8 enc_key[16], const guint8 *salt,
                                                 const guint8 *auth_key, GError **error);
void bridge_srtp_cipher_free(BridgeSrtpCipher *cipher);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BridgeSrtpCipher, bridge_srtp_cipher_free)

/* The header length an RTP packet's CC and X bits claim, or 0 when it is not RTP version 2
 * or shorter than that (or longer than a UDP datagram). */
gsize bridge_srtp_rtp_header_length(const guint8 *buf, gsize len);

/* Encrypts and authenticates in place the packet of `*len` bytes with a header of `hlen`;
 * the buffer has BRIDGE_SRTP_MAX_TRAILER bytes of room after it. 0 or -EIO. */
int bridge_srtp_cipher_encrypt(BridgeSrtpCipher *cipher, guint8 *buf, gsize *len, gsize hlen,
                               guint32 roc);
/* Checks and decrypts in place the packet of `*len` bytes (tag included); `*len` becomes
 * the plaintext's. 0, -EINVAL (too short for its tag), -EBADMSG (authentication failed)
 * or -EIO; after -EBADMSG or -EIO with GCM the payload is zeroes. */
int bridge_srtp_cipher_decrypt(BridgeSrtpCipher *cipher, guint8 *buf, gsize *len, gsize hlen,
                               guint32 roc);

/* SRTCP (RFC 3711 §3.4, RFC 7714 §9) with a cipher of RTCP keys: encrypts in place all
 * but the first 8 bytes (header and sender SSRC), appends the E flag with `index` (below
 * 2^31) and the tag, in the order of the profile; the buffer has BRIDGE_SRTP_MAX_TRAILER
 * bytes of room after `*len`. 0, -EINVAL (shorter than 8 bytes, longer than a datagram,
 * index too large) or -EIO. */
int bridge_srtp_cipher_encrypt_rtcp(BridgeSrtpCipher *cipher, guint8 *buf, gsize *len,
                                    guint32 index);

G_END_DECLS
