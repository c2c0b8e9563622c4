/* conclavectl recording {keygen,verify,decrypt}: the operator's side of encrypted
 * recordings (schemas/recording.md). keygen makes the X25519 key pair; verify reads a whole
 * file and reports; decrypt writes one pcap per stream and an index.json. The format itself
 * is common/recording-*.c's, the pcap framing pcap-out.c's. */
#include "recording-cmd.h"

#include "pcap-out.h"
#include "recording-file.h"

#include <errno.h>
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

const char ctl_recording_usage[] =
    "  recording keygen PRIV PUB\n"
    "                Write a new X25519 recording key pair: the private key to PRIV (mode\n"
    "                0600; keep it offline) and the public key to PUB (for the bridge's\n"
    "                [recording] public_key). Refuses to overwrite either file.\n"
    "  recording verify --key PRIV FILE\n"
    "                Authenticate every chunk of a recording and print a summary; exit 1\n"
    "                with the reason if anything is wrong (wrong key, tampered, truncated).\n"
    "  recording decrypt --key PRIV FILE --out DIR\n"
    "                Write one pcap per stream (Ethernet/IPv4/UDP, RTP to port 5004,\n"
    "                RTCP to 5005) and index.json into DIR (created with mode 0700).\n";

typedef struct {
    guint64 chunks, streams, rtp, rtcp, last_time_us;
    JsonBuilder *damaged; /* a JSON array of {time_us, reason} */
    GString *damaged_text;
} Summary;

/* Options --key and --out, and exactly one FILE. */
static gboolean
parse_options(const char *command, int *argc, char ***argv, char **key, char **out, GError **error)
{
    GOptionEntry entries[] = {
        {"key", 'k', 0, G_OPTION_ARG_FILENAME, key, "The recording private key", "PRIV"},
        {"out", 'o', 0, G_OPTION_ARG_FILENAME, out, "Output directory", "DIR"},
        {NULL},
    };
    if (out == NULL)
        entries[1] = entries[2];
    g_autofree char *summary = g_strdup_printf("recording %s", command);
    g_autoptr(GOptionContext) ctx = g_option_context_new(summary);
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, argc, argv, error))
        return FALSE;
    if (*key == NULL || (out != NULL && *out == NULL) || *argc != 2) {
        g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                            out ? "expected --key PRIV FILE --out DIR"
                                : "expected --key PRIV FILE");
        return FALSE;
    }
    return TRUE;
}

static void
summary_add(Summary *s, const CcRecordingRecord *rec)
{
    switch (rec->type) {
    case CC_RECORDING_RECORD_STREAM:
        s->streams++;
        break;
    case CC_RECORDING_RECORD_PACKET:
        if (rec->rtcp)
            s->rtcp++;
        else
            s->rtp++;
        s->last_time_us = MAX(s->last_time_us, rec->time_us);
        break;
    case CC_RECORDING_RECORD_DAMAGED:
        json_builder_begin_object(s->damaged);
        json_builder_set_member_name(s->damaged, "time_us");
        json_builder_add_int_value(s->damaged, (gint64)rec->time_us);
        json_builder_set_member_name(s->damaged, "reason");
        json_builder_add_string_value(s->damaged, rec->reason);
        json_builder_end_object(s->damaged);
        g_string_append_printf(s->damaged_text, "  DAMAGED at %.3f s: %s\n", rec->time_us / 1e6,
                               rec->reason);
        break;
    case CC_RECORDING_RECORD_END:
        break;
    }
}

static void
summary_init(Summary *s)
{
    memset(s, 0, sizeof *s);
    s->damaged = json_builder_new();
    json_builder_begin_array(s->damaged);
    s->damaged_text = g_string_new(NULL);
}

static void
summary_clear(Summary *s)
{
    g_clear_object(&s->damaged);
    g_string_free(s->damaged_text, TRUE);
}

