/* Outbound SRTP on OpenSSL (see srtp-send.h). Owns the keyed cipher (and, for CM, HMAC)
 * contexts of one session and the sender state of each SSRC; knows nothing of DTLS,
 * endpoints or SRTCP. libsrtp on Debian runs on NSS, whose per-call setup (allocations,
 * locks, lookups) cost more than the cipher itself: keying once and setting only the IV per
 * packet is the point of this file. */
#include "srtp-send.h"

#include "cc-error.h"
#include "crypto.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <string.h>

#define RTP_HEADER_LEN 12
#define GCM_TAG_LEN    16
#define CM_TAG_LEN     10
#define SHA1_LEN       20
/* libsrtp's replay window (bridge/srtp.c sets 1024): an index this far behind the highest
 * one sent is refused, even on a session that allows repeats. */
#define WINDOW      1024
#define SEQ_MEDIAN  0x8000
#define SEQ_MAX     0x10000
#define FIRST_SLOTS 16

typedef struct {
    guint32 ssrc;
    gboolean used;
    guint64 index; /* highest packet index sent: ROC << 16 | SEQ */
    /* Bit k: index - k was sent. A new packet never reuses an index: under one key, an
     * index encrypts one plaintext only (with GCM, two would give away the hash key). */
    guint64 sent[WINDOW / 64];
    /* Indexes below this may not be sent again (bridge_srtp_send_retire). */
    guint64 repeat_floor;
} SenderState;

struct _BridgeSrtpSend {
    BridgeSrtpProfile profile;
    EVP_CIPHER_CTX *cipher; /* AES-128-GCM or AES-128-CTR, keyed */
    EVP_MAC_CTX *mac;       /* HMAC-SHA1, keyed (CM only) */
    guint8 salt[14];
    SenderState *slots; /* open addressing, at most half full */
    guint n_slots;      /* a power of two */
    guint n_used;
    guint32 seed; /* mixed into the hash: senders choose their SSRCs */
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

BridgeSrtpSend *
bridge_srtp_send_new_session(BridgeSrtpProfile profile, const guint8 enc_key[16],
                             const guint8 *salt, const guint8 *auth_key, GError **error)
{
    gboolean gcm = profile == BRIDGE_SRTP_AEAD_AES_128_GCM;
    if (!gcm && auth_key == NULL) {
        g_set_error(error, CC_ERROR, CC_ERROR_CRYPTO, "SRTP_AES128_CM_SHA1_80 needs an auth key");
        return NULL;
    }
    BridgeSrtpSend *send = g_new0(BridgeSrtpSend, 1);
    send->profile = profile;
    memcpy(send->salt, salt, bridge_srtp_salt_len(profile));
    send->n_slots = FIRST_SLOTS;
    send->slots = g_new0(SenderState, send->n_slots);
    send->seed = g_random_int();
    send->cipher = EVP_CIPHER_CTX_new();
    const EVP_CIPHER *cipher = gcm ? EVP_aes_128_gcm() : EVP_aes_128_ctr();
    if (send->cipher == NULL ||
        EVP_EncryptInit_ex2(send->cipher, cipher, enc_key, NULL, NULL) != 1) {
        cc_set_openssl_error(error, "SRTP cipher");
        bridge_srtp_send_free(send);
        return NULL;
    }
    if (!gcm) {
        EVP_MAC *hmac = cc_hmac_algorithm();
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA1", 0),
            OSSL_PARAM_construct_end(),
        };
        send->mac = hmac != NULL ? EVP_MAC_CTX_new(hmac) : NULL;
        if (send->mac == NULL || EVP_MAC_init(send->mac, auth_key, SHA1_LEN, params) != 1) {
            cc_set_openssl_error(error, "SRTP HMAC-SHA1");
            bridge_srtp_send_free(send);
            return NULL;
        }
    }
    return send;
}

