/* SRTP's transform of one packet (see srtp-cipher.h): RTP both ways, SRTCP outbound. Owns
 * the keyed cipher contexts of one session: GnuTLS's AEAD handle for GCM, OpenSSL's
 * AES-CTR and HMAC-SHA1 for CM. Knows nothing of indexes, SSRCs or directions. */
#include "srtp-cipher.h"

#include "cc-error.h"
#include "crypto.h"
#include "rtp.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <string.h>

#define RTP_HEADER_LEN  12
#define RTCP_HEADER_LEN 8 /* up to and with the sender's SSRC, in clear */
#define SRTCP_E_FLAG    0x80000000u
#define SRTCP_MAX_INDEX 0x7fffffffu
#define GCM_TAG_LEN     16
#define CM_TAG_LEN      10
#define SHA1_LEN        20

struct _BridgeSrtpCipher {
    BridgeSrtpProfile profile;
    gnutls_aead_cipher_hd_t aead; /* AES-128-GCM, keyed (GCM only) */
    EVP_CIPHER_CTX *cipher;       /* AES-128-CTR, keyed (CM only) */
    EVP_MAC_CTX *mac;             /* HMAC-SHA1, keyed (CM only) */
    guint8 salt[16];              /* 14 bytes (CM) or 12 (GCM), zero-padded */
};

gboolean
bridge_srtp_kdf(const guint8 master_key[16], const guint8 master_salt[14], guint8 label,
                guint8 *out, gsize len)
{
    /* x = master salt XOR (label << 48), as the initial counter block of AES-CM */
    guint8 iv[16] = {0};
    memcpy(iv, master_salt, 14);
    iv[7] ^= label;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0;
    memset(out, 0, len);
    gboolean ok = ctx != NULL && len <= G_MAXINT &&
                  EVP_EncryptInit_ex2(ctx, EVP_aes_128_ctr(), master_key, iv, NULL) == 1 &&
                  EVP_EncryptUpdate(ctx, out, &n, out, (int)len) == 1 && (gsize)n == len;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok)
        ERR_clear_error();
    return ok;
}

BridgeSrtpCipher *
bridge_srtp_cipher_new_session(BridgeSrtpProfile profile, const guint8 enc_key[16],
                               const guint8 *salt, const guint8 *auth_key, GError **error)
{
    gboolean gcm = profile == BRIDGE_SRTP_AEAD_AES_128_GCM;
    if (!gcm && auth_key == NULL) {
        g_set_error(error, CC_ERROR, CC_ERROR_CRYPTO, "SRTP_AES128_CM_SHA1_80 needs an auth key");
        return NULL;
    }
    BridgeSrtpCipher *c = g_new0(BridgeSrtpCipher, 1);
    c->profile = profile;
    memcpy(c->salt, salt, bridge_srtp_salt_len(profile));
    if (gcm) {
        /* OpenSSL 3.0 looks up the IV length and the tag by name at every packet; GnuTLS
         * (in the process already, for libnice) calls the same AES-NI code directly */
        gnutls_datum_t k = {(unsigned char *)enc_key, 16};
        int rc = gnutls_aead_cipher_init(&c->aead, GNUTLS_CIPHER_AES_128_GCM, &k);
        if (rc < 0) {
            c->aead = NULL;
            g_set_error(error, CC_ERROR, CC_ERROR_CRYPTO, "SRTP AES-128-GCM: %s",
                        gnutls_strerror(rc));
            bridge_srtp_cipher_free(c);
            return NULL;
        }
        return c;
    }
    /* CTR is its own inverse: one encrypting context serves both directions */
    c->cipher = EVP_CIPHER_CTX_new();
    if (c->cipher == NULL ||
        EVP_CipherInit_ex2(c->cipher, EVP_aes_128_ctr(), enc_key, NULL, 1, NULL) != 1) {
        cc_set_openssl_error(error, "SRTP cipher");
        bridge_srtp_cipher_free(c);
        return NULL;
    }
    EVP_MAC *hmac = cc_hmac_algorithm();
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA1", 0),
        OSSL_PARAM_construct_end(),
    };
    c->mac = hmac != NULL ? EVP_MAC_CTX_new(hmac) : NULL;
    if (c->mac == NULL || EVP_MAC_init(c->mac, auth_key, SHA1_LEN, params) != 1) {
        cc_set_openssl_error(error, "SRTP HMAC-SHA1");
        bridge_srtp_cipher_free(c);
        return NULL;
    }
    return c;
}

