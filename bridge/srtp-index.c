/* Per-SSRC packet indexes of an SRTP session (see srtp-index.h). Knows nothing of keys,
 * ciphers or directions. */
#include "srtp-index.h"

#include <string.h>

#define SEQ_MEDIAN  0x8000
#define SEQ_MAX     0x10000
#define FIRST_SLOTS 16

void
bridge_srtp_index_table_init(BridgeSrtpIndexTable *table, guint max_used)
{
    table->n_slots = FIRST_SLOTS;
    table->slots = g_new0(BridgeSrtpIndexState, table->n_slots);
    table->n_used = 0;
    table->max_used = max_used;
    table->seed = g_random_int();
}

void
bridge_srtp_index_table_clear(BridgeSrtpIndexTable *table)
{
    g_clear_pointer(&table->slots, g_free);
    table->n_slots = table->n_used = 0;
}

/* Fibonacci hashing: the product's top bits depend on all of the SSRC's bits, so SSRCs that
 * share their low bits do not pile up in one run of slots; the random seed keeps a peer
 * from choosing SSRCs that do. */
static guint
slot_of(guint32 ssrc, guint32 seed, guint n_slots)
{
    return (guint)(((guint64)(guint32)((ssrc ^ seed) * 2654435761u) * n_slots) >> 32);
}

static BridgeSrtpIndexState *
find_slot(BridgeSrtpIndexState *slots, guint n_slots, guint32 seed, guint32 ssrc)
{
    guint i = slot_of(ssrc, seed, n_slots);
    while (slots[i].used && slots[i].ssrc != ssrc)
        i = (i + 1) & (n_slots - 1);
    return &slots[i];
}

BridgeSrtpIndexState *
bridge_srtp_index_lookup(BridgeSrtpIndexTable *table, guint32 ssrc)
{
    BridgeSrtpIndexState *s = find_slot(table->slots, table->n_slots, table->seed, ssrc);
    return s->used ? s : NULL;
}

BridgeSrtpIndexState *
bridge_srtp_index_add_ssrc(BridgeSrtpIndexTable *table, guint32 ssrc)
{
    BridgeSrtpIndexState *s = find_slot(table->slots, table->n_slots, table->seed, ssrc);
    if (s->used)
        return s;
    if (table->n_used >= table->max_used)
        return NULL;
    if (2 * (table->n_used + 1) > table->n_slots) {
        guint n_slots = table->n_slots * 2;
        BridgeSrtpIndexState *slots = g_new0(BridgeSrtpIndexState, n_slots);
        for (guint i = 0; i < table->n_slots; i++)
            if (table->slots[i].used)
                *find_slot(slots, n_slots, table->seed, table->slots[i].ssrc) = table->slots[i];
        g_free(table->slots);
        table->slots = slots;
        table->n_slots = n_slots;
        s = find_slot(slots, n_slots, table->seed, ssrc);
    }
    memset(s, 0, sizeof *s);
    s->used = TRUE;
    s->ssrc = ssrc;
    table->n_used++;
    return s;
}

gint32
bridge_srtp_index_estimate(guint64 highest, guint16 seq, guint64 *index)
{
    if (highest <= SEQ_MEDIAN) {
        *index = seq;
        return (gint32)seq - (gint32)(guint16)highest;
    }
    guint32 roc = (guint32)(highest >> 16);
    gint32 local_seq = (guint16)highest;
    gint32 diff = (gint32)seq - local_seq;
    if (local_seq < SEQ_MEDIAN) {
        if (diff > SEQ_MEDIAN) {
            roc--;
            diff -= SEQ_MAX;
        }
    } else if (local_seq - SEQ_MEDIAN > (gint32)seq) {
        roc++;
        diff += SEQ_MAX;
    }
    *index = ((guint64)roc << 16) | seq;
    return diff;
}

/* The window is a ring: the bit of index i is i mod BRIDGE_SRTP_WINDOW, so moving up by
 * one clears one bit instead of shifting the whole window. */
static guint
ring_bit(guint64 index)
{
    return (guint)(index % BRIDGE_SRTP_WINDOW);
}

/* Clears `n` (< BRIDGE_SRTP_WINDOW) bits of the ring from bit `first` on, a word at a time:
 * the indexes the window moves over were not seen. */
static void
clear_ring(guint64 *seen, guint first, guint n)
{
    while (n > 0) {
        guint bit = first % 64, run = MIN(n, 64 - bit);
        guint64 mask = run == 64 ? G_MAXUINT64 : ((G_GUINT64_CONSTANT(1) << run) - 1) << bit;
        seen[first / 64] &= ~mask;
        first = (first + run) % BRIDGE_SRTP_WINDOW;
        n -= run;
    }
}

gboolean
bridge_srtp_index_seen(const BridgeSrtpIndexState *state, gint32 delta)
{
    guint k = ring_bit(state->index - (guint32)-delta);
    return (state->seen[k / 64] >> (k % 64)) & 1;
}

void
bridge_srtp_index_mark(BridgeSrtpIndexState *state, gint32 delta)
{
    if (delta >= BRIDGE_SRTP_WINDOW)
        memset(state->seen, 0, sizeof state->seen);
    else if (delta > 0)
        clear_ring(state->seen, ring_bit(state->index + 1), (guint)delta);
    if (delta > 0) {
        state->index += (guint32)delta;
        delta = 0;
    }
    guint k = ring_bit(state->index - (guint32)-delta);
    state->seen[k / 64] |= G_GUINT64_CONSTANT(1) << (k % 64);
}
