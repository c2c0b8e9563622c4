/* The Multi-User Chat service (XEP-0045) inside conclave-focus: types shared by the files
 * that implement it. The service owns rooms; a room owns its occupants, affiliations and
 * configuration. Rooms live only in memory and die with their last occupant.
 *
 *   muc-service.c   the service: creation, handler registration, metrics (the top)
 *   muc-rooms.c     the table of rooms: find, create, destroy
 *   muc-reply.c     sending, error replies, the table of refusals
 *   muc-disco.c     disco#info / #items on the service and rooms, the Jitsi conference IQ
 *   muc-iq-route.c  IQs between occupants (private IQs: Jingle between clients, vCards...)
 *   room.c          a room's data: occupants, affiliations, roles, occupant-ids, presences
 *   muc-presence.c  join, presence updates, nick changes, leaving
 *   muc-message.c   groupchat, private messages, subject changes
 *   muc-admin.c     muc#admin: roles, affiliations, lists
 *   muc-owner.c     muc#owner: configuration form, destroy
 *   muc-notice.c    what the room tells its occupants itself: recording (170/171), notices
 *   muc-token.c     JSON Web Tokens: verification, what one grants, expiry during a meeting
 *   policy.c        who may create or join (by domain), password lockout, stanza rate limit
 *   muc-join-policy.c  with a database: joins wait for the store's lookup, reserved rooms,
 *                   roles, Argon2id password checks off the main loop
 *   muc-audit.c     the audit rows the MUC writes through the store
 */
#pragma once

#include "cc-autoptr.h"
#include "crypto.h"
#include "jid.h"
#include "jwt.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "stanza.h"
#include "store.h"
#include "xmpp.h"

G_BEGIN_DECLS

#define NS_MUC           "http://jabber.org/protocol/muc"
#define NS_MUC_USER      "http://jabber.org/protocol/muc#user"
#define NS_MUC_ADMIN     "http://jabber.org/protocol/muc#admin"
#define NS_MUC_OWNER     "http://jabber.org/protocol/muc#owner"
#define NS_OCCUPANT_ID   "urn:xmpp:occupant-id:0"
#define NS_DATA          "jabber:x:data"
#define NS_JITSI_FOCUS   "http://jitsi.org/protocol/focus"
#define NS_SELF_PING_OPT "http://jabber.org/protocol/muc#self-ping-optimization"
#define NS_STABLE_ID     "http://jabber.org/protocol/muc#stable_id"
#define NS_CONCLAVE_JWT  "urn:conclave:jwt:0" /* a join's access token (schemas/jwt.md) */

/* The nickname of the focus inside every room (Jingle comes from room@service/focus); no
 * occupant may take it. */
#define FOCUS_NICK "focus"

typedef enum {
    FOCUS_ROLE_NONE,
    FOCUS_ROLE_VISITOR,
    FOCUS_ROLE_PARTICIPANT,
    FOCUS_ROLE_MODERATOR,
} FocusRole;

/* Ordered: a higher affiliation outranks a lower one. */
typedef enum {
    FOCUS_AFF_OUTCAST,
    FOCUS_AFF_NONE,
    FOCUS_AFF_MEMBER,
    FOCUS_AFF_ADMIN,
    FOCUS_AFF_OWNER,
} FocusAffiliation;

const char *focus_role_name(FocusRole role);
gboolean focus_role_parse(const char *name, FocusRole *role);
const char *focus_affiliation_name(FocusAffiliation aff);
gboolean focus_affiliation_parse(const char *name, FocusAffiliation *aff);

typedef struct {
    char *nick;
    CcJid *jid;     /* real full JID */
    char *jid_text; /* its string form, key of occupants_by_jid */
    char *bare_key; /* case-folded bare JID, key of affiliations */
    FocusRole role;
    char *occupant_id;       /* XEP-0421: HMAC of the bare JID under the room's key */
    xmpp_stanza_t *presence; /* last available presence as sent (show, status, extensions) */
    guint token_timer;       /* the expiry of the token it joined with (muc-token.c), or 0 */
} FocusOccupant;

typedef struct {
    char *name; /* room name (localpart as first joined) */
    char *description;
    gboolean members_only;
    gboolean moderated;
    gboolean password_protected;
    char *password;
    gboolean whois_anyone;   /* non-anonymous: everyone sees real JIDs */
    gboolean change_subject; /* participants may change the subject */
    gboolean allow_pm;
    guint max_users;
} FocusRoomConfig;

