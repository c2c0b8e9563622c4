/* What the focus's fuzz targets share: a focus MUC service on an unconnected component
 * (muc.example, rooms for users of a.example), quiet logs, and the input read as the
 * children of a wrapper element, each one a stanza the XMPP server delivered. */
#pragma once

#include "muc.h"
#include "policy.h"
#include "xmpp.h"

#include <stdint.h>

typedef struct {
    CcMetrics *metrics;
    CcXmppComponent *xmpp;
    FocusPolicy *policy;
    GBytes *room_key;
    FocusMuc *muc;
} FocusFixture;

static void
focus_fixture_quiet_log(const gchar *domain, GLogLevelFlags level, const gchar *message,
                        gpointer data)
{
}

static GLogWriterOutput
focus_fixture_quiet_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                           gpointer data)
{
    return G_LOG_WRITER_HANDLED;
}

/* Logs stay quiet unless FUZZ_VERBOSE is set (once per process). */
static void
focus_fixture_quiet(void)
{
    static gboolean once;
    if (once)
        return;
    g_log_set_default_handler(focus_fixture_quiet_log, NULL);
    if (g_getenv("FUZZ_VERBOSE") == NULL)
        g_log_set_writer_func(focus_fixture_quiet_writer, NULL, NULL);
    once = TRUE;
}

/* The policy's clock: frozen, so that rate limits and lockouts do not depend on how fast
 * the machine runs; scenarios move it on explicitly. */
static gint64 focus_fixture_now_us;

static gint64
focus_fixture_clock(void)
{
    return focus_fixture_now_us;
}

/* What a fixture may change; zero fields take the defaults below. */
typedef struct {
    const char *const *guest_domains; /* NULL: none */
    guint stanzas_per_second;         /* 0: 1000 */
    guint max_occupants;              /* 0: 8 */
    guint max_rooms;                  /* 0: 8 */
} FocusFixtureOptions;

static void
focus_fixture_init(FocusFixture *f, const FocusFixtureOptions *options)
{
    static const char *const auth_domains[] = {"a.example", NULL};
    focus_fixture_quiet();
    f->metrics = cc_metrics_new();
    CcXmppSettings settings = {
        .server = "127.0.0.1", .port = 1, .domain = "muc.example", .secret = "s"};
    f->xmpp = cc_xmpp_component_new(&settings, f->metrics);
    FocusPolicySettings ps = {.jid_failures = 3,
                              .room_failures = 5,
                              .window_s = 60,
                              .lockout_s = 60,
                              .lockout_max_s = 600,
                              .stanzas_per_second =
                                  options->stanzas_per_second ? options->stanzas_per_second : 1000,
                              .clock = focus_fixture_clock};
    focus_fixture_now_us = G_USEC_PER_SEC * 1000;
    f->policy = focus_policy_new(auth_domains, options->guest_domains, &ps);
    guint8 raw_key[CC_KEY_LEN] = {1};
    f->room_key = g_bytes_new(raw_key, sizeof raw_key);
    FocusMucLimits limits = {.max_rooms = options->max_rooms ? options->max_rooms : 8,
                             .max_occupants = options->max_occupants ? options->max_occupants : 8,
                             .max_nick_length = 16,
                             .max_room_name_length = 32};
    f->muc = focus_muc_new(f->xmpp, f->policy, f->room_key, &limits, f->metrics);
}

static void
focus_fixture_clear(FocusFixture *f)
{
    focus_muc_free(f->muc);
    g_bytes_unref(f->room_key);
    focus_policy_free(f->policy);
    cc_xmpp_component_free(f->xmpp);
    cc_metrics_free(f->metrics);
}

/* The input inside <w xmlns='jabber:component:accept'>...</w>, or NULL if not XML. */
static inline xmpp_stanza_t *
focus_fixture_wrap(FocusFixture *f, const uint8_t *data, size_t size)
{
    GString *text = g_string_new("<w xmlns='jabber:component:accept'>");
    g_string_append_len(text, (const char *)data, (gssize)size);
    g_string_append(text, "</w>");
    xmpp_stanza_t *wrapper = xmpp_stanza_new_from_string(cc_xmpp_component_ctx(f->xmpp), text->str);
    g_string_free(text, TRUE);
    return wrapper;
}
