/* The test peer's media half: sends audio every 20 ms, video frames every 33 ms, an RTX
 * packet every tenth frame and RTCP (two SRs and an RR) every 500 ms (--rtcp-interval); receives,
 * decrypts and checks every packet byte for byte; simulates loss by dropping every Nth video packet
 * before decryption and NACKing it; counts PLIs, SRs and RRs; sends hostile packets on
 * request. */
#include "peer.h"

#include "rtcp.h"
#include "rtp.h"

#include <string.h>

static int
protect_and_send(Peer *p, guint8 *buf, gsize len, gboolean rtcp)
{
    int rc = rtcp ? bridge_srtp_protect_rtcp(p->srtp_out, buf, &len)
                  : bridge_srtp_protect(p->srtp_out, buf, &len);
    if (rc != 0)
        return rc;
    return peer_send_raw(p, buf, len);
}

static void
send_nack(Peer *p, guint32 ssrc, guint16 seq)
{
    guint8 buf[64 + BRIDGE_SRTP_MAX_TRAILER];
    gsize n = bridge_rtcp_write_nack(buf, p->audio_ssrc, ssrc, seq, 0);
    if (protect_and_send(p, buf, n, TRUE) == 0)
        p->nacks_sent++;
}

/* Streams that cannot be rebuilt: valid RTP is counted (and bench packets timed). */
static void
receive_counted(Peer *p, PeerRxStream *s, const guint8 *buf, gsize len)
{
    BridgeRtpHeader h;
    if (bridge_rtp_parse(buf, len, &h) != 0) {
        s->mismatches++;
        return;
    }
    guint16 k = h.seq;
    if (!(s->seen[k / 8] & (1u << (k % 8))))
        s->unique++;
    s->seen[k / 8] |= (guint8)(1u << (k % 8));
    if (s->kind != PEER_BENCH || h.payload_len < 8)
        return;
    const guint8 *pl = buf + h.header_len;
    gint64 sent = (gint64)(((guint64)bridge_read32(pl) << 32) | bridge_read32(pl + 4));
    gint64 us = g_get_monotonic_time() - sent;
    if (us < 0)
        us = 0;
    gsize bucket = MIN((gsize)(us / 10), PEER_LATENCY_BUCKETS - 1);
    p->latency_hist[bucket]++;
}

static void
receive_rtp(Peer *p, guint8 *buf, gsize len)
{
    if (len < 12)
        return;
    guint32 ssrc = bridge_read32(buf + 8);
    guint16 seq = bridge_read16(buf + 2);
    PeerRxStream *s = peer_rx_find(p, ssrc);
    gpointer key = GUINT_TO_POINTER(((guint64)ssrc << 16 | seq) & G_MAXUINT);
    gboolean was_requested = g_hash_table_contains(p->requested, key);
    if (s != NULL && s->kind == PEER_VIDEO && p->drop_every > 0 && !was_requested &&
        ++p->video_rx % p->drop_every == 0) {
        /* simulated loss: the packet never reached us */
        g_hash_table_insert(p->requested, key, GINT_TO_POINTER(1));
        p->dropped_for_nack++;
        send_nack(p, ssrc, seq);
        return;
    }
    if (bridge_srtp_unprotect(p->srtp_in, buf, &len) != 0) {
        p->srtp_errors++;
        return;
    }
    if (!p->first_media) {
        p->first_media = TRUE;
        peer_emit("{\"event\":\"first-media\",\"ssrc\":%u,\"t_us\":%" G_GINT64_FORMAT "}", ssrc,
                  g_get_monotonic_time());
    }
    if (s == NULL) {
        p->unexpected++;
        return;
    }
    guint32 k;
    s->packets++;
    s->bytes += len;
    if (s->kind == PEER_FOREIGN || s->kind == PEER_BENCH) {
        receive_counted(p, s, buf, len);
        return;
    }
    if (!peer_stream_check(s->kind, buf, len, &k)) {
        s->mismatches++;
        return;
    }
    gboolean first = !(s->seen[k / 8] & (1u << (k % 8)));
    s->seen[k / 8] |= (guint8)(1u << (k % 8));
    if (first)
        s->unique++;
    if (was_requested) {
        s->retransmitted++;
        g_hash_table_remove(p->requested, key);
    } else if ((gint64)k <= s->highest) {
        s->out_of_order++;
    }
    if ((gint64)k > s->highest)
        s->highest = k;
}

