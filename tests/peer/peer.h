/* The test peer's state, shared by its connection half (peer.c: ICE, DTLS, commands), its
 * media half (peer-media.c: sending streams and RTCP, checking what arrives) and, in XMPP
 * mode, its signalling half (peer-xmpp.c: c2s login, MUC, disco; peer-jingle.c: Jingle
 * sessions with the focus).
 *
 * A "session" is one ICE agent with its DTLS association and SRTP contexts. Without XMPP
 * there is one, created at start; in XMPP mode each Jingle session-initiate creates one and
 * session-terminate (or the next session-initiate) destroys it. */
#pragma once

#include "dtls.h"
#include "srtp.h"
#include "streams.h"

#include <json-glib/json-glib.h>
#include <nice/agent.h>

#define PEER_MAX_STREAMS 128 /* a receiver of 100 audio streams in a benchmark */
#define PEER_MAX_EXTRA   4   /* extra video streams (add-source) */

#define PEER_HISTORY 512

typedef struct {
    guint16 seq;
    guint16 len; /* 0: empty */
    guint8 data[1400];
} PeerHistorySlot;

typedef struct {
    guint32 ssrc;
    PeerKind kind;
    gboolean removed; /* signalled away (source-remove, or absent from a new session) */
    char *owner;      /* ssrc-info owner when signalled over Jingle, or NULL */
    guint64 packets, bytes, unique, mismatches, out_of_order, retransmitted;
    gint64 highest; /* highest index seen, -1 before the first */
    guint8 seen[65536 / 8];
} PeerRxStream;

typedef struct _PeerXmpp PeerXmpp;

typedef struct {
    guint32 ssrc;
    char *name;
    guint64 sent;
} PeerExtraSource;

typedef struct {
    /* the current session (agent == NULL: none) */
    NiceAgent *agent;
    guint stream_id;
    gboolean ice_ready;
    guint gathered_idle;     /* XMPP mode: tells peer-xmpp.c the candidates are there */
    gboolean first_media;    /* a decrypted RTP packet arrived in this session */
    gboolean dtls_server;    /* signalled as setup='passive': the bridge is the DTLS client */
    gboolean ice_controlled; /* answering an offer from a full ICE agent (an SFU's SDP) */
    char *address;           /* the one local address ICE gathers on */
    BridgeDtlsIdentity *identity;
    BridgeDtls *dtls;
    BridgeSrtp *srtp_in, *srtp_out;
    GMainLoop *loop;
    /* what we send */
    guint32 audio_ssrc, video_ssrc, rtx_ssrc;
    int audio_level; /* RFC 6464 level (0..127 -dBov) audio carries; -1: none */
    guint64 sent_audio, sent_video, sent_rtx;
    PeerExtraSource extra[PEER_MAX_EXTRA]; /* more video streams, sent with the others */
    guint n_extra;
    guint send_timer, sr_timer;
    guint rtcp_interval_ms; /* between our RTCP reports while sending */
    gint64 send_start_us, send_until_us;
    double send_on_connect; /* > 0: send this many seconds whenever DTLS connects */
    /* what we expect and receive */
    PeerRxStream rx[PEER_MAX_STREAMS];
    guint n_rx;
    guint drop_every;
    guint64 video_rx, dropped_for_nack, nacks_sent;
    GHashTable *requested; /* (ssrc << 16 | seq) -> 1 */
    guint64 srs, rrs, srtp_errors, unexpected, malformed_rtcp;
    GHashTable *plis;   /* media ssrc -> count */
    GHashTable *nacked; /* media ssrc -> sequence numbers NACKed to this peer */
    /* --video-file: VP8 RTP payloads replayed on the video SSRC instead of synthetic ones */
    GBytes *video_file;
    guint8 video_file_pt; /* its payload type: VP8's in the session's offer (XMPP mode) */
    gsize video_off;
    guint64 sent_frames; /* file video: frames (marker packets) sent */
    /* File video: the last packets sent, in clear, by sequence number modulo the size, to
     * answer NACKs with (the same packet again, as a sender without RTX does). */
    PeerHistorySlot history[PEER_HISTORY];
    guint64 retransmitted; /* packets sent again for a NACK */
    guint32 video_ts_base, video_last_ts;
    /* --bench-rate: timestamped packets instead of the normal streams, and latencies */
    guint bench_rate;
    guint bench_size; /* payload bytes of a benchmark packet */
    guint64 sent_bench;
    guint64 bench_period_base; /* sent_bench when the current send period began */
    guint64 *latency_hist;     /* PEER_LATENCY_BUCKETS buckets of 10 us */
    /* XMPP mode, or NULL */
    PeerXmpp *xmpp;
} Peer;