static void
summary_print(const Summary *s, const char *file, CcRecordingReader *reader, gboolean complete)
{
    printf("%s: %s, key id %s\n", file, complete ? "OK" : "INCOMPLETE",
           cc_recording_reader_key_id(reader));
    printf("  %" G_GUINT64_FORMAT " chunks, %" G_GUINT64_FORMAT " streams, %" G_GUINT64_FORMAT
           " packets (%" G_GUINT64_FORMAT " RTP, %" G_GUINT64_FORMAT " RTCP), %.3f s\n",
           s->chunks, s->streams, s->rtp + s->rtcp, s->rtp, s->rtcp, s->last_time_us / 1e6);
    fputs(s->damaged_text->str, stdout);
}

static EVP_PKEY *
open_recording(const char *command, const char *key_path, const char *file,
               CcRecordingReader **reader)
{
    g_autoptr(GError) error = NULL;
    EVP_PKEY *key = cc_recording_private_key_load(key_path, &error);
    if (key != NULL)
        *reader = cc_recording_reader_open(file, key, &error);
    if (key == NULL || *reader == NULL) {
        fprintf(stderr, "conclavectl recording %s: %s%s%s\n", command, key == NULL ? "" : file,
                key == NULL ? "" : ": ", error->message);
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}

static int
cmd_verify(int argc, char **argv)
{
    g_autofree char *key_path = NULL;
    g_autoptr(GError) error = NULL;
    if (!parse_options("verify", &argc, &argv, &key_path, NULL, &error)) {
        fprintf(stderr, "conclavectl recording verify: %s\n", error->message);
        return 2;
    }
    const char *file = argv[1];
    CcRecordingReader *reader = NULL;
    EVP_PKEY *key = open_recording("verify", key_path, file, &reader);
    if (key == NULL)
        return 1;
    Summary s;
    summary_init(&s);
    CcRecordingRecord rec = {0};
    gboolean ok = TRUE;
    while (ok && rec.type != CC_RECORDING_RECORD_END) {
        ok = cc_recording_reader_next(reader, &rec, &error);
        if (ok)
            summary_add(&s, &rec);
    }
    s.chunks = cc_recording_reader_chunks(reader);
    if (ok)
        summary_print(&s, file, reader, TRUE);
    else
        fprintf(stderr, "conclavectl recording verify: %s: %s\n", file, error->message);
    summary_clear(&s);
    cc_recording_reader_free(reader);
    EVP_PKEY_free(key);
    return ok ? 0 : 1;
}

/* ---- decrypt ------------------------------------------------------------------------- */

typedef struct {
    CtlPcap *pcap;
    char *name;
    guint64 rtp, rtcp;
    gint64 first_us, last_us; /* -1: no packet yet */
} StreamOut;

static void
stream_out_free(gpointer data)
{
    StreamOut *out = data;
    if (out->pcap != NULL)
        ctl_pcap_close(out->pcap, NULL);
    g_free(out->name);
    g_free(out);
}

typedef struct {
    const char *dir;
    CcRecordingReader *reader;
    GPtrArray *outs; /* StreamOut, index = stream id */
    Summary summary;
} Decrypt;

static gboolean
decrypt_record(Decrypt *d, const CcRecordingRecord *rec, GError **error)
{
    summary_add(&d->summary, rec);
    if (rec->type == CC_RECORDING_RECORD_STREAM) {
        StreamOut *out = g_new0(StreamOut, 1);
        out->name = g_strdup_printf("stream-%u-%s.pcap", rec->stream->id,
                                    cc_recording_media_kind_name(rec->stream->kind));
        out->first_us = out->last_us = -1;
        g_ptr_array_add(d->outs, out);
        g_autofree char *path = g_build_filename(d->dir, out->name, NULL);
        /* Each stream comes from its own address, so that merged captures stay apart. */
        guint32 src = 0x0a010000u | rec->stream->id;
        out->pcap = ctl_pcap_create(path, src, error);
        return out->pcap != NULL;
    }
    if (rec->type != CC_RECORDING_RECORD_PACKET)
        return TRUE;
    StreamOut *out = g_ptr_array_index(d->outs, rec->stream->id);
    if (rec->rtcp)
        out->rtcp++;
    else
        out->rtp++;
    if (out->first_us < 0)
        out->first_us = (gint64)rec->time_us;
    out->last_us = (gint64)rec->time_us;
    return ctl_pcap_write(out->pcap, rec->time_us,
                          rec->rtcp ? CTL_PCAP_RTCP_PORT : CTL_PCAP_RTP_PORT, rec->data, rec->len,
                          error);
}

static void
add_int_or_null(JsonBuilder *b, const char *name, gint64 value)
{
    json_builder_set_member_name(b, name);
    if (value < 0)
        json_builder_add_null_value(b);
    else
        json_builder_add_int_value(b, value);
}

static void
index_add_stream(JsonBuilder *b, const CcRecordingStream *stream, const StreamOut *out)
{
    json_builder_begin_object(b);
    add_int_or_null(b, "id", stream->id);
    json_builder_set_member_name(b, "kind");
    json_builder_add_string_value(b, cc_recording_media_kind_name(stream->kind));
    json_builder_set_member_name(b, "codec");
    json_builder_add_string_value(b, stream->codec);
    add_int_or_null(b, "payload_type", stream->payload_type);
    add_int_or_null(b, "clock_rate", stream->clock_rate);
    json_builder_set_member_name(b, "owner");
    json_builder_add_string_value(b, stream->owner);
    add_int_or_null(b, "ssrc", stream->ssrc);
    json_builder_set_member_name(b, "pcap");
    json_builder_add_string_value(b, out->name);
    add_int_or_null(b, "rtp_packets", (gint64)out->rtp);
    add_int_or_null(b, "rtcp_packets", (gint64)out->rtcp);
    add_int_or_null(b, "first_time_us", out->first_us);
    add_int_or_null(b, "last_time_us", out->last_us);
    json_builder_end_object(b);
}

static gboolean
write_index(Decrypt *d, const char *failure, GError **error)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    add_int_or_null(b, "format_version", 1);
    json_builder_set_member_name(b, "key_id");
    json_builder_add_string_value(b, cc_recording_reader_key_id(d->reader));
    json_builder_set_member_name(b, "complete");
    json_builder_add_boolean_value(b, failure == NULL);
    json_builder_set_member_name(b, "error");
    if (failure != NULL)
        json_builder_add_string_value(b, failure);
    else
        json_builder_add_null_value(b);
    add_int_or_null(b, "chunks", (gint64)d->summary.chunks);
    add_int_or_null(b, "packets", (gint64)(d->summary.rtp + d->summary.rtcp));
    json_builder_set_member_name(b, "damaged");
    json_builder_end_array(d->summary.damaged);
    json_builder_add_value(b, json_builder_get_root(d->summary.damaged));
    json_builder_set_member_name(b, "streams");
    json_builder_begin_array(b);
    for (guint i = 0; i < d->outs->len; i++)
        index_add_stream(b, cc_recording_reader_stream(d->reader, (guint16)i),
                         g_ptr_array_index(d->outs, i));
    json_builder_end_array(b);
    json_builder_end_object(b);

    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    json_generator_set_pretty(gen, TRUE);
    gsize len = 0;
    g_autofree char *text = json_generator_to_data(gen, &len);
    g_autofree char *path = g_build_filename(d->dir, "index.json", NULL);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    gboolean ok = fd >= 0 && write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1;
    int saved = errno;
    if (fd >= 0 && close(fd) != 0 && ok) {
        ok = FALSE;
        saved = errno;
    }
    if (!ok)
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved), "%s: %s", path,
                    g_strerror(saved));
    return ok;
}

