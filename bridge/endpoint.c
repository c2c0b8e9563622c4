/* One participant's leg of a conference: its ICE agent (libnice, controlled, optionally
 * lite, consent freshness on), its DTLS association and the two SRTP sessions keyed from
 * it, the SSRCs signalled for it, and its retransmission buffer. Receives datagrams,
 * demultiplexes them (RFC 7983) and hands RTP/RTCP to the router. Decides when it must
 * expire (ICE failure, DTLS failure or fingerprint mismatch, no media); the conference
 * removes it. Runs only on its conference's worker thread. */
#include "bridge-media.h"

#include "cc-error.h"
#include "rtp.h"

#include <errno.h>
#include <string.h>

static int
dtls_send(const guint8 *buf, gsize len, gpointer data)
{
    return bridge_endpoint_send(data, buf, len);
}

int
bridge_endpoint_send(BridgeEndpoint *ep, const guint8 *buf, gsize len)
{
    BridgeWorkerCounts *c = &ep->conference->worker->counts;
    gssize n;
    c->send_calls++;
    if (ep->direct_fd >= 0)
        n = sendto(ep->direct_fd, buf, len, MSG_DONTWAIT, (const struct sockaddr *)&ep->direct_addr,
                   ep->direct_len);
    else
        n = nice_agent_send(ep->agent, ep->stream_id, 1, (guint)len, (const gchar *)buf);
    if (n < 0) {
        c->send_failed++;
        return -EIO;
    }
    c->packets_out++;
    c->bytes_out += len;
    return 0;
}

guint8 *
bridge_endpoint_send_buffer(BridgeEndpoint *ep)
{
    BridgeWorker *w = ep->conference->worker;
    return ep->direct_fd >= 0 ? bridge_send_batch_slot(w->batch) : w->out;
}

void
bridge_endpoint_send_buffered(BridgeEndpoint *ep, guint8 *buf, gsize len, gboolean forwarded)
{
    BridgeWorker *w = ep->conference->worker;
    if (ep->direct_fd >= 0) {
        bridge_send_batch_commit(w->batch, ep->direct_fd, (const struct sockaddr *)&ep->direct_addr,
                                 ep->direct_len, len, ep, forwarded);
    } else if (bridge_endpoint_send(ep, buf, len) == 0 && forwarded) {
        w->counts.rtp_forwarded++;
    }
}

static void
on_dtls_connected(BridgeEndpoint *ep)
{
    const BridgeStats *s = ep->config->stats;
    BridgeSrtpKey local, remote;
    bridge_dtls_srtp_keys(ep->dtls, &local, &remote);
    g_autoptr(GError) error = NULL;
    ep->srtp_in = bridge_srtp_new(&remote, FALSE, &error);
    if (ep->srtp_in != NULL)
        ep->srtp_out = bridge_srtp_new(&local, TRUE, &error);
    BridgeSrtpProfile profile = local.profile; /* the keys are wiped below, not the name */
    explicit_bzero(&local, sizeof local);      /* not optimised away, unlike memset */
    explicit_bzero(&remote, sizeof remote);
    if (ep->srtp_out == NULL) {
        g_warning("endpoint %s: %s", ep->id, error->message);
        g_clear_pointer(&ep->srtp_in, bridge_srtp_free);
        cc_metric_inc(s->dtls_failed);
        ep->expire = BRIDGE_EXPIRE_DTLS;
        return;
    }
    ep->last_media_us = g_get_monotonic_time();
    cc_metric_inc(s->dtls_ok);
    g_info("endpoint %s: DTLS-SRTP up (%s)", ep->id, bridge_srtp_profile_name(profile));
}

static void
on_dtls_failed(BridgeEndpoint *ep)
{
    const BridgeStats *s = ep->config->stats;
    if (bridge_dtls_failure(ep->dtls) == BRIDGE_DTLS_FAIL_FINGERPRINT) {
        cc_metric_inc(s->dtls_fingerprint_mismatch);
        g_warning("endpoint %s: the peer's certificate does not match the signalled "
                  "fingerprint; expiring it",
                  ep->id);
    } else {
        cc_metric_inc(s->dtls_failed);
        g_info("endpoint %s: DTLS handshake failed", ep->id);
    }
    ep->expire = BRIDGE_EXPIRE_DTLS;
}

