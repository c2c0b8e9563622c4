/* The per-packet path: decrypt once, validate, check the SSRC against what was signalled
 * for the sender, store video for retransmission, read the audio level of audio (for the
 * dominant speaker election), then re-encrypt and send to every other endpoint of the
 * conference. RTCP: forward sender reports (without report blocks),
 * terminate receiver reports, turn PLI/FIR into one rate-limited PLI to the sender, answer
 * generic NACKs from the sender's retransmission buffer. A conference being recorded also
 * hands every accepted packet, decrypted, to its recorder's queue (recorder.c). No
 * allocation (but OpenSSL's HMAC, see srtp.h), lock or log here: every failure is a
 * counter. */
#include "bridge-media.h"

#include "rtcp.h"
#include "rtp.h"

#include <errno.h>
#include <string.h>

static BridgeEndpoint *
owner_of(BridgeConference *conf, guint32 ssrc)
{
    return g_hash_table_lookup(conf->ssrc_owner, GUINT_TO_POINTER(ssrc));
}

static gboolean
ssrc_is_video(const BridgeEndpoint *ep, guint32 ssrc)
{
    for (guint i = 0; i < ep->n_ssrcs; i++) {
        if (ep->ssrcs[i] == ssrc)
            return ep->ssrc_video[i];
    }
    return FALSE;
}

static guint
rtx_index(guint32 ssrc, guint16 seq)
{
    return (seq + ssrc * 31u) % BRIDGE_RTX_SLOTS;
}

const BridgeRtxSlot *
bridge_rtx_lookup(const BridgeEndpoint *ep, guint32 ssrc, guint16 seq)
{
    const BridgeRtxSlot *slot = &ep->rtx[rtx_index(ssrc, seq)];
    if (slot->len == 0 || slot->ssrc != ssrc || slot->seq != seq)
        return NULL;
    return slot;
}

static void
rtx_store(BridgeEndpoint *ep, guint32 ssrc, guint16 seq, const guint8 *buf, gsize len)
{
    BridgeRtxSlot *slot = &ep->rtx[rtx_index(ssrc, seq)];
    slot->ssrc = ssrc;
    slot->seq = seq;
    slot->len = (guint16)len;
    memcpy(slot->data, buf, len);
}

/* Encrypts a copy of `buf` for `to` into the worker's send batch. `forwarded`: a media
 * packet (counted in rtp_forwarded once sent), not a retransmission. */
static void
send_rtp_copy(BridgeEndpoint *to, const guint8 *buf, gsize len, gboolean forwarded)
{
    guint8 *out = bridge_endpoint_send_buffer(to);
    memcpy(out, buf, len);
    gsize olen = len;
    int rc = forwarded ? bridge_srtp_protect(to->srtp_out, out, &olen)
                       : bridge_srtp_protect_again(to->srtp_out, out, &olen);
    if (rc != 0) {
        cc_metric_inc(to->config->stats->drop_srtp);
        return;
    }
    bridge_endpoint_send_buffered(to, out, olen, forwarded);
}

static void
send_rtcp_copy(BridgeEndpoint *to, const guint8 *buf, gsize len)
{
    guint8 *out = bridge_endpoint_send_buffer(to);
    memcpy(out, buf, len);
    gsize olen = len;
    if (bridge_srtp_protect_rtcp(to->srtp_out, out, &olen) != 0) {
        cc_metric_inc(to->config->stats->drop_srtp);
        return;
    }
    bridge_endpoint_send_buffered(to, out, olen, FALSE);
}

static gboolean
can_receive(const BridgeEndpoint *ep)
{
    return ep->srtp_out != NULL && ep->expire == BRIDGE_EXPIRE_NONE;
}

