/* The bridge's counters, registered once in the metrics registry. Drops are one family
 * labelled by reason. The per-packet ones are counted by each worker in its own
 * BridgeWorkerCounts, without atomics, and added to the shared counters once per
 * iteration of the worker's loop; the rest get one relaxed atomic add each. */
#pragma once

#include "metrics.h"

G_BEGIN_DECLS

typedef struct {
    CcMetric *packets_in, *bytes_in, *packets_out, *bytes_out;
    CcMetric *rtp_accepted, *rtp_forwarded, *rtcp_accepted;
    CcMetric *drop_malformed_rtp, *drop_malformed_rtcp, *drop_unsignalled_ssrc, *drop_srtp,
        *drop_not_ready, *drop_unknown, *drop_too_big, *drop_send_failed, *drop_payload_type,
        *drop_receiver_gone;
    CcMetric *send_calls, *gso_packets, *gso_disabled;
    CcMetric *recv_calls, *recv_batched, *recv_yields, *direct_passes;
    CcMetric *dtls_ok, *dtls_failed, *dtls_fingerprint_mismatch;
    CcMetric *ice_failed;
    CcMetric *nacks_received, *nacks_answered, *nacks_relayed, *plis_received, *plis_sent,
        *plis_throttled;
    CcMetric *sr_forwarded, *rr_terminated;
    CcMetric *endpoints_created, *endpoints_expired_media, *endpoints_expired_ice,
        *endpoints_expired_dtls, *endpoints_expired_signalled;
    CcMetric *conferences_created, *conferences_expired_empty;
} BridgeStats;

/* One worker's share of the per-packet counters since they were last published. */
typedef struct {
    guint64 packets_in, bytes_in, rtp_accepted;
    guint64 packets_out, bytes_out, rtp_forwarded;
    guint64 send_failed, receiver_gone;
    guint64 send_calls;  /* system calls that sent datagrams */
    guint64 gso_packets; /* datagrams that left inside a GSO message */
    guint64 gso_disabled;
    guint64 recv_calls;    /* recvmmsg() calls beside libnice: peeks and takes */
    guint64 recv_batched;  /* datagrams they took */
    guint64 recv_yields;   /* times they left the next datagram to libnice */
    guint64 recv_dropped;  /* datagrams they took that were not media (drop "unknown") */
    guint64 direct_passes; /* passes of the loop that read media without GLib's (worker.c) */
} BridgeWorkerCounts;

void bridge_stats_init(BridgeStats *stats, CcMetrics *metrics);
/* Adds `counts` to the shared counters and zeroes it. */
void bridge_stats_publish(const BridgeStats *stats, BridgeWorkerCounts *counts);

G_END_DECLS