typedef struct {
    Peer *peer;
    guint32 ssrc;
    guint count;
} Nacked;

/* A NACK for the file video is answered with the packet itself, when it is still held. */
static void
on_nacked(guint16 seq, gpointer data)
{
    Nacked *n = data;
    Peer *p = n->peer;
    n->count++;
    if (p->video_file == NULL || n->ssrc != p->video_ssrc)
        return;
    const PeerHistorySlot *h = &p->history[seq % PEER_HISTORY];
    if (h->len == 0 || h->seq != seq)
        return;
    guint8 buf[1600 + BRIDGE_SRTP_MAX_TRAILER];
    memcpy(buf, h->data, h->len);
    gsize len = h->len;
    /* the packet again, under its index: a retransmission (see bridge/srtp.h) */
    if (bridge_srtp_protect_again(p->srtp_out, buf, &len) == 0 && peer_send_raw(p, buf, len) == 0)
        p->retransmitted++;
}

static void
receive_rtcp(Peer *p, guint8 *buf, gsize len)
{
    if (bridge_srtp_unprotect_rtcp(p->srtp_in, buf, &len) != 0) {
        p->srtp_errors++;
        return;
    }
    if (bridge_rtcp_validate(buf, len) < 0) {
        p->malformed_rtcp++;
        return;
    }
    BridgeRtcpIter it;
    BridgeRtcpPacket pkt;
    bridge_rtcp_iter_init(&it, buf, len);
    while (bridge_rtcp_iter_next(&it, &pkt)) {
        if (pkt.type == BRIDGE_RTCP_SR) {
            p->srs++;
        } else if (pkt.type == BRIDGE_RTCP_RR) {
            p->rrs++;
        } else if (pkt.type == BRIDGE_RTCP_PSFB && pkt.count == BRIDGE_RTCP_FMT_PLI) {
            gpointer key = GUINT_TO_POINTER(pkt.media_ssrc);
            guint n = GPOINTER_TO_UINT(g_hash_table_lookup(p->plis, key));
            g_hash_table_insert(p->plis, key, GUINT_TO_POINTER(n + 1));
        } else if (pkt.type == BRIDGE_RTCP_RTPFB && pkt.count == BRIDGE_RTCP_FMT_NACK) {
            gpointer key = GUINT_TO_POINTER(pkt.media_ssrc);
            Nacked n = {p, pkt.media_ssrc, GPOINTER_TO_UINT(g_hash_table_lookup(p->nacked, key))};
            bridge_rtcp_nack_foreach(&pkt, on_nacked, &n);
            g_hash_table_insert(p->nacked, key, GUINT_TO_POINTER(n.count));
        }
    }
}

void
peer_media_receive(Peer *p, guint8 *buf, gsize len, gboolean rtcp)
{
    if (p->srtp_in == NULL)
        return;
    if (rtcp)
        receive_rtcp(p, buf, len);
    else
        receive_rtp(p, buf, len);
}

static void
send_stream(Peer *p, PeerKind kind, guint32 ssrc, guint64 *counter)
{
    guint8 buf[1600 + BRIDGE_SRTP_MAX_TRAILER];
    gsize n = peer_stream_build_level(kind, ssrc, (guint32)*counter, p->audio_level, buf);
    if (protect_and_send(p, buf, n, FALSE) == 0)
        (*counter)++;
}

