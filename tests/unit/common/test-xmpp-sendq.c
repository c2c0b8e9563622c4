/* Unit tests of common/xmpp-sendq.c: order within a flow, turns between flows, control
 * first, partial writes that never interleave stanzas, byte accounting and the high/low
 * water marks that pause and resume reading. */
#include "../check-main.h"
#include "xmpp-sendq.h"

#include <string.h>

static void
push(CcSendQueue *q, CcSendClass cls, const char *flow, const char *text)
{
    cc_send_queue_push(q, cls, flow, g_strdup(text), strlen(text));
}

/* Writes everything, `chunk` bytes at a time at most, and returns what went out. */
static char *
drain(CcSendQueue *q, gsize chunk)
{
    GString *out = g_string_new(NULL);
    gsize len;
    const char *bytes;
    while ((bytes = cc_send_queue_peek(q, &len)) != NULL) {
        gsize n = MIN(len, chunk);
        g_string_append_len(out, bytes, (gssize)n);
        cc_send_queue_consumed(q, n);
    }
    return g_string_free(out, FALSE);
}

START_TEST(test_flows_take_turns_in_order)
{
    g_autoptr(CcSendQueue) q = cc_send_queue_new(1 << 20, 1 << 19);
    /* A flooded room queued first, then one stanza each from two other rooms. */
    push(q, CC_SEND_BULK, "flood@muc", "a1");
    push(q, CC_SEND_BULK, "flood@muc", "a2");
    push(q, CC_SEND_BULK, "flood@muc", "a3");
    push(q, CC_SEND_BULK, "other@muc", "b1");
    push(q, CC_SEND_BULK, "third@muc", "c1");
    push(q, CC_SEND_BULK, "flood@muc", "a4");
    ck_assert_uint_eq(cc_send_queue_length(q), 6);
    ck_assert_uint_eq(cc_send_queue_flow_length(q, "flood@muc"), 4);
    ck_assert_uint_eq(cc_send_queue_flow_length(q, "other@muc"), 1);
    ck_assert_uint_eq(cc_send_queue_flow_length(q, "nobody@muc"), 0);
    g_autofree char *out = drain(q, 1000);
    /* One stanza per flow per turn; each flow's own order kept. */
    ck_assert_str_eq(out, "a1b1c1a2a3a4");
    ck_assert_uint_eq(cc_send_queue_length(q), 0);
    ck_assert_uint_eq(cc_send_queue_bytes(q), 0);
    ck_assert_uint_eq(cc_send_queue_flow_length(q, "flood@muc"), 0);
}
END_TEST

/* A flood of IQs goes first, but not forever: after 8 in a row, one other stanza. */
START_TEST(test_control_cannot_starve_the_rest)
{
    g_autoptr(CcSendQueue) q = cc_send_queue_new(1 << 20, 1 << 19);
    push(q, CC_SEND_BULK, "room@muc", "p");
    for (int i = 0; i < 12; i++)
        push(q, CC_SEND_CONTROL, "muc", "i");
    g_autofree char *out = drain(q, 1000);
    ck_assert_str_eq(out, "iiiiiiiipiiii");
}
END_TEST

START_TEST(test_control_first_but_never_within_a_flow)
{
    g_autoptr(CcSendQueue) q = cc_send_queue_new(1 << 20, 1 << 19);
    push(q, CC_SEND_BULK, "flood@muc", "m1");
    push(q, CC_SEND_BULK, "flood@muc", "m2");
    push(q, CC_SEND_BULK, "room@muc", "p1");
    push(q, CC_SEND_CONTROL, "room@muc", "i1"); /* a room's IQ after its presence */
    push(q, CC_SEND_CONTROL, "muc", "r1");      /* the service's own answer */
    push(q, CC_SEND_BULK, "flood@muc", "m3");
    g_autofree char *out = drain(q, 1000);
    /* The service's IQ answer overtakes the bulk; the room's IQ waits for its presence and
     * then goes before the flood's next turn. */
    ck_assert_str_eq(out, "r1m1p1i1m2m3");
}
END_TEST

START_TEST(test_partial_writes_never_interleave)
{
    g_autoptr(CcSendQueue) q = cc_send_queue_new(1 << 20, 1 << 19);
    push(q, CC_SEND_BULK, "a@muc", "<message>aaaa</message>");
    gsize len;
    const char *bytes = cc_send_queue_peek(q, &len);
    ck_assert_uint_eq(len, 23);
    cc_send_queue_consumed(q, 5);
    ck_assert_uint_eq(cc_send_queue_bytes(q), 18);
    /* A control stanza arriving now must wait until the one under way is whole. */
    push(q, CC_SEND_CONTROL, "muc", "<iq/>");
    bytes = cc_send_queue_peek(q, &len);
    ck_assert_uint_eq(len, 18);
    ck_assert(strncmp(bytes, "age>aaaa</message>", len) == 0);
    cc_send_queue_consumed(q, 0); /* the socket took nothing */
    g_autofree char *rest = drain(q, 3);
    ck_assert_str_eq(rest, "age>aaaa</message><iq/>");
}
END_TEST

