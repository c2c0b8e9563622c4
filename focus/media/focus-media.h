/* Types shared by the files behind conference.h. Ownership: a FocusRoom owns its
 * FocusConference (room->media), a conference owns its participants, a participant owns its
 * sources and the record of what it was told. Replies to our IQs find their conference
 * again by serial number (a room may be gone, or recreated under the same name, by the time
 * a bridge or client answers).
 *
 * Calls between the files go one way, down this list (a file calls only those below it);
 * an answer that matters higher up comes back through a callback the caller passed:
 *   media-service.c   FocusMedia, the MUC's hooks, wiring          (the top)
 *   jingle-handler.c  Jingle from clients
 *   conference.c      placement on bridges, failover              (owns its participants)
 *   recording.c       the Jibri IQ, a conference's recording on its bridge
 *   capabilities.c    does an occupant want media? (answers through FocusCapable)
 *   participant.c     one session (a refused offer is told through FocusJingleRefused)
 *   focus-occupant.c, p2p.c
 *   jingle-send.c, colibri-client.c, offer.c
 *   media-base.c      requests in flight, a conference's addresses (the bottom) */
#pragma once

#include "colibri2.h"
#include "conference.h"
#include "jingle.h"

G_BEGIN_DECLS

typedef enum {
    PART_DISCOVERING, /* asking the client whether it wants media */
    PART_TEXT_ONLY,   /* no Jingle RTP, or declined the session */
    PART_WAITING,     /* wants media; no endpoint asked for yet (no bridge, or one pending) */
    PART_ALLOCATING,  /* endpoint asked of the bridge */
    PART_INITIATED,   /* session-initiate sent, no session-accept yet */
    PART_ACTIVE,      /* accepted; its sources are on the bridge and announced */
} FocusPartState;

typedef struct _FocusConference FocusConference;

typedef struct _FocusParticipant {
    FocusConference *conf;
    FocusOccupant *occ; /* borrowed from the room */
    char *jid;          /* real full JID: the Jingle peer */
    char *endpoint;     /* Colibri2 endpoint id, fresh for every session */
    char *sid;          /* Jingle sid, fresh for every session */
    FocusPartState state;
    GPtrArray *sources; /* CcColibri2Source*: what it announced */
    /* The <parameter>s (msid, cname...) it gave each of those SSRCs, relayed whole to the
     * others: GUINT_TO_POINTER(ssrc) -> GPtrArray of CcJingleParameter*. */
    GHashTable *source_params;
    char *remote_ufrag; /* its ICE ufrag, from session-accept */
    /* The payload types its session-accept kept, which the bridge forwards to it (none
     * listed: the bridge forwards everything). */
    gboolean has_payload_types;
    CcColibri2PayloadTypes audio_pts, video_pts;
    guint8 audio_level_ext;      /* the RFC 6464 extension's id its answer kept; 0: none */
    gint64 restart_window_us;    /* start of the current minute of restarts */
    guint restarts;              /* restarts in that minute */
    CcIceUdpTransport *trickled; /* candidates trickled before session-accept */
    GHashTable *told;            /* "endpoint/source" -> FocusToldSource*: what it was told */
    gboolean focus_shown;        /* it was sent the focus occupant's presence */
    /* The participant it has a peer-to-peer session with (p2p.c), or NULL. */
    struct _FocusParticipant *p2p_peer;
} FocusParticipant;

/* A conference's recording (recording.c): at most one at a time, on the conference's
 * bridge; it never moves to another bridge. */
typedef enum {
    FOCUS_REC_OFF,      /* none runs (`id`, if set, is the last one, which ended) */
    FOCUS_REC_STARTING, /* `next_id` asked of the bridge; `pending` waits for its answer */
    FOCUS_REC_ON,       /* `id` runs */
    FOCUS_REC_STOPPING, /* stopping `id` asked of the bridge; `pending` waits */
} FocusRecState;

typedef struct {
    FocusRecState state;
    /* The running or last recording: its Colibri2 id, which Jitsi clients know as the
     * session_id. Jitsi clients are shown its status (focus-occupant.c): on while ON or
     * STOPPING, off otherwise; NULL: nothing to show. */
    char *id;
    char *next_id;          /* while STARTING */
    char *initiator;        /* occupant-id of the moderator who started `id` */
    char *terminator;       /* occupant-id of the moderator who stopped `id`; NULL: it ended */
    gboolean failed;        /* `id` ended on its own (failure, failover): failure_reason='error' */
    gboolean damage_told;   /* the moderators were told that `id` lost media */
    gint64 started_us;      /* wall clock when the bridge started `id` */
    xmpp_stanza_t *pending; /* the client's start or stop request waiting for the bridge */
    char *requester;        /* occupant-id of its sender */
} FocusRecording;

