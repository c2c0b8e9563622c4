/* Jingle that clients send to the focus (room@service/focus): session-accept, source-add,
 * source-remove, transport-info, session-info, session-terminate. Every request is checked
 * whole before anything changes: the session must exist and be in the right state, and the
 * sources must be well formed, few enough, and not another participant's. Jingle the focus
 * sends is jingle-send.c's. */
#include "focus-media.h"

#include "stanza.h"

#include <string.h>

static void
refuse(FocusMedia *media, xmpp_stanza_t *iq, const char *type, const char *condition,
       const char *jingle_condition, const char *text)
{
    const char *metric = jingle_condition ? jingle_condition : condition;
    CcMetric *m = g_hash_table_lookup(media->metrics.jingle_errors, metric);
    if (m != NULL)
        cc_metric_inc(m);
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_error_reply(iq, type, condition, text);
    if (jingle_condition != NULL)
        cc_jingle_error_condition(xmpp_stanza_get_child_by_name(reply, "error"), jingle_condition);
    cc_xmpp_component_send(media->xmpp, reply);
}

static void
acknowledge(FocusMedia *media, xmpp_stanza_t *iq)
{
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(iq);
    cc_xmpp_component_send(media->xmpp, reply);
}

/* --- checks ----------------------------------------------------------------------------- */

/* The participant of the conference other than `self` that announced `ssrc`, or NULL. */
static FocusParticipant *
ssrc_owner(FocusConference *conf, FocusParticipant *self, guint32 ssrc)
{
    for (guint i = 0; i < conf->participants->len; i++) {
        FocusParticipant *q = g_ptr_array_index(conf->participants, i);
        if (q != self && focus_offer_has_ssrc(q->sources, ssrc))
            return q;
    }
    return NULL;
}

/* Checks `added` (which `p` would have on top of `kept`); answers the error itself. */
static gboolean
sources_acceptable(FocusParticipant *p, xmpp_stanza_t *iq, GPtrArray *kept, GPtrArray *added)
{
    FocusMedia *media = p->conf->media;
    guint total = focus_offer_count_ssrcs(kept) + focus_offer_count_ssrcs(added);
    guint n_sources = (kept ? kept->len : 0) + added->len;
    if (total > media->settings.max_ssrcs || n_sources > CC_COLIBRI2_MAX_SOURCES) {
        g_autofree char *text =
            g_strdup_printf("At most %u SSRCs per participant", media->settings.max_ssrcs);
        refuse(media, iq, "modify", "policy-violation", NULL, text);
        return FALSE;
    }
    for (guint i = 0; i < added->len; i++) {
        GArray *ssrcs = ((CcColibri2Source *)g_ptr_array_index(added, i))->ssrcs;
        for (guint j = 0; j < ssrcs->len; j++) {
            guint32 ssrc = g_array_index(ssrcs, guint32, j);
            if (focus_offer_has_ssrc(kept, ssrc)) {
                g_autofree char *text = g_strdup_printf("SSRC %u is already announced", ssrc);
                refuse(media, iq, "modify", "bad-request", NULL, text);
                return FALSE;
            }
            if (ssrc_owner(p->conf, p, ssrc) != NULL) {
                g_autofree char *text =
                    g_strdup_printf("SSRC %u belongs to another participant", ssrc);
                refuse(media, iq, "modify", "not-acceptable", NULL, text);
                return FALSE;
            }
        }
    }
    return TRUE;
}

static GPtrArray *
parse_sources(FocusParticipant *p, xmpp_stanza_t *iq, const CcJingle *j)
{
    g_autoptr(GError) error = NULL;
    GPtrArray *sources = focus_offer_sources_from_jingle(j, p->endpoint, &error);
    if (sources == NULL)
        refuse(p->conf->media, iq, "modify", "bad-request", NULL, error->message);
    return sources;
}

/* Gives sources added later names unused by the participant's earlier ones. */
static void
rename_clashes(FocusParticipant *p, GPtrArray *added)
{
    for (guint i = 0; i < added->len; i++) {
        CcColibri2Source *s = g_ptr_array_index(added, i);
        for (guint k = 0;; k++) {
            gboolean clash = FALSE;
            for (guint j = 0; j < p->sources->len && !clash; j++)
                clash =
                    g_str_equal(((CcColibri2Source *)g_ptr_array_index(p->sources, j))->id, s->id);
            for (guint j = 0; j < i && !clash; j++)
                clash = g_str_equal(((CcColibri2Source *)g_ptr_array_index(added, j))->id, s->id);
            if (!clash)
                break;
            g_free(s->id);
            s->id = g_strdup_printf("%.40s-%s%u", p->endpoint,
                                    g_str_equal(s->type, "audio") ? "a" : "v", p->sources->len + k);
        }
    }
}

