/* Registration of the bridge's counters (see stats.h); the names are the operator's
 * contract, listed in docs/operations-bridge.md. */
#include "stats.h"

#define DROPS      "conclave_bridge_dropped_packets_total"
#define DROPS_HELP "Packets dropped, by reason"

void
bridge_stats_init(BridgeStats *s, CcMetrics *m)
{
    s->packets_in = cc_metrics_counter(m, "conclave_bridge_packets_in_total",
                                       "Datagrams received on media sockets", NULL);
    s->bytes_in = cc_metrics_counter(m, "conclave_bridge_bytes_in_total",
                                     "Bytes received on media sockets", NULL);
    s->packets_out = cc_metrics_counter(m, "conclave_bridge_packets_out_total",
                                        "Datagrams sent on media sockets", NULL);
    s->bytes_out = cc_metrics_counter(m, "conclave_bridge_bytes_out_total",
                                      "Bytes sent on media sockets", NULL);
    s->rtp_accepted = cc_metrics_counter(m, "conclave_bridge_rtp_accepted_total",
                                         "RTP packets decrypted, valid and signalled", NULL);
    s->rtp_forwarded = cc_metrics_counter(m, "conclave_bridge_rtp_forwarded_total",
                                          "RTP packets sent to receivers (one per receiver)", NULL);
    s->rtcp_accepted = cc_metrics_counter(m, "conclave_bridge_rtcp_accepted_total",
                                          "RTCP compound packets decrypted and valid", NULL);
    s->drop_malformed_rtp =
        cc_metrics_counter(m, DROPS, DROPS_HELP, "reason", "malformed_rtp", NULL);
    s->drop_malformed_rtcp =
        cc_metrics_counter(m, DROPS, DROPS_HELP, "reason", "malformed_rtcp", NULL);
    s->drop_unsignalled_ssrc =
        cc_metrics_counter(m, DROPS, DROPS_HELP, "reason", "unsignalled_ssrc", NULL);
    s->drop_srtp = cc_metrics_counter(m, DROPS, DROPS_HELP, "reason", "srtp", NULL);
    s->drop_not_ready = cc_metrics_counter(m, DROPS, DROPS_HELP, "reason", "not_ready", NULL);
    s->drop_unknown = cc_metrics_counter(m, DROPS, DROPS_HELP, "reason", "unknown", NULL);
    s->drop_too_big = cc_metrics_counter(m, DROPS, DROPS_HELP, "reason", "too_big", NULL);
    /* Per receiver: a packet in a payload type that receiver's client did not accept. */
    s->drop_payload_type = cc_metrics_counter(m, DROPS, DROPS_HELP, "reason", "payload_type", NULL);
    s->drop_send_failed = cc_metrics_counter(m, DROPS, DROPS_HELP, "reason", "send_failed", NULL);
    /* Queued for a receiver that was removed before the batch went out. */
    s->drop_receiver_gone =
        cc_metrics_counter(m, DROPS, DROPS_HELP, "reason", "receiver_gone", NULL);
    s->send_calls = cc_metrics_counter(
        m, "conclave_bridge_send_calls_total",
        "System calls that sent datagrams on media sockets (media, RTCP, DTLS)", NULL);
    s->gso_packets = cc_metrics_counter(m, "conclave_bridge_gso_packets_total",
                                        "Datagrams sent inside a UDP GSO message", NULL);
    s->gso_disabled = cc_metrics_counter(
        m, "conclave_bridge_gso_disabled_total",
        "Workers that stopped using UDP GSO because the kernel refused it", NULL);
    s->recv_calls = cc_metrics_counter(
        m, "conclave_bridge_recv_calls_total",
        "System calls that read media sockets in batches beside libnice (peeks and takes)", NULL);
    s->recv_batched = cc_metrics_counter(
        m, "conclave_bridge_recv_batched_total",
        "Datagrams read in batches beside libnice (the others went through libnice)", NULL);
    s->recv_yields = cc_metrics_counter(
        m, "conclave_bridge_recv_yields_total",
        "Times batched reading left the next datagram to libnice (STUN, another address, too "
        "big)",
        NULL);
    s->direct_passes = cc_metrics_counter(
        m, "conclave_bridge_loop_direct_passes_total",
        "Passes of the media workers' loops that read media without GLib's pass over its sources",
        NULL);
    s->dtls_ok = cc_metrics_counter(m, "conclave_bridge_dtls_handshakes_total",
                                    "DTLS handshakes, by result", "result", "ok", NULL);
    s->dtls_failed = cc_metrics_counter(m, "conclave_bridge_dtls_handshakes_total",
                                        "DTLS handshakes, by result", "result", "failed", NULL);
    s->dtls_fingerprint_mismatch =
        cc_metrics_counter(m, "conclave_bridge_dtls_handshakes_total", "DTLS handshakes, by result",
                           "result", "fingerprint_mismatch", NULL);
    s->ice_failed = cc_metrics_counter(m, "conclave_bridge_ice_failures_total",
                                       "ICE sessions that failed or lost consent", NULL);
    s->nacks_received = cc_metrics_counter(m, "conclave_bridge_nacks_received_total",
                                           "Sequence numbers NACKed by receivers", NULL);
    s->nacks_answered =
        cc_metrics_counter(m, "conclave_bridge_nacks_answered_total",
                           "NACKed packets retransmitted from the retransmission buffer", NULL);
    s->plis_received = cc_metrics_counter(m, "conclave_bridge_plis_received_total",
                                          "PLI and FIR received from receivers", NULL);
    s->nacks_relayed =
        cc_metrics_counter(m, "conclave_bridge_nacks_relayed_total",
                           "NACKed packets the bridge never received, asked of their sender", NULL);
    s->plis_sent =
        cc_metrics_counter(m, "conclave_bridge_plis_sent_total", "PLI sent to senders", NULL);
    s->plis_throttled = cc_metrics_counter(m, "conclave_bridge_plis_throttled_total",
                                           "PLI/FIR not passed on because of the rate limit", NULL);
    s->sr_forwarded = cc_metrics_counter(m, "conclave_bridge_sender_reports_forwarded_total",
                                         "Sender reports forwarded (per receiver)", NULL);
    s->rr_terminated = cc_metrics_counter(m, "conclave_bridge_receiver_reports_terminated_total",
                                          "Receiver reports consumed by the bridge", NULL);
    s->endpoints_created =
        cc_metrics_counter(m, "conclave_bridge_endpoints_created_total", "Endpoints created", NULL);
#define EXPIRED      "conclave_bridge_endpoints_expired_total"
#define EXPIRED_HELP "Endpoints expired, by reason"
    s->endpoints_expired_media =
        cc_metrics_counter(m, EXPIRED, EXPIRED_HELP, "reason", "media_timeout", NULL);
    s->endpoints_expired_ice =
        cc_metrics_counter(m, EXPIRED, EXPIRED_HELP, "reason", "ice_failed", NULL);
    s->endpoints_expired_dtls =
        cc_metrics_counter(m, EXPIRED, EXPIRED_HELP, "reason", "dtls_failed", NULL);
    s->endpoints_expired_signalled =
        cc_metrics_counter(m, EXPIRED, EXPIRED_HELP, "reason", "signalled", NULL);
    s->conferences_created = cc_metrics_counter(m, "conclave_bridge_conferences_created_total",
                                                "Conferences created", NULL);
    s->conferences_expired_empty =
        cc_metrics_counter(m, "conclave_bridge_conferences_expired_empty_total",
                           "Conferences the bridge removed on its own, empty for "
                           "[media] empty_conference_grace",
                           NULL);
}

static void
publish(CcMetric *metric, guint64 *count)
{
    if (*count != 0)
        cc_metric_add(metric, (gint64)*count);
    *count = 0;
}

void
bridge_stats_publish(const BridgeStats *s, BridgeWorkerCounts *c)
{
    publish(s->packets_in, &c->packets_in);
    publish(s->bytes_in, &c->bytes_in);
    publish(s->rtp_accepted, &c->rtp_accepted);
    publish(s->packets_out, &c->packets_out);
    publish(s->bytes_out, &c->bytes_out);
    publish(s->rtp_forwarded, &c->rtp_forwarded);
    publish(s->drop_send_failed, &c->send_failed);
    publish(s->drop_receiver_gone, &c->receiver_gone);
    publish(s->send_calls, &c->send_calls);
    publish(s->gso_packets, &c->gso_packets);
    publish(s->gso_disabled, &c->gso_disabled);
    publish(s->recv_calls, &c->recv_calls);
    publish(s->recv_batched, &c->recv_batched);
    publish(s->recv_yields, &c->recv_yields);
    publish(s->drop_unknown, &c->recv_dropped);
    publish(s->direct_passes, &c->direct_passes);
}
