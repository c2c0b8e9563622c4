/* Unit tests of focus/turn/: the coturn REST credentials against vectors computed
 * independently (RFC 2202 and Python's hmac module), the pseudonymous user id, and the
 * XEP-0215 IQs on an unconnected component whose replies go to an outbox: listing, the type
 * filter, credentials requests, refusals, the rate limit, the feature switched off. */
#include "../check-main.h"
#include "cc-autoptr.h"
#include "stanza.h"
#include "turn.h"

#include <string.h>

/* ---- credentials ---- */

START_TEST(test_password_vectors)
{
    /* RFC 2202 test case 2 (HMAC-SHA1), base64-encoded. */
    g_autofree char *rfc = focus_turn_password("Jefe", "what do ya want for nothing?");
    ck_assert_str_eq(rfc, "7/zfauXrL6LSdBbV8YTfnCWafHk=");
    /* base64(hmac.new(b"s3cret", b"1700000000:abc", hashlib.sha1).digest()) */
    g_autofree char *username = focus_turn_username(1700000000, "abc");
    ck_assert_str_eq(username, "1700000000:abc");
    g_autofree char *password = focus_turn_password("s3cret", username);
    ck_assert_str_eq(password, "7fjbb9kXxh7Rto8MZNnWJnSP8uE=");
}
END_TEST

static void
user_id_of(const guint8 *key, const char *jid_text, char out[FOCUS_TURN_USER_ID_LEN + 1])
{
    g_autoptr(CcJid) jid = cc_jid_parse(jid_text, NULL);
    ck_assert_ptr_nonnull(jid);
    focus_turn_user_id(key, jid, out);
}

START_TEST(test_user_id)
{
    guint8 room_key[CC_KEY_LEN] = {7};
    g_autoptr(GBytes) rk = g_bytes_new(room_key, sizeof room_key);
    guint8 key[CC_KEY_LEN];
    focus_turn_derive_key(rk, key);
    ck_assert(memcmp(key, room_key, CC_KEY_LEN) != 0);

    char a1[FOCUS_TURN_USER_ID_LEN + 1], a2[FOCUS_TURN_USER_ID_LEN + 1];
    char b[FOCUS_TURN_USER_ID_LEN + 1], other_key[FOCUS_TURN_USER_ID_LEN + 1];
    user_id_of(key, "alice@example.org/phone", a1);
    user_id_of(key, "Alice@EXAMPLE.org/laptop", a2);
    user_id_of(key, "bob@example.org/phone", b);
    ck_assert_uint_eq(strlen(a1), FOCUS_TURN_USER_ID_LEN);
    /* One user, whatever the resource or case; another user, another id. */
    ck_assert_str_eq(a1, a2);
    ck_assert_str_ne(a1, b);
    ck_assert_ptr_null(strstr(a1, "alice"));
    /* base64url: never coturn's ':' separator. */
    for (const char *c = a1; *c != '\0'; c++)
        ck_assert(g_ascii_isalnum(*c) || *c == '-' || *c == '_');
    /* Another server key, another pseudonym. */
    guint8 key2[CC_KEY_LEN];
    room_key[0] = 8;
    g_autoptr(GBytes) rk2 = g_bytes_new(room_key, sizeof room_key);
    focus_turn_derive_key(rk2, key2);
    user_id_of(key2, "alice@example.org/phone", other_key);
    ck_assert_str_ne(a1, other_key);
}
END_TEST

/* ---- the IQs ---- */

static const char *const auth_domains[] = {"a.example", NULL};
static const char *const guest_domains[] = {"guest.example", NULL};

typedef struct {
    CcMetrics *metrics;
    CcXmppComponent *xmpp;
    FocusPolicy *policy;
    FocusTurn *turn;
    xmpp_stanza_t *last; /* the last stanza sent */
    guint sent;
} World;

static void
outbox(xmpp_stanza_t *stanza, gpointer data)
{
    World *w = data;
    g_clear_pointer(&w->last, xmpp_stanza_release);
    w->last = xmpp_stanza_copy(stanza);
    w->sent++;
}