static void
handle_dtls(BridgeEndpoint *ep, const guint8 *buf, gsize len)
{
    if (ep->dtls == NULL || !ep->ice_connected) {
        if (len > BRIDGE_MAX_PACKET ||
            (ep->early_dtls != NULL && ep->early_dtls->len >= BRIDGE_EARLY_DTLS)) {
            cc_metric_inc(ep->config->stats->drop_not_ready);
            return;
        }
        if (ep->early_dtls == NULL)
            ep->early_dtls = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
        g_ptr_array_add(ep->early_dtls, g_bytes_new(buf, len));
        return;
    }
    /* A handshake step costs up to milliseconds: what is queued goes out first. */
    bridge_send_batch_flush(ep->conference->worker->batch);
    gboolean was_up = ep->srtp_out != NULL;
    BridgeDtlsState st = bridge_dtls_receive(ep->dtls, buf, len);
    if (st == BRIDGE_DTLS_CONNECTED && !was_up)
        on_dtls_connected(ep);
    else if (st == BRIDGE_DTLS_FAILED)
        on_dtls_failed(ep);
    else if (st == BRIDGE_DTLS_CLOSED)
        ep->expire = BRIDGE_EXPIRE_SIGNALLED;
}

/* Feeds DTLS records kept while DTLS or ICE was not ready (see bridge-media.h). */
static void
replay_early_dtls(BridgeEndpoint *ep)
{
    if (ep->early_dtls == NULL || ep->dtls == NULL || !ep->ice_connected)
        return;
    g_autoptr(GPtrArray) early = g_steal_pointer(&ep->early_dtls);
    for (guint i = 0; i < early->len && ep->dtls != NULL; i++) {
        gsize n = 0;
        const guint8 *data = g_bytes_get_data(g_ptr_array_index(early, i), &n);
        handle_dtls(ep, data, n);
    }
}

/* GLib blocks a source while it dispatches unless it may recurse: it takes the source's
 * socket out of the poll set and puts it back, and each of the two changes writes to the
 * loop's wake-up descriptor, so that the next pass polls, finds only that, and goes round
 * for nothing. libnice's socket source calls on_recv() directly and never dispatches
 * itself again, so letting it "recurse" changes nothing but that cost (two system calls
 * and a wasted pass for every received burst). */
static void
let_current_source_recurse(void)
{
    GSource *source = g_main_current_source();
    if (source != NULL && !g_source_get_can_recurse(source))
        g_source_set_can_recurse(source, TRUE);
}

/* One datagram from the endpoint, through libnice (on_recv) or read beside it
 * (recv-batch.h); `buf` is ours until we return: decrypted in place, not copied. */
static gboolean
receive(guint8 *buf, gsize len, gpointer data)
{
    BridgeEndpoint *ep = data;
    const BridgeStats *s = ep->config->stats;
    BridgeWorkerCounts *c = &ep->conference->worker->counts;
    c->packets_in++;
    c->bytes_in += len;
    if (ep->expire != BRIDGE_EXPIRE_NONE) {
        cc_metric_inc(s->drop_not_ready);
        return TRUE;
    }
    BridgePacketKind kind = bridge_demux_classify(buf, len);
    if (kind == BRIDGE_PKT_DTLS) {
        handle_dtls(ep, buf, len);
        return TRUE;
    }
    if (kind != BRIDGE_PKT_RTP && kind != BRIDGE_PKT_RTCP) {
        cc_metric_inc(s->drop_unknown);
        return TRUE;
    }
    if (len > BRIDGE_MAX_PACKET) {
        cc_metric_inc(s->drop_too_big);
        return TRUE;
    }
    if (ep->srtp_in == NULL) {
        cc_metric_inc(s->drop_not_ready);
        return TRUE;
    }
    if (kind == BRIDGE_PKT_RTP)
        bridge_router_rtp(ep, buf, len);
    else
        bridge_router_rtcp(ep, buf, len);
    return TRUE;
}

static void
on_recv(NiceAgent *agent, guint stream_id, guint component_id, guint len, gchar *data,
        gpointer user_data)
{
    let_current_source_recurse();
    receive((guint8 *)data, len, user_data);
}

static void
on_state(NiceAgent *agent, guint stream_id, guint component_id, guint state, gpointer data)
{
    BridgeEndpoint *ep = data;
    if (stream_id != ep->stream_id)
        return;
    if ((state == NICE_COMPONENT_STATE_CONNECTED || state == NICE_COMPONENT_STATE_READY) &&
        !ep->ice_connected) {
        ep->ice_connected = TRUE;
        g_info("endpoint %s: ICE connected", ep->id);
        if (ep->dtls != NULL && ep->dtls_client)
            bridge_dtls_start(ep->dtls);
        replay_early_dtls(ep);
    } else if (state == NICE_COMPONENT_STATE_FAILED && ep->expire == BRIDGE_EXPIRE_NONE) {
        cc_metric_inc(ep->config->stats->ice_failed);
        g_info("endpoint %s: ICE failed", ep->id);
        ep->expire = BRIDGE_EXPIRE_ICE;
    }
}

