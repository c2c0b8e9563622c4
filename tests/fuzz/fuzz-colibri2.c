/* libFuzzer target: the Colibri2 parsers (conference-modify from the XMPP network on the
 * bridge, conference-modified on the focus). Beyond "no crash": what they accept, written
 * back as a request by our own writer, parses again to the same payload types, audio
 * level extension, channel id, occupant id and recording request. A bridge's
 * recording-status is parsed too. */
#include "cc-autoptr.h"
#include "colibri2.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static xmpp_ctx_t *ctx;

static void
rewrite_and_reparse(const CcColibri2Modify *m)
{
    g_autoptr(xmpp_stanza_t) iq = xmpp_stanza_new(ctx);
    xmpp_stanza_set_name(iq, "iq");
    cc_colibri2_modify_write(iq, m);
    xmpp_stanza_t *cm =
        xmpp_stanza_get_child_by_name_and_ns(iq, "conference-modify", CC_NS_COLIBRI2);
    g_autoptr(CcColibri2Modify) again = cc_colibri2_modify_parse(cm, NULL);
    if (again == NULL || again->endpoints->len != m->endpoints->len)
        abort();
    /* The accepted payload types survive exactly. */
    for (guint i = 0; i < m->endpoints->len; i++) {
        const CcColibri2Endpoint *a = g_ptr_array_index(m->endpoints, i);
        const CcColibri2Endpoint *b = g_ptr_array_index(again->endpoints, i);
        if (a->has_payload_types != b->has_payload_types ||
            memcmp(&a->audio, &b->audio, sizeof a->audio) != 0 ||
            memcmp(&a->video, &b->video, sizeof a->video) != 0)
            abort();
        /* and so do the audio level extension and the channel id */
        if (a->audio_level_ext != b->audio_level_ext || g_strcmp0(a->channel_id, b->channel_id) ||
            g_strcmp0(a->occupant_id, b->occupant_id))
            abort();
    }
    if (m->recording != again->recording || g_strcmp0(m->recording_id, again->recording_id))
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ctx == NULL) {
        xmpp_initialize();
        ctx = xmpp_ctx_new(NULL, NULL);
    }
    if (size > 65536)
        return 0;
    g_autofree char *text = g_strndup((const char *)data, size);
    g_autoptr(xmpp_stanza_t) stanza = xmpp_stanza_new_from_string(ctx, text);
    if (stanza == NULL)
        return 0;
    xmpp_stanza_t *cm =
        xmpp_stanza_get_child_by_name_and_ns(stanza, "conference-modify", CC_NS_COLIBRI2);
    if (cm == NULL)
        cm = stanza;
    g_autoptr(CcColibri2Modify) m = cc_colibri2_modify_parse(cm, NULL);
    if (m != NULL)
        rewrite_and_reparse(m);
    /* the answer, as the focus reads it */
    xmpp_stanza_t *answer =
        xmpp_stanza_get_child_by_name_and_ns(stanza, "conference-modified", CC_NS_COLIBRI2);
    g_autoptr(CcColibri2Modify) a = cc_colibri2_modified_parse(answer ? answer : stanza, NULL);
    if (a != NULL)
        rewrite_and_reparse(a);
    /* a bridge's recording report, as the focus reads it */
    xmpp_stanza_t *status =
        xmpp_stanza_get_child_by_name_and_ns(stanza, "recording-status", CC_NS_RECORDING);
    g_autoptr(CcColibri2RecordingStatus) st =
        cc_colibri2_recording_status_parse(status ? status : stanza, NULL);
    if (st != NULL && strcmp(st->state, "damaged") != 0 && strcmp(st->state, "failed") != 0)
        abort();
    return 0;
}
