/* Unit tests of common/jid.c: the shapes a JID may and may not take. */
#include "../check-main.h"
#include "cc-error.h"
#include "jid.h"

START_TEST(test_parse_forms)
{
    g_autoptr(CcJid) full = cc_jid_parse("Alice@Example.org/phone/with@slash", NULL);
    ck_assert_ptr_nonnull(full);
    ck_assert_str_eq(full->local, "Alice");
    ck_assert_str_eq(full->domain, "Example.org");
    ck_assert_str_eq(full->resource, "phone/with@slash");
    ck_assert(!cc_jid_is_bare(full));
    g_autofree char *text = cc_jid_to_string(full);
    ck_assert_str_eq(text, "Alice@Example.org/phone/with@slash");
    g_autofree char *bare = cc_jid_bare_string(full);
    ck_assert_str_eq(bare, "Alice@Example.org");
    g_autofree char *key = cc_jid_bare_key(full);
    ck_assert_str_eq(key, "alice@example.org");

    g_autoptr(CcJid) domain = cc_jid_parse("conference.example.org", NULL);
    ck_assert_ptr_null(domain->local);
    ck_assert_ptr_null(domain->resource);
    ck_assert(cc_jid_is_bare(domain));

    g_autoptr(CcJid) dres = cc_jid_parse("example.org/res", NULL);
    ck_assert_ptr_null(dres->local);
    ck_assert_str_eq(dres->resource, "res");

    g_autoptr(CcJid) dot = cc_jid_parse("a@example.org.", NULL);
    ck_assert_str_eq(dot->domain, "example.org");

    g_autoptr(CcJid) utf8 = cc_jid_parse("\xc3\xa9l\xc3\xa8ve@\xc3\xa9"
                                         "cole.example/caf\xc3\xa9",
                                         NULL);
    ck_assert_ptr_nonnull(utf8);

    g_autoptr(CcJid) v6 = cc_jid_parse("a@[::1]/r", NULL);
    ck_assert_ptr_nonnull(v6);
    ck_assert_str_eq(v6->domain, "[::1]");
}
END_TEST

START_TEST(test_reject)
{
    static const char *const bad[] = {
        "",         "@example.org", "a@",         "a@/r",        "a@example.org/", "a b@x",
        "a\"b@x",   "a&b@x",        "a'b@x",      "a:b@x",       "a<b@x",          "a>b@x",
        "a@b@x",    "a@ex ample",   "a@.example", "a@ex..ample", "a@x:5222",       "a\x01@x",
        "a@x/\x7f", "\xff@x",       "a@\xc3",     "/r",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(CcJid) jid = cc_jid_parse(bad[i], &error);
        if (jid != NULL)
            ck_abort_msg("'%s' (case %zu) was accepted", bad[i], i);
        ck_assert(g_error_matches(error, CC_ERROR, CC_ERROR_INVALID));
    }
    g_autoptr(GError) error = NULL;
    ck_assert_ptr_null(cc_jid_parse(NULL, &error));
}
END_TEST

START_TEST(test_length_limits)
{
    g_autofree char *local_ok = g_strnfill(CC_JID_PART_MAX, 'a');
    g_autofree char *local_long = g_strnfill(CC_JID_PART_MAX + 1, 'a');
    g_autofree char *ok = g_strconcat(local_ok, "@x/", local_ok, NULL);
    g_autofree char *bad_local = g_strconcat(local_long, "@x", NULL);
    g_autofree char *bad_domain = g_strconcat("a@", local_long, NULL);
    g_autofree char *bad_res = g_strconcat("a@x/", local_long, NULL);
    g_autoptr(CcJid) jid = cc_jid_parse(ok, NULL);
    ck_assert_ptr_nonnull(jid);
    ck_assert_ptr_null(cc_jid_parse(bad_local, NULL));
    ck_assert_ptr_null(cc_jid_parse(bad_domain, NULL));
    ck_assert_ptr_null(cc_jid_parse(bad_res, NULL));
}
END_TEST

START_TEST(test_compare)
{
    g_autoptr(CcJid) a = cc_jid_parse("Alice@EXAMPLE.org/Phone", NULL);
    g_autoptr(CcJid) b = cc_jid_parse("alice@example.org/Phone", NULL);
    g_autoptr(CcJid) c = cc_jid_parse("alice@example.org/phone", NULL);
    g_autoptr(CcJid) d = cc_jid_parse("alice@example.org", NULL);
    g_autoptr(CcJid) e = cc_jid_parse("example.org", NULL);
    ck_assert(cc_jid_equal(a, b));
    ck_assert(!cc_jid_equal(a, c)); /* resources are case-sensitive */
    ck_assert(cc_jid_bare_equal(a, c));
    ck_assert(cc_jid_bare_equal(a, d));
    ck_assert(!cc_jid_equal(a, d));
    ck_assert(!cc_jid_bare_equal(d, e));
    g_autoptr(CcJid) bare = cc_jid_bare(a);
    ck_assert(cc_jid_is_bare(bare));
    ck_assert(cc_jid_equal(bare, d));
    g_autoptr(CcJid) copy = cc_jid_copy(a);
    ck_assert(cc_jid_equal(copy, a));
}
END_TEST

START_TEST(test_new)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CcJid) ok = cc_jid_new("room", "conference.example", "nick", &error);
    ck_assert_ptr_nonnull(ok);
    ck_assert_ptr_null(cc_jid_new("bad room", "conference.example", NULL, &error));
    g_clear_error(&error);
    ck_assert_ptr_null(cc_jid_new("room", NULL, NULL, &error));
}
END_TEST

static Suite *
jid_suite(void)
{
    Suite *s = suite_create("jid");
    TCase *tc = tcase_create("jid");
    tcase_add_test(tc, test_parse_forms);
    tcase_add_test(tc, test_reject);
    tcase_add_test(tc, test_length_limits);
    tcase_add_test(tc, test_compare);
    tcase_add_test(tc, test_new);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(jid_suite)
