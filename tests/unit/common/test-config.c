/* Unit tests of common/config.c: typed getters, defaults, secrets in files, and errors that
 * name the file, the group and the key. */
#include "../check-main.h"
#include "cc-error.h"
#include "config.h"

#include <glib/gstdio.h>

static const char *const colours[] = {"red", "green", NULL};

static const CcConfigKey schema[] = {
    {"xmpp", "server", CC_CONFIG_STRING, FALSE, "127.0.0.1"},
    {"xmpp", "port", CC_CONFIG_INT, FALSE, "5347", 1, 65535},
    {"xmpp", "domain", CC_CONFIG_STRING, TRUE},
    {"xmpp", "secret", CC_CONFIG_SECRET, TRUE},
    {"misc", "enabled", CC_CONFIG_BOOL, FALSE, "false"},
    {"misc", "domains", CC_CONFIG_LIST, FALSE, ""},
    {"misc", "colour", CC_CONFIG_CHOICE, FALSE, "red", 0, 0, colours},
    {"misc", "listen", CC_CONFIG_LISTEN, FALSE, "127.0.0.1:9000"},
};

static CcConfig *
load(const char *text, GError **error)
{
    return cc_config_load_data("test.conf", text, schema, G_N_ELEMENTS(schema), error);
}

static void
assert_error(const char *text, const char *expected)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CcConfig) config = load(text, &error);
    ck_assert_ptr_null(config);
    ck_assert_ptr_nonnull(error);
    ck_assert(g_error_matches(error, CC_ERROR, CC_ERROR_CONFIG));
    if (strstr(error->message, expected) == NULL)
        ck_abort_msg("error '%s' does not contain '%s'", error->message, expected);
}

START_TEST(test_defaults_and_values)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CcConfig) config = load("[xmpp]\ndomain = conf.example\nsecret = s\n"
                                      "[misc]\ndomains = a.example , ,b.example\n",
                                      &error);
    ck_assert_ptr_nonnull(config);
    ck_assert_str_eq(cc_config_get_string(config, "xmpp", "server"), "127.0.0.1");
    ck_assert_int_eq(cc_config_get_int(config, "xmpp", "port"), 5347);
    ck_assert_str_eq(cc_config_get_string(config, "xmpp", "domain"), "conf.example");
    ck_assert_str_eq(cc_config_get_string(config, "xmpp", "secret"), "s");
    ck_assert(!cc_config_get_bool(config, "misc", "enabled"));
    ck_assert_str_eq(cc_config_get_string(config, "misc", "colour"), "red");
    const char *const *domains = cc_config_get_list(config, "misc", "domains");
    ck_assert_str_eq(domains[0], "a.example");
    ck_assert_str_eq(domains[1], "b.example");
    ck_assert_ptr_null(domains[2]);
}
END_TEST

START_TEST(test_typed_values)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CcConfig) config = load("[xmpp]\ndomain = d\nsecret = s\nport = 15347\n"
                                      "[misc]\nenabled = true\ncolour = green\nlisten = [::1]:80\n",
                                      &error);
    ck_assert_ptr_nonnull(config);
    ck_assert_int_eq(cc_config_get_int(config, "xmpp", "port"), 15347);
    ck_assert(cc_config_get_bool(config, "misc", "enabled"));
    ck_assert_str_eq(cc_config_get_string(config, "misc", "colour"), "green");
    ck_assert_str_eq(cc_config_get_string(config, "misc", "listen"), "[::1]:80");
    ck_assert_ptr_null(cc_config_get_list(config, "misc", "domains")[0]);
}
END_TEST