/* One frame from the video file: records of length, marker, timestamp offset, payload. */
static void
send_file_frame(Peer *p)
{
    gsize size;
    const guint8 *d = g_bytes_get_data(p->video_file, &size);
    for (int n = 0; n < 64; n++) {
        if (p->video_off + 7 > size) { /* loop, keeping timestamps increasing */
            p->video_off = 0;
            p->video_ts_base += p->video_last_ts + 3000;
        }
        const guint8 *r = d + p->video_off;
        gsize plen = bridge_read16(r);
        gboolean marker = r[2] != 0;
        guint32 ts = bridge_read32(r + 3);
        if (p->video_off + 7 + plen > size || plen > 1300) {
            p->video_off = size; /* a broken file: stop at its end */
            return;
        }
        guint8 buf[1600 + BRIDGE_SRTP_MAX_TRAILER];
        guint16 seq = (guint16)(peer_stream_first_seq(p->video_ssrc) + p->sent_video);
        gsize off = bridge_rtp_write_header(buf, p->video_file_pt, marker, seq,
                                            p->video_ts_base + ts, p->video_ssrc);
        memcpy(buf + off, r + 7, plen);
        p->video_off += 7 + plen;
        p->video_last_ts = ts;
        gsize len = off + plen;
        if (len <= sizeof p->history[0].data) {
            PeerHistorySlot *h = &p->history[seq % PEER_HISTORY];
            h->seq = seq;
            h->len = (guint16)len;
            memcpy(h->data, buf, len);
        }
        if (protect_and_send(p, buf, len, FALSE) == 0)
            p->sent_video++;
        if (marker) {
            p->sent_frames++;
            return;
        }
    }
}

/* Benchmark packets: --bench-size payloads (1100 bytes by default) that start with the
 * monotonic send time, on the video SSRC, or on the audio SSRC (as audio) without one. */
static void
send_bench(Peer *p, guint count)
{
    gboolean audio = p->video_ssrc == 0 && p->audio_ssrc != 0;
    guint32 ssrc = audio ? p->audio_ssrc : p->video_ssrc;
    for (guint i = 0; i < count; i++) {
        guint8 buf[1600 + BRIDGE_SRTP_MAX_TRAILER];
        guint16 seq = (guint16)(peer_stream_first_seq(ssrc) + p->sent_bench);
        gsize off = bridge_rtp_write_header(buf, audio ? PEER_PT_AUDIO : PEER_PT_VIDEO, FALSE, seq,
                                            (guint32)(p->sent_bench * (audio ? 960 : 90)), ssrc);
        memset(buf + off, 0x42, p->bench_size);
        guint64 now = (guint64)g_get_monotonic_time();
        bridge_write32(buf + off, (guint32)(now >> 32));
        bridge_write32(buf + off + 4, (guint32)now);
        if (protect_and_send(p, buf, off + p->bench_size, FALSE) == 0)
            p->sent_bench++;
    }
}

static void
emit_sent(Peer *p, const char *stopped)
{
    GString *s = g_string_new(NULL);
    g_string_append_printf(
        s,
        "{\"event\":\"sent\",\"audio\":%" G_GUINT64_FORMAT ",\"video\":%" G_GUINT64_FORMAT
        ",\"rtx\":%" G_GUINT64_FORMAT ",\"bench\":%" G_GUINT64_FORMAT
        ",\"frames\":%" G_GUINT64_FORMAT ",\"retransmitted\":%" G_GUINT64_FORMAT,
        p->sent_audio, p->sent_video, p->sent_rtx, p->sent_bench, p->sent_frames, p->retransmitted);
    if (p->n_extra > 0) {
        g_string_append(s, ",\"extra\":{");
        for (guint i = 0; i < p->n_extra; i++)
            g_string_append_printf(s, "%s\"%u\":%" G_GUINT64_FORMAT, i ? "," : "", p->extra[i].ssrc,
                                   p->extra[i].sent);
        g_string_append_c(s, '}');
    }
    if (stopped != NULL)
        g_string_append_printf(s, ",\"stopped\":\"%s\"", stopped);
    g_string_append_c(s, '}');
    peer_emit("%s", s->str);
    g_string_free(s, TRUE);
}

