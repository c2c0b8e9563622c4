/* A running recording (see recorder.h): the producer half that runs on the conference's
 * worker, the writer thread that owns the CcRecordingWriter, and the hand-over between
 * them. The queue carries three kinds of entries, all written by the worker in the order
 * the file must see them: a stream declaration (before the stream's first packet), a
 * packet, and a damage marker (when an overflow episode ends: before the first entry that
 * fits again). Stream ids are the worker's (0, 1, 2... in declaration order); the writer
 * thread maps them to the file's, so that a stream the writer refuses only loses its own
 * packets. It knows nothing of endpoints, conferences or Colibri2. */
#include "recorder.h"

#include "rec-queue.h"
#include "tsan.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

/* The writer looks at the queue this often; every wake-up costs (a timer, two context
 * switches: on a virtual machine as much as writing a hundred packets), so it sleeps long
 * while the queue fills slowly, and 10 ms while more than an eighth of it fills between two
 * looks. The default queue (4 MiB) holds 100 ms of 40 MB/s. */
#define POLL_US      (100 * 1000)
#define POLL_BUSY_US (10 * 1000)
#define FLUSH_US     (2 * G_USEC_PER_SEC) /* a crash loses at most this much */
#define BATCH        1024                 /* entries between two metric updates */

enum { ENTRY_STREAM = 1, ENTRY_PACKET, ENTRY_DAMAGE };

typedef struct {
    guint8 type;
    guint8 kind;         /* STREAM: CcRecordingMediaKind */
    guint8 payload_type; /* STREAM */
    guint8 rtcp;         /* PACKET */
    guint16 stream;      /* STREAM, PACKET: the worker's stream id */
    guint16 unused;
    guint32 ssrc;       /* STREAM */
    guint32 clock_rate; /* STREAM */
    guint64 time_us;    /* PACKET, DAMAGE: since the start */
    guint64 count;      /* DAMAGE: packets dropped */
} Entry;                /* STREAM: then codec and owner, each NUL-terminated; PACKET: the data */

struct _BridgeRecorder {
    char *path;
    const BridgeRecMetrics *metrics;
    BridgeRecQueue *queue;
    gint64 start_us;
    guint serial;
    GThread *thread;
    GMutex lock; /* stopping only: the worker never takes it */
    GCond cond;
    gboolean stopping;
    gint failure;   /* BridgeRecFailure (atomic): set once by the writer thread */
    gint overflows; /* atomic: overflow episodes started */
    gboolean finished;
    /* The worker's. */
    guint32 next_stream;
    guint64 dropped; /* in the current overflow episode */
    guint64 dropped_at_us;
    /* The writer thread's. */
    CcRecordingWriter *writer;
    GArray *ids; /* gint32 per worker stream id: the file's id, -1 if the writer refused it */
    guint64 packets, last_bytes, last_chunks;
    gint64 last_flush_us;
    gsize taken;   /* bytes of entries taken since the writer last slept */
    GError *error; /* what made it fail */
};

static gint next_serial;

/* --- codecs ------------------------------------------------------------------------------- */

const char *
bridge_rec_codec(guint8 pt, gboolean video, char scratch[BRIDGE_REC_CODEC_SCRATCH], guint32 *clock)
{
    *clock = 90000;
    switch (pt) {
    case 111:
        *clock = 48000;
        return "opus";
    case 100:
        return "VP8";
    case 101:
        return "VP9";
    case 107:
        return "H264";
    case 96:
    case 97:
    case 99:
        return "rtx";
    default:
        *clock = video ? 90000 : 48000;
        g_snprintf(scratch, BRIDGE_REC_CODEC_SCRATCH, "pt-%u", pt);
        return scratch;
    }
}

const char *
bridge_rec_failure_reason(BridgeRecFailure failure)
{
    switch (failure) {
    case BRIDGE_REC_DISK_FULL:
        return "disk_full";
    case BRIDGE_REC_WRITE_ERROR:
        return "write_error";
    default:
        return "ok";
    }
}

/* --- the worker's side: no allocation, no lock, no log ------------------------------------ */

static void
count_drop(BridgeRecorder *rec, gint64 now_us)
{
    if (rec->dropped++ == 0) {
        rec->dropped_at_us = (guint64)MAX(now_us - rec->start_us, 0);
        g_atomic_int_inc(&rec->overflows);
    }
    cc_metric_inc(rec->metrics->dropped_overflow);
}

/* Room for an entry with `body` bytes after its header; a pending damage marker goes
 * first. NULL (and the entry counted as a dropped packet) when the queue is full. */
