/* The scripted world around a focus with media, shared by the media fuzz target and the
 * scenario runner: it answers what the focus asks of others. Clients whose localpart starts
 * with 'm' want media (disco#info), two bridges answer health checks and conference-modify
 * with endpoints and transports, clients acknowledge Jingle. Only IQs from the focus's own
 * addresses (the service, room@service/focus) are answered: an IQ routed between occupants
 * waits for the answer the input gives.
 *
 * Besides stanzas, the input may hold control elements: <fail-bridge/> (the next Colibri2
 * answer is an error, graceful_shutdown), <refuse-bridge/> (a refusal, bad_request),
 * <kill-bridge/> (the bridge carrying a conference is reported dead), <lose-endpoint/> (the
 * bridge expired a participant's endpoint), <lose-conference/> (the next Colibri2 answer is
 * conference_not_found: the bridge expired the conference), <revive-bridges/> (health checks
 * again), <refuse-recording reason='R'/> (the next Colibri2 request with a <recording> is refused
 * with reason R, recording_disabled by default, and its stanza error), <recording-status
 * state='S' reason='R'/> (the bridge of a running recording reports it, state failed and
 * reason disk_full by default) and <advance seconds='N'/> (the policy's clock, frozen
 * otherwise, moves on N seconds). A Jingle IQ with sid='*' gets the sender's current
 * session id. */
#pragma once

#include "conference.h"
#include "focus-fixture.h"
#include "focus-media.h"
#include "stanza.h"

#include <string.h>

static const char *const focus_world_bridges[] = {"b1.example", "b2.example", NULL};

typedef struct {
    FocusFixture *fixture;
    xmpp_ctx_t *ctx;
    FocusBridges *bridges; /* NULL without media */
    FocusMedia *media;
    GQueue *outbox;         /* xmpp_stanza_t* copies of what the focus sent, not yet answered */
    GPtrArray *sent;        /* copies of everything the focus sent, when recording; else NULL */
    gboolean fail_next;     /* the next Colibri2 answer says graceful_shutdown */
    gboolean refuse_next;   /* the next Colibri2 answer says bad_request */
    gboolean lose_next;     /* the next Colibri2 answer says conference_not_found */
    char *refuse_recording; /* the reason refusing the next <recording>; NULL: none */
} FocusWorld;

static void
focus_world_on_send(xmpp_stanza_t *stanza, gpointer data)
{
    FocusWorld *w = data;
    g_queue_push_tail(w->outbox, xmpp_stanza_clone(stanza));
    if (w->sent != NULL)
        g_ptr_array_add(w->sent, xmpp_stanza_clone(stanza));
}

static gboolean
focus_world_is_bridge(const char *jid)
{
    for (guint i = 0; jid != NULL && focus_world_bridges[i] != NULL; i++)
        if (strcmp(jid, focus_world_bridges[i]) == 0)
            return TRUE;
    return FALSE;
}

static void
focus_world_add_transport(xmpp_stanza_t *endpoint)
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

static void
focus_world_disco_answer(xmpp_stanza_t *reply, const char *to)
{
    xmpp_stanza_t *q = cc_stanza_add_child(reply, "query", CC_NS_DISCO_INFO);
    xmpp_stanza_t *id = cc_stanza_add_child(q, "identity", NULL);
    xmpp_stanza_set_attribute(id, "category", "client");
    xmpp_stanza_set_attribute(id, "type", "pc");
    if (to != NULL && to[0] == 'm') {
        xmpp_stanza_t *f = cc_stanza_add_child(q, "feature", NULL);
        xmpp_stanza_set_attribute(f, "var", CC_NS_JINGLE_RTP);
    }
}

/* The error a bridge answers a <recording> with (schemas/colibri2.md, Recording). */
static xmpp_stanza_t *
focus_world_recording_refusal(FocusWorld *w, xmpp_stanza_t *s)
{
    static const char *const errors[][3] = {
        {"recording_disabled", "cancel", "feature-not-implemented"},
        {"recording_active", "cancel", "conflict"},
        {"unknown_recording", "cancel", "item-not-found"},
        {"recording_failed", "wait", "internal-server-error"},
    };
    gsize i = 0;
    while (i + 1 < G_N_ELEMENTS(errors) && strcmp(errors[i][0], w->refuse_recording) != 0)
        i++;
    xmpp_stanza_t *reply = cc_stanza_error_reply(s, errors[i][1], errors[i][2], NULL);
    cc_colibri2_error_reason(xmpp_stanza_get_child_by_name(reply, "error"), errors[i][0]);
    g_clear_pointer(&w->refuse_recording, g_free);
    return reply;
}

