/* Unit tests of the encrypted recording format (common/recording-*.c): round trip, key
 * files, wrong key, tampering with the header and with chunks, truncation at every kind of
 * place, reordered and replayed chunks, write failures, and the reader's checks across
 * records in files only the public key was needed to make. */
#include "../check-main.h"
#include "cc-autoptr.h"
#include "cc-error.h"
#include "recording-file.h"
#include "recording-format.h"

#include <glib/gstdio.h>
#include <openssl/pem.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

static char *dir;
static char *priv_path, *pub_path, *rec_path;
static EVP_PKEY *pub, *priv;

static void
setup(void)
{
    dir = g_dir_make_tmp("cc-recording-XXXXXX", NULL);
    priv_path = g_build_filename(dir, "rec.key", NULL);
    pub_path = g_build_filename(dir, "rec.pub", NULL);
    rec_path = g_build_filename(dir, "conference.ccrec", NULL);
    ck_assert(cc_recording_keygen(priv_path, pub_path, NULL));
    pub = cc_recording_public_key_load(pub_path, NULL);
    priv = cc_recording_private_key_load(priv_path, NULL);
    ck_assert(pub != NULL && priv != NULL);
}

static void
teardown(void)
{
    g_clear_pointer(&pub, EVP_PKEY_free);
    g_clear_pointer(&priv, EVP_PKEY_free);
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_unlink(path);
    }
    if (d != NULL)
        g_dir_close(d);
    g_rmdir(dir);
    g_clear_pointer(&dir, g_free);
    g_clear_pointer(&priv_path, g_free);
    g_clear_pointer(&pub_path, g_free);
    g_clear_pointer(&rec_path, g_free);
}

/* ---- a sample recording, regenerated identically for checking ---- */

static const CcRecordingStream sample_streams[] = {
    {.kind = CC_RECORDING_AUDIO,
     .codec = "opus",
     .payload_type = 111,
     .clock_rate = 48000,
     .ssrc = 0x11223344,
     .owner = "occupant-a/\xc3\xa9t\xc3\xa9"},
    {.kind = CC_RECORDING_VIDEO,
     .codec = "VP8",
     .payload_type = 100,
     .clock_rate = 90000,
     .ssrc = 0x55667788,
     .owner = "occupant-b"},
    {.kind = CC_RECORDING_VIDEO,
     .codec = "rtx",
     .payload_type = 96,
     .clock_rate = 90000,
     .ssrc = 0x99aabbcc,
     .owner = ""},
};

#define SAMPLE_PACKETS 400

static gsize
sample_len(guint n)
{
    /* One packet of the largest size, to show it fits a chunk. */
    return n == 123 ? CC_RECORDING_MAX_PACKET : 20 + (n * 37) % 1300;
}

static void
sample_packet(guint n, guint8 *out)
{
    for (gsize i = 0; i < sample_len(n); i++)
        out[i] = (guint8)(n * 7 + i);
}

static void
write_sample(const char *path, gboolean damaged)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CcRecordingWriter) writer = cc_recording_writer_open(path, pub, &error);
    ck_assert_msg(writer != NULL, "%s", error ? error->message : "");
    for (guint i = 0; i < G_N_ELEMENTS(sample_streams); i++) {
        guint16 id = 999;
        ck_assert(cc_recording_writer_add_stream(writer, &sample_streams[i], &id, &error));
        ck_assert_uint_eq(id, i);
    }
    static guint8 buf[CC_RECORDING_MAX_PACKET];
    for (guint n = 0; n < SAMPLE_PACKETS; n++) {
        sample_packet(n, buf);
        ck_assert(cc_recording_writer_add_packet(writer, n % 3, 1000 * (guint64)n, n % 10 == 9, buf,
                                                 sample_len(n), &error));
        if (n == 50)
            ck_assert(cc_recording_writer_flush(writer, &error));
        if (damaged && n == 200)
            ck_assert(cc_recording_writer_mark_damaged(
                writer, 200000, "queue overflow: 17 packets dropped", &error));
    }
    ck_assert_msg(cc_recording_writer_close(writer, &error), "%s", error ? error->message : "");
}

