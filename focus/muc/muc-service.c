/* The MUC service (see muc.h), the top of the wing: creates the service, registers its
 * handlers with the component connection (muc-presence.c, muc-message.c, muc-disco.c, which
 * dispatches to muc-admin.c and muc-owner.c, and muc-iq-route.c), its metrics, and the
 * access tokens (muc-token.c, handed the removal of muc-presence.c). Nothing in the wing
 * calls back into this file. */
#include "muc.h"

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
    m->errors_suppressed =
        cc_metrics_counter(registry, "conclave_muc_errors_suppressed_total",
                           "Flood refusals (rate_limited, room_busy) counted but not answered: "
                           "past the first per second per session",
                           NULL);
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
    focus_muc_refusals_register(muc, registry);
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
    muc->extra_features = g_ptr_array_new_with_free_func(g_free);
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
    focus_muc_join_policy_free(muc);
    cc_xmpp_component_set_iq_router(muc->xmpp, NULL, NULL);
    focus_muc_routes_free(muc);
    focus_muc_ghosts_free(muc);
    g_hash_table_unref(muc->rooms);
    focus_muc_tokens_free(muc->tokens);
    g_hash_table_unref(muc->metrics.refusals);
    g_bytes_unref(muc->room_key);
    g_ptr_array_unref(muc->extra_features);
    g_free(muc->domain);
    g_free(muc);
}

void
focus_muc_set_hooks(FocusMuc *muc, const FocusMucHooks *hooks)
{
    muc->hooks = *hooks;
}

void
focus_muc_set_tokens(FocusMuc *muc, FocusTokenSettings *settings)
{
    focus_muc_tokens_free(muc->tokens);
    muc->tokens = focus_muc_tokens_new(muc, settings, focus_muc_remove_occupant);
}

void
focus_muc_add_service_feature(FocusMuc *muc, const char *var)
{
    g_ptr_array_add(muc->extra_features, g_strdup(var));
}
