/* The recording writer: one file per recording, created exclusively with mode 0600, records
 * buffered into 64 KiB chunks that are sealed and written as they fill. It owns the file
 * descriptor and the data key (wiped on close and on free); the byte layout is
 * recording-format.c's, and what to record (and when) is the bridge's. */
#include "recording-file.h"

#include "recording-format.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <unistd.h>

struct CcRecordingWriter {
    char *path;
    int fd;
    CcRecCipher cipher;
    guint64 chunk_index;
    guint64 bytes_written; /* header and chunks, as write() took them */
    guint32 n_streams;
    guint64 packets;
    GError *failure; /* the first failure: every later call repeats it */
    gboolean closed;
    gsize plain_len;
    guint8 plain[CC_REC_CHUNK_MAX];
    guint8 sealed[CC_REC_FRAME_LEN + CC_REC_CHUNK_MAX + CC_REC_TAG_LEN];
};

static gboolean
write_all(int fd, const guint8 *data, gsize len, GError **error)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int saved = n < 0 ? errno : EIO;
            g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_IO, "write failed: %s",
                        g_strerror(saved));
            return FALSE;
        }
        data += n;
        len -= (gsize)n;
    }
    return TRUE;
}

/* Remembers the first failure and reports it; the writer is spent from then on. */
static gboolean
fail(CcRecordingWriter *writer, GError *local, GError **error)
{
    g_prefix_error(&local, "%s: ", writer->path);
    if (writer->failure == NULL)
        writer->failure = g_error_copy(local);
    g_propagate_error(error, local);
    return FALSE;
}

static gboolean
usable(CcRecordingWriter *writer, GError **error)
{
    if (writer->failure != NULL) {
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_FAILED,
                    "the recording failed earlier: %s", writer->failure->message);
        return FALSE;
    }
    if (writer->closed) {
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_FAILED,
                    "%s: the recording is closed", writer->path);
        return FALSE;
    }
    return TRUE;
}

static gboolean
write_chunk(CcRecordingWriter *writer, guint8 flags, GError **error)
{
    GError *local = NULL;
    if (writer->chunk_index >= CC_REC_MAX_CHUNKS) {
        g_set_error(&local, CC_RECORDING_ERROR, CC_RECORDING_ERROR_INVALID_ARG,
                    "the recording reached the format's limit of 2^32 chunks");
        return fail(writer, local, error);
    }
    gsize len = writer->plain_len;
    if (!cc_rec_chunk_seal(&writer->cipher, writer->chunk_index, flags, writer->plain, len,
                           writer->sealed, &local) ||
        !write_all(writer->fd, writer->sealed, CC_REC_FRAME_LEN + len + CC_REC_TAG_LEN, &local))
        return fail(writer, local, error);
    writer->bytes_written += CC_REC_FRAME_LEN + len + CC_REC_TAG_LEN;
    OPENSSL_cleanse(writer->plain, len);
    writer->plain_len = 0;
    writer->chunk_index++;
    return TRUE;
}

/* Room for a record of size bytes in the current chunk, writing the chunk out if full. */
static guint8 *
reserve(CcRecordingWriter *writer, gsize size, GError **error)
{
    if (!usable(writer, error))
        return NULL;
    if (writer->plain_len + size > CC_REC_CHUNK_MAX && !write_chunk(writer, 0, error))
        return NULL;
    guint8 *at = writer->plain + writer->plain_len;
    writer->plain_len += size;
    return at;
}

CcRecordingWriter *
cc_recording_writer_open(const char *path, EVP_PKEY *recipient, GError **error)
{
    guint8 data_key[CC_REC_DATA_KEY_LEN], header[CC_REC_HEADER_LEN];
    GError *local = NULL;
    if (RAND_bytes(data_key, sizeof data_key) != 1) {
        cc_rec_set_openssl_error(error, "data key");
        return NULL;
    }
    gboolean ok = cc_rec_header_build(recipient, data_key, header, &local);
    CcRecordingWriter *writer = g_new0(CcRecordingWriter, 1);
    writer->path = g_strdup(path);
    writer->fd = -1;
    ok = ok && cc_rec_cipher_init(&writer->cipher, header, data_key, TRUE, &local);
    OPENSSL_cleanse(data_key, sizeof data_key);
    if (!ok) {
        g_propagate_error(error, local);
        cc_recording_writer_free(writer);
        return NULL;
    }
    writer->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (writer->fd < 0) {
        int saved = errno;
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_IO, "%s: %s", path,
                    g_strerror(saved));
        cc_recording_writer_free(writer);
        return NULL;
    }
    if (!write_all(writer->fd, header, sizeof header, &local)) {
        g_prefix_error(&local, "%s: ", path);
        g_propagate_error(error, local);
        unlink(path);
        cc_recording_writer_free(writer);
        return NULL;
    }
    writer->bytes_written = sizeof header;
    return writer;
}