#define PEER_LATENCY_BUCKETS 20000 /* up to 200 ms */

void peer_emit(const char *format, ...) G_GNUC_PRINTF(1, 2);
/* Prints `event` as one JSON line with "t_us" (the monotonic clock) added; consumes it. */
void peer_emit_object(JsonObject *event);
/* A new event object {"event": name}. */
JsonObject *peer_event_new(const char *name);
/* Appends `text` (UTF-8) as a quoted JSON string. */
void peer_json_append_string(GString *out, const char *text);
int peer_send_raw(Peer *peer, const guint8 *buf, gsize len);

/* peer.c: the session */
/* Creates the ICE agent (controlling unless ice_controlled, gathering host candidates on
 * `address`), and starts gathering. Returns FALSE (and emits nothing) if gathering cannot start. */
gboolean peer_session_new(Peer *peer);
/* The remote side: DTLS (client unless dtls_server) checking `fingerprint`, then ICE
 * credentials and candidates (NiceCandidate*, stream and component ids are filled in).
 * Returns FALSE if the fingerprint is malformed (nothing is set then). */
gboolean peer_session_set_remote(Peer *peer, const char *ufrag, const char *pwd,
                                 const char *fingerprint, GSList *candidates);
void peer_session_add_candidates(Peer *peer, GSList *candidates);
/* Stops sending, destroys the agent, DTLS and SRTP contexts. */
void peer_session_free(Peer *peer);
/* Our ICE credentials and host candidates (NiceCandidate*, free with
 * g_slist_free_full(l, nice_candidate_free)). */
GSList *peer_session_local_candidates(Peer *peer, char **ufrag, char **pwd);

/* peer.c: expected streams. Adds one (or, if its SSRC is known, marks it signalled again
 * and updates kind and owner); NULL when the table is full. */
PeerRxStream *peer_rx_expect(Peer *peer, guint32 ssrc, PeerKind kind, const char *owner);
PeerRxStream *peer_rx_find(Peer *peer, guint32 ssrc);

/* peer-media.c */
void peer_media_receive(Peer *peer, guint8 *buf, gsize len, gboolean rtcp);
void peer_media_start(Peer *peer, double seconds);
/* Ends a send period early (session teardown), with its "sent" event. */
void peer_media_stop(Peer *peer, const char *why);
void peer_media_send_pli(Peer *peer, guint32 media_ssrc);
void peer_media_send_nack(Peer *peer, guint32 media_ssrc, guint16 seq);
void peer_media_send_hostile(Peer *peer, const char *what, guint count);
void peer_media_report(Peer *peer);
/* Zeroes every receive counter (streams stay expected) and the latency histogram. */
void peer_media_reset_rx(Peer *peer);

/* peer-xmpp.c */
typedef struct {
    const char *jid, *password, *host;
    guint16 port;
    gboolean no_jingle, jingle_from_anyone, debug;
    gboolean keep_media; /* media goes on when the XMPP connection is lost */
} PeerXmppSettings;

PeerXmpp *peer_xmpp_new(Peer *peer, const PeerXmppSettings *settings);
/* Sends unavailable presence and closes the stream (waits at most a second). */
void peer_xmpp_free(PeerXmpp *xmpp);
/* Runs an XMPP-mode command; FALSE if `cmd` is not one. */
gboolean peer_xmpp_command(PeerXmpp *xmpp, const char *cmd, JsonObject *args);
/* The session's local candidates are gathered (from the main loop, never re-entrantly). */
void peer_xmpp_gathered(PeerXmpp *xmpp);
