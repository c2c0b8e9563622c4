/* The test peer's Jingle sessions with the focus (XEP-0166/0167/0176/0320, Jitsi's
 * source-add / source-remove), through common/jingle.h. One session at a time: a
 * session-initiate tears down the previous one (bridge failover) and creates a new ICE
 * agent, DTLS association and SRTP contexts (peer.c); session-accept follows once our
 * candidates are gathered.
 *
 * Jingle is accepted from the room's JIDs only (any JID with --jingle-from-anyone); from
 * elsewhere it is refused with auth/forbidden. A request that does not parse gets
 * modify/bad-request; one for a session we do not have (wrong sid, or not from the JID
 * that initiated it) cancel/item-not-found with <unknown-session/>; session-accept and the
 * other initiator-only answers cancel/unexpected-request with <out-of-order/>; actions we
 * do not implement cancel/feature-not-implemented.
 *
 * Received streams: every source offered (session-initiate, source-add) is expected;
 * in a video content an SSRC that is the second of an FID group is RTX. source-remove
 * marks streams "removed" (counters are kept and reported), as does a new session for the
 * streams it no longer offers. A --video-file is replayed with the payload type the offer
 * gives VP8.
 *
 * Commands:
 *   {"cmd":"add-source","ssrc":N,"kind":"video","name":"..."}  (name: NICK-vK by default)
 *       sends one more video stream while sending (a screen share), and source-add for it;
 *       without a session it is only remembered, and offered in the next session-accept.
 *   {"cmd":"remove-source","ssrc":N}   stops it, and source-remove.
 *   {"cmd":"terminate","reason"?}     session-terminate (default reason success) to the focus;
 *                                     ends locally.
 * Events (each with "t_us"):
 *   {"event":"jingle","action","sid","from","sources":[{"ssrc","kind","owner","name","msid"}],
 *    "reason","error"} for every Jingle request received, before it is processed;
 *   {"event":"session","sid","focus"} once a session-initiate is processed;
 *   {"event":"accept-sent","sid","id","ufrag","pwd"};
 *   {"event":"session-ended","sid","reason","by":"remote|local"}. */
#include "peer-xmpp.h"

#include "cc-autoptr.h"
#include "stanza.h"

#include <string.h>

static PeerKind
source_kind(const CcJingleContent *c, guint32 ssrc)
{
    const char *media = c->media ? c->media : c->name;
    if (g_strcmp0(media, "audio") == 0)
        return PEER_AUDIO;
    for (guint i = 0; c->groups != NULL && i < c->groups->len; i++) {
        const CcColibri2SsrcGroup *g = g_ptr_array_index(c->groups, i);
        if (g_strcmp0(g->semantics, "FID") == 0 && g->ssrcs->len >= 2 &&
            g_array_index(g->ssrcs, guint32, 1) == ssrc)
            return PEER_RTX;
    }
    return PEER_VIDEO;
}

static JsonArray *
sources_json(const CcJingle *j)
{
    JsonArray *a = json_array_new();
    for (guint i = 0; i < j->contents->len; i++) {
        const CcJingleContent *c = g_ptr_array_index(j->contents, i);
        for (guint k = 0; c->sources != NULL && k < c->sources->len; k++) {
            const CcJingleSource *s = g_ptr_array_index(c->sources, k);
            JsonObject *o = json_object_new();
            json_object_set_int_member(o, "ssrc", s->ssrc);
            json_object_set_string_member(o, "kind", peer_kind_name(source_kind(c, s->ssrc)));
            json_object_set_string_member(o, "owner", s->owner);
            json_object_set_string_member(o, "name", s->name);
            json_object_set_string_member(o, "msid", cc_jingle_source_parameter(s, "msid"));
            json_array_add_object_element(a, o);
        }
    }
    return a;
}