typedef struct _FocusMuc FocusMuc;
typedef struct _FocusMucTokens FocusMucTokens;

/* Every refusal the MUC answers the same way wherever it happens: one error (type,
 * condition, text) and one metric label each (muc-reply.c holds the table). */
typedef enum {
    FOCUS_REFUSE_POLICY,        /* the sender's domain is not served */
    FOCUS_REFUSE_GUEST_CREATE,  /* a guest may not start a room */
    FOCUS_REFUSE_LOCKED_OUT,    /* the same answer as a wrong password */
    FOCUS_REFUSE_PASSWORD,      /* wrong or missing room password */
    FOCUS_REFUSE_BANNED,        /* outcast */
    FOCUS_REFUSE_MEMBERS_ONLY,  /* not a member of a members-only room */
    FOCUS_REFUSE_ROOM_FULL,     /* at the occupant limit */
    FOCUS_REFUSE_MAX_ROOMS,     /* at the service's room limit */
    FOCUS_REFUSE_NICK_CONFLICT, /* the nickname is taken (or reserved: focus) */
    FOCUS_REFUSE_NICK_TOO_LONG,
    FOCUS_REFUSE_ROOM_NAME_TOO_LONG,
    FOCUS_REFUSE_NO_NICK,        /* a join without room@service/nickname */
    FOCUS_REFUSE_RATE_LIMITED,   /* over the per-session stanza rate */
    FOCUS_REFUSE_ROOM_BUSY,      /* the room's stanzas still waiting to go out are too many */
    FOCUS_REFUSE_NOT_OCCUPANT,   /* a message from outside the room */
    FOCUS_REFUSE_VISITOR_SPEAKS, /* a visitor's groupchat message */
    FOCUS_REFUSE_TOKEN,          /* a token that is invalid in any way, or not for this room */

    /* With a database (muc-join-policy.c). */
    FOCUS_REFUSE_STORE_UNAVAILABLE, /* the join needs the database, which is down */
    FOCUS_REFUSE_STORE_BUSY,        /* too many joins waiting for the database */
    FOCUS_REFUSE_NOT_STARTED,       /* may not start this room: the same answer as a password */
    FOCUS_REFUSE_NOT_VALID_NOW,     /* a reserved room outside its window: the same again */
} FocusRefusal;

/* What a room created from a reservation keeps of it (muc-join-policy.c). */
typedef struct {
    char *password_hash; /* Argon2id PHC string, NULL: none */
    GHashTable *owners;  /* subject HMAC hex -> itself */
    GHashTable *members;
    gint64 valid_until; /* unix seconds, 0: unbounded */
} FocusReservation;

typedef struct {
    FocusMuc *muc;
    char *local;                /* the room's localpart, case-folded: the key in the service */
    char *jid;                  /* local@service */
    char tag[CC_ROOM_TAG_SIZE]; /* what logs show instead of the name */
    GPtrArray *occupants;       /* FocusOccupant*, in join order (owns them) */
    GHashTable *by_nick;        /* nick -> FocusOccupant* */
    GHashTable *by_jid;         /* full real JID -> FocusOccupant* */
    GHashTable *affiliations;   /* bare key -> GINT_TO_POINTER(FocusAffiliation) */
    FocusRoomConfig config;
    char *subject;
    char *subject_by; /* nick that set it, NULL: the room */
    guint8 occupant_key[CC_KEY_LEN];
    char *meeting_id;
    gpointer media;     /* the room's conference (conference.c), owned through the hooks */
    gboolean recording; /* the media side records it (focus_muc_set_recording) */
    FocusReservation *reservation; /* NULL: a free room */
    gboolean destroyed;            /* an owner destroyed it (for the audit) */
} FocusRoom;

typedef struct {
    guint max_rooms;
    guint max_occupants;
    guint max_nick_length; /* in characters */
    guint max_room_name_length;
    gboolean whois_anyone; /* new rooms are non-anonymous ([muc] default_whois = anyone) */
    /* Stanzas from a room still waiting in the send queue past which new messages to it are
     * refused (room_busy): one room's flood cannot fill the queue for all. 0: no bound. */
    guint max_room_backlog;
} FocusMucLimits;

/* What the media side (media-service.c) hears from the MUC, so that the MUC needs to know
 * nothing of Jingle. `removed` is TRUE when the room ended the occupant's stay (kick, ban,
 * membership, destroy), FALSE when the occupant left or its client vanished. */
