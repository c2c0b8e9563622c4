/* The byte layout of recordings (see recording-format.h and schemas/recording.md): the
 * header and its key wrap, the chunk cipher, and the records. Owns no state beyond what a
 * CcRecCipher holds; reading and writing files is the reader's and the writer's. */
#include "recording-format.h"

#include "cc-autoptr.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <string.h>

G_DEFINE_QUARK(cc - recording - error - quark, cc_recording_error)

static const char wrap_info[] = "conclave recording v1 key wrap";

const char *
cc_recording_media_kind_name(CcRecordingMediaKind kind)
{
    switch (kind) {
    case CC_RECORDING_AUDIO:
        return "audio";
    case CC_RECORDING_VIDEO:
        return "video";
    }
    return "unknown";
}

void
cc_rec_set_openssl_error(GError **error, const char *what)
{
    char buf[256];
    unsigned long code = ERR_get_error();
    ERR_error_string_n(code, buf, sizeof buf);
    ERR_clear_error();
    g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_CRYPTO, "%s: %s", what,
                code ? buf : "failed");
}

char *
cc_rec_hex(const guint8 *data, gsize len)
{
    static const char digits[] = "0123456789abcdef";
    char *out = g_malloc(2 * len + 1);
    for (gsize i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * len] = '\0';
    return out;
}

static gboolean
raw_public(EVP_PKEY *key, guint8 out[CC_REC_X25519_LEN], GError **error)
{
    size_t len = CC_REC_X25519_LEN;
    if (!EVP_PKEY_is_a(key, "X25519")) {
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_INVALID_ARG,
                    "recording keys are X25519 keys, this one is %s", EVP_PKEY_get0_type_name(key));
        return FALSE;
    }
    if (EVP_PKEY_get_raw_public_key(key, out, &len) != 1 || len != CC_REC_X25519_LEN) {
        cc_rec_set_openssl_error(error, "X25519 public key");
        return FALSE;
    }
    return TRUE;
}

static void
key_id_of_raw(const guint8 raw[CC_REC_X25519_LEN], guint8 out[CC_REC_KEY_ID_LEN])
{
    guint8 digest[CC_REC_HASH_LEN];
    unsigned int len = 0;
    if (EVP_Digest(raw, CC_REC_X25519_LEN, digest, &len, EVP_sha256(), NULL) != 1)
        g_error("SHA-256 unavailable");
    memcpy(out, digest, CC_REC_KEY_ID_LEN);
}

gboolean
cc_rec_key_id(EVP_PKEY *key, guint8 out[CC_REC_KEY_ID_LEN], GError **error)
{
    guint8 raw[CC_REC_X25519_LEN];
    if (!raw_public(key, raw, error))
        return FALSE;
    key_id_of_raw(raw, out);
    return TRUE;
}

char *
cc_recording_key_id(EVP_PKEY *key, GError **error)
{
    guint8 id[CC_REC_KEY_ID_LEN];
    if (!cc_rec_key_id(key, id, error))
        return NULL;
    return cc_rec_hex(id, sizeof id);
}