static void
emit_jingle(xmpp_stanza_t *iq, xmpp_stanza_t *el, const CcJingle *j, const GError *error)
{
    JsonObject *o = peer_event_new("jingle");
    json_object_set_string_member(o, "action",
                                  j ? cc_jingle_action_name(j->action)
                                    : xmpp_stanza_get_attribute(el, "action"));
    json_object_set_string_member(o, "sid", j ? j->sid : xmpp_stanza_get_attribute(el, "sid"));
    json_object_set_string_member(o, "from", xmpp_stanza_get_from(iq));
    json_object_set_string_member(o, "id", xmpp_stanza_get_id(iq));
    if (j != NULL) {
        json_object_set_array_member(o, "sources", sources_json(j));
        if (j->reason != NULL)
            json_object_set_string_member(o, "reason", j->reason);
    } else {
        json_object_set_string_member(o, "error", error ? error->message : "malformed");
    }
    peer_emit_object(o);
}

static GSList *
nice_candidates(const CcIceUdpTransport *t)
{
    GSList *list = NULL;
    for (guint i = 0; t->candidates != NULL && i < t->candidates->len; i++) {
        const CcIceUdpCandidate *c = g_ptr_array_index(t->candidates, i);
        NiceCandidateType type;
        if (c->component != 1 || (c->protocol != NULL && g_ascii_strcasecmp(c->protocol, "udp")))
            continue;
        if (g_strcmp0(c->type, "srflx") == 0)
            type = NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE;
        else if (g_strcmp0(c->type, "prflx") == 0)
            type = NICE_CANDIDATE_TYPE_PEER_REFLEXIVE;
        else if (g_strcmp0(c->type, "relay") == 0)
            type = NICE_CANDIDATE_TYPE_RELAYED;
        else
            type = NICE_CANDIDATE_TYPE_HOST;
        NiceCandidate *nc = nice_candidate_new(type);
        nc->transport = NICE_CANDIDATE_TRANSPORT_UDP;
        nc->priority = c->priority;
        g_strlcpy(nc->foundation, c->foundation ? c->foundation : "1", sizeof nc->foundation);
        if (c->ip == NULL || !nice_address_set_from_string(&nc->addr, c->ip)) {
            nice_candidate_free(nc);
            continue;
        }
        nice_address_set_port(&nc->addr, c->port);
        list = g_slist_prepend(list, nc);
    }
    return g_slist_reverse(list);
}

static void
expect_sources(Peer *p, const CcJingle *j)
{
    for (guint i = 0; i < j->contents->len; i++) {
        const CcJingleContent *c = g_ptr_array_index(j->contents, i);
        for (guint k = 0; c->sources != NULL && k < c->sources->len; k++) {
            const CcJingleSource *s = g_ptr_array_index(c->sources, k);
            if (peer_rx_expect(p, s->ssrc, source_kind(c, s->ssrc), s->owner) == NULL)
                peer_emit("{\"event\":\"error\",\"message\":\"too many expected streams\"}");
        }
    }
}

static void
remove_sources(Peer *p, const CcJingle *j)
{
    for (guint i = 0; i < j->contents->len; i++) {
        const CcJingleContent *c = g_ptr_array_index(j->contents, i);
        for (guint k = 0; c->sources != NULL && k < c->sources->len; k++) {
            const CcJingleSource *s = g_ptr_array_index(c->sources, k);
            PeerRxStream *r = peer_rx_find(p, s->ssrc);
            if (r != NULL)
                r->removed = TRUE;
        }
    }
}

static const CcIceUdpTransport *
bundle_transport(const CcJingle *j)
{
    for (guint i = 0; i < j->contents->len; i++) {
        const CcJingleContent *c = g_ptr_array_index(j->contents, i);
        if (c->transport != NULL)
            return c->transport;
    }
    return NULL;
}

