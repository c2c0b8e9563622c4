/* How the MUC answers: sending through the component, error replies, and the table of
 * refusals (one error and one metric label each, the same wherever the refusal happens). */
#include "muc.h"

/* clang-format off */
static const char *const refusal_reasons[] = {
    "policy",       "guest_create",      "password",   "locked_out",  "banned",
    "members_only", "room_full",         "max_rooms",  "nick_conflict", "nick_invalid",
    "rate_limited", "not_occupant",      "forbidden",  "bad_request",   "token",
    "store_unavailable", "store_busy",   "not_started", "not_valid_now", "room_busy", NULL,
};
/* clang-format on */

void
focus_muc_refusals_register(FocusMuc *muc, CcMetrics *registry)
{
    FocusMucMetrics *m = &muc->metrics;
    m->refusals = g_hash_table_new(g_str_hash, g_str_equal);
    for (const char *const *r = refusal_reasons; *r != NULL; r++)
        g_hash_table_insert(m->refusals, (gpointer)*r,
                            cc_metrics_counter(registry, "conclave_muc_refusals_total",
                                               "Requests refused, by reason", "reason", *r, NULL));
}

static const struct {
    const char *reason; /* the metric label, one of refusal_reasons */
    const char *type, *condition, *text;
} refusals[] = {
    [FOCUS_REFUSE_POLICY] = {"policy", "auth", "forbidden",
                             "This service does not accept users from your server"},
    [FOCUS_REFUSE_GUEST_CREATE] = {"guest_create", "cancel", "not-allowed",
                                   "This meeting has not started: a host must start it first"},
    [FOCUS_REFUSE_LOCKED_OUT] = {"locked_out", "auth", "not-authorized", NULL},
    [FOCUS_REFUSE_PASSWORD] = {"password", "auth", "not-authorized", NULL},
    [FOCUS_REFUSE_BANNED] = {"banned", "auth", "forbidden", NULL},
    [FOCUS_REFUSE_MEMBERS_ONLY] = {"members_only", "auth", "registration-required", NULL},
    [FOCUS_REFUSE_ROOM_FULL] = {"room_full", "wait", "service-unavailable",
                                "The room has reached its maximum number of occupants"},
    [FOCUS_REFUSE_MAX_ROOMS] = {"max_rooms", "wait", "resource-constraint",
                                "Too many rooms on this service"},
    [FOCUS_REFUSE_NICK_CONFLICT] = {"nick_conflict", "cancel", "conflict",
                                    "That nickname is taken"},
    [FOCUS_REFUSE_NICK_TOO_LONG] = {"nick_invalid", "modify", "not-acceptable",
                                    "Nickname too long"},
    [FOCUS_REFUSE_ROOM_NAME_TOO_LONG] = {"bad_request", "modify", "not-acceptable",
                                         "Room name too long"},
    [FOCUS_REFUSE_NO_NICK] = {"bad_request", "modify", "jid-malformed",
                              "Join a room as room@service/nickname"},
    [FOCUS_REFUSE_RATE_LIMITED] = {"rate_limited", "wait", "resource-constraint",
                                   "Too many stanzas"},
    [FOCUS_REFUSE_ROOM_BUSY] = {"room_busy", "wait", "resource-constraint",
                                "The room is busy; try again shortly"},
    [FOCUS_REFUSE_NOT_OCCUPANT] = {"not_occupant", "modify", "not-acceptable",
                                   "You are not in this room"},
    [FOCUS_REFUSE_VISITOR_SPEAKS] = {"forbidden", "auth", "forbidden",
                                     "Visitors may not speak here"},
    /* Nothing says what is wrong with the token: that would help whoever forges one. */
    [FOCUS_REFUSE_TOKEN] = {"token", "auth", "not-authorized", "Invalid token"},
    [FOCUS_REFUSE_STORE_UNAVAILABLE] = {"store_unavailable", "wait", "service-unavailable",
                                        "Room policies are unavailable; try again shortly"},
    [FOCUS_REFUSE_STORE_BUSY] = {"store_busy", "wait", "resource-constraint",
                                 "Too many joins waiting"},
    /* With a database, what someone who may not enter hears whether the room is reserved,
     * free or missing: exactly the wrong password's answer (docs/muc.md). */
    [FOCUS_REFUSE_NOT_STARTED] = {"not_started", "auth", "not-authorized", NULL},
    [FOCUS_REFUSE_NOT_VALID_NOW] = {"not_valid_now", "auth", "not-authorized", NULL},
};

/* A flood's refusals are rate limited themselves (else each refused message costs an error
 * as big as itself); an IQ always gets its answer, as RFC 6120 wants. */
static gboolean
is_flood_refusal(FocusRefusal refusal, xmpp_stanza_t *stanza)
{
    const char *name = xmpp_stanza_get_name(stanza);
    return (refusal == FOCUS_REFUSE_RATE_LIMITED || refusal == FOCUS_REFUSE_ROOM_BUSY) &&
           name != NULL && !g_str_equal(name, "iq") && xmpp_stanza_get_from(stanza) != NULL;
}

void
focus_muc_refuse_stanza(FocusMuc *muc, xmpp_stanza_t *stanza, FocusRefusal refusal)
{
    g_return_if_fail((guint)refusal < G_N_ELEMENTS(refusals));
    focus_muc_refuse(muc, refusals[refusal].reason);
    focus_muc_audit_refusal(muc, stanza, refusals[refusal].reason);
    if (is_flood_refusal(refusal, stanza) &&
        !focus_policy_allow_refusal(muc->policy, xmpp_stanza_get_from(stanza))) {
        cc_metric_inc(muc->metrics.errors_suppressed);
        return;
    }
    focus_muc_error(muc, stanza, refusals[refusal].type, refusals[refusal].condition,
                    refusals[refusal].text);
}

void
focus_muc_refuse(FocusMuc *muc, const char *reason)
{
    CcMetric *m = g_hash_table_lookup(muc->metrics.refusals, reason);
    g_return_if_fail(m != NULL);
    cc_metric_inc(m);
}

xmpp_ctx_t *
focus_muc_ctx(FocusMuc *muc)
{
    return cc_xmpp_component_ctx(muc->xmpp);
}

void
focus_muc_send(FocusMuc *muc, xmpp_stanza_t *stanza)
{
    cc_xmpp_component_send(muc->xmpp, stanza);
}

void
focus_muc_error(FocusMuc *muc, xmpp_stanza_t *request, const char *type, const char *condition,
                const char *text)
{
    const char *request_type = xmpp_stanza_get_type(request);
    if (request_type != NULL && g_str_equal(request_type, "error"))
        return; /* never answer an error with an error */
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_error_reply(request, type, condition, text);
    focus_muc_send(muc, reply);
}
