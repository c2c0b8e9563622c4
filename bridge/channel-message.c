/* Bridge channel messages (see channel-message.h): the bounded JSON parser, the table of
 * classes, and the writers of what the bridge sends. */
#include "channel-message.h"

#include <math.h>
#include <string.h>

/* What lib-jitsi-meet sends on its own (modules/RTC/BridgeChannel.js, old and new):
 * constraints, last-N, selections and video types are for a bridge that chooses what to
 * forward; Conclave forwards everything, so it takes them and does nothing. */
const BridgeChannelClass bridge_channel_classes[] = {
    {"EndpointMessage", BRIDGE_CHANNEL_RELAY},
    {"EndpointStats", BRIDGE_CHANNEL_BROADCAST},
    {"ReceiverVideoConstraints", BRIDGE_CHANNEL_IGNORE},
    {"ReceiverVideoConstraint", BRIDGE_CHANNEL_IGNORE},
    {"LastNChangedEvent", BRIDGE_CHANNEL_IGNORE},
    {"SelectedEndpointsChangedEvent", BRIDGE_CHANNEL_IGNORE},
    {"SelectedEndpointChangedEvent", BRIDGE_CHANNEL_IGNORE},
    {"PinnedEndpointsChangedEvent", BRIDGE_CHANNEL_IGNORE},
    {"PinnedEndpointChangedEvent", BRIDGE_CHANNEL_IGNORE},
    {"SourceVideoTypeMessage", BRIDGE_CHANNEL_IGNORE},
    {"VideoTypeMessage", BRIDGE_CHANNEL_IGNORE},
    {"ReceiverAudioSubscription", BRIDGE_CHANNEL_IGNORE},
};
const guint bridge_channel_n_classes = G_N_ELEMENTS(bridge_channel_classes);

const char *
bridge_channel_drop_name(BridgeChannelDrop drop)
{
    static const char *const names[BRIDGE_CHANNEL_N_DROPS] = {
        [BRIDGE_CHANNEL_DROP_NONE] = "none",
        [BRIDGE_CHANNEL_DROP_TOO_BIG] = "too_big",
        [BRIDGE_CHANNEL_DROP_BAD_JSON] = "bad_json",
        [BRIDGE_CHANNEL_DROP_BAD_MESSAGE] = "bad_message",
        [BRIDGE_CHANNEL_DROP_UNKNOWN_CLASS] = "unknown_class",
        [BRIDGE_CHANNEL_DROP_RATE] = "rate_limited",
        [BRIDGE_CHANNEL_DROP_UNKNOWN_TARGET] = "unknown_target",
        [BRIDGE_CHANNEL_DROP_BINARY] = "binary",
    };
    return (guint)drop < BRIDGE_CHANNEL_N_DROPS ? names[drop] : "none";
}

/* json-glib's parser recurses: bound the nesting before handing it the text. Also refuses
 * NUL bytes, which JSON text never holds. */
static gboolean
depth_ok(const char *data, gsize len)
{
    guint depth = 0;
    gboolean in_string = FALSE, escaped = FALSE;
    for (gsize i = 0; i < len; i++) {
        char c = data[i];
        if (c == '\0')
            return FALSE;
        if (in_string) {
            if (escaped)
                escaped = FALSE;
            else if (c == '\\')
                escaped = TRUE;
            else if (c == '"')
                in_string = FALSE;
        } else if (c == '"') {
            in_string = TRUE;
        } else if (c == '{' || c == '[') {
            if (++depth > BRIDGE_CHANNEL_MAX_DEPTH)
                return FALSE;
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return TRUE;
}

void
bridge_channel_message_free(BridgeChannelMessage *m)
{
    if (m == NULL)
        return;
    if (m->object != NULL)
        json_object_unref(m->object);
    g_free(m);
}

static gboolean
find_class(const char *name, guint *out)
{
    for (guint i = 0; i < bridge_channel_n_classes; i++) {
        if (strcmp(bridge_channel_classes[i].name, name) == 0) {
            *out = i;
            return TRUE;
        }
    }
    return FALSE;
}

/* A member that must be a string when present (null counts as absent). */
static gboolean
optional_string(JsonObject *o, const char *member, gsize max, const char **out)
{
    *out = NULL;
    JsonNode *n = json_object_get_member(o, member);
    if (n == NULL || JSON_NODE_HOLDS_NULL(n))
        return TRUE;
    if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
        return FALSE;
    *out = json_node_get_string(n);
    return *out != NULL && strlen(*out) <= max;
}

/* A double json-glib writes back as JSON. It reads 1e400 as infinity and would write
 * "inf.0"; it writes 1e20 as "1e+20.0" (".0" added to any double printed without a '.').
 * Neither is JSON: such numbers are refused. */
static gboolean
double_writable(double d)
{
    if (!isfinite(d))
        return FALSE;
    char text[G_ASCII_DTOSTR_BUF_SIZE];
    g_ascii_dtostr(text, sizeof text, d);
    return strpbrk(text, "eE") == NULL || strchr(text, '.') != NULL;
}

/* Every number in `n` can be relayed (the depth is already bounded). */
static gboolean
numbers_finite(JsonNode *n)
{
    if (JSON_NODE_HOLDS_VALUE(n))
        return json_node_get_value_type(n) != G_TYPE_DOUBLE ||
               double_writable(json_node_get_double(n));
    if (JSON_NODE_HOLDS_ARRAY(n)) {
        JsonArray *a = json_node_get_array(n);
        for (guint i = 0; i < json_array_get_length(a); i++) {
            if (!numbers_finite(json_array_get_element(a, i)))
                return FALSE;
        }
    } else if (JSON_NODE_HOLDS_OBJECT(n)) {
        JsonObjectIter it;
        JsonNode *member;
        json_object_iter_init(&it, json_node_get_object(n));
        while (json_object_iter_next(&it, NULL, &member)) {
            if (!numbers_finite(member))
                return FALSE;
        }
    }
    return TRUE;
}

static JsonObject *
parse_object(const char *data, gsize len, BridgeChannelDrop *drop)
{
    *drop = BRIDGE_CHANNEL_DROP_BAD_JSON;
    if (!g_utf8_validate_len(data, len, NULL) || !depth_ok(data, len))
        return NULL;
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    if (!json_parser_load_from_data(parser, data, (gssize)len, NULL))
        return NULL;
    JsonNode *root = json_parser_get_root(parser);
    if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root) || !numbers_finite(root))
        return NULL;
    *drop = BRIDGE_CHANNEL_DROP_NONE;
    return json_object_ref(json_node_get_object(root));
}

