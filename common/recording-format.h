/* The byte layout of recordings (schemas/recording.md), shared by the writer, the reader and
 * the fuzz target: header build and open (the data key wrapped with X25519 + HKDF-SHA256 +
 * AES-256-GCM), chunk sealing and opening (AES-256-GCM, nonce base XOR index, header hash
 * and index and flags as associated data), and record encoding and decoding. Internal to
 * common/: callers use recording-file.h. */
#pragma once

#include "recording-file.h"

#include <glib.h>
#include <openssl/evp.h>

G_BEGIN_DECLS

#define CC_REC_MAGIC                                                                               \
    "\x89"                                                                                         \
    "CCREC\r\n"
#define CC_REC_MAGIC_LEN         8
#define CC_REC_VERSION           1
#define CC_REC_HEADER_LEN        120
#define CC_REC_KEY_ID_LEN        16
#define CC_REC_X25519_LEN        32
#define CC_REC_NONCE_LEN         12
#define CC_REC_DATA_KEY_LEN      32
#define CC_REC_TAG_LEN           16
#define CC_REC_HASH_LEN          32
#define CC_REC_WRAP_AAD_LEN      72 /* header bytes before the wrapped key */
#define CC_REC_CHUNK_MAX         65536
#define CC_REC_FRAME_LEN         5
#define CC_REC_FLAG_FINAL        0x01
#define CC_REC_MAX_CHUNKS        (G_GUINT64_CONSTANT(1) << 32)
#define CC_REC_RECORD_HEADER_LEN 3
#define CC_REC_STREAM_FIXED      14
#define CC_REC_PACKET_FIXED      11
#define CC_REC_DAMAGED_FIXED     8
#define CC_REC_END_LEN           8
#define CC_REC_PACKET_RTCP       0x01

static inline void
cc_rec_put_u16(guint8 *p, guint16 v)
{
    p[0] = (guint8)(v >> 8);
    p[1] = (guint8)v;
}

static inline void
cc_rec_put_u32(guint8 *p, guint32 v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (guint8)(v >> (24 - 8 * i));
}

static inline void
cc_rec_put_u64(guint8 *p, guint64 v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (guint8)(v >> (56 - 8 * i));
}

static inline guint16
cc_rec_get_u16(const guint8 *p)
{
    return (guint16)(p[0] << 8 | p[1]);
}

static inline guint32
cc_rec_get_u32(const guint8 *p)
{
    return (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 | p[3];
}

static inline guint64
cc_rec_get_u64(const guint8 *p)
{
    return (guint64)cc_rec_get_u32(p) << 32 | cc_rec_get_u32(p + 4);
}

/* Sets a GError of CC_RECORDING_ERROR_CRYPTO with OpenSSL's reason, and clears its queue. */
void cc_rec_set_openssl_error(GError **error, const char *what);

/* First 16 bytes of SHA-256 of the raw X25519 public key of key (public or private). */
gboolean cc_rec_key_id(EVP_PKEY *key, guint8 out[CC_REC_KEY_ID_LEN], GError **error);
char *cc_rec_hex(const guint8 *data, gsize len);

/* A new header wrapping data_key to recipient (a fresh ephemeral key and nonce base). */
gboolean cc_rec_header_build(EVP_PKEY *recipient, const guint8 data_key[CC_REC_DATA_KEY_LEN],
                             guint8 header[CC_REC_HEADER_LEN], GError **error);
/* Checks the first len bytes of a file as a header (magic, version, length, flags, key id)
 * and unwraps its data key with private_key. */
gboolean cc_rec_header_open(const guint8 *header, gsize len, EVP_PKEY *private_key,
                            guint8 data_key[CC_REC_DATA_KEY_LEN], GError **error);

/* The chunk cipher of one file, for sealing (writer) or opening (reader). */
typedef struct {
    EVP_CIPHER_CTX *ctx;
    guint8 nonce_base[CC_REC_NONCE_LEN];
    guint8 header_hash[CC_REC_HASH_LEN];
    gboolean encrypt;
} CcRecCipher;

gboolean cc_rec_cipher_init(CcRecCipher *cipher, const guint8 header[CC_REC_HEADER_LEN],
                            const guint8 data_key[CC_REC_DATA_KEY_LEN], gboolean encrypt,
                            GError **error);
/* Frees the context, which wipes the key schedule. */
void cc_rec_cipher_clear(CcRecCipher *cipher);
/* Writes the whole chunk (frame, ciphertext, tag) to out, which holds
 * CC_REC_FRAME_LEN + len + CC_REC_TAG_LEN bytes. 1 <= len <= CC_REC_CHUNK_MAX. */
gboolean cc_rec_chunk_seal(CcRecCipher *cipher, guint64 index, guint8 flags, const guint8 *plain,
                           gsize len, guint8 *out, GError **error);
/* Decrypts ciphertext (len bytes, then the tag) into plain; the frame was read already. */
gboolean cc_rec_chunk_open(CcRecCipher *cipher, guint64 index, guint8 flags,
                           const guint8 *ciphertext, gsize len, guint8 *plain, GError **error);

/* The sizes of encoded records (header included), and the encoders; each returns the
 * number of bytes written to out. Arguments are checked with cc_rec_check_stream (streams)
 * and by the caller (lengths). */
gsize cc_rec_stream_size(const CcRecordingStream *stream);
gsize cc_rec_encode_stream(guint8 *out, guint16 id, const CcRecordingStream *stream);
gsize cc_rec_encode_packet(guint8 *out, guint16 stream_id, guint64 time_us, gboolean rtcp,
                           const guint8 *data, gsize len);
gsize cc_rec_encode_damaged(guint8 *out, guint64 time_us, const char *reason, gsize len);
gsize cc_rec_encode_end(guint8 *out, guint64 packet_count);

gboolean cc_rec_check_stream(const CcRecordingStream *stream, GError **error);
gboolean cc_rec_check_text(const char *what, const guint8 *text, gsize len, gsize min, gsize max,
                           GError **error);

/* One decoded record; strings and data point into the chunk, without terminating NUL. */
typedef struct {
    guint8 type;
    guint16 stream_id;    /* STREAM, PACKET */
    guint8 kind;          /* STREAM */
    guint8 payload_type;  /* STREAM */
    guint32 clock_rate;   /* STREAM */
    guint32 ssrc;         /* STREAM */
    const guint8 *codec;  /* STREAM */
    gsize codec_len;      /* STREAM */
    const guint8 *owner;  /* STREAM */
    gsize owner_len;      /* STREAM */
    gboolean rtcp;        /* PACKET */
    guint64 time_us;      /* PACKET, DAMAGED */
    const guint8 *data;   /* PACKET data, DAMAGED reason */
    gsize len;            /* PACKET, DAMAGED */
    guint64 packet_count; /* END */
} CcRecRecord;

/* Decodes the record at the start of p (avail bytes left in the chunk) and checks every
 * field the format constrains by itself; *used gets its size. Stream order, packets of
 * undeclared streams and the END's place are the reader's to check. */
gboolean cc_rec_record_decode(const guint8 *p, gsize avail, CcRecRecord *record, gsize *used,
                              GError **error);

/* A whole file whose chunks hold the given plaintexts (1 to 65536 bytes each; the last is
 * the final chunk), encrypted to recipient. For tests and the fuzz target: it writes records
 * the writer would refuse, as anyone holding the public key could. */
GBytes *cc_rec_file_from_plaintexts(EVP_PKEY *recipient, GBytes *const *plaintexts, guint n,
                                    GError **error);

G_END_DECLS
