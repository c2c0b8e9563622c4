/* Unit tests of bridge/rec-queue.c and bridge/recorder.c: the queue keeps entries intact and
 * in order across the wrap, refuses what does not fit, and carries a million entries from
 * one thread to another; the recorder declares one stream per (SSRC, payload type) and one
 * RTCP stream per endpoint, with the codec and owner docs/recording.md promises, writes the
 * packets byte for byte, marks an overflow as damage (recorded + dropped = fed), and stops
 * feeding the queue once a write failed. Files are read back with the recording reader. */
#include "../check-main.h"
#include "cc-autoptr.h"
#include "rec-queue.h"
#include "recorder.h"
#include "rtp.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>

static char *dir, *priv_path, *pub_path;
static CcMetrics *metrics;
static BridgeRecMetrics m;

static void
setup(void)
{
    dir = g_dir_make_tmp("cc-recorder-XXXXXX", NULL);
    priv_path = g_build_filename(dir, "rec.key", NULL);
    pub_path = g_build_filename(dir, "rec.pub", NULL);
    ck_assert(cc_recording_keygen(priv_path, pub_path, NULL));
    metrics = cc_metrics_new();
    m.active = cc_metrics_gauge(metrics, "a", "a", NULL);
    m.started = cc_metrics_counter(metrics, "s", "s", NULL);
    m.bytes = cc_metrics_counter(metrics, "b", "b", NULL);
    m.chunks = cc_metrics_counter(metrics, "c", "c", NULL);
    m.packets = cc_metrics_counter(metrics, "p", "p", NULL);
    m.dropped_overflow = cc_metrics_counter(metrics, "d", "d", "reason", "o", NULL);
    m.dropped_streams = cc_metrics_counter(metrics, "d", "d", "reason", "s", NULL);
    m.failed_create = cc_metrics_counter(metrics, "f", "f", "reason", "c", NULL);
    m.failed_disk_full = cc_metrics_counter(metrics, "f", "f", "reason", "d", NULL);
    m.failed_write_error = cc_metrics_counter(metrics, "f", "f", "reason", "w", NULL);
}

static void
teardown(void)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_unlink(path);
    }
    g_rmdir(dir);
    g_clear_pointer(&dir, g_free);
    g_clear_pointer(&priv_path, g_free);
    g_clear_pointer(&pub_path, g_free);
    g_clear_pointer(&metrics, cc_metrics_free);
}

/* --- the queue ------------------------------------------------------------------------- */

START_TEST(test_queue_wrap_and_full)
{
    BridgeRecQueue *q = bridge_rec_queue_new(1000);
    ck_assert_uint_eq(bridge_rec_queue_capacity(q), BRIDGE_REC_QUEUE_MIN);
    gsize len;
    ck_assert_ptr_null(bridge_rec_queue_peek(q, &len));
    ck_assert_ptr_null(bridge_rec_queue_reserve(q, BRIDGE_REC_QUEUE_MIN)); /* never fits */
    guint next_in = 0, next_out = 0;
    for (guint round = 0; round < 200; round++) {
        /* Fill it up with entries of varied sizes, then take some out. */
        guint8 *at;
        gsize size = 100 + (next_in * 37) % 1400;
        while ((at = bridge_rec_queue_reserve(q, size)) != NULL) {
            memset(at, (int)(next_in & 0xff), size);
            bridge_rec_queue_commit(q);
            next_in++;
            size = 100 + (next_in * 37) % 1400;
        }
        for (guint k = 0; k < 1 + round % 7; k++) {
            const guint8 *e = bridge_rec_queue_peek(q, &len);
            ck_assert_ptr_nonnull(e);
            ck_assert_uint_eq(len, 100 + (next_out * 37) % 1400);
            for (gsize i = 0; i < len; i++)
                ck_assert_uint_eq(e[i], next_out & 0xff);
            bridge_rec_queue_release(q);
            next_out++;
        }
    }
    while (bridge_rec_queue_peek(q, &len) != NULL) {
        bridge_rec_queue_release(q);
        next_out++;
    }
    ck_assert_uint_eq(next_in, next_out);
    ck_assert_uint_gt(next_in, 2 * BRIDGE_REC_QUEUE_MIN / 1500); /* it wrapped, many times */
    bridge_rec_queue_free(q);
}
END_TEST

#define THREADED_ENTRIES 1000000

static gpointer
consume(gpointer data)
{
    BridgeRecQueue *q = data;
    guint32 expected = 0;
    while (expected < THREADED_ENTRIES) {
        gsize len;
        const guint8 *e = bridge_rec_queue_peek(q, &len);
        if (e == NULL) {
            g_thread_yield();
            continue;
        }
        guint32 v;
        memcpy(&v, e, 4);
        if (v != expected || len != 4 + v % 200 || (len > 4 && e[len - 1] != (guint8)v))
            return GUINT_TO_POINTER(1);
        bridge_rec_queue_release(q);
        expected++;
    }
    return NULL;
}