typedef struct {
    char *owner; /* room@service/nick of the participant that sends it */
    CcColibri2Source *source;
    FocusParticipant *from; /* only in a table of focus_conference_active_sources() */
} FocusToldSource;

struct _FocusConference {
    FocusMedia *media;
    FocusRoom *room;
    guint64 serial;
    char *bridge;     /* NULL: not placed */
    guint generation; /* bumped when moved to another bridge: older answers are stale */
    gboolean created; /* the bridge answered our create */
    gboolean creating;
    GPtrArray *participants; /* FocusParticipant*, owned */
    GHashTable *by_jid;      /* real full JID -> FocusParticipant* */
    gint shown_bridge_count; /* the bridge-count last shown (focus-occupant.c); -1: none */
    FocusRecording recording;
};

typedef struct {
    CcMetric *sessions, *participants, *reinvites, *moves, *jingle_in, *colibri_errors, *text_only,
        *restarts, *candidates_skipped, *recordings, *recordings_failed, *recreated;
    GHashTable *jingle_errors; /* condition -> CcMetric* */
} FocusMediaMetrics;

struct _FocusMedia {
    CcXmppComponent *xmpp;
    FocusMuc *muc;
    FocusBridges *bridges;
    FocusMediaSettings settings;
    GHashTable *conferences; /* serial -> FocusConference* (owned by their rooms) */
    guint64 next_serial;
    GHashTable *caps;     /* "node#ver" -> GINT_TO_POINTER(1 + wants media) */
    GHashTable *requests; /* FocusRequest* in flight, freed at teardown if unanswered */
    FocusMediaMetrics metrics;
};

/* media-base.c */
/* The context of an IQ we sent; `jid` names the participant it concerns (or NULL). */
typedef struct {
    FocusMedia *media;
    guint64 serial;
    guint generation;
    char *jid;
    char *bridge;
    gpointer payload; /* whatever else the answer needs, freed with the request */
    GDestroyNotify payload_free;
} FocusRequest;

/* A request about `conf` (NULL for none) and the participant `jid` (may be NULL). */
FocusRequest *focus_request_new(FocusMedia *media, FocusConference *conf, const char *jid);
/* The request's conference if it still exists and has not moved since; NULL when the
 * answer is stale. */
FocusConference *focus_request_conference(FocusRequest *request);
/* Frees an answered request (unanswered ones are freed with the FocusMedia). */
void focus_request_free(FocusRequest *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FocusRequest, focus_request_free)
/* The destroy function of media->requests: what focus_request_free() ends in. */
void focus_request_destroy(FocusRequest *request);
/* Every conference now (a copy: the caller may end some while going through it). */
GPtrArray *focus_media_conferences(FocusMedia *media);
/* The room's occupant JID of `p` (room@service/nick), for ssrc-info owner. */
char *focus_conference_owner(FocusConference *conf, FocusParticipant *p);
char *focus_conference_focus_jid(FocusConference *conf);
void focus_conference_send(FocusConference *conf, xmpp_stanza_t *stanza);
/* An IQ of `type` from the room's focus occupant to `p`'s client; the caller adds the
 * payload, then sends it with focus_participant_iq_send(). */
xmpp_stanza_t *focus_participant_iq_new(FocusParticipant *p, const char *type);
/* Sends `iq` to `p`'s client, waiting [focus] client_timeout_ms for the answer; `callback`
 * gets a FocusRequest about `p` that carries `payload` (freed with it). Releases `iq`. */
void focus_participant_iq_send(FocusParticipant *p, xmpp_stanza_t *iq, gpointer payload,
                               GDestroyNotify payload_free, CcIqCallback callback);

/* offer.c */
/* The id the offer gives the RFC 6464 audio level header extension (the bridge reads it to
 * find the dominant speaker). */
#define FOCUS_AUDIO_LEVEL_EXT 1
/* Adds the audio and video contents of the focus's offer (codecs, rtcp-fb, header
 * extensions, rtcp-mux, the bridge's transport) to a session-initiate. */
void focus_offer_write(CcJingle *jingle, const CcIceUdpTransport *bridge);
/* Adds `source` (owned by `owner`) to the content of its media type, creating it, each SSRC
 * with the parameters `params` (a participant's source_params; NULL for none) hold. */
void focus_offer_add_source(CcJingle *jingle, const CcColibri2Source *source, const char *owner,
                            GHashTable *params);
/* Records in `params` the parameters of every source in `jingle`, replacing earlier ones of
 * the same SSRC. */
void focus_offer_keep_params(GHashTable *params, const CcJingle *jingle);
/* Forgets the parameters of SSRCs no longer in `sources`. */
void focus_offer_prune_params(GHashTable *params, GPtrArray *sources);
GHashTable *focus_offer_params_new(void);
/* Turns the sources a client announced into Colibri2 media-sources named for `endpoint`
 * when they have no acceptable name. FALSE (with `error`) if malformed or over limits. */
