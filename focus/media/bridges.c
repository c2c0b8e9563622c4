/* The pool of bridges (see bridges.h). Owns each bridge's last known state and the timer
 * that checks them; knows nothing of rooms or Jingle. Bridge JIDs come from the operator's
 * configuration, so they may appear in logs and metric labels. */
#include "bridges.h"

#include "cc-autoptr.h"
#include "colibri2.h"
#include "stanza.h"

typedef struct {
    FocusBridges *pool;
    char *jid;
    FocusBridgeReport last;
    gboolean checking;
    guint placed;        /* conferences this focus placed there */
    GHashTable *pending; /* meeting-id -> Expiry*: conferences to expire there */
    CcMetric *m_up, *m_stress, *m_failures, *m_conferences;
} Bridge;

/* A conference to expire on a bridge that did not answer; freed once the bridge answers. */
typedef struct {
    Bridge *bridge;
    char *meeting_id;
    gboolean in_flight;
    /* The conference is placed there again: this expiry went ahead of the create, and is
     * never sent again, whatever its answer. */
    gboolean final;
} Expiry;

struct _FocusBridges {
    CcXmppComponent *xmpp;
    GPtrArray *bridges; /* Bridge*, in configuration order */
    guint timeout_ms;
    guint timer;
    CcMetric *m_available;
    FocusBridgeListener listener;
    gpointer listener_data;
};

static void
expiry_free(Expiry *e)
{
    g_free(e->meeting_id);
    g_free(e);
}

static void
bridge_free(Bridge *b)
{
    g_hash_table_unref(b->pending);
    g_free(b->jid);
    g_free(b);
}

static Bridge *
find(FocusBridges *pool, const char *jid)
{
    for (guint i = 0; i < pool->bridges->len; i++) {
        Bridge *b = g_ptr_array_index(pool->bridges, i);
        if (g_ascii_strcasecmp(b->jid, jid) == 0)
            return b;
    }
    return NULL;
}

static gboolean
usable(const Bridge *b)
{
    return b->last.ok && !b->last.draining;
}

guint
focus_bridges_available(FocusBridges *pool)
{
    guint n = 0;
    for (guint i = 0; i < pool->bridges->len; i++)
        n += usable(g_ptr_array_index(pool->bridges, i));
    return n;
}

void
focus_bridges_record(FocusBridges *pool, const char *jid, const FocusBridgeReport *report)
{
    Bridge *b = find(pool, jid);
    if (b == NULL)
        return;
    gboolean was = usable(b);
    b->last = *report;
    if (!report->ok)
        cc_metric_inc(b->m_failures);
    cc_metric_set(b->m_up, usable(b));
    cc_metric_set(b->m_stress, (gint64)(report->stress * 1000.0));
    cc_metric_set(pool->m_available, focus_bridges_available(pool));
    if (was != usable(b)) {
        g_message("bridge %s is %s", b->jid,
                  usable(b)    ? "available"
                  : report->ok ? "draining"
                               : "not answering: taken out");
        if (pool->listener != NULL)
            pool->listener(b->jid, usable(b), !report->ok, pool->listener_data);
    }
}

void
focus_bridges_set_listener(FocusBridges *pool, FocusBridgeListener listener, gpointer data)
{
    pool->listener = listener;
    pool->listener_data = data;
}

void
focus_bridges_fail(FocusBridges *pool, const char *jid)
{
    FocusBridgeReport failed = {.ok = FALSE};
    focus_bridges_record(pool, jid, &failed);
}

void
focus_bridges_count_conference(FocusBridges *pool, const char *jid, int delta)
{
    Bridge *b = find(pool, jid);
    if (b == NULL)
        return;
    b->placed = (guint)MAX((gint64)b->placed + delta, 0);
    cc_metric_set(b->m_conferences, b->placed);
}

const char *
focus_bridges_select(FocusBridges *pool)
{
    Bridge *best = NULL;
    for (guint i = 0; i < pool->bridges->len; i++) {
        Bridge *b = g_ptr_array_index(pool->bridges, i);
        if (!usable(b))
            continue;
        /* Between reports, the conferences placed since count as well as reported ones. */
        guint confs = MAX(b->last.conferences, b->placed);
        guint best_confs = best ? MAX(best->last.conferences, best->placed) : 0;
        if (best == NULL || b->last.stress < best->last.stress ||
            (b->last.stress == best->last.stress && confs < best_confs))
            best = b;
    }
    return best ? best->jid : NULL;
}