BridgeSrtpSend *
bridge_srtp_send_new(const BridgeSrtpKey *key, GError **error)
{
    gboolean gcm = key->profile == BRIDGE_SRTP_AEAD_AES_128_GCM;
    guint8 master_salt[14] = {0}; /* a GCM salt is 12 bytes, zero-padded for the KDF */
    guint8 enc_key[16], salt[14], auth_key[SHA1_LEN];
    gsize salt_len = bridge_srtp_salt_len(key->profile);
    memcpy(master_salt, key->salt, salt_len);
    BridgeSrtpSend *send = NULL;
    if (!bridge_srtp_kdf(key->key, master_salt, BRIDGE_SRTP_LABEL_RTP_ENCRYPTION, enc_key,
                         sizeof enc_key) ||
        !bridge_srtp_kdf(key->key, master_salt, BRIDGE_SRTP_LABEL_RTP_SALT, salt, salt_len) ||
        (!gcm && !bridge_srtp_kdf(key->key, master_salt, BRIDGE_SRTP_LABEL_RTP_AUTH, auth_key,
                                  sizeof auth_key)))
        g_set_error(error, CC_ERROR, CC_ERROR_CRYPTO, "SRTP key derivation failed");
    else
        send =
            bridge_srtp_send_new_session(key->profile, enc_key, salt, gcm ? NULL : auth_key, error);
    OPENSSL_cleanse(master_salt, sizeof master_salt);
    OPENSSL_cleanse(enc_key, sizeof enc_key);
    OPENSSL_cleanse(salt, sizeof salt);
    OPENSSL_cleanse(auth_key, sizeof auth_key);
    return send;
}

void
bridge_srtp_send_free(BridgeSrtpSend *send)
{
    if (send == NULL)
        return;
    /* both free functions cleanse the key schedules they hold */
    EVP_CIPHER_CTX_free(send->cipher);
    EVP_MAC_CTX_free(send->mac);
    OPENSSL_cleanse(send->salt, sizeof send->salt);
    g_free(send->slots);
    g_free(send);
}

/* Fibonacci hashing: the product's top bits depend on all of the SSRC's bits, so SSRCs that
 * share their low bits do not pile up in one run of slots; the session's random seed keeps
 * a sender from choosing SSRCs that do. */
static guint
slot_of(guint32 ssrc, guint32 seed, guint n_slots)
{
    return (guint)(((guint64)(guint32)((ssrc ^ seed) * 2654435761u) * n_slots) >> 32);
}

static SenderState *
find_slot(SenderState *slots, guint n_slots, guint32 seed, guint32 ssrc)
{
    guint i = slot_of(ssrc, seed, n_slots);
    while (slots[i].used && slots[i].ssrc != ssrc)
        i = (i + 1) & (n_slots - 1);
    return &slots[i];
}

/* The state of `ssrc`, made on its first packet (the only time this allocates: when the
 * table grows), or NULL when the session already protects the most SSRCs it may. */
static SenderState *
sender_state(BridgeSrtpSend *send, guint32 ssrc)
{
    SenderState *s = find_slot(send->slots, send->n_slots, send->seed, ssrc);
    if (s->used)
        return s;
    if (send->n_used >= BRIDGE_SRTP_SEND_MAX_SSRCS)
        return NULL;
    if (2 * (send->n_used + 1) > send->n_slots) {
        guint n_slots = send->n_slots * 2;
        SenderState *slots = g_new0(SenderState, n_slots);
        for (guint i = 0; i < send->n_slots; i++)
            if (send->slots[i].used)
                *find_slot(slots, n_slots, send->seed, send->slots[i].ssrc) = send->slots[i];
        g_free(send->slots);
        send->slots = slots;
        send->n_slots = n_slots;
        s = find_slot(slots, n_slots, send->seed, ssrc);
    }
    s->used = TRUE;
    s->ssrc = ssrc;
    s->index = 0;
    send->n_used++;
    return s;
}