static guint8 *
reserve(BridgeRecorder *rec, gsize body, gint64 now_us)
{
    if (rec->dropped > 0) {
        guint8 *at = bridge_rec_queue_reserve(rec->queue, sizeof(Entry));
        if (at == NULL) {
            count_drop(rec, now_us);
            return NULL;
        }
        Entry e = {.type = ENTRY_DAMAGE, .time_us = rec->dropped_at_us, .count = rec->dropped};
        memcpy(at, &e, sizeof e);
        bridge_rec_queue_commit(rec->queue);
        rec->dropped = 0;
    }
    guint8 *at = bridge_rec_queue_reserve(rec->queue, sizeof(Entry) + body);
    if (at == NULL)
        count_drop(rec, now_us);
    return at;
}

static gint
declare(BridgeRecorder *rec, const Entry *stream, const char *codec, const char *owner,
        gint64 now_us)
{
    if (rec->next_stream >= CC_RECORDING_MAX_STREAMS) {
        cc_metric_inc(rec->metrics->dropped_streams);
        return -1;
    }
    gsize codec_len = strlen(codec);
    gsize owner_len = owner != NULL ? strlen(owner) : 0;
    if (owner_len > CC_RECORDING_MAX_OWNER)
        owner_len = 0; /* cannot happen with Colibri2 ids; then the owner is unknown */
    guint8 *at = reserve(rec, codec_len + 1 + owner_len + 1, now_us);
    if (at == NULL)
        return -1;
    Entry e = *stream;
    e.type = ENTRY_STREAM;
    e.stream = (guint16)rec->next_stream;
    memcpy(at, &e, sizeof e);
    at += sizeof e;
    memcpy(at, codec, codec_len + 1);
    at += codec_len + 1;
    if (owner_len > 0)
        memcpy(at, owner, owner_len);
    at[owner_len] = '\0';
    bridge_rec_queue_commit(rec->queue);
    return (gint)rec->next_stream++;
}

static void
push_packet(BridgeRecorder *rec, gint stream, gboolean rtcp, const guint8 *buf, gsize len,
            gint64 now_us)
{
    guint8 *at = reserve(rec, len, now_us);
    if (at == NULL)
        return;
    Entry e = {.type = ENTRY_PACKET,
               .rtcp = rtcp ? 1 : 0,
               .stream = (guint16)stream,
               .time_us = (guint64)MAX(now_us - rec->start_us, 0)};
    memcpy(at, &e, sizeof e);
    memcpy(at + sizeof e, buf, len);
    bridge_rec_queue_commit(rec->queue);
}

/* FALSE once the writer failed: nothing more goes into the queue. */
static gboolean
producing(BridgeRecorder *rec, BridgeRecStreams *streams)
{
    if (g_atomic_int_get(&rec->failure) != BRIDGE_REC_OK)
        return FALSE;
    if (streams->serial != rec->serial) {
        streams->serial = rec->serial;
        streams->n = 0;
        streams->rtcp = -1;
    }
    return TRUE;
}

static gint
rtp_stream(BridgeRecorder *rec, BridgeRecStreams *streams, const char *owner, gboolean video,
           guint32 ssrc, guint8 pt, gint64 now_us)
{
    for (guint i = 0; i < streams->n; i++) {
        if (streams->slots[i].ssrc == ssrc && streams->slots[i].payload_type == pt)
            return streams->slots[i].id;
    }
    if (streams->n >= BRIDGE_REC_STREAMS_PER_ENDPOINT) {
        cc_metric_inc(rec->metrics->dropped_streams);
        return -1;
    }
    char scratch[BRIDGE_REC_CODEC_SCRATCH];
    Entry e = {
        .kind = video ? CC_RECORDING_VIDEO : CC_RECORDING_AUDIO, .payload_type = pt, .ssrc = ssrc};
    const char *codec = bridge_rec_codec(pt, video, scratch, &e.clock_rate);
    gint id = declare(rec, &e, codec, owner, now_us);
    if (id >= 0)
        streams->slots[streams->n++] = (BridgeRecStreamSlot){ssrc, pt, (guint16)id};
    return id;
}

void
bridge_recorder_rtp(BridgeRecorder *rec, BridgeRecStreams *streams, const char *owner,
                    gboolean video, guint32 ssrc, guint8 pt, const guint8 *buf, gsize len,
                    gint64 now_us)
{
    if (!producing(rec, streams))
        return;
    gint id = rtp_stream(rec, streams, owner, video, ssrc, pt & 0x7f, now_us);
    if (id >= 0)
        push_packet(rec, id, FALSE, buf, len, now_us);
}

