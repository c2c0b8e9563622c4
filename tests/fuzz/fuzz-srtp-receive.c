/* libFuzzer target: the inbound SRTP transform (bridge/srtp-receive.c), which parses every
 * media packet an endpoint sends before anything else does. The input is a script for one
 * session of each profile: each step either hands over raw bytes (which must never be
 * accepted: nobody can forge a tag) or protects a packet with the peer's key at the SSRC
 * and sequence number the input chooses, maybe changes one bit of it, and hands it over.
 * Beyond "no crash": an unchanged packet is accepted or refused as a replay, a changed one
 * is never accepted, and what comes out is what went in. */
#include "srtp-receive.h"
#include "srtp-send.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PAYLOAD 200

static void
run_script(BridgeSrtpProfile profile, const uint8_t *data, size_t size)
{
    BridgeSrtpKey key = {.profile = profile};
    memset(key.key, 0x11, sizeof key.key);
    memset(key.salt, 0x22, sizeof key.salt);
    /* the sender of the packets handed over unchanged, and another for the changed ones, so
     * that the first and the receiver see the same indexes (a gap of half a cycle that only
     * the sender saw would make them disagree on the rollover counter, as it would on a
     * real network) */
    BridgeSrtpSend *send = bridge_srtp_send_new(&key, NULL);
    BridgeSrtpSend *forger = bridge_srtp_send_new(&key, NULL);
    BridgeSrtpReceive *receive = bridge_srtp_receive_new(&key, NULL);
    if (send == NULL || forger == NULL || receive == NULL)
        abort();
    while (size >= 2) {
        uint8_t op = data[0];
        size_t n = (size_t)data[1] % (MAX_PAYLOAD + 1);
        data += 2;
        size -= 2;
        n = n < size ? n : size;
        guint8 pkt[12 + MAX_PAYLOAD + BRIDGE_SRTP_MAX_TRAILER], plain[12 + MAX_PAYLOAD];
        gsize len;
        if (op & 1) { /* raw bytes */
            memcpy(pkt, data, n);
            len = n;
            if (bridge_srtp_receive_unprotect(receive, pkt, &len) == 0)
                abort();
        } else if (n >= 4) { /* seq (2), SSRC choice, bit to change (0: none), payload */
            memset(plain, 0, 12);
            plain[0] = 0x80;
            plain[1] = 96;
            plain[2] = data[0];
            plain[3] = data[1];
            plain[11] = (guint8)(data[2] & 3);
            memcpy(plain + 12, data + 4, n - 4);
            len = 12 + (n - 4);
            memcpy(pkt, plain, len);
            /* again: the script may repeat an index, which the receiver must refuse */
            if (bridge_srtp_send_protect(data[3] == 0 ? send : forger, pkt, &len, TRUE) == 0) {
                gsize changed_bit = data[3] == 0 ? G_MAXSIZE : ((gsize)data[3] * 7) % (8 * len);
                if (changed_bit != G_MAXSIZE)
                    pkt[changed_bit / 8] ^= (guint8)(1u << (changed_bit % 8));
                int rc = bridge_srtp_receive_unprotect(receive, pkt, &len);
                if (changed_bit != G_MAXSIZE && rc == 0)
                    abort();
                if (rc == 0 && (len != 12 + (n - 4) || memcmp(pkt, plain, len) != 0))
                    abort();
                if (changed_bit == G_MAXSIZE && rc != 0 && rc != -EALREADY)
                    abort();
            }
        }
        data += n;
        size -= n;
    }
    bridge_srtp_send_free(send);
    bridge_srtp_send_free(forger);
    bridge_srtp_receive_free(receive);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run_script(BRIDGE_SRTP_AEAD_AES_128_GCM, data, size);
    run_script(BRIDGE_SRTP_AES128_CM_SHA1_80, data, size);
    return 0;
}