void
peer_jingle_end(PeerXmpp *x, const char *reason, const char *by)
{
    if (x->sid == NULL)
        return;
    peer_session_free(x->peer);
    JsonObject *o = peer_event_new("session-ended");
    json_object_set_string_member(o, "sid", x->sid);
    json_object_set_string_member(o, "reason", reason);
    json_object_set_string_member(o, "by", by);
    peer_emit_object(o);
    g_clear_pointer(&x->sid, g_free);
    g_clear_pointer(&x->focus, g_free);
    g_clear_pointer(&x->offer, cc_jingle_free);
    x->accept_sent = FALSE;
}

/* The VP8 file is replayed with the payload type the offer gives VP8, as any client would. */
static void
file_payload_type(Peer *p, const CcJingle *j)
{
    for (guint i = 0; i < j->contents->len; i++) {
        const CcJingleContent *c = g_ptr_array_index(j->contents, i);
        if (g_strcmp0(c->media, "video") != 0)
            continue;
        for (guint k = 0; c->payload_types != NULL && k < c->payload_types->len; k++) {
            const CcJinglePayloadType *pt = g_ptr_array_index(c->payload_types, k);
            if (pt->name != NULL && g_ascii_strcasecmp(pt->name, "VP8") == 0) {
                p->video_file_pt = pt->id;
                return;
            }
        }
    }
}

static void
on_initiate(PeerXmpp *x, xmpp_stanza_t *iq, CcJingle *j)
{
    Peer *p = x->peer;
    const CcIceUdpTransport *t = bundle_transport(j);
    if (t == NULL || t->ufrag == NULL || t->pwd == NULL || t->fingerprint == NULL ||
        g_strcmp0(t->fp_hash, "sha-256") != 0 || !bridge_dtls_fingerprint_valid(t->fingerprint)) {
        peer_xmpp_answer_error(x, iq, "modify", "bad-request", NULL,
                               "session-initiate needs an ICE-UDP transport with credentials and "
                               "a sha-256 fingerprint");
        return;
    }
    peer_xmpp_answer_result(x, iq);
    peer_jingle_end(x, "replaced", "local");
    x->sid = g_strdup(j->sid);
    x->focus = g_strdup(xmpp_stanza_get_from(iq));
    x->offer = j;
    for (guint i = 0; i < p->n_rx; i++)
        p->rx[i].removed = TRUE;
    expect_sources(p, j);
    file_payload_type(p, j);
    if (!peer_session_new(p)) {
        peer_emit("{\"event\":\"error\",\"message\":\"cannot gather candidates\"}");
        peer_jingle_end(x, "failed-application", "local");
        return;
    }
    GSList *cands = nice_candidates(t);
    peer_session_set_remote(p, t->ufrag, t->pwd, t->fingerprint, cands);
    g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
    JsonObject *o = peer_event_new("session");
    json_object_set_string_member(o, "sid", x->sid);
    json_object_set_string_member(o, "focus", x->focus);
    peer_emit_object(o);
}

static CcIceUdpTransport *
local_transport(PeerXmpp *x)
{
    Peer *p = x->peer;
    CcIceUdpTransport *t = cc_ice_udp_transport_new();
    GSList *cands = peer_session_local_candidates(p, &t->ufrag, &t->pwd);
    t->fp_hash = g_strdup("sha-256");
    t->fp_setup = g_strdup(p->dtls_server ? "passive" : "active");
    t->fingerprint = g_strdup(bridge_dtls_identity_fingerprint(p->identity));
    t->rtcp_mux = TRUE;
    for (GSList *l = cands; l != NULL; l = l->next) {
        NiceCandidate *c = l->data;
        char ip[NICE_ADDRESS_STRING_LEN];
        nice_address_to_string(&c->addr, ip);
        cc_ice_udp_transport_add_candidate(t, c->foundation, 1, c->priority, ip,
                                           (guint16)nice_address_get_port(&c->addr), "host");
    }
    g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
    return t;
}

static void
add_source(CcJingleContent *c, guint32 ssrc, const char *name, const char *nick, const char *owner)
{
    CcJingleSource *s = cc_jingle_content_add_source(c, ssrc, name, owner);
    g_autofree char *msid = g_strdup_printf("%s %s", nick, name);
    cc_jingle_source_set_parameter(s, "msid", msid);
}

