/* Unit tests of focus/bridges.c: reading a bridge's health answer, and choosing the bridge
 * for a new conference from the recorded states. */
#include "../check-main.h"
#include "bridges.h"

static xmpp_ctx_t *ctx;

static xmpp_stanza_t *
stanza(const char *xml)
{
    xmpp_stanza_t *s = xmpp_stanza_new_from_string(ctx, xml);
    ck_assert_ptr_nonnull(s);
    return s;
}

#define STATS(body)                                                                                \
    "<iq type='result'><stats xmlns='http://jitsi.org/protocol/colibri'>" body "</stats></iq>"

START_TEST(test_parse_stats)
{
    ctx = xmpp_ctx_new(NULL, NULL);
    FocusBridgeReport r;
    xmpp_stanza_t *ok = stanza(STATS("<stat name='stress_level' value='0.25'/>"
                                     "<stat name='conferences' value='3'/>"
                                     "<stat name='endpoints' value='11'/>"
                                     "<stat name='graceful_shutdown' value='false'/>"));
    ck_assert(focus_bridges_parse_stats(ok, &r));
    ck_assert(r.ok && !r.draining);
    ck_assert(r.stress > 0.249 && r.stress < 0.251);
    ck_assert_uint_eq(r.conferences, 3);
    ck_assert_uint_eq(r.endpoints, 11);
    xmpp_stanza_t *draining = stanza(STATS("<stat name='stress_level' value='0'/>"
                                           "<stat name='graceful_shutdown' value='true'/>"));
    ck_assert(focus_bridges_parse_stats(draining, &r));
    ck_assert(r.draining);
    /* Refused: no stats, no stress, a stress that is not a finite non-negative number. */
    static const char *const bad[] = {
        "<iq type='result'/>",
        STATS("<stat name='conferences' value='1'/>"),
        STATS("<stat name='stress_level' value='high'/>"),
        STATS("<stat name='stress_level' value='-1'/>"),
        STATS("<stat name='stress_level' value='nan'/>"),
        STATS("<stat name='stress_level'/>"),
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        xmpp_stanza_t *s = stanza(bad[i]);
        if (focus_bridges_parse_stats(s, &r))
            ck_abort_msg("accepted %s", bad[i]);
        xmpp_stanza_release(s);
    }
    xmpp_stanza_release(ok);
    xmpp_stanza_release(draining);
    xmpp_ctx_free(ctx);
}
END_TEST

START_TEST(test_select)
{
    static const char *const jids[] = {"b1.example", "b2.example", "b3.example", NULL};
    CcMetrics *metrics = cc_metrics_new();
    CcXmppSettings settings = {
        .server = "127.0.0.1", .port = 1, .domain = "focus.example", .secret = "s"};
    CcXmppComponent *xmpp = cc_xmpp_component_new(&settings, metrics);
    FocusBridges *pool = focus_bridges_new(xmpp, jids, 10, 1000, metrics);
    /* Nothing known yet: nothing to choose. */
    ck_assert_ptr_null(focus_bridges_select(pool));
    FocusBridgeReport busy = {.ok = TRUE, .stress = 0.6, .conferences = 1};
    FocusBridgeReport idle = {.ok = TRUE, .stress = 0.1, .conferences = 9};
    FocusBridgeReport idle_fewer = {.ok = TRUE, .stress = 0.1, .conferences = 2};
    FocusBridgeReport draining = {.ok = TRUE, .draining = TRUE, .stress = 0.0};
    FocusBridgeReport failed = {.ok = FALSE};
    focus_bridges_record(pool, "b1.example", &busy);
    ck_assert_str_eq(focus_bridges_select(pool), "b1.example");
    focus_bridges_record(pool, "B2.example", &idle); /* JIDs compare case-insensitively */
    ck_assert_str_eq(focus_bridges_select(pool), "b2.example");
    focus_bridges_record(pool, "b3.example", &idle_fewer);
    ck_assert_str_eq(focus_bridges_select(pool), "b3.example");
    ck_assert_uint_eq(focus_bridges_available(pool), 3);
    /* Draining or failing bridges are taken out; a recovered one comes back. */
    focus_bridges_record(pool, "b3.example", &draining);
    focus_bridges_record(pool, "b2.example", &failed);
    ck_assert_str_eq(focus_bridges_select(pool), "b1.example");
    ck_assert_uint_eq(focus_bridges_available(pool), 1);
    focus_bridges_record(pool, "b2.example", &idle);
    ck_assert_str_eq(focus_bridges_select(pool), "b2.example");
    /* Reports about unknown bridges change nothing. */
    focus_bridges_record(pool, "stranger.example", &idle_fewer);
    ck_assert_uint_eq(focus_bridges_available(pool), 2);
    g_autofree char *text = cc_metrics_render(metrics);
    ck_assert_ptr_nonnull(strstr(text, "conclave_focus_bridges_available 2\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "conclave_focus_bridge_failures_total{bridge=\"b2.example\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "conclave_focus_bridge_stress_permille{bridge=\"b1.example\"} 600\n"));
    focus_bridges_free(pool);
    cc_xmpp_component_free(xmpp);
    cc_metrics_free(metrics);
}
END_TEST

static Suite *
bridges_suite(void)
{
    Suite *s = suite_create("bridges");
    TCase *tc = tcase_create("bridges");
    tcase_add_test(tc, test_parse_stats);
    tcase_add_test(tc, test_select);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(bridges_suite)