static gboolean
parse_double(const char *text, double *out)
{
    char *end = NULL;
    double v = text ? g_ascii_strtod(text, &end) : 0;
    if (text == NULL || end == text || *end != '\0' || !(v >= 0.0) || v > 1e9)
        return FALSE;
    *out = v;
    return TRUE;
}

gboolean
focus_bridges_parse_stats(xmpp_stanza_t *reply, FocusBridgeReport *report)
{
    xmpp_stanza_t *stats = xmpp_stanza_get_child_by_name_and_ns(reply, "stats", CC_NS_COLIBRI_STAT);
    if (stats == NULL)
        return FALSE;
    FocusBridgeReport r = {.ok = TRUE};
    gboolean have_stress = FALSE;
    for (xmpp_stanza_t *s = xmpp_stanza_get_children(stats); s != NULL;
         s = xmpp_stanza_get_next(s)) {
        const char *name = xmpp_stanza_is_tag(s) ? xmpp_stanza_get_attribute(s, "name") : NULL;
        const char *value = name ? xmpp_stanza_get_attribute(s, "value") : NULL;
        double v = 0;
        if (name == NULL || value == NULL)
            continue;
        if (g_str_equal(name, "stress_level"))
            have_stress = parse_double(value, &r.stress);
        else if (g_str_equal(name, "graceful_shutdown"))
            r.draining = g_str_equal(value, "true");
        else if (g_str_equal(name, "conferences") && parse_double(value, &v))
            r.conferences = (guint)MIN(v, G_MAXUINT);
        else if (g_str_equal(name, "endpoints") && parse_double(value, &v))
            r.endpoints = (guint)MIN(v, G_MAXUINT);
    }
    if (!have_stress)
        return FALSE;
    *report = r;
    return TRUE;
}

/* --- expiries the bridge has yet to hear ---------------------------------------------------- */

static void
on_expiry_reply(CcXmppComponent *xmpp, xmpp_stanza_t *reply, const GError *error, gpointer data)
{
    Expiry *e = data;
    Bridge *b = e->bridge;
    xmpp_stanza_t *err = reply ? xmpp_stanza_get_child_by_name(reply, "error") : NULL;
    /* A result, or any colibri2 refusal (conference_not_found...): the bridge heard it. */
    if (error == NULL ||
        (err != NULL && xmpp_stanza_get_child_by_name_and_ns(err, "error", CC_NS_COLIBRI2))) {
        g_info("bridge %s: a conference that moved away was expired there", b->jid);
        g_hash_table_remove(b->pending, e->meeting_id);
    } else if (e->final) {
        g_hash_table_remove(b->pending, e->meeting_id);
    } else {
        e->in_flight = FALSE;
    }
}

static void
send_expiry(FocusBridges *pool, Expiry *e)
{
    if (e->in_flight || !cc_xmpp_component_is_connected(pool->xmpp))
        return;
    g_autoptr(CcColibri2Modify) m = cc_colibri2_modify_new(e->meeting_id);
    m->expire = TRUE;
    xmpp_stanza_t *iq = xmpp_iq_new(cc_xmpp_component_ctx(pool->xmpp), "set", NULL);
    xmpp_stanza_set_to(iq, e->bridge->jid);
    xmpp_stanza_set_from(iq, cc_xmpp_component_domain(pool->xmpp));
    cc_colibri2_modify_write(iq, m);
    e->in_flight = TRUE;
    cc_xmpp_component_send_iq(pool->xmpp, iq, pool->timeout_ms, on_expiry_reply, e);
    xmpp_stanza_release(iq);
}

void
focus_bridges_expire_later(FocusBridges *pool, const char *jid, const char *meeting_id)
{
    Bridge *b = find(pool, jid);
    if (b == NULL)
        return;
    Expiry *queued = g_hash_table_lookup(b->pending, meeting_id);
    if (queued != NULL) {
        queued->final = FALSE; /* a newer placement left too: keep it queued after this one */
        return;
    }
    if (g_hash_table_size(b->pending) >= FOCUS_BRIDGES_MAX_PENDING) {
        g_warning("bridge %s: too many conferences to expire there; one is left to the bridge's "
                  "own expiry",
                  b->jid);
        return;
    }
    Expiry *e = g_new0(Expiry, 1);
    e->bridge = b;
    e->meeting_id = g_strdup(meeting_id);
    g_hash_table_insert(b->pending, e->meeting_id, e);
}