GPtrArray *focus_offer_sources_from_jingle(const CcJingle *jingle, const char *endpoint,
                                           GError **error);
guint focus_offer_count_ssrcs(GPtrArray *sources);
gboolean focus_offer_has_ssrc(GPtrArray *sources, guint32 ssrc);

/* colibri-client.c */
/* A conference-modify for the conference's meeting, named by the room's tag. */
CcColibri2Modify *focus_colibri_modify_new(FocusConference *conf);
/* Sends `m` to the conference's bridge; `callback` gets the answer and `request`. */
void focus_colibri_send(FocusConference *conf, CcColibri2Modify *m, CcIqCallback callback,
                        FocusRequest *request);
/* The jitsi:colibri2 reason of an error answer, or NULL. */
const char *focus_colibri_reason(xmpp_stanza_t *reply);
/* TRUE when a failed answer says the bridge, not our request, is the problem. */
gboolean focus_colibri_bridge_at_fault(xmpp_stanza_t *reply, const GError *error);
/* TRUE when the answer is `conference_not_found`: the bridge expired the conference (empty
 * for its grace period) or lost it. Not the bridge's fault: the conference is re-created. */
gboolean focus_colibri_conference_gone(xmpp_stanza_t *reply);
/* Frees `endpoint` on the conference's bridge, if it has one (answer ignored). */
void focus_colibri_expire_endpoint(FocusConference *conf, const char *endpoint);
/* Ends the conference on its bridge (answer ignored). */
void focus_colibri_expire_conference(FocusConference *conf);

/* jingle-send.c */
/* Told when `p` (still in the conference it was in) refused, or did not answer, a Jingle IQ
 * of session `sid`. */
typedef void (*FocusJingleRefused)(FocusParticipant *p, const char *sid, gpointer data);
/* An IQ set carrying `jingle` from room/focus to `p`; a refusal is logged, and told to
 * `refused` when not NULL. */
void focus_jingle_send(FocusParticipant *p, CcJingle *jingle, FocusJingleRefused refused,
                       gpointer data);

/* p2p.c */
/* The MUC's iq_routed hook: pairs and unpairs participants by the Jingle they route. */
void focus_p2p_on_routed(FocusRoom *room, FocusOccupant *from, FocusOccupant *to, xmpp_stanza_t *iq,
                         gpointer data);
/* Ends `p`'s pair, if any (it leaves). */
void focus_p2p_forget(FocusParticipant *p);
/* TRUE when `p` must not be told yet that `told` (no longer on the bridge) is gone: it
 * belongs to p's peer-to-peer partner. */
gboolean focus_p2p_holds_removal(FocusParticipant *p, const FocusToldSource *told);

/* focus-occupant.c */
/* The Jibri protocol of Jitsi clients (schemas/jibri.md). */
#define NS_JIBRI "http://jitsi.org/protocol/jibri"
/* Shows `p` the focus occupant, once, before its first session-initiate. */
void focus_occupant_show(FocusParticipant *p);
/* Sends the focus's presence again to those shown it when the properties changed. */
void focus_occupant_update(FocusConference *conf);
/* Sends the focus's presence again to those shown it (the recording's status changed). */
void focus_occupant_refresh(FocusConference *conf);

/* participant.c */
FocusParticipant *focus_participant_new(FocusConference *conf, FocusOccupant *occ);
void focus_participant_free(FocusParticipant *p);
/* Starts a new session (fresh endpoint id and sid), from PART_WAITING. */
void focus_participant_renew(FocusParticipant *p);
/* Sends session-initiate with the bridge's transport and the sources of everyone else;
 * `refused` is told if the client refuses it or does not answer. */
void focus_participant_initiate(FocusParticipant *p, const CcIceUdpTransport *bridge,
                                FocusJingleRefused refused, gpointer data);
/* Ends `p`'s session: session-terminate with `reason` (a XEP-0166 condition; NULL sends
 * nothing) if one was initiated, its endpoint expired on the bridge when `expire`, its
 * sources forgotten (others are told at the next sync). The state is the caller's to set. */
void focus_participant_end_session(FocusParticipant *p, const char *reason, const char *text,
                                   gboolean expire);
/* The sources of every participant with an accepted session, keyed like p->told: built
 * once per change, then each participant is compared with it. */
GHashTable *focus_conference_active_sources(FocusConference *conf);
/* Sends `p` the source-remove and source-add that make what it was told equal to the
 * sources in `active` that are not its own. */
void focus_participant_sync(FocusParticipant *p, GHashTable *active);
void focus_participant_set_state(FocusParticipant *p, FocusPartState state);

