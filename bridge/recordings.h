/* The bridge's recordings, on the control thread (docs/recording.md): the `[recording]`
 * settings, the Colibri2 `<recording action id/>` checks and their refusals
 * (schemas/colibri2.md, Recording), the file names, the recordings running now (at most one
 * per conference), the reports to the focus (`<recording-status/>`: damaged once per
 * overflow episode, failed when a write failed), and the recordings' metrics.
 *
 * The Colibri2 server asks here, attaches and detaches the recorder on the conference's
 * worker itself (as part of applying the request), then tells this table. A recording that
 * fails on its own is detached here. */
#pragma once

#include "bridge-media.h"
#include "recorder.h"
#include "xmpp.h"

G_BEGIN_DECLS

typedef struct _BridgeRecordings BridgeRecordings;

/* A refusal of a request's <recording>: stanza error type and condition, colibri2 reason. */
typedef struct {
    const char *type, *condition, *reason, *text;
} BridgeRecRefusal;

/* `dir` NULL or empty: recording is disabled (every <recording> is refused with
 * recording_disabled). Takes `public_key`. `queue_size`: bytes per recording's queue. */
BridgeRecordings *bridge_recordings_new(const char *dir, EVP_PKEY *public_key, gsize queue_size,
                                        CcXmppComponent *xmpp, CcMetrics *metrics);
/* Finishes every recording still running: the conferences must be gone already. */
void bridge_recordings_free(BridgeRecordings *recordings);

/* The checks of a request's <recording>, before anything changes: FALSE with a refusal. The
 * conference exists, or the request creates it. */
gboolean bridge_recordings_check(BridgeRecordings *recordings, const CcColibri2Modify *modify,
                                 BridgeRecRefusal *refusal);
/* A start: creates the file and the writer thread; NULL with a refusal (recording_failed). */
BridgeRecorder *bridge_recordings_open(BridgeRecordings *recordings, const char *meeting_id,
                                       const char *id, BridgeRecRefusal *refusal);
/* The recorder is attached to `conference` on its worker: it runs from now on. */
void bridge_recordings_started(BridgeRecordings *recordings, BridgeConference *conference,
                               const char *id, BridgeRecorder *recorder);
/* The conference's recording, if one runs, is detached from its worker (a stop, or the
 * conference expired): the file is finished and closed. */
void bridge_recordings_stopped(BridgeRecordings *recordings, const char *meeting_id);
/* Finishes every recording (the bridge stops; the conferences are gone already). */
void bridge_recordings_stop_all(BridgeRecordings *recordings);

G_END_DECLS