static gint64
fixed_now(void)
{
    return 1700000000;
}

static void
world_init(World *w, gboolean on, guint rate)
{
    memset(w, 0, sizeof *w);
    w->metrics = cc_metrics_new();
    CcXmppSettings xs = {.server = "127.0.0.1", .port = 1, .domain = "muc.example", .secret = "s"};
    w->xmpp = cc_xmpp_component_new(&xs, w->metrics);
    cc_xmpp_component_set_outbox(w->xmpp, outbox, w);
    FocusPolicySettings ps = {.jid_failures = 3,
                              .room_failures = 5,
                              .window_s = 60,
                              .lockout_s = 60,
                              .lockout_max_s = 600,
                              .stanzas_per_second = rate};
    w->policy = focus_policy_new(auth_domains, guest_domains, &ps);
    guint8 raw[CC_KEY_LEN] = {1};
    g_autoptr(GBytes) key = g_bytes_new(raw, sizeof raw);
    FocusTurnSettings s = {.host = "turn.example",
                           .port = 3478,
                           .tls_port = 5349,
                           .udp = TRUE,
                           .tcp = TRUE,
                           .secret = "s3cret",
                           .ttl_s = 600,
                           .stun = TRUE};
    w->turn = focus_turn_new(w->xmpp, w->policy, key, on ? &s : NULL, w->metrics);
    focus_turn_set_clock(w->turn, fixed_now);
}

static void
world_clear(World *w)
{
    g_clear_pointer(&w->last, xmpp_stanza_release);
    focus_turn_free(w->turn);
    focus_policy_free(w->policy);
    cc_xmpp_component_free(w->xmpp);
    cc_metrics_free(w->metrics);
}

/* Injects `xml` and returns the reply (owned by the world), or NULL if none was sent. */
static xmpp_stanza_t *
ask(World *w, const char *xml)
{
    guint before = w->sent;
    xmpp_stanza_t *s = xmpp_stanza_new_from_string(cc_xmpp_component_ctx(w->xmpp), xml);
    ck_assert_ptr_nonnull(s);
    cc_xmpp_component_inject(w->xmpp, s);
    xmpp_stanza_release(s);
    return w->sent > before ? w->last : NULL;
}

static const char *
error_of(xmpp_stanza_t *reply, const char **type)
{
    ck_assert_ptr_nonnull(reply);
    ck_assert_str_eq(xmpp_stanza_get_type(reply), "error");
    xmpp_stanza_t *error = xmpp_stanza_get_child_by_name(reply, "error");
    *type = xmpp_stanza_get_type(error);
    return cc_stanza_error_condition(reply);
}

static void
assert_error(xmpp_stanza_t *reply, const char *type, const char *condition)
{
    const char *t = NULL;
    const char *c = error_of(reply, &t);
    ck_assert_str_eq(t, type);
    ck_assert_str_eq(c, condition);
}

static guint
count_services(xmpp_stanza_t *list, const char *type)
{
    guint n = 0;
    for (xmpp_stanza_t *s = xmpp_stanza_get_children(list); s != NULL;
         s = xmpp_stanza_get_next(s)) {
        if (xmpp_stanza_is_tag(s) && g_str_equal(xmpp_stanza_get_name(s), "service") &&
            (type == NULL || g_str_equal(xmpp_stanza_get_attribute(s, "type"), type)))
            n++;
    }
    return n;
}

#define SERVICES(from, attrs)                                                                      \
    "<iq type='get' id='q1' to='muc.example' from='" from "'><services "                           \
    "xmlns='urn:xmpp:extdisco:2'" attrs "/></iq>"

