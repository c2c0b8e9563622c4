/* Unit tests of common/crypto.c: HMAC vectors, constant-time comparison, base64url edge
 * cases and key files with their permission checks. */
#include "../check-main.h"
#include "cc-error.h"
#include "crypto.h"

#include <glib/gstdio.h>
#include <sys/stat.h>

static char *
hex(const guint8 *data, gsize len)
{
    GString *out = g_string_new(NULL);
    for (gsize i = 0; i < len; i++)
        g_string_append_printf(out, "%02x", data[i]);
    return g_string_free(out, FALSE);
}

/* RFC 4231 test cases 1 and 2. */
START_TEST(test_hmac_rfc4231)
{
    guint8 key1[20];
    memset(key1, 0x0b, sizeof key1);
    guint8 out[CC_HMAC_SHA256_LEN];
    ck_assert(cc_hmac_sha256(key1, sizeof key1, "Hi There", 8, out, NULL));
    g_autofree char *h1 = hex(out, sizeof out);
    ck_assert_str_eq(h1, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    ck_assert(
        cc_hmac_sha256((const guint8 *)"Jefe", 4, "what do ya want for nothing?", 28, out, NULL));
    g_autofree char *h2 = hex(out, sizeof out);
    ck_assert_str_eq(h2, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}
END_TEST

START_TEST(test_const_time_equal)
{
    ck_assert(cc_const_time_equal("abc", 3, "abc", 3));
    ck_assert(!cc_const_time_equal("abc", 3, "abd", 3));
    ck_assert(!cc_const_time_equal("abc", 3, "abcd", 4));
    ck_assert(cc_const_time_equal("", 0, "", 0));
    ck_assert(cc_secret_equal("correct horse", "correct horse"));
    ck_assert(!cc_secret_equal("correct horse", "correct hors"));
    ck_assert(!cc_secret_equal("", "x"));
    ck_assert(cc_secret_equal("", ""));
}
END_TEST

START_TEST(test_random)
{
    guint8 a[32] = {0}, b[32] = {0};
    ck_assert(cc_random_bytes(a, sizeof a, NULL));
    ck_assert(cc_random_bytes(b, sizeof b, NULL));
    ck_assert(memcmp(a, b, sizeof a) != 0);
}
END_TEST

START_TEST(test_base64url_roundtrip)
{
    /* RFC 4648 section 10 vectors, unpadded and in the URL alphabet. */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (gsize i = 0; i < G_N_ELEMENTS(plain); i++) {
        g_autofree char *enc = cc_base64url_encode((const guint8 *)plain[i], strlen(plain[i]));
        ck_assert_str_eq(enc, coded[i]);
        gsize len = 0;
        g_autofree guint8 *dec = cc_base64url_decode(coded[i], &len, NULL);
        ck_assert_ptr_nonnull(dec);
        ck_assert_uint_eq(len, strlen(plain[i]));
        ck_assert(memcmp(dec, plain[i], len) == 0);
    }
    guint8 all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (guint8)i;
    g_autofree char *enc = cc_base64url_encode(all, sizeof all);
    ck_assert(strchr(enc, '+') == NULL && strchr(enc, '/') == NULL && strchr(enc, '=') == NULL);
    gsize len = 0;
    g_autofree guint8 *dec = cc_base64url_decode(enc, &len, NULL);
    ck_assert_uint_eq(len, 256);
    ck_assert(memcmp(dec, all, 256) == 0);
}
END_TEST

START_TEST(test_base64url_rejects)
{
    static const char *const bad[] = {"Zg==", "Zm9v YQ", "Zm+v", "Zm/v",
                                      "Z",    "Zh",      "Zm9",  "\xc3\xa9"};
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        gsize len = 0;
        /* "Zm9" has non-zero leftover bits: "fo" is only ever "Zm8". */
        guint8 *dec = cc_base64url_decode(bad[i], &len, &error);
        if (dec != NULL)
            ck_abort_msg("'%s' was accepted", bad[i]);
        ck_assert(g_error_matches(error, CC_ERROR, CC_ERROR_INVALID));
    }
}
END_TEST

START_TEST(test_key_files)
{
    g_autofree char *dir = g_dir_make_tmp(NULL, NULL);
    g_autofree char *path = g_build_filename(dir, "room.key", NULL);
    g_autoptr(GError) error = NULL;
    ck_assert(cc_key_file_write(path, &error));
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(st.st_size, CC_KEY_LEN);
    g_autoptr(GBytes) key = cc_key_file_load(path, &error);
    ck_assert_ptr_nonnull(key);
    ck_assert_uint_eq(g_bytes_get_size(key), CC_KEY_LEN);

    /* Never overwrites. */
    ck_assert(!cc_key_file_write(path, &error));
    ck_assert(g_error_matches(error, CC_ERROR, CC_ERROR_KEY_FILE));
    g_clear_error(&error);

    /* Group-readable keys are refused. */
    g_chmod(path, 0640);
    ck_assert_ptr_null(cc_key_file_load(path, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "chmod 600"));
    g_clear_error(&error);

    /* Wrong size. */
    g_autofree char *shortkey = g_build_filename(dir, "short.key", NULL);
    ck_assert(g_file_set_contents(shortkey, "0123456789", -1, NULL));
    g_chmod(shortkey, 0600);
    ck_assert_ptr_null(cc_key_file_load(shortkey, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "exactly 32 bytes"));
    g_clear_error(&error);

    /* Not a regular file. */
    ck_assert_ptr_null(cc_key_file_load(dir, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "not a regular file"));
    g_clear_error(&error);

    g_unlink(path);
    g_unlink(shortkey);
    g_rmdir(dir);
}
END_TEST

START_TEST(test_secret_file_read)
{
    g_autofree char *dir = g_dir_make_tmp(NULL, NULL);
    g_autofree char *path = g_build_filename(dir, "secret", NULL);
    g_autoptr(GError) error = NULL;
    ck_assert(g_file_set_contents(path, "s3cret\r\n", -1, NULL));
    g_chmod(path, 0600);
    g_autofree char *secret = cc_secret_file_read(path, &error);
    ck_assert_str_eq(secret, "s3cret");
    ck_assert(g_file_set_contents(path, "\n", -1, NULL));
    g_chmod(path, 0600);
    ck_assert_ptr_null(cc_secret_file_read(path, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "empty"));
    g_unlink(path);
    g_rmdir(dir);
}
END_TEST

static Suite *
crypto_suite(void)
{
    Suite *s = suite_create("crypto");
    TCase *tc = tcase_create("crypto");
    tcase_add_test(tc, test_hmac_rfc4231);
    tcase_add_test(tc, test_const_time_equal);
    tcase_add_test(tc, test_random);
    tcase_add_test(tc, test_base64url_roundtrip);
    tcase_add_test(tc, test_base64url_rejects);
    tcase_add_test(tc, test_key_files);
    tcase_add_test(tc, test_secret_file_read);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(crypto_suite)
