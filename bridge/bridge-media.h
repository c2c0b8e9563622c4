/* The media plane's shared types: the settings every endpoint reads (from [media]), and
 * the conference and endpoint structures that endpoint.c, conference.c and router.c share.
 * A conference and all its endpoints are only ever touched on their worker's thread. */
#pragma once

#include "colibri2.h"
#include "dtls.h"
#include "recorder.h"
#include "speaker.h"
#include "srtp.h"
#include "stats.h"
#include "worker.h"

#include <nice/agent.h>
#include <sys/socket.h>

G_BEGIN_DECLS

typedef struct {
    char **addresses; /* local IPs to gather on; empty: every address libnice finds */
    guint port_min, port_max;
    char *public_address; /* advertised beside host candidates (1:1 NAT); NULL if none */
    gboolean ice_lite;
    guint media_timeout_s;   /* expire a connected endpoint after this long without media */
    guint connect_timeout_s; /* expire an endpoint that never connects */
    guint empty_grace_s;     /* remove a conference without endpoints after this long */
    guint pli_interval_ms;   /* at most one PLI per sender in this interval */
    BridgeDtlsIdentity *identity;
    BridgeStats *stats;
} BridgeMediaConfig;

#define BRIDGE_MAX_SSRCS 32 /* per endpoint */
/* Unsignalled SSRCs an endpoint may send RTCP from (each costs a libsrtp stream). */
#define BRIDGE_MAX_RTCP_ONLY_SSRCS 4
/* Retransmissions answered per NACK packet, and per endpoint per second: a NACK is a few
 * bytes, each answer up to a full packet, so the bridge bounds what one receiver can ask. */
#define BRIDGE_NACK_PER_PACKET 64
#define BRIDGE_NACK_PER_SECOND 1000
#define BRIDGE_RTX_SLOTS       256 /* retransmission buffer entries per endpoint */
/* Sequence numbers the bridge never got are asked of their sender once per hold time,
 * however many receivers NACK them (a lossy uplink would otherwise cost every receiver). */
#define BRIDGE_NACK_ASKED_SLOTS   64
#define BRIDGE_NACK_ASKED_HOLD_US (100 * 1000)

typedef struct {
    guint32 ssrc;
    guint16 seq;
    gint64 at_us; /* 0: free */
} BridgeNackAsked;

typedef struct _BridgeConference BridgeConference;
typedef struct _BridgeEndpoint BridgeEndpoint;

typedef struct {
    guint32 ssrc;
    guint16 seq;
    guint16 len; /* 0: empty */
    guint8 data[BRIDGE_MAX_PACKET];
} BridgeRtxSlot;

#define BRIDGE_EARLY_DTLS 4

typedef enum {
    BRIDGE_EXPIRE_NONE,
    BRIDGE_EXPIRE_SIGNALLED,
    BRIDGE_EXPIRE_ICE,
    BRIDGE_EXPIRE_DTLS,
    BRIDGE_EXPIRE_MEDIA,
} BridgeExpireReason;