static void
copy_description(CcJingleContent *to, const CcJingleContent *from)
{
    for (guint i = 0; from->payload_types != NULL && i < from->payload_types->len; i++) {
        const CcJinglePayloadType *pt = g_ptr_array_index(from->payload_types, i);
        CcJinglePayloadType *copy =
            cc_jingle_content_add_payload_type(to, pt->id, pt->name, pt->clockrate, pt->channels);
        for (guint k = 0; pt->parameters != NULL && k < pt->parameters->len; k++) {
            const CcJingleParameter *param = g_ptr_array_index(pt->parameters, k);
            cc_jingle_payload_type_add_parameter(copy, param->name, param->value);
        }
        for (guint k = 0; pt->feedback != NULL && k < pt->feedback->len; k++) {
            const CcJingleFeedback *fb = g_ptr_array_index(pt->feedback, k);
            cc_jingle_payload_type_add_feedback(copy, fb->type, fb->subtype);
        }
    }
    for (guint i = 0; from->hdrexts != NULL && i < from->hdrexts->len; i++) {
        const CcJingleHdrExt *h = g_ptr_array_index(from->hdrexts, i);
        cc_jingle_content_add_hdrext(to, h->id, h->uri);
    }
    to->rtcp_mux = TRUE;
}

/* Returns the IQ's id (free it). */
static char *
send_jingle(PeerXmpp *x, const CcJingle *j, const char *what)
{
    g_autoptr(xmpp_stanza_t) iq = xmpp_iq_new(x->ctx, "set", NULL);
    xmpp_stanza_set_to(iq, x->focus);
    cc_jingle_write(iq, j);
    return peer_xmpp_send_iq(x, iq, what);
}

void
peer_jingle_send_accept(PeerXmpp *x)
{
    Peer *p = x->peer;
    if (x->sid == NULL || x->accept_sent || p->agent == NULL)
        return;
    x->accept_sent = TRUE;
    g_autofree char *nick = peer_xmpp_nick(x);
    const char *owner = peer_xmpp_owner(x);
    g_autofree char *audio_name = g_strdup_printf("%s-a0", nick);
    g_autofree char *video_name = g_strdup_printf("%s-v0", nick);
    g_autoptr(CcJingle) a = cc_jingle_new(CC_JINGLE_SESSION_ACCEPT, x->sid);
    a->initiator = g_strdup(x->offer->initiator ? x->offer->initiator : x->focus);
    a->responder = g_strdup(x->jid);
    a->bundle = TRUE;
    for (guint i = 0; i < x->offer->contents->len; i++) {
        const CcJingleContent *oc = g_ptr_array_index(x->offer->contents, i);
        if (g_strcmp0(oc->media, "audio") != 0 && g_strcmp0(oc->media, "video") != 0)
            continue;
        CcJingleContent *c = cc_jingle_add_content(a, oc->name, oc->media);
        c->creator = g_strdup(oc->creator ? oc->creator : "initiator");
        c->senders = g_strdup("both");
        copy_description(c, oc);
        if (g_str_equal(oc->media, "audio")) {
            if (p->audio_ssrc != 0)
                add_source(c, p->audio_ssrc, audio_name, nick, owner);
        } else {
            if (p->video_ssrc != 0)
                add_source(c, p->video_ssrc, video_name, nick, owner);
            if (p->video_ssrc != 0 && p->rtx_ssrc != 0) {
                add_source(c, p->rtx_ssrc, video_name, nick, owner);
                guint32 fid[2] = {p->video_ssrc, p->rtx_ssrc};
                cc_jingle_content_add_group(c, "FID", fid, 2);
            }
            for (guint k = 0; k < p->n_extra; k++)
                add_source(c, p->extra[k].ssrc, p->extra[k].name, nick, owner);
        }
        c->transport = local_transport(x);
    }
    g_autofree char *id = send_jingle(x, a, "session-accept");
    JsonObject *o = peer_event_new("accept-sent");
    json_object_set_string_member(o, "sid", x->sid);
    json_object_set_string_member(o, "id", id);
    CcJingleContent *first = a->contents->len > 0 ? g_ptr_array_index(a->contents, 0) : NULL;
    if (first != NULL && first->transport != NULL) {
        json_object_set_string_member(o, "ufrag", first->transport->ufrag);
        json_object_set_string_member(o, "pwd", first->transport->pwd);
    }
    peer_emit_object(o);
}

