/* libFuzzer target: the focus's media side (capabilities, Jingle from clients, Colibri2 to
 * bridges, failover) fed arbitrary client stanzas, in a scripted world that answers
 * everything the focus sends: clients whose localpart starts with 'm' want media, a bridge
 * answers health checks and conference-modify with endpoints and transports, clients
 * acknowledge Jingle. A Jingle IQ in the input with sid='*' gets the sender's current
 * session id, so that inputs reach the checks behind the sid. A <fail-bridge/> element makes
 * the next bridge answer an error (graceful_shutdown), <refuse-bridge/> a refusal
 * (bad_request), <kill-bridge/> reports the bridge dead, which moves conferences to the
 * other one, and <lose-endpoint/> has the bridge say it expired a participant's endpoint.
 *
 * Checks: no crash, no leak, and the session gauge equals the accepted sessions; every
 * source a participant was told of belongs to another participant's accepted session; no
 * conference stays on a bridge without endpoints. */
#include "conference.h"
#include "focus-fixture.h"
#include "focus-media.h"
#include "stanza.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const bridge_jids[] = {"b1.example", "b2.example", NULL};

typedef struct {
    xmpp_ctx_t *ctx;
    GQueue *outbox;       /* xmpp_stanza_t* copies of what the focus sent */
    gboolean fail_next;   /* the next Colibri2 answer says graceful_shutdown */
    gboolean refuse_next; /* the next Colibri2 answer says bad_request */
} World;

static void
on_send(xmpp_stanza_t *stanza, gpointer data)
{
    World *w = data;
    g_queue_push_tail(w->outbox, xmpp_stanza_clone(stanza));
}

static xmpp_stanza_t *
answer_to(xmpp_stanza_t *request)
{
    return cc_stanza_iq_result(request);
}

static void
add_transport(xmpp_stanza_t *endpoint)
{
    g_autoptr(CcIceUdpTransport) t = cc_ice_udp_transport_new();
    t->ufrag = g_strdup("ufrg");
    t->pwd = g_strdup("0123456789abcdefghijkl");
    t->fp_hash = g_strdup("sha-256");
    t->fp_setup = g_strdup("actpass");
    t->fingerprint = g_strdup("AA:BB:CC");
    t->rtcp_mux = TRUE;
    cc_ice_udp_transport_add_candidate(t, "1", 1, 2130706431, "127.0.0.1", 10000, "host");
    cc_colibri2_transport_write(endpoint, t);
}

/* What the world says back to one stanza of the focus's; NULL for nothing. */
static xmpp_stanza_t *
world_answer(World *w, xmpp_stanza_t *s)
{
    if (g_strcmp0(xmpp_stanza_get_name(s), "iq") != 0)
        return NULL;
    const char *type = xmpp_stanza_get_type(s);
    if (g_strcmp0(type, "get") != 0 && g_strcmp0(type, "set") != 0)
        return NULL;
    xmpp_stanza_t *payload = cc_stanza_first_element(s);
    const char *ns = payload ? xmpp_stanza_get_ns(payload) : NULL;
    const char *to = xmpp_stanza_get_to(s);
    xmpp_stanza_t *reply = answer_to(s);
    if (g_strcmp0(ns, CC_NS_DISCO_INFO) == 0) {
        xmpp_stanza_t *q = cc_stanza_add_child(reply, "query", CC_NS_DISCO_INFO);
        xmpp_stanza_t *id = cc_stanza_add_child(q, "identity", NULL);
        xmpp_stanza_set_attribute(id, "category", "client");
        xmpp_stanza_set_attribute(id, "type", "pc");
        if (to != NULL && to[0] == 'm') {
            xmpp_stanza_t *f = cc_stanza_add_child(q, "feature", NULL);
            xmpp_stanza_set_attribute(f, "var", CC_NS_JINGLE_RTP);
        }
    } else if (g_strcmp0(ns, CC_NS_HEALTHCHECK) == 0) {
        xmpp_stanza_t *stats = cc_stanza_add_child(reply, "stats", CC_NS_COLIBRI_STAT);
        xmpp_stanza_t *stat = cc_stanza_add_child(stats, "stat", NULL);
        xmpp_stanza_set_attribute(stat, "name", "stress_level");
        xmpp_stanza_set_attribute(stat, "value", "0.1");
    } else if (g_strcmp0(ns, CC_NS_COLIBRI2) == 0) {
        g_autoptr(CcColibri2Modify) m = cc_colibri2_modify_parse(payload, NULL);
        if (m == NULL)
            abort(); /* the focus must only send what the contract allows */
        /* Bridges learn a room only by its tag: r: and 12 hex characters. */
        const char *name = xmpp_stanza_get_attribute(payload, "name");
        if (name == NULL || strlen(name) != 14 || !g_str_has_prefix(name, "r:") ||
            strspn(name + 2, "0123456789abcdef") != 12)
            abort();
        if (w->fail_next) {
            w->fail_next = FALSE;
            xmpp_stanza_release(reply);
            reply = cc_stanza_error_reply(s, "cancel", "service-unavailable", NULL);
            cc_colibri2_error_reason(xmpp_stanza_get_child_by_name(reply, "error"),
                                     "graceful_shutdown");
            return reply;
        }
        if (w->refuse_next) {
            w->refuse_next = FALSE;
            xmpp_stanza_release(reply);
            reply = cc_stanza_error_reply(s, "modify", "bad-request", NULL);
            cc_colibri2_error_reason(xmpp_stanza_get_child_by_name(reply, "error"), "bad_request");
            return reply;
        }
        xmpp_stanza_t *cm = cc_stanza_add_child(reply, "conference-modified", CC_NS_COLIBRI2);
        xmpp_stanza_set_attribute(cm, "meeting-id", m->meeting_id);
        for (guint i = 0; i < m->endpoints->len; i++) {
            CcColibri2Endpoint *ep = g_ptr_array_index(m->endpoints, i);
            xmpp_stanza_t *e = cc_stanza_add_child(cm, "endpoint", NULL);
            xmpp_stanza_set_attribute(e, "id", ep->id);
            if (ep->create)
                add_transport(e);
        }
    }
    /* Jingle to clients, and anything else: a plain result. */
    return reply;
}