typedef struct {
    void (*joined)(FocusRoom *room, FocusOccupant *occ, xmpp_stanza_t *presence, gpointer data);
    void (*leaving)(FocusRoom *room, FocusOccupant *occ, gboolean removed, gpointer data);
    void (*destroying)(FocusRoom *room, gpointer data);
    /* An IQ request routed from one occupant to another (muc-iq-route.c), as received. */
    void (*iq_routed)(FocusRoom *room, FocusOccupant *from, FocusOccupant *to, xmpp_stanza_t *iq,
                      gpointer data);
    /* A message to the service's own address (not a room); TRUE if it was for the hook. */
    gboolean (*service_message)(xmpp_stanza_t *message, gpointer data);
    gpointer data;
} FocusMucHooks;

typedef struct {
    CcMetric *rooms, *occupants, *joins, *messages, *lockouts, *rooms_created, *rooms_destroyed,
        *iqs_routed, *iq_timeouts,
        *errors_suppressed; /* flood refusals counted but not answered (policy.h) */
    GHashTable *refusals;   /* reason -> CcMetric* */
    CcMetrics *registry;
} FocusMucMetrics;

struct _FocusMuc {
    CcXmppComponent *xmpp;
    char *domain;
    GBytes *room_key;  /* for room tags in logs */
    GHashTable *rooms; /* case-folded localpart -> FocusRoom* */
    guint sweep_source;
    FocusPolicy *policy;
    FocusMucLimits limits;
    FocusMucMetrics metrics;
    FocusMucHooks hooks;
    GHashTable *routed;           /* our id -> routed IQ waiting for its answer (muc-iq-route.c) */
    GHashTable *routed_by_sender; /* sender's real JID -> GUINT_TO_POINTER(IQs in flight) */
    GHashTable *ghost_checks;     /* the checks in flight, owned (muc-ghosts.c); NULL: none */
    GPtrArray *extra_features;    /* char*: what other wings serve on the domain (disco#info) */
    FocusMucTokens *tokens;       /* JSON Web Tokens (muc-token.c); NULL: tokens are ignored */
    FocusStore *store;            /* NULL: no database */
    struct _FocusJoinPolicy *join_policy;
    /* With a database, joins past the first checks continue here (muc-join-policy.c). */
    void (*join_hook)(FocusMuc *muc, const CcJid *from, const CcJid *to, xmpp_stanza_t *stanza,
                      FocusDomainClass class, const CcJwtClaims *token);
};

/* muc-ghosts.c: after a reconnection, removes the occupants whose sessions ended meanwhile. */
void focus_muc_check_occupants(FocusMuc *muc);
void focus_muc_ghosts_free(FocusMuc *muc);

/* muc-service.c */
FocusMuc *focus_muc_new(CcXmppComponent *xmpp, FocusPolicy *policy, GBytes *room_key,
                        const FocusMucLimits *limits, CcMetrics *metrics);
void focus_muc_free(FocusMuc *muc);
void focus_muc_set_hooks(FocusMuc *muc, const FocusMucHooks *hooks);
/* A feature another part of the focus serves on the service's domain (e.g. XEP-0215), for
 * the service's disco#info. */
void focus_muc_add_service_feature(FocusMuc *muc, const char *var);
/* Accepts JSON Web Tokens from now on ([security] jwt_*); takes `settings->key`. */
typedef struct _FocusTokenSettings FocusTokenSettings;
void focus_muc_set_tokens(FocusMuc *muc, FocusTokenSettings *settings);

/* muc-rooms.c */
FocusRoom *focus_muc_find_room(FocusMuc *muc, const char *local);
FocusRoom *focus_muc_create_room(FocusMuc *muc, const char *local);
void focus_muc_destroy_room(FocusMuc *muc, FocusRoom *room);

/* muc-reply.c */
/* Creates the refusal counters, one per metric label of the table. */
void focus_muc_refusals_register(FocusMuc *muc, CcMetrics *registry);
void focus_muc_refuse(FocusMuc *muc, const char *reason);
/* Answers `stanza` with `refusal`'s error and counts it. */
void focus_muc_refuse_stanza(FocusMuc *muc, xmpp_stanza_t *stanza, FocusRefusal refusal);
void focus_muc_send(FocusMuc *muc, xmpp_stanza_t *stanza);
/* Sends an error answering `request` and releases nothing the caller owns. */
void focus_muc_error(FocusMuc *muc, xmpp_stanza_t *request, const char *type, const char *condition,
                     const char *text);
xmpp_ctx_t *focus_muc_ctx(FocusMuc *muc);

