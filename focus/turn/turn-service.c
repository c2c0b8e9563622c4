/* XEP-0215 external service discovery on the focus's service domain: a `services` request
 * (optionally filtered by type) lists the STUN and TURN services of [turn], the TURN ones
 * with fresh credentials; a `credentials` request names one TURN service and gets its
 * credentials. Only users of served domains (authenticated or guest) get anything; requests
 * share the per-JID stanza rate limit of the MUC. Credentials are never logged. The
 * computation itself is in turn-credentials.c, the settings in turn-config.c. */
#include "turn.h"

#include "cc-autoptr.h"
#include "stanza.h"
#include "xmpp-service.h"

#include <string.h>

typedef enum {
    RESULT_GRANTED,
    RESULT_DISABLED,
    RESULT_RATE_LIMITED,
    RESULT_FORBIDDEN,
    RESULT_BAD_REQUEST,
    RESULT_NOT_FOUND,
    N_RESULTS,
} Result;

static const char *const result_labels[N_RESULTS] = {
    "granted", "disabled", "rate_limited", "forbidden", "bad_request", "not_found",
};

struct _FocusTurn {
    CcXmppComponent *xmpp;
    FocusPolicy *policy;
    FocusTurnSettings *settings; /* NULL: off */
    guint8 user_key[CC_KEY_LEN];
    gint64 (*now_s)(void);
    CcMetric *requests[N_RESULTS];
};

/* One service a response may list. */
typedef struct {
    const char *type; /* stun, turn, turns */
    const char *transport;
    guint port;
} Service;

#define MAX_SERVICES 5

static gint64
real_now_s(void)
{
    return g_get_real_time() / G_USEC_PER_SEC;
}

static guint
list_services(const FocusTurnSettings *s, Service out[MAX_SERVICES])
{
    guint n = 0;
    if (s->stun && s->udp)
        out[n++] = (Service){"stun", "udp", s->port};
    if (s->stun && s->tcp)
        out[n++] = (Service){"stun", "tcp", s->port};
    if (s->udp)
        out[n++] = (Service){"turn", "udp", s->port};
    if (s->tcp)
        out[n++] = (Service){"turn", "tcp", s->port};
    if (s->tls_port != 0)
        out[n++] = (Service){"turns", "tcp", s->tls_port};
    return n;
}

static gboolean
needs_credentials(const Service *service)
{
    return !g_str_equal(service->type, "stun");
}

/* The credentials of one response: every TURN service in it shares them. */
typedef struct {
    char *username;
    char *password;
    char *expires; /* XEP-0082 DateTime */
} Credentials;

static void
credentials_clear(Credentials *c)
{
    g_free(c->username);
    if (c->password != NULL) {
        memset(c->password, 0, strlen(c->password));
        g_free(c->password);
    }
    g_free(c->expires);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Credentials, credentials_clear)

static void
credentials_make(FocusTurn *turn, const CcJid *from, Credentials *c)
{
    char user_id[FOCUS_TURN_USER_ID_LEN + 1];
    focus_turn_user_id(turn->user_key, from, user_id);
    gint64 expiry = turn->now_s() + turn->settings->ttl_s;
    c->username = focus_turn_username(expiry, user_id);
    c->password = focus_turn_password(turn->settings->secret, c->username);
    g_autoptr(GDateTime) at = g_date_time_new_from_unix_utc(expiry);
    c->expires = g_date_time_format(at, "%Y-%m-%dT%H:%M:%SZ");
}

static void
add_service(xmpp_stanza_t *parent, const char *host, const Service *service,
            const Credentials *credentials)
{
    xmpp_stanza_t *el = cc_stanza_add_child(parent, "service", NULL);
    xmpp_stanza_set_attribute(el, "type", service->type);
    xmpp_stanza_set_attribute(el, "host", host);
    cc_stanza_set_uint(el, "port", service->port);
    xmpp_stanza_set_attribute(el, "transport", service->transport);
    if (needs_credentials(service)) {
        xmpp_stanza_set_attribute(el, "username", credentials->username);
        xmpp_stanza_set_attribute(el, "password", credentials->password);
        xmpp_stanza_set_attribute(el, "expires", credentials->expires);
        xmpp_stanza_set_attribute(el, "restricted", "1");
    }
}

