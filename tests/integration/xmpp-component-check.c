/* Exercises common/xmpp.c against a real XMPP server: two components on one Prosody send
 * each other IQs. Checks a result, a remote error, a timeout, answers from the wrong
 * address being ignored, and pending requests failing when the connection closes.
 * Started by test_xmpp_component.py with the server's component port in argv. Prints TAP. */
#include "cc-autoptr.h"
#include "cc-error.h"
#include "stanza.h"
#include "xmpp.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    GMainLoop *loop;
    gboolean done;
    char *reply_type;
    char *condition;
    GError *error;
} Outcome;

static int test_number;
static int failures;

static void
report(gboolean ok, const char *name, const char *detail)
{
    printf("%s %d - %s%s%s\n", ok ? "ok" : "not ok", ++test_number, name, detail ? ": " : "",
           detail ? detail : "");
    fflush(stdout);
    if (!ok)
        failures++;
}

static gboolean
quit_loop(gpointer data)
{
    g_main_loop_quit(data);
    return G_SOURCE_REMOVE;
}

/* Runs the loop until `flag` is set or `ms` pass. */
static gboolean
run_until(GMainLoop *loop, gboolean *flag, guint ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)ms * 1000;
    while (!*flag && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, TRUE);
    return *flag;
}

static void
on_reply(CcXmppComponent *comp, xmpp_stanza_t *reply, const GError *error, gpointer data)
{
    Outcome *o = data;
    o->done = TRUE;
    if (reply != NULL) {
        o->reply_type = g_strdup(xmpp_stanza_get_type(reply));
        o->condition = g_strdup(cc_stanza_error_condition(reply));
    }
    if (error != NULL)
        o->error = g_error_copy(error);
}

static void
outcome_clear(Outcome *o)
{
    g_free(o->reply_type);
    g_free(o->condition);
    g_clear_error(&o->error);
    memset(o, 0, sizeof *o);
}

/* B answers pings; swallows "urn:example:silent" requests (so A times out); answers
 * "urn:example:spoof" from a different address than the one asked. */
static gboolean
on_ping(CcXmppComponent *comp, xmpp_stanza_t *stanza, gpointer data)
{
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(stanza);
    cc_xmpp_component_send(comp, reply);
    return TRUE;
}

static gboolean
on_silent(CcXmppComponent *comp, xmpp_stanza_t *stanza, gpointer data)
{
    return TRUE;
}

static gboolean
on_spoof(CcXmppComponent *comp, xmpp_stanza_t *stanza, gpointer data)
{
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(stanza);
    g_autofree char *other = g_strconcat("someone@", cc_xmpp_component_domain(comp), NULL);
    xmpp_stanza_set_from(reply, other);
    cc_xmpp_component_send(comp, reply);
    return TRUE;
}

static xmpp_stanza_t *
make_iq(CcXmppComponent *from, const char *to, const char *ns, const char *name)
{
    xmpp_stanza_t *iq = xmpp_iq_new(cc_xmpp_component_ctx(from), "get", NULL);
    xmpp_stanza_set_to(iq, to);
    xmpp_stanza_set_from(iq, cc_xmpp_component_domain(from));
    cc_stanza_add_child(iq, name, ns);
    return iq;
}

static gboolean
on_stopped(gpointer data)
{
    *(gboolean *)data = TRUE;
    return G_SOURCE_REMOVE;
}