static void
run_world(World *w, CcXmppComponent *xmpp)
{
    for (guint rounds = 0; rounds < 10000 && !g_queue_is_empty(w->outbox); rounds++) {
        xmpp_stanza_t *s = g_queue_pop_head(w->outbox);
        xmpp_stanza_t *reply = world_answer(w, s);
        if (reply != NULL) {
            cc_xmpp_component_inject(xmpp, reply);
            xmpp_stanza_release(reply);
        }
        xmpp_stanza_release(s);
    }
}

/* sid='*' stands for the sender's current session. */
static void
fill_sid(FocusMuc *muc, xmpp_stanza_t *s)
{
    xmpp_stanza_t *j = xmpp_stanza_get_child_by_name_and_ns(s, "jingle", CC_NS_JINGLE);
    if (j == NULL || g_strcmp0(xmpp_stanza_get_attribute(j, "sid"), "*") != 0)
        return;
    g_autoptr(CcJid) to = cc_jid_parse(xmpp_stanza_get_to(s), NULL);
    FocusRoom *room = to && to->local ? focus_muc_find_room(muc, to->local) : NULL;
    FocusConference *conf = room ? room->media : NULL;
    const char *from = xmpp_stanza_get_from(s);
    FocusParticipant *p = conf && from ? g_hash_table_lookup(conf->by_jid, from) : NULL;
    if (p != NULL && p->sid != NULL)
        xmpp_stanza_set_attribute(j, "sid", p->sid);
}

/* The bridge of some conference, else the one a new conference would get. */
static char *
carrying_bridge(FocusMedia *media)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, media->conferences);
    while (g_hash_table_iter_next(&it, NULL, &value))
        if (((FocusConference *)value)->bridge != NULL)
            return g_strdup(((FocusConference *)value)->bridge);
    return g_strdup(focus_bridges_select(media->bridges));
}

/* The conference's bridge says it lost the first participant's endpoint that it has. */
static void
lose_endpoint(World *w, CcXmppComponent *xmpp, FocusMedia *media)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, media->conferences);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        FocusConference *conf = value;
        for (guint i = 0; conf->bridge != NULL && i < conf->participants->len; i++) {
            FocusParticipant *p = g_ptr_array_index(conf->participants, i);
            if (p->state < PART_INITIATED)
                continue;
            xmpp_stanza_t *msg = xmpp_message_new(w->ctx, NULL, "muc.example", NULL);
            xmpp_stanza_set_from(msg, conf->bridge);
            xmpp_stanza_t *e = cc_stanza_add_child(msg, "endpoint-expired", CC_NS_COLIBRI2);
            xmpp_stanza_set_attribute(e, "meeting-id", conf->room->meeting_id);
            xmpp_stanza_set_attribute(e, "id", p->endpoint);
            xmpp_stanza_set_attribute(e, "reason", "ice_failed");
            cc_xmpp_component_inject(xmpp, msg);
            xmpp_stanza_release(msg);
            return;
        }
    }
}