START_TEST(test_services_listed)
{
    World w;
    world_init(&w, TRUE, 100);
    xmpp_stanza_t *reply = ask(&w, SERVICES("alice@a.example/r", ""));
    ck_assert_ptr_nonnull(reply);
    ck_assert_str_eq(xmpp_stanza_get_type(reply), "result");
    ck_assert_str_eq(xmpp_stanza_get_id(reply), "q1");
    ck_assert_str_eq(xmpp_stanza_get_to(reply), "alice@a.example/r");
    xmpp_stanza_t *list = xmpp_stanza_get_child_by_ns(reply, FOCUS_NS_EXTDISCO);
    ck_assert_str_eq(xmpp_stanza_get_name(list), "services");
    ck_assert_uint_eq(count_services(list, "stun"), 2);
    ck_assert_uint_eq(count_services(list, "turn"), 2);
    ck_assert_uint_eq(count_services(list, "turns"), 1);
    for (xmpp_stanza_t *s = xmpp_stanza_get_children(list); s != NULL;
         s = xmpp_stanza_get_next(s)) {
        const char *type = xmpp_stanza_get_attribute(s, "type");
        ck_assert_str_eq(xmpp_stanza_get_attribute(s, "host"), "turn.example");
        if (g_str_equal(type, "stun")) {
            ck_assert_ptr_null(xmpp_stanza_get_attribute(s, "username"));
            ck_assert_ptr_null(xmpp_stanza_get_attribute(s, "password"));
            continue;
        }
        const char *username = xmpp_stanza_get_attribute(s, "username");
        ck_assert(g_str_has_prefix(username, "1700000600:"));
        ck_assert_uint_eq(strlen(username), strlen("1700000600:") + FOCUS_TURN_USER_ID_LEN);
        g_autofree char *expected = focus_turn_password("s3cret", username);
        ck_assert_str_eq(xmpp_stanza_get_attribute(s, "password"), expected);
        ck_assert_str_eq(xmpp_stanza_get_attribute(s, "expires"), "2023-11-14T22:23:20Z");
        ck_assert_str_eq(xmpp_stanza_get_attribute(s, "restricted"), "1");
        ck_assert_str_eq(xmpp_stanza_get_attribute(s, "port"),
                         g_str_equal(type, "turns") ? "5349" : "3478");
    }
    /* A guest gets them too. */
    reply = ask(&w, SERVICES("x1@guest.example/r", ""));
    ck_assert_str_eq(xmpp_stanza_get_type(reply), "result");
    world_clear(&w);
}
END_TEST

START_TEST(test_type_filter)
{
    World w;
    world_init(&w, TRUE, 100);
    xmpp_stanza_t *list = xmpp_stanza_get_child_by_ns(
        ask(&w, SERVICES("alice@a.example/r", " type='turns'")), FOCUS_NS_EXTDISCO);
    ck_assert_uint_eq(count_services(list, NULL), 1);
    ck_assert_uint_eq(count_services(list, "turns"), 1);
    list = xmpp_stanza_get_child_by_ns(ask(&w, SERVICES("alice@a.example/r", " type='ftp'")),
                                       FOCUS_NS_EXTDISCO);
    ck_assert_uint_eq(count_services(list, NULL), 0);
    world_clear(&w);
}
END_TEST

START_TEST(test_credentials_request)
{
    World w;
    world_init(&w, TRUE, 100);
    xmpp_stanza_t *reply = ask(&w, "<iq type='get' id='c' to='muc.example' from='alice@a.example/"
                                   "r'><credentials xmlns='urn:xmpp:extdisco:2'><service "
                                   "host='TURN.example' type='turn' port='3478' transport='tcp'/>"
                                   "</credentials></iq>");
    ck_assert_str_eq(xmpp_stanza_get_type(reply), "result");
    xmpp_stanza_t *creds = xmpp_stanza_get_child_by_ns(reply, FOCUS_NS_EXTDISCO);
    ck_assert_str_eq(xmpp_stanza_get_name(creds), "credentials");
    ck_assert_uint_eq(count_services(creds, NULL), 1);
    xmpp_stanza_t *s = xmpp_stanza_get_child_by_name(creds, "service");
    ck_assert_str_eq(xmpp_stanza_get_attribute(s, "transport"), "tcp");
    ck_assert_ptr_nonnull(xmpp_stanza_get_attribute(s, "password"));
    /* Wrong host, wrong port, STUN (no credentials): item-not-found. */
    static const char *const missing[] = {
        "<service host='other.example' type='turn'/>",
        "<service host='turn.example' type='turn' port='1'/>",
        "<service host='turn.example' type='turns' transport='udp'/>",
        "<service host='turn.example' type='stun'/>",
    };
    for (guint i = 0; i < G_N_ELEMENTS(missing); i++) {
        g_autofree char *xml = g_strdup_printf(
            "<iq type='get' id='c' to='muc.example' from='alice@a.example/r'><credentials "
            "xmlns='urn:xmpp:extdisco:2'>%s</credentials></iq>",
            missing[i]);
        assert_error(ask(&w, xml), "cancel", "item-not-found");
    }
    /* No service, or one without host or type: bad-request. */
    static const char *const bad[] = {"", "<service type='turn'/>", "<service host='x'/>"};
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *xml = g_strdup_printf(
            "<iq type='get' id='c' to='muc.example' from='alice@a.example/r'><credentials "
            "xmlns='urn:xmpp:extdisco:2'>%s</credentials></iq>",
            bad[i]);
        assert_error(ask(&w, xml), "modify", "bad-request");
    }
    world_clear(&w);
}
END_TEST

