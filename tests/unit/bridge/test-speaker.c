/* Unit tests of bridge/speaker.c: reading RFC 6464 levels out of one- and two-byte header
 * extensions (and refusing what is not one), the averages, and the election: the first
 * audible speaker wins at once, silence is nobody, a challenger must be louder by the
 * margin for the hold time, short bursts do not flap, silence keeps the last speaker, and
 * a forgotten endpoint is neither dominant nor challenger. */
#include "../check-main.h"
#include "speaker.h"

#include <errno.h>
#include <string.h>

/* An RTP packet whose extension block (profile, then `ext` of `n` bytes, padded). */
static gsize
packet(guint8 *buf, guint16 profile, const guint8 *ext, gsize n)
{
    gsize off = bridge_rtp_write_header(buf, 111, FALSE, 1, 2, 3);
    buf[0] |= 0x10;
    gsize words = (n + 3) / 4;
    bridge_write16(buf + off, profile);
    bridge_write16(buf + off + 2, (guint16)words);
    memset(buf + off + 4, 0, words * 4);
    memcpy(buf + off + 4, ext, n);
    off += 4 + words * 4;
    memset(buf + off, 0xAA, 20); /* payload */
    return off + 20;
}

static int
read_level(const guint8 *buf, gsize len, guint8 id, guint8 *level, gboolean *voice)
{
    BridgeRtpHeader h;
    ck_assert_int_eq(bridge_rtp_parse(buf, len, &h), 0);
    return bridge_speaker_read_level(buf, &h, id, level, voice);
}

START_TEST(test_read_level)
{
    guint8 buf[128], level = 0;
    gboolean voice = FALSE;
    /* one-byte form: another element (id 2, two bytes), then id 1 with V set, level 42 */
    const guint8 one[] = {0x21, 0x01, 0x02, 0x10, 0x80 | 42};
    gsize n = packet(buf, 0xBEDE, one, sizeof one);
    ck_assert_int_eq(read_level(buf, n, 1, &level, &voice), 0);
    ck_assert_uint_eq(level, 42);
    ck_assert(voice);
    ck_assert_int_eq(read_level(buf, n, 3, &level, &voice), -ENOENT);
    /* id 2 is two bytes long: not an audio level */
    ck_assert_int_eq(read_level(buf, n, 2, &level, &voice), -ENOENT);
    /* padding before the element, V clear */
    const guint8 padded[] = {0x00, 0x00, 0x50, 127};
    n = packet(buf, 0xBEDE, padded, sizeof padded);
    ck_assert_int_eq(read_level(buf, n, 5, &level, &voice), 0);
    ck_assert_uint_eq(level, 127);
    ck_assert(!voice);
    /* two-byte form, id 200 */
    const guint8 two[] = {7, 0, 200, 1, 0x80 | 3};
    n = packet(buf, 0x1000, two, sizeof two);
    ck_assert_int_eq(read_level(buf, n, 200, &level, &voice), 0);
    ck_assert_uint_eq(level, 3);
    /* id 15 stops the one-byte parse; another profile is opaque; no extension at all */
    const guint8 stop[] = {0xF0, 0x10, 0x05};
    n = packet(buf, 0xBEDE, stop, sizeof stop);
    ck_assert_int_eq(read_level(buf, n, 1, &level, &voice), -ENOENT);
    n = packet(buf, 0x1234, one, sizeof one);
    ck_assert_int_eq(read_level(buf, n, 1, &level, &voice), -ENOENT);
    gsize plain = bridge_rtp_write_header(buf, 111, FALSE, 1, 2, 3) + 10;
    ck_assert_int_eq(read_level(buf, plain, 1, &level, &voice), -ENOENT);
    ck_assert_int_eq(read_level(buf, plain, 0, &level, &voice), -ENOENT);
}
END_TEST

/* `ticks` ticks of `packets` packets at `level` for each endpoint (level < 0: none). */
static guint
run(BridgeSpeakerElection *e, BridgeSpeakerLevel *l, const int *levels, guint n, guint ticks)
{
    guint changes = 0;
    for (guint t = 0; t < ticks; t++) {
        bridge_speaker_election_begin(e);
        for (guint i = 0; i < n; i++) {
            for (int p = 0; levels[i] >= 0 && p < 5; p++)
                bridge_speaker_level_add(&l[i], (guint8)levels[i]);
            bridge_speaker_level_tick(&l[i]);
            bridge_speaker_election_consider(e, &l[i]);
        }
        if (bridge_speaker_election_end(e))
            changes++;
    }
    return changes;
}