/* capabilities.c */
/* The answer to focus_capabilities_query(): `p` wants media or not. */
typedef void (*FocusCapable)(FocusParticipant *p, gboolean wants_media, gpointer data);
/* Decides whether `p` wants media (from its caps if known, else by disco#info), then
 * calls `done` (not at all if `p` left or its conference moved meanwhile). */
void focus_capabilities_query(FocusParticipant *p, xmpp_stanza_t *presence, FocusCapable done,
                              gpointer data);
/* The XEP-0115 verification string of a disco#info <query>; NULL if it has none. */
char *focus_capabilities_ver(xmpp_stanza_t *query);

/* recording.c */
/* Registers the handler of Jibri IQs clients send to room@service/focus. */
void focus_recording_install(FocusMedia *media);
/* Why a recording ended without a moderator's stop. */
typedef enum {
    FOCUS_REC_END_BRIDGE_FAILED, /* the conference leaves its failed bridge */
    FOCUS_REC_END_CONFERENCE,    /* the conference ends on its bridge (nobody sends media) */
} FocusRecEnd;
/* The conference's recording, if any, is over (its bridge conference ends or is left):
 * everyone is told and a request waiting for the bridge is answered. */
void focus_recording_end(FocusConference *conf, FocusRecEnd why);
/* Frees the recording's state (the conference is freed); sends nothing. */
void focus_recording_clear(FocusConference *conf);
/* The MUC's service_message hook, after conference.c's (`data`: the FocusMedia): a bridge
 * reports a recording damaged or failed; believed only from the conference's bridge. */
gboolean focus_recording_on_bridge_message(xmpp_stanza_t *message, gpointer data);

/* conference.c */
FocusConference *focus_conference_of(FocusMedia *media, FocusRoom *room);
/* Frees the conference and its participants; sends nothing. */
void focus_conference_free(FocusConference *conf);
/* A new participant (PART_DISCOVERING) for the occupant `occ`, owned by `conf`. */
FocusParticipant *focus_conference_add(FocusConference *conf, FocusOccupant *occ);
/* `p` leaves: its session ends (session-terminate with `reason` unless NULL), it is freed,
 * and the rest settle. */
void focus_conference_remove(FocusConference *conf, FocusParticipant *p, const char *reason);
/* Asks the bridge for endpoints for every participant waiting (placing the conference
 * first if needed). */
void focus_conference_pump(FocusConference *conf);
/* Sends a Colibri2 update of `p`'s endpoint: its transport (or trickled candidates) when
 * `transport` is not NULL, and its sources when `with_sources`. */
void focus_conference_update_endpoint(FocusConference *conf, FocusParticipant *p,
                                      const CcIceUdpTransport *transport, gboolean with_sources);
/* Gives `p` a fresh session on the conference's bridge after its transport failed (the
 * client said so, or the bridge lost the endpoint): session-terminate with `reason` to the
 * client when not NULL, then a new session-initiate. At most FOCUS_RESTARTS_PER_MINUTE;
 * beyond that it is left without media. */
#define FOCUS_RESTARTS_PER_MINUTE 3
void focus_conference_restart(FocusConference *conf, FocusParticipant *p, const char *reason);
/* Moves the conference off its bridge: every session ends and starts again elsewhere. */
void focus_conference_move(FocusConference *conf, const char *why);
/* The bridge no longer has the conference (it expired it, or lost it): forgotten there
 * without blaming the bridge, and everyone who wants media gets a new session, wherever the
 * conference is placed next (possibly the same bridge). */
void focus_conference_recreate(FocusConference *conf, const char *why);
/* Ends the conference on its bridge, if placed; answers to earlier requests become stale. */
void focus_conference_release(FocusConference *conf);
/* After a session ended: syncs sources, and ends the conference on its bridge when no
 * participant has an endpoint there any more. */
void focus_conference_settle(FocusConference *conf);
/* Tells every active participant about the sources it does not know yet, and takes back
 * those that are gone. */
void focus_conference_sync_sources(FocusConference *conf);
/* The MUC's service_message hook (`data`: the FocusMedia): a bridge says it expired an
 * endpoint on its own; that participant gets a new session. */
gboolean focus_conference_on_bridge_message(xmpp_stanza_t *message, gpointer data);
/* The bridge pool's listener (`data`: the FocusMedia): conferences leave a failed bridge,
 * and those waiting are placed when one becomes usable. */
void focus_conference_on_bridge_change(const char *jid, gboolean usable, gboolean failed,
                                       gpointer data);

/* jingle-handler.c */
/* Registers the handler of Jingle IQs clients send to room@service/focus. */
void focus_jingle_install(FocusMedia *media);

G_END_DECLS
