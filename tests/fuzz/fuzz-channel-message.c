/* libFuzzer target: the bridge channel's message parser (bridge/channel-message.c), which
 * reads what any client with a channel URL sends. Beyond "no crash": an accepted message,
 * relayed with the bridge's `from`, is valid UTF-8 JSON that parses again as a message of
 * the same class, and carries that `from`. */
#include "channel-message.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    BridgeChannelDrop drop = BRIDGE_CHANNEL_DROP_NONE;
    g_autoptr(BridgeChannelMessage) m =
        bridge_channel_message_parse((const char *)data, size, &drop);
    if (m == NULL) {
        if (drop == BRIDGE_CHANNEL_DROP_NONE)
            abort();
        return 0;
    }
    if (m->klass >= bridge_channel_n_classes)
        abort();
    g_autofree char *relayed = bridge_channel_message_relay(m, "Zoë");
    if (relayed == NULL)
        return 0; /* refused as bad_json by the channel */
    g_autoptr(BridgeChannelMessage) again =
        bridge_channel_message_parse(relayed, strlen(relayed), &drop);
    if (strlen(relayed) > BRIDGE_CHANNEL_MAX_MESSAGE)
        return 0; /* a relayed message may be a little longer than what came in */
    if (again == NULL || again->klass != m->klass ||
        g_strcmp0(json_object_get_string_member_with_default(again->object, "from", ""), "Zoë") !=
            0 ||
        g_strcmp0(again->to, m->to) != 0)
        abort();
    return 0;
}