/* kek = HKDF-SHA256(X25519(own, peer), salt = ephemeral || recipient, info). */
static gboolean
derive_kek(EVP_PKEY *own, const guint8 peer_raw[CC_REC_X25519_LEN],
           const guint8 ephemeral[CC_REC_X25519_LEN], const guint8 recipient[CC_REC_X25519_LEN],
           guint8 kek[CC_REC_DATA_KEY_LEN])
{
    g_autoptr(EVP_PKEY) peer =
        EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, peer_raw, CC_REC_X25519_LEN);
    g_autoptr(EVP_PKEY_CTX) dh = EVP_PKEY_CTX_new_from_pkey(NULL, own, NULL);
    guint8 shared[CC_REC_X25519_LEN];
    size_t shared_len = sizeof shared;
    /* OpenSSL refuses an all-zero shared secret (a low-order peer key). */
    if (peer == NULL || dh == NULL || EVP_PKEY_derive_init(dh) != 1 ||
        EVP_PKEY_derive_set_peer(dh, peer) != 1 || EVP_PKEY_derive(dh, shared, &shared_len) != 1 ||
        shared_len != sizeof shared)
        return FALSE;

    guint8 salt[2 * CC_REC_X25519_LEN];
    memcpy(salt, ephemeral, CC_REC_X25519_LEN);
    memcpy(salt + CC_REC_X25519_LEN, recipient, CC_REC_X25519_LEN);
    g_autoptr(EVP_KDF) kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    g_autoptr(EVP_KDF_CTX) kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, shared, sizeof shared),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, sizeof salt),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (char *)wrap_info,
                                          strlen(wrap_info)),
        OSSL_PARAM_construct_end(),
    };
    gboolean ok = kctx != NULL && EVP_KDF_derive(kctx, kek, CC_REC_DATA_KEY_LEN, params) == 1;
    OPENSSL_cleanse(shared, sizeof shared);
    return ok;
}

static EVP_CIPHER_CTX *
gcm_new(const guint8 key[CC_REC_DATA_KEY_LEN], gboolean encrypt)
{
    g_autoptr(EVP_CIPHER) aes = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    EVP_CIPHER_CTX *ctx = aes ? EVP_CIPHER_CTX_new() : NULL;
    if (ctx != NULL && EVP_CipherInit_ex2(ctx, aes, key, NULL, encrypt ? 1 : 0, NULL) != 1)
        g_clear_pointer(&ctx, EVP_CIPHER_CTX_free);
    return ctx;
}

/* One AES-256-GCM message with the context's key; FALSE on a tag mismatch too. */
static gboolean
gcm_run(EVP_CIPHER_CTX *ctx, gboolean encrypt, const guint8 iv[CC_REC_NONCE_LEN], const guint8 *aad,
        gsize aad_len, const guint8 *in, gsize len, guint8 *out, guint8 tag[CC_REC_TAG_LEN])
{
    int n = 0, last = 0;
    if (EVP_CipherInit_ex2(ctx, NULL, NULL, iv, -1, NULL) != 1)
        return FALSE;
    if (!encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, CC_REC_TAG_LEN, tag) != 1)
        return FALSE;
    if (EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1 ||
        EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1 ||
        EVP_CipherFinal_ex(ctx, out + n, &last) != 1)
        return FALSE;
    if (encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, CC_REC_TAG_LEN, tag) != 1)
        return FALSE;
    return TRUE;
}