/* Reads a whole file, checking it against the sample; FALSE with error on a failure. */
static gboolean
read_sample(const char *path, EVP_PKEY *key, gboolean damaged, guint *packets, GError **error)
{
    g_autoptr(CcRecordingReader) reader = cc_recording_reader_open(path, key, error);
    if (reader == NULL)
        return FALSE;
    static guint8 expected[CC_RECORDING_MAX_PACKET];
    guint n_streams = 0, n = 0, n_damaged = 0;
    CcRecordingRecord rec;
    do {
        if (!cc_recording_reader_next(reader, &rec, error))
            return FALSE;
        if (rec.type == CC_RECORDING_RECORD_STREAM) {
            const CcRecordingStream *want = &sample_streams[n_streams];
            ck_assert_uint_eq(rec.stream->id, n_streams++);
            ck_assert_int_eq(rec.stream->kind, want->kind);
            ck_assert_str_eq(rec.stream->codec, want->codec);
            ck_assert_uint_eq(rec.stream->payload_type, want->payload_type);
            ck_assert_uint_eq(rec.stream->clock_rate, want->clock_rate);
            ck_assert_uint_eq(rec.stream->ssrc, want->ssrc);
            ck_assert_str_eq(rec.stream->owner, want->owner);
        } else if (rec.type == CC_RECORDING_RECORD_PACKET) {
            ck_assert_uint_eq(rec.stream->id, n % 3);
            ck_assert_uint_eq(rec.time_us, 1000 * (guint64)n);
            ck_assert_int_eq(rec.rtcp, n % 10 == 9);
            ck_assert_uint_eq(rec.len, sample_len(n));
            sample_packet(n, expected);
            ck_assert(memcmp(rec.data, expected, rec.len) == 0);
            n++;
        } else if (rec.type == CC_RECORDING_RECORD_DAMAGED) {
            ck_assert_uint_eq(rec.time_us, 200000);
            ck_assert_str_eq(rec.reason, "queue overflow: 17 packets dropped");
            n_damaged++;
        }
        if (packets != NULL)
            *packets = n;
    } while (rec.type != CC_RECORDING_RECORD_END);
    ck_assert_uint_eq(n, SAMPLE_PACKETS);
    ck_assert_uint_eq(rec.packet_count, SAMPLE_PACKETS);
    ck_assert_uint_eq(n_damaged, damaged ? 1 : 0);
    ck_assert_uint_eq(cc_recording_reader_n_streams(reader), 3);
    ck_assert_ptr_null(cc_recording_reader_stream(reader, 3));
    /* Nothing after END. */
    ck_assert(!cc_recording_reader_next(reader, &rec, NULL));
    return TRUE;
}

static GBytes *
load(const char *path)
{
    char *data = NULL;
    gsize len = 0;
    ck_assert(g_file_get_contents(path, &data, &len, NULL));
    return g_bytes_new_take(data, len);
}

static void
save(const char *path, const guint8 *data, gsize len)
{
    g_unlink(path);
    ck_assert(g_file_set_contents(path, (const char *)data, (gssize)len, NULL));
}

/* Where each chunk starts; the last entry is the end of the file. */
static GArray *
chunk_offsets(GBytes *file)
{
    gsize len = 0;
    const guint8 *p = g_bytes_get_data(file, &len);
    GArray *offsets = g_array_new(FALSE, FALSE, sizeof(gsize));
    gsize at = CC_REC_HEADER_LEN;
    while (at < len) {
        g_array_append_val(offsets, at);
        at += CC_REC_FRAME_LEN + cc_rec_get_u32(p + at + 1) + CC_REC_TAG_LEN;
    }
    ck_assert_uint_eq(at, len);
    g_array_append_val(offsets, at);
    return offsets;
}

static gsize
offset_at(GArray *offsets, guint i)
{
    return g_array_index(offsets, gsize, i);
}

/* Reads a whole file without looking at its records. */
static gboolean
read_through(const char *path, GError **error)
{
    g_autoptr(CcRecordingReader) reader = cc_recording_reader_open(path, priv, error);
    CcRecordingRecord rec = {0};
    while (reader != NULL && rec.type != CC_RECORDING_RECORD_END)
        if (!cc_recording_reader_next(reader, &rec, error))
            return FALSE;
    return reader != NULL;
}

