/* Dominant speaker detection from the RFC 6464 audio level header extension. Pure and
 * allocation-free, so that the per-packet path can feed it and unit tests can drive it.
 *
 * Each packet's level (0..127 -dBov, lower is louder) becomes a loudness of 127 - level
 * dB above digital silence. Every tick (the conference timer, 100 ms) an endpoint's mean
 * loudness over the tick (0 when no audio packet came: DTX or muted) is folded into an
 * exponential average with a time constant of about 300 ms. The election then picks the
 * loudest endpoint whose average is above the silence threshold; a challenger replaces the
 * current dominant speaker only after being louder by the hysteresis margin (or the
 * current one being silent) for BRIDGE_SPEAKER_HOLD_TICKS ticks in a row. When everyone is
 * silent the last dominant speaker stays. */
#pragma once

#include "rtp.h"

#include <glib.h>

G_BEGIN_DECLS

#define BRIDGE_SPEAKER_SCALE         16 /* fixed point: 1/16 dB */
#define BRIDGE_SPEAKER_SILENCE_LEVEL 70 /* averages quieter than -70 dBov are silence */
#define BRIDGE_SPEAKER_MARGIN_DB     6  /* a challenger must be this much louder */
#define BRIDGE_SPEAKER_HOLD_TICKS    3  /* ... for this many ticks in a row (300 ms) */

typedef struct {
    guint32 sum;   /* loudness of this tick's packets */
    guint32 count; /* this tick's packets */
    gint32 smooth; /* averaged loudness, in 1/BRIDGE_SPEAKER_SCALE dB */
} BridgeSpeakerLevel;

typedef struct {
    const BridgeSpeakerLevel *dominant;
    const BridgeSpeakerLevel *challenger;
    guint streak; /* ticks the challenger has been winning */
    /* during a round (begin .. end) */
    const BridgeSpeakerLevel *loudest;
} BridgeSpeakerElection;

/* The audio level in the packet's RFC 8285 header extension element `id` (one- or
 * two-byte form, exactly one byte of data): 0 and the level (0..127) in `*level`, the V
 * (voice activity) bit in `*voice` unless it is NULL; -ENOENT when the packet has no such element.
 */
int bridge_speaker_read_level(const guint8 *buf, const BridgeRtpHeader *h, guint8 id, guint8 *level,
                              gboolean *voice);

/* One audio packet's level (0..127 -dBov). */
static inline void
bridge_speaker_level_add(BridgeSpeakerLevel *l, guint8 level)
{
    if (l->count < G_MAXUINT16) {
        l->sum += 127u - (level & 0x7f);
        l->count++;
    }
}

/* Folds the tick's packets into the average and starts a new tick. */
void bridge_speaker_level_tick(BridgeSpeakerLevel *l);

/* A round: begin, consider every endpoint's level, end. end() returns TRUE when the
 * dominant speaker changed (e->dominant is the new one). */
void bridge_speaker_election_begin(BridgeSpeakerElection *e);
void bridge_speaker_election_consider(BridgeSpeakerElection *e, const BridgeSpeakerLevel *l);
gboolean bridge_speaker_election_end(BridgeSpeakerElection *e);
/* An endpoint is gone: it is neither dominant nor challenger any more. */
void bridge_speaker_election_forget(BridgeSpeakerElection *e, const BridgeSpeakerLevel *l);

G_END_DECLS