static gboolean
wrap_data_key(EVP_PKEY *ephemeral, const guint8 recipient[CC_REC_X25519_LEN],
              const guint8 data_key[CC_REC_DATA_KEY_LEN], guint8 header[CC_REC_HEADER_LEN])
{
    static const guint8 zero_iv[CC_REC_NONCE_LEN];
    guint8 kek[CC_REC_DATA_KEY_LEN];
    if (!derive_kek(ephemeral, recipient, header + 28, recipient, kek))
        return FALSE;
    EVP_CIPHER_CTX *ctx = gcm_new(kek, TRUE);
    OPENSSL_cleanse(kek, sizeof kek);
    gboolean ok = ctx != NULL && gcm_run(ctx, TRUE, zero_iv, header, CC_REC_WRAP_AAD_LEN, data_key,
                                         CC_REC_DATA_KEY_LEN, header + 72, header + 104);
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

gboolean
cc_rec_header_build(EVP_PKEY *recipient, const guint8 data_key[CC_REC_DATA_KEY_LEN],
                    guint8 header[CC_REC_HEADER_LEN], GError **error)
{
    guint8 recipient_raw[CC_REC_X25519_LEN];
    if (!raw_public(recipient, recipient_raw, error))
        return FALSE;
    g_autoptr(EVP_PKEY) ephemeral = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    if (ephemeral == NULL || !raw_public(ephemeral, header + 28, NULL)) {
        cc_rec_set_openssl_error(error, "ephemeral X25519 key");
        return FALSE;
    }
    memcpy(header, CC_REC_MAGIC, CC_REC_MAGIC_LEN);
    cc_rec_put_u16(header + 8, CC_REC_VERSION);
    cc_rec_put_u16(header + 10, 0);
    key_id_of_raw(recipient_raw, header + 12);
    if (RAND_bytes(header + 60, CC_REC_NONCE_LEN) != 1) {
        cc_rec_set_openssl_error(error, "nonce base");
        return FALSE;
    }
    if (!wrap_data_key(ephemeral, recipient_raw, data_key, header)) {
        cc_rec_set_openssl_error(error, "wrapping the data key");
        return FALSE;
    }
    return TRUE;
}

/* Magic, version and length, in the order that names the problem best. */
static gboolean
check_header_shape(const guint8 *header, gsize len, GError **error)
{
    if (len == 0 || memcmp(header, CC_REC_MAGIC, MIN(len, CC_REC_MAGIC_LEN)) != 0) {
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_BAD_MAGIC,
                    "bad magic (not a Conclave recording)");
        return FALSE;
    }
    if (len >= 10 && cc_rec_get_u16(header + 8) != CC_REC_VERSION) {
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_VERSION,
                    "unsupported version %u (this reader knows version %d)",
                    cc_rec_get_u16(header + 8), CC_REC_VERSION);
        return FALSE;
    }
    if (len < CC_REC_HEADER_LEN) {
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_TRUNCATED,
                    "file ends inside its header (truncated)");
        return FALSE;
    }
    if (cc_rec_get_u16(header + 10) != 0) {
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_VERSION,
                    "unsupported header flags 0x%04x", cc_rec_get_u16(header + 10));
        return FALSE;
    }
    return TRUE;
}

gboolean
cc_rec_header_open(const guint8 *header, gsize len, EVP_PKEY *private_key,
                   guint8 data_key[CC_REC_DATA_KEY_LEN], GError **error)
{
    guint8 ours_raw[CC_REC_X25519_LEN], ours[CC_REC_KEY_ID_LEN];
    if (!check_header_shape(header, len, error) || !raw_public(private_key, ours_raw, error))
        return FALSE;
    key_id_of_raw(ours_raw, ours);
    if (CRYPTO_memcmp(ours, header + 12, CC_REC_KEY_ID_LEN) != 0) {
        g_autofree char *theirs_hex = cc_rec_hex(header + 12, CC_REC_KEY_ID_LEN);
        g_autofree char *ours_hex = cc_rec_hex(ours, CC_REC_KEY_ID_LEN);
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_WRONG_KEY,
                    "wrong key (key id %s does not match the private key's %s)", theirs_hex,
                    ours_hex);
        return FALSE;
    }
    static const guint8 zero_iv[CC_REC_NONCE_LEN];
    guint8 kek[CC_REC_DATA_KEY_LEN];
    gboolean ok = derive_kek(private_key, header + 28, header + 28, ours_raw, kek);
    EVP_CIPHER_CTX *ctx = ok ? gcm_new(kek, FALSE) : NULL;
    OPENSSL_cleanse(kek, sizeof kek);
    ok = ctx != NULL && gcm_run(ctx, FALSE, zero_iv, header, CC_REC_WRAP_AAD_LEN, header + 72,
                                CC_REC_DATA_KEY_LEN, data_key, (guint8 *)header + 104);
    EVP_CIPHER_CTX_free(ctx);
    ERR_clear_error();
    if (!ok) {
        OPENSSL_cleanse(data_key, CC_REC_DATA_KEY_LEN);
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_AUTH,
                    "data key unwrap failed (header tampered)");
    }
    return ok;
}