/* muc-disco.c */
void focus_muc_disco_install(FocusMuc *muc);
gboolean focus_muc_room_disco_info(FocusMuc *muc, FocusRoom *room, xmpp_stanza_t *iq);
gboolean focus_muc_room_disco_items(FocusMuc *muc, FocusRoom *room, xmpp_stanza_t *iq);

/* room.c */
FocusRoom *focus_room_new(FocusMuc *muc, const char *local);
void focus_room_free(FocusRoom *room);
FocusOccupant *focus_room_add_occupant(FocusRoom *room, const char *nick, const CcJid *jid,
                                       FocusRole role);
void focus_room_remove_occupant(FocusRoom *room, FocusOccupant *occ);
void focus_room_rename_occupant(FocusRoom *room, FocusOccupant *occ, const char *nick);
FocusOccupant *focus_room_by_nick(FocusRoom *room, const char *nick);
FocusOccupant *focus_room_by_jid(FocusRoom *room, const char *full_jid);
FocusAffiliation focus_room_affiliation(FocusRoom *room, const CcJid *jid);
FocusAffiliation focus_room_affiliation_by_key(FocusRoom *room, const char *bare_key);
void focus_room_set_affiliation(FocusRoom *room, const char *bare_key, FocusAffiliation aff);
FocusRole focus_room_default_role(FocusRoom *room, FocusAffiliation aff);
gboolean focus_room_is_anonymous_for(FocusRoom *room, FocusOccupant *viewer);
/* The presence of `occ` as `viewer` sees it: from room/nick, muc#user item, occupant-id,
 * plus `codes` (0-terminated status codes). `type` NULL for available. */
xmpp_stanza_t *focus_room_presence(FocusRoom *room, FocusOccupant *occ, FocusOccupant *viewer,
                                   const char *type, const int *codes);
/* Sends `occ`'s presence to every occupant with status `codes`; the occupant itself also
 * gets `self_only` and 110. Extra children for the item (actor, reason, nick) come from
 * `decorate` when not NULL. Status code lists are 0-terminated; NULL means none. */
typedef void (*FocusPresenceDecorator)(xmpp_stanza_t *item, xmpp_stanza_t *x, gpointer data);
void focus_room_broadcast_presence(FocusRoom *room, FocusOccupant *occ, const char *type,
                                   const int *codes, const int *self_only,
                                   FocusPresenceDecorator decorate, gpointer data);
char *focus_room_occupant_jid(FocusRoom *room, const char *nick);
/* Copies a client stanza's children into `dst`, leaving out MUC x elements and
 * occupant-ids (only the room may say those). */
void focus_room_copy_payload(xmpp_stanza_t *dst, xmpp_stanza_t *src);
void focus_room_add_occupant_id(xmpp_stanza_t *stanza, FocusOccupant *occ);
/* Sends the room's subject (an empty <subject/> when none) to `to`. */
void focus_room_send_subject(FocusRoom *room, FocusOccupant *to);

/* muc-iq-route.c */
void focus_muc_routes_init(FocusMuc *muc);
void focus_muc_routes_free(FocusMuc *muc);
/* The component's IQ router: IQs between occupants; FALSE for what is the service's. */
gboolean focus_muc_route_iq(CcXmppComponent *comp, xmpp_stanza_t *iq, gpointer data);

/* muc-presence.c */
gboolean focus_muc_on_presence(CcXmppComponent *comp, xmpp_stanza_t *stanza, gpointer data);
/* Removes an occupant after a kick, ban, bounce...: unavailable presence with `codes` to all. */
void focus_muc_remove_occupant(FocusMuc *muc, FocusRoom *room, FocusOccupant *occ, const int *codes,
                               FocusPresenceDecorator decorate, gpointer data);

/* muc-token.c */
struct _FocusTokenSettings {
    CcJwtKey *key;          /* the verification key; its algorithm is the only one accepted */
    char *issuer;           /* required `iss`; NULL: not checked */
    char *audience;         /* required in `aud`; NULL: not checked */
    guint leeway_s;         /* tolerated clock difference for `exp` and `nbf` */
    gboolean remove_on_exp; /* an occupant whose token expires is removed (else only warned) */
    gint64 (*clock)(void);  /* wall clock in microseconds; NULL: g_get_real_time (tests) */
};

/* What a valid token grants for the room it names; no token grants nothing. */
typedef enum {
    FOCUS_TOKEN_NONE,        /* no token: the domain rules alone decide */
    FOCUS_TOKEN_PARTICIPANT, /* may join the room once it exists (moderator false or unset) */
    FOCUS_TOKEN_MODERATOR,   /* may create the room, and is its owner */
} FocusTokenGrant;