/* Reads rec_path and expects a failure with this code and message part. */
static void
expect_failure(gint code, const char *message)
{
    g_autoptr(GError) error = NULL;
    ck_assert(!read_through(rec_path, &error));
    ck_assert_ptr_nonnull(error);
    ck_assert_msg(g_error_matches(error, CC_RECORDING_ERROR, code) &&
                      strstr(error->message, message) != NULL,
                  "expected [%d] '%s', got [%d] '%s'", code, message, error->code, error->message);
}

START_TEST(test_round_trip)
{
    write_sample(rec_path, FALSE);
    g_autoptr(GError) error = NULL;
    guint packets = 0;
    ck_assert_msg(read_sample(rec_path, priv, FALSE, &packets, &error), "%s",
                  error ? error->message : "");
    g_autoptr(GBytes) file = load(rec_path);
    g_autoptr(GArray) offsets = chunk_offsets(file);
    ck_assert_uint_ge(offsets->len - 1, 5); /* several full chunks, a flushed one, the final */

    struct stat st;
    ck_assert_int_eq(stat(rec_path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);

    /* The file's key id is the key's. */
    g_autoptr(CcRecordingReader) reader = cc_recording_reader_open(rec_path, priv, &error);
    g_autofree char *id = cc_recording_key_id(pub, &error);
    ck_assert_str_eq(cc_recording_reader_key_id(reader), id);
    ck_assert_uint_eq(strlen(id), CC_RECORDING_KEY_ID_HEX_LEN);
}
END_TEST

START_TEST(test_damaged_round_trip)
{
    write_sample(rec_path, TRUE);
    g_autoptr(GError) error = NULL;
    ck_assert_msg(read_sample(rec_path, priv, TRUE, NULL, &error), "%s",
                  error ? error->message : "");
}
END_TEST

START_TEST(test_empty_recording)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CcRecordingWriter) writer = cc_recording_writer_open(rec_path, pub, &error);
    ck_assert(cc_recording_writer_close(writer, &error));
    ck_assert(!cc_recording_writer_add_packet(writer, 0, 0, FALSE, (const guint8 *)"x", 1, &error));
    g_clear_error(&error);
    ck_assert(!cc_recording_writer_close(writer, &error));
    ck_assert(g_error_matches(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_FAILED));
    g_clear_error(&error);
    g_autoptr(CcRecordingReader) reader = cc_recording_reader_open(rec_path, priv, &error);
    CcRecordingRecord rec;
    ck_assert(cc_recording_reader_next(reader, &rec, &error));
    ck_assert_int_eq(rec.type, CC_RECORDING_RECORD_END);
    ck_assert_uint_eq(rec.packet_count, 0);
    ck_assert_uint_eq(cc_recording_reader_chunks(reader), 1);
}
END_TEST

START_TEST(test_wrong_key)
{
    write_sample(rec_path, FALSE);
    g_autofree char *other_priv = g_build_filename(dir, "other.key", NULL);
    g_autofree char *other_pub = g_build_filename(dir, "other.pub", NULL);
    ck_assert(cc_recording_keygen(other_priv, other_pub, NULL));
    g_autoptr(EVP_PKEY) other = cc_recording_private_key_load(other_priv, NULL);
    g_autoptr(GError) error = NULL;
    ck_assert(!read_sample(rec_path, other, FALSE, NULL, &error));
    ck_assert(g_error_matches(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_WRONG_KEY));
    g_autofree char *file_id = cc_recording_key_id(pub, NULL);
    g_autofree char *other_id = cc_recording_key_id(other, NULL);
    g_autofree char *expected = g_strdup_printf(
        "wrong key (key id %s does not match the private key's %s)", file_id, other_id);
    ck_assert_str_eq(error->message, expected);
}
END_TEST