gboolean
cc_rec_cipher_init(CcRecCipher *cipher, const guint8 header[CC_REC_HEADER_LEN],
                   const guint8 data_key[CC_REC_DATA_KEY_LEN], gboolean encrypt, GError **error)
{
    memset(cipher, 0, sizeof *cipher);
    cipher->encrypt = encrypt;
    memcpy(cipher->nonce_base, header + 60, CC_REC_NONCE_LEN);
    if (EVP_Digest(header, CC_REC_HEADER_LEN, cipher->header_hash, NULL, EVP_sha256(), NULL) != 1 ||
        (cipher->ctx = gcm_new(data_key, encrypt)) == NULL) {
        cc_rec_set_openssl_error(error, "AES-256-GCM");
        return FALSE;
    }
    return TRUE;
}

void
cc_rec_cipher_clear(CcRecCipher *cipher)
{
    g_clear_pointer(&cipher->ctx, EVP_CIPHER_CTX_free);
}

#define CHUNK_AAD_LEN (CC_REC_HASH_LEN + 8 + 1)

static void
chunk_iv_aad(const CcRecCipher *cipher, guint64 index, guint8 flags, guint8 iv[CC_REC_NONCE_LEN],
             guint8 aad[CHUNK_AAD_LEN])
{
    guint8 counter[8];
    cc_rec_put_u64(counter, index);
    memcpy(iv, cipher->nonce_base, CC_REC_NONCE_LEN);
    for (int i = 0; i < 8; i++)
        iv[4 + i] ^= counter[i];
    memcpy(aad, cipher->header_hash, CC_REC_HASH_LEN);
    memcpy(aad + CC_REC_HASH_LEN, counter, 8);
    aad[CC_REC_HASH_LEN + 8] = flags;
}

gboolean
cc_rec_chunk_seal(CcRecCipher *cipher, guint64 index, guint8 flags, const guint8 *plain, gsize len,
                  guint8 *out, GError **error)
{
    g_return_val_if_fail(cipher->encrypt && len >= 1 && len <= CC_REC_CHUNK_MAX, FALSE);
    guint8 iv[CC_REC_NONCE_LEN], aad[CHUNK_AAD_LEN];
    chunk_iv_aad(cipher, index, flags, iv, aad);
    out[0] = flags;
    cc_rec_put_u32(out + 1, (guint32)len);
    if (!gcm_run(cipher->ctx, TRUE, iv, aad, sizeof aad, plain, len, out + CC_REC_FRAME_LEN,
                 out + CC_REC_FRAME_LEN + len)) {
        cc_rec_set_openssl_error(error, "sealing a chunk");
        return FALSE;
    }
    return TRUE;
}

gboolean
cc_rec_chunk_open(CcRecCipher *cipher, guint64 index, guint8 flags, const guint8 *ciphertext,
                  gsize len, guint8 *plain, GError **error)
{
    g_return_val_if_fail(!cipher->encrypt && len >= 1 && len <= CC_REC_CHUNK_MAX, FALSE);
    guint8 iv[CC_REC_NONCE_LEN], aad[CHUNK_AAD_LEN];
    chunk_iv_aad(cipher, index, flags, iv, aad);
    if (!gcm_run(cipher->ctx, FALSE, iv, aad, sizeof aad, ciphertext, len, plain,
                 (guint8 *)ciphertext + len)) {
        ERR_clear_error();
        OPENSSL_cleanse(plain, len);
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_AUTH,
                    "chunk %" G_GUINT64_FORMAT " failed authentication (tampered or reordered)",
                    index);
        return FALSE;
    }
    return TRUE;
}

