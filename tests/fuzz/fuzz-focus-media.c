/* libFuzzer target: the focus's media side (capabilities, Jingle from clients, Colibri2 to
 * bridges, failover) fed arbitrary client stanzas and world controls, in the scripted world
 * of focus-world.h (which says what the input may hold).
 *
 * Checks: no crash, no leak, and after each element the world's media invariants (the
 * session gauge equals the accepted sessions; every source a participant was told of belongs
 * to another participant's accepted session; no conference stays on a bridge without
 * endpoints). */
#include "focus-world.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    FocusFixture f;
    focus_fixture_init(&f, &(FocusFixtureOptions){.stanzas_per_second = 100000});
    FocusWorld world;
    focus_world_init(&world, &f, TRUE, 0, FALSE);
    xmpp_stanza_t *wrapper = focus_fixture_wrap(&f, data, size);
    if (wrapper != NULL) {
        for (xmpp_stanza_t *s = xmpp_stanza_get_children(wrapper); s != NULL;
             s = xmpp_stanza_get_next(s)) {
            if (!xmpp_stanza_is_tag(s))
                continue;
            focus_world_feed(&world, s);
            const char *broken = focus_world_check(&world);
            if (broken != NULL) {
                g_printerr("invariant broken: %s\n", broken);
                abort();
            }
            if (g_getenv("FUZZ_VERBOSE") != NULL)
                g_printerr("sessions %" G_GINT64_FORMAT "\n",
                           cc_metric_get(world.media->metrics.sessions));
        }
        xmpp_stanza_release(wrapper);
    }
    focus_world_clear(&world);
    focus_fixture_clear(&f);
    return 0;
}
