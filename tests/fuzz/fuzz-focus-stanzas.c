/* libFuzzer target: the focus's MUC logic fed arbitrary stanzas. The input is the inside of
 * a wrapper element; each child element is handled as a stanza the XMPP server delivered,
 * in order, by one focus whose rooms persist across the stanzas of an input. Replies are
 * built and counted as dropped (no connection). Checks: no crash, no leak, the room and
 * occupant gauges agree with the service's tables after each input, and the table of IQs
 * routed between occupants stays consistent and bounded. */
#include "focus-fixture.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const guest_domains[] = {"guest.example", NULL};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    FocusFixture f;
    focus_fixture_init(&f,
                       &(FocusFixtureOptions){.guest_domains = guest_domains, .max_occupants = 6});
    FocusMuc *muc = f.muc;
    xmpp_stanza_t *wrapper = focus_fixture_wrap(&f, data, size);
    if (wrapper != NULL) {
        for (xmpp_stanza_t *s = xmpp_stanza_get_children(wrapper); s != NULL;
             s = xmpp_stanza_get_next(s)) {
            if (xmpp_stanza_is_tag(s))
                cc_xmpp_component_inject(f.xmpp, s);
        }
        xmpp_stanza_release(wrapper);
    }
    guint occupants = 0;
    GHashTableIter iter;
    gpointer value;
    g_hash_table_iter_init(&iter, muc->rooms);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        FocusRoom *room = value;
        if (room->occupants->len == 0)
            abort(); /* an empty room must not survive */
        occupants += room->occupants->len;
    }
    if (cc_metric_get(muc->metrics.rooms) != g_hash_table_size(muc->rooms) ||
        cc_metric_get(muc->metrics.occupants) != occupants)
        abort();
    /* IQs routed between occupants: the per-sender counts add up to the table, which is
     * bounded, and every routed request is counted. */
    guint in_flight = 0;
    g_hash_table_iter_init(&iter, muc->routed_by_sender);
    while (g_hash_table_iter_next(&iter, NULL, &value))
        in_flight += GPOINTER_TO_UINT(value);
    if (in_flight != g_hash_table_size(muc->routed) || in_flight > 4096 ||
        cc_metric_get(muc->metrics.iqs_routed) < in_flight)
        abort();
    focus_fixture_clear(&f);
    return 0;
}