GBytes *
cc_rec_file_from_plaintexts(EVP_PKEY *recipient, GBytes *const *plaintexts, guint n, GError **error)
{
    guint8 data_key[CC_REC_DATA_KEY_LEN], header[CC_REC_HEADER_LEN];
    CcRecCipher cipher = {0};
    if (RAND_bytes(data_key, sizeof data_key) != 1 ||
        !cc_rec_header_build(recipient, data_key, header, error) ||
        !cc_rec_cipher_init(&cipher, header, data_key, TRUE, error)) {
        OPENSSL_cleanse(data_key, sizeof data_key);
        cc_rec_cipher_clear(&cipher);
        return NULL;
    }
    OPENSSL_cleanse(data_key, sizeof data_key);
    g_autoptr(GByteArray) file = g_byte_array_new();
    g_byte_array_append(file, header, sizeof header);
    gboolean ok = TRUE;
    for (guint i = 0; ok && i < n; i++) {
        gsize len = 0;
        const guint8 *plain = g_bytes_get_data(plaintexts[i], &len);
        guint old = file->len;
        g_byte_array_set_size(file, (guint)(old + CC_REC_FRAME_LEN + len + CC_REC_TAG_LEN));
        ok = cc_rec_chunk_seal(&cipher, i, i + 1 == n ? CC_REC_FLAG_FINAL : 0, plain, len,
                               file->data + old, error);
    }
    cc_rec_cipher_clear(&cipher);
    return ok ? g_byte_array_free_to_bytes(g_steal_pointer(&file)) : NULL;
}

/* ---- records ------------------------------------------------------------------------- */

static gboolean
codec_valid(const guint8 *codec, gsize len)
{
    if (len < 1 || len > CC_RECORDING_MAX_CODEC)
        return FALSE;
    /* Not strchr: it would find the NUL terminator of its set. */
    for (gsize i = 0; i < len; i++)
        if (!g_ascii_isalnum(codec[i]) && codec[i] != '.' && codec[i] != '_' && codec[i] != '+' &&
            codec[i] != '-')
            return FALSE;
    return TRUE;
}

gboolean
cc_rec_check_text(const char *what, const guint8 *text, gsize len, gsize min, gsize max,
                  GError **error)
{
    if (len < min || len > max) {
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_INVALID_ARG,
                    "%s of %zu bytes (allowed: %zu to %zu)", what, len, min, max);
        return FALSE;
    }
    /* Valid UTF-8 without NUL, and no control characters: these strings end up on the
     * operator's terminal. */
    const char *end = NULL;
    if (!g_utf8_validate_len((const char *)text, len, &end)) {
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_INVALID_ARG,
                    "%s is not valid UTF-8", what);
        return FALSE;
    }
    for (const char *p = (const char *)text; p < (const char *)text + len;
         p = g_utf8_next_char(p)) {
        if (g_unichar_iscntrl(g_utf8_get_char(p))) {
            g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_INVALID_ARG,
                        "%s holds a control character", what);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
check_stream_fields(guint8 kind, guint8 payload_type, guint32 clock_rate, const guint8 *codec,
                    gsize codec_len, const guint8 *owner, gsize owner_len, GError **error)
{
    const char *bad = NULL;
    if (kind != CC_RECORDING_AUDIO && kind != CC_RECORDING_VIDEO)
        bad = "media kind is neither audio nor video";
    else if (payload_type > 127)
        bad = "payload type above 127";
    else if (clock_rate == 0)
        bad = "clock rate 0";
    else if (!codec_valid(codec, codec_len))
        bad = "codec name is not 1 to 32 characters of [A-Za-z0-9._+-]";
    if (bad != NULL) {
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_INVALID_ARG, "stream: %s", bad);
        return FALSE;
    }
    return cc_rec_check_text("stream owner", owner, owner_len, 0, CC_RECORDING_MAX_OWNER, error);
}

