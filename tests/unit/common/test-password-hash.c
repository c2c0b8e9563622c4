/* Unit tests of common/password-hash.c: round trips, wrong passwords, a hash made by another
 * implementation (python argon2-cffi), stored strings that are corrupt, too weak or too
 * costly, length limits, and that the dummy verification costs as much as a real one. */
#include "../check-main.h"
#include "cc-error.h"
#include "password-hash.h"

#include <string.h>

START_TEST(test_round_trip)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *a = cc_password_hash("correct horse", &error);
    ck_assert_msg(a != NULL, "%s", error ? error->message : "");
    ck_assert(g_str_has_prefix(a, "$argon2id$v=19$m=19456,t=2,p=1$"));
    ck_assert(cc_password_verify(a, "correct horse", &error));
    ck_assert(!cc_password_verify(a, "correct horsE", &error));
    ck_assert_ptr_null(error); /* a wrong password is not an error */
    ck_assert(!cc_password_verify(a, "", &error));
    ck_assert_ptr_null(error);
    /* A fresh salt each time. */
    g_autofree char *b = cc_password_hash("correct horse", NULL);
    ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(test_other_implementation)
{
    /* argon2-cffi 21.1 (PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)). */
    static const char encoded[] = "$argon2id$v=19$m=19456,t=2,p=1$s92pq9CACwgl1T7aroyceg$"
                                  "7pLN2P20JfhORmMbB9tubgnoo2Fgm8qhjhtRuJyczeU";
    ck_assert(cc_password_verify(encoded, "correct horse battery staple", NULL));
    ck_assert(!cc_password_verify(encoded, "correct horse battery stapler", NULL));
}
END_TEST

START_TEST(test_stored_strings_refused)
{
    const char *bad[] = {
        "",
        "plain text password",
        "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAA",    /* not the id variant */
        "$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAA",   /* old version */
        "$argon2id$v=19$m=1024,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAA",    /* too little memory */
        "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAA",    /* too little work */
        "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAA", /* 4 GiB */
        "$argon2id$v=19$m=19456,t=1000,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAA",
        "$argon2id$v=19$m=19456,t=2,p=64$c2FsdHNhbHRzYWx0c2FsdA$AAAA",
        "$argon2id$v=19$m=19456,t=0,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAA",
        "$argon2id$v=19$m=19456,t=2,p=1$", /* nothing after the parameters */
        "$argon2id$v=19$m=19456,t=2,p=1$!!!$???",
        "$argon2id$v=19$m=-5,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAA",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        ck_assert_msg(!cc_password_verify(bad[i], "x", &error), "accepted %s", bad[i]);
        ck_assert_msg(g_error_matches(error, CC_ERROR, CC_ERROR_INVALID), "no error for '%s'",
                      bad[i]);
    }
    g_autofree char *long_string = g_strnfill(300, 'a');
    g_autoptr(GError) error = NULL;
    ck_assert(!cc_password_verify(long_string, "x", &error));
    ck_assert_ptr_nonnull(error);
}
END_TEST

START_TEST(test_password_lengths)
{
    g_autoptr(GError) error = NULL;
    ck_assert_ptr_null(cc_password_hash("", &error));
    g_clear_error(&error);
    g_autofree char *too_long = g_strnfill(CC_PASSWORD_MAX_LEN + 1, 'p');
    ck_assert_ptr_null(cc_password_hash(too_long, &error));
    g_clear_error(&error);
    g_autofree char *longest = g_strnfill(CC_PASSWORD_MAX_LEN, 'p');
    g_autofree char *encoded = cc_password_hash(longest, &error);
    ck_assert_ptr_nonnull(encoded);
    ck_assert(cc_password_verify(encoded, longest, NULL));
    ck_assert(!cc_password_verify(encoded, too_long, &error)); /* refused, not truncated */
    ck_assert_ptr_null(error);
}
END_TEST

/* The dummy must cost what a real verification costs (same parameters), or a missing room
 * would answer faster than a wrong password. Medians of CPU time, tolerant of noise. */
static gint64
median_us(gboolean dummy, const char *encoded)
{
    gint64 samples[7];
    for (gsize i = 0; i < G_N_ELEMENTS(samples); i++) {
        gint64 start = g_get_monotonic_time();
        if (dummy)
            cc_password_verify_dummy("guess");
        else
            (void)cc_password_verify(encoded, "guess", NULL);
        samples[i] = g_get_monotonic_time() - start;
    }
    for (gsize i = 1; i < G_N_ELEMENTS(samples); i++)
        for (gsize j = i; j > 0 && samples[j - 1] > samples[j]; j--) {
            gint64 t = samples[j];
            samples[j] = samples[j - 1];
            samples[j - 1] = t;
        }
    return samples[G_N_ELEMENTS(samples) / 2];
}

START_TEST(test_dummy_costs_the_same)
{
    g_autofree char *encoded = cc_password_hash("the real one", NULL);
    gint64 real = median_us(FALSE, encoded), dummy = median_us(TRUE, NULL);
    ck_assert_msg(dummy * 2 > real && real * 2 > dummy,
                  "real %" G_GINT64_FORMAT " us, dummy %" G_GINT64_FORMAT " us", real, dummy);
}
END_TEST

static Suite *
password_suite(void)
{
    Suite *s = suite_create("password-hash");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_other_implementation);
    tcase_add_test(tc, test_stored_strings_refused);
    tcase_add_test(tc, test_password_lengths);
    tcase_add_test(tc, test_dummy_costs_the_same);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(password_suite)