START_TEST(test_averages)
{
    BridgeSpeakerLevel l = {0};
    bridge_speaker_level_add(&l, 27);
    bridge_speaker_level_add(&l, 127);
    bridge_speaker_level_add(&l, 0xff); /* the V bit is not part of the level */
    bridge_speaker_level_tick(&l);
    /* mean loudness (100 + 0 + 0) / 3, a third of it taken in */
    ck_assert_int_eq(l.smooth, 100 * BRIDGE_SPEAKER_SCALE / 3 / 3);
    ck_assert_uint_eq(l.count, 0);
    for (int i = 0; i < 30; i++) {
        bridge_speaker_level_add(&l, 27);
        bridge_speaker_level_tick(&l);
    }
    ck_assert_int_ge(l.smooth, 99 * BRIDGE_SPEAKER_SCALE);
    for (int i = 0; i < 30; i++) /* no packets: silence (DTX, muted) */
        bridge_speaker_level_tick(&l);
    ck_assert_int_lt(l.smooth, BRIDGE_SPEAKER_SCALE);
}
END_TEST

START_TEST(test_election)
{
    BridgeSpeakerElection e = {0};
    BridgeSpeakerLevel l[3] = {{0}};
    /* nobody above the silence threshold: nobody */
    int quiet[] = {100, 90, -1};
    ck_assert_uint_eq(run(&e, l, quiet, 3, 20), 0);
    ck_assert_ptr_null(e.dominant);
    /* the first audible speaker wins as soon as its average is audible */
    int one[] = {20, 90, -1};
    ck_assert_uint_eq(run(&e, l, one, 3, 5), 1);
    ck_assert_ptr_eq(e.dominant, &l[0]);
    /* a slightly louder challenger (less than the margin) does not take over */
    int close_call[] = {20, 17, -1};
    ck_assert_uint_eq(run(&e, l, close_call, 3, 30), 0);
    ck_assert_ptr_eq(e.dominant, &l[0]);
    /* a short burst of a clearly louder one (two ticks) does not either */
    int burst[] = {40, 5, -1};
    ck_assert_uint_eq(run(&e, l, burst, 3, 1), 0);
    int back[] = {20, 90, -1};
    ck_assert_uint_eq(run(&e, l, back, 3, 10), 0);
    ck_assert_ptr_eq(e.dominant, &l[0]);
    /* a sustained one does, once */
    int takeover[] = {40, 5, -1};
    ck_assert_uint_eq(run(&e, l, takeover, 3, 20), 1);
    ck_assert_ptr_eq(e.dominant, &l[1]);
    /* everyone silent: the last speaker stays */
    int silence[] = {127, 127, 127};
    ck_assert_uint_eq(run(&e, l, silence, 3, 30), 0);
    ck_assert_ptr_eq(e.dominant, &l[1]);
    /* a silent dominant speaker yields to anyone audible, after the hold time */
    int third[] = {127, 127, 60};
    ck_assert_uint_eq(run(&e, l, third, 3, 30), 1);
    ck_assert_ptr_eq(e.dominant, &l[2]);
}
END_TEST

START_TEST(test_forget)
{
    BridgeSpeakerElection e = {0};
    BridgeSpeakerLevel l[2] = {{0}};
    int a[] = {10, 127};
    run(&e, l, a, 2, 5);
    ck_assert_ptr_eq(e.dominant, &l[0]);
    int b[] = {127, 10};
    run(&e, l, b, 2, 2); /* l[1] is challenging */
    bridge_speaker_election_forget(&e, &l[1]);
    ck_assert_ptr_null(e.challenger);
    ck_assert_uint_eq(e.streak, 0);
    bridge_speaker_election_forget(&e, &l[0]);
    ck_assert_ptr_null(e.dominant);
    /* with nobody dominant, the next audible one wins at once */
    BridgeSpeakerLevel *only = &l[1];
    bridge_speaker_election_begin(&e);
    bridge_speaker_level_add(only, 10);
    bridge_speaker_level_tick(only);
    bridge_speaker_election_consider(&e, only);
    ck_assert(bridge_speaker_election_end(&e));
    ck_assert_ptr_eq(e.dominant, only);
}
END_TEST

static Suite *
speaker_suite(void)
{
    Suite *s = suite_create("speaker");
    TCase *tc = tcase_create("speaker");
    tcase_add_test(tc, test_read_level);
    tcase_add_test(tc, test_averages);
    tcase_add_test(tc, test_election);
    tcase_add_test(tc, test_forget);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(speaker_suite)
