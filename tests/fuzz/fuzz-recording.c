/* libFuzzer target: the recording reader (schemas/recording.md), which parses whatever file
 * someone hands the operator. The first byte picks the mode:
 *  - even: the rest is a whole file, read with the fixed test key below (header checks,
 *    chunk framing, truncation; a mutated chunk almost never authenticates);
 *  - odd: the rest is chunk plaintexts, each a 2-byte length (plus one) then its bytes, sealed
 *    into a valid file for the key's public half, as anyone holding the public key can make
 *    one. The record parser and the checks across records see every input that way.
 * Beyond "no crash": every record the reader accepts respects the format's limits, and the
 * reader stops after END. */
#include "cc-autoptr.h"
#include "recording-file.h"
#include "recording-format.h"

#include <openssl/pem.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A throwaway key, used nowhere else. */
static const char test_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VuBCIEIFhorIwtjL9fjU9fXw0H/6RR5Ji9yg1T4PICk4Pp5BFi\n"
    "-----END PRIVATE KEY-----\n";

#define MAX_CHUNKS 8

static EVP_PKEY *
test_key(void)
{
    static EVP_PKEY *key;
    if (key == NULL) {
        g_autoptr(BIO) bio = BIO_new_mem_buf(test_key_pem, -1);
        key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        if (key == NULL)
            abort();
    }
    return key;
}

static void
check_record(const CcRecordingRecord *rec, guint n_streams)
{
    switch (rec->type) {
    case CC_RECORDING_RECORD_STREAM:
        if (rec->stream == NULL || rec->stream->id + 1u != n_streams ||
            strlen(rec->stream->codec) < 1 || strlen(rec->stream->codec) > CC_RECORDING_MAX_CODEC ||
            strlen(rec->stream->owner) > CC_RECORDING_MAX_OWNER ||
            !g_utf8_validate(rec->stream->owner, -1, NULL))
            abort();
        break;
    case CC_RECORDING_RECORD_PACKET:
        if (rec->stream == NULL || rec->stream->id >= n_streams || rec->len < 1 ||
            rec->len > CC_RECORDING_MAX_PACKET)
            abort();
        break;
    case CC_RECORDING_RECORD_DAMAGED:
        if (strlen(rec->reason) < 1 || strlen(rec->reason) > CC_RECORDING_MAX_REASON)
            abort();
        break;
    case CC_RECORDING_RECORD_END:
        break;
    default:
        abort();
    }
}

static void
read_file(GBytes *file)
{
    g_autoptr(GInputStream) input = g_memory_input_stream_new_from_bytes(file);
    g_autoptr(CcRecordingReader) reader = cc_recording_reader_new(input, test_key(), NULL);
    if (reader == NULL)
        return;
    CcRecordingRecord rec;
    while (cc_recording_reader_next(reader, &rec, NULL)) {
        check_record(&rec, cc_recording_reader_n_streams(reader));
        if (rec.type == CC_RECORDING_RECORD_END) {
            if (cc_recording_reader_next(reader, &rec, NULL))
                abort();
            break;
        }
    }
}

/* Splits the input into chunk plaintexts (1 to 65536 bytes each) and seals them. */
static GBytes *
sealed_file(const uint8_t *data, size_t size)
{
    GBytes *chunks[MAX_CHUNKS];
    guint n = 0;
    while (size >= 2 && n < MAX_CHUNKS) {
        gsize len = MIN((gsize)cc_rec_get_u16(data) + 1, size - 2);
        if (len == 0)
            break;
        chunks[n++] = g_bytes_new(data + 2, len);
        data += 2 + len;
        size -= 2 + len;
    }
    GBytes *file = n > 0 ? cc_rec_file_from_plaintexts(test_key(), chunks, n, NULL) : NULL;
    for (guint i = 0; i < n; i++)
        g_bytes_unref(chunks[i]);
    return file;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    g_autoptr(GBytes) file =
        data[0] % 2 == 0 ? g_bytes_new(data + 1, size - 1) : sealed_file(data + 1, size - 1);
    if (file != NULL)
        read_file(file);
    return 0;
}