/* One pcap per stream is open at a time: allow as many open files as the system lets us. */
static void
raise_file_limit(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

static gboolean
make_out_dir(const char *dir, GError **error)
{
    if (mkdir(dir, 0700) == 0 || (errno == EEXIST && g_file_test(dir, G_FILE_TEST_IS_DIR)))
        return TRUE;
    int saved = errno;
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved), "%s: %s", dir,
                g_strerror(saved));
    return FALSE;
}

/* Reads everything; on a failure, what was authenticated before it is kept. Returns the
 * reader's failure (or NULL); *output gets an output failure, which stops everything. */
static char *
decrypt_all(Decrypt *d, GError **output)
{
    CcRecordingRecord rec = {0};
    GError *error = NULL;
    while (rec.type != CC_RECORDING_RECORD_END) {
        if (!cc_recording_reader_next(d->reader, &rec, &error)) {
            char *message = g_strdup(error->message);
            g_error_free(error);
            return message;
        }
        if (!decrypt_record(d, &rec, output))
            return NULL;
    }
    return NULL;
}

static int
cmd_decrypt(int argc, char **argv)
{
    g_autofree char *key_path = NULL, *dir = NULL;
    g_autoptr(GError) error = NULL;
    if (!parse_options("decrypt", &argc, &argv, &key_path, &dir, &error)) {
        fprintf(stderr, "conclavectl recording decrypt: %s\n", error->message);
        return 2;
    }
    const char *file = argv[1];
    Decrypt d = {.dir = dir, .outs = g_ptr_array_new_with_free_func(stream_out_free)};
    EVP_PKEY *key = open_recording("decrypt", key_path, file, &d.reader);
    if (key == NULL || !make_out_dir(dir, &error)) {
        if (error != NULL)
            fprintf(stderr, "conclavectl recording decrypt: %s\n", error->message);
        g_ptr_array_unref(d.outs);
        g_clear_pointer(&d.reader, cc_recording_reader_free);
        EVP_PKEY_free(key);
        return 1;
    }
    raise_file_limit();
    summary_init(&d.summary);
    g_autofree char *failure = decrypt_all(&d, &error);
    d.summary.chunks = cc_recording_reader_chunks(d.reader);
    for (guint i = 0; error == NULL && i < d.outs->len; i++) {
        StreamOut *out = g_ptr_array_index(d.outs, i);
        if (!ctl_pcap_close(g_steal_pointer(&out->pcap), &error))
            break;
    }
    if (error == NULL && write_index(&d, failure, &error))
        summary_print(&d.summary, file, d.reader, failure == NULL);
    if (error != NULL)
        fprintf(stderr, "conclavectl recording decrypt: %s\n", error->message);
    else if (failure != NULL)
        fprintf(stderr,
                "conclavectl recording decrypt: %s: %s (what came before is in %s, marked "
                "incomplete)\n",
                file, failure, dir);
    summary_clear(&d.summary);
    g_ptr_array_unref(d.outs);
    cc_recording_reader_free(d.reader);
    EVP_PKEY_free(key);
    return error == NULL && failure == NULL ? 0 : 1;
}

