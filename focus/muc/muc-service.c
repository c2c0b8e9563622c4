/* The MUC service (see muc.h): registers with the component connection, owns the table of
 * rooms and their lifecycle, the service-wide limits and the metrics. Per-stanza logic is
 * in muc-presence.c, muc-message.c, muc-admin.c, muc-owner.c and muc-disco.c. */
#include "muc.h"

static const char *const refusal_reasons[] = {
    "policy",       "guest_create", "password",  "locked_out",    "banned",
    "members_only", "room_full",    "max_rooms", "nick_conflict", "nick_invalid",
    "rate_limited", "not_occupant", "forbidden", "bad_request",   NULL,
};

static gboolean
on_sweep(gpointer data)
{
    FocusMuc *muc = data;
    focus_policy_sweep(muc->policy);
    return G_SOURCE_CONTINUE;
}

static void
register_metrics(FocusMuc *muc, CcMetrics *registry)
{
    FocusMucMetrics *m = &muc->metrics;
    m->registry = registry;
    m->rooms = cc_metrics_gauge(registry, "conclave_muc_rooms", "Rooms that exist now", NULL);
    m->occupants =
        cc_metrics_gauge(registry, "conclave_muc_occupants", "Occupants in all rooms now", NULL);
    m->joins = cc_metrics_counter(registry, "conclave_muc_joins_total", "Successful joins", NULL);
    m->messages = cc_metrics_counter(registry, "conclave_muc_messages_total",
                                     "Groupchat and private messages relayed", NULL);
    m->lockouts = cc_metrics_counter(registry, "conclave_muc_lockouts_total",
                                     "Password lockouts started (per JID or per room)", NULL);
    m->rooms_created =
        cc_metrics_counter(registry, "conclave_muc_rooms_created_total", "Rooms created", NULL);
    m->rooms_destroyed = cc_metrics_counter(registry, "conclave_muc_rooms_destroyed_total",
                                            "Rooms destroyed (emptied or by an owner)", NULL);
    m->iqs_routed = cc_metrics_counter(registry, "conclave_muc_iqs_routed_total",
                                       "IQ requests routed between occupants", NULL);
    m->iq_timeouts =
        cc_metrics_counter(registry, "conclave_muc_iq_route_timeouts_total",
                           "IQs routed between occupants that got no answer in time", NULL);
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
    [FOCUS_REFUSE_NOT_OCCUPANT] = {"not_occupant", "modify", "not-acceptable",
                                   "You are not in this room"},
    [FOCUS_REFUSE_VISITOR_SPEAKS] = {"forbidden", "auth", "forbidden",
                                     "Visitors may not speak here"},
};

void
focus_muc_refuse_stanza(FocusMuc *muc, xmpp_stanza_t *stanza, FocusRefusal refusal)
{
    g_return_if_fail((guint)refusal < G_N_ELEMENTS(refusals));
    focus_muc_refuse(muc, refusals[refusal].reason);
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

FocusMuc *
focus_muc_new(CcXmppComponent *xmpp, FocusPolicy *policy, GBytes *room_key,
              const FocusMucLimits *limits, CcMetrics *metrics)
{
    FocusMuc *muc = g_new0(FocusMuc, 1);
    muc->xmpp = xmpp;
    muc->domain = g_strdup(cc_xmpp_component_domain(xmpp));
    muc->room_key = g_bytes_ref(room_key);
    muc->rooms =
        g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)focus_room_free);
    muc->policy = policy;
    muc->limits = *limits;
    register_metrics(muc, metrics);
    cc_xmpp_component_register_stanza(xmpp, "presence", focus_muc_on_presence, muc);
    cc_xmpp_component_register_stanza(xmpp, "message", focus_muc_on_message, muc);
    focus_muc_disco_install(muc);
    focus_muc_routes_init(muc);
    cc_xmpp_component_set_iq_router(xmpp, focus_muc_route_iq, muc);
    muc->sweep_source = g_timeout_add_seconds(30, on_sweep, muc);
    return muc;
}

void
focus_muc_free(FocusMuc *muc)
{
    if (muc == NULL)
        return;
    g_clear_handle_id(&muc->sweep_source, g_source_remove);
    cc_xmpp_component_set_iq_router(muc->xmpp, NULL, NULL);
    focus_muc_routes_free(muc);
    g_hash_table_unref(muc->rooms);
    g_hash_table_unref(muc->metrics.refusals);
    g_bytes_unref(muc->room_key);
    g_free(muc->domain);
    g_free(muc);
}

void
focus_muc_set_hooks(FocusMuc *muc, const FocusMucHooks *hooks)
{
    muc->hooks = *hooks;
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

FocusRoom *
focus_muc_find_room(FocusMuc *muc, const char *local)
{
    g_autofree char *key = g_utf8_casefold(local, -1);
    return g_hash_table_lookup(muc->rooms, key);
}

FocusRoom *
focus_muc_create_room(FocusMuc *muc, const char *local)
{
    FocusRoom *room = focus_room_new(muc, local);
    g_hash_table_insert(muc->rooms, room->local, room);
    cc_metric_set(muc->metrics.rooms, g_hash_table_size(muc->rooms));
    cc_metric_inc(muc->metrics.rooms_created);
    g_info("room %s created", room->tag);
    return room;
}

void
focus_muc_destroy_room(FocusMuc *muc, FocusRoom *room)
{
    g_info("room %s destroyed", room->tag);
    if (muc->hooks.destroying != NULL)
        muc->hooks.destroying(room, muc->hooks.data);
    cc_metric_add(muc->metrics.occupants, -(gint64)room->occupants->len);
    g_hash_table_remove(muc->rooms, room->local);
    cc_metric_set(muc->metrics.rooms, g_hash_table_size(muc->rooms));
    cc_metric_inc(muc->metrics.rooms_destroyed);
}