static void
answer_error(FocusTurn *turn, xmpp_stanza_t *iq, Result result, const char *type,
             const char *condition, const char *text)
{
    cc_metric_inc(turn->requests[result]);
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_error_reply(iq, type, condition, text);
    cc_xmpp_component_send(turn->xmpp, reply);
}

/* Whether `iq` is a request this wing answers, and may be answered with credentials. FALSE
 * when it answered (an error) or must leave the IQ to the component's default answer. */
static gboolean
admit(FocusTurn *turn, xmpp_stanza_t *iq, gboolean *handled, CcJid **from)
{
    *handled = FALSE;
    if (!g_str_equal(xmpp_stanza_get_type(iq), "get") ||
        !cc_xmpp_service_is_for_domain(turn->xmpp, iq))
        return FALSE;
    *handled = TRUE;
    if (turn->settings == NULL) {
        answer_error(turn, iq, RESULT_DISABLED, "cancel", "service-unavailable",
                     "This service offers no STUN or TURN server");
        return FALSE;
    }
    if (!focus_policy_allow_stanza(turn->policy, xmpp_stanza_get_from(iq))) {
        answer_error(turn, iq, RESULT_RATE_LIMITED, "wait", "resource-constraint",
                     "Too many stanzas");
        return FALSE;
    }
    g_autoptr(CcJid) jid = cc_jid_parse(xmpp_stanza_get_from(iq), NULL);
    if (jid == NULL || focus_policy_classify(turn->policy, jid) == FOCUS_DOMAIN_REFUSED) {
        answer_error(turn, iq, RESULT_FORBIDDEN, "auth", "forbidden",
                     "This service does not accept users from your server");
        return FALSE;
    }
    *from = g_steal_pointer(&jid);
    return TRUE;
}

/* <services xmlns='urn:xmpp:extdisco:2' [type='stun|turn|turns']/> */
static gboolean
on_services(CcXmppComponent *comp, xmpp_stanza_t *iq, gpointer data)
{
    FocusTurn *turn = data;
    gboolean handled;
    g_autoptr(CcJid) from = NULL;
    if (!admit(turn, iq, &handled, &from))
        return handled;
    const char *filter = xmpp_stanza_get_attribute(cc_stanza_first_element(iq), "type");
    Service services[MAX_SERVICES];
    guint n = list_services(turn->settings, services);
    g_auto(Credentials) credentials = {0};
    credentials_make(turn, from, &credentials);
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(iq);
    xmpp_stanza_t *list = cc_stanza_add_child(reply, "services", FOCUS_NS_EXTDISCO);
    if (filter != NULL)
        xmpp_stanza_set_attribute(list, "type", filter);
    for (guint i = 0; i < n; i++) {
        if (filter == NULL || g_str_equal(filter, services[i].type))
            add_service(list, turn->settings->host, &services[i], &credentials);
    }
    cc_metric_inc(turn->requests[RESULT_GRANTED]);
    cc_xmpp_component_send(turn->xmpp, reply);
    return TRUE;
}

/* The service a credentials request names: host and type must match, port and transport
 * too when given. NULL when there is none. */
static const Service *
find_service(const FocusTurnSettings *s, const Service *services, guint n, xmpp_stanza_t *want)
{
    const char *host = xmpp_stanza_get_attribute(want, "host");
    const char *type = xmpp_stanza_get_attribute(want, "type");
    const char *port = xmpp_stanza_get_attribute(want, "port");
    const char *transport = xmpp_stanza_get_attribute(want, "transport");
    if (g_ascii_strcasecmp(host, s->host) != 0)
        return NULL;
    for (guint i = 0; i < n; i++) {
        char port_text[8];
        g_snprintf(port_text, sizeof port_text, "%u", services[i].port);
        if (needs_credentials(&services[i]) && g_str_equal(type, services[i].type) &&
            (port == NULL || g_str_equal(port, port_text)) &&
            (transport == NULL || g_str_equal(transport, services[i].transport)))
            return &services[i];
    }
    return NULL;
}