/* A bridge's answer to conference-modify (or the error the input asked for). */
static xmpp_stanza_t *
focus_world_colibri2_answer(FocusWorld *w, xmpp_stanza_t *s, xmpp_stanza_t *payload)
{
    g_autoptr(CcColibri2Modify) m = cc_colibri2_modify_parse(payload, NULL);
    if (m == NULL)
        abort(); /* the focus must only send what the contract allows */
    /* Bridges learn a room only by its tag: r: and 12 hex characters. */
    const char *name = xmpp_stanza_get_attribute(payload, "name");
    if (name == NULL || strlen(name) != 14 || !g_str_has_prefix(name, "r:") ||
        strspn(name + 2, "0123456789abcdef") != 12)
        abort();
    if (m->recording != CC_COLIBRI2_RECORDING_NONE && w->refuse_recording != NULL)
        return focus_world_recording_refusal(w, s);
    if (w->lose_next) {
        w->lose_next = FALSE;
        xmpp_stanza_t *reply = cc_stanza_error_reply(s, "cancel", "item-not-found", NULL);
        cc_colibri2_error_reason(xmpp_stanza_get_child_by_name(reply, "error"),
                                 "conference_not_found");
        return reply;
    }
    if (w->fail_next || w->refuse_next) {
        gboolean fail = w->fail_next;
        w->fail_next = w->refuse_next = FALSE;
        xmpp_stanza_t *reply = fail
                                   ? cc_stanza_error_reply(s, "cancel", "service-unavailable", NULL)
                                   : cc_stanza_error_reply(s, "modify", "bad-request", NULL);
        cc_colibri2_error_reason(xmpp_stanza_get_child_by_name(reply, "error"),
                                 fail ? "graceful_shutdown" : "bad_request");
        return reply;
    }
    xmpp_stanza_t *reply = cc_stanza_iq_result(s);
    xmpp_stanza_t *cm = cc_stanza_add_child(reply, "conference-modified", CC_NS_COLIBRI2);
    xmpp_stanza_set_attribute(cm, "meeting-id", m->meeting_id);
    for (guint i = 0; i < m->endpoints->len; i++) {
        CcColibri2Endpoint *ep = g_ptr_array_index(m->endpoints, i);
        xmpp_stanza_t *e = cc_stanza_add_child(cm, "endpoint", NULL);
        xmpp_stanza_set_attribute(e, "id", ep->id);
        if (ep->create)
            focus_world_add_transport(e);
    }
    return reply;
}

/* What the world says back to one stanza of the focus's; NULL for nothing. */
static xmpp_stanza_t *
focus_world_answer(FocusWorld *w, xmpp_stanza_t *s)
{
    if (g_strcmp0(xmpp_stanza_get_name(s), "iq") != 0)
        return NULL;
    const char *type = xmpp_stanza_get_type(s);
    if (g_strcmp0(type, "get") != 0 && g_strcmp0(type, "set") != 0)
        return NULL;
    const char *from = xmpp_stanza_get_from(s);
    const char *to = xmpp_stanza_get_to(s);
    gboolean from_focus =
        from == NULL || strchr(from, '@') == NULL || g_str_has_suffix(from, "/focus");
    if (!from_focus && !focus_world_is_bridge(to))
        return NULL; /* routed between occupants: the input answers */
    xmpp_stanza_t *payload = cc_stanza_first_element(s);
    const char *ns = payload ? xmpp_stanza_get_ns(payload) : NULL;
    if (g_strcmp0(ns, CC_NS_COLIBRI2) == 0)
        return focus_world_colibri2_answer(w, s, payload);
    xmpp_stanza_t *reply = cc_stanza_iq_result(s);
    if (g_strcmp0(ns, CC_NS_DISCO_INFO) == 0) {
        focus_world_disco_answer(reply, to);
    } else if (g_strcmp0(ns, CC_NS_HEALTHCHECK) == 0) {
        xmpp_stanza_t *stats = cc_stanza_add_child(reply, "stats", CC_NS_COLIBRI_STAT);
        xmpp_stanza_t *stat = cc_stanza_add_child(stats, "stat", NULL);
        xmpp_stanza_set_attribute(stat, "name", "stress_level");
        xmpp_stanza_set_attribute(stat, "value", "0.1");
    }
    /* Jingle to clients, and anything else: a plain result. */
    return reply;
}

static void
focus_world_run(FocusWorld *w)
{
    for (guint rounds = 0; rounds < 10000 && !g_queue_is_empty(w->outbox); rounds++) {
        xmpp_stanza_t *s = g_queue_pop_head(w->outbox);
        xmpp_stanza_t *reply = focus_world_answer(w, s);
        if (reply != NULL) {
            cc_xmpp_component_inject(w->fixture->xmpp, reply);
            xmpp_stanza_release(reply);
        }
        xmpp_stanza_release(s);
    }
}