static void
check_invariants(FocusMedia *media)
{
    gint64 active = 0;
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, media->conferences);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        FocusConference *conf = value;
        gboolean endpoints = FALSE;
        for (guint i = 0; i < conf->participants->len; i++)
            endpoints |= ((FocusParticipant *)g_ptr_array_index(conf->participants, i))->state >=
                         PART_ALLOCATING;
        if (conf->bridge != NULL && !conf->creating && !endpoints)
            abort(); /* a conference left on a bridge with nobody in it */
        for (guint i = 0; i < conf->participants->len; i++) {
            FocusParticipant *p = g_ptr_array_index(conf->participants, i);
            active += p->state == PART_ACTIVE;
            if (p->state != PART_ACTIVE)
                continue;
            GHashTableIter told;
            gpointer key;
            g_hash_table_iter_init(&told, p->told);
            while (g_hash_table_iter_next(&told, &key, NULL)) {
                gboolean found = FALSE;
                for (guint k = 0; k < conf->participants->len && !found; k++) {
                    FocusParticipant *q = g_ptr_array_index(conf->participants, k);
                    found = q != p && q->state == PART_ACTIVE &&
                            g_str_has_prefix(key, q->endpoint) &&
                            ((const char *)key)[strlen(q->endpoint)] == '/';
                }
                if (!found)
                    abort(); /* told of a source nobody sends */
            }
        }
    }
    if (cc_metric_get(media->metrics.sessions) != active)
        abort();
    if (g_getenv("FUZZ_VERBOSE") != NULL)
        g_printerr("sessions %" G_GINT64_FORMAT "\n", active);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    FocusFixture f;
    focus_fixture_init(&f, NULL, 100000, 8);
    CcXmppComponent *xmpp = f.xmpp;
    World world = {.ctx = cc_xmpp_component_ctx(xmpp), .outbox = g_queue_new()};
    cc_xmpp_component_set_outbox(xmpp, on_send, &world);
    FocusMuc *muc = f.muc;
    CcMetrics *metrics = f.metrics;
    FocusBridges *bridges = focus_bridges_new(xmpp, bridge_jids, 3600, 1000, metrics);
    FocusMediaSettings ms = {.max_ssrcs = 6, .client_timeout_ms = 1000, .bridge_timeout_ms = 1000};
    FocusMedia *media = focus_media_new(xmpp, muc, bridges, &ms, metrics);
    focus_bridges_check_all(bridges);
    run_world(&world, xmpp);

    xmpp_stanza_t *wrapper = focus_fixture_wrap(&f, data, size);
    if (wrapper != NULL) {
        for (xmpp_stanza_t *s = xmpp_stanza_get_children(wrapper); s != NULL;
             s = xmpp_stanza_get_next(s)) {
            if (!xmpp_stanza_is_tag(s))
                continue;
            const char *name = xmpp_stanza_get_name(s);
            if (g_strcmp0(name, "fail-bridge") == 0) {
                world.fail_next = TRUE;
            } else if (g_strcmp0(name, "refuse-bridge") == 0) {
                world.refuse_next = TRUE;
            } else if (g_strcmp0(name, "kill-bridge") == 0) {
                g_autofree char *dead = carrying_bridge(media);
                if (dead != NULL)
                    focus_bridges_fail(bridges, dead);
            } else if (g_strcmp0(name, "lose-endpoint") == 0) {
                lose_endpoint(&world, xmpp, media);
            } else if (g_strcmp0(name, "revive-bridges") == 0) {
                focus_bridges_check_all(bridges);
            } else {
                fill_sid(muc, s);
                cc_xmpp_component_inject(xmpp, s);
            }
            run_world(&world, xmpp);
            check_invariants(media);
        }
        xmpp_stanza_release(wrapper);
    }
    focus_media_free(media);
    focus_bridges_free(bridges);
    /* The copies belong to the component's libstrophe context: released before it goes. */
    while (!g_queue_is_empty(world.outbox))
        xmpp_stanza_release(g_queue_pop_head(world.outbox));
    g_queue_free(world.outbox);
    focus_fixture_clear(&f);
    return 0;
}
