/* Outbound SRTP and SRTCP (see srtp-send.h): the ciphers (srtp-cipher.h) and the index of
 * each SSRC (srtp-index.h) of one session, and the rule that an index encrypts one packet
 * only. Knows nothing of DTLS or endpoints. */
#include "srtp-send.h"

#include "srtp-cipher.h"
#include "srtp-index.h"
#include "rtp.h"

#include <errno.h>

struct _BridgeSrtpSend {
    BridgeSrtpCipher *cipher;
    BridgeSrtpIndexTable indexes;
    BridgeSrtpCipher *rtcp_cipher;     /* NULL: made from session keys, RTP only */
    BridgeSrtpIndexTable rtcp_indexes; /* the last SRTCP index of each SSRC */
};

static BridgeSrtpSend *
send_new(BridgeSrtpCipher *cipher, BridgeSrtpCipher *rtcp_cipher)
{
    if (cipher == NULL)
        return NULL;
    BridgeSrtpSend *send = g_new0(BridgeSrtpSend, 1);
    send->cipher = cipher;
    send->rtcp_cipher = rtcp_cipher;
    bridge_srtp_index_table_init(&send->indexes, BRIDGE_SRTP_SEND_MAX_SSRCS);
    bridge_srtp_index_table_init(&send->rtcp_indexes, BRIDGE_SRTP_SEND_MAX_SSRCS);
    return send;
}

BridgeSrtpSend *
bridge_srtp_send_new(const BridgeSrtpKey *key, GError **error)
{
    BridgeSrtpCipher *rtcp = bridge_srtp_cipher_new_rtcp(key, error);
    if (rtcp == NULL)
        return NULL;
    BridgeSrtpSend *send = send_new(bridge_srtp_cipher_new(key, error), rtcp);
    if (send == NULL)
        bridge_srtp_cipher_free(rtcp);
    return send;
}

BridgeSrtpSend *
bridge_srtp_send_new_session(BridgeSrtpProfile profile, const guint8 enc_key[16],
                             const guint8 *salt, const guint8 *auth_key, GError **error)
{
    return send_new(bridge_srtp_cipher_new_session(profile, enc_key, salt, auth_key, error), NULL);
}

void
bridge_srtp_send_free(BridgeSrtpSend *send)
{
    if (send == NULL)
        return;
    bridge_srtp_cipher_free(send->cipher);
    bridge_srtp_index_table_clear(&send->indexes);
    bridge_srtp_cipher_free(send->rtcp_cipher);
    bridge_srtp_index_table_clear(&send->rtcp_indexes);
    g_free(send);
}

int
bridge_srtp_send_protect(BridgeSrtpSend *send, guint8 *buf, gsize *len, gboolean again)
{
    gsize hlen = bridge_srtp_rtp_header_length(buf, *len);
    if (hlen == 0)
        return -EINVAL;
    guint32 ssrc = bridge_read32(buf + 8);
    guint16 seq = bridge_read16(buf + 2);
    BridgeSrtpIndexState *state = bridge_srtp_index_add_ssrc(&send->indexes, ssrc);
    if (state == NULL)
        return -ENOSPC;
    guint64 index;
    gint32 delta = bridge_srtp_index_estimate(state->index, seq, &index);
    if (delta <= -BRIDGE_SRTP_WINDOW)
        return -EALREADY;
    /* Under one key, an index encrypts one plaintext only (with GCM, two would give away
     * the hash key): a repeat only as a retransmission of the same packet, and only of an
     * index that has not changed hands since (bridge_srtp_send_retire). */
    if (delta <= 0 && bridge_srtp_index_seen(state, delta) &&
        (!again || index < state->repeat_floor))
        return -EALREADY;
    bridge_srtp_index_mark(state, delta);
    return bridge_srtp_cipher_encrypt(send->cipher, buf, len, hlen, (guint32)(index >> 16));
}

void
bridge_srtp_send_retire(BridgeSrtpSend *send, guint32 ssrc)
{
    BridgeSrtpIndexState *s = bridge_srtp_index_lookup(&send->indexes, ssrc);
    if (s != NULL)
        s->repeat_floor = s->index + 1;
}

int
bridge_srtp_send_protect_rtcp(BridgeSrtpSend *send, guint8 *buf, gsize *len)
{
    if (send->rtcp_cipher == NULL || *len < 8)
        return -EINVAL;
    guint32 ssrc = bridge_read32(buf + 4);
    BridgeSrtpIndexState *state = bridge_srtp_index_add_ssrc(&send->rtcp_indexes, ssrc);
    if (state == NULL)
        return -ENOSPC;
    /* As libsrtp: an SSRC's first SRTCP packet has index 1; after 2^31 - 1 the key is spent.
     * The index is used up before encrypting: a failure half-way may have left ciphertext
     * under it, which the next packet must not repeat. */
    if (state->index >= BRIDGE_SRTCP_MAX_INDEX)
        return -EALREADY;
    state->index++;
    return bridge_srtp_cipher_encrypt_rtcp(send->rtcp_cipher, buf, len, (guint32)state->index);
}