void
bridge_recorder_rtcp(BridgeRecorder *rec, BridgeRecStreams *streams, const char *owner,
                     gboolean video, guint32 ssrc, const guint8 *buf, gsize len, gint64 now_us)
{
    if (!producing(rec, streams))
        return;
    if (streams->rtcp < 0) {
        Entry e = {.kind = video ? CC_RECORDING_VIDEO : CC_RECORDING_AUDIO,
                   .ssrc = ssrc,
                   .clock_rate = video ? 90000 : 48000};
        streams->rtcp = declare(rec, &e, "rtcp", owner, now_us);
        if (streams->rtcp < 0)
            return;
    }
    push_packet(rec, streams->rtcp, TRUE, buf, len, now_us);
}

/* --- the writer thread ------------------------------------------------------------------ */

static void
account(BridgeRecorder *rec)
{
    guint64 bytes, chunks;
    cc_recording_writer_progress(rec->writer, &bytes, &chunks);
    cc_metric_add(rec->metrics->bytes, (gint64)(bytes - rec->last_bytes));
    cc_metric_add(rec->metrics->chunks, (gint64)(chunks - rec->last_chunks));
    cc_metric_add(rec->metrics->packets, (gint64)rec->packets);
    rec->last_bytes = bytes;
    rec->last_chunks = chunks;
    rec->packets = 0;
}

static BridgeRecFailure
classify(const GError *error)
{
    /* The writer says why a write failed only in its message (strerror). */
    if (strstr(error->message, g_strerror(ENOSPC)) != NULL ||
        strstr(error->message, g_strerror(EDQUOT)) != NULL)
        return BRIDGE_REC_DISK_FULL;
    return BRIDGE_REC_WRITE_ERROR;
}

/* The writer is spent: the file stays as it is (without its final chunk, so readers see it
 * truncated), and the worker stops feeding the queue. */
static gboolean
fail(BridgeRecorder *rec, GError *error)
{
    account(rec);
    g_clear_pointer(&rec->writer, cc_recording_writer_free);
    BridgeRecFailure failure = classify(error);
    g_warning("recording %s failed (%s): %s", rec->path, bridge_rec_failure_reason(failure),
              error->message);
    rec->error = error;
    g_atomic_int_set(&rec->failure, failure);
    return FALSE;
}

static gboolean
write_stream(BridgeRecorder *rec, const Entry *e, const guint8 *body)
{
    const char *codec = (const char *)body;
    CcRecordingStream stream = {.kind = e->kind,
                                .codec = codec,
                                .payload_type = e->payload_type,
                                .clock_rate = e->clock_rate,
                                .ssrc = e->ssrc,
                                .owner = codec + strlen(codec) + 1};
    GError *error = NULL;
    guint16 id;
    gint32 mapped = -1;
    if (cc_recording_writer_add_stream(rec->writer, &stream, &id, &error)) {
        mapped = id;
    } else if (g_error_matches(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_INVALID_ARG)) {
        g_warning("recording %s: a stream was refused; its packets are not recorded", rec->path);
        g_clear_error(&error);
    } else {
        return fail(rec, error);
    }
    g_array_append_val(rec->ids, mapped); /* at index e->stream: ids come in order */
    return TRUE;
}

static gboolean
write_entry(BridgeRecorder *rec, const guint8 *data, gsize len)
{
    Entry e;
    memcpy(&e, data, sizeof e);
    const guint8 *body = data + sizeof e;
    GError *error = NULL;
    if (e.type == ENTRY_STREAM)
        return write_stream(rec, &e, body);
    if (e.type == ENTRY_DAMAGE) {
        char reason[64];
        g_snprintf(reason, sizeof reason, "queue overflow: %" G_GUINT64_FORMAT " packets dropped",
                   e.count);
        return cc_recording_writer_mark_damaged(rec->writer, e.time_us, reason, &error) ||
               fail(rec, error);
    }
    gint32 id = e.stream < rec->ids->len ? g_array_index(rec->ids, gint32, e.stream) : -1;
    if (id < 0)
        return TRUE;
    if (!cc_recording_writer_add_packet(rec->writer, (guint16)id, e.time_us, e.rtcp != 0, body,
                                        len - sizeof e, &error))
        return fail(rec, error);
    rec->packets++;
    return TRUE;
}

/* Writes up to BATCH queued entries; how many there were, or -1 on a failure. */
static gint
drain(BridgeRecorder *rec)
{
    gint n = 0;
    gsize len;
    const guint8 *data;
    while (n < BATCH && (data = bridge_rec_queue_peek(rec->queue, &len)) != NULL) {
        rec->taken += len;
        gboolean ok = write_entry(rec, data, len);
        bridge_rec_queue_release(rec->queue);
        if (!ok)
            return -1;
        n++;
    }
    account(rec);
    return n;
}

