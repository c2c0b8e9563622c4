/* Unit tests of common/stanza.c: replies and errors keep ids and swap addresses, and error
 * conditions are read back correctly from what peers send. */
#include "../check-main.h"
#include "cc-autoptr.h"
#include "stanza.h"

static xmpp_ctx_t *ctx;

static void
setup(void)
{
    xmpp_initialize();
    ctx = xmpp_ctx_new(NULL, NULL);
}

static void
teardown(void)
{
    xmpp_ctx_free(ctx);
}

static char *
to_text(xmpp_stanza_t *stanza)
{
    char *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(xmpp_stanza_to_text(stanza, &buf, &len), XMPP_EOK);
    char *copy = g_strndup(buf, len);
    xmpp_free(ctx, buf);
    return copy;
}

START_TEST(test_error_reply)
{
    g_autoptr(xmpp_stanza_t) req = xmpp_stanza_new_from_string(
        ctx, "<iq type='get' id='a1' from='u@x/r' to='conf.x'><query xmlns='q'/></iq>");
    g_autoptr(xmpp_stanza_t) reply =
        cc_stanza_error_reply(req, "cancel", "service-unavailable", "no <thanks> & bye");
    ck_assert_str_eq(xmpp_stanza_get_type(reply), "error");
    ck_assert_str_eq(xmpp_stanza_get_id(reply), "a1");
    ck_assert_str_eq(xmpp_stanza_get_to(reply), "u@x/r");
    ck_assert_str_eq(xmpp_stanza_get_from(reply), "conf.x");
    /* The serialized error element, whose children keep their order. */
    xmpp_stanza_t *error = xmpp_stanza_get_child_by_name(reply, "error");
    g_autofree char *text = to_text(error);
    ck_assert_str_eq(text, "<error type=\"cancel\"><service-unavailable "
                           "xmlns=\"urn:ietf:params:xml:ns:xmpp-stanzas\"/><text "
                           "xmlns=\"urn:ietf:params:xml:ns:xmpp-stanzas\">no &lt;thanks&gt; &amp; "
                           "bye</text></error>");
    ck_assert_ptr_null(xmpp_stanza_get_child_by_name(reply, "query"));
    ck_assert_str_eq(cc_stanza_error_condition(reply), "service-unavailable");
}
END_TEST

START_TEST(test_result)
{
    g_autoptr(xmpp_stanza_t) req =
        xmpp_stanza_new_from_string(ctx, "<iq type='set' id='z' from='a@b' to='c'><x/></iq>");
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(req);
    ck_assert_str_eq(xmpp_stanza_get_type(reply), "result");
    ck_assert_str_eq(xmpp_stanza_get_id(reply), "z");
    ck_assert_str_eq(xmpp_stanza_get_to(reply), "a@b");
    ck_assert_str_eq(xmpp_stanza_get_from(reply), "c");
    ck_assert_ptr_null(xmpp_stanza_get_children(reply));
    ck_assert_ptr_eq(cc_stanza_first_element(req), xmpp_stanza_get_child_by_name(req, "x"));
}
END_TEST

START_TEST(test_error_condition)
{
    g_autoptr(xmpp_stanza_t) a = xmpp_stanza_new_from_string(
        ctx, "<iq type='error'><error type='auth'><text xmlns='urn:ietf:params:xml:ns:xmpp-"
             "stanzas'>t</text><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
             "</error></iq>");
    ck_assert_str_eq(cc_stanza_error_condition(a), "not-authorized");
    g_autoptr(xmpp_stanza_t) b = xmpp_stanza_new_from_string(
        ctx, "<iq type='error'><error type='auth'><not-authorized/></error></iq>");
    ck_assert_ptr_null(cc_stanza_error_condition(b));
    g_autoptr(xmpp_stanza_t) c = xmpp_stanza_new_from_string(ctx, "<iq type='result'/>");
    ck_assert_ptr_null(cc_stanza_error_condition(c));
}
END_TEST

START_TEST(test_ids)
{
    g_autofree char *a = cc_stanza_new_id();
    g_autofree char *b = cc_stanza_new_id();
    ck_assert_uint_eq(strlen(a), 16);
    ck_assert_str_ne(a, b);
}
END_TEST

static Suite *
stanza_suite(void)
{
    Suite *s = suite_create("stanza");
    TCase *tc = tcase_create("stanza");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_error_reply);
    tcase_add_test(tc, test_result);
    tcase_add_test(tc, test_error_condition);
    tcase_add_test(tc, test_ids);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(stanza_suite)
