/* Unit tests of the grant rules of focus/muc/muc-token.c: what a token's moderator claim
 * grants, who may join or create with and without one, and that a token never takes away
 * what the sender's domain allows. (Verification itself is tested in common/test-jwt.c; the
 * whole path with a real server in tests/integration/test_jwt.py.) */
#include "../check-main.h"
#include "muc.h"

static CcJwtClaims
claims_with(CcJwtModerator moderator)
{
    CcJwtClaims c = {.room = "room", .exp = 1, .moderator = moderator};
    return c;
}

START_TEST(test_grant_from_claims)
{
    ck_assert_int_eq(focus_token_grant(NULL), FOCUS_TOKEN_NONE);
    CcJwtClaims yes = claims_with(CC_JWT_MODERATOR_YES), no = claims_with(CC_JWT_MODERATOR_NO),
                unset = claims_with(CC_JWT_MODERATOR_UNSET);
    ck_assert_int_eq(focus_token_grant(&yes), FOCUS_TOKEN_MODERATOR);
    /* Unset is not moderator: the token says nothing, so it grants the least. */
    ck_assert_int_eq(focus_token_grant(&no), FOCUS_TOKEN_PARTICIPANT);
    ck_assert_int_eq(focus_token_grant(&unset), FOCUS_TOKEN_PARTICIPANT);
    ck_assert_int_eq(focus_token_affiliation(FOCUS_TOKEN_MODERATOR), FOCUS_AFF_OWNER);
    ck_assert_int_eq(focus_token_affiliation(FOCUS_TOKEN_PARTICIPANT), FOCUS_AFF_NONE);
    ck_assert_int_eq(focus_token_affiliation(FOCUS_TOKEN_NONE), FOCUS_AFF_NONE);
}
END_TEST

/* Whether `class` holding `grant` may join an existing room / create one, and the refusal. */
static void
check(FocusDomainClass class, FocusTokenGrant grant, gboolean join, gboolean create,
      FocusRefusal refusal)
{
    FocusRefusal got = (FocusRefusal)-1;
    ck_assert_int_eq(focus_token_may_enter(class, grant, TRUE, &got), join);
    if (!join)
        ck_assert_int_eq(got, refusal);
    got = (FocusRefusal)-1;
    ck_assert_int_eq(focus_token_may_enter(class, grant, FALSE, &got), create);
    if (!create)
        ck_assert_int_eq(got, refusal);
}

START_TEST(test_who_may_enter)
{
    /* Without a token: today's domain rules. */
    check(FOCUS_DOMAIN_AUTHENTICATED, FOCUS_TOKEN_NONE, TRUE, TRUE, 0);
    check(FOCUS_DOMAIN_GUEST, FOCUS_TOKEN_NONE, TRUE, FALSE, FOCUS_REFUSE_GUEST_CREATE);
    check(FOCUS_DOMAIN_REFUSED, FOCUS_TOKEN_NONE, FALSE, FALSE, FOCUS_REFUSE_POLICY);
    /* A participant token lets anyone join, and creates nothing. */
    check(FOCUS_DOMAIN_GUEST, FOCUS_TOKEN_PARTICIPANT, TRUE, FALSE, FOCUS_REFUSE_GUEST_CREATE);
    check(FOCUS_DOMAIN_REFUSED, FOCUS_TOKEN_PARTICIPANT, TRUE, FALSE, FOCUS_REFUSE_GUEST_CREATE);
    /* ...and takes nothing from an authenticated user. */
    check(FOCUS_DOMAIN_AUTHENTICATED, FOCUS_TOKEN_PARTICIPANT, TRUE, TRUE, 0);
    /* A moderator token lets anyone create. */
    check(FOCUS_DOMAIN_GUEST, FOCUS_TOKEN_MODERATOR, TRUE, TRUE, 0);
    check(FOCUS_DOMAIN_REFUSED, FOCUS_TOKEN_MODERATOR, TRUE, TRUE, 0);
    check(FOCUS_DOMAIN_AUTHENTICATED, FOCUS_TOKEN_MODERATOR, TRUE, TRUE, 0);
}
END_TEST

static Suite *
token_suite(void)
{
    Suite *s = suite_create("token");
    TCase *tc = tcase_create("grants");
    tcase_add_test(tc, test_grant_from_claims);
    tcase_add_test(tc, test_who_may_enter);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(token_suite)