void
peer_media_stop(Peer *p, const char *why)
{
    gboolean was_sending = p->send_timer != 0;
    g_clear_handle_id(&p->send_timer, g_source_remove);
    g_clear_handle_id(&p->sr_timer, g_source_remove);
    if (was_sending && why != NULL)
        emit_sent(p, why);
}

static gboolean
on_send_tick(gpointer data)
{
    Peer *p = data;
    gint64 now = g_get_monotonic_time();
    if (now >= p->send_until_us) {
        p->send_timer = 0; /* removed by returning */
        peer_media_stop(p, NULL);
        emit_sent(p, NULL);
        return G_SOURCE_REMOVE;
    }
    static guint tick;
    tick++;
    if (p->bench_rate > 0) { /* keep to the rate whatever the timer's drift */
        gint64 elapsed = now - p->send_start_us;
        guint64 due = p->bench_period_base + (guint64)elapsed * p->bench_rate / G_USEC_PER_SEC;
        if (due > p->sent_bench)
            send_bench(p, (guint)MIN(due - p->sent_bench, 1000));
        return G_SOURCE_CONTINUE;
    }
    if (p->video_file != NULL) {
        if (tick % 3 == 0)
            send_file_frame(p);
        return G_SOURCE_CONTINUE;
    }
    if (p->audio_ssrc != 0 && tick % 2 == 0) /* every 20 ms */
        send_stream(p, PEER_AUDIO, p->audio_ssrc, &p->sent_audio);
    if (p->video_ssrc != 0 && tick % 3 == 0) { /* a frame every 30 ms: a burst of three */
        for (int i = 0; i < 3; i++)
            send_stream(p, PEER_VIDEO, p->video_ssrc, &p->sent_video);
        if (p->rtx_ssrc != 0 && (p->sent_video / 3) % 10 == 0)
            send_stream(p, PEER_RTX, p->rtx_ssrc, &p->sent_rtx);
    }
    for (guint i = 0; i < p->n_extra && tick % 3 == 0; i++) {
        for (int j = 0; j < 3; j++)
            send_stream(p, PEER_VIDEO, p->extra[i].ssrc, &p->extra[i].sent);
    }
    return G_SOURCE_CONTINUE;
}

static gboolean
on_sr_tick(gpointer data)
{
    Peer *p = data;
    guint8 buf[256 + BRIDGE_SRTP_MAX_TRAILER];
    gsize n = 0;
    guint64 ntp = (guint64)g_get_real_time();
    if (p->audio_ssrc != 0)
        n += bridge_rtcp_write_sr(buf + n, p->audio_ssrc, ntp, 0, (guint32)p->sent_audio, 0);
    if (p->video_ssrc != 0)
        n += bridge_rtcp_write_sr(buf + n, p->video_ssrc, ntp, 0, (guint32)p->sent_video, 0);
    for (guint i = 0; i < p->n_extra; i++)
        n += bridge_rtcp_write_sr(buf + n, p->extra[i].ssrc, ntp, 0, (guint32)p->extra[i].sent, 0);
    if (p->n_rx > 0)
        n += bridge_rtcp_write_rr(buf + n, p->audio_ssrc, p->rx[0].ssrc, 0);
    if (n > 0)
        protect_and_send(p, buf, n, TRUE);
    return G_SOURCE_CONTINUE;
}

void
peer_media_start(Peer *p, double seconds)
{
    if (p->send_timer != 0)
        return;
    p->send_start_us = g_get_monotonic_time();
    p->bench_period_base = p->sent_bench; /* a second period keeps to the rate too */
    p->send_until_us = p->send_start_us + (gint64)(seconds * G_USEC_PER_SEC);
    p->send_timer = g_timeout_add(10, on_send_tick, p);
    p->sr_timer = g_timeout_add(p->rtcp_interval_ms, on_sr_tick, p);
}

