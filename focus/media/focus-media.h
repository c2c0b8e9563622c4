/* Types shared by the files behind conference.h. Ownership: a FocusRoom owns its
 * FocusConference (room->media), a conference owns its participants, a participant owns its
 * sources and the record of what it was told. Replies to our IQs find their conference
 * again by serial number (a room may be gone, or recreated under the same name, by the time
 * a bridge or client answers). */
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
};

typedef struct {
    CcMetric *sessions, *participants, *reinvites, *moves, *jingle_in, *colibri_errors, *text_only,
        *restarts, *candidates_skipped;
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

/* conference.c */
FocusConference *focus_conference_of(FocusMedia *media, FocusRoom *room);
/* What capabilities.c learned: `p` wants media (it waits for a session) or not. */
void focus_media_capable(FocusParticipant *p, gboolean wants_media);
/* Asks the bridge for endpoints for every participant waiting (placing the conference
 * first if needed). */
void focus_conference_pump(FocusConference *conf);
/* Sends a Colibri2 update of `p`'s endpoint: its transport (or trickled candidates) when
 * `transport` is not NULL, and its sources when `with_sources`. */
void focus_conference_update_endpoint(FocusConference *conf, FocusParticipant *p,
                                      const CcIceUdpTransport *transport, gboolean with_sources);
/* Frees `p`'s endpoint on the bridge (answer ignored). */
void focus_conference_expire_endpoint(FocusConference *conf, const char *endpoint);
/* Gives `p` a fresh session on the conference's bridge after its transport failed (the
 * client said so, or the bridge lost the endpoint): session-terminate with `reason` to the
 * client when not NULL, then a new session-initiate. At most FOCUS_RESTARTS_PER_MINUTE;
 * beyond that it is left without media. */
#define FOCUS_RESTARTS_PER_MINUTE 3
void focus_conference_restart(FocusConference *conf, FocusParticipant *p, const char *reason);
/* Moves the conference off its bridge: every session ends and starts again elsewhere. */
void focus_conference_move(FocusConference *conf, const char *why);
/* After a session ended: syncs sources, and ends the conference on its bridge when no
 * participant has an endpoint there any more. */
void focus_conference_settle(FocusConference *conf);
/* Tells every active participant about the sources it does not know yet, and takes back
 * those that are gone. */
void focus_conference_sync_sources(FocusConference *conf);
/* The room's occupant JID of `p` (room@service/nick), for ssrc-info owner. */
char *focus_conference_owner(FocusConference *conf, FocusParticipant *p);
char *focus_conference_focus_jid(FocusConference *conf);
void focus_conference_send(FocusConference *conf, xmpp_stanza_t *stanza);

/* participant.c */
FocusParticipant *focus_participant_new(FocusConference *conf, FocusOccupant *occ);
void focus_participant_free(FocusParticipant *p);
/* Starts a new session (fresh endpoint id and sid), from PART_WAITING. */
void focus_participant_renew(FocusParticipant *p);
/* Sends session-initiate with the bridge's transport and the sources of everyone else. */
void focus_participant_initiate(FocusParticipant *p, const CcIceUdpTransport *bridge);
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

/* jingle-handler.c */
void focus_jingle_install(FocusMedia *media);
/* An IQ set carrying `jingle` from room/focus to `p`; answers are checked. */
void focus_jingle_send(FocusParticipant *p, CcJingle *jingle);

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

/* focus-occupant.c */
/* Shows `p` the focus occupant, once, before its first session-initiate. */
void focus_occupant_show(FocusParticipant *p);
/* Sends the focus's presence again to those shown it when the properties changed. */
void focus_occupant_update(FocusConference *conf);

/* p2p.c */
/* The MUC's iq_routed hook: pairs and unpairs participants by the Jingle they route. */
void focus_p2p_on_routed(FocusRoom *room, FocusOccupant *from, FocusOccupant *to, xmpp_stanza_t *iq,
                         gpointer data);
/* Ends `p`'s pair, if any (it leaves). */
void focus_p2p_forget(FocusParticipant *p);
/* TRUE when `p` must not be told yet that `told` (no longer on the bridge) is gone: it
 * belongs to p's peer-to-peer partner. */
gboolean focus_p2p_holds_removal(FocusParticipant *p, const FocusToldSource *told);

/* capabilities.c */
/* Decides whether `p` wants media (from its caps if known, else by disco#info), then
 * calls focus_media_capable(). */
void focus_capabilities_query(FocusParticipant *p, xmpp_stanza_t *presence);
/* The XEP-0115 verification string of a disco#info <query>; NULL if it has none. */
char *focus_capabilities_ver(xmpp_stanza_t *query);

G_END_DECLS
