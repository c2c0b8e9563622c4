/* The policy store: the focus's one PostgreSQL connection (libpq's non-blocking API on the
 * focus's GLib main loop, so a slow or dead database never stalls XMPP), the join lookup
 * (reserved rooms, affiliations, roles) and the audit trail. The wing's one interface; it
 * knows nothing of rooms or stanzas and answers through callbacks only.
 * schemas/policy-store.md is the contract for the tables and the HMACs.
 *
 *   store-service.c the top: builds the store from its parts, and ends it
 *   store-conn.c    the connection: connect, schema check, a FIFO of queries with one in
 *                   flight, per-query timeout, reconnect with backoff, state and metrics
 *   store-keys.c    room and subject HMACs under the room key
 *   store-policy.c  the join lookup: one query, its parsed answer
 *   store-audit.c   a bounded queue of audit rows written in order, the hourly purge
 */
#pragma once

#include "crypto.h"
#include "metrics.h"

#include <libpq-fe.h>

G_BEGIN_DECLS

typedef struct _FocusStore FocusStore;

typedef struct {
    guint lookup_timeout_ms;    /* a query unanswered this long fails and resets the link */
    guint audit_retention_days; /* 0: audit rows are kept forever */
    guint audit_queue_max;      /* audit rows held in memory while the database is away */
} FocusStoreSettings;

/* --- store-conn.c ------------------------------------------------------------------------ */

/* Starts connecting at once (and again whenever the link is lost). `room_key` makes every
 * HMAC the store reads or writes. */
FocusStore *focus_store_new(const char *conninfo, GBytes *room_key,
                            const FocusStoreSettings *settings, CcMetrics *metrics);
/* Pending callbacks are called first (with no answer), then the connection is closed;
 * audit rows not yet written are lost (and logged as a count). */
void focus_store_free(FocusStore *store);
gboolean focus_store_is_up(const FocusStore *store);
/* Waiting to reconnect: a query now fails at once (while connecting it waits). */
gboolean focus_store_is_down(const FocusStore *store);
/* Why the store is not up, for /health ("" when it is). */
const char *focus_store_down_reason(const FocusStore *store);

/* Wing-internal: one statement with parameters. `formats[i]` 1 for a binary parameter
 * (bytea), 0 for text; `lengths` only for binary ones. `done` gets the result (NULL when the
 * store is down, the query timed out or failed) and must not keep it. */
typedef void (*FocusStoreDone)(FocusStore *store, const PGresult *result, gpointer data);
void focus_store_query(FocusStore *store, const char *sql, int n_params, const char *const *values,
                       const int *lengths, const int *formats, FocusStoreDone done, gpointer data);
/* Wing-internal (store-conn.c): the connection's life, for store-service.c. */
FocusStore *focus_store_conn_new(const char *conninfo, GBytes *room_key,
                                 const FocusStoreSettings *settings, CcMetrics *metrics);
void focus_store_conn_start(FocusStore *store);
/* Fails what waits and closes the link for good. */
void focus_store_conn_stop(FocusStore *store);
void focus_store_conn_free(FocusStore *store);

/* Wing-internal: the store's state, shared by its files; nothing outside the wing reads it. */
typedef enum {
    FOCUS_STORE_DOWN,       /* waiting to reconnect */
    FOCUS_STORE_CONNECTING, /* PQconnectPoll in progress */
    FOCUS_STORE_CHECKING,   /* connected, checking the schema version */
    FOCUS_STORE_UP,
} FocusStoreState;

struct _FocusStore {
    char *conninfo;
    GBytes *room_key;
    FocusStoreSettings s;
    PGconn *conn;
    FocusStoreState state;
    GString *reason; /* why not up */
    guint read_watch, write_watch, retry_source, connect_timer;
    guint backoff_ms;
    GQueue queries; /* StoreQuery*, the head is in flight when `in_flight` */
    gboolean in_flight;
    PGresult *pending_result; /* the in-flight query's result, until libpq says it is done */
    CcMetric *m_up, *m_ok, *m_failed, *m_unavailable, *m_timeout, *m_reconnects;
    void (*on_up)(FocusStore *store); /* the link came up (store-audit.c flushes its queue) */
    /* store-audit.c */
    GQueue audit_rows;   /* AuditRow*, oldest first */
    guint audit_writing; /* rows of the head in the INSERT in flight; 0: none */
    gboolean purging;
    guint purge_source;
    CcMetric *m_audit_written, *m_audit_dropped, *m_audit_queued, *m_audit_purged;
};

