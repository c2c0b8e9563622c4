/* Unit tests of bridge/channel-message.c and the path parser of bridge/channel.c: the
 * messages lib-jitsi-meet sends are taken with their class and target; each refused shape
 * has its drop reason (size, UTF-8, JSON, depth, non-finite numbers, class, field types);
 * relayed messages carry the bridge's `from`, never the client's; and the bridge's own
 * messages have the shapes schemas/bridge-channel.md gives. */
#include "../check-main.h"
#include "channel-message.h"
#include "channel.h"

#include <string.h>

static BridgeChannelMessage *
parse(const char *text, BridgeChannelDrop *drop)
{
    return bridge_channel_message_parse(text, strlen(text), drop);
}

static void
assert_dropped(const char *text, gsize len, BridgeChannelDrop expected)
{
    BridgeChannelDrop drop = BRIDGE_CHANNEL_DROP_NONE;
    g_autoptr(BridgeChannelMessage) m = bridge_channel_message_parse(text, len, &drop);
    ck_assert_msg(m == NULL, "accepted: %.*s", (int)MIN(len, 80), text);
    ck_assert_msg(drop == expected, "%.*s: %s, not %s", (int)MIN(len, 80), text,
                  bridge_channel_drop_name(drop), bridge_channel_drop_name(expected));
}

static const char *
class_name(const BridgeChannelMessage *m)
{
    return bridge_channel_classes[m->klass].name;
}

START_TEST(test_accepted)
{
    BridgeChannelDrop drop;
    g_autoptr(BridgeChannelMessage) m =
        parse("{\"colibriClass\":\"EndpointMessage\",\"to\":\"Zoë\",\"msgPayload\":{\"x\":[1,2]}}",
              &drop);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(class_name(m), "EndpointMessage");
    ck_assert_int_eq(bridge_channel_classes[m->klass].action, BRIDGE_CHANNEL_RELAY);
    ck_assert_str_eq(m->to, "Zoë");
    g_autoptr(BridgeChannelMessage) all =
        parse("{\"colibriClass\":\"EndpointMessage\",\"to\":null,\"msgPayload\":{}}", &drop);
    ck_assert_ptr_null(all->to);
    g_autoptr(BridgeChannelMessage) stats =
        parse("{\"colibriClass\":\"EndpointStats\",\"to\":7,\"bitrate\":{}}", &drop);
    ck_assert_ptr_nonnull(stats); /* `to` means nothing to a broadcast */
    ck_assert_int_eq(bridge_channel_classes[stats->klass].action, BRIDGE_CHANNEL_BROADCAST);
    const char *ignored[] = {"ReceiverVideoConstraints", "ReceiverVideoConstraint",
                             "LastNChangedEvent",        "SelectedEndpointsChangedEvent",
                             "SourceVideoTypeMessage",   "ReceiverAudioSubscription"};
    for (guint i = 0; i < G_N_ELEMENTS(ignored); i++) {
        g_autofree char *text =
            g_strdup_printf("{\"colibriClass\":\"%s\",\"lastN\":-1}", ignored[i]);
        g_autoptr(BridgeChannelMessage) im = parse(text, &drop);
        ck_assert_ptr_nonnull(im);
        ck_assert_str_eq(class_name(im), ignored[i]);
        ck_assert_int_eq(bridge_channel_classes[im->klass].action, BRIDGE_CHANNEL_IGNORE);
    }
    /* exactly the limits */
    GString *big = g_string_new("{\"colibriClass\":\"EndpointStats\",\"pad\":\"");
    while (big->len < BRIDGE_CHANNEL_MAX_MESSAGE - 2)
        g_string_append_c(big, 'x');
    g_string_append(big, "\"}");
    ck_assert_uint_eq(big->len, BRIDGE_CHANNEL_MAX_MESSAGE);
    g_autoptr(BridgeChannelMessage) largest = parse(big->str, &drop);
    ck_assert_ptr_nonnull(largest);
    g_string_free(big, TRUE);
    GString *deep = g_string_new("{\"colibriClass\":\"EndpointStats\",\"d\":");
    for (int i = 1; i < BRIDGE_CHANNEL_MAX_DEPTH; i++)
        g_string_append_c(deep, '[');
    for (int i = 1; i < BRIDGE_CHANNEL_MAX_DEPTH; i++)
        g_string_append_c(deep, ']');
    g_string_append(deep, ",\"s\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[\"}");
    g_autoptr(BridgeChannelMessage) deepest = parse(deep->str, &drop);
    ck_assert_msg(deepest != NULL, "%s", bridge_channel_drop_name(drop));
    g_string_free(deep, TRUE);
}
END_TEST