START_TEST(test_queue_threads)
{
    BridgeRecQueue *q = bridge_rec_queue_new(BRIDGE_REC_QUEUE_MIN);
    GThread *t = g_thread_new("consumer", consume, q);
    for (guint32 v = 0; v < THREADED_ENTRIES;) {
        guint8 *at = bridge_rec_queue_reserve(q, 4 + v % 200);
        if (at == NULL) {
            g_thread_yield();
            continue;
        }
        memcpy(at, &v, 4);
        memset(at + 4, (guint8)v, v % 200);
        bridge_rec_queue_commit(q);
        v++;
    }
    ck_assert_ptr_null(g_thread_join(t));
    bridge_rec_queue_free(q);
}
END_TEST

/* --- the recorder ---------------------------------------------------------------------- */

static gsize
rtp(guint8 *buf, guint8 pt, guint16 seq, guint32 ssrc, gsize payload)
{
    gsize off = bridge_rtp_write_header(buf, pt, FALSE, seq, seq * 960u, ssrc);
    for (gsize i = 0; i < payload; i++)
        buf[off + i] = (guint8)(ssrc + seq + i);
    return off + payload;
}

static char *
path_of(const char *name)
{
    return g_build_filename(dir, name, NULL);
}

typedef struct {
    GPtrArray *streams; /* CcRecordingStream copies (codec, owner as strings) */
    GPtrArray *packets; /* GBytes, in file order */
    GArray *packet_streams;
    GArray *rtcp_flags;
    guint64 dropped; /* summed from the damage markers */
    guint damaged;
    GError *error;
} Read;

static void
read_free(Read *r)
{
    g_ptr_array_unref(r->streams);
    g_ptr_array_unref(r->packets);
    g_array_unref(r->packet_streams);
    g_array_unref(r->rtcp_flags);
    g_clear_error(&r->error);
}

static void
stream_copy_free(gpointer data)
{
    CcRecordingStream *s = data;
    g_free((char *)s->codec);
    g_free((char *)s->owner);
    g_free(s);
}

static void
read_record(Read *r, const CcRecordingRecord *rec)
{
    if (rec->type == CC_RECORDING_RECORD_STREAM) {
        CcRecordingStream *s = g_memdup2(rec->stream, sizeof *s);
        s->codec = g_strdup(rec->stream->codec);
        s->owner = g_strdup(rec->stream->owner);
        g_ptr_array_add(r->streams, s);
    } else if (rec->type == CC_RECORDING_RECORD_PACKET) {
        g_ptr_array_add(r->packets, g_bytes_new(rec->data, rec->len));
        guint id = rec->stream->id;
        g_array_append_val(r->packet_streams, id);
        g_array_append_val(r->rtcp_flags, rec->rtcp);
    } else if (rec->type == CC_RECORDING_RECORD_DAMAGED) {
        const char *n = strstr(rec->reason, "queue overflow: ");
        ck_assert_ptr_nonnull(n);
        r->dropped += g_ascii_strtoull(n + strlen("queue overflow: "), NULL, 10);
        r->damaged++;
    }
}

static Read
read_all(const char *path)
{
    Read r = {g_ptr_array_new_with_free_func(stream_copy_free),
              g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref),
              g_array_new(FALSE, FALSE, sizeof(guint)),
              g_array_new(FALSE, FALSE, sizeof(gboolean))};
    g_autoptr(EVP_PKEY) key = cc_recording_private_key_load(priv_path, NULL);
    ck_assert_ptr_nonnull(key);
    g_autoptr(CcRecordingReader) reader = cc_recording_reader_open(path, key, &r.error);
    ck_assert_ptr_nonnull(reader);
    CcRecordingRecord rec;
    while (cc_recording_reader_next(reader, &rec, &r.error)) {
        if (rec.type == CC_RECORDING_RECORD_END)
            return r;
        read_record(&r, &rec);
    }
    return r; /* r.error says why it ended early */
}

static BridgeRecorder *
recorder(const char *name, gsize queue)
{
    g_autofree char *path = path_of(name);
    g_autoptr(EVP_PKEY) key = cc_recording_public_key_load(pub_path, NULL);
    g_autoptr(GError) error = NULL;
    BridgeRecorder *rec = bridge_recorder_new(path, key, queue, &m, &error);
    ck_assert_msg(rec != NULL, "%s", error ? error->message : "");
    return rec;
}