static void
on_transport_info(PeerXmpp *x, const CcJingle *j)
{
    for (guint i = 0; i < j->contents->len; i++) {
        const CcJingleContent *c = g_ptr_array_index(j->contents, i);
        if (c->transport == NULL)
            continue;
        GSList *cands = nice_candidates(c->transport);
        peer_session_add_candidates(x->peer, cands);
        g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
    }
}

static gboolean
is_our_session(PeerXmpp *x, const CcJingle *j, const char *from)
{
    return x->sid != NULL && g_strcmp0(j->sid, x->sid) == 0 && from != NULL &&
           g_ascii_strcasecmp(from, x->focus) == 0;
}

void
peer_jingle_handle(PeerXmpp *x, xmpp_stanza_t *iq, xmpp_stanza_t *el)
{
    const char *from = xmpp_stanza_get_from(iq);
    g_autoptr(GError) error = NULL;
    g_autoptr(CcJingle) j = cc_jingle_parse(el, &error);
    emit_jingle(iq, el, j, error);
    if (!x->jingle_from_anyone && !peer_xmpp_from_room(x, from)) {
        peer_xmpp_answer_error(x, iq, "auth", "forbidden", NULL, NULL);
        return;
    }
    if (j == NULL) {
        peer_xmpp_answer_error(x, iq, "modify", "bad-request", NULL, error ? error->message : NULL);
        return;
    }
    if (j->action == CC_JINGLE_SESSION_INITIATE) {
        on_initiate(x, iq, j);
        if (x->offer == j)
            j = NULL; /* kept as the session's offer */
        return;
    }
    if (!is_our_session(x, j, from)) {
        peer_xmpp_answer_error(x, iq, "cancel", "item-not-found", "unknown-session", NULL);
        return;
    }
    switch (j->action) {
    case CC_JINGLE_SOURCE_ADD:
        peer_xmpp_answer_result(x, iq);
        expect_sources(x->peer, j);
        break;
    case CC_JINGLE_SOURCE_REMOVE:
        peer_xmpp_answer_result(x, iq);
        remove_sources(x->peer, j);
        break;
    case CC_JINGLE_TRANSPORT_INFO:
        peer_xmpp_answer_result(x, iq);
        on_transport_info(x, j);
        break;
    case CC_JINGLE_SESSION_INFO:
        peer_xmpp_answer_result(x, iq);
        break;
    case CC_JINGLE_SESSION_TERMINATE:
        peer_xmpp_answer_result(x, iq);
        peer_jingle_end(x, j->reason ? j->reason : "none", "remote");
        break;
    case CC_JINGLE_SESSION_ACCEPT:
    case CC_JINGLE_TRANSPORT_ACCEPT:
    case CC_JINGLE_CONTENT_ACCEPT:
        peer_xmpp_answer_error(x, iq, "cancel", "unexpected-request", "out-of-order", NULL);
        break;
    default:
        peer_xmpp_answer_error(x, iq, "cancel", "feature-not-implemented", NULL, NULL);
        break;
    }
}

/* --- commands ---------------------------------------------------------------------------- */

static void
command_error(const char *message)
{
    JsonObject *o = peer_event_new("error");
    json_object_set_string_member(o, "message", message);
    peer_emit_object(o);
}