void
bridge_router_rtp(BridgeEndpoint *from, guint8 *buf, gsize len)
{
    const BridgeStats *s = from->config->stats;
    BridgeConference *conf = from->conference;
    /* The SSRC is in clear: check it before decrypting, because the inbound session keeps
     * a replay window for every new SSRC that authenticates (srtp-receive.h). */
    if (len < 12) {
        cc_metric_inc(s->drop_malformed_rtp);
        return;
    }
    if (owner_of(conf, bridge_read32(buf + 8)) != from) {
        cc_metric_inc(s->drop_unsignalled_ssrc);
        return;
    }
    if (bridge_srtp_unprotect(from->srtp_in, buf, &len) != 0) {
        cc_metric_inc(s->drop_srtp);
        return;
    }
    BridgeRtpHeader h;
    if (bridge_rtp_parse(buf, len, &h) != 0) {
        cc_metric_inc(s->drop_malformed_rtp);
        return;
    }
    if (owner_of(conf, h.ssrc) != from) {
        cc_metric_inc(s->drop_unsignalled_ssrc);
        return;
    }
    conf->worker->counts.rtp_accepted++;
    gint64 now = g_get_monotonic_time();
    from->last_media_us = now;
    gboolean video = ssrc_is_video(from, h.ssrc);
    if (video) {
        rtx_store(from, h.ssrc, h.seq, buf, len);
    } else if (from->audio_level_ext != 0) {
        guint8 level;
        if (bridge_speaker_read_level(buf, &h, from->audio_level_ext, &level, NULL) == 0)
            bridge_speaker_level_add(&from->speaker, level);
    }
    for (guint i = 0; i < conf->list->len; i++) {
        BridgeEndpoint *to = g_ptr_array_index(conf->list, i);
        if (to == from || !can_receive(to))
            continue;
        if (to->pt_filter && !cc_colibri2_payload_type_has(&to->accepted_pts, h.payload_type)) {
            cc_metric_inc(s->drop_payload_type);
            continue;
        }
        send_rtp_copy(to, buf, len, TRUE);
    }
    /* After forwarding, which only read buf: the recording gets the decrypted packet. */
    if (conf->recorder != NULL)
        bridge_recorder_rtp(conf->recorder, &from->rec_streams, from->occupant_id, video, h.ssrc,
                            h.payload_type, buf, len, now);
}

typedef struct {
    BridgeEndpoint *requester;
    BridgeEndpoint *owner;
    guint32 media_ssrc;
    guint answered;
    gint64 now;
    gboolean can_ask;                        /* the sender can be sent a NACK */
    guint16 missing[BRIDGE_NACK_PER_PACKET]; /* to ask of the sender, ascending */
    guint n_missing;
} NackContext;

/* TRUE when the bridge asked `owner` for this packet less than the hold time ago; else
 * remembers that it asks now. */
static gboolean
asked_recently(BridgeEndpoint *owner, guint32 ssrc, guint16 seq, gint64 now)
{
    BridgeNackAsked *a = &owner->nack_asked[seq % BRIDGE_NACK_ASKED_SLOTS];
    if (a->at_us != 0 && a->ssrc == ssrc && a->seq == seq &&
        now - a->at_us < BRIDGE_NACK_ASKED_HOLD_US)
        return TRUE;
    *a = (BridgeNackAsked){.ssrc = ssrc, .seq = seq, .at_us = now};
    return FALSE;
}

static void
answer_nack(guint16 seq, gpointer data)
{
    NackContext *nc = data;
    if (nc->answered >= BRIDGE_NACK_PER_PACKET ||
        nc->requester->nack_window_count >= BRIDGE_NACK_PER_SECOND)
        return;
    const BridgeRtxSlot *slot = bridge_rtx_lookup(nc->owner, nc->media_ssrc, seq);
    if (slot == NULL) {
        /* Lost on the way in (or too old): the sender may still have it. */
        if (nc->can_ask && nc->n_missing < BRIDGE_NACK_PER_PACKET &&
            !asked_recently(nc->owner, nc->media_ssrc, seq, nc->now)) {
            nc->missing[nc->n_missing++] = seq;
            nc->requester->nack_window_count++; /* asking costs the requester's budget too */
        }
        return;
    }
    BridgeEndpoint *to = nc->requester;
    if (to->pt_filter && !cc_colibri2_payload_type_has(&to->accepted_pts, slot->data[1] & 0x7f))
        return; /* a packet it was never sent: the filter holds for answers too */
    send_rtp_copy(to, slot->data, slot->len, FALSE);
    nc->answered++;
    nc->requester->nack_window_count++;
}