START_TEST(test_dropped)
{
    GString *big = g_string_new("{\"colibriClass\":\"EndpointStats\",\"pad\":\"");
    while (big->len < BRIDGE_CHANNEL_MAX_MESSAGE - 1)
        g_string_append_c(big, 'x');
    g_string_append(big, "\"}");
    assert_dropped(big->str, big->len, BRIDGE_CHANNEL_DROP_TOO_BIG);
    g_string_free(big, TRUE);
    GString *deep = g_string_new("{\"colibriClass\":\"EndpointStats\",\"d\":");
    for (int i = 0; i < BRIDGE_CHANNEL_MAX_DEPTH; i++)
        g_string_append_c(deep, '[');
    for (int i = 0; i < BRIDGE_CHANNEL_MAX_DEPTH; i++)
        g_string_append_c(deep, ']');
    g_string_append_c(deep, '}');
    assert_dropped(deep->str, deep->len, BRIDGE_CHANNEL_DROP_BAD_JSON);
    g_string_free(deep, TRUE);
    const char *bad_json[] = {
        "",
        "{",
        "[1]",
        "null",
        "\"s\"",
        "{\"colibriClass\":\"EndpointStats\",}",
        "{\"colibriClass\":\"EndpointStats\",\"n\":1e400}",
        "{\"colibriClass\":\"EndpointStats\",\"n\":[-1e999]}",
        /* json-glib would write these back as 1e+201.0 and 1e+20.0: not JSON */
        "{\"colibriClass\":\"EndpointMessage\",\"msPoad\":1e201}",
        "{\"colibriClass\":\"EndpointStats\",\"n\":{\"m\":-1E20}}",
    };
    for (guint i = 0; i < G_N_ELEMENTS(bad_json); i++)
        assert_dropped(bad_json[i], strlen(bad_json[i]), BRIDGE_CHANNEL_DROP_BAD_JSON);
    /* doubles that are kept are relayed as JSON that parses again */
    const char doubles[] = "{\"colibriClass\":\"EndpointMessage\",\"a\":1.5e300,\"b\":0.25,"
                           "\"c\":-3e-7}";
    BridgeChannelDrop drop = BRIDGE_CHANNEL_DROP_NONE;
    g_autoptr(BridgeChannelMessage) kept =
        bridge_channel_message_parse(doubles, sizeof doubles - 1, &drop);
    ck_assert_ptr_nonnull(kept);
    g_autofree char *relayed = bridge_channel_message_relay(kept, "x");
    ck_assert_ptr_nonnull(relayed);
    g_autoptr(BridgeChannelMessage) again =
        bridge_channel_message_parse(relayed, strlen(relayed), &drop);
    ck_assert_msg(again != NULL, "relayed as %s", relayed);
    const char bad_utf8[] = "{\"colibriClass\":\"EndpointStats\",\"s\":\"\xc3\x28\"}";
    assert_dropped(bad_utf8, sizeof bad_utf8 - 1, BRIDGE_CHANNEL_DROP_BAD_JSON);
    const char nul[] = "{\"colibriClass\":\"EndpointStats\"}\0{}";
    assert_dropped(nul, sizeof nul - 1, BRIDGE_CHANNEL_DROP_BAD_JSON);
    const char *bad_message[] = {
        "{}",
        "{\"colibriClass\":null}",
        "{\"colibriClass\":[\"EndpointMessage\"]}",
        "{\"colibriClass\":\"EndpointMessage\",\"to\":{}}",
        "{\"colibriClass\":\"EndpointMessage\",\"to\":1}",
    };
    for (guint i = 0; i < G_N_ELEMENTS(bad_message); i++)
        assert_dropped(bad_message[i], strlen(bad_message[i]), BRIDGE_CHANNEL_DROP_BAD_MESSAGE);
    g_autofree char *long_to = g_strnfill(BRIDGE_CHANNEL_MAX_ID_LEN + 1, 'n');
    g_autofree char *long_msg =
        g_strdup_printf("{\"colibriClass\":\"EndpointMessage\",\"to\":\"%s\"}", long_to);
    assert_dropped(long_msg, strlen(long_msg), BRIDGE_CHANNEL_DROP_BAD_MESSAGE);
    const char *unknown[] = {
        "{\"colibriClass\":\"\"}",
        "{\"colibriClass\":\"endpointmessage\"}",
        "{\"colibriClass\":\"DominantSpeakerEndpointChangeEvent\"}", /* the bridge's to send */
        "{\"colibriClass\":\"ServerHello\"}",
    };
    for (guint i = 0; i < G_N_ELEMENTS(unknown); i++)
        assert_dropped(unknown[i], strlen(unknown[i]), BRIDGE_CHANNEL_DROP_UNKNOWN_CLASS);
    for (guint d = 1; d < BRIDGE_CHANNEL_N_DROPS; d++)
        ck_assert_str_ne(bridge_channel_drop_name(d), "none");
}
END_TEST

