/* The focus's pool of bridges (`[focus] bridges`): a health check with load report every
 * `bridge_check_interval_s` to each bridge, the state it leaves (healthy, draining, stress),
 * and the choice of the bridge a new conference goes to. A bridge that times out, answers
 * with an error or says it is shutting down is taken out; one that answers again rejoins. */
#pragma once

#include "metrics.h"
#include "xmpp.h"

G_BEGIN_DECLS

typedef struct _FocusBridges FocusBridges;

typedef struct {
    gboolean ok;       /* answered the health check with a result */
    gboolean draining; /* graceful_shutdown = true */
    double stress;     /* stress_level */
    guint conferences;
    guint endpoints;
} FocusBridgeReport;

FocusBridges *focus_bridges_new(CcXmppComponent *xmpp, const char *const *jids, guint interval_s,
                                guint timeout_ms, CcMetrics *metrics);
void focus_bridges_free(FocusBridges *bridges);

/* Checks every bridge now (also done when the component (re)connects). */
void focus_bridges_check_all(FocusBridges *bridges);

/* Records a health report for `jid` (from a check, or from a failed request elsewhere). */
void focus_bridges_record(FocusBridges *bridges, const char *jid, const FocusBridgeReport *report);

/* The healthy, not draining bridge with the lowest stress (ties: fewest conferences, then
 * list order); NULL when none is available. */
const char *focus_bridges_select(FocusBridges *bridges);
guint focus_bridges_available(FocusBridges *bridges);

/* Told when a bridge becomes usable or stops being usable; `failed` is TRUE when it stopped
 * answering (not when it only started draining: its conferences may finish there). */
typedef void (*FocusBridgeListener)(const char *jid, gboolean usable, gboolean failed,
                                    gpointer data);
void focus_bridges_set_listener(FocusBridges *bridges, FocusBridgeListener listener, gpointer data);

/* A request to `jid` failed in a way that says the bridge is gone or lost its state (no
 * answer, not connected, graceful_shutdown...): it is taken out until a check succeeds. */
void focus_bridges_fail(FocusBridges *bridges, const char *jid);

/* The focus's own count of conferences placed on `jid` (a metric, and the tie-break of
 * focus_bridges_select between health reports). */
void focus_bridges_count_conference(FocusBridges *bridges, const char *jid, int delta);

/* The conference `meeting_id` must be expired on `jid`, which could not be told (no answer,
 * not connected): the expiry is sent again each time the bridge answers a health check,
 * until the bridge answers it, so that a bridge that comes back (a stopped process
 * resumed, a partition healed) drops what it still holds for a conference that moved.
 * At most FOCUS_BRIDGES_MAX_PENDING per bridge. */
#define FOCUS_BRIDGES_MAX_PENDING 4096
void focus_bridges_expire_later(FocusBridges *bridges, const char *jid, const char *meeting_id);
/* A conference `meeting_id` is placed on `jid` again: a pending expiry of that id there is
 * sent now, ahead of the create (the bridge answers requests in order), and not later. */
void focus_bridges_expire_pending(FocusBridges *bridges, const char *jid, const char *meeting_id);

/* Reads a health check answer (`<stats>` of `<stat name value>`). FALSE if malformed. */
gboolean focus_bridges_parse_stats(xmpp_stanza_t *reply, FocusBridgeReport *report);

G_END_DECLS
