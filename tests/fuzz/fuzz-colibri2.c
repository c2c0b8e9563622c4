/* libFuzzer target: the Colibri2 parser (conference-modify from the XMPP network). Beyond
 * "no crash": what it accepts, written back by our own writers, parses again. */
#include "cc-autoptr.h"
#include "colibri2.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static xmpp_ctx_t *ctx;

static void
rewrite_and_reparse(const CcColibri2Modify *m)
{
    g_autoptr(xmpp_stanza_t) cm = xmpp_stanza_new(ctx);
    xmpp_stanza_set_name(cm, "conference-modify");
    xmpp_stanza_set_ns(cm, CC_NS_COLIBRI2);
    xmpp_stanza_set_attribute(cm, "meeting-id", m->meeting_id);
    for (guint i = 0; i < m->endpoints->len; i++) {
        const CcColibri2Endpoint *ep = g_ptr_array_index(m->endpoints, i);
        g_autoptr(xmpp_stanza_t) e = xmpp_stanza_new(ctx);
        xmpp_stanza_set_name(e, "endpoint");
        xmpp_stanza_set_attribute(e, "id", ep->id);
        if (ep->transport != NULL)
            cc_colibri2_transport_write(e, ep->transport);
        if (ep->sources != NULL)
            cc_colibri2_sources_write(e, ep->sources);
        xmpp_stanza_add_child(cm, e);
    }
    g_autoptr(CcColibri2Modify) again = cc_colibri2_modify_parse(cm, NULL);
    if (again == NULL || again->endpoints->len != m->endpoints->len)
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
    return 0;
}