static void
stop_direct(BridgeEndpoint *ep)
{
    if (ep->direct_source != NULL) {
        g_source_destroy(ep->direct_source);
        g_clear_pointer(&ep->direct_source, g_source_unref);
    }
    g_clear_object(&ep->direct_socket);
    ep->direct_fd = -1;
}

/* Takes the selected pair's socket when it is a plain UDP host pair: the send path uses it,
 * and media is read from it in batches beside libnice (recv-batch.h). Otherwise (or when
 * libnice gives none) sending goes through nice_agent_send() and receiving through
 * libnice alone. */
static void
on_selected_pair(NiceAgent *agent, guint stream_id, guint component_id, NiceCandidate *local,
                 NiceCandidate *remote, gpointer data)
{
    BridgeEndpoint *ep = data;
    if (stream_id != ep->stream_id)
        return;
    /* Queued packets carry their own copy of the socket and address, so nothing queued for
     * the old pair is lost; the socket must outlive them, hence the flush. */
    BridgeWorker *w = ep->conference->worker;
    bridge_send_batch_flush(w->batch);
    stop_direct(ep);
    if (local->transport != NICE_CANDIDATE_TRANSPORT_UDP ||
        local->type == NICE_CANDIDATE_TYPE_RELAYED || remote->type == NICE_CANDIDATE_TYPE_RELAYED)
        return;
    ep->direct_socket = nice_agent_get_selected_socket(agent, stream_id, component_id);
    if (ep->direct_socket == NULL)
        return;
    memset(&ep->direct_addr, 0, sizeof ep->direct_addr);
    nice_address_copy_to_sockaddr(&remote->addr, (struct sockaddr *)&ep->direct_addr);
    ep->direct_len = ep->direct_addr.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                           : sizeof(struct sockaddr_in);
    ep->direct_fd = g_socket_get_fd(ep->direct_socket);
    if (!bridge_recv_batch_prepare_socket(ep->direct_fd)) {
        g_debug("endpoint %s: no batched reading (SO_PEEK_OFF: %s)", ep->id, g_strerror(errno));
        return;
    }
    ep->direct_source = bridge_recv_source_new(w->recv_batch, ep->direct_fd,
                                               (const struct sockaddr *)&ep->direct_addr,
                                               ep->direct_len, receive, ep);
    g_source_attach(ep->direct_source, w->context);
}

BridgeEndpoint *
bridge_endpoint_new(BridgeConference *conf, const char *id, GError **error)
{
    const BridgeMediaConfig *cfg = conf->config;
    NiceAgentOption opts = NICE_AGENT_OPTION_CONSENT_FRESHNESS;
    if (cfg->ice_lite)
        opts |= NICE_AGENT_OPTION_LITE_MODE;
    NiceAgent *agent = nice_agent_new_full(conf->worker->context, NICE_COMPATIBILITY_RFC5245, opts);
    g_object_set(agent, "upnp", FALSE, "controlling-mode", FALSE, "ice-tcp", FALSE, NULL);
    for (char **a = cfg->addresses; a != NULL && *a != NULL; a++) {
        NiceAddress addr;
        nice_address_init(&addr);
        if (!nice_address_set_from_string(&addr, *a) ||
            !nice_agent_add_local_address(agent, &addr)) {
            g_set_error(error, CC_ERROR, CC_ERROR_CONFIG, "cannot use local address %s", *a);
            g_object_unref(agent);
            return NULL;
        }
    }
    guint stream = nice_agent_add_stream(agent, 1);
    if (cfg->port_min > 0)
        nice_agent_set_port_range(agent, stream, 1, cfg->port_min, cfg->port_max);
    if (stream == 0 || !nice_agent_gather_candidates(agent, stream)) {
        g_set_error(error, CC_ERROR, CC_ERROR_CONFIG,
                    "cannot gather ICE candidates (port range %u-%u exhausted?)", cfg->port_min,
                    cfg->port_max);
        g_object_unref(agent);
        return NULL;
    }
    bridge_worker_sockets_changed(conf->worker); /* gathering made its socket */
    BridgeEndpoint *ep = g_new0(BridgeEndpoint, 1);
    ep->id = g_strdup(id);
    ep->conference = conf;
    ep->config = cfg;
    ep->agent = agent;
    ep->stream_id = stream;
    ep->created_us = g_get_monotonic_time();
    ep->rtx = g_new0(BridgeRtxSlot, BRIDGE_RTX_SLOTS);
    do {
        ep->rtcp_ssrc = g_random_int();
    } while (ep->rtcp_ssrc == 0);
    ep->direct_fd = -1;
    g_signal_connect(agent, "component-state-changed", G_CALLBACK(on_state), ep);
    g_signal_connect(agent, "new-selected-pair-full", G_CALLBACK(on_selected_pair), ep);
    nice_agent_attach_recv(agent, stream, 1, conf->worker->context, on_recv, ep);
    return ep; /* counted when a request commits it (colibri-apply.c) */
}