static JsonObject *
reparse(const char *text)
{
    g_autoptr(JsonParser) p = json_parser_new();
    ck_assert_msg(json_parser_load_from_data(p, text, -1, NULL), "%s", text);
    return json_object_ref(json_node_get_object(json_parser_get_root(p)));
}

START_TEST(test_written)
{
    BridgeChannelDrop drop;
    g_autoptr(BridgeChannelMessage) m =
        parse("{\"colibriClass\":\"EndpointMessage\",\"to\":\"\",\"from\":\"Mallory\","
              "\"msgPayload\":{\"a\":\"é\"}}",
              &drop);
    g_autofree char *relayed = bridge_channel_message_relay(m, "Zoë \"Z\"");
    g_autoptr(JsonObject) r = reparse(relayed);
    ck_assert_str_eq(json_object_get_string_member(r, "from"), "Zoë \"Z\"");
    ck_assert_str_eq(json_object_get_string_member(r, "colibriClass"), "EndpointMessage");
    ck_assert_str_eq(
        json_object_get_string_member(json_object_get_object_member(r, "msgPayload"), "a"), "é");
    g_autofree char *hello = bridge_channel_server_hello("conclave-1.2.3");
    g_autoptr(JsonObject) h = reparse(hello);
    ck_assert_str_eq(json_object_get_string_member(h, "colibriClass"), "ServerHello");
    ck_assert_str_eq(json_object_get_string_member(h, "version"), "conclave-1.2.3");
    const char *previous[] = {"Bob", "Carol", NULL};
    g_autofree char *speaker = bridge_channel_dominant_speaker("Alice", previous);
    g_autoptr(JsonObject) s = reparse(speaker);
    ck_assert_str_eq(json_object_get_string_member(s, "colibriClass"),
                     "DominantSpeakerEndpointChangeEvent");
    ck_assert_str_eq(json_object_get_string_member(s, "dominantSpeakerEndpoint"), "Alice");
    JsonArray *a = json_object_get_array_member(s, "previousSpeakers");
    ck_assert_uint_eq(json_array_get_length(a), 2);
    ck_assert_str_eq(json_array_get_string_element(a, 1), "Carol");
    g_autofree char *none = bridge_channel_dominant_speaker("Alice", NULL);
    g_autoptr(JsonObject) n = reparse(none);
    ck_assert_uint_eq(json_array_get_length(json_object_get_array_member(n, "previousSpeakers")),
                      0);
}
END_TEST

START_TEST(test_path)
{
    g_autofree char *m = NULL, *e = NULL;
    ck_assert(bridge_channel_parse_path("/meet-1.x_y/ep-2", &m, &e));
    ck_assert_str_eq(m, "meet-1.x_y");
    ck_assert_str_eq(e, "ep-2");
    const char *bad[] = {"", "/", "//e", "/m/", "/m", "m/e", "/m/e/f", "/m/e?x", "/m%20/e", "/m/é"};
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        char *bm = NULL, *be = NULL;
        ck_assert_msg(!bridge_channel_parse_path(bad[i], &bm, &be), "accepted %s", bad[i]);
        ck_assert_ptr_null(bm);
    }
    g_autofree char *long_id = g_strnfill(65, 'a');
    g_autofree char *long_path = g_strdup_printf("/m/%s", long_id);
    char *bm = NULL, *be = NULL;
    ck_assert(!bridge_channel_parse_path(long_path, &bm, &be));
}
END_TEST

static Suite *
channel_message_suite(void)
{
    Suite *s = suite_create("channel-message");
    TCase *tc = tcase_create("channel-message");
    tcase_add_test(tc, test_accepted);
    tcase_add_test(tc, test_dropped);
    tcase_add_test(tc, test_written);
    tcase_add_test(tc, test_path);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(channel_message_suite)