static int
cmd_keygen(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "conclavectl recording keygen: expected PRIV and PUB arguments\n");
        return 2;
    }
    g_autoptr(GError) error = NULL;
    if (!cc_recording_keygen(argv[1], argv[2], &error)) {
        fprintf(stderr, "conclavectl recording keygen: %s\n", error->message);
        return 1;
    }
    EVP_PKEY *key = cc_recording_public_key_load(argv[2], &error);
    g_autofree char *id = key ? cc_recording_key_id(key, &error) : NULL;
    EVP_PKEY_free(key);
    if (id == NULL) {
        fprintf(stderr, "conclavectl recording keygen: %s\n", error->message);
        return 1;
    }
    printf("wrote the private key to %s (keep it offline) and the public key to %s\n"
           "key id %s\n",
           argv[1], argv[2], id);
    return 0;
}

int
ctl_recording(int argc, char **argv)
{
    const char *sub = argc >= 2 ? argv[1] : "";
    if (g_str_equal(sub, "keygen"))
        return cmd_keygen(argc - 1, argv + 1);
    if (g_str_equal(sub, "verify"))
        return cmd_verify(argc - 1, argv + 1);
    if (g_str_equal(sub, "decrypt"))
        return cmd_decrypt(argc - 1, argv + 1);
    fprintf(stderr, "conclavectl recording: expected keygen, verify or decrypt\n\n%s",
            ctl_recording_usage);
    return 2;
}