/* <credentials xmlns='urn:xmpp:extdisco:2'><service host type [port] [transport]/> */
static gboolean
on_credentials(CcXmppComponent *comp, xmpp_stanza_t *iq, gpointer data)
{
    FocusTurn *turn = data;
    gboolean handled;
    g_autoptr(CcJid) from = NULL;
    if (!admit(turn, iq, &handled, &from))
        return handled;
    xmpp_stanza_t *want = xmpp_stanza_get_child_by_name(cc_stanza_first_element(iq), "service");
    if (want == NULL || xmpp_stanza_get_attribute(want, "host") == NULL ||
        xmpp_stanza_get_attribute(want, "type") == NULL) {
        answer_error(turn, iq, RESULT_BAD_REQUEST, "modify", "bad-request",
                     "Name a service by host and type");
        return TRUE;
    }
    Service services[MAX_SERVICES];
    guint n = list_services(turn->settings, services);
    const Service *found = find_service(turn->settings, services, n, want);
    if (found == NULL) {
        answer_error(turn, iq, RESULT_NOT_FOUND, "cancel", "item-not-found",
                     "No such service needs credentials here");
        return TRUE;
    }
    g_auto(Credentials) credentials = {0};
    credentials_make(turn, from, &credentials);
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(iq);
    xmpp_stanza_t *answer = cc_stanza_add_child(reply, "credentials", FOCUS_NS_EXTDISCO);
    add_service(answer, turn->settings->host, found, &credentials);
    cc_metric_inc(turn->requests[RESULT_GRANTED]);
    cc_xmpp_component_send(turn->xmpp, reply);
    return TRUE;
}

static FocusTurnSettings *
settings_copy(const FocusTurnSettings *s)
{
    FocusTurnSettings *copy = g_memdup2(s, sizeof *s);
    copy->host = g_strdup(s->host);
    copy->secret = g_strdup(s->secret);
    return copy;
}

FocusTurn *
focus_turn_new(CcXmppComponent *xmpp, FocusPolicy *policy, GBytes *room_key,
               const FocusTurnSettings *settings, CcMetrics *metrics)
{
    FocusTurn *turn = g_new0(FocusTurn, 1);
    turn->xmpp = xmpp;
    turn->policy = policy;
    turn->settings = settings != NULL && settings->host != NULL ? settings_copy(settings) : NULL;
    turn->now_s = real_now_s;
    focus_turn_derive_key(room_key, turn->user_key);
    for (guint i = 0; i < N_RESULTS; i++)
        turn->requests[i] =
            cc_metrics_counter(metrics, "conclave_turn_requests_total",
                               "External service discovery (STUN/TURN) requests, by result",
                               "result", result_labels[i], NULL);
    if (turn->settings != NULL)
        g_message("XEP-0215: offering STUN/TURN at %s, credentials valid %u s",
                  turn->settings->host, turn->settings->ttl_s);
    cc_xmpp_component_register_iq(xmpp, FOCUS_NS_EXTDISCO, "services", on_services, turn);
    cc_xmpp_component_register_iq(xmpp, FOCUS_NS_EXTDISCO, "credentials", on_credentials, turn);
    return turn;
}

void
focus_turn_free(FocusTurn *turn)
{
    if (turn == NULL)
        return;
    focus_turn_settings_free(turn->settings);
    memset(turn->user_key, 0, sizeof turn->user_key);
    g_free(turn);
}

gboolean
focus_turn_enabled(const FocusTurn *turn)
{
    return turn->settings != NULL;
}

void
focus_turn_set_clock(FocusTurn *turn, gint64 (*now_s)(void))
{
    turn->now_s = now_s != NULL ? now_s : real_now_s;
}
