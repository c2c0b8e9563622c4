/* Writes a deterministic recording with the bridge's writer API, for test_recording.py:
 *   recording-write PUB OUT [--damaged]
 * Stream 0: Opus (PT 111, 48 kHz, SSRC 0x11111111, owner "occupant-alice"), 500 RTP packets
 * every 20 ms (sequence n, timestamp 960 n, 80 payload bytes) and an RTCP sender report
 * after every 50th. Stream 1: VP8 (PT 100, 90 kHz, SSRC 0x22222222, owner "occupant-bob"),
 * 300 RTP packets every 33.333 ms (timestamp 3000 n, 1000 payload bytes). Payload byte i of
 * packet n of stream s is (64 s + n + i) mod 256; the test computes the same bytes. With
 * --damaged, a damage marker at 1 s. */
#include "recording-file.h"

#include <stdio.h>
#include <string.h>

#define AUDIO_PACKETS 500
#define VIDEO_PACKETS 300

static gsize
rtp_packet(guint8 *out, guint8 pt, guint16 seq, guint32 ts, guint32 ssrc, guint stream,
           gsize payload_len)
{
    out[0] = 0x80;
    out[1] = pt;
    out[2] = (guint8)(seq >> 8);
    out[3] = (guint8)seq;
    for (int i = 0; i < 4; i++) {
        out[4 + i] = (guint8)(ts >> (24 - 8 * i));
        out[8 + i] = (guint8)(ssrc >> (24 - 8 * i));
    }
    for (gsize i = 0; i < payload_len; i++)
        out[12 + i] = (guint8)(64 * stream + seq + i);
    return 12 + payload_len;
}

static gsize
sender_report(guint8 *out, guint32 ssrc)
{
    memset(out, 0, 28);
    out[0] = 0x80;
    out[1] = 200;
    out[3] = 6;
    for (int i = 0; i < 4; i++)
        out[4 + i] = (guint8)(ssrc >> (24 - 8 * i));
    return 28;
}

static gboolean
write_all(CcRecordingWriter *writer, gboolean damaged, GError **error)
{
    const CcRecordingStream audio = {.kind = CC_RECORDING_AUDIO,
                                     .codec = "opus",
                                     .payload_type = 111,
                                     .clock_rate = 48000,
                                     .ssrc = 0x11111111,
                                     .owner = "occupant-alice"};
    const CcRecordingStream video = {.kind = CC_RECORDING_VIDEO,
                                     .codec = "VP8",
                                     .payload_type = 100,
                                     .clock_rate = 90000,
                                     .ssrc = 0x22222222,
                                     .owner = "occupant-bob"};
    guint16 a = 0, v = 0;
    if (!cc_recording_writer_add_stream(writer, &audio, &a, error) ||
        !cc_recording_writer_add_stream(writer, &video, &v, error))
        return FALSE;
    guint8 buf[1500];
    guint na = 0, nv = 0;
    while (na < AUDIO_PACKETS || nv < VIDEO_PACKETS) {
        guint64 ta = 20000 * (guint64)na, tv = 100000 * (guint64)nv / 3;
        gboolean audio_next = nv >= VIDEO_PACKETS || (na < AUDIO_PACKETS && ta <= tv);
        gboolean ok;
        if (audio_next) {
            gsize len = rtp_packet(buf, 111, (guint16)na, 960 * na, audio.ssrc, 0, 80);
            ok = cc_recording_writer_add_packet(writer, a, ta, FALSE, buf, len, error);
            if (ok && ++na % 50 == 0)
                ok = cc_recording_writer_add_packet(writer, a, ta + 1, TRUE, buf,
                                                    sender_report(buf, audio.ssrc), error);
        } else {
            gsize len = rtp_packet(buf, 100, (guint16)nv, 3000 * nv, video.ssrc, 1, 1000);
            ok = cc_recording_writer_add_packet(writer, v, tv, FALSE, buf, len, error);
            nv++;
        }
        if (ok && damaged && audio_next && ta == 1000000)
            ok = cc_recording_writer_mark_damaged(writer, ta, "queue overflow: 5 packets dropped",
                                                  error);
        if (!ok)
            return FALSE;
    }
    return cc_recording_writer_close(writer, error);
}

int
main(int argc, char **argv)
{
    if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "--damaged") != 0)) {
        fprintf(stderr, "usage: recording-write PUB OUT [--damaged]\n");
        return 2;
    }
    g_autoptr(GError) error = NULL;
    EVP_PKEY *key = cc_recording_public_key_load(argv[1], &error);
    CcRecordingWriter *writer = key ? cc_recording_writer_open(argv[2], key, &error) : NULL;
    gboolean ok = writer != NULL && write_all(writer, argc == 4, &error);
    cc_recording_writer_free(writer);
    EVP_PKEY_free(key);
    if (!ok) {
        fprintf(stderr, "recording-write: %s\n", error->message);
        return 1;
    }
    return 0;
}