/* The session keys of RTP or of RTCP (their labels) from the master key, then keyed. */
static BridgeSrtpCipher *
cipher_from_master(const BridgeSrtpKey *key, guint8 enc_label, guint8 auth_label, guint8 salt_label,
                   GError **error)
{
    gboolean gcm = key->profile == BRIDGE_SRTP_AEAD_AES_128_GCM;
    guint8 master_salt[14] = {0}; /* a GCM salt is 12 bytes, zero-padded for the KDF */
    guint8 enc_key[16], salt[14], auth_key[SHA1_LEN];
    gsize salt_len = bridge_srtp_salt_len(key->profile);
    memcpy(master_salt, key->salt, salt_len);
    BridgeSrtpCipher *c = NULL;
    if (!bridge_srtp_kdf(key->key, master_salt, enc_label, enc_key, sizeof enc_key) ||
        !bridge_srtp_kdf(key->key, master_salt, salt_label, salt, salt_len) ||
        (!gcm && !bridge_srtp_kdf(key->key, master_salt, auth_label, auth_key, sizeof auth_key)))
        g_set_error(error, CC_ERROR, CC_ERROR_CRYPTO, "SRTP key derivation failed");
    else
        c = bridge_srtp_cipher_new_session(key->profile, enc_key, salt, gcm ? NULL : auth_key,
                                           error);
    OPENSSL_cleanse(master_salt, sizeof master_salt);
    OPENSSL_cleanse(enc_key, sizeof enc_key);
    OPENSSL_cleanse(salt, sizeof salt);
    OPENSSL_cleanse(auth_key, sizeof auth_key);
    return c;
}

BridgeSrtpCipher *
bridge_srtp_cipher_new(const BridgeSrtpKey *key, GError **error)
{
    return cipher_from_master(key, BRIDGE_SRTP_LABEL_RTP_ENCRYPTION, BRIDGE_SRTP_LABEL_RTP_AUTH,
                              BRIDGE_SRTP_LABEL_RTP_SALT, error);
}

BridgeSrtpCipher *
bridge_srtp_cipher_new_rtcp(const BridgeSrtpKey *key, GError **error)
{
    return cipher_from_master(key, BRIDGE_SRTP_LABEL_RTCP_ENCRYPTION, BRIDGE_SRTP_LABEL_RTCP_AUTH,
                              BRIDGE_SRTP_LABEL_RTCP_SALT, error);
}

void
bridge_srtp_cipher_free(BridgeSrtpCipher *c)
{
    if (c == NULL)
        return;
    /* the free functions cleanse the key schedules they hold */
    if (c->aead != NULL)
        gnutls_aead_cipher_deinit(c->aead);
    EVP_CIPHER_CTX_free(c->cipher);
    EVP_MAC_CTX_free(c->mac);
    OPENSSL_cleanse(c->salt, sizeof c->salt);
    g_free(c);
}

gsize
bridge_srtp_rtp_header_length(const guint8 *buf, gsize len)
{
    /* a UDP datagram's worth at most, which also keeps lengths within OpenSSL's int */
    if (len < RTP_HEADER_LEN || len > G_MAXUINT16 || (buf[0] >> 6) != 2)
        return 0;
    gsize hlen = RTP_HEADER_LEN + 4 * (gsize)(buf[0] & 0x0f);
    if (buf[0] & 0x10) {
        if (len < hlen + 4)
            return 0;
        hlen += 4 + 4 * (gsize)((buf[hlen + 2] << 8) | buf[hlen + 3]);
    }
    return len < hlen ? 0 : hlen;
}

/* Whole-word loads and stores: an IV assembled byte by byte and then read as words by
 * the cipher stalls on store forwarding at every packet. */
static guint64
load_be64(const guint8 *p)
{
    guint64 v;
    memcpy(&v, p, sizeof v);
    return GUINT64_FROM_BE(v);
}

static guint32
load_be32(const guint8 *p)
{
    guint32 v;
    memcpy(&v, p, sizeof v);
    return GUINT32_FROM_BE(v);
}

static void
store_be64(guint8 *p, guint64 v)
{
    v = GUINT64_TO_BE(v);
    memcpy(p, &v, sizeof v);
}