START_TEST(test_streams_and_packets)
{
    BridgeRecorder *rec = recorder("a.ccrec", 1 << 20);
    BridgeRecStreams alice = {0}, bob = {0};
    guint8 buf[1500];
    gint64 now = g_get_monotonic_time();
    GPtrArray *sent = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    for (guint16 i = 0; i < 300; i++) {
        gsize n = rtp(buf, 111, i, 1111, 80);
        bridge_recorder_rtp(rec, &alice, "occ-alice", FALSE, 1111, 111, buf, n, now + i);
        g_ptr_array_add(sent, g_bytes_new(buf, n));
        n = rtp(buf, i % 10 == 9 ? 97 : 100, i, 2222, 1000); /* VP8, and rtx on the same SSRC */
        bridge_recorder_rtp(rec, &bob, NULL, TRUE, 2222, buf[1] & 0x7f, buf, n, now + i);
        g_ptr_array_add(sent, g_bytes_new(buf, n));
        if (i % 100 == 0) {
            memset(buf, 0, 28);
            buf[0] = 0x80, buf[1] = 200, buf[3] = 6;
            bridge_recorder_rtcp(rec, &bob, NULL, TRUE, 2222, buf, 28, now + i);
            g_ptr_array_add(sent, g_bytes_new(buf, 28));
        }
    }
    gsize n = rtp(buf, 33, 1, 3333, 50); /* a payload type the focus never offers */
    bridge_recorder_rtp(rec, &alice, "occ-alice", TRUE, 3333, 33, buf, n, now + 400);
    g_ptr_array_add(sent, g_bytes_new(buf, n));
    BridgeRecFailure failure;
    ck_assert(bridge_recorder_finish(rec, &failure, NULL));
    ck_assert_int_eq(failure, BRIDGE_REC_OK);
    g_autofree char *path = path_of("a.ccrec");
    Read r = read_all(path);
    ck_assert_msg(r.error == NULL, "%s", r.error ? r.error->message : "");
    /* In order of first packet: opus (alice), VP8 (bob), bob's RTCP, rtx (bob), pt-33. */
    ck_assert_uint_eq(r.streams->len, 5);
    const char *codecs[] = {"opus", "VP8", "rtcp", "rtx", "pt-33"};
    const char *owners[] = {"occ-alice", "", "", "", "occ-alice"};
    const guint32 clocks[] = {48000, 90000, 90000, 90000, 90000};
    const guint32 ssrcs[] = {1111, 2222, 2222, 2222, 3333};
    for (guint i = 0; i < 5; i++) {
        const CcRecordingStream *s = g_ptr_array_index(r.streams, i);
        ck_assert_str_eq(s->codec, codecs[i]);
        ck_assert_str_eq(s->owner, owners[i]);
        ck_assert_uint_eq(s->clock_rate, clocks[i]);
        ck_assert_uint_eq(s->ssrc, ssrcs[i]);
        ck_assert_int_eq(s->kind, i == 0 ? CC_RECORDING_AUDIO : CC_RECORDING_VIDEO);
    }
    ck_assert_uint_eq(r.packets->len, sent->len);
    for (guint i = 0; i < sent->len; i++)
        ck_assert(g_bytes_equal(g_ptr_array_index(r.packets, i), g_ptr_array_index(sent, i)));
    ck_assert_uint_eq(r.damaged, 0);
    ck_assert_int_eq(cc_metric_get(m.packets), sent->len);
    GStatBuf st;
    ck_assert_int_eq(g_stat(path, &st), 0);
    ck_assert_int_eq(cc_metric_get(m.bytes), st.st_size);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_ge(cc_metric_get(m.chunks), 5); /* ~400 KB in 64 KiB chunks */
    read_free(&r);
    g_ptr_array_unref(sent);
    bridge_recorder_free(rec, FALSE);
    ck_assert(g_file_test(path, G_FILE_TEST_EXISTS));
}
END_TEST

START_TEST(test_overflow_is_damage)
{
    BridgeRecorder *rec = recorder("b.ccrec", BRIDGE_REC_QUEUE_MIN);
    BridgeRecStreams ep = {0};
    guint8 buf[1500];
    guint fed = 0;
    for (guint burst = 0; burst < 5; burst++) {
        for (guint i = 0; i < 200; i++, fed++) {
            gsize n = rtp(buf, 100, (guint16)fed, 4444, 1200);
            bridge_recorder_rtp(rec, &ep, "x", TRUE, 4444, 100, buf, n, g_get_monotonic_time());
        }
        g_usleep(150000); /* the writer catches up: the next packet ends the episode */
    }
    ck_assert_uint_ge(bridge_recorder_overflows(rec), 1);
    gint64 dropped = cc_metric_get(m.dropped_overflow);
    ck_assert_int_gt(dropped, 0);
    ck_assert(bridge_recorder_finish(rec, NULL, NULL));
    g_autofree char *path = path_of("b.ccrec");
    Read r = read_all(path);
    ck_assert(r.error == NULL);
    ck_assert_uint_ge(r.damaged, bridge_recorder_overflows(rec));
    ck_assert_uint_eq(r.dropped, (guint64)dropped);
    ck_assert_uint_eq(r.packets->len + r.dropped, fed);
    read_free(&r);
    bridge_recorder_free(rec, FALSE);
}
END_TEST