void
bridge_endpoint_free(BridgeEndpoint *ep)
{
    if (ep == NULL)
        return;
    nice_agent_attach_recv(ep->agent, ep->stream_id, 1, ep->conference->worker->context, NULL,
                           NULL);
    /* Its socket closes below: what is queued for it must not go out on a reused number. */
    bridge_send_batch_forget(ep->conference->worker->batch, ep);
    g_signal_handlers_disconnect_by_data(ep->agent, ep);
    stop_direct(ep);
    nice_agent_remove_stream(ep->agent, ep->stream_id);
    g_object_unref(ep->agent);
    bridge_dtls_free(ep->dtls);
    if (ep->early_dtls != NULL)
        g_ptr_array_unref(ep->early_dtls);
    bridge_srtp_free(ep->srtp_in);
    bridge_srtp_free(ep->srtp_out);
    g_free(ep->rtx);
    g_free(ep->remote_ufrag);
    g_free(ep->occupant_id);
    g_free(ep->id);
    g_free(ep);
}

void
bridge_endpoint_local_transport(BridgeEndpoint *ep, CcIceUdpTransport *out)
{
    gchar *ufrag = NULL, *pwd = NULL;
    nice_agent_get_local_credentials(ep->agent, ep->stream_id, &ufrag, &pwd);
    out->ufrag = ufrag;
    out->pwd = pwd;
    out->fp_hash = g_strdup("sha-256");
    out->fp_setup = g_strdup("actpass");
    out->fingerprint = g_strdup(bridge_dtls_identity_fingerprint(ep->config->identity));
    GSList *cands = nice_agent_get_local_candidates(ep->agent, ep->stream_id, 1);
    for (GSList *l = cands; l != NULL; l = l->next) {
        NiceCandidate *c = l->data;
        if (c->transport != NICE_CANDIDATE_TRANSPORT_UDP || c->type != NICE_CANDIDATE_TYPE_HOST)
            continue;
        char ip[NICE_ADDRESS_STRING_LEN];
        nice_address_to_string(&c->addr, ip);
        guint port = nice_address_get_port(&c->addr);
        cc_ice_udp_transport_add_candidate(out, c->foundation, 1, c->priority, ip, (guint16)port,
                                           "host");
        if (ep->config->public_address != NULL) {
            char foundation[40];
            g_snprintf(foundation, sizeof foundation, "%sp", c->foundation);
            cc_ice_udp_transport_add_candidate(out, foundation, 1, c->priority - 1,
                                               ep->config->public_address, (guint16)port, "srflx");
        }
    }
    g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
}

static NiceCandidateType
candidate_type(const char *type)
{
    if (g_strcmp0(type, "srflx") == 0)
        return NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE;
    if (g_strcmp0(type, "prflx") == 0)
        return NICE_CANDIDATE_TYPE_PEER_REFLEXIVE;
    if (g_strcmp0(type, "relay") == 0)
        return NICE_CANDIDATE_TYPE_RELAYED;
    return NICE_CANDIDATE_TYPE_HOST;
}

static void
add_candidates(BridgeEndpoint *ep, const CcIceUdpTransport *t)
{
    GSList *list = NULL;
    for (guint i = 0; i < t->candidates->len; i++) {
        const CcIceUdpCandidate *c = g_ptr_array_index(t->candidates, i);
        if (c->component != 1)
            continue;
        NiceCandidate *nc = nice_candidate_new(candidate_type(c->type));
        nc->component_id = 1;
        nc->stream_id = ep->stream_id;
        nc->transport = NICE_CANDIDATE_TRANSPORT_UDP;
        nc->priority = c->priority;
        g_strlcpy(nc->foundation, c->foundation, sizeof nc->foundation);
        if (!nice_address_set_from_string(&nc->addr, c->ip)) {
            nice_candidate_free(nc);
            continue;
        }
        nice_address_set_port(&nc->addr, c->port);
        list = g_slist_prepend(list, nc);
    }
    if (list != NULL)
        nice_agent_set_remote_candidates(ep->agent, ep->stream_id, 1, list);
    g_slist_free_full(list, (GDestroyNotify)nice_candidate_free);
}