static void
store_be32(guint8 *p, guint32 v)
{
    v = GUINT32_TO_BE(v);
    memcpy(p, &v, sizeof v);
}

/* RFC 7714 §8.1 (RTP): IV = salt XOR (00 00 || SSRC || ROC || SEQ); §9.1 (RTCP): salt XOR
 * (00 00 || SSRC || 00 00 || 0 || SRTCP index), i.e. `hi` = index >> 16, `lo` its low bits. */
static void
gcm_iv(const BridgeSrtpCipher *c, const guint8 ssrc[4], guint32 hi, guint16 lo, guint8 iv[12])
{
    store_be64(iv, load_be64(c->salt) ^ ((guint64)load_be32(ssrc) << 16 | hi >> 16));
    store_be32(iv + 8, load_be32(c->salt + 8) ^ (hi << 16 | lo));
}

/* RFC 3711 §4.1.1: IV = (salt << 16) XOR (SSRC << 64) XOR (index << 16), the 48-bit index
 * being ROC || SEQ for RTP and the SRTCP index for RTCP: `hi` its upper 32 bits. */
static void
cm_iv(const BridgeSrtpCipher *c, const guint8 ssrc[4], guint32 hi, guint16 lo, guint8 iv[16])
{
    /* salt is zero-padded to 16 bytes: the IV's last two bytes are zero */
    store_be64(iv, load_be64(c->salt) ^ load_be32(ssrc));
    store_be64(iv + 8, load_be64(c->salt + 8) ^ ((guint64)hi << 32 | (guint64)lo << 16));
}

/* RFC 3711 §4.2: HMAC-SHA1 over the authenticated portion, followed for RTP by the ROC
 * (`roc_be`; NULL for RTCP, whose index is inside the portion). */
static gboolean
cm_tag(BridgeSrtpCipher *c, const guint8 *buf, gsize len, const guint8 *roc_be,
       guint8 tag[SHA1_LEN])
{
    size_t tag_len = 0;
    /* EVP_MAC_init without a key starts again from the keyed inner state */
    return EVP_MAC_init(c->mac, NULL, 0, NULL) == 1 && EVP_MAC_update(c->mac, buf, len) == 1 &&
           (roc_be == NULL || EVP_MAC_update(c->mac, roc_be, 4) == 1) &&
           EVP_MAC_final(c->mac, tag, &tag_len, SHA1_LEN) == 1 && tag_len == SHA1_LEN;
}

/* AES-CTR over buf[hlen, len) in place (CM: the same in both directions). */
static gboolean
ctr_payload(BridgeSrtpCipher *c, guint8 *buf, gsize hlen, gsize len, const guint8 *iv)
{
    int n = 0;
    return EVP_CipherInit_ex2(c->cipher, NULL, NULL, iv, 1, NULL) == 1 &&
           (len == hlen ||
            EVP_CipherUpdate(c->cipher, buf + hlen, &n, buf + hlen, (int)(len - hlen)) == 1);
}

int
bridge_srtp_cipher_encrypt(BridgeSrtpCipher *c, guint8 *buf, gsize *len, gsize hlen, guint32 roc)
{
    if (c->profile == BRIDGE_SRTP_AEAD_AES_128_GCM) {
        guint8 iv[12];
        gcm_iv(c, buf + 8, roc, bridge_read16(buf + 2), iv);
        /* RFC 7714: the header is the associated data, the payload is encrypted in place */
        giovec_t aad = {buf, hlen}, payload = {buf + hlen, *len - hlen};
        size_t tag_len = GCM_TAG_LEN;
        if (gnutls_aead_cipher_encryptv2(c->aead, iv, sizeof iv, &aad, 1, &payload, 1, buf + *len,
                                         &tag_len) < 0 ||
            tag_len != GCM_TAG_LEN)
            return -EIO;
        *len += GCM_TAG_LEN;
        return 0;
    }
    guint8 iv[16], tag[SHA1_LEN], roc_be[4];
    store_be32(roc_be, roc);
    cm_iv(c, buf + 8, roc, bridge_read16(buf + 2), iv);
    if (!ctr_payload(c, buf, hlen, *len, iv) || !cm_tag(c, buf, *len, roc_be, tag)) {
        ERR_clear_error();
        return -EIO;
    }
    memcpy(buf + *len, tag, CM_TAG_LEN);
    *len += CM_TAG_LEN;
    return 0;
}