/* Removes an occupant as focus_muc_remove_occupant does; given to the tokens by the service
 * so that this file needs nothing of muc-presence.c, which calls it. */
typedef void (*FocusMucRemover)(FocusMuc *muc, FocusRoom *room, FocusOccupant *occ,
                                const int *codes, FocusPresenceDecorator decorate, gpointer data);
FocusMucTokens *focus_muc_tokens_new(FocusMuc *muc, FocusTokenSettings *settings,
                                     FocusMucRemover remove);
void focus_muc_tokens_free(FocusMucTokens *tokens);
/* How many conference-IQ tokens are remembered now (tests). */
guint focus_muc_tokens_remembered(FocusMucTokens *tokens);

FocusTokenGrant focus_token_grant(const CcJwtClaims *claims);
/* Whether a sender of domain `class` holding `grant` may join `room_exists` ? the room :
 * create it: FALSE with the refusal to answer otherwise. */
gboolean focus_token_may_enter(FocusDomainClass class, FocusTokenGrant grant, gboolean room_exists,
                               FocusRefusal *refusal);
/* The affiliation the grant gives in the room: owner for a moderator, none otherwise. */
FocusAffiliation focus_token_affiliation(FocusTokenGrant grant);

/* The token of a join: the <token xmlns='urn:conclave:jwt:0'/> of the presence, or else the
 * one the same full JID gave in its conference IQ for this room. FALSE when it is invalid or
 * not for `room` (the presence has been refused); TRUE otherwise, with *claims NULL when
 * there is no token or tokens are off. */
gboolean focus_muc_token_for_join(FocusMuc *muc, xmpp_stanza_t *presence, const char *from,
                                  const char *room, CcJwtClaims **claims);
/* The `token` attribute of a conference IQ, remembered for the sender's next join of
 * `room`. FALSE when it is invalid or not for `room` (the IQ has been refused). */
gboolean focus_muc_token_for_conference(FocusMuc *muc, xmpp_stanza_t *iq, const char *from,
                                        const char *room, FocusTokenGrant *grant);
/* Warns `occ` a minute before its token expires and, when configured, removes it then. */
void focus_muc_token_watch(FocusMuc *muc, FocusRoom *room, FocusOccupant *occ,
                           const CcJwtClaims *claims);
/* The <password/> of a join presence (XEP-0045 7.2.6), or NULL. */
char *focus_muc_join_password(xmpp_stanza_t *stanza);
/* Lets a join in that passed every check: occupant, presences, subject, hooks, audit. */
void focus_muc_enter(FocusMuc *muc, FocusRoom *room, const CcJid *from, const CcJid *to,
                     xmpp_stanza_t *stanza, gboolean created, const CcJwtClaims *token);

/* muc-join-policy.c */
/* Puts the MUC on the policy store (NULL: takes it off, before the store is freed). */
void focus_muc_set_store(FocusMuc *muc, FocusStore *store);
void focus_muc_join_policy_free(FocusMuc *muc);

/* muc-audit.c: nothing happens without a store. `bare_key` is a case-folded bare JID. */
void focus_muc_audit(FocusMuc *muc, const char *event, const char *room_local, const char *bare_key,
                     const char *detail);
/* A refused join (a presence to room@service/nick), with the refusal's metric label. */
void focus_muc_audit_refusal(FocusMuc *muc, xmpp_stanza_t *stanza, const char *reason);

/* muc-message.c */
gboolean focus_muc_on_message(CcXmppComponent *comp, xmpp_stanza_t *stanza, gpointer data);

/* muc-admin.c */
gboolean focus_muc_admin_iq(FocusMuc *muc, FocusRoom *room, xmpp_stanza_t *iq);

/* muc-owner.c */
gboolean focus_muc_owner_iq(FocusMuc *muc, FocusRoom *room, xmpp_stanza_t *iq);

/* muc-notice.c */
/* The room is now recorded (`on`) or no longer is: every occupant gets a groupchat message
 * from the room with status 170 or 171 and `text` (NULL: a plain sentence). From then on
 * joiners get 170 in their own presence and disco#info says conclave#recording = 1. Nothing
 * is sent when the flag does not change. */
void focus_muc_set_recording(FocusMuc *muc, FocusRoom *room, gboolean on, const char *text);
/* A groupchat message from the room with `text` to its moderators only. */
void focus_muc_tell_moderators(FocusMuc *muc, FocusRoom *room, const char *text);

G_END_DECLS