BridgeDtls *
bridge_endpoint_prepare_remote(BridgeEndpoint *ep, const CcIceUdpTransport *t, GError **error)
{
    if (ep->remote_set) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID,
                    "the endpoint's transport is already set (ICE restarts are not supported)");
        return NULL;
    }
    if (t->fingerprint == NULL || t->ufrag == NULL || t->pwd == NULL) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID,
                    "a transport needs ICE credentials and a DTLS fingerprint");
        return NULL;
    }
    gboolean client = g_strcmp0(t->fp_setup, "active") != 0;
    g_autoptr(BridgeDtls) dtls = bridge_dtls_new(ep->config->identity, client, dtls_send, ep);
    if (!bridge_dtls_set_remote_fingerprint(dtls, t->fp_hash, t->fingerprint)) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID,
                    "the DTLS fingerprint must be a sha-256 one (32 hex pairs)");
        return NULL;
    }
    return g_steal_pointer(&dtls);
}

void
bridge_endpoint_commit_remote(BridgeEndpoint *ep, const CcIceUdpTransport *t, BridgeDtls *dtls)
{
    /* Cannot fail: the credentials were checked by bridge_endpoint_prepare_remote(), and
     * libnice refuses only missing ones. */
    nice_agent_set_remote_credentials(ep->agent, ep->stream_id, t->ufrag, t->pwd);
    add_candidates(ep, t);
    ep->dtls = dtls;
    ep->dtls_client = g_strcmp0(t->fp_setup, "active") != 0;
    ep->remote_set = TRUE;
    ep->remote_ufrag = g_strdup(t->ufrag);
    if (ep->dtls_client && ep->ice_connected)
        bridge_dtls_start(ep->dtls);
    replay_early_dtls(ep);
}

gboolean
bridge_endpoint_is_trickle(const BridgeEndpoint *ep, const CcIceUdpTransport *t)
{
    return ep->remote_set && g_strcmp0(ep->remote_ufrag, t->ufrag) == 0;
}

void
bridge_endpoint_add_remote_candidates(BridgeEndpoint *ep, const CcIceUdpTransport *t)
{
    add_candidates(ep, t);
}

gboolean
bridge_endpoint_set_sources(BridgeEndpoint *ep, GPtrArray *sources)
{
    guint n = 0;
    for (guint i = 0; i < sources->len; i++) {
        const CcColibri2Source *src = g_ptr_array_index(sources, i);
        n += src->ssrcs->len;
    }
    if (n > BRIDGE_MAX_SSRCS)
        return FALSE;
    ep->n_ssrcs = 0;
    for (guint i = 0; i < sources->len; i++) {
        const CcColibri2Source *src = g_ptr_array_index(sources, i);
        for (guint j = 0; j < src->ssrcs->len; j++) {
            ep->ssrcs[ep->n_ssrcs] = g_array_index(src->ssrcs, guint32, j);
            ep->ssrc_video[ep->n_ssrcs] = g_strcmp0(src->type, "video") == 0;
            ep->n_ssrcs++;
        }
    }
    return TRUE;
}

BridgeExpireReason
bridge_endpoint_tick(BridgeEndpoint *ep, gint64 now)
{
    if (ep->expire != BRIDGE_EXPIRE_NONE)
        return ep->expire;
    if (ep->dtls != NULL && bridge_dtls_state(ep->dtls) == BRIDGE_DTLS_HANDSHAKING &&
        bridge_dtls_tick(ep->dtls) == BRIDGE_DTLS_FAILED)
        on_dtls_failed(ep);
    if (ep->expire != BRIDGE_EXPIRE_NONE)
        return ep->expire;
    const BridgeMediaConfig *cfg = ep->config;
    if (ep->srtp_out != NULL) {
        if (now - ep->last_media_us > (gint64)cfg->media_timeout_s * G_USEC_PER_SEC)
            return BRIDGE_EXPIRE_MEDIA;
    } else if (now - ep->created_us > (gint64)cfg->connect_timeout_s * G_USEC_PER_SEC) {
        return BRIDGE_EXPIRE_ICE;
    }
    return BRIDGE_EXPIRE_NONE;
}