/* Moves the window of sent indexes up by `d` (the new highest index is `d` above the old). */
static void
shift_window(guint64 *sent, guint32 d)
{
    guint n = WINDOW / 64;
    if (d >= WINDOW) {
        memset(sent, 0, n * sizeof *sent);
        return;
    }
    guint words = d / 64, bits = d % 64;
    for (guint i = n; i-- > 0;) {
        guint64 v = i >= words ? sent[i - words] << bits : 0;
        if (bits != 0 && i >= words + 1)
            v |= sent[i - words - 1] >> (64 - bits);
        sent[i] = v;
    }
}

static gboolean
window_has(const guint64 *sent, guint32 k)
{
    return (sent[k / 64] >> (k % 64)) & 1;
}

static void
window_set(guint64 *sent, guint32 k)
{
    sent[k / 64] |= G_GUINT64_CONSTANT(1) << (k % 64);
}

/* libsrtp's srtp_rdbx_estimate_index()/srtp_index_guess() (RFC 3711 §3.3.1), to the
 * letter, so that the index - and therefore the bytes - agree: the packet's index in
 * `*guess`, its distance from the highest index sent as the result. */
static gint32
estimate_index(guint64 highest, guint16 seq, guint64 *guess)
{
    if (highest <= SEQ_MEDIAN) {
        *guess = seq;
        return (gint32)seq - (gint32)(guint16)highest;
    }
    guint32 roc = (guint32)(highest >> 16);
    gint32 local_seq = (guint16)highest;
    gint32 diff = (gint32)seq - local_seq;
    if (local_seq < SEQ_MEDIAN) {
        if (diff > SEQ_MEDIAN) {
            roc--;
            diff -= SEQ_MAX;
        }
    } else if (local_seq - SEQ_MEDIAN > (gint32)seq) {
        roc++;
        diff += SEQ_MAX;
    }
    *guess = ((guint64)roc << 16) | seq;
    return diff;
}

/* The header length its CC and X bits claim, or 0 when the packet is not RTP or is shorter. */
static gsize
header_length(const guint8 *buf, gsize len)
{
    if (len < RTP_HEADER_LEN || (buf[0] >> 6) != 2)
        return 0;
    gsize hlen = RTP_HEADER_LEN + 4 * (gsize)(buf[0] & 0x0f);
    if (buf[0] & 0x10) {
        if (len < hlen + 4)
            return 0;
        hlen += 4 + 4 * (gsize)((buf[hlen + 2] << 8) | buf[hlen + 3]);
    }
    return len < hlen ? 0 : hlen;
}

static void
xor_be32(guint8 *p, guint32 v)
{
    p[0] ^= (guint8)(v >> 24);
    p[1] ^= (guint8)(v >> 16);
    p[2] ^= (guint8)(v >> 8);
    p[3] ^= (guint8)v;
}