START_TEST(test_refusals)
{
    World w;
    world_init(&w, TRUE, 100);
    /* A domain the service does not serve; a server address. */
    assert_error(ask(&w, SERVICES("mallory@evil.example/r", "")), "auth", "forbidden");
    assert_error(ask(&w, SERVICES("a.example", "")), "auth", "forbidden");
    /* Not to the service's domain: the component's default answer. */
    assert_error(ask(&w, "<iq type='get' id='x' to='room@muc.example' from='alice@a.example/r'>"
                         "<services xmlns='urn:xmpp:extdisco:2'/></iq>"),
                 "cancel", "service-unavailable");
    /* A set is not a request of this protocol. */
    assert_error(ask(&w, "<iq type='set' id='x' to='muc.example' from='alice@a.example/r'>"
                         "<services xmlns='urn:xmpp:extdisco:2'/></iq>"),
                 "cancel", "service-unavailable");
    g_autofree char *text = cc_metrics_render(w.metrics);
    ck_assert_ptr_nonnull(strstr(text, "conclave_turn_requests_total{result=\"forbidden\"} 2"));
    world_clear(&w);
}
END_TEST

START_TEST(test_rate_limit)
{
    World w;
    world_init(&w, TRUE, 1);
    guint limited = 0;
    for (int i = 0; i < 10; i++) {
        xmpp_stanza_t *reply = ask(&w, SERVICES("alice@a.example/r", ""));
        if (g_str_equal(xmpp_stanza_get_type(reply), "error")) {
            assert_error(reply, "wait", "resource-constraint");
            limited++;
        }
    }
    ck_assert_uint_ge(limited, 7);
    world_clear(&w);
}
END_TEST

START_TEST(test_off)
{
    World w;
    world_init(&w, FALSE, 100);
    ck_assert(!focus_turn_enabled(w.turn));
    assert_error(ask(&w, SERVICES("alice@a.example/r", "")), "cancel", "service-unavailable");
    assert_error(ask(&w, "<iq type='get' id='c' to='muc.example' from='alice@a.example/r'>"
                         "<credentials xmlns='urn:xmpp:extdisco:2'><service host='turn.example' "
                         "type='turn'/></credentials></iq>"),
                 "cancel", "service-unavailable");
    g_autofree char *text = cc_metrics_render(w.metrics);
    ck_assert_ptr_nonnull(strstr(text, "conclave_turn_requests_total{result=\"disabled\"} 2"));
    world_clear(&w);
}
END_TEST

static Suite *
turn_suite(void)
{
    Suite *s = suite_create("turn");
    TCase *tc = tcase_create("credentials");
    tcase_add_test(tc, test_password_vectors);
    tcase_add_test(tc, test_user_id);
    suite_add_tcase(s, tc);
    tc = tcase_create("extdisco");
    tcase_add_test(tc, test_services_listed);
    tcase_add_test(tc, test_type_filter);
    tcase_add_test(tc, test_credentials_request);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_rate_limit);
    tcase_add_test(tc, test_off);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(turn_suite)
