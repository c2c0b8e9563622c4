/* libFuzzer target: the RFC 7983 demultiplexer followed by the parser the bridge would hand
 * the datagram to. Beyond "no crash": the class agrees with the first byte's range. */
#include "rtcp.h"
#include "rtp.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    BridgePacketKind kind = bridge_demux_classify(data, size);
    guint8 b = size > 0 ? data[0] : 0;
    BridgeRtpHeader h;
    switch (kind) {
    case BRIDGE_PKT_STUN:
        if (b > 3)
            abort();
        break;
    case BRIDGE_PKT_DTLS:
        if (b < 20 || b > 63)
            abort();
        break;
    case BRIDGE_PKT_RTP:
        if (b < 128 || b > 191)
            abort();
        (void)bridge_rtp_parse(data, size, &h);
        break;
    case BRIDGE_PKT_RTCP:
        if (b < 128 || b > 191 || data[1] < 192 || data[1] > 223)
            abort();
        (void)bridge_rtcp_validate(data, size);
        break;
    default:
        break;
    }
    return 0;
}