/* Every header byte matters, and each kind of field names its own failure. */
START_TEST(test_header_tampering)
{
    write_sample(rec_path, FALSE);
    g_autoptr(GBytes) file = load(rec_path);
    gsize len = 0;
    g_autofree guint8 *copy = g_memdup2(g_bytes_get_data(file, &len), g_bytes_get_size(file));
    for (gsize i = 0; i < CC_REC_HEADER_LEN; i++) {
        copy[i] ^= 0x01;
        save(rec_path, copy, len);
        copy[i] ^= 0x01;
        if (i < 8)
            expect_failure(CC_RECORDING_ERROR_BAD_MAGIC, "bad magic (not a Conclave recording)");
        else if (i < 10)
            expect_failure(CC_RECORDING_ERROR_VERSION, "unsupported version");
        else if (i < 12)
            expect_failure(CC_RECORDING_ERROR_VERSION, "unsupported header flags");
        else if (i < 28)
            expect_failure(CC_RECORDING_ERROR_WRONG_KEY, "wrong key (key id");
        else
            expect_failure(CC_RECORDING_ERROR_AUTH, "data key unwrap failed (header tampered)");
    }
    /* Not a recording at all. */
    save(rec_path, (const guint8 *)"GIF89a", 6);
    expect_failure(CC_RECORDING_ERROR_BAD_MAGIC, "bad magic");
    save(rec_path, (const guint8 *)"", 0);
    expect_failure(CC_RECORDING_ERROR_BAD_MAGIC, "bad magic");
}
END_TEST

START_TEST(test_chunk_tampering)
{
    write_sample(rec_path, FALSE);
    g_autoptr(GBytes) file = load(rec_path);
    g_autoptr(GArray) offsets = chunk_offsets(file);
    gsize len = 0;
    g_autofree guint8 *copy = g_memdup2(g_bytes_get_data(file, &len), g_bytes_get_size(file));
    gsize chunk3 = offset_at(offsets, 3), last = offset_at(offsets, offsets->len - 2);
    /* In the ciphertext, in the tag, and the FINAL flag set or cleared. */
    const gsize places[] = {chunk3 + CC_REC_FRAME_LEN + 100, offset_at(offsets, 4) - 1, chunk3,
                            last};
    for (guint i = 0; i < G_N_ELEMENTS(places); i++) {
        copy[places[i]] ^= 0x01;
        save(rec_path, copy, len);
        copy[places[i]] ^= 0x01;
        g_autofree char *what = g_strdup_printf(
            "chunk %u failed authentication (tampered or reordered)", i < 3 ? 3 : offsets->len - 2);
        expect_failure(CC_RECORDING_ERROR_AUTH, what);
    }
    /* Unknown frame flags and impossible lengths are refused before any decryption. */
    copy[chunk3] ^= 0x80;
    save(rec_path, copy, len);
    copy[chunk3] ^= 0x80;
    expect_failure(CC_RECORDING_ERROR_CORRUPT, "chunk 3: unknown flags 0x80");
    copy[chunk3 + 1] ^= 0x01;
    save(rec_path, copy, len);
    g_autofree char *too_long = g_strdup_printf("chunk 3: length %u out of range 1..65536",
                                                cc_rec_get_u32(copy + chunk3 + 1));
    copy[chunk3 + 1] ^= 0x01;
    expect_failure(CC_RECORDING_ERROR_CORRUPT, too_long);
    /* Bytes appended after the final chunk. */
    g_autofree guint8 *longer = g_malloc(len + 1);
    memcpy(longer, copy, len);
    longer[len] = 0;
    save(rec_path, longer, len + 1);
    expect_failure(CC_RECORDING_ERROR_CORRUPT, "data after the final chunk");
}
END_TEST