void
peer_media_send_nack(Peer *p, guint32 media_ssrc, guint16 seq)
{
    send_nack(p, media_ssrc, seq);
}

void
peer_media_send_pli(Peer *p, guint32 media_ssrc)
{
    guint8 buf[64 + BRIDGE_SRTP_MAX_TRAILER];
    gsize n = bridge_rtcp_write_pli(buf, p->audio_ssrc, media_ssrc);
    protect_and_send(p, buf, n, TRUE);
}

/* Packets that SRTP accepts but RTP/RTCP validation must refuse. */
static gsize
build_hostile(Peer *p, const char *what, guint i, guint8 *buf, gboolean *rtcp)
{
    *rtcp = FALSE;
    if (g_strcmp0(what, "unsignalled") == 0)
        return peer_stream_build(PEER_AUDIO, p->audio_ssrc + 1000, i, buf);
    /* a fresh SSRC keeps the SRTP index of the real streams untouched */
    guint32 ssrc = p->audio_ssrc + 2000;
    gsize n = peer_stream_build(PEER_AUDIO, ssrc, i, buf);
    switch (i % 4) {
    case 0: /* padding longer than the payload */
        buf[0] |= 0x20;
        buf[n - 1] = 255;
        return n;
    case 1: /* a one-byte extension element running past its block */
        buf[16] = 0x1f;
        return n;
    case 2: /* RTCP whose length field claims more than the datagram holds */
        *rtcp = TRUE;
        n = bridge_rtcp_write_sr(buf, ssrc, 0, 0, 0, 0);
        buf[3] = 40;
        return n;
    default: /* an RTPFB NACK too short to hold an FCI entry */
        *rtcp = TRUE;
        n = bridge_rtcp_write_pli(buf, ssrc, ssrc);
        buf[1] = BRIDGE_RTCP_RTPFB;
        return n;
    }
}

/* Unencrypted datagrams on the validated ICE path: a third look like SRTP/SRTCP (fail
 * authentication), a third have a first byte no protocol uses, a third are DTLS garbage. */
static void
send_noise(Peer *p, guint count)
{
    GRand *rng = g_rand_new_with_seed(count);
    guint sent = 0;
    for (guint i = 0; i < count; i++) {
        guint8 buf[400];
        gsize n = 20 + (gsize)g_rand_int_range(rng, 0, 300);
        for (gsize j = 0; j < n; j++)
            buf[j] = (guint8)g_rand_int(rng);
        buf[0] = i % 3 == 0 ? 0x80 : i % 3 == 1 ? 0xff : 0x17;
        if (peer_send_raw(p, buf, n) == 0)
            sent++;
    }
    g_rand_free(rng);
    peer_emit("{\"event\":\"hostile-sent\",\"what\":\"noise\",\"count\":%u}", sent);
}

void
peer_media_send_hostile(Peer *p, const char *what, guint count)
{
    if (g_strcmp0(what, "noise") == 0) {
        send_noise(p, count);
        return;
    }
    guint sent = 0;
    for (guint i = 0; i < count; i++) {
        guint8 buf[1600 + BRIDGE_SRTP_MAX_TRAILER];
        gboolean rtcp;
        gsize n = build_hostile(p, what, i, buf, &rtcp);
        if (protect_and_send(p, buf, n, rtcp) == 0)
            sent++;
    }
    peer_emit("{\"event\":\"hostile-sent\",\"what\":\"%s\",\"count\":%u}", what, sent);
}

/* {"ssrc":count,...} of a table keyed by SSRC. */
static void
append_counts(GString *s, GHashTable *counts)
{
    GHashTableIter it;
    gpointer key, value;
    const char *sep = "";
    g_string_append_c(s, '{');
    g_hash_table_iter_init(&it, counts);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        g_string_append_printf(s, "%s\"%u\":%u", sep, GPOINTER_TO_UINT(key),
                               GPOINTER_TO_UINT(value));
        sep = ",";
    }
    g_string_append_c(s, '}');
}

