/* What the operator types, checked and turned into what the policy store holds: room names
 * and subjects (users, domains) into their HMACs under the room key, times into UTC ISO 8601.
 * Definitions in schemas/policy-store.md. Every check fails with a message and without side
 * effects; callers exit 2 (a bad command line). */
#pragma once

#include "crypto.h"

#include <glib.h>

/* Characters (not bytes) a room name may have. */
#define CTL_ROOM_NAME_MAX 256

/* Hex digits shown of an HMAC: the room tag's length. */
#define CTL_PREFIX_LEN 12

typedef enum {
    CTL_SUBJECT_JID,
    CTL_SUBJECT_DOMAIN,
} CtlSubjectKind;

/* A room local part: non-empty, valid UTF-8, at most CTL_ROOM_NAME_MAX characters, and
 * nothing an XMPP localpart forbids (no '@', '/', ':', whitespace, control characters). */
gboolean ctl_room_name_check(const char *name, GError **error);

/* HMAC-SHA256(key, casefold(name)); the name must have passed ctl_room_name_check. */
gboolean ctl_room_hmac(GBytes *key, const char *name, guint8 out[CC_HMAC_SHA256_LEN],
                       GError **error);

/* A bare JID `user@domain` (kind jid) or, when `allow_domain`, a domain (kind domain).
 * Returns what the subject HMAC is computed over: "jid:" + casefold(bare JID), or
 * "domain:" + casefold(domain). */
char *ctl_subject_parse(const char *text, gboolean allow_domain, CtlSubjectKind *kind,
                        GError **error);

/* HMAC-SHA256(key, text). */
gboolean ctl_hmac(GBytes *key, const char *text, guint8 out[CC_HMAC_SHA256_LEN], GError **error);

/* ctl_subject_parse, then ctl_hmac. */
gboolean ctl_subject_hmac(GBytes *key, const char *text, gboolean allow_domain,
                          CtlSubjectKind *kind, guint8 out[CC_HMAC_SHA256_LEN], GError **error);

/* "u:" or "d:" (by kind) or "r:" and the first CTL_PREFIX_LEN hex digits. */
char *ctl_prefix(const char *tag, const guint8 mac[CC_HMAC_SHA256_LEN]);

/* An ISO 8601 date and time that must carry its time zone (`Z` or an offset); `what` names
 * the option in the error. Returns it in UTC as "YYYY-MM-DDTHH:MM:SSZ". */
char *ctl_time_parse(const char *what, const char *text, GError **error);