/* The end: a damage marker for packets dropped since the last one, the final chunk. */
static void
close_file(BridgeRecorder *rec)
{
    GError *error = NULL;
    if (rec->dropped > 0) {
        char reason[64];
        g_snprintf(reason, sizeof reason, "queue overflow: %" G_GUINT64_FORMAT " packets dropped",
                   rec->dropped);
        if (!cc_recording_writer_mark_damaged(rec->writer, rec->dropped_at_us, reason, &error)) {
            fail(rec, error);
            return;
        }
    }
    if (!cc_recording_writer_close(rec->writer, &error)) {
        fail(rec, error);
        return;
    }
    account(rec);
    g_clear_pointer(&rec->writer, cc_recording_writer_free);
}

static gpointer
writer_main(gpointer data)
{
    BridgeRecorder *rec = data;
    for (;;) {
        cc_mutex_lock(&rec->lock);
        gboolean stopping = rec->stopping;
        cc_mutex_unlock(&rec->lock);
        gint n = drain(rec);
        if (n < 0)
            return NULL;
        if (stopping && n < BATCH) {
            close_file(rec);
            return NULL;
        }
        GError *error = NULL;
        gint64 now = g_get_monotonic_time();
        if (now - rec->last_flush_us >= FLUSH_US) {
            rec->last_flush_us = now;
            if (!cc_recording_writer_flush(rec->writer, &error)) {
                fail(rec, error);
                return NULL;
            }
            account(rec);
        }
        if (n > 0)
            continue;
        gboolean busy = rec->taken > bridge_rec_queue_capacity(rec->queue) / 8;
        rec->taken = 0;
        cc_mutex_lock(&rec->lock);
        if (!rec->stopping)
            cc_cond_wait_until(&rec->cond, &rec->lock, now + (busy ? POLL_BUSY_US : POLL_US));
        cc_mutex_unlock(&rec->lock);
    }
}

/* --- the control side ------------------------------------------------------------------- */

BridgeRecorder *
bridge_recorder_new(const char *path, EVP_PKEY *recipient, gsize queue_size,
                    const BridgeRecMetrics *metrics, GError **error)
{
    CcRecordingWriter *writer = cc_recording_writer_open(path, recipient, error);
    if (writer == NULL)
        return NULL;
    BridgeRecorder *rec = g_new0(BridgeRecorder, 1);
    rec->path = g_strdup(path);
    rec->metrics = metrics;
    rec->writer = writer;
    rec->queue = bridge_rec_queue_new(queue_size);
    rec->ids = g_array_new(FALSE, FALSE, sizeof(gint32));
    rec->serial = (guint)g_atomic_int_add(&next_serial, 1) + 1;
    rec->start_us = g_get_monotonic_time();
    rec->last_flush_us = rec->start_us;
    g_mutex_init(&rec->lock);
    g_cond_init(&rec->cond);
    account(rec); /* the header */
    rec->thread = g_thread_new("recording", writer_main, rec);
    return rec;
}

guint
bridge_recorder_overflows(BridgeRecorder *rec)
{
    return (guint)g_atomic_int_get(&rec->overflows);
}

BridgeRecFailure
bridge_recorder_failure(BridgeRecorder *rec)
{
    return g_atomic_int_get(&rec->failure);
}

const char *
bridge_recorder_path(BridgeRecorder *rec)
{
    return rec->path;
}

gboolean
bridge_recorder_finish(BridgeRecorder *rec, BridgeRecFailure *failure, GError **error)
{
    if (!rec->finished) {
        cc_mutex_lock(&rec->lock);
        rec->stopping = TRUE;
        g_cond_signal(&rec->cond);
        cc_mutex_unlock(&rec->lock);
        g_thread_join(rec->thread);
        rec->thread = NULL;
        rec->finished = TRUE;
    }
    BridgeRecFailure f = bridge_recorder_failure(rec);
    if (failure != NULL)
        *failure = f;
    if (f == BRIDGE_REC_OK)
        return TRUE;
    if (error != NULL)
        *error = g_error_copy(rec->error);
    return FALSE;
}

void
bridge_recorder_free(BridgeRecorder *rec, gboolean discard)
{
    if (rec == NULL)
        return;
    bridge_recorder_finish(rec, NULL, NULL);
    if (discard)
        g_unlink(rec->path);
    bridge_rec_queue_free(rec->queue);
    g_array_unref(rec->ids);
    g_clear_error(&rec->error);
    g_mutex_clear(&rec->lock);
    g_cond_clear(&rec->cond);
    g_free(rec->path);
    g_free(rec);
}