gboolean
cc_rec_check_stream(const CcRecordingStream *stream, GError **error)
{
    const char *codec = stream->codec ? stream->codec : "";
    const char *owner = stream->owner ? stream->owner : "";
    /* An out-of-range enum value must not wrap around to a valid byte. */
    guint8 kind = stream->kind == CC_RECORDING_AUDIO || stream->kind == CC_RECORDING_VIDEO
                      ? (guint8)stream->kind
                      : 0;
    return check_stream_fields(kind, stream->payload_type, stream->clock_rate,
                               (const guint8 *)codec, strlen(codec), (const guint8 *)owner,
                               strlen(owner), error);
}

gsize
cc_rec_stream_size(const CcRecordingStream *stream)
{
    return CC_REC_RECORD_HEADER_LEN + CC_REC_STREAM_FIXED + strlen(stream->codec) +
           (stream->owner ? strlen(stream->owner) : 0);
}

gsize
cc_rec_encode_stream(guint8 *out, guint16 id, const CcRecordingStream *stream)
{
    gsize codec_len = strlen(stream->codec);
    gsize owner_len = stream->owner ? strlen(stream->owner) : 0;
    guint8 *p = out + CC_REC_RECORD_HEADER_LEN;
    out[0] = CC_RECORDING_RECORD_STREAM;
    cc_rec_put_u16(out + 1, (guint16)(CC_REC_STREAM_FIXED + codec_len + owner_len));
    cc_rec_put_u16(p, id);
    p[2] = (guint8)stream->kind;
    p[3] = stream->payload_type;
    cc_rec_put_u32(p + 4, stream->clock_rate);
    cc_rec_put_u32(p + 8, stream->ssrc);
    p[12] = (guint8)codec_len;
    memcpy(p + 13, stream->codec, codec_len);
    p[13 + codec_len] = (guint8)owner_len;
    if (owner_len > 0)
        memcpy(p + 14 + codec_len, stream->owner, owner_len);
    return CC_REC_RECORD_HEADER_LEN + CC_REC_STREAM_FIXED + codec_len + owner_len;
}

gsize
cc_rec_encode_packet(guint8 *out, guint16 stream_id, guint64 time_us, gboolean rtcp,
                     const guint8 *data, gsize len)
{
    out[0] = CC_RECORDING_RECORD_PACKET;
    cc_rec_put_u16(out + 1, (guint16)(CC_REC_PACKET_FIXED + len));
    cc_rec_put_u16(out + 3, stream_id);
    out[5] = rtcp ? CC_REC_PACKET_RTCP : 0;
    cc_rec_put_u64(out + 6, time_us);
    memcpy(out + 14, data, len);
    return CC_REC_RECORD_HEADER_LEN + CC_REC_PACKET_FIXED + len;
}

gsize
cc_rec_encode_damaged(guint8 *out, guint64 time_us, const char *reason, gsize len)
{
    out[0] = CC_RECORDING_RECORD_DAMAGED;
    cc_rec_put_u16(out + 1, (guint16)(CC_REC_DAMAGED_FIXED + len));
    cc_rec_put_u64(out + 3, time_us);
    memcpy(out + 11, reason, len);
    return CC_REC_RECORD_HEADER_LEN + CC_REC_DAMAGED_FIXED + len;
}

gsize
cc_rec_encode_end(guint8 *out, guint64 packet_count)
{
    out[0] = CC_RECORDING_RECORD_END;
    cc_rec_put_u16(out + 1, CC_REC_END_LEN);
    cc_rec_put_u64(out + 3, packet_count);
    return CC_REC_RECORD_HEADER_LEN + CC_REC_END_LEN;
}

static gboolean
corrupt(GError **error, const char *message)
{
    g_set_error_literal(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_CORRUPT, message);
    return FALSE;
}

/* A field check failed on decoding: the file, not the caller, is wrong. */
static gboolean
as_corrupt(GError **error, GError *local)
{
    local->code = CC_RECORDING_ERROR_CORRUPT;
    g_propagate_error(error, local);
    return FALSE;
}

