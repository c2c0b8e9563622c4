/* Applying one Colibri2 conference-modify to a conference, on its worker, all or nothing:
 * a request that fails at any element leaves the conference exactly as it was.
 *
 *   1. check   every element against the conference as it is (ids, transports, SSRCs):
 *              refusals here change nothing;
 *   2. prepare what can still fail without touching the conference: the ICE agent of each
 *              endpoint to create (port allocation) and the DTLS of each new transport; a
 *              failure frees what was prepared;
 *   3. commit  in request order, steps that cannot fail: expiries, new endpoints, transports
 *              and trickled candidates, sources, payload types, ids, then the recording.
 *
 * The bridge channel's table and the answer are the control thread's, after a success. */
#pragma once

#include "bridge-media.h"

G_BEGIN_DECLS

/* A refusal: stanza error type and condition, colibri2 reason, optional text. */
typedef struct {
    const char *type, *condition, *reason;
    char *text;
} BridgeColibriFailure;

/* Records the first failure only (later calls are ignored). */
void bridge_colibri_fail(BridgeColibriFailure *failure, const char *type, const char *condition,
                         const char *reason, const char *text);
void bridge_colibri_failure_clear(BridgeColibriFailure *failure);

typedef struct {
    BridgeConference *conf;
    const CcColibri2Modify *modify;
    /* Out: one CcIceUdpTransport* (created endpoints) or NULL per request endpoint; the
     * caller makes it with room for modify->endpoints->len entries. */
    GPtrArray *answers;
    BridgeRecorder *start; /* attached as the last step when set; stays the caller's on failure */
    BridgeColibriFailure failure;
} BridgeColibriApply;

/* Must run on the conference's worker (see bridge_worker_call). */
void bridge_colibri_apply(gpointer apply);

G_END_DECLS