BridgeChannelMessage *
bridge_channel_message_parse(const char *data, gsize len, BridgeChannelDrop *drop)
{
    if (len > BRIDGE_CHANNEL_MAX_MESSAGE) {
        *drop = BRIDGE_CHANNEL_DROP_TOO_BIG;
        return NULL;
    }
    g_autoptr(JsonObject) o = parse_object(data, len, drop);
    if (o == NULL)
        return NULL;
    const char *klass = NULL;
    if (!optional_string(o, "colibriClass", 64, &klass) || klass == NULL) {
        *drop = BRIDGE_CHANNEL_DROP_BAD_MESSAGE;
        return NULL;
    }
    g_autoptr(BridgeChannelMessage) m = g_new0(BridgeChannelMessage, 1);
    if (!find_class(klass, &m->klass)) {
        *drop = BRIDGE_CHANNEL_DROP_UNKNOWN_CLASS;
        return NULL;
    }
    if (bridge_channel_classes[m->klass].action == BRIDGE_CHANNEL_RELAY &&
        !optional_string(o, "to", BRIDGE_CHANNEL_MAX_ID_LEN, &m->to)) {
        *drop = BRIDGE_CHANNEL_DROP_BAD_MESSAGE;
        return NULL;
    }
    m->object = g_steal_pointer(&o);
    *drop = BRIDGE_CHANNEL_DROP_NONE;
    return g_steal_pointer(&m);
}

static char *
to_text(JsonObject *o)
{
    g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
    json_node_set_object(root, o);
    g_autoptr(JsonGenerator) gen = json_generator_new();
    json_generator_set_root(gen, root);
    g_autofree char *text = json_generator_to_data(gen, NULL);
    if (text == NULL || !g_utf8_validate(text, -1, NULL))
        return NULL;
    return g_steal_pointer(&text);
}

char *
bridge_channel_message_relay(BridgeChannelMessage *m, const char *from)
{
    /* the parsed object may be immutable (sealed): write a shallow copy */
    g_autoptr(JsonObject) copy = json_object_new();
    g_autoptr(GList) members = json_object_get_members(m->object);
    for (GList *l = members; l != NULL; l = l->next) {
        if (strcmp(l->data, "from") != 0)
            json_object_set_member(copy, l->data,
                                   json_node_copy(json_object_get_member(m->object, l->data)));
    }
    json_object_set_string_member(copy, "from", from);
    return to_text(copy);
}

char *
bridge_channel_server_hello(const char *version)
{
    g_autoptr(JsonObject) o = json_object_new();
    json_object_set_string_member(o, "colibriClass", "ServerHello");
    json_object_set_string_member(o, "version", version);
    return to_text(o);
}

char *
bridge_channel_dominant_speaker(const char *speaker, const char *const *previous)
{
    g_autoptr(JsonObject) o = json_object_new();
    json_object_set_string_member(o, "colibriClass", "DominantSpeakerEndpointChangeEvent");
    json_object_set_string_member(o, "dominantSpeakerEndpoint", speaker);
    JsonArray *a = json_array_new();
    for (const char *const *p = previous; p != NULL && *p != NULL; p++)
        json_array_add_string_element(a, *p);
    json_object_set_array_member(o, "previousSpeakers", a);
    return to_text(o);
}