void
focus_bridges_expire_pending(FocusBridges *pool, const char *jid, const char *meeting_id)
{
    Bridge *b = find(pool, jid);
    Expiry *e = b ? g_hash_table_lookup(b->pending, meeting_id) : NULL;
    if (e == NULL)
        return;
    send_expiry(pool, e); /* if in flight already, it is ahead of the create anyway */
    if (e->in_flight)
        e->final = TRUE;
    else /* not connected: neither goes, and a later retry would hit the new conference */
        g_hash_table_remove(b->pending, meeting_id);
}

static void
send_pending(FocusBridges *pool, Bridge *b)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, b->pending);
    while (g_hash_table_iter_next(&it, NULL, &value))
        send_expiry(pool, value);
}

static void
on_health_reply(CcXmppComponent *xmpp, xmpp_stanza_t *reply, const GError *error, gpointer data)
{
    Bridge *b = data;
    b->checking = FALSE;
    FocusBridgeReport report = {0};
    if (error == NULL && !focus_bridges_parse_stats(reply, &report)) {
        g_warning("bridge %s: health answer without a valid stress_level", b->jid);
        report.ok = FALSE;
    } else if (error != NULL) {
        g_info("bridge %s: health check failed: %s", b->jid, error->message);
    }
    focus_bridges_record(b->pool, b->jid, &report);
    if (report.ok)
        send_pending(b->pool, b);
}

static void
check(FocusBridges *pool, Bridge *b)
{
    /* One check in flight per bridge: a slow bridge is not sent a pile of them. */
    if (b->checking || !cc_xmpp_component_is_connected(pool->xmpp))
        return;
    xmpp_stanza_t *iq = xmpp_iq_new(cc_xmpp_component_ctx(pool->xmpp), "get", NULL);
    xmpp_stanza_set_to(iq, b->jid);
    xmpp_stanza_set_from(iq, cc_xmpp_component_domain(pool->xmpp));
    cc_stanza_add_child(iq, "healthcheck", CC_NS_HEALTHCHECK);
    b->checking = TRUE;
    cc_xmpp_component_send_iq(pool->xmpp, iq, pool->timeout_ms, on_health_reply, b);
    xmpp_stanza_release(iq);
}

void
focus_bridges_check_all(FocusBridges *pool)
{
    for (guint i = 0; i < pool->bridges->len; i++)
        check(pool, g_ptr_array_index(pool->bridges, i));
}

static gboolean
on_timer(gpointer data)
{
    focus_bridges_check_all(data);
    return G_SOURCE_CONTINUE;
}

FocusBridges *
focus_bridges_new(CcXmppComponent *xmpp, const char *const *jids, guint interval_s,
                  guint timeout_ms, CcMetrics *metrics)
{
    FocusBridges *pool = g_new0(FocusBridges, 1);
    pool->xmpp = xmpp;
    pool->timeout_ms = timeout_ms;
    pool->bridges = g_ptr_array_new_with_free_func((GDestroyNotify)bridge_free);
    pool->m_available = cc_metrics_gauge(metrics, "conclave_focus_bridges_available",
                                         "Bridges healthy and not draining", NULL);
    for (const char *const *j = jids; j != NULL && *j != NULL; j++) {
        Bridge *b = g_new0(Bridge, 1);
        b->pool = pool;
        b->jid = g_strdup(*j);
        b->pending =
            g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)expiry_free);
        b->m_up =
            cc_metrics_gauge(metrics, "conclave_focus_bridge_up",
                             "1 while a bridge is healthy and not draining", "bridge", *j, NULL);
        b->m_stress =
            cc_metrics_gauge(metrics, "conclave_focus_bridge_stress_permille",
                             "A bridge's last reported stress_level, x1000", "bridge", *j, NULL);
        b->m_failures = cc_metrics_counter(metrics, "conclave_focus_bridge_failures_total",
                                           "Health checks a bridge failed (timeout, error, "
                                           "malformed answer)",
                                           "bridge", *j, NULL);
        b->m_conferences = cc_metrics_gauge(metrics, "conclave_focus_bridge_conferences",
                                            "Conferences this focus has placed on a bridge now",
                                            "bridge", *j, NULL);
        g_ptr_array_add(pool->bridges, b);
    }
    if (pool->bridges->len > 0)
        pool->timer = g_timeout_add_seconds(interval_s, on_timer, pool);
    return pool;
}

void
focus_bridges_free(FocusBridges *pool)
{
    if (pool == NULL)
        return;
    g_clear_handle_id(&pool->timer, g_source_remove);
    g_ptr_array_unref(pool->bridges);
    g_free(pool);
}
