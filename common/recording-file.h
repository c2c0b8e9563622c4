/* Encrypted conference recordings (schemas/recording.md): the writer the bridge feeds with
 * forwarded packets, the reader conclavectl decrypts with, and the X25519 key files.
 *
 * Errors: reading and writing recordings fail with CC_RECORDING_ERROR; loading and writing
 * key files with CC_ERROR (CC_ERROR_KEY_FILE, CC_ERROR_CRYPTO). A writer or a reader is used
 * by one thread at a time. */
#pragma once

#include <gio/gio.h>
#include <glib.h>
#include <openssl/evp.h>

G_BEGIN_DECLS

#define CC_RECORDING_ERROR (cc_recording_error_quark())
GQuark cc_recording_error_quark(void);

typedef enum {
    CC_RECORDING_ERROR_IO,          /* reading or writing the file failed (disk full...) */
    CC_RECORDING_ERROR_BAD_MAGIC,   /* not a Conclave recording */
    CC_RECORDING_ERROR_VERSION,     /* a format version (or header flag) we do not know */
    CC_RECORDING_ERROR_WRONG_KEY,   /* encrypted to another key */
    CC_RECORDING_ERROR_AUTH,        /* the header or a chunk failed authentication */
    CC_RECORDING_ERROR_TRUNCATED,   /* the file ends before its final chunk */
    CC_RECORDING_ERROR_CORRUPT,     /* malformed framing or records */
    CC_RECORDING_ERROR_INVALID_ARG, /* the caller passed something the format cannot hold */
    CC_RECORDING_ERROR_CRYPTO,      /* the crypto library failed */
    CC_RECORDING_ERROR_FAILED,      /* the writer failed earlier or is closed */
} CcRecordingError;

/* Format limits (schemas/recording.md, "Limits"). */
#define CC_RECORDING_MAX_PACKET     65507
#define CC_RECORDING_MAX_STREAMS    65535
#define CC_RECORDING_MAX_CODEC      32
#define CC_RECORDING_MAX_OWNER      255
#define CC_RECORDING_MAX_REASON     1024
#define CC_RECORDING_KEY_ID_HEX_LEN 32

typedef enum {
    CC_RECORDING_AUDIO = 1,
    CC_RECORDING_VIDEO = 2,
} CcRecordingMediaKind;

const char *cc_recording_media_kind_name(CcRecordingMediaKind kind);

typedef struct {
    guint16 id; /* assigned by the writer (0, 1, 2...); ignored by add_stream */
    CcRecordingMediaKind kind;
    const char *codec; /* e.g. "opus", "VP8" */
    guint8 payload_type;
    guint32 clock_rate;
    guint32 ssrc;
    const char *owner; /* the owner's occupant id; "" if unknown */
} CcRecordingStream;

/* ---- Keys ---- */

/* A new X25519 key pair: the private key as PKCS#8 PEM (mode 0600), the public key as
 * SubjectPublicKeyInfo PEM (mode 0644). Refuses to overwrite either file. */
gboolean cc_recording_keygen(const char *private_path, const char *public_path, GError **error);
/* An X25519 public key PEM. A private key is refused: it has no business on a server. */
EVP_PKEY *cc_recording_public_key_load(const char *path, GError **error);
/* An X25519 private key PEM in a private file (cc_file_check_private). */
EVP_PKEY *cc_recording_private_key_load(const char *path, GError **error);
/* The key id a recording names its recipient by, as 32 hex digits (private or public). */
char *cc_recording_key_id(EVP_PKEY *key, GError **error);

/* ---- Writer ---- */

typedef struct CcRecordingWriter CcRecordingWriter;

/* Creates path (O_EXCL, mode 0600) and writes the header: a fresh data key wrapped to the
 * recipient's X25519 public key. */
