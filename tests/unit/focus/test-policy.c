/* Unit tests of focus/policy.c: domain classes, lockouts that start at the threshold and
 * double, per-room lockouts, the stanza rate limit, the rate of flood refusals and forgetting
 * idle entries. */
#include "../check-main.h"
#include "policy.h"

static const char *const auth_domains[] = {"example.org", NULL};
static const char *const guest_domains[] = {"Guest.Example.org", NULL};

/* Tests set the time: lockouts, rate limits and forgetting are about time, and a test that
 * sleeps is slow and flaky on a loaded machine. */
static gint64 fake_now;

static gint64
fake_clock(void)
{
    return fake_now;
}

static void
advance_ms(gint64 ms)
{
    fake_now += ms * 1000;
}

static FocusPolicy *
make_policy(guint lockout_s, guint rate)
{
    FocusPolicySettings s = {.jid_failures = 3,
                             .room_failures = 5,
                             .window_s = 60,
                             .lockout_s = lockout_s,
                             .lockout_max_s = 4 * lockout_s,
                             .stanzas_per_second = rate,
                             .clock = fake_clock};
    fake_now = 1000 * G_USEC_PER_SEC;
    return focus_policy_new(auth_domains, guest_domains, &s);
}

static FocusDomainClass
classify(FocusPolicy *p, const char *jid)
{
    g_autoptr(CcJid) j = cc_jid_parse(jid, NULL);
    return focus_policy_classify(p, j);
}

START_TEST(test_classify)
{
    FocusPolicy *p = make_policy(1, 0);
    ck_assert_int_eq(classify(p, "alice@example.org/x"), FOCUS_DOMAIN_AUTHENTICATED);
    ck_assert_int_eq(classify(p, "Alice@EXAMPLE.org"), FOCUS_DOMAIN_AUTHENTICATED);
    ck_assert_int_eq(classify(p, "abc@guest.example.org/r"), FOCUS_DOMAIN_GUEST);
    ck_assert_int_eq(classify(p, "mallory@evil.example/r"), FOCUS_DOMAIN_REFUSED);
    ck_assert_int_eq(classify(p, "sub.example.org"), FOCUS_DOMAIN_REFUSED);
    /* A server or component address is never a user. */
    ck_assert_int_eq(classify(p, "example.org"), FOCUS_DOMAIN_REFUSED);
    focus_policy_free(p);
}
END_TEST

START_TEST(test_jid_lockout_threshold_and_growth)
{
    FocusPolicy *p = make_policy(1, 0);
    ck_assert(!focus_policy_record_failure(p, "eve@x", "r:1"));
    ck_assert(!focus_policy_record_failure(p, "eve@x", "r:2"));
    ck_assert(!focus_policy_is_locked(p, "eve@x", "r:3"));
    ck_assert(focus_policy_record_failure(p, "eve@x", "r:3"));
    ck_assert(focus_policy_is_locked(p, "eve@x", NULL));
    ck_assert(focus_policy_is_locked(p, "eve@x", "r:anything"));
    ck_assert(!focus_policy_is_locked(p, "bob@x", NULL));
    advance_ms(999);
    ck_assert(focus_policy_is_locked(p, "eve@x", NULL));
    advance_ms(1);
    ck_assert(!focus_policy_is_locked(p, "eve@x", NULL));
    /* The second lockout lasts twice as long. */
    for (int i = 0; i < 3; i++)
        focus_policy_record_failure(p, "eve@x", "r:4");
    advance_ms(1999);
    ck_assert(focus_policy_is_locked(p, "eve@x", NULL));
    advance_ms(1);
    ck_assert(!focus_policy_is_locked(p, "eve@x", NULL));
    focus_policy_free(p);
}
END_TEST

START_TEST(test_room_lockout)
{
    FocusPolicy *p = make_policy(30, 0);
    gboolean started = FALSE;
    for (int i = 0; i < 5; i++) {
        char who[16];
        g_snprintf(who, sizeof who, "g%d@guests", i);
        started = focus_policy_record_failure(p, who, "r:room") || started;
    }
    ck_assert(started);
    ck_assert(focus_policy_is_locked(p, "anyone@else", "r:room"));
    ck_assert(!focus_policy_is_locked(p, "anyone@else", "r:other"));
    focus_policy_free(p);
}
END_TEST

START_TEST(test_rate_limit)
{
    FocusPolicy *p = make_policy(1, 10);
    int allowed = 0;
    for (int i = 0; i < 100; i++)
        allowed += focus_policy_allow_stanza(p, "a@x/r");
    /* A burst of twice the rate, then nothing until tokens come back. */
    ck_assert_int_ge(allowed, 20);
    ck_assert_int_le(allowed, 21);
    ck_assert(focus_policy_allow_stanza(p, "b@x/r"));
    ck_assert_int_eq(allowed, 20); /* the clock stood still: exactly the burst */
    advance_ms(99);                /* 10 a second: a token takes 100 ms */
    ck_assert(!focus_policy_allow_stanza(p, "a@x/r"));
    advance_ms(1);
    ck_assert(focus_policy_allow_stanza(p, "a@x/r"));
    ck_assert(!focus_policy_allow_stanza(p, "a@x/r"));
    focus_policy_free(p);
    FocusPolicy *unlimited = make_policy(1, 0);
    for (int i = 0; i < 1000; i++)
        ck_assert(focus_policy_allow_stanza(unlimited, "a@x/r"));
    focus_policy_free(unlimited);
}
END_TEST

START_TEST(test_sweep_forgets)
{
    FocusPolicy *p = make_policy(1, 1000);
    for (int i = 0; i < 50; i++) {
        char who[16];
        g_snprintf(who, sizeof who, "u%d@x/r", i);
        focus_policy_allow_stanza(p, who);
    }
    ck_assert_uint_eq(focus_policy_tracked(p), 50);
    focus_policy_sweep(p); /* not yet: their buckets are not full again */
    ck_assert_uint_eq(focus_policy_tracked(p), 50);
    advance_ms(2); /* at 1000 a second, two tokens take 2 ms */
    focus_policy_sweep(p);
    ck_assert_uint_eq(focus_policy_tracked(p), 0);
    focus_policy_free(p);
}
END_TEST

START_TEST(test_refusals_rate_limited)
{
    FocusPolicy *p = make_policy(1, 0);
    /* The first refusal of a second is answered, the others of that second are not. */
    ck_assert(focus_policy_allow_refusal(p, "flood@x/r"));
    for (int i = 0; i < 1000; i++)
        ck_assert(!focus_policy_allow_refusal(p, "flood@x/r"));
    /* Sessions are counted apart, even of one bare JID. */
    ck_assert(focus_policy_allow_refusal(p, "flood@x/other"));
    fake_now += G_USEC_PER_SEC - 1;
    ck_assert(!focus_policy_allow_refusal(p, "flood@x/r"));
    fake_now += 1;
    ck_assert(focus_policy_allow_refusal(p, "flood@x/r"));
    ck_assert_uint_eq(focus_policy_tracked(p), 2);
    /* A second later nobody needs remembering. */
    fake_now += G_USEC_PER_SEC;
    focus_policy_sweep(p);
    ck_assert_uint_eq(focus_policy_tracked(p), 0);
    focus_policy_free(p);
}
END_TEST

static Suite *
policy_suite(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("policy");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_classify);
    tcase_add_test(tc, test_jid_lockout_threshold_and_growth);
    tcase_add_test(tc, test_room_lockout);
    tcase_add_test(tc, test_rate_limit);
    tcase_add_test(tc, test_sweep_forgets);
    tcase_add_test(tc, test_refusals_rate_limited);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(policy_suite)
