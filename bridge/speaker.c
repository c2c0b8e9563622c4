/* Dominant speaker detection (see speaker.h): reading RFC 6464 levels out of RTP header
 * extensions, per-endpoint averages, and the election with its hysteresis. Owns no
 * endpoint and no conference; the conference calls it from its worker. */
#include "speaker.h"

#include <errno.h>

int
bridge_speaker_read_level(const guint8 *buf, const BridgeRtpHeader *h, guint8 id, guint8 *level,
                          gboolean *voice)
{
    if (!h->extension || id == 0)
        return -ENOENT;
    const guint8 *p = buf + h->ext_offset;
    gsize pos = 0, off, len;
    guint8 eid;
    while (bridge_rtp_next_extension(p, h->ext_len, h->ext_profile, &pos, &eid, &off, &len) > 0) {
        if (eid != id)
            continue;
        if (len != 1)
            return -ENOENT;
        *level = p[off] & 0x7f;
        if (voice != NULL)
            *voice = (p[off] & 0x80) != 0;
        return 0;
    }
    return -ENOENT;
}

void
bridge_speaker_level_tick(BridgeSpeakerLevel *l)
{
    gint32 mean = l->count > 0 ? (gint32)(l->sum * BRIDGE_SPEAKER_SCALE / l->count) : 0;
    /* alpha = 1/3 per 100 ms tick: a time constant of about 300 ms */
    l->smooth += (mean - l->smooth) / 3;
    l->sum = 0;
    l->count = 0;
}

static gboolean
audible(const BridgeSpeakerLevel *l)
{
    return l->smooth >= (127 - BRIDGE_SPEAKER_SILENCE_LEVEL) * BRIDGE_SPEAKER_SCALE;
}

void
bridge_speaker_election_begin(BridgeSpeakerElection *e)
{
    e->loudest = NULL;
}

void
bridge_speaker_election_consider(BridgeSpeakerElection *e, const BridgeSpeakerLevel *l)
{
    if (audible(l) && (e->loudest == NULL || l->smooth > e->loudest->smooth))
        e->loudest = l;
}

gboolean
bridge_speaker_election_end(BridgeSpeakerElection *e)
{
    const BridgeSpeakerLevel *c = e->loudest;
    e->loudest = NULL;
    if (c == NULL || c == e->dominant) {
        e->challenger = NULL;
        e->streak = 0;
        return FALSE;
    }
    if (e->dominant == NULL) {
        e->dominant = c;
        e->challenger = NULL;
        e->streak = 0;
        return TRUE;
    }
    gboolean wins =
        !audible(e->dominant) ||
        c->smooth >= e->dominant->smooth + BRIDGE_SPEAKER_MARGIN_DB * BRIDGE_SPEAKER_SCALE;
    if (!wins) {
        e->challenger = NULL;
        e->streak = 0;
        return FALSE;
    }
    if (c != e->challenger) {
        e->challenger = c;
        e->streak = 0;
    }
    if (++e->streak < BRIDGE_SPEAKER_HOLD_TICKS)
        return FALSE;
    e->dominant = c;
    e->challenger = NULL;
    e->streak = 0;
    return TRUE;
}

void
bridge_speaker_election_forget(BridgeSpeakerElection *e, const BridgeSpeakerLevel *l)
{
    if (e->dominant == l)
        e->dominant = NULL;
    if (e->challenger == l) {
        e->challenger = NULL;
        e->streak = 0;
    }
    if (e->loudest == l)
        e->loudest = NULL;
}