/* sid='*' stands for the sender's current session. */
static void
focus_world_fill_sid(FocusWorld *w, xmpp_stanza_t *s)
{
    xmpp_stanza_t *j = xmpp_stanza_get_child_by_name_and_ns(s, "jingle", CC_NS_JINGLE);
    if (w->media == NULL || j == NULL || g_strcmp0(xmpp_stanza_get_attribute(j, "sid"), "*") != 0)
        return;
    g_autoptr(CcJid) to = cc_jid_parse(xmpp_stanza_get_to(s), NULL);
    FocusRoom *room = to && to->local ? focus_muc_find_room(w->fixture->muc, to->local) : NULL;
    FocusConference *conf = room ? room->media : NULL;
    const char *from = xmpp_stanza_get_from(s);
    FocusParticipant *p = conf && from ? g_hash_table_lookup(conf->by_jid, from) : NULL;
    if (p != NULL && p->sid != NULL)
        xmpp_stanza_set_attribute(j, "sid", p->sid);
}

/* The bridge of some conference, else the one a new conference would get. */
static char *
focus_world_carrying_bridge(FocusMedia *media)
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
focus_world_lose_endpoint(FocusWorld *w)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, w->media->conferences);
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
            cc_xmpp_component_inject(w->fixture->xmpp, msg);
            xmpp_stanza_release(msg);
            return;
        }
    }
}

/* The bridge of the first running recording reports it `state` for `reason`. */
static void
focus_world_recording_status(FocusWorld *w, xmpp_stanza_t *control)
{
    const char *state = xmpp_stanza_get_attribute(control, "state");
    const char *reason = xmpp_stanza_get_attribute(control, "reason");
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, w->media->conferences);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        FocusConference *conf = value;
        if (conf->bridge == NULL || conf->recording.state != FOCUS_REC_ON)
            continue;
        CcColibri2RecordingStatus st = {.meeting_id = conf->room->meeting_id,
                                        .id = conf->recording.id,
                                        .state = (char *)(state ? state : "failed"),
                                        .reason = (char *)(reason ? reason : "disk_full")};
        xmpp_stanza_t *msg = xmpp_message_new(w->ctx, NULL, "muc.example", NULL);
        xmpp_stanza_set_from(msg, conf->bridge);
        cc_colibri2_recording_status_write(msg, &st);
        cc_xmpp_component_inject(w->fixture->xmpp, msg);
        xmpp_stanza_release(msg);
        return;
    }
}

/* Runs a control element; FALSE if `s` is not one. */
static gboolean
focus_world_control(FocusWorld *w, xmpp_stanza_t *s)
{
    const char *name = xmpp_stanza_get_name(s);
    if (g_strcmp0(name, "advance") == 0) {
        const char *seconds = xmpp_stanza_get_attribute(s, "seconds");
        focus_fixture_now_us += G_USEC_PER_SEC * (seconds ? g_ascii_strtoll(seconds, NULL, 10) : 1);
        return TRUE;
    }
    if (w->media == NULL)
        return FALSE;
    if (g_strcmp0(name, "fail-bridge") == 0) {
        w->fail_next = TRUE;
    } else if (g_strcmp0(name, "refuse-bridge") == 0) {
        w->refuse_next = TRUE;
    } else if (g_strcmp0(name, "kill-bridge") == 0) {
        g_autofree char *dead = focus_world_carrying_bridge(w->media);
        if (dead != NULL)
            focus_bridges_fail(w->bridges, dead);
    } else if (g_strcmp0(name, "lose-conference") == 0) {
        w->lose_next = TRUE;
    } else if (g_strcmp0(name, "lose-endpoint") == 0) {
        focus_world_lose_endpoint(w);
    } else if (g_strcmp0(name, "revive-bridges") == 0) {
        focus_bridges_check_all(w->bridges);
    } else if (g_strcmp0(name, "refuse-recording") == 0) {
        const char *reason = xmpp_stanza_get_attribute(s, "reason");
        g_free(w->refuse_recording);
        w->refuse_recording = g_strdup(reason ? reason : "recording_disabled");
    } else if (g_strcmp0(name, "recording-status") == 0) {
        focus_world_recording_status(w, s);
    } else {
        return FALSE;
    }
    return TRUE;
}

/* Delivers one element of the input (a stanza or a control), then lets the world answer
 * until the focus is quiet. */
