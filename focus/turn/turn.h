/* TURN and STUN for clients: the focus hands out short-lived credentials for the operator's
 * TURN server (coturn with `use-auth-secret`) through XEP-0215 external service discovery on
 * its service domain. The wing's one interface; the MUC knows nothing of it (main.c adds the
 * disco#info feature when the wing is on).
 *
 *   turn-config.c       the [turn] keys: validation and the settings read from them
 *   turn-credentials.c  the coturn REST credentials: a pseudonymous user id, the
 *                       "<expiry>:<user id>" username and its HMAC-SHA1 password
 *   turn-service.c      the extdisco IQs (services, credentials): access, rate, metrics
 */
#pragma once

#include "config.h"
#include "crypto.h"
#include "metrics.h"
#include "policy.h"
#include "xmpp.h"

G_BEGIN_DECLS

#define FOCUS_NS_EXTDISCO "urn:xmpp:extdisco:2"

/* Characters of the pseudonymous user id in a TURN username (base64url, 96 bits). */
#define FOCUS_TURN_USER_ID_LEN 16

typedef struct {
    char *host;     /* the TURN server's name or address; NULL: the feature is off */
    guint port;     /* turn (and stun) on udp/tcp */
    guint tls_port; /* turns over TLS; 0: none */
    gboolean udp, tcp;
    char *secret; /* coturn's static-auth-secret */
    guint ttl_s;  /* credential lifetime */
    gboolean stun;
} FocusTurnSettings;

/* turn-config.c */
/* Checks the [turn] group beyond what the schema checks (host shape, transports, secret). */
gboolean focus_turn_config_check(const CcConfig *config, GError **error);
/* The settings of a checked config; NULL when [turn] host is empty (off). */
FocusTurnSettings *focus_turn_settings_from_config(const CcConfig *config);
void focus_turn_settings_free(FocusTurnSettings *settings);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FocusTurnSettings, focus_turn_settings_free)

/* turn-credentials.c */
/* The key user ids are made with: derived from the server's room key, so that it is stable
 * as long as that key is and is never the room key itself. */
void focus_turn_derive_key(GBytes *room_key, guint8 out[CC_KEY_LEN]);
/* A pseudonym for the user `jid` (its bare JID, case-folded): base64url of HMAC-SHA256 under
 * `key`, truncated to FOCUS_TURN_USER_ID_LEN characters; `out` gets a NUL too. */
void focus_turn_user_id(const guint8 key[CC_KEY_LEN], const CcJid *jid,
                        char out[FOCUS_TURN_USER_ID_LEN + 1]);
/* coturn's REST scheme (TURN REST API draft): username "<expiry unix time>:<user id>",
 * password base64(HMAC-SHA1(secret, username)) with padding. */
char *focus_turn_username(gint64 expiry, const char *user_id);
char *focus_turn_password(const char *secret, const char *username);

/* turn-service.c */
typedef struct _FocusTurn FocusTurn;

/* Registers the extdisco IQ handlers. `settings` NULL: the feature is off, and requests get
 * service-unavailable. The settings are copied. */
FocusTurn *focus_turn_new(CcXmppComponent *xmpp, FocusPolicy *policy, GBytes *room_key,
                          const FocusTurnSettings *settings, CcMetrics *metrics);
void focus_turn_free(FocusTurn *turn);
gboolean focus_turn_enabled(const FocusTurn *turn);
/* The wall clock in seconds since the epoch; NULL: the real one (tests set it). */
void focus_turn_set_clock(FocusTurn *turn, gint64 (*now_s)(void));

G_END_DECLS