struct _BridgeEndpoint {
    char *id;
    /* The participant's occupant id (Colibri2 occupant-id), the owner of its streams in a
     * recording; NULL if not given. Never logged. */
    char *occupant_id;
    BridgeConference *conference;
    const BridgeMediaConfig *config;
    NiceAgent *agent;
    guint stream_id;
    gboolean ice_connected;
    gboolean dtls_client;
    gboolean remote_set;
    char *remote_ufrag; /* a later transport with this ufrag only adds candidates */
    /* The payload types its client accepted; packets in others are not forwarded to it.
     * Until the focus says (Colibri2 <media>), everything is. */
    gboolean pt_filter;
    CcColibri2PayloadTypes accepted_pts;
    /* The RFC 6464 audio level extension's id in its audio (Colibri2), 0: none; and the
     * levels read from it, for the conference's dominant speaker election. */
    guint8 audio_level_ext;
    BridgeSpeakerLevel speaker;
    BridgeDtls *dtls;
    /* DTLS records that arrived before the focus gave us the client's transport, or before
     * our side of ICE could answer (the client's ICE checks and ClientHello can beat both):
     * replayed once DTLS exists and ICE is connected, instead of losing the answer and
     * waiting a second for the client's retransmission. At most BRIDGE_EARLY_DTLS. */
    GPtrArray *early_dtls; /* GBytes* */
    BridgeSrtp *srtp_in;
    BridgeSrtp *srtp_out; /* non-NULL: ready to receive media */
    BridgeExpireReason expire;
    guint32 rtcp_ssrc; /* the SSRC the bridge's own RTCP to this endpoint carries */
    guint32 ssrcs[BRIDGE_MAX_SSRCS];
    gboolean ssrc_video[BRIDGE_MAX_SSRCS];
    guint n_ssrcs;
    gint64 created_us, last_media_us, last_pli_us;
    /* RTCP sender SSRCs this endpoint may use without having signalled them (receive-only
     * clients): libsrtp keeps a stream per SSRC, so their number is capped. */
    guint32 rtcp_only_ssrcs[BRIDGE_MAX_RTCP_ONLY_SSRCS];
    guint n_rtcp_only_ssrcs;
    /* Retransmissions answered in the current one-second window (NACK budget). */
    gint64 nack_window_us;
    guint nack_window_count;
    BridgeRtxSlot *rtx; /* BRIDGE_RTX_SLOTS entries */
    /* As a sender: what the bridge recently asked it to retransmit (router.c). */
    BridgeNackAsked nack_asked[BRIDGE_NACK_ASKED_SLOTS];
    /* The selected pair's UDP socket and remote address: media goes out with one sendto()
     * instead of through libnice's send path, and is read in batches beside libnice by
     * direct_source (recv-batch.h). -1 and NULL until a host/UDP pair is selected. */
    GSocket *direct_socket;
    GSource *direct_source;
    int direct_fd;
    struct sockaddr_storage direct_addr;
    socklen_t direct_len;
    /* Its streams in the conference's recording (recorder.h). */
    BridgeRecStreams rec_streams;
};

/* Told (on the conference's worker) when the bridge expires an endpoint on its own: ICE or
 * DTLS failed, or media stopped. `reason` is ice_failed, dtls_failed or media_timeout. */
typedef void (*BridgeEndpointLost)(BridgeConference *conference, const char *endpoint,
                                   const char *reason, gpointer data);
/* Told (on the conference's worker) when the conference elects a new dominant speaker. */
typedef void (*BridgeSpeakerChanged)(BridgeConference *conference, const char *endpoint,
                                     gpointer data);
/* Told (on the conference's worker) once the conference has had no endpoint for
 * [media] empty_conference_grace: its owner is gone or lost track of it. */
typedef void (*BridgeConferenceEmpty)(BridgeConference *conference, gpointer data);

struct _BridgeConference {
    char *meeting_id;
    char *owner; /* the JID that created it: the one told of endpoints lost */
    BridgeEndpointLost lost;
    gpointer lost_data;
    BridgeSpeakerChanged speaker_changed;
    gpointer speaker_data;
    BridgeConferenceEmpty empty;
    gpointer empty_data;
    gint64 empty_since_us; /* when it last became empty; 0 while it has endpoints */
    gboolean empty_told;   /* `empty` was called for the current empty spell */
    BridgeSpeakerElection election;
    BridgeWorker *worker;
    const BridgeMediaConfig *config;
    GHashTable *endpoints;  /* id -> BridgeEndpoint* (owned) */
    GPtrArray *list;        /* the same endpoints, for the forwarding loop */
    GHashTable *ssrc_owner; /* ssrc -> BridgeEndpoint*, rebuilt when sources change */
    GSource *timer;
    /* The running recording, fed by the router; attached and detached on the worker by the
     * Colibri2 server and recordings.c, which own it. NULL: not recording. */
    BridgeRecorder *recorder;
};