int
main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s PORT DOMAIN_A SECRET_A DOMAIN_B SECRET_B\n", argv[0]);
        return 2;
    }
    guint16 port = (guint16)atoi(argv[1]);
    const char *domain_a = argv[2], *domain_b = argv[4];
    g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
    g_autoptr(CcMetrics) metrics_a = cc_metrics_new();
    g_autoptr(CcMetrics) metrics_b = cc_metrics_new();
    CcXmppSettings sa = {
        .server = "127.0.0.1", .port = port, .domain = domain_a, .secret = argv[3]};
    CcXmppSettings sb = {
        .server = "127.0.0.1", .port = port, .domain = domain_b, .secret = argv[5]};
    CcXmppComponent *a = cc_xmpp_component_new(&sa, metrics_a);
    CcXmppComponent *b = cc_xmpp_component_new(&sb, metrics_b);
    cc_xmpp_component_register_iq(b, "urn:xmpp:ping", "ping", on_ping, NULL);
    cc_xmpp_component_register_iq(b, "urn:example:silent", "q", on_silent, NULL);
    cc_xmpp_component_register_iq(b, "urn:example:spoof", "q", on_spoof, NULL);
    printf("1..7\n");

    cc_xmpp_component_start(a);
    cc_xmpp_component_start(b);
    gboolean both = FALSE;
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (!both && g_get_monotonic_time() < deadline) {
        g_main_context_iteration(NULL, TRUE);
        both = cc_xmpp_component_is_connected(a) && cc_xmpp_component_is_connected(b);
    }
    report(both, "both components connect", NULL);
    if (!both)
        return 1;

    Outcome o = {.loop = loop};
    xmpp_stanza_t *ping = make_iq(a, domain_b, "urn:xmpp:ping", "ping");
    cc_xmpp_component_send_iq(a, ping, 5000, on_reply, &o);
    xmpp_stanza_release(ping); /* before the component (and its context) goes */
    run_until(loop, &o.done, 6000);
    report(o.done && o.error == NULL && g_strcmp0(o.reply_type, "result") == 0,
           "IQ answered with a result", o.error ? o.error->message : NULL);
    outcome_clear(&o);

    xmpp_stanza_t *unknown = make_iq(a, domain_b, "urn:example:nobody", "q");
    cc_xmpp_component_send_iq(a, unknown, 5000, on_reply, &o);
    xmpp_stanza_release(unknown); /* before the component (and its context) goes */
    run_until(loop, &o.done, 6000);
    report(o.done && g_error_matches(o.error, CC_ERROR, CC_ERROR_REMOTE) &&
               g_strcmp0(o.condition, "service-unavailable") == 0,
           "unhandled IQ comes back as a service-unavailable error", o.condition);
    outcome_clear(&o);

    xmpp_stanza_t *silent = make_iq(a, domain_b, "urn:example:silent", "q");
    gint64 start = g_get_monotonic_time();
    cc_xmpp_component_send_iq(a, silent, 700, on_reply, &o);
    xmpp_stanza_release(silent); /* before the component (and its context) goes */
    run_until(loop, &o.done, 5000);
    gint64 waited_ms = (g_get_monotonic_time() - start) / 1000;
    g_autofree char *waited = g_strdup_printf("after %" G_GINT64_FORMAT " ms", waited_ms);
    report(o.done && g_error_matches(o.error, CC_ERROR, CC_ERROR_TIMEOUT) && waited_ms >= 690,
           "unanswered IQ times out", waited);
    outcome_clear(&o);

    /* The answer comes from another address: it must not complete the request. */
    xmpp_stanza_t *spoof = make_iq(a, domain_b, "urn:example:spoof", "q");
    cc_xmpp_component_send_iq(a, spoof, 1500, on_reply, &o);
    xmpp_stanza_release(spoof); /* before the component (and its context) goes */
    run_until(loop, &o.done, 5000);
    report(o.done && g_error_matches(o.error, CC_ERROR, CC_ERROR_TIMEOUT),
           "an answer from the wrong address is ignored", o.reply_type);
    outcome_clear(&o);

    /* Stopping A with a request in flight: it fails as disconnected, exactly once. */
    xmpp_stanza_t *pending = make_iq(a, domain_b, "urn:example:silent", "q");
    cc_xmpp_component_send_iq(a, pending, 10000, on_reply, &o);
    xmpp_stanza_release(pending); /* before the component (and its context) goes */
    gboolean stopped = FALSE;
    cc_xmpp_component_stop(a, 3000, on_stopped, &stopped);
    run_until(loop, &stopped, 5000);
    report(stopped && o.done && g_error_matches(o.error, CC_ERROR, CC_ERROR_DISCONNECTED) &&
               !cc_xmpp_component_is_connected(a),
           "a clean stop fails pending requests as disconnected",
           o.error ? o.error->message : NULL);
    outcome_clear(&o);

    /* Sending on a stopped component: answered from the main loop, never re-entrantly. */
    xmpp_stanza_t *late = make_iq(a, domain_b, "urn:xmpp:ping", "ping");
    cc_xmpp_component_send_iq(a, late, 1000, on_reply, &o);
    xmpp_stanza_release(late); /* before the component (and its context) goes */
    gboolean synchronous = o.done;
    run_until(loop, &o.done, 3000);
    report(!synchronous && o.done && g_error_matches(o.error, CC_ERROR, CC_ERROR_DISCONNECTED),
           "a request while disconnected fails asynchronously", NULL);
    outcome_clear(&o);

    cc_xmpp_component_free(a);
    stopped = FALSE;
    cc_xmpp_component_stop(b, 3000, on_stopped, &stopped);
    run_until(loop, &stopped, 5000);
    cc_xmpp_component_free(b);
    g_idle_add(quit_loop, loop);
    g_main_loop_run(loop);
    return failures ? 1 : 0;
}
