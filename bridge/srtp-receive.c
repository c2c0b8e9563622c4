/* Inbound SRTP on OpenSSL (see srtp-receive.h): the cipher (srtp-cipher.h) and the replay
 * window of each SSRC (srtp-index.h) of one session. Knows nothing of DTLS, endpoints or
 * SRTCP. */
#include "srtp-receive.h"

#include "srtp-cipher.h"
#include "srtp-index.h"
#include "rtp.h"

#include <errno.h>

struct _BridgeSrtpReceive {
    BridgeSrtpCipher *cipher;
    BridgeSrtpIndexTable indexes;
};

BridgeSrtpReceive *
bridge_srtp_receive_new(const BridgeSrtpKey *key, GError **error)
{
    BridgeSrtpCipher *cipher = bridge_srtp_cipher_new(key, error);
    if (cipher == NULL)
        return NULL;
    BridgeSrtpReceive *receive = g_new0(BridgeSrtpReceive, 1);
    receive->cipher = cipher;
    bridge_srtp_index_table_init(&receive->indexes, BRIDGE_SRTP_RECEIVE_MAX_SSRCS);
    return receive;
}

void
bridge_srtp_receive_free(BridgeSrtpReceive *receive)
{
    if (receive == NULL)
        return;
    bridge_srtp_cipher_free(receive->cipher);
    bridge_srtp_index_table_clear(&receive->indexes);
    g_free(receive);
}

int
bridge_srtp_receive_unprotect(BridgeSrtpReceive *receive, guint8 *buf, gsize *len)
{
    gsize hlen = bridge_srtp_rtp_header_length(buf, *len);
    if (hlen == 0)
        return -EINVAL;
    guint32 ssrc = bridge_read32(buf + 8);
    guint16 seq = bridge_read16(buf + 2);
    BridgeSrtpIndexState *state = bridge_srtp_index_lookup(&receive->indexes, ssrc);
    guint64 index = seq;
    gint32 delta = seq;
    if (state != NULL) {
        delta = bridge_srtp_index_estimate(state->index, seq, &index);
        if (delta <= -BRIDGE_SRTP_WINDOW || (delta <= 0 && bridge_srtp_index_seen(state, delta)))
            return -EALREADY;
    } else if (receive->indexes.n_used >= receive->indexes.max_used) {
        return -ENOSPC;
    }
    int rc = bridge_srtp_cipher_decrypt(receive->cipher, buf, len, hlen, (guint32)(index >> 16));
    if (rc != 0)
        return rc;
    /* only an authentic packet takes a place in the table or moves the window */
    if (state == NULL && (state = bridge_srtp_index_add_ssrc(&receive->indexes, ssrc)) == NULL)
        return -ENOSPC; /* not reached: the cap was checked above */
    bridge_srtp_index_mark(state, delta);
    return 0;
}