static void
send_source_change(PeerXmpp *x, CcJingleAction action, const PeerExtraSource *e)
{
    g_autofree char *nick = peer_xmpp_nick(x);
    g_autoptr(CcJingle) j = cc_jingle_new(action, x->sid);
    CcJingleContent *c = cc_jingle_add_content(j, "video", "video");
    add_source(c, e->ssrc, e->name, nick, peer_xmpp_owner(x));
    g_free(send_jingle(x, j, cc_jingle_action_name(action)));
}

static gboolean
ssrc_in_use(Peer *p, guint32 ssrc)
{
    if (ssrc == p->audio_ssrc || ssrc == p->video_ssrc || ssrc == p->rtx_ssrc)
        return TRUE;
    for (guint i = 0; i < p->n_extra; i++) {
        if (p->extra[i].ssrc == ssrc)
            return TRUE;
    }
    return FALSE;
}

static void
cmd_add_source(PeerXmpp *x, JsonObject *args)
{
    Peer *p = x->peer;
    gint64 ssrc = json_object_get_int_member_with_default(args, "ssrc", 0);
    const char *kind = json_object_get_string_member_with_default(args, "kind", "video");
    const char *name = json_object_get_string_member_with_default(args, "name", NULL);
    if (ssrc <= 0 || ssrc > G_MAXUINT32 || ssrc_in_use(p, (guint32)ssrc) ||
        p->n_extra >= PEER_MAX_EXTRA || g_strcmp0(kind, "video") != 0) {
        command_error("add-source: needs a new non-zero video SSRC (at most 4 extra streams)");
        return;
    }
    PeerExtraSource *e = &p->extra[p->n_extra++];
    e->ssrc = (guint32)ssrc;
    e->sent = 0;
    if (name != NULL) {
        e->name = g_strdup(name);
    } else {
        g_autofree char *nick = peer_xmpp_nick(x);
        e->name = g_strdup_printf("%s-v%u", nick, p->n_extra);
    }
    if (x->sid != NULL && x->accept_sent)
        send_source_change(x, CC_JINGLE_SOURCE_ADD, e);
}

static void
cmd_remove_source(PeerXmpp *x, JsonObject *args)
{
    Peer *p = x->peer;
    gint64 ssrc = json_object_get_int_member_with_default(args, "ssrc", 0);
    for (guint i = 0; i < p->n_extra; i++) {
        if (p->extra[i].ssrc != ssrc)
            continue;
        if (x->sid != NULL && x->accept_sent)
            send_source_change(x, CC_JINGLE_SOURCE_REMOVE, &p->extra[i]);
        g_free(p->extra[i].name);
        memmove(&p->extra[i], &p->extra[i + 1], (p->n_extra - i - 1) * sizeof p->extra[0]);
        p->n_extra--;
        return;
    }
    command_error("remove-source: not a source added with add-source");
}

/* "reason" (default success) is the XEP-0166 condition: connectivity-error asks the focus
 * for a new session, as a client whose ICE failed would. */
static void
cmd_terminate(PeerXmpp *x, JsonObject *args)
{
    if (x->sid == NULL) {
        command_error("terminate: no Jingle session");
        return;
    }
    const char *reason = json_object_get_string_member_with_default(args, "reason", "success");
    g_autoptr(CcJingle) j = cc_jingle_new(CC_JINGLE_SESSION_TERMINATE, x->sid);
    j->reason = g_strdup(reason);
    g_free(send_jingle(x, j, "session-terminate"));
    peer_jingle_end(x, reason, "local");
}

gboolean
peer_jingle_command(PeerXmpp *x, const char *cmd, JsonObject *args)
{
    if (g_str_equal(cmd, "add-source"))
        cmd_add_source(x, args);
    else if (g_str_equal(cmd, "remove-source"))
        cmd_remove_source(x, args);
    else if (g_str_equal(cmd, "terminate"))
        cmd_terminate(x, args);
    else
        return FALSE;
    return TRUE;
}
