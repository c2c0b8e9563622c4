/* libFuzzer target: the focus's MUC logic fed arbitrary stanzas. The input is the inside of
 * a wrapper element; each child element is handled as a stanza the XMPP server delivered,
 * in order, by one focus whose rooms persist across the stanzas of an input. Replies are
 * built and counted as dropped (no connection). Checks: no crash, no leak, and the room
 * and occupant gauges agree with the service's tables after each input. */
#include "muc.h"
#include "policy.h"
#include "xmpp.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const auth_domains[] = {"a.example", NULL};
static const char *const guest_domains[] = {"guest.example", NULL};

static void
quiet(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    static gboolean once;
    if (!once) {
        g_log_set_default_handler(quiet, NULL);
        g_log_set_writer_func(g_log_writer_default, NULL, NULL);
        g_setenv("G_MESSAGES_DEBUG", "", TRUE);
        once = TRUE;
    }
    CcMetrics *metrics = cc_metrics_new();
    CcXmppSettings settings = {
        .server = "127.0.0.1", .port = 1, .domain = "muc.example", .secret = "s"};
    CcXmppComponent *xmpp = cc_xmpp_component_new(&settings, metrics);
    FocusPolicySettings ps = {.jid_failures = 3,
                              .room_failures = 5,
                              .window_s = 60,
                              .lockout_s = 60,
                              .lockout_max_s = 600,
                              .stanzas_per_second = 1000};
    FocusPolicy *policy = focus_policy_new(auth_domains, guest_domains, &ps);
    guint8 raw_key[CC_KEY_LEN] = {1};
    GBytes *key = g_bytes_new(raw_key, sizeof raw_key);
    FocusMucLimits limits = {
        .max_rooms = 8, .max_occupants = 6, .max_nick_length = 16, .max_room_name_length = 32};
    FocusMuc *muc = focus_muc_new(xmpp, policy, key, &limits, metrics);

    GString *text = g_string_new("<w xmlns='jabber:component:accept'>");
    g_string_append_len(text, (const char *)data, (gssize)size);
    g_string_append(text, "</w>");
    xmpp_stanza_t *wrapper = xmpp_stanza_new_from_string(cc_xmpp_component_ctx(xmpp), text->str);
    if (wrapper != NULL) {
        for (xmpp_stanza_t *s = xmpp_stanza_get_children(wrapper); s != NULL;
             s = xmpp_stanza_get_next(s)) {
            if (xmpp_stanza_is_tag(s))
                cc_xmpp_component_inject(xmpp, s);
        }
        xmpp_stanza_release(wrapper);
    }
    guint occupants = 0;
    GHashTableIter iter;
    gpointer value;
    g_hash_table_iter_init(&iter, muc->rooms);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        FocusRoom *room = value;
        if (room->occupants->len == 0)
            abort(); /* an empty room must not survive */
        occupants += room->occupants->len;
    }
    if (cc_metric_get(muc->metrics.rooms) != g_hash_table_size(muc->rooms) ||
        cc_metric_get(muc->metrics.occupants) != occupants)
        abort();
    g_string_free(text, TRUE);
    focus_muc_free(muc);
    g_bytes_unref(key);
    focus_policy_free(policy);
    cc_xmpp_component_free(xmpp);
    cc_metrics_free(metrics);
    return 0;
}