static gboolean
decode_stream(const guint8 *body, gsize len, CcRecRecord *record, GError **error)
{
    if (len < CC_REC_STREAM_FIXED)
        return corrupt(error, "STREAM record too short");
    record->stream_id = cc_rec_get_u16(body);
    record->kind = body[2];
    record->payload_type = body[3];
    record->clock_rate = cc_rec_get_u32(body + 4);
    record->ssrc = cc_rec_get_u32(body + 8);
    record->codec_len = body[12];
    record->codec = body + 13;
    if (13 + record->codec_len + 1 > len)
        return corrupt(error, "STREAM record: codec name overruns the record");
    record->owner_len = body[13 + record->codec_len];
    record->owner = body + 14 + record->codec_len;
    if (CC_REC_STREAM_FIXED + record->codec_len + record->owner_len != len)
        return corrupt(error, "STREAM record: lengths do not add up to the record's");
    GError *local = NULL;
    if (!check_stream_fields(record->kind, record->payload_type, record->clock_rate, record->codec,
                             record->codec_len, record->owner, record->owner_len, &local))
        return as_corrupt(error, local);
    return TRUE;
}

static gboolean
decode_body(guint8 type, const guint8 *body, gsize len, CcRecRecord *record, GError **error)
{
    GError *local = NULL;
    switch (type) {
    case CC_RECORDING_RECORD_STREAM:
        return decode_stream(body, len, record, error);
    case CC_RECORDING_RECORD_PACKET:
        if (len < CC_REC_PACKET_FIXED + 1 || len > CC_REC_PACKET_FIXED + CC_RECORDING_MAX_PACKET)
            return corrupt(error, "PACKET record: packet length out of range 1..65507");
        if ((body[2] & ~CC_REC_PACKET_RTCP) != 0)
            return corrupt(error, "PACKET record: unknown flags");
        record->stream_id = cc_rec_get_u16(body);
        record->rtcp = (body[2] & CC_REC_PACKET_RTCP) != 0;
        record->time_us = cc_rec_get_u64(body + 3);
        record->data = body + CC_REC_PACKET_FIXED;
        record->len = len - CC_REC_PACKET_FIXED;
        return TRUE;
    case CC_RECORDING_RECORD_DAMAGED:
        if (len < CC_REC_DAMAGED_FIXED)
            return corrupt(error, "DAMAGED record too short");
        record->time_us = cc_rec_get_u64(body);
        record->data = body + CC_REC_DAMAGED_FIXED;
        record->len = len - CC_REC_DAMAGED_FIXED;
        if (!cc_rec_check_text("damage reason", record->data, record->len, 1,
                               CC_RECORDING_MAX_REASON, &local))
            return as_corrupt(error, local);
        return TRUE;
    case CC_RECORDING_RECORD_END:
        if (len != CC_REC_END_LEN)
            return corrupt(error, "END record is not 8 bytes long");
        record->packet_count = cc_rec_get_u64(body);
        return TRUE;
    }
    g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_CORRUPT, "unknown record type %u",
                type);
    return FALSE;
}

gboolean
cc_rec_record_decode(const guint8 *p, gsize avail, CcRecRecord *record, gsize *used, GError **error)
{
    memset(record, 0, sizeof *record);
    if (avail < CC_REC_RECORD_HEADER_LEN)
        return corrupt(error, "record header cut by the end of the chunk");
    gsize body_len = cc_rec_get_u16(p + 1);
    if (body_len > avail - CC_REC_RECORD_HEADER_LEN) {
        g_set_error(error, CC_RECORDING_ERROR, CC_RECORDING_ERROR_CORRUPT,
                    "record of %zu bytes overruns its chunk (%zu left)", body_len,
                    avail - CC_REC_RECORD_HEADER_LEN);
        return FALSE;
    }
    record->type = p[0];
    *used = CC_REC_RECORD_HEADER_LEN + body_len;
    return decode_body(p[0], p + CC_REC_RECORD_HEADER_LEN, body_len, record, error);
}
