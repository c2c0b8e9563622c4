/* The recording reader: opens the header with the operator's private key, then reads one
 * chunk at a time (never more than 64 KiB in memory), authenticates it, and hands out its
 * records after checking what the format promises across records: streams declared in
 * order before their packets, one END record at the very end, nothing after the final
 * chunk. Every input byte is untrusted: anyone with the public key can write a valid file.
 * The byte layout is recording-format.c's; writing pcaps is conclavectl's. */
#include "recording-file.h"

#include "recording-format.h"

#include <openssl/crypto.h>

struct CcRecordingReader {
    GInputStream *input;
    CcRecCipher cipher;
    char *key_id;
    guint64 chunks;    /* authenticated so far; the current chunk is chunks - 1 */
    gboolean in_final; /* the current chunk is the final one */
    gboolean failed;
    gboolean ended;
    GPtrArray *streams; /* CcRecordingStream, index = id */
    guint64 packets;
    char *reason;
    gsize plain_len;
    gsize pos;
    guint8 frame[CC_REC_FRAME_LEN];
    guint8 sealed[CC_REC_CHUNK_MAX + CC_REC_TAG_LEN];
    guint8 plain[CC_REC_CHUNK_MAX];
};

static void
stream_free(gpointer data)
{
    CcRecordingStream *stream = data;
    g_free((char *)stream->codec);
    g_free((char *)stream->owner);
    g_free(stream);
}

/* Reads up to len bytes; fewer only at the end of the input. */
static gboolean
read_upto(CcRecordingReader *reader, guint8 *buf, gsize len, gsize *got, GError **error)
{
    GError *local = NULL;
    if (!g_input_stream_read_all(reader->input, buf, len, got, NULL, &local)) {
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_IO, "read failed: %s",
                    local->message);
        g_error_free(local);
        return FALSE;
    }
    return TRUE;
}

static gboolean
truncated(GError **error, const char *where, guint64 chunk)
{
    g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_TRUNCATED,
                "file ends before its final chunk (truncated %s chunk %" G_GUINT64_FORMAT ")",
                where, chunk);
    return FALSE;
}

static gboolean
check_frame(guint64 index, guint8 flags, guint32 len, GError **error)
{
    if ((flags & ~CC_REC_FLAG_FINAL) != 0) {
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_CORRUPT,
                    "chunk %" G_GUINT64_FORMAT ": unknown flags 0x%02x", index, flags);
        return FALSE;
    }
    if (len < 1 || len > CC_REC_CHUNK_MAX) {
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_CORRUPT,
                    "chunk %" G_GUINT64_FORMAT ": length %u out of range 1..%d", index, len,
                    CC_REC_CHUNK_MAX);
        return FALSE;
    }
    if (index >= CC_REC_MAX_CHUNKS) {
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_CORRUPT, "more than 2^32 chunks");
        return FALSE;
    }
    return TRUE;
}

static gboolean
read_chunk(CcRecordingReader *reader, GError **error)
{
    guint64 index = reader->chunks;
    gsize got = 0;
    if (!read_upto(reader, reader->frame, CC_REC_FRAME_LEN, &got, error))
        return FALSE;
    if (got == 0 && index == 0) {
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_TRUNCATED,
                    "file ends before its final chunk (truncated right after the header)");
        return FALSE;
    }
    if (got == 0)
        return truncated(error, "after", index - 1);
    if (got < CC_REC_FRAME_LEN)
        return truncated(error, "inside", index);
    guint8 flags = reader->frame[0];
    guint32 len = cc_rec_get_u32(reader->frame + 1);
    if (!check_frame(index, flags, len, error) ||
        !read_upto(reader, reader->sealed, len + CC_REC_TAG_LEN, &got, error))
        return FALSE;
    if (got < len + CC_REC_TAG_LEN)
        return truncated(error, "inside", index);
    if (!cc_rec_chunk_open(&reader->cipher, index, flags, reader->sealed, len, reader->plain,
                           error))
        return FALSE;
    reader->chunks++;
    reader->plain_len = len;
    reader->pos = 0;
    reader->in_final = (flags & CC_REC_FLAG_FINAL) != 0;
    if (reader->in_final) {
        guint8 extra;
        if (!read_upto(reader, &extra, 1, &got, error))
            return FALSE;
        if (got != 0) {
            g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_CORRUPT,
                        "data after the final chunk (appended or corrupt)");
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
apply_stream(CcRecordingReader *reader, const CcRecRecord *raw, CcRecordingRecord *record,
             GError **error)
{
    if (raw->stream_id != reader->streams->len || raw->stream_id >= CC_RECORDING_MAX_STREAMS) {
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_CORRUPT,
                    "STREAM record declares stream %u, the next id is %u", raw->stream_id,
                    reader->streams->len);
        return FALSE;
    }
    CcRecordingStream *stream = g_new0(CcRecordingStream, 1);
    stream->id = raw->stream_id;
    stream->kind = raw->kind;
    stream->codec = g_strndup((const char *)raw->codec, raw->codec_len);
    stream->payload_type = raw->payload_type;
    stream->clock_rate = raw->clock_rate;
    stream->ssrc = raw->ssrc;
    stream->owner = g_strndup((const char *)raw->owner, raw->owner_len);
    g_ptr_array_add(reader->streams, stream);
    record->stream = stream;
    return TRUE;
}