CcRecordingWriter *cc_recording_writer_open(const char *path, EVP_PKEY *recipient, GError **error);
/* Declares a stream; its id (0, 1, 2... in order) goes to *id. */
gboolean cc_recording_writer_add_stream(CcRecordingWriter *writer, const CcRecordingStream *stream,
                                        guint16 *id, GError **error);
/* One packet after SRTP decryption. time_us counts from the start of the recording. No
 * allocation; a chunk is written to disk each time 64 KiB of records are buffered. */
gboolean cc_recording_writer_add_packet(CcRecordingWriter *writer, guint16 stream_id,
                                        guint64 time_us, gboolean rtcp, const guint8 *data,
                                        gsize len, GError **error);
/* Marks the recording incomplete (queue overflow, lost writes), with a reason. */
gboolean cc_recording_writer_mark_damaged(CcRecordingWriter *writer, guint64 time_us,
                                          const char *reason, GError **error);
/* Writes the buffered records as a (non-final) chunk now and syncs the file's data, so that
 * a crash loses less and the final sync at close stays short. */
gboolean cc_recording_writer_flush(CcRecordingWriter *writer, GError **error);
/* Writes the END record and the final chunk, syncs and closes the file, and wipes the data
 * key. After any failure (here or earlier) the writer is spent: every call fails. */
gboolean cc_recording_writer_close(CcRecordingWriter *writer, GError **error);
/* What the writer has written to its file so far: bytes (the header and every chunk written
 * in full) and chunks. For the bridge's metrics. */
void cc_recording_writer_progress(const CcRecordingWriter *writer, guint64 *bytes, guint64 *chunks);
/* Frees; a writer that was not closed leaves a file without its final chunk, which readers
 * report as truncated. Wipes the data key. */
void cc_recording_writer_free(CcRecordingWriter *writer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CcRecordingWriter, cc_recording_writer_free)

/* ---- Reader ---- */

typedef struct CcRecordingReader CcRecordingReader;

typedef enum {
    CC_RECORDING_RECORD_STREAM = 1,
    CC_RECORDING_RECORD_PACKET = 2,
    CC_RECORDING_RECORD_DAMAGED = 3,
    CC_RECORDING_RECORD_END = 4,
} CcRecordingRecordType;

/* One record; pointers stay valid until the next call on the reader (streams: until the
 * reader is freed). */
typedef struct {
    CcRecordingRecordType type;
    const CcRecordingStream *stream; /* STREAM: the new stream; PACKET: the packet's */
    guint64 time_us;                 /* PACKET, DAMAGED */
    gboolean rtcp;                   /* PACKET */
    const guint8 *data;              /* PACKET */
    gsize len;                       /* PACKET */
    const char *reason;              /* DAMAGED */
    guint64 packet_count;            /* END */
} CcRecordingRecord;

/* Reads and authenticates the header, and unwraps the data key. */
CcRecordingReader *cc_recording_reader_open(const char *path, EVP_PKEY *private_key,
                                            GError **error);
/* The same over any stream (the reader takes a reference). */
CcRecordingReader *cc_recording_reader_new(GInputStream *input, EVP_PKEY *private_key,
                                           GError **error);
/* The next record. The last one is END, returned only once the final chunk has
 * authenticated and the file has ended right after it. FALSE with error on any failure;
 * the reader is then spent. Calling again after END is an error too. */
gboolean cc_recording_reader_next(CcRecordingReader *reader, CcRecordingRecord *record,
                                  GError **error);
/* The file's key id (32 hex digits). */
const char *cc_recording_reader_key_id(CcRecordingReader *reader);
/* Chunks authenticated so far. */
guint64 cc_recording_reader_chunks(CcRecordingReader *reader);
/* Streams declared so far (ids 0..n-1), and one of them. */
guint cc_recording_reader_n_streams(CcRecordingReader *reader);
const CcRecordingStream *cc_recording_reader_stream(CcRecordingReader *reader, guint16 id);
void cc_recording_reader_free(CcRecordingReader *reader);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CcRecordingReader, cc_recording_reader_free)

G_END_DECLS