START_TEST(test_truncation)
{
    write_sample(rec_path, FALSE);
    g_autoptr(GBytes) file = load(rec_path);
    g_autoptr(GArray) offsets = chunk_offsets(file);
    gsize len = 0;
    const guint8 *data = g_bytes_get_data(file, &len);
    guint final = offsets->len - 2;
    struct {
        gsize cut;
        const char *message;
    } cases[] = {
        {1, "file ends inside its header (truncated)"},
        {60, "file ends inside its header (truncated)"},
        {CC_REC_HEADER_LEN, "file ends before its final chunk (truncated right after the header)"},
        {CC_REC_HEADER_LEN + 3, "(truncated inside chunk 0)"},
        {offset_at(offsets, 2), "(truncated after chunk 1)"},
        {offset_at(offsets, 2) + 4, "(truncated inside chunk 2)"},
        {offset_at(offsets, 3) - 1, "(truncated inside chunk 2)"},
        {offset_at(offsets, final), NULL}, /* exactly where the final chunk starts */
        {len - 1, NULL},
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        save(rec_path, data, cases[i].cut);
        g_autofree char *message =
            cases[i].message ? g_strdup(cases[i].message)
            : i == G_N_ELEMENTS(cases) - 2
                ? g_strdup_printf("file ends before its final chunk (truncated after chunk %u)",
                                  final - 1)
                : g_strdup_printf("(truncated inside chunk %u)", final);
        expect_failure(CC_RECORDING_ERROR_TRUNCATED, message);
    }
    /* What came before the cut was read and checked before the failure. */
    save(rec_path, data, offset_at(offsets, final));
    g_autoptr(GError) error = NULL;
    guint packets = 0;
    ck_assert(!read_sample(rec_path, priv, FALSE, &packets, &error));
    ck_assert_uint_gt(packets, SAMPLE_PACKETS / 2);
}
END_TEST

START_TEST(test_reordered_chunks)
{
    write_sample(rec_path, FALSE);
    g_autoptr(GBytes) file = load(rec_path);
    g_autoptr(GArray) offsets = chunk_offsets(file);
    gsize len = 0;
    const guint8 *data = g_bytes_get_data(file, &len);
    gsize a = offset_at(offsets, 2), b = offset_at(offsets, 3), c = offset_at(offsets, 4);

    /* Chunks 2 and 3 swapped. */
    g_autoptr(GByteArray) swapped = g_byte_array_new();
    g_byte_array_append(swapped, data, (guint)a);
    g_byte_array_append(swapped, data + b, (guint)(c - b));
    g_byte_array_append(swapped, data + a, (guint)(b - a));
    g_byte_array_append(swapped, data + c, (guint)(len - c));
    save(rec_path, swapped->data, swapped->len);
    expect_failure(CC_RECORDING_ERROR_AUTH,
                   "chunk 2 failed authentication (tampered or reordered)");

    /* Chunk 2 dropped. */
    g_autoptr(GByteArray) dropped = g_byte_array_new();
    g_byte_array_append(dropped, data, (guint)a);
    g_byte_array_append(dropped, data + b, (guint)(len - b));
    save(rec_path, dropped->data, dropped->len);
    expect_failure(CC_RECORDING_ERROR_AUTH, "chunk 2 failed authentication");

    /* Chunk 2 replayed in place of chunk 3. */
    g_autoptr(GByteArray) replayed = g_byte_array_new();
    g_byte_array_append(replayed, data, (guint)b);
    g_byte_array_append(replayed, data + a, (guint)(b - a));
    g_byte_array_append(replayed, data + c, (guint)(len - c));
    save(rec_path, replayed->data, replayed->len);
    expect_failure(CC_RECORDING_ERROR_AUTH, "chunk 3 failed authentication");

    /* A chunk of another recording (same key, other data key) spliced in. */
    g_autofree char *other_path = g_build_filename(dir, "other.ccrec", NULL);
    write_sample(other_path, FALSE);
    g_autoptr(GBytes) other = load(other_path);
    g_autoptr(GByteArray) spliced = g_byte_array_new();
    g_byte_array_append(spliced, data, (guint)a);
    g_byte_array_append(spliced, (const guint8 *)g_bytes_get_data(other, NULL) + a, (guint)(b - a));
    g_byte_array_append(spliced, data + b, (guint)(len - b));
    save(rec_path, spliced->data, spliced->len);
    expect_failure(CC_RECORDING_ERROR_AUTH, "chunk 2 failed authentication");
}
END_TEST

START_TEST(test_refuses_overwrite)
{
    ck_assert(g_file_set_contents(rec_path, "precious", -1, NULL));
    g_autoptr(GError) error = NULL;
    ck_assert_ptr_null(cc_recording_writer_open(rec_path, pub, &error));
    ck_assert(g_error_matches(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_IO));
    ck_assert_ptr_nonnull(strstr(error->message, "exists"));
    g_autofree char *content = NULL;
    ck_assert(g_file_get_contents(rec_path, &content, NULL, NULL));
    ck_assert_str_eq(content, "precious");
}
END_TEST