/* endpoint.c: runs on the conference's worker. */
BridgeEndpoint *bridge_endpoint_new(BridgeConference *conference, const char *id, GError **error);
void bridge_endpoint_free(BridgeEndpoint *endpoint);
/* Fills ufrag, pwd, candidates and our fingerprint. */
void bridge_endpoint_local_transport(BridgeEndpoint *endpoint, CcIceUdpTransport *out);
/* A transport for an endpoint whose transport is set, with the same ufrag: trickled
 * candidates, which bridge_endpoint_add_remote_candidates() adds. */
gboolean bridge_endpoint_is_trickle(const BridgeEndpoint *endpoint,
                                    const CcIceUdpTransport *remote);
void bridge_endpoint_add_remote_candidates(BridgeEndpoint *endpoint,
                                           const CcIceUdpTransport *remote);
/* The client's transport in two steps, so that a Colibri2 request can be refused whole:
 * prepare (may fail; changes nothing, the DTLS it returns is the caller's until committed)
 * and commit (cannot fail; takes the DTLS). */
BridgeDtls *bridge_endpoint_prepare_remote(BridgeEndpoint *endpoint,
                                           const CcIceUdpTransport *remote, GError **error);
void bridge_endpoint_commit_remote(BridgeEndpoint *endpoint, const CcIceUdpTransport *remote,
                                   BridgeDtls *dtls);
/* Replaces the endpoint's signalled SSRCs. Returns FALSE if there are too many. */
gboolean bridge_endpoint_set_sources(BridgeEndpoint *endpoint, GPtrArray *sources);
/* Drives DTLS retransmissions and decides expiry; returns the reason to expire, if any. */
BridgeExpireReason bridge_endpoint_tick(BridgeEndpoint *endpoint, gint64 now_us);
/* Sends one datagram now (DTLS, and everything on a relayed or libnice-sent pair). */
int bridge_endpoint_send(BridgeEndpoint *endpoint, const guint8 *buf, gsize len);
/* The batched path for SRTP/SRTCP (worker.h): a buffer to build the packet in (protect it in
 * place), then hand it over; it leaves when the worker's loop iteration ends, or at once
 * when the endpoint has no direct socket. `forwarded`: an RTP copy (rtp_forwarded). */
guint8 *bridge_endpoint_send_buffer(BridgeEndpoint *endpoint);
void bridge_endpoint_send_buffered(BridgeEndpoint *endpoint, guint8 *buf, gsize len,
                                   gboolean forwarded);

/* router.c: the per-packet path. `buf` is the received datagram, decrypted in place. */
void bridge_router_rtp(BridgeEndpoint *from, guint8 *buf, gsize len);
void bridge_router_rtcp(BridgeEndpoint *from, guint8 *buf, gsize len);
/* Looks up a stored packet; NULL if it is not (or no longer) there. */
const BridgeRtxSlot *bridge_rtx_lookup(const BridgeEndpoint *endpoint, guint32 ssrc, guint16 seq);

/* conference.c: created and freed on the control thread, everything else on its worker. */
BridgeConference *bridge_conference_new(const char *meeting_id, BridgeWorker *worker,
                                        const BridgeMediaConfig *config);
/* On the worker: starts the timer that drives the conference (idempotent). */
void bridge_conference_start(BridgeConference *conference);
/* On the worker: TRUE while it has no endpoint and `empty` was told so. */
gboolean bridge_conference_expirable(BridgeConference *conference);
/* Must run on the worker: expires every endpoint and stops the timer. */
void bridge_conference_shutdown(BridgeConference *conference);
void bridge_conference_free(BridgeConference *conference);
BridgeEndpoint *bridge_conference_endpoint(BridgeConference *conference, const char *id);
void bridge_conference_add_endpoint(BridgeConference *conference, BridgeEndpoint *endpoint);
void bridge_conference_remove_endpoint(BridgeConference *conference, BridgeEndpoint *endpoint,
                                       BridgeExpireReason reason);
void bridge_conference_rebuild_ssrcs(BridgeConference *conference);

G_END_DECLS
