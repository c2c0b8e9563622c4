/* Unit tests of common/log.c: level names, filtering, and room tags that never show the
 * room's name. */
#include "../check-main.h"
#include "crypto.h"
#include "log.h"

#include <glib/gstdio.h>
#include <unistd.h>

START_TEST(test_level_names)
{
    CcLogLevel level;
    ck_assert(cc_log_level_parse("debug", &level));
    ck_assert_int_eq(level, CC_LOG_DEBUG);
    ck_assert(cc_log_level_parse("error", &level));
    ck_assert_int_eq(level, CC_LOG_ERROR);
    ck_assert(!cc_log_level_parse("verbose", &level));
    ck_assert(!cc_log_level_parse("", &level));
}
END_TEST

START_TEST(test_raise_clamps)
{
    cc_log_init(CC_LOG_WARNING, 1);
    ck_assert_int_eq(cc_log_get_level(), CC_LOG_MESSAGE);
    cc_log_init(CC_LOG_INFO, 5);
    ck_assert_int_eq(cc_log_get_level(), CC_LOG_DEBUG);
}
END_TEST

/* Runs in its own process (Check forks), so redirecting stderr is safe. */
START_TEST(test_filtering)
{
    g_autofree char *dir = g_dir_make_tmp(NULL, NULL);
    g_autofree char *path = g_build_filename(dir, "stderr", NULL);
    FILE *f = freopen(path, "w", stderr);
    ck_assert_ptr_nonnull(f);
    cc_log_init(CC_LOG_MESSAGE, 0);
    g_message("visible message");
    g_info("hidden info");
    g_debug("hidden debug");
    cc_log_init(CC_LOG_MESSAGE, 2);
    g_debug("visible debug");
    fflush(stderr);
    g_autofree char *text = NULL;
    ck_assert(g_file_get_contents(path, &text, NULL, NULL));
    ck_assert_ptr_nonnull(strstr(text, "visible message"));
    ck_assert_ptr_null(strstr(text, "hidden info"));
    ck_assert_ptr_null(strstr(text, "hidden debug"));
    ck_assert_ptr_nonnull(strstr(text, "visible debug"));
    g_unlink(path);
    g_rmdir(dir);
}
END_TEST

START_TEST(test_room_tag)
{
    guint8 raw[CC_KEY_LEN];
    memset(raw, 7, sizeof raw);
    g_autoptr(GBytes) key = g_bytes_new(raw, sizeof raw);
    char tag[CC_ROOM_TAG_SIZE], again[CC_ROOM_TAG_SIZE], upper[CC_ROOM_TAG_SIZE],
        other[CC_ROOM_TAG_SIZE];
    cc_log_room_tag(key, "secretmeeting", tag);
    cc_log_room_tag(key, "secretmeeting", again);
    cc_log_room_tag(key, "SecretMeeting", upper);
    cc_log_room_tag(key, "othermeeting", other);
    ck_assert_uint_eq(strlen(tag), CC_ROOM_TAG_LEN + 2);
    ck_assert(g_str_has_prefix(tag, "r:"));
    ck_assert_str_eq(tag, again);
    ck_assert_str_eq(tag, upper);
    ck_assert_str_ne(tag, other);
    ck_assert_ptr_null(strstr(tag, "secret"));

    /* The tag is the HMAC's prefix: operators can find the database row it refers to. */
    guint8 mac[CC_HMAC_SHA256_LEN];
    ck_assert(cc_hmac_sha256(raw, sizeof raw, "secretmeeting", 13, mac, NULL));
    char expected[16];
    g_snprintf(expected, sizeof expected, "r:%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2],
               mac[3], mac[4], mac[5]);
    ck_assert_str_eq(tag, expected);

    memset(raw, 8, sizeof raw);
    g_autoptr(GBytes) key2 = g_bytes_new(raw, sizeof raw);
    cc_log_room_tag(key2, "secretmeeting", other);
    ck_assert_str_ne(tag, other);
}
END_TEST

static Suite *
log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_add_test(tc, test_level_names);
    tcase_add_test(tc, test_raise_clamps);
    tcase_add_test(tc, test_filtering);
    tcase_add_test(tc, test_room_tag);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(log_suite)