/* --- actions ---------------------------------------------------------------------------- */

/* What the answer kept of the offer: the bridge forwards only those payload types to this
 * participant (a client that answers VP8 only gets no VP9, H.264 or RTX it would drop). */
static void
accepted_payload_types(FocusParticipant *p, const CcJingle *j)
{
    p->has_payload_types = FALSE;
    p->audio_level_ext = 0;
    memset(&p->audio_pts, 0, sizeof p->audio_pts);
    memset(&p->video_pts, 0, sizeof p->video_pts);
    for (guint i = 0; i < j->contents->len; i++) {
        const CcJingleContent *c = g_ptr_array_index(j->contents, i);
        if (c->media == NULL)
            continue;
        CcColibri2PayloadTypes *pts =
            g_str_equal(c->media, "audio") ? &p->audio_pts : &p->video_pts;
        for (guint k = 0; g_str_equal(c->media, "audio") && k < c->hdrexts->len; k++) {
            const CcJingleHdrExt *h = g_ptr_array_index(c->hdrexts, k);
            if (g_str_equal(h->uri, CC_URI_AUDIO_LEVEL) && h->id <= G_MAXUINT8)
                p->audio_level_ext = (guint8)h->id;
        }
        for (guint k = 0; k < c->payload_types->len; k++) {
            cc_colibri2_payload_type_add(
                pts, ((CcJinglePayloadType *)g_ptr_array_index(c->payload_types, k))->id);
            p->has_payload_types = TRUE;
        }
    }
}

static void
session_accept(FocusParticipant *p, xmpp_stanza_t *iq, const CcJingle *j)
{
    FocusMedia *media = p->conf->media;
    if (p->state != PART_INITIATED) {
        refuse(media, iq, "modify", "unexpected-request", "out-of-order",
               "The session is not waiting for an answer");
        return;
    }
    const CcIceUdpTransport *transport = NULL;
    for (guint i = 0; i < j->contents->len && transport == NULL; i++)
        transport = ((CcJingleContent *)g_ptr_array_index(j->contents, i))->transport;
    if (transport == NULL || transport->fingerprint == NULL ||
        g_ascii_strcasecmp(transport->fp_hash, "sha-256") != 0) {
        refuse(media, iq, "modify", "bad-request", NULL,
               "session-accept needs an ICE-UDP transport with a sha-256 DTLS fingerprint");
        return;
    }
    g_autoptr(GPtrArray) sources = parse_sources(p, iq, j);
    if (sources == NULL || !sources_acceptable(p, iq, NULL, sources))
        return;
    acknowledge(media, iq);
    g_ptr_array_set_size(p->sources, 0);
    g_ptr_array_extend_and_steal(p->sources, g_steal_pointer(&sources));
    g_hash_table_remove_all(p->source_params);
    focus_offer_keep_params(p->source_params, j);
    focus_participant_set_state(p, PART_ACTIVE);
    g_autoptr(CcIceUdpTransport) full = cc_ice_udp_transport_copy(transport);
    if (p->trickled != NULL && g_strcmp0(p->trickled->ufrag, full->ufrag) == 0)
        for (guint i = 0;
             i < p->trickled->candidates->len && full->candidates->len < CC_ICE_UDP_MAX_CANDIDATES;
             i++) {
            const CcIceUdpCandidate *c = g_ptr_array_index(p->trickled->candidates, i);
            cc_ice_udp_transport_add_candidate(full, c->foundation, c->component, c->priority,
                                               c->ip, c->port, c->type);
        }
    g_clear_pointer(&p->trickled, cc_ice_udp_transport_free);
    p->remote_ufrag = g_strdup(full->ufrag);
    accepted_payload_types(p, j);
    /* This also tells it what changed since its offer, and the others of its sources. */
    focus_conference_update_endpoint(p->conf, p, full, TRUE);
}

static void
source_add(FocusParticipant *p, xmpp_stanza_t *iq, const CcJingle *j)
{
    g_autoptr(GPtrArray) added = parse_sources(p, iq, j);
    if (added == NULL || !sources_acceptable(p, iq, p->sources, added))
        return;
    rename_clashes(p, added);
    acknowledge(p->conf->media, iq);
    g_ptr_array_extend_and_steal(p->sources, g_steal_pointer(&added));
    focus_offer_keep_params(p->source_params, j);
    focus_conference_update_endpoint(p->conf, p, NULL, TRUE);
}