START_TEST(test_write_failure_stops_feeding)
{
    /* A file size limit: writes past it fail with EFBIG (a write error, not a full disk). */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {200 * 1024, 200 * 1024};
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    BridgeRecorder *rec = recorder("c.ccrec", 1 << 20);
    BridgeRecStreams ep = {0};
    guint8 buf[1500];
    for (guint i = 0; i < 400 && bridge_recorder_failure(rec) == BRIDGE_REC_OK; i++) {
        gsize n = rtp(buf, 100, (guint16)i, 5555, 1200);
        bridge_recorder_rtp(rec, &ep, NULL, TRUE, 5555, 100, buf, n, g_get_monotonic_time());
        g_usleep(1000);
    }
    for (int i = 0; i < 200 && bridge_recorder_failure(rec) == BRIDGE_REC_OK; i++)
        g_usleep(10000);
    ck_assert_int_eq(bridge_recorder_failure(rec), BRIDGE_REC_WRITE_ERROR);
    gint64 dropped = cc_metric_get(m.dropped_overflow);
    for (guint i = 0; i < 100; i++) { /* ignored: neither queued nor counted as dropped */
        gsize n = rtp(buf, 100, (guint16)i, 5555, 1200);
        bridge_recorder_rtp(rec, &ep, NULL, TRUE, 5555, 100, buf, n, g_get_monotonic_time());
    }
    ck_assert_int_eq(cc_metric_get(m.dropped_overflow), dropped);
    BridgeRecFailure failure;
    g_autoptr(GError) error = NULL;
    ck_assert(!bridge_recorder_finish(rec, &failure, &error));
    ck_assert_int_eq(failure, BRIDGE_REC_WRITE_ERROR);
    ck_assert_str_eq(bridge_rec_failure_reason(failure), "write_error");
    ck_assert(g_error_matches(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_IO));
    bridge_recorder_free(rec, FALSE);
    g_autofree char *path = path_of("c.ccrec");
    Read r = read_all(path); /* what was written reads, then the file ends early */
    ck_assert(g_error_matches(r.error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_TRUNCATED));
    ck_assert_uint_gt(r.packets->len, 50);
    read_free(&r);
}
END_TEST

START_TEST(test_discard_and_codecs)
{
    BridgeRecorder *rec = recorder("d.ccrec", BRIDGE_REC_QUEUE_MIN);
    g_autofree char *path = path_of("d.ccrec");
    ck_assert(g_file_test(path, G_FILE_TEST_EXISTS));
    bridge_recorder_free(rec, TRUE);
    ck_assert(!g_file_test(path, G_FILE_TEST_EXISTS));
    char scratch[BRIDGE_REC_CODEC_SCRATCH];
    guint32 clock;
    ck_assert_str_eq(bridge_rec_codec(111, FALSE, scratch, &clock), "opus");
    ck_assert_uint_eq(clock, 48000);
    ck_assert_str_eq(bridge_rec_codec(101, TRUE, scratch, &clock), "VP9");
    ck_assert_str_eq(bridge_rec_codec(107, TRUE, scratch, &clock), "H264");
    ck_assert_str_eq(bridge_rec_codec(99, TRUE, scratch, &clock), "rtx");
    ck_assert_uint_eq(clock, 90000);
    ck_assert_str_eq(bridge_rec_codec(127, FALSE, scratch, &clock), "pt-127");
    ck_assert_uint_eq(clock, 48000);
    /* The file exists already: never overwritten. */
    g_autoptr(EVP_PKEY) key = cc_recording_public_key_load(pub_path, NULL);
    g_autoptr(GError) error = NULL;
    ck_assert_ptr_null(bridge_recorder_new(priv_path, key, 0, &m, &error));
    ck_assert(g_error_matches(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_IO));
}
END_TEST

static Suite *
recorder_suite(void)
{
    Suite *s = suite_create("recorder");
    TCase *tc = tcase_create("recorder");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_queue_wrap_and_full);
    tcase_add_test(tc, test_queue_threads);
    tcase_add_test(tc, test_streams_and_packets);
    tcase_add_test(tc, test_overflow_is_damage);
    tcase_add_test(tc, test_write_failure_stops_feeding);
    tcase_add_test(tc, test_discard_and_codecs);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(recorder_suite)