/* --- store-keys.c ------------------------------------------------------------------------ */

/* HMAC-SHA256(key, casefold(room local part)). */
void focus_store_room_hmac(GBytes *room_key, const char *room_local,
                           guint8 out[CC_HMAC_SHA256_LEN]);
/* HMAC-SHA256(key, "jid:" + casefold(bare JID)); `bare_key` is already case-folded. */
void focus_store_jid_hmac(GBytes *room_key, const char *bare_key, guint8 out[CC_HMAC_SHA256_LEN]);
/* HMAC-SHA256(key, "domain:" + casefold(domain)). */
void focus_store_domain_hmac(GBytes *room_key, const char *domain, guint8 out[CC_HMAC_SHA256_LEN]);
/* Lower-case hex of an HMAC: 64 characters and a NUL. */
void focus_store_hex(const guint8 mac[CC_HMAC_SHA256_LEN], char out[2 * CC_HMAC_SHA256_LEN + 1]);
GBytes *focus_store_room_key(FocusStore *store);

/* --- store-policy.c ---------------------------------------------------------------------- */

typedef enum {
    FOCUS_STORE_ROLE_NONE,
    FOCUS_STORE_ROLE_MEMBER,
    FOCUS_STORE_ROLE_HOST,
    FOCUS_STORE_ROLE_ADMIN,
} FocusStoreRole;

typedef struct {
    gboolean reserved;
    char *password_hash; /* Argon2id PHC string, NULL: none */
    gboolean members_only;
    guint max_occupants; /* 0: the service's limit */
    gboolean valid_now;  /* inside the validity window (or none) */
    gint64 valid_until;  /* unix seconds, 0: unbounded */
    GHashTable *owners;  /* subject HMAC hex -> itself: the room's owners */
    GHashTable *members; /* subject HMAC hex -> itself: the room's members */
    FocusStoreRole user_role, domain_role;
} FocusStoreAnswer;

void focus_store_answer_free(FocusStoreAnswer *answer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FocusStoreAnswer, focus_store_answer_free)

/* Wing-internal, and for tests: the lookup's one row (nine columns, text format) into an
 * answer; NULL when the result does not have that shape. Unknown roles count as none,
 * malformed affiliation items are skipped. */
FocusStoreAnswer *focus_store_parse_answer(const PGresult *result);

/* `answer` is NULL when the store could not answer; the callee owns it otherwise. */
typedef void (*FocusStoreLookupDone)(FocusStoreAnswer *answer, gpointer data);
/* What the database says about a join of `bare_key` (case-folded bare JID, whose domain is
 * `domain`) to the room `room_local`: the reservation, its affiliations, the user's role and
 * its domain's role, in one query. Fails at once (NULL answer) when the store is down. */
void focus_store_lookup(FocusStore *store, const char *room_local, const char *bare_key,
                        const char *domain, FocusStoreLookupDone done, gpointer data);

/* --- store-audit.c ----------------------------------------------------------------------- */

/* Queues one audit row stamped now. `room_local` and `bare_key` may be NULL; they are turned
 * into HMACs here and never kept. `event` and `detail` are codes from policy-store.md. */
void focus_store_audit(FocusStore *store, const char *event, const char *room_local,
                       const char *bare_key, const char *detail);
/* Wing-internal: the audit state of a new store, and its end. */
void focus_store_audit_init(FocusStore *store);
void focus_store_audit_register(FocusStore *store, CcMetrics *metrics);
void focus_store_audit_on_up(FocusStore *store);
void focus_store_audit_clear(FocusStore *store);

G_END_DECLS