/* RFC 7714 §8: IV = salt XOR (00 00 || SSRC || ROC || SEQ); AAD = the header. */
static int
protect_gcm(BridgeSrtpSend *send, guint8 *buf, gsize *len, gsize hlen, guint32 roc)
{
    guint8 iv[12];
    memcpy(iv, send->salt, sizeof iv);
    for (int i = 0; i < 4; i++)
        iv[2 + i] ^= buf[8 + i];
    xor_be32(iv + 6, roc);
    iv[10] ^= buf[2];
    iv[11] ^= buf[3];
    gsize plen = *len - hlen;
    int n = 0;
    if (EVP_EncryptInit_ex2(send->cipher, NULL, NULL, iv, NULL) != 1 ||
        EVP_EncryptUpdate(send->cipher, NULL, &n, buf, (int)hlen) != 1 ||
        (plen > 0 && EVP_EncryptUpdate(send->cipher, buf + hlen, &n, buf + hlen, (int)plen) != 1) ||
        EVP_EncryptFinal_ex(send->cipher, buf + *len, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(send->cipher, EVP_CTRL_AEAD_GET_TAG, GCM_TAG_LEN, buf + *len) != 1) {
        ERR_clear_error();
        return -EIO;
    }
    *len += GCM_TAG_LEN;
    return 0;
}

/* RFC 3711 §4.1.1: IV = (salt << 16) XOR (SSRC << 64) XOR (index << 16); the tag is
 * HMAC-SHA1 over the whole packet followed by the ROC, cut to 80 bits. */
static int
protect_cm(BridgeSrtpSend *send, guint8 *buf, gsize *len, gsize hlen, guint32 roc)
{
    guint8 iv[16] = {0};
    memcpy(iv, send->salt, 14);
    for (int i = 0; i < 4; i++)
        iv[4 + i] ^= buf[8 + i];
    xor_be32(iv + 8, roc);
    iv[12] ^= buf[2];
    iv[13] ^= buf[3];
    gsize plen = *len - hlen;
    guint8 roc_be[4] = {(guint8)(roc >> 24), (guint8)(roc >> 16), (guint8)(roc >> 8), (guint8)roc};
    guint8 tag[SHA1_LEN];
    size_t tag_len = 0;
    int n = 0;
    /* EVP_MAC_init without a key starts again from the keyed inner state */
    if (EVP_EncryptInit_ex2(send->cipher, NULL, NULL, iv, NULL) != 1 ||
        (plen > 0 && EVP_EncryptUpdate(send->cipher, buf + hlen, &n, buf + hlen, (int)plen) != 1) ||
        EVP_MAC_init(send->mac, NULL, 0, NULL) != 1 || EVP_MAC_update(send->mac, buf, *len) != 1 ||
        EVP_MAC_update(send->mac, roc_be, sizeof roc_be) != 1 ||
        EVP_MAC_final(send->mac, tag, &tag_len, sizeof tag) != 1 || tag_len != SHA1_LEN) {
        ERR_clear_error();
        return -EIO;
    }
    memcpy(buf + *len, tag, CM_TAG_LEN);
    *len += CM_TAG_LEN;
    return 0;
}

int
bridge_srtp_send_protect(BridgeSrtpSend *send, guint8 *buf, gsize *len, gboolean again)
{
    /* a UDP datagram's worth at most, which also keeps lengths within OpenSSL's int */
    gsize hlen = *len <= G_MAXUINT16 ? header_length(buf, *len) : 0;
    if (hlen == 0)
        return -EINVAL;
    guint32 ssrc = (guint32)buf[8] << 24 | (guint32)buf[9] << 16 | (guint32)buf[10] << 8 | buf[11];
    guint16 seq = (guint16)(buf[2] << 8 | buf[3]);
    SenderState *state = sender_state(send, ssrc);
    if (state == NULL)
        return -ENOSPC;
    guint64 index;
    gint32 delta = estimate_index(state->index, seq, &index);
    if (delta <= -WINDOW)
        return -EALREADY;
    if (delta <= 0) {
        /* inside the window: a repeat only as a retransmission of the same packet, and
         * only of an index that has not changed hands since (bridge_srtp_send_retire) */
        gboolean was_sent = window_has(state->sent, (guint32)-delta);
        if (was_sent && (!again || index < state->repeat_floor))
            return -EALREADY;
        window_set(state->sent, (guint32)-delta);
    } else {
        state->index += (guint16)delta;
        shift_window(state->sent, (guint32)delta);
        window_set(state->sent, 0);
    }
    guint32 roc = (guint32)(index >> 16);
    return send->profile == BRIDGE_SRTP_AEAD_AES_128_GCM ? protect_gcm(send, buf, len, hlen, roc)
                                                         : protect_cm(send, buf, len, hlen, roc);
}

void
bridge_srtp_send_retire(BridgeSrtpSend *send, guint32 ssrc)
{
    SenderState *s = find_slot(send->slots, send->n_slots, send->seed, ssrc);
    if (s->used)
        s->repeat_floor = s->index + 1;
}