static void
drop_ssrc(CcColibri2Source *s, guint32 ssrc)
{
    for (guint i = s->ssrcs->len; i > 0; i--)
        if (g_array_index(s->ssrcs, guint32, i - 1) == ssrc)
            g_array_remove_index(s->ssrcs, i - 1);
    for (guint i = s->groups->len; i > 0; i--) {
        GArray *members = ((CcColibri2SsrcGroup *)g_ptr_array_index(s->groups, i - 1))->ssrcs;
        for (guint k = 0; k < members->len; k++)
            if (g_array_index(members, guint32, k) == ssrc) {
                g_ptr_array_remove_index(s->groups, i - 1);
                break;
            }
    }
}

static void
source_remove(FocusParticipant *p, xmpp_stanza_t *iq, const CcJingle *j)
{
    g_autoptr(GArray) ssrcs = g_array_new(FALSE, FALSE, sizeof(guint32));
    for (guint i = 0; i < j->contents->len; i++) {
        CcJingleContent *c = g_ptr_array_index(j->contents, i);
        for (guint k = 0; k < c->sources->len; k++) {
            guint32 ssrc = ((CcJingleSource *)g_ptr_array_index(c->sources, k))->ssrc;
            if (!focus_offer_has_ssrc(p->sources, ssrc)) {
                g_autofree char *text = g_strdup_printf("SSRC %u is not one of yours", ssrc);
                refuse(p->conf->media, iq, "modify", "not-acceptable", NULL, text);
                return;
            }
            g_array_append_val(ssrcs, ssrc);
        }
    }
    acknowledge(p->conf->media, iq);
    for (guint i = 0; i < ssrcs->len; i++)
        for (guint k = 0; k < p->sources->len; k++)
            drop_ssrc(g_ptr_array_index(p->sources, k), g_array_index(ssrcs, guint32, i));
    for (guint k = p->sources->len; k > 0; k--)
        if (((CcColibri2Source *)g_ptr_array_index(p->sources, k - 1))->ssrcs->len == 0)
            g_ptr_array_remove_index(p->sources, k - 1);
    focus_offer_prune_params(p->source_params, p->sources);
    focus_conference_update_endpoint(p->conf, p, NULL, TRUE);
}

/* Trickled candidates: kept until session-accept, then passed to the bridge as they come.
 * With BUNDLE every content carries the same transport: the first one is read. */
static void
transport_info(FocusParticipant *p, xmpp_stanza_t *iq, const CcJingle *j)
{
    FocusMedia *media = p->conf->media;
    const CcIceUdpTransport *t = NULL;
    for (guint i = 0; i < j->contents->len && t == NULL; i++)
        t = ((CcJingleContent *)g_ptr_array_index(j->contents, i))->transport;
    if (t == NULL || t->candidates->len == 0) {
        acknowledge(media, iq); /* nothing to pass on (e.g. end-of-candidates) */
        return;
    }
    if (p->state == PART_ACTIVE) {
        if (g_strcmp0(t->ufrag, p->remote_ufrag) != 0) {
            refuse(media, iq, "modify", "bad-request", NULL,
                   "ICE restarts are not supported: the ufrag must stay the same");
            return;
        }
        acknowledge(media, iq);
        focus_conference_update_endpoint(p->conf, p, t, FALSE);
        return;
    }
    if (p->trickled == NULL) {
        p->trickled = cc_ice_udp_transport_new();
        p->trickled->ufrag = g_strdup(t->ufrag);
        p->trickled->pwd = g_strdup(t->pwd);
    }
    if (g_strcmp0(p->trickled->ufrag, t->ufrag) != 0 ||
        p->trickled->candidates->len + t->candidates->len > CC_ICE_UDP_MAX_CANDIDATES) {
        refuse(media, iq, "modify", "policy-violation", NULL,
               "At most 16 candidates of one ICE session before session-accept");
        return;
    }
    acknowledge(media, iq);
    for (guint i = 0; i < t->candidates->len; i++) {
        const CcIceUdpCandidate *c = g_ptr_array_index(t->candidates, i);
        cc_ice_udp_transport_add_candidate(p->trickled, c->foundation, c->component, c->priority,
                                           c->ip, c->port, c->type);
    }
}