void
peer_media_report(Peer *p)
{
    GString *s = g_string_new("{\"event\":\"report\",\"streams\":[");
    for (guint i = 0; i < p->n_rx; i++) {
        const PeerRxStream *r = &p->rx[i];
        g_string_append_printf(
            s,
            "%s{\"ssrc\":%u,\"kind\":\"%s\",\"packets\":%" G_GUINT64_FORMAT
            ",\"unique\":%" G_GUINT64_FORMAT ",\"bytes\":%" G_GUINT64_FORMAT
            ",\"mismatches\":%" G_GUINT64_FORMAT ",\"out_of_order\":%" G_GUINT64_FORMAT
            ",\"retransmitted\":%" G_GUINT64_FORMAT,
            i ? "," : "", r->ssrc, peer_kind_name(r->kind), r->packets, r->unique, r->bytes,
            r->mismatches, r->out_of_order, r->retransmitted);
        if (r->removed)
            g_string_append(s, ",\"removed\":true");
        if (r->owner != NULL) {
            g_string_append(s, ",\"owner\":");
            peer_json_append_string(s, r->owner);
        }
        g_string_append_c(s, '}');
    }
    g_string_append(s, "],\"plis\":");
    append_counts(s, p->plis);
    g_string_append(s, ",\"nacked\":");
    append_counts(s, p->nacked);
    guint64 total = 0, p50 = 0, p99 = 0, acc = 0;
    for (guint i = 0; i < PEER_LATENCY_BUCKETS; i++)
        total += p->latency_hist[i];
    for (guint i = 0; i < PEER_LATENCY_BUCKETS && total > 0; i++) {
        acc += p->latency_hist[i];
        if (p50 == 0 && acc * 2 >= total)
            p50 = (i + 1) * 10;
        if (acc * 100 >= total * 99) {
            p99 = (i + 1) * 10;
            break;
        }
    }
    g_string_append_printf(s,
                           ",\"latency_us\":{\"count\":%" G_GUINT64_FORMAT
                           ",\"p50\":%" G_GUINT64_FORMAT ",\"p99\":%" G_GUINT64_FORMAT "}",
                           total, p50, p99);
    g_string_append_printf(
        s,
        ",\"srs\":%" G_GUINT64_FORMAT ",\"rrs\":%" G_GUINT64_FORMAT
        ",\"nacks_sent\":%" G_GUINT64_FORMAT ",\"dropped_for_nack\":%" G_GUINT64_FORMAT
        ",\"srtp_errors\":%" G_GUINT64_FORMAT ",\"unexpected\":%" G_GUINT64_FORMAT
        ",\"malformed_rtcp\":%" G_GUINT64_FORMAT "}",
        p->srs, p->rrs, p->nacks_sent, p->dropped_for_nack, p->srtp_errors, p->unexpected,
        p->malformed_rtcp);
    peer_emit("%s", s->str);
    g_string_free(s, TRUE);
}

void
peer_media_reset_rx(Peer *p)
{
    for (guint i = 0; i < p->n_rx; i++) {
        PeerRxStream *r = &p->rx[i];
        r->packets = r->bytes = r->unique = r->mismatches = r->out_of_order = r->retransmitted = 0;
        r->highest = -1;
        memset(r->seen, 0, sizeof r->seen);
    }
    p->video_rx = p->dropped_for_nack = p->nacks_sent = 0;
    g_hash_table_remove_all(p->requested);
    p->srs = p->rrs = p->srtp_errors = p->unexpected = p->malformed_rtcp = 0;
    g_hash_table_remove_all(p->plis);
    g_hash_table_remove_all(p->nacked);
    memset(p->latency_hist, 0, PEER_LATENCY_BUCKETS * sizeof *p->latency_hist);
    peer_emit("{\"event\":\"rx-reset\",\"t_us\":%" G_GINT64_FORMAT "}", g_get_monotonic_time());
}