gboolean
cc_recording_writer_add_stream(CcRecordingWriter *writer, const CcRecordingStream *stream,
                               guint16 *id, GError **error)
{
    g_return_val_if_fail(writer != NULL && stream != NULL, FALSE);
    if (!usable(writer, error) || !cc_rec_check_stream(stream, error))
        return FALSE;
    if (writer->n_streams >= CC_RECORDING_MAX_STREAMS) {
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_INVALID_ARG,
                    "a recording holds at most %d streams", CC_RECORDING_MAX_STREAMS);
        return FALSE;
    }
    guint8 *at = reserve(writer, cc_rec_stream_size(stream), error);
    if (at == NULL)
        return FALSE;
    guint16 new_id = (guint16)writer->n_streams++;
    cc_rec_encode_stream(at, new_id, stream);
    if (id != NULL)
        *id = new_id;
    return TRUE;
}

gboolean
cc_recording_writer_add_packet(CcRecordingWriter *writer, guint16 stream_id, guint64 time_us,
                               gboolean rtcp, const guint8 *data, gsize len, GError **error)
{
    g_return_val_if_fail(writer != NULL && (data != NULL || len == 0), FALSE);
    if (stream_id >= writer->n_streams) {
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_INVALID_ARG,
                    "packet for undeclared stream %u", stream_id);
        return FALSE;
    }
    if (len < 1 || len > CC_RECORDING_MAX_PACKET) {
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_INVALID_ARG,
                    "packet of %zu bytes (allowed: 1 to %d)", len, CC_RECORDING_MAX_PACKET);
        return FALSE;
    }
    guint8 *at = reserve(writer, CC_REC_RECORD_HEADER_LEN + CC_REC_PACKET_FIXED + len, error);
    if (at == NULL)
        return FALSE;
    cc_rec_encode_packet(at, stream_id, time_us, rtcp, data, len);
    writer->packets++;
    return TRUE;
}

gboolean
cc_recording_writer_mark_damaged(CcRecordingWriter *writer, guint64 time_us, const char *reason,
                                 GError **error)
{
    g_return_val_if_fail(writer != NULL && reason != NULL, FALSE);
    gsize len = strlen(reason);
    if (!usable(writer, error) || !cc_rec_check_text("damage reason", (const guint8 *)reason, len,
                                                     1, CC_RECORDING_MAX_REASON, error))
        return FALSE;
    guint8 *at = reserve(writer, CC_REC_RECORD_HEADER_LEN + CC_REC_DAMAGED_FIXED + len, error);
    if (at == NULL)
        return FALSE;
    cc_rec_encode_damaged(at, time_us, reason, len);
    return TRUE;
}

gboolean
cc_recording_writer_flush(CcRecordingWriter *writer, GError **error)
{
    g_return_val_if_fail(writer != NULL, FALSE);
    if (!usable(writer, error))
        return FALSE;
    if (writer->plain_len != 0 && !write_chunk(writer, 0, error))
        return FALSE;
    /* On disk now, so that the final sync at close has little left to do. */
    if (fdatasync(writer->fd) != 0) {
        int saved = errno;
        GError *local = g_error_new(CC_RECORDING_ERROR, CC_RECORDING_ERROR_IO, "sync failed: %s",
                                    g_strerror(saved));
        return fail(writer, local, error);
    }
    return TRUE;
}

gboolean
cc_recording_writer_close(CcRecordingWriter *writer, GError **error)
{
    g_return_val_if_fail(writer != NULL, FALSE);
    guint8 *at = reserve(writer, CC_REC_RECORD_HEADER_LEN + CC_REC_END_LEN, error);
    if (at == NULL)
        return FALSE;
    cc_rec_encode_end(at, writer->packets);
    if (!write_chunk(writer, CC_REC_FLAG_FINAL, error))
        return FALSE;
    cc_rec_cipher_clear(&writer->cipher);
    GError *local = NULL;
    int fd = writer->fd;
    writer->fd = -1;
    writer->closed = TRUE;
    int synced = fsync(fd);
    int saved = errno;
    if (close(fd) != 0 && synced == 0) {
        synced = -1;
        saved = errno;
    }
    if (synced != 0) {
        g_set_error(&local, CC_RECORDING_ERROR, CC_RECORDING_ERROR_IO, "sync failed: %s",
                    g_strerror(saved));
        return fail(writer, local, error);
    }
    return TRUE;
}

void
cc_recording_writer_progress(const CcRecordingWriter *writer, guint64 *bytes, guint64 *chunks)
{
    g_return_if_fail(writer != NULL);
    if (bytes != NULL)
        *bytes = writer->bytes_written;
    if (chunks != NULL)
        *chunks = writer->chunk_index;
}

void
cc_recording_writer_free(CcRecordingWriter *writer)
{
    if (writer == NULL)
        return;
    cc_rec_cipher_clear(&writer->cipher);
    if (writer->fd >= 0)
        close(writer->fd);
    OPENSSL_cleanse(writer->plain, sizeof writer->plain);
    g_clear_error(&writer->failure);
    g_free(writer->path);
    g_free(writer);
}