/* One NACK to the sender for what the bridge never received: each entry a packet id and the
 * bitmask of the 16 that follow it (RFC 4585 6.2.1). */
static void
ask_sender(BridgeEndpoint *owner, const NackContext *nc)
{
    guint8 nack[BRIDGE_NACK_PER_PACKET * 16];
    gsize len = 0;
    for (guint i = 0; i < nc->n_missing; i++) {
        guint16 pid = nc->missing[i], blp = 0;
        while (i + 1 < nc->n_missing) {
            guint16 d = (guint16)(nc->missing[i + 1] - pid);
            if (d == 0 || d > 16)
                break;
            blp |= (guint16)(1u << (d - 1));
            i++;
        }
        len += bridge_rtcp_write_nack(nack + len, owner->rtcp_ssrc, nc->media_ssrc, pid, blp);
    }
    send_rtcp_copy(owner, nack, len);
    cc_metric_add(owner->config->stats->nacks_relayed, nc->n_missing);
}

static void
handle_nack(BridgeEndpoint *from, const BridgeRtcpPacket *pkt)
{
    const BridgeStats *s = from->config->stats;
    BridgeEndpoint *owner = owner_of(from->conference, pkt->media_ssrc);
    if (owner == NULL || owner == from)
        return;
    gint64 now = g_get_monotonic_time();
    if (now - from->nack_window_us >= G_USEC_PER_SEC) {
        from->nack_window_us = now;
        from->nack_window_count = 0;
    }
    NackContext nc = {.requester = from,
                      .owner = owner,
                      .media_ssrc = pkt->media_ssrc,
                      .now = now,
                      .can_ask = can_receive(owner)};
    guint n = bridge_rtcp_nack_foreach(pkt, answer_nack, &nc);
    cc_metric_add(s->nacks_received, n);
    cc_metric_add(s->nacks_answered, nc.answered);
    if (nc.n_missing > 0)
        ask_sender(owner, &nc);
}

static void
handle_keyframe_request(BridgeEndpoint *from, const BridgeRtcpPacket *pkt)
{
    const BridgeStats *s = from->config->stats;
    guint32 media = pkt->media_ssrc;
    if (pkt->count == BRIDGE_RTCP_FMT_FIR && pkt->len >= 20)
        media = bridge_read32(pkt->data + 12); /* FIR names the source in its FCI */
    cc_metric_inc(s->plis_received);
    BridgeEndpoint *owner = owner_of(from->conference, media);
    if (owner == NULL || owner == from || !can_receive(owner))
        return;
    gint64 now = g_get_monotonic_time();
    if (owner->last_pli_us != 0 &&
        now - owner->last_pli_us < (gint64)from->config->pli_interval_ms * 1000) {
        cc_metric_inc(s->plis_throttled);
        return;
    }
    owner->last_pli_us = now;
    guint8 pli[BRIDGE_RTCP_PLI_LEN];
    gsize n = bridge_rtcp_write_pli(pli, owner->rtcp_ssrc, media);
    send_rtcp_copy(owner, pli, n);
    cc_metric_inc(s->plis_sent);
}

/* SRTCP's sender SSRC is in clear. Signalled SSRCs are always fine, and so are the few
 * others this endpoint already used (receive-only clients report from an SSRC they never
 * announce). */
static gboolean
rtcp_sender_known(BridgeEndpoint *from, guint32 ssrc)
{
    if (owner_of(from->conference, ssrc) == from)
        return TRUE;
    for (guint i = 0; i < from->n_rtcp_only_ssrcs; i++) {
        if (from->rtcp_only_ssrcs[i] == ssrc)
            return TRUE;
    }
    return FALSE;
}

