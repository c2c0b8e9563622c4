/* Unit tests of the policy store's result parser (focus/store/store-policy.c): the lookup's
 * one row, built here as libpq would deliver it, into what the MUC decides on. NULLs, unknown
 * roles, malformed affiliation lists and results of the wrong shape. */
#include "../check-main.h"
#include "cc-autoptr.h"
#include "store.h"

#include <string.h>

#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* A result of `rows` rows of `n` text columns; values[i] NULL is SQL NULL. */
static PGresult *
make_result(int n, int rows, const char *const *values)
{
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc attrs[16];
    memset(attrs, 0, sizeof attrs);
    for (int i = 0; i < n; i++)
        attrs[i].name = (char *)"c";
    ck_assert(PQsetResultAttrs(r, n, attrs));
    for (int row = 0; row < rows; row++)
        for (int i = 0; i < n; i++)
            ck_assert(
                PQsetvalue(r, row, i, (char *)values[i], values[i] ? (int)strlen(values[i]) : -1));
    return r;
}

START_TEST(test_free_room)
{
    const char *v[9] = {"f", NULL, "f", NULL, "t", "0", NULL, NULL, NULL};
    g_autoptr(PGresult) r = make_result(9, 1, v);
    g_autoptr(FocusStoreAnswer) a = focus_store_parse_answer(r);
    ck_assert_ptr_nonnull(a);
    ck_assert(!a->reserved);
    ck_assert_ptr_null(a->password_hash);
    ck_assert(a->valid_now);
    ck_assert_uint_eq(a->max_occupants, 0);
    ck_assert_uint_eq(g_hash_table_size(a->owners), 0);
    ck_assert_int_eq(a->user_role, FOCUS_STORE_ROLE_NONE);
    ck_assert_int_eq(a->domain_role, FOCUS_STORE_ROLE_NONE);
}
END_TEST

START_TEST(test_reserved_room)
{
    const char *v[9] = {"t",
                        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA",
                        "t",
                        "12",
                        "f",
                        "1900000000",
                        "owner:" HEX_A ",member:" HEX_B,
                        "host",
                        "admin"};
    g_autoptr(PGresult) r = make_result(9, 1, v);
    g_autoptr(FocusStoreAnswer) a = focus_store_parse_answer(r);
    ck_assert_ptr_nonnull(a);
    ck_assert(a->reserved && a->members_only && !a->valid_now);
    ck_assert_str_eq(a->password_hash, v[1]);
    ck_assert_uint_eq(a->max_occupants, 12);
    ck_assert_int_eq(a->valid_until, 1900000000);
    ck_assert(g_hash_table_contains(a->owners, HEX_A));
    ck_assert(g_hash_table_contains(a->members, HEX_B));
    ck_assert(!g_hash_table_contains(a->owners, HEX_B));
    ck_assert_int_eq(a->user_role, FOCUS_STORE_ROLE_HOST);
    ck_assert_int_eq(a->domain_role, FOCUS_STORE_ROLE_ADMIN);
}
END_TEST

START_TEST(test_odd_values)
{
    /* Unknown roles are none; malformed affiliation items are skipped, good ones kept;
     * an absurd occupant limit is clamped. */
    const char *v[9] = {"t",
                        NULL,
                        "maybe",
                        "99999999999999999999",
                        "t",
                        "not a number",
                        "owner:" HEX_A ",owner:short,member:" HEX_A "00,guest:" HEX_B ",owner:"
                        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                        ",owner,:" HEX_B ",,member:" HEX_B,
                        "superuser",
                        ""};
    g_autoptr(PGresult) r = make_result(9, 1, v);
    g_autoptr(FocusStoreAnswer) a = focus_store_parse_answer(r);
    ck_assert_ptr_nonnull(a);
    ck_assert(!a->members_only);
    ck_assert_uint_eq(a->max_occupants, 100000);
    ck_assert_int_eq(a->valid_until, 0);
    ck_assert_uint_eq(g_hash_table_size(a->owners), 1);
    ck_assert(g_hash_table_contains(a->owners, HEX_A));
    ck_assert_uint_eq(g_hash_table_size(a->members), 1);
    ck_assert(g_hash_table_contains(a->members, HEX_B));
    ck_assert_int_eq(a->user_role, FOCUS_STORE_ROLE_NONE);
    ck_assert_int_eq(a->domain_role, FOCUS_STORE_ROLE_NONE);
}
END_TEST

START_TEST(test_wrong_shapes)
{
    const char *v[10] = {"f", NULL, "f", NULL, "t", "0", NULL, NULL, NULL, NULL};
    g_autoptr(PGresult) none = make_result(9, 0, v);
    ck_assert_ptr_null(focus_store_parse_answer(none));
    g_autoptr(PGresult) two = make_result(9, 2, v);
    ck_assert_ptr_null(focus_store_parse_answer(two));
    g_autoptr(PGresult) narrow = make_result(8, 1, v);
    ck_assert_ptr_null(focus_store_parse_answer(narrow));
    g_autoptr(PGresult) wide = make_result(10, 1, v);
    ck_assert_ptr_null(focus_store_parse_answer(wide));
    g_autoptr(PGresult) failed = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);
    ck_assert_ptr_null(focus_store_parse_answer(failed));
}
END_TEST

static Suite *
store_answer_suite(void)
{
    Suite *s = suite_create("store-answer");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_free_room);
    tcase_add_test(tc, test_reserved_room);
    tcase_add_test(tc, test_odd_values);
    tcase_add_test(tc, test_wrong_shapes);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(store_answer_suite)
