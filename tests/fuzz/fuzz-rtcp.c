/* libFuzzer target: RTCP compound validation and iteration (every RTCP packet after
 * decryption). Beyond "no crash": iteration over an accepted packet visits exactly the
 * number of parts validation counted and covers every byte; NACK expansion stays bounded. */
#include "rtcp.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
ignore(guint16 seq, gpointer data)
{
    (*(guint *)data)++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int parts = bridge_rtcp_validate(data, size);
    if (parts < 0)
        return 0;
    BridgeRtcpIter it;
    BridgeRtcpPacket pkt;
    bridge_rtcp_iter_init(&it, data, size);
    int seen = 0;
    gsize total = 0;
    while (bridge_rtcp_iter_next(&it, &pkt)) {
        seen++;
        total += pkt.len;
        guint calls = 0;
        guint n = bridge_rtcp_nack_foreach(&pkt, ignore, &calls);
        if (n != calls || n > 17 * (pkt.len / 4))
            abort();
    }
    if (seen != parts || total != size)
        abort();
    return 0;
}