START_TEST(test_errors_name_file_group_key)
{
    assert_error("[xmpp]\ndomain = d\nsecret = s\nprot = 1\n",
                 "test.conf: [xmpp] prot: unknown key");
    assert_error("[xmpp]\ndomain = d\nsecret = s\n[bogus]\na = 1\n",
                 "test.conf: [bogus]: unknown group");
    assert_error("[xmpp]\nsecret = s\n", "test.conf: [xmpp] domain: missing required key");
    assert_error("[xmpp]\ndomain =\nsecret = s\n", "[xmpp] domain: missing required key");
    assert_error("[xmpp]\ndomain = d\nsecret = s\nport = abc\n",
                 "[xmpp] port: expected an integer, got 'abc'");
    assert_error("[xmpp]\ndomain = d\nsecret = s\nport = 70000\n",
                 "[xmpp] port: 70000 is out of range 1..65535");
    assert_error("[xmpp]\ndomain = d\nsecret = s\nport = 12x\n", "[xmpp] port");
    assert_error("[xmpp]\ndomain = d\nsecret = s\n[misc]\nenabled = yes\n",
                 "[misc] enabled: expected true or false");
    assert_error("[xmpp]\ndomain = d\nsecret = s\n[misc]\ncolour = blue\n",
                 "[misc] colour: 'blue' is not one of: red, green");
    assert_error("[xmpp]\ndomain = d\nsecret = s\n[misc]\nlisten = localhost:80\n",
                 "[misc] listen: expected IP:PORT");
    assert_error("[xmpp]\ndomain = d\nsecret = s\n[misc]\nlisten = 1.2.3.4:99999\n",
                 "[misc] listen");
    assert_error("[xmpp]\ndomain = d\nsecret = s\nsecret_file = /x\n",
                 "[xmpp] secret: set either secret or secret_file, not both");
    assert_error("[xmpp]\ndomain = d\nsecret = s\ndomain_file = /x\n",
                 "[xmpp] domain_file: unknown key");
    assert_error("this is not a key file\n", "test.conf: ");
    /* GLib's own list separator is refused with a hint, never read as one odd item. */
    assert_error("[xmpp]\ndomain = d\nsecret = s\n[misc]\ndomains = a.example;b.example\n",
                 "test.conf: [misc] domains: 'a.example;b.example' contains ';': list items are "
                 "separated by commas");
    assert_error("[xmpp]\ndomain = d\nsecret = s\n[misc]\ndomains = a.example, b.example;\n",
                 "[misc] domains");
}
END_TEST

START_TEST(test_secret_file)
{
    g_autofree char *dir = g_dir_make_tmp(NULL, NULL);
    g_autofree char *path = g_build_filename(dir, "secret", NULL);
    ck_assert(g_file_set_contents(path, "hunter2\n", -1, NULL));
    g_chmod(path, 0600);
    g_autofree char *text = g_strdup_printf("[xmpp]\ndomain = d\nsecret_file = %s\n", path);
    g_autoptr(GError) error = NULL;
    g_autoptr(CcConfig) config = load(text, &error);
    ck_assert_ptr_nonnull(config);
    ck_assert_str_eq(cc_config_get_string(config, "xmpp", "secret"), "hunter2");

    /* A secret others can read is refused, naming the key. */
    g_chmod(path, 0644);
    assert_error(text, "[xmpp] secret_file: ");
    assert_error(text, "chmod 600");
    g_unlink(path);
    assert_error(text, "[xmpp] secret_file: ");
    g_rmdir(dir);
}
END_TEST

START_TEST(test_load_missing_file)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CcConfig) config =
        cc_config_load("/nonexistent/conclave.conf", schema, G_N_ELEMENTS(schema), &error);
    ck_assert_ptr_null(config);
    ck_assert_ptr_nonnull(strstr(error->message, "/nonexistent/conclave.conf: cannot read"));
}
END_TEST

START_TEST(test_parse_listen)
{
    g_autofree char *host = NULL;
    guint16 port = 0;
    ck_assert(cc_config_parse_listen("127.0.0.1:0", &host, &port));
    ck_assert_str_eq(host, "127.0.0.1");
    ck_assert_int_eq(port, 0);
    ck_assert(!cc_config_parse_listen("127.0.0.1", NULL, NULL));
    ck_assert(!cc_config_parse_listen("[::1", NULL, NULL));
    ck_assert(!cc_config_parse_listen("[::1]80", NULL, NULL));
    ck_assert(!cc_config_parse_listen(":80", NULL, NULL));
    ck_assert(!cc_config_parse_listen("127.0.0.1:-1", NULL, NULL));
}
END_TEST

static Suite *
config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, test_defaults_and_values);
    tcase_add_test(tc, test_typed_values);
    tcase_add_test(tc, test_errors_name_file_group_key);
    tcase_add_test(tc, test_secret_file);
    tcase_add_test(tc, test_load_missing_file);
    tcase_add_test(tc, test_parse_listen);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(config_suite)
