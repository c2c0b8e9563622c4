/* libFuzzer target: the focus's XEP-0215 handlers (focus/turn/turn-service.c) fed arbitrary
 * stanzas. The input is the inside of a wrapper element; each child element is handled as a
 * stanza the XMPP server delivered to muc.example, whose [turn] is on. Checks: no crash, no
 * leak, every IQ request gets exactly one answer, and no answer carries the shared secret. */
#include "cc-autoptr.h"
#include "turn.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "fuzz-shared-secret"

static const char *const auth_domains[] = {"a.example", NULL};
static const char *const guest_domains[] = {"guest.example", NULL};

static GLogWriterOutput
quiet_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
    return G_LOG_WRITER_HANDLED;
}

static void
outbox(xmpp_stanza_t *stanza, gpointer data)
{
    guint *sent = data;
    (*sent)++;
    char *text = NULL;
    size_t len = 0;
    if (xmpp_stanza_to_text(stanza, &text, &len) == XMPP_EOK) {
        if (g_strstr_len(text, (gssize)len, SECRET) != NULL)
            abort();
        xmpp_free(xmpp_stanza_get_context(stanza), text);
    }
}

static gboolean
is_request(xmpp_stanza_t *s)
{
    const char *type = xmpp_stanza_get_type(s);
    return g_str_equal(xmpp_stanza_get_name(s), "iq") && type != NULL &&
           (g_str_equal(type, "get") || g_str_equal(type, "set")) &&
           xmpp_stanza_get_from(s) != NULL && xmpp_stanza_get_to(s) != NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    static gboolean quiet_once;
    if (!quiet_once && g_getenv("FUZZ_VERBOSE") == NULL)
        g_log_set_writer_func(quiet_writer, NULL, NULL); /* allowed once per process */
    quiet_once = TRUE;
    CcMetrics *metrics = cc_metrics_new();
    CcXmppSettings xs = {.server = "127.0.0.1", .port = 1, .domain = "muc.example", .secret = "s"};
    CcXmppComponent *xmpp = cc_xmpp_component_new(&xs, metrics);
    guint sent = 0;
    cc_xmpp_component_set_outbox(xmpp, outbox, &sent);
    FocusPolicySettings ps = {.jid_failures = 3,
                              .room_failures = 5,
                              .window_s = 60,
                              .lockout_s = 60,
                              .lockout_max_s = 600,
                              .stanzas_per_second = 1000};
    FocusPolicy *policy = focus_policy_new(auth_domains, guest_domains, &ps);
    guint8 raw[CC_KEY_LEN] = {1};
    g_autoptr(GBytes) key = g_bytes_new(raw, sizeof raw);
    FocusTurnSettings settings = {.host = "turn.example",
                                  .port = 3478,
                                  .tls_port = 5349,
                                  .udp = TRUE,
                                  .tcp = TRUE,
                                  .secret = SECRET,
                                  .ttl_s = 600,
                                  .stun = TRUE};
    FocusTurn *turn = focus_turn_new(xmpp, policy, key, &settings, metrics);

    GString *text = g_string_new("<w xmlns='jabber:component:accept'>");
    g_string_append_len(text, (const char *)data, (gssize)size);
    g_string_append(text, "</w>");
    xmpp_stanza_t *wrapper = xmpp_stanza_new_from_string(cc_xmpp_component_ctx(xmpp), text->str);
    g_string_free(text, TRUE);
    if (wrapper != NULL) {
        for (xmpp_stanza_t *s = xmpp_stanza_get_children(wrapper); s != NULL;
             s = xmpp_stanza_get_next(s)) {
            if (!xmpp_stanza_is_tag(s))
                continue;
            guint before = sent;
            gboolean request = is_request(s);
            cc_xmpp_component_inject(xmpp, s);
            if (request && sent != before + 1)
                abort(); /* every request: one answer */
        }
        xmpp_stanza_release(wrapper);
    }
    focus_turn_free(turn);
    focus_policy_free(policy);
    cc_xmpp_component_free(xmpp);
    cc_metrics_free(metrics);
    return 0;
}
