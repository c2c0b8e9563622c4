/* The bridge's counters, registered once in the metrics registry and updated with one
 * relaxed atomic add each from any worker. Drops are one family labelled by reason. */
#pragma once

#include "metrics.h"

G_BEGIN_DECLS

typedef struct {
    CcMetric *packets_in, *bytes_in, *packets_out, *bytes_out;
    CcMetric *rtp_accepted, *rtp_forwarded, *rtcp_accepted;
    CcMetric *drop_malformed_rtp, *drop_malformed_rtcp, *drop_unsignalled_ssrc, *drop_srtp,
        *drop_not_ready, *drop_unknown, *drop_too_big, *drop_send_failed, *drop_payload_type;
    CcMetric *dtls_ok, *dtls_failed, *dtls_fingerprint_mismatch;
    CcMetric *ice_failed;
    CcMetric *nacks_received, *nacks_answered, *nacks_relayed, *plis_received, *plis_sent,
        *plis_throttled;
    CcMetric *sr_forwarded, *rr_terminated;
    CcMetric *endpoints_created, *endpoints_expired_media, *endpoints_expired_ice,
        *endpoints_expired_dtls, *endpoints_expired_signalled;
    CcMetric *conferences_created, *conferences_expired_empty;
} BridgeStats;

void bridge_stats_init(BridgeStats *stats, CcMetrics *metrics);

G_END_DECLS