START_TEST(test_writer_arguments)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CcRecordingWriter) writer = cc_recording_writer_open(rec_path, pub, &error);
    CcRecordingStream bad[] = {
        {.kind = 3, .codec = "opus", .payload_type = 111, .clock_rate = 48000},
        {.kind = CC_RECORDING_AUDIO, .codec = "op us", .payload_type = 111, .clock_rate = 1},
        {.kind = CC_RECORDING_AUDIO, .codec = "", .payload_type = 111, .clock_rate = 1},
        {.kind = CC_RECORDING_AUDIO, .codec = "opus", .payload_type = 128, .clock_rate = 1},
        {.kind = CC_RECORDING_AUDIO, .codec = "opus", .payload_type = 111, .clock_rate = 0},
        {.kind = CC_RECORDING_AUDIO, .codec = "opus", .clock_rate = 1, .owner = "a\x1b[2Jb"},
        {.kind = CC_RECORDING_AUDIO, .codec = "opus", .clock_rate = 1, .owner = "\xff"},
    };
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        ck_assert_msg(!cc_recording_writer_add_stream(writer, &bad[i], NULL, &error), "%u", i);
        ck_assert(g_error_matches(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_INVALID_ARG));
        g_clear_error(&error);
    }
    static guint8 big[CC_RECORDING_MAX_PACKET + 1];
    ck_assert(!cc_recording_writer_add_packet(writer, 0, 0, FALSE, big, 10, &error));
    ck_assert_str_eq(error->message, "packet for undeclared stream 0");
    g_clear_error(&error);
    guint16 id = 0;
    ck_assert(cc_recording_writer_add_stream(writer, &sample_streams[0], &id, &error));
    ck_assert(!cc_recording_writer_add_packet(writer, id, 0, FALSE, big, sizeof big, &error));
    g_clear_error(&error);
    ck_assert(!cc_recording_writer_add_packet(writer, id, 0, FALSE, big, 0, &error));
    g_clear_error(&error);
    ck_assert(!cc_recording_writer_mark_damaged(writer, 0, "", &error));
    g_clear_error(&error);
    ck_assert(!cc_recording_writer_mark_damaged(writer, 0, "bad\nreason", &error));
    g_clear_error(&error);
    /* Refused arguments leave the writer usable. */
    ck_assert(cc_recording_writer_add_packet(writer, id, 5, FALSE, big, 12, &error));
    ck_assert(cc_recording_writer_close(writer, &error));
    g_autoptr(CcRecordingReader) reader = cc_recording_reader_open(rec_path, priv, &error);
    CcRecordingRecord rec;
    ck_assert(cc_recording_reader_next(reader, &rec, &error));
    ck_assert_int_eq(rec.type, CC_RECORDING_RECORD_STREAM);
    ck_assert(cc_recording_reader_next(reader, &rec, &error));
    ck_assert_int_eq(rec.type, CC_RECORDING_RECORD_PACKET);
    ck_assert(cc_recording_reader_next(reader, &rec, &error));
    ck_assert_int_eq(rec.type, CC_RECORDING_RECORD_END);
}
END_TEST

/* A write that fails (here: the file size limit, as a full disk would) is reported, spends
 * the writer, and leaves a file that reads as truncated. */
START_TEST(test_write_failure)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, small = {.rlim_cur = 200000};
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    small.rlim_max = old.rlim_max;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
    g_autoptr(GError) error = NULL;
    g_autoptr(CcRecordingWriter) writer = cc_recording_writer_open(rec_path, pub, &error);
    guint16 id = 0;
    ck_assert(cc_recording_writer_add_stream(writer, &sample_streams[1], &id, &error));
    static guint8 packet[1200];
    gboolean ok = TRUE;
    guint n = 0;
    for (; ok && n < 1000; n++)
        ok = cc_recording_writer_add_packet(writer, id, n, FALSE, packet, sizeof packet, &error);
    setrlimit(RLIMIT_FSIZE, &old);
    ck_assert(!ok);
    ck_assert(g_error_matches(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_IO));
    ck_assert_ptr_nonnull(strstr(error->message, "write failed: File too large"));
    ck_assert_ptr_nonnull(strstr(error->message, rec_path));
    g_clear_error(&error);
    ck_assert(!cc_recording_writer_add_packet(writer, id, n, FALSE, packet, 10, &error));
    ck_assert(g_error_matches(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_FAILED));
    ck_assert_ptr_nonnull(strstr(error->message, "the recording failed earlier"));
    g_clear_error(&error);
    ck_assert(!cc_recording_writer_close(writer, &error));
    g_clear_pointer(&writer, cc_recording_writer_free);
    expect_failure(CC_RECORDING_ERROR_TRUNCATED, "file ends before its final chunk");
}
END_TEST