int
bridge_srtp_cipher_decrypt(BridgeSrtpCipher *c, guint8 *buf, gsize *len, gsize hlen, guint32 roc)
{
    if (c->profile == BRIDGE_SRTP_AEAD_AES_128_GCM) {
        if (*len < hlen + GCM_TAG_LEN)
            return -EINVAL;
        gsize plen = *len - GCM_TAG_LEN;
        guint8 iv[12];
        gcm_iv(c, buf + 8, roc, bridge_read16(buf + 2), iv);
        giovec_t aad = {buf, hlen}, payload = {buf + hlen, plen - hlen};
        int rc = gnutls_aead_cipher_decryptv2(c->aead, iv, sizeof iv, &aad, 1, &payload, 1,
                                              buf + plen, GCM_TAG_LEN);
        if (rc < 0) {
            /* GCM decrypts before it knows: what a forgery decrypted to (the keystream of an
             * index its sender may not have used yet, under the forger's bytes) is wiped */
            OPENSSL_cleanse(buf + hlen, plen - hlen);
            return rc == GNUTLS_E_DECRYPTION_FAILED ? -EBADMSG : -EIO;
        }
        *len = plen;
        return 0;
    }
    if (*len < hlen + CM_TAG_LEN)
        return -EINVAL;
    gsize plen = *len - CM_TAG_LEN;
    guint8 iv[16], tag[SHA1_LEN], roc_be[4];
    store_be32(roc_be, roc);
    if (!cm_tag(c, buf, plen, roc_be, tag)) {
        ERR_clear_error();
        return -EIO;
    }
    if (CRYPTO_memcmp(tag, buf + plen, CM_TAG_LEN) != 0)
        return -EBADMSG;
    cm_iv(c, buf + 8, roc, bridge_read16(buf + 2), iv);
    if (!ctr_payload(c, buf, hlen, plen, iv)) {
        ERR_clear_error();
        return -EIO;
    }
    *len = plen;
    return 0;
}

int
bridge_srtp_cipher_encrypt_rtcp(BridgeSrtpCipher *c, guint8 *buf, gsize *len, guint32 index)
{
    if (*len < RTCP_HEADER_LEN || *len > G_MAXUINT16 || index > SRTCP_MAX_INDEX)
        return -EINVAL;
    /* RFC 3711 §3.4: the E flag (encrypted) and the index follow the encrypted portion */
    guint8 trailer[4];
    store_be32(trailer, SRTCP_E_FLAG | index);
    if (c->profile == BRIDGE_SRTP_AEAD_AES_128_GCM) {
        guint8 iv[12];
        gcm_iv(c, buf + 4, index >> 16, (guint16)index, iv);
        /* RFC 7714 §9: header and SSRC, then the E flag and index, are the associated
         * data; the tag comes before the index word */
        giovec_t aad[2] = {{buf, RTCP_HEADER_LEN}, {trailer, sizeof trailer}};
        giovec_t payload = {buf + RTCP_HEADER_LEN, *len - RTCP_HEADER_LEN};
        size_t tag_len = GCM_TAG_LEN;
        if (gnutls_aead_cipher_encryptv2(c->aead, iv, sizeof iv, aad, 2, &payload, 1, buf + *len,
                                         &tag_len) < 0 ||
            tag_len != GCM_TAG_LEN)
            return -EIO;
        memcpy(buf + *len + GCM_TAG_LEN, trailer, sizeof trailer);
        *len += GCM_TAG_LEN + sizeof trailer;
        return 0;
    }
    guint8 iv[16], tag[SHA1_LEN];
    cm_iv(c, buf + 4, index >> 16, (guint16)index, iv);
    if (!ctr_payload(c, buf, RTCP_HEADER_LEN, *len, iv)) {
        ERR_clear_error();
        return -EIO;
    }
    memcpy(buf + *len, trailer, sizeof trailer);
    if (!cm_tag(c, buf, *len + sizeof trailer, NULL, tag)) {
        ERR_clear_error();
        return -EIO;
    }
    memcpy(buf + *len + sizeof trailer, tag, CM_TAG_LEN);
    *len += sizeof trailer + CM_TAG_LEN;
    return 0;
}