static void
focus_world_feed(FocusWorld *w, xmpp_stanza_t *s)
{
    if (!focus_world_control(w, s)) {
        focus_world_fill_sid(w, s);
        cc_xmpp_component_inject(w->fixture->xmpp, s);
    }
    focus_world_run(w);
}

/* The media invariants, or NULL when they hold: the session gauge equals the accepted
 * sessions; every source a participant was told of belongs to another participant's
 * accepted session; no conference stays on a bridge without endpoints. */
static const char *
focus_world_check_conference(FocusConference *conf, gint64 *active)
{
    gboolean endpoints = FALSE;
    for (guint i = 0; i < conf->participants->len; i++)
        endpoints |= ((FocusParticipant *)g_ptr_array_index(conf->participants, i))->state >=
                     PART_ALLOCATING;
    if (conf->bridge != NULL && !conf->creating && !endpoints)
        return "a conference left on a bridge with nobody in it";
    FocusRecState rec = conf->recording.state;
    if (conf->room->recording != (rec == FOCUS_REC_ON || rec == FOCUS_REC_STOPPING))
        return "the room's recording flag differs from its conference's recording";
    if ((conf->recording.pending != NULL) !=
        (rec == FOCUS_REC_STARTING || rec == FOCUS_REC_STOPPING))
        return "a recording request waits without a change under way, or the reverse";
    if (rec != FOCUS_REC_OFF && conf->bridge == NULL)
        return "a recording runs for a conference on no bridge";
    for (guint i = 0; i < conf->participants->len; i++) {
        FocusParticipant *p = g_ptr_array_index(conf->participants, i);
        *active += p->state == PART_ACTIVE;
        if (p->state != PART_ACTIVE)
            continue;
        GHashTableIter told;
        gpointer key;
        g_hash_table_iter_init(&told, p->told);
        while (g_hash_table_iter_next(&told, &key, NULL)) {
            gboolean found = FALSE;
            for (guint k = 0; k < conf->participants->len && !found; k++) {
                FocusParticipant *q = g_ptr_array_index(conf->participants, k);
                found = q != p && q->state == PART_ACTIVE && g_str_has_prefix(key, q->endpoint) &&
                        ((const char *)key)[strlen(q->endpoint)] == '/';
            }
            if (!found)
                return "a participant was told of a source nobody sends";
        }
    }
    return NULL;
}

static const char *
focus_world_check(FocusWorld *w)
{
    if (w->media == NULL)
        return NULL;
    gint64 active = 0;
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, w->media->conferences);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        const char *broken = focus_world_check_conference(value, &active);
        if (broken != NULL)
            return broken;
    }
    if (cc_metric_get(w->media->metrics.sessions) != active)
        return "the session gauge differs from the accepted sessions";
    return NULL;
}

/* A world around the fixture's focus; with media, two healthy bridges and at most
 * `max_ssrcs` SSRCs per participant (0: 6). When `record`, every stanza the focus sends is
 * also kept in w->sent. */
static void
focus_world_init(FocusWorld *w, FocusFixture *f, gboolean with_media, guint max_ssrcs,
                 gboolean record)
{
    *w = (FocusWorld){.fixture = f,
                      .ctx = cc_xmpp_component_ctx(f->xmpp),
                      .outbox = g_queue_new(),
                      .sent = record ? g_ptr_array_new() : NULL};
    cc_xmpp_component_set_outbox(f->xmpp, focus_world_on_send, w);
    if (!with_media)
        return;
    w->bridges = focus_bridges_new(f->xmpp, focus_world_bridges, 3600, 1000, f->metrics);
    FocusMediaSettings ms = {.max_ssrcs = max_ssrcs ? max_ssrcs : 6,
                             .client_timeout_ms = 1000,
                             .bridge_timeout_ms = 1000};
    w->media = focus_media_new(f->xmpp, f->muc, w->bridges, &ms, f->metrics);
    focus_bridges_check_all(w->bridges);
    focus_world_run(w);
}

/* Before the fixture: the copies belong to its libstrophe context. */
static void
focus_world_clear(FocusWorld *w)
{
    if (w->media != NULL)
        focus_media_free(w->media);
    if (w->bridges != NULL)
        focus_bridges_free(w->bridges);
    while (!g_queue_is_empty(w->outbox))
        xmpp_stanza_release(g_queue_pop_head(w->outbox));
    g_queue_free(w->outbox);
    g_free(w->refuse_recording);
    for (guint i = 0; w->sent != NULL && i < w->sent->len; i++)
        xmpp_stanza_release(g_ptr_array_index(w->sent, i));
    if (w->sent != NULL)
        g_ptr_array_free(w->sent, TRUE);
    cc_xmpp_component_set_outbox(w->fixture->xmpp, NULL, NULL);
}
