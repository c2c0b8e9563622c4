/* Who may do what before any room logic runs: the class of a sender's domain
 * (authenticated, guest or refused), password-failure lockouts per JID and per room, and a
 * per-JID stanza rate limit, and the rate of the refusals that limit sends back. Everything is in
 * memory and forgets idle entries. */
#pragma once

#include "jid.h"

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
    FOCUS_DOMAIN_AUTHENTICATED, /* may create rooms; first in becomes owner */
    FOCUS_DOMAIN_GUEST,         /* may join rooms that exist */
    FOCUS_DOMAIN_REFUSED,
} FocusDomainClass;

typedef struct {
    guint jid_failures;  /* wrong passwords from one JID within the window before lockout */
    guint room_failures; /* wrong passwords for one room within the window before lockout */
    guint window_s;
    guint lockout_s; /* first lockout; each further one doubles, up to lockout_max_s */
    guint lockout_max_s;
    guint stanzas_per_second; /* sustained rate per full JID; bursts up to twice that */
    gint64 (*clock)(void);    /* microseconds; NULL: g_get_monotonic_time (tests set time) */
} FocusPolicySettings;

typedef struct _FocusPolicy FocusPolicy;

FocusPolicy *focus_policy_new(const char *const *authenticated_domains,
                              const char *const *guest_domains,
                              const FocusPolicySettings *settings);
void focus_policy_free(FocusPolicy *policy);

FocusDomainClass focus_policy_classify(FocusPolicy *policy, const CcJid *from);

/* TRUE while the JID (bare key) or the room (its tag) is locked out. */
gboolean focus_policy_is_locked(FocusPolicy *policy, const char *bare_key, const char *room);
/* Counts a wrong password; TRUE when this failure started a lockout. `room` NULL counts
 * against the JID only. */
gboolean focus_policy_record_failure(FocusPolicy *policy, const char *bare_key, const char *room);

/* Takes one token for `full_jid`; FALSE when it is over its rate. */
gboolean focus_policy_allow_stanza(FocusPolicy *policy, const char *full_jid);

/* Whether a flood refusal (rate limited, room busy) may be answered now: the first per
 * second per full JID is; the rest are dropped by the caller, so that refusing a flood never
 * costs as much as serving it. */
gboolean focus_policy_allow_refusal(FocusPolicy *policy, const char *full_jid);

/* Drops entries that no longer matter (called periodically). */
void focus_policy_sweep(FocusPolicy *policy);
guint focus_policy_tracked(FocusPolicy *policy);

G_END_DECLS