static gboolean
apply_end(CcRecordingReader *reader, const CcRecRecord *raw, CcRecordingRecord *record,
          GError **error)
{
    if (!reader->in_final || reader->pos != reader->plain_len) {
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_CORRUPT,
                    "END record before the end of the final chunk");
        return FALSE;
    }
    if (raw->packet_count != reader->packets) {
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_CORRUPT,
                    "END record counts %" G_GUINT64_FORMAT
                    " packets, the file holds %" G_GUINT64_FORMAT,
                    raw->packet_count, reader->packets);
        return FALSE;
    }
    record->packet_count = raw->packet_count;
    reader->ended = TRUE;
    return TRUE;
}

/* The checks across records, and the public view of one record. */
static gboolean
apply(CcRecordingReader *reader, const CcRecRecord *raw, CcRecordingRecord *record, GError **error)
{
    memset(record, 0, sizeof *record);
    record->type = raw->type;
    switch (raw->type) {
    case CC_RECORDING_RECORD_STREAM:
        return apply_stream(reader, raw, record, error);
    case CC_RECORDING_RECORD_PACKET:
        if (raw->stream_id >= reader->streams->len) {
            g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_CORRUPT,
                        "packet for undeclared stream %u", raw->stream_id);
            return FALSE;
        }
        record->stream = g_ptr_array_index(reader->streams, raw->stream_id);
        record->time_us = raw->time_us;
        record->rtcp = raw->rtcp;
        record->data = raw->data;
        record->len = raw->len;
        reader->packets++;
        return TRUE;
    case CC_RECORDING_RECORD_DAMAGED:
        g_free(reader->reason);
        reader->reason = g_strndup((const char *)raw->data, raw->len);
        record->time_us = raw->time_us;
        record->reason = reader->reason;
        return TRUE;
    default:
        return apply_end(reader, raw, record, error);
    }
}

static gboolean
next_record(CcRecordingReader *reader, CcRecordingRecord *record, GError **error)
{
    while (reader->pos >= reader->plain_len) {
        if (reader->in_final) {
            g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_CORRUPT,
                        "chunk %" G_GUINT64_FORMAT
                        ": the final chunk does not end with an END record",
                        reader->chunks - 1);
            return FALSE;
        }
        if (!read_chunk(reader, error))
            return FALSE;
    }
    CcRecRecord raw;
    gsize at = reader->pos, used = 0;
    GError *local = NULL;
    if (cc_rec_record_decode(reader->plain + at, reader->plain_len - at, &raw, &used, &local)) {
        reader->pos += used;
        if (apply(reader, &raw, record, &local))
            return TRUE;
    }
    g_propagate_prefixed_error(error, local,
                               "chunk %" G_GUINT64_FORMAT ", offset %zu: ", reader->chunks - 1, at);
    return FALSE;
}

gboolean
cc_recording_reader_next(CcRecordingReader *reader, CcRecordingRecord *record, GError **error)
{
    g_return_val_if_fail(reader != NULL && record != NULL, FALSE);
    if (reader->failed || reader->ended) {
        g_set_error_literal(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_FAILED,
                            reader->ended ? "the recording was read to its END record"
                                          : "the recording failed to read earlier");
        return FALSE;
    }
    if (!next_record(reader, record, error)) {
        reader->failed = TRUE;
        return FALSE;
    }
    return TRUE;
}

CcRecordingReader *
cc_recording_reader_new(GInputStream *input, EVP_PKEY *private_key, GError **error)
{
    g_return_val_if_fail(G_IS_INPUT_STREAM(input) && private_key != NULL, NULL);
    CcRecordingReader *reader = g_new0(CcRecordingReader, 1);
    reader->input = g_object_ref(input);
    reader->streams = g_ptr_array_new_with_free_func(stream_free);
    guint8 header[CC_REC_HEADER_LEN], data_key[CC_REC_DATA_KEY_LEN];
    gsize got = 0;
    if (!read_upto(reader, header, sizeof header, &got, error) ||
        !cc_rec_header_open(header, got, private_key, data_key, error)) {
        cc_recording_reader_free(reader);
        return NULL;
    }
    gboolean ok = cc_rec_cipher_init(&reader->cipher, header, data_key, FALSE, error);
    OPENSSL_cleanse(data_key, sizeof data_key);
    if (!ok) {
        cc_recording_reader_free(reader);
        return NULL;
    }
    reader->key_id = cc_rec_hex(header + 12, CC_REC_KEY_ID_LEN);
    return reader;
}

CcRecordingReader *
cc_recording_reader_open(const char *path, EVP_PKEY *private_key, GError **error)
{
    g_autoptr(GFile) file = g_file_new_for_path(path);
    GError *local = NULL;
    g_autoptr(GFileInputStream) input = g_file_read(file, NULL, &local);
    if (input == NULL) {
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_IO, "%s", local->message);
        g_error_free(local);
        return NULL;
    }
    return cc_recording_reader_new(G_INPUT_STREAM(input), private_key, error);
}

const char *
cc_recording_reader_key_id(CcRecordingReader *reader)
{
    return reader->key_id;
}

guint64
cc_recording_reader_chunks(CcRecordingReader *reader)
{
    return reader->chunks;
}

guint
cc_recording_reader_n_streams(CcRecordingReader *reader)
{
    return reader->streams->len;
}

const CcRecordingStream *
cc_recording_reader_stream(CcRecordingReader *reader, guint16 id)
{
    return id < reader->streams->len ? g_ptr_array_index(reader->streams, id) : NULL;
}

void
cc_recording_reader_free(CcRecordingReader *reader)
{
    if (reader == NULL)
        return;
    cc_rec_cipher_clear(&reader->cipher);
    g_clear_object(&reader->input);
    g_ptr_array_unref(reader->streams);
    g_free(reader->reason);
    g_free(reader->key_id);
    OPENSSL_cleanse(reader->plain, sizeof reader->plain);
    g_free(reader);
}