START_TEST(test_water_marks)
{
    g_autoptr(CcSendQueue) q = cc_send_queue_new(100, 40);
    char block[31];
    memset(block, 'x', 30);
    block[30] = '\0';
    for (int i = 0; i < 3; i++)
        push(q, CC_SEND_BULK, "flood@muc", block);
    ck_assert_uint_eq(cc_send_queue_bytes(q), 90);
    ck_assert(!cc_send_queue_throttled(q)); /* at or under the high mark: still reading */
    push(q, CC_SEND_BULK, "flood@muc", block);
    ck_assert(cc_send_queue_throttled(q)); /* 120 > 100 */
    ck_assert_uint_eq(cc_send_queue_peak_bytes(q), 120);
    gsize len;
    /* Down to 60, then 59: above the low mark, still paused (hysteresis). */
    cc_send_queue_peek(q, &len);
    cc_send_queue_consumed(q, 30);
    cc_send_queue_peek(q, &len);
    cc_send_queue_consumed(q, 30);
    cc_send_queue_peek(q, &len);
    cc_send_queue_consumed(q, 1);
    ck_assert_uint_eq(cc_send_queue_bytes(q), 59);
    ck_assert(cc_send_queue_throttled(q));
    cc_send_queue_consumed(q, 19);
    ck_assert_uint_eq(cc_send_queue_bytes(q), 40);
    ck_assert(!cc_send_queue_throttled(q)); /* at the low mark: reading resumes */
    ck_assert_uint_eq(cc_send_queue_peak_bytes(q), 120);
}
END_TEST

START_TEST(test_clear)
{
    g_autoptr(CcSendQueue) q = cc_send_queue_new(10, 5);
    push(q, CC_SEND_BULK, "a@muc", "0123456789");
    push(q, CC_SEND_CONTROL, "b@muc", "0123456789");
    gsize len;
    cc_send_queue_peek(q, &len);
    cc_send_queue_consumed(q, 4); /* one under way */
    ck_assert(cc_send_queue_throttled(q));
    ck_assert_uint_eq(cc_send_queue_clear(q), 2);
    ck_assert_uint_eq(cc_send_queue_length(q), 0);
    ck_assert_uint_eq(cc_send_queue_bytes(q), 0);
    ck_assert(!cc_send_queue_throttled(q));
    ck_assert_ptr_null(cc_send_queue_peek(q, &len));
    /* Usable again after a clear (a new connection). */
    push(q, CC_SEND_BULK, "a@muc", "z");
    g_autofree char *out = drain(q, 1);
    ck_assert_str_eq(out, "z");
}
END_TEST

START_TEST(test_many_flows_stay_fair)
{
    g_autoptr(CcSendQueue) q = cc_send_queue_new(1 << 24, 1 << 23);
    for (int i = 0; i < 10000; i++)
        push(q, CC_SEND_BULK, "flood@muc", "f");
    push(q, CC_SEND_BULK, "join@muc", "J");
    /* The join's answer is the second stanza out, not the 10,001st. */
    gsize len;
    const char *first = cc_send_queue_peek(q, &len);
    ck_assert_int_eq(first[0], 'f');
    cc_send_queue_consumed(q, len);
    const char *second = cc_send_queue_peek(q, &len);
    ck_assert_int_eq(second[0], 'J');
    cc_send_queue_consumed(q, len);
    ck_assert_uint_eq(cc_send_queue_length(q), 9999);
}
END_TEST

static Suite *
sendq_suite(void)
{
    Suite *s = suite_create("xmpp-sendq");
    TCase *tc = tcase_create("xmpp-sendq");
    tcase_add_test(tc, test_flows_take_turns_in_order);
    tcase_add_test(tc, test_control_first_but_never_within_a_flow);
    tcase_add_test(tc, test_control_cannot_starve_the_rest);
    tcase_add_test(tc, test_partial_writes_never_interleave);
    tcase_add_test(tc, test_water_marks);
    tcase_add_test(tc, test_clear);
    tcase_add_test(tc, test_many_flows_stay_fair);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(sendq_suite)
