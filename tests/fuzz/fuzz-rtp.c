/* libFuzzer target: the RTP header parser (every media packet after decryption). Beyond
 * "no crash": an accepted packet's parts add up to its length, and the extension lies
 * inside the header. */
#include "rtp.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    BridgeRtpHeader h;
    if (bridge_rtp_parse(data, size, &h) != 0)
        return 0;
    if (h.header_len + h.payload_len + h.padding_len != size)
        abort();
    if (h.extension && h.ext_offset + h.ext_len != h.header_len)
        abort();
    if (h.header_len < BRIDGE_RTP_HEADER_MIN + 4u * h.csrc_count)
        abort();
    return 0;
}
