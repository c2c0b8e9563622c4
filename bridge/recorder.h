/* One running recording of a conference (docs/recording.md): the encrypted file
 * (common/recording-file.h), the writer thread that owns it, and the queue the conference's
 * media worker feeds it through (rec-queue.h).
 *
 * The worker side (bridge_recorder_rtp/_rtcp, called by the router for every packet it
 * accepted) never allocates, never locks and never waits: it copies the decrypted packet
 * into the queue, or drops it and counts the drop when the queue is full (an overflow
 * episode, which ends with a damage marker in the file). Each (SSRC, payload type) of an
 * endpoint becomes a stream of the file the first time one of its packets is recorded, and
 * every endpoint's RTCP one more stream. The writer thread drains the queue into the
 * writer, flushes a chunk every few seconds, and on a write failure stops: the recording is
 * then failed, and the producer stops feeding it. The control thread reads the overflow
 * episodes and the failure, and finishes the recording (drain, close, sync). */
#pragma once

#include "metrics.h"
#include "recording-file.h"

#include <glib.h>

G_BEGIN_DECLS

/* Streams one endpoint may add to a recording (its RTCP stream aside). */
#define BRIDGE_REC_STREAMS_PER_ENDPOINT 64

typedef struct {
    guint32 ssrc;
    guint8 payload_type;
    guint16 id;
} BridgeRecStreamSlot;

/* An endpoint's streams in a recording: which (SSRC, payload type) has which stream id.
 * It lives in the endpoint, on the worker, and holds only for the recording whose serial it
 * carries (a new recording starts it afresh). */
typedef struct {
    guint serial;
    guint n;
    gint32 rtcp; /* the endpoint's RTCP stream, -1 until declared */
    BridgeRecStreamSlot slots[BRIDGE_REC_STREAMS_PER_ENDPOINT];
} BridgeRecStreams;

/* The recordings' counters (recordings.c registers them; recorders update them). */
typedef struct {
    CcMetric *active, *started;
    CcMetric *bytes, *chunks, *packets;
    CcMetric *dropped_overflow, *dropped_streams;
    CcMetric *failed_create, *failed_disk_full, *failed_write_error;
} BridgeRecMetrics;

typedef enum {
    BRIDGE_REC_OK,
    BRIDGE_REC_DISK_FULL,   /* ENOSPC or EDQUOT */
    BRIDGE_REC_WRITE_ERROR, /* any other failed write (or sync) */
} BridgeRecFailure;

typedef struct _BridgeRecorder BridgeRecorder;

/* Creates the file (mode 0600, never over an existing one), allocates the queue
 * (`queue_size` bytes) and starts the writer thread. */
BridgeRecorder *bridge_recorder_new(const char *path, EVP_PKEY *recipient, gsize queue_size,
                                    const BridgeRecMetrics *metrics, GError **error);

/* The worker side: a packet the router accepted from an endpoint (`streams`, `owner` its
 * occupant id or NULL), decrypted; `video` is the kind its SSRC was signalled with. */
void bridge_recorder_rtp(BridgeRecorder *rec, BridgeRecStreams *streams, const char *owner,
                         gboolean video, guint32 ssrc, guint8 payload_type, const guint8 *buf,
                         gsize len, gint64 now_us);
void bridge_recorder_rtcp(BridgeRecorder *rec, BridgeRecStreams *streams, const char *owner,
                          gboolean video, guint32 ssrc, const guint8 *buf, gsize len,
                          gint64 now_us);

/* The control side, from any thread. Overflow episodes so far (each one started dropping
 * packets), and the failure that stopped the writer (BRIDGE_REC_OK: none). */
guint bridge_recorder_overflows(BridgeRecorder *rec);
BridgeRecFailure bridge_recorder_failure(BridgeRecorder *rec);
const char *bridge_recorder_path(BridgeRecorder *rec);

/* Once no worker feeds it any more: writes what is queued (and a damage marker for packets
 * still being dropped), closes and syncs the file, joins the thread. FALSE (with the
 * failure) if the recording failed, now or earlier. */
gboolean bridge_recorder_finish(BridgeRecorder *rec, BridgeRecFailure *failure, GError **error);
/* Finishes if needed, then frees. With `discard`, the file is removed instead (a start that
 * was refused after the file was created). */
void bridge_recorder_free(BridgeRecorder *rec, gboolean discard);

const char *bridge_rec_failure_reason(BridgeRecFailure failure);

/* The codec name and clock rate a stream is declared with, from its payload type as the
 * focus offers it (docs/recording.md): opus 111, VP8 100, VP9 101, H264 107, rtx 96, 97
 * and 99; any other is "pt-N" (written into `scratch`) at 48000 Hz for audio, 90000 Hz
 * for video. */
#define BRIDGE_REC_CODEC_SCRATCH 8
const char *bridge_rec_codec(guint8 payload_type, gboolean video,
                             char scratch[BRIDGE_REC_CODEC_SCRATCH], guint32 *clock_rate);

G_END_DECLS