void
bridge_router_rtcp(BridgeEndpoint *from, guint8 *buf, gsize len)
{
    const BridgeStats *s = from->config->stats;
    BridgeConference *conf = from->conference;
    if (len < 8) {
        cc_metric_inc(s->drop_malformed_rtcp);
        return;
    }
    guint32 sender = bridge_read32(buf + 4);
    gboolean known = rtcp_sender_known(from, sender);
    if (!known &&
        (owner_of(conf, sender) != NULL || from->n_rtcp_only_ssrcs >= BRIDGE_MAX_RTCP_ONLY_SSRCS)) {
        cc_metric_inc(s->drop_unsignalled_ssrc);
        return;
    }
    if (bridge_srtp_unprotect_rtcp(from->srtp_in, buf, &len) != 0) {
        cc_metric_inc(s->drop_srtp);
        return;
    }
    /* Admitted only once it authenticated: noise cannot use up the slots. */
    if (!known)
        from->rtcp_only_ssrcs[from->n_rtcp_only_ssrcs++] = sender;
    if (bridge_rtcp_validate(buf, len) < 0) {
        cc_metric_inc(s->drop_malformed_rtcp);
        return;
    }
    cc_metric_inc(s->rtcp_accepted);
    from->last_media_us = g_get_monotonic_time();
    /* Every compound an endpoint sends goes to its RTCP stream (the handlers below only
     * read buf). */
    if (conf->recorder != NULL)
        bridge_recorder_rtcp(conf->recorder, &from->rec_streams, from->occupant_id,
                             ssrc_is_video(from, sender), sender, buf, len, from->last_media_us);
    /* Sender reports to forward, each cut to its sender info (28 bytes): at most 8. */
    guint8 srs[8 * BRIDGE_RTCP_SR_LEN];
    gsize sr_len = 0;
    BridgeRtcpIter it;
    BridgeRtcpPacket pkt;
    bridge_rtcp_iter_init(&it, buf, len);
    while (bridge_rtcp_iter_next(&it, &pkt)) {
        switch (pkt.type) {
        case BRIDGE_RTCP_SR:
            if (owner_of(conf, pkt.sender_ssrc) != from) {
                cc_metric_inc(s->drop_unsignalled_ssrc);
            } else if (sr_len + BRIDGE_RTCP_SR_LEN <= sizeof srs) {
                memcpy(srs + sr_len, pkt.data, BRIDGE_RTCP_SR_LEN);
                srs[sr_len] = 0x80; /* no padding, no report blocks */
                srs[sr_len + 2] = 0;
                srs[sr_len + 3] = BRIDGE_RTCP_SR_LEN / 4 - 1;
                sr_len += BRIDGE_RTCP_SR_LEN;
            }
            break;
        case BRIDGE_RTCP_RR:
            cc_metric_inc(s->rr_terminated);
            break;
        case BRIDGE_RTCP_RTPFB:
            if (pkt.count == BRIDGE_RTCP_FMT_NACK)
                handle_nack(from, &pkt);
            break;
        case BRIDGE_RTCP_PSFB:
            if (pkt.count == BRIDGE_RTCP_FMT_PLI || pkt.count == BRIDGE_RTCP_FMT_FIR)
                handle_keyframe_request(from, &pkt);
            break;
        default:
            break; /* SDES, BYE, APP, XR: terminated here */
        }
    }
    if (sr_len == 0)
        return;
    for (guint i = 0; i < conf->list->len; i++) {
        BridgeEndpoint *to = g_ptr_array_index(conf->list, i);
        if (to != from && can_receive(to)) {
            send_rtcp_copy(to, srs, sr_len);
            cc_metric_add(s->sr_forwarded, (gint64)(sr_len / BRIDGE_RTCP_SR_LEN));
        }
    }
}
