/* The test peer's state, shared by its connection half (peer.c: ICE, DTLS, commands) and
 * its media half (peer-media.c: sending streams and RTCP, checking what arrives). */
#pragma once

#include "dtls.h"
#include "srtp.h"
#include "streams.h"

#include <nice/agent.h>

#define PEER_MAX_STREAMS 32

typedef struct {
    guint32 ssrc;
    PeerKind kind;
    guint64 packets, bytes, unique, mismatches, out_of_order, retransmitted;
    gint64 highest; /* highest index seen, -1 before the first */
    guint8 seen[65536 / 8];
} PeerRxStream;

typedef struct {
    NiceAgent *agent;
    guint stream_id;
    gboolean ice_ready;
    gboolean dtls_server; /* signalled as setup='passive': the bridge is the DTLS client */
    BridgeDtlsIdentity *identity;
    BridgeDtls *dtls;
    BridgeSrtp *srtp_in, *srtp_out;
    GMainLoop *loop;
    /* what we send */
    guint32 audio_ssrc, video_ssrc, rtx_ssrc;
    guint64 sent_audio, sent_video, sent_rtx;
    guint send_timer, sr_timer;
    gint64 send_start_us, send_until_us;
    /* what we expect and receive */
    PeerRxStream rx[PEER_MAX_STREAMS];
    guint n_rx;
    guint drop_every;
    guint64 video_rx, dropped_for_nack, nacks_sent;
    GHashTable *requested; /* (ssrc << 16 | seq) -> 1 */
    guint64 srs, rrs, srtp_errors, unexpected, malformed_rtcp;
    GHashTable *plis; /* media ssrc -> count */
    /* --video-file: VP8 RTP payloads replayed on the video SSRC instead of synthetic ones */
    GBytes *video_file;
    gsize video_off;
    guint32 video_ts_base, video_last_ts;
    /* --bench-rate: timestamped packets instead of the normal streams, and latencies */
    guint bench_rate;
    guint64 sent_bench;
    guint64 *latency_hist; /* PEER_LATENCY_BUCKETS buckets of 10 us */
} Peer;

#define PEER_LATENCY_BUCKETS 20000 /* up to 200 ms */

void peer_emit(const char *format, ...) G_GNUC_PRINTF(1, 2);
int peer_send_raw(Peer *peer, const guint8 *buf, gsize len);

/* peer-media.c */
void peer_media_receive(Peer *peer, guint8 *buf, gsize len, gboolean rtcp);
void peer_media_start(Peer *peer, double seconds);
void peer_media_send_pli(Peer *peer, guint32 media_ssrc);
void peer_media_send_hostile(Peer *peer, const char *what, guint count);
void peer_media_report(Peer *peer);