START_TEST(test_key_files)
{
    struct stat st;
    ck_assert_int_eq(stat(priv_path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(stat(pub_path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0644);
    g_autoptr(GError) error = NULL;

    /* Never overwrites, and leaves nothing behind when one of the two exists. */
    g_autofree char *new_pub = g_build_filename(dir, "new.pub", NULL);
    ck_assert(!cc_recording_keygen(priv_path, new_pub, &error));
    ck_assert(!g_file_test(new_pub, G_FILE_TEST_EXISTS));
    ck_assert(g_error_matches(error, CC_ERROR, CC_ERROR_KEY_FILE));
    g_clear_error(&error);
    g_autofree char *new_priv = g_build_filename(dir, "new.key", NULL);
    ck_assert(!cc_recording_keygen(new_priv, pub_path, &error));
    ck_assert(!g_file_test(new_priv, G_FILE_TEST_EXISTS));
    g_clear_error(&error);

    /* The public loader refuses the private key; the private loader wants a private file. */
    ck_assert_ptr_null(cc_recording_public_key_load(priv_path, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "this is a private key"));
    g_clear_error(&error);
    g_chmod(priv_path, 0640);
    ck_assert_ptr_null(cc_recording_private_key_load(priv_path, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "chmod 600"));
    g_clear_error(&error);
    ck_assert_ptr_null(cc_recording_private_key_load(pub_path, &error));
    g_clear_error(&error);

    /* Keys of another type are named as such. */
    g_autoptr(EVP_PKEY) ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    g_autofree char *ec_path = g_build_filename(dir, "ec.pub", NULL);
    FILE *f = fopen(ec_path, "w");
    ck_assert(PEM_write_PUBKEY(f, ec) == 1);
    fclose(f);
    ck_assert_ptr_null(cc_recording_public_key_load(ec_path, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "recordings need an X25519 key"));
    g_clear_error(&error);
    ck_assert_ptr_null(cc_recording_writer_open(rec_path, ec, &error));
    ck_assert(g_error_matches(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_INVALID_ARG));
    ck_assert(!g_file_test(rec_path, G_FILE_TEST_EXISTS));
}
END_TEST

/* ---- files made with the public key alone: the reader's checks across records ---- */

static GBytes *
record_bytes(const char *hex)
{
    GByteArray *out = g_byte_array_new();
    for (const char *p = hex; *p != '\0';) {
        if (*p == ' ') {
            p++;
            continue;
        }
        guint8 byte = (guint8)(g_ascii_xdigit_value(p[0]) << 4 | g_ascii_xdigit_value(p[1]));
        g_byte_array_append(out, &byte, 1);
        p += 2;
    }
    return g_byte_array_free_to_bytes(out);
}

#define STREAM0 "01 0012 0000 01 6f 0000bb80 00000001 04 6f707573 00"
#define STREAM1 "01 0012 0001 01 6f 0000bb80 00000002 04 6f707573 00"
#define PACKET0 "02 000c 0000 00 0000000000000001 aa"
#define END(n)  "04 0008 00000000000000" n

static void
expect_crafted(const char *const *chunks, guint n, const char *message)
{
    GBytes *plain[8];
    for (guint i = 0; i < n; i++)
        plain[i] = record_bytes(chunks[i]);
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) file = cc_rec_file_from_plaintexts(pub, plain, n, &error);
    for (guint i = 0; i < n; i++)
        g_bytes_unref(plain[i]);
    ck_assert_ptr_nonnull(file);
    g_autoptr(GInputStream) input = g_memory_input_stream_new_from_bytes(file);
    g_autoptr(CcRecordingReader) reader = cc_recording_reader_new(input, priv, &error);
    ck_assert_ptr_nonnull(reader);
    CcRecordingRecord rec;
    gboolean ok;
    while ((ok = cc_recording_reader_next(reader, &rec, &error)) &&
           rec.type != CC_RECORDING_RECORD_END)
        ;
    if (message == NULL) {
        ck_assert_msg(ok, "%s", error ? error->message : "");
        return;
    }
    ck_assert(!ok);
    ck_assert_msg(strstr(error->message, message) != NULL, "expected '%s', got '%s'", message,
                  error->message);
}

START_TEST(test_crafted_records)
{
    const char *valid[] = {STREAM0 STREAM1 PACKET0 END("01")};
    expect_crafted(valid, 1, NULL);
    const char *split[] = {STREAM0, PACKET0, END("01")};
    expect_crafted(split, 3, NULL);
    const char *undeclared[] = {PACKET0 END("01")};
    expect_crafted(undeclared, 1, "chunk 0, offset 0: packet for undeclared stream 0");
    const char *out_of_order[] = {STREAM1 END("00")};
    expect_crafted(out_of_order, 1, "STREAM record declares stream 1, the next id is 0");
    const char *no_end[] = {STREAM0 PACKET0};
    expect_crafted(no_end, 1, "chunk 0: the final chunk does not end with an END record");
    const char *early_end[] = {END("00"), STREAM0 END("00")};
    expect_crafted(early_end, 2, "chunk 0, offset 0: END record before the end of the final");
    const char *end_not_last[] = {END("00") STREAM0};
    expect_crafted(end_not_last, 1, "END record before the end of the final chunk");
    const char *miscount[] = {STREAM0 PACKET0 END("02")};
    expect_crafted(miscount, 1, "END record counts 2 packets, the file holds 1");
    const char *unknown[] = {"09 0000" END("00")};
    expect_crafted(unknown, 1, "unknown record type 9");
    const char *overrun[] = {"02 0100 0000"};
    expect_crafted(overrun, 1, "chunk 0, offset 0: record of 256 bytes overruns its chunk");
    const char *cut_header[] = {"02"};
    expect_crafted(cut_header, 1, "record header cut by the end of the chunk");
    const char *empty_packet[] = {STREAM0 "02 000b 0000 00 0000000000000001" END("01")};
    expect_crafted(empty_packet, 1, "packet length out of range");
    const char *rtcp_flags[] = {STREAM0 "02 000c 0000 82 0000000000000001 aa" END("01")};
    expect_crafted(rtcp_flags, 1, "PACKET record: unknown flags");
    const char *bad_kind[] = {"01 0012 0000 07 6f 0000bb80 00000001 04 6f707573 00" END("00")};
    expect_crafted(bad_kind, 1, "media kind is neither audio nor video");
    const char *codec_nul[] = {"01 0012 0000 01 6f 0000bb80 00000001 04 00707573 00" END("00")};
    expect_crafted(codec_nul, 1, "codec name is not 1 to 32 characters");
    const char *bad_lengths[] = {
        "01 0013 0000 01 6f 0000bb80 00000001 04 6f707573 00 00" END("00")};
    expect_crafted(bad_lengths, 1, "lengths do not add up");
    const char *escape[] = {"03 000a 0000000000000000 1b5b" END("00")};
    expect_crafted(escape, 1, "damage reason holds a control character");
    const char *bad_end[] = {"04 0007 00000000000000"};
    expect_crafted(bad_end, 1, "END record is not 8 bytes long");
}
END_TEST

static Suite *
recording_suite(void)
{
    Suite *s = suite_create("recording-file");
    TCase *tc = tcase_create("recording-file");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_damaged_round_trip);
    tcase_add_test(tc, test_empty_recording);
    tcase_add_test(tc, test_wrong_key);
    tcase_add_test(tc, test_header_tampering);
    tcase_add_test(tc, test_chunk_tampering);
    tcase_add_test(tc, test_truncation);
    tcase_add_test(tc, test_reordered_chunks);
    tcase_add_test(tc, test_refuses_overwrite);
    tcase_add_test(tc, test_writer_arguments);
    tcase_add_test(tc, test_write_failure);
    tcase_add_test(tc, test_key_files);
    tcase_add_test(tc, test_crafted_records);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(recording_suite)