/* Reasons with which a client says its media path broke and it wants it back. */
static gboolean
wants_restart(const char *reason)
{
    static const char *const broken[] = {"connectivity-error", "failed-transport", "media-error",
                                         "timeout", NULL};
    return reason != NULL && g_strv_contains(broken, reason);
}

static void
session_terminate(FocusParticipant *p, xmpp_stanza_t *iq, const CcJingle *j)
{
    FocusConference *conf = p->conf;
    acknowledge(conf->media, iq);
    if (p->state == PART_ACTIVE && wants_restart(j->reason)) {
        focus_conference_restart(conf, p, NULL);
        return;
    }
    focus_participant_end_session(p, NULL, NULL, TRUE);
    focus_participant_set_state(p, PART_TEXT_ONLY);
    focus_conference_settle(conf);
}

/* Candidates a client offered that the bridge cannot use (browsers add TCP ones): left out
 * by the parser, counted here. */
static void
count_skipped_candidates(FocusMedia *media, const CcJingle *j)
{
    for (guint i = 0; i < j->contents->len; i++) {
        const CcIceUdpTransport *t =
            ((CcJingleContent *)g_ptr_array_index(j->contents, i))->transport;
        if (t != NULL && t->skipped_candidates > 0)
            cc_metric_add(media->metrics.candidates_skipped, t->skipped_candidates);
    }
}

static void
dispatch(FocusParticipant *p, xmpp_stanza_t *iq, const CcJingle *j)
{
    FocusMedia *media = p->conf->media;
    count_skipped_candidates(media, j);
    gboolean accepted = p->state == PART_ACTIVE;
    switch (j->action) {
    case CC_JINGLE_SESSION_ACCEPT:
        session_accept(p, iq, j);
        return;
    case CC_JINGLE_SESSION_TERMINATE:
        session_terminate(p, iq, j);
        return;
    case CC_JINGLE_SESSION_INFO:
        acknowledge(media, iq); /* muting, ringing: nothing for the focus to do */
        return;
    case CC_JINGLE_TRANSPORT_INFO:
        transport_info(p, iq, j);
        return;
    case CC_JINGLE_SOURCE_ADD:
    case CC_JINGLE_SOURCE_REMOVE:
        if (!accepted) {
            refuse(media, iq, "modify", "unexpected-request", "out-of-order",
                   "Sources change only after session-accept");
            return;
        }
        if (j->action == CC_JINGLE_SOURCE_ADD)
            source_add(p, iq, j);
        else
            source_remove(p, iq, j);
        return;
    default:
        refuse(media, iq, "cancel", "feature-not-implemented", "unsupported-info",
               "The focus does not take this action");
        return;
    }
}

static gboolean
on_jingle(CcXmppComponent *comp, xmpp_stanza_t *iq, gpointer data)
{
    FocusMedia *media = data;
    if (g_strcmp0(xmpp_stanza_get_type(iq), "set") != 0)
        return FALSE;
    cc_metric_inc(media->metrics.jingle_in);
    const char *from = xmpp_stanza_get_from(iq);
    if (!focus_policy_allow_stanza(media->muc->policy, from)) {
        refuse(media, iq, "wait", "resource-constraint", NULL, "Too many stanzas");
        return TRUE;
    }
    g_autoptr(CcJid) to = cc_jid_parse(xmpp_stanza_get_to(iq), NULL);
    FocusRoom *room = to && to->local ? focus_muc_find_room(media->muc, to->local) : NULL;
    FocusConference *conf = room ? room->media : NULL;
    FocusParticipant *p = conf && to->resource && g_str_equal(to->resource, FOCUS_NICK)
                              ? g_hash_table_lookup(conf->by_jid, from)
                              : NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(CcJingle) j = cc_jingle_parse(cc_stanza_first_element(iq), &error);
    if (j == NULL) {
        refuse(media, iq, "modify", "bad-request", NULL, error->message);
        return TRUE;
    }
    if (j->action == CC_JINGLE_SESSION_INITIATE) {
        refuse(media, iq, "cancel", "feature-not-implemented", "unsupported-info",
               "The focus starts the sessions");
        return TRUE;
    }
    if (p == NULL || p->sid == NULL || p->state < PART_INITIATED || !g_str_equal(p->sid, j->sid)) {
        refuse(media, iq, "cancel", "item-not-found", "unknown-session", NULL);
        return TRUE;
    }
    dispatch(p, iq, j);
    return TRUE;
}

void
focus_jingle_install(FocusMedia *media)
{
    cc_xmpp_component_register_iq(media->xmpp, CC_NS_JINGLE, "jingle", on_jingle, media);
}
