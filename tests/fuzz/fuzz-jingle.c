/* libFuzzer target: the Jingle parser (every session-initiate, source-add, transport-info or
 * terminate a client sends the focus, and every offer the test peer receives). Beyond "no
 * crash": what it accepts, written back by our own writer, parses again into the same
 * session, both as a stanza and once serialized to text. */
#include "cc-autoptr.h"
#include "jingle.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static xmpp_ctx_t *ctx;

static gboolean
str_eq(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static gboolean
transport_eq(const CcIceUdpTransport *a, const CcIceUdpTransport *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    if (!str_eq(a->ufrag, b->ufrag) || !str_eq(a->pwd, b->pwd) || !str_eq(a->fp_hash, b->fp_hash) ||
        !str_eq(a->fp_setup, b->fp_setup) || !str_eq(a->fingerprint, b->fingerprint) ||
        a->rtcp_mux != b->rtcp_mux || a->candidates->len != b->candidates->len)
        return FALSE;
    for (guint i = 0; i < a->candidates->len; i++) {
        const CcIceUdpCandidate *x = g_ptr_array_index(a->candidates, i);
        const CcIceUdpCandidate *y = g_ptr_array_index(b->candidates, i);
        if (!str_eq(x->foundation, y->foundation) || x->component != y->component ||
            !str_eq(x->protocol, y->protocol) || x->priority != y->priority ||
            !str_eq(x->ip, y->ip) || x->port != y->port || !str_eq(x->type, y->type))
            return FALSE;
    }
    return TRUE;
}

static gboolean
payload_type_eq(const CcJinglePayloadType *a, const CcJinglePayloadType *b)
{
    if (a->id != b->id || !str_eq(a->name, b->name) || a->clockrate != b->clockrate ||
        a->channels != b->channels || a->parameters->len != b->parameters->len ||
        a->feedback->len != b->feedback->len)
        return FALSE;
    for (guint i = 0; i < a->parameters->len; i++) {
        const CcJingleParameter *x = g_ptr_array_index(a->parameters, i);
        const CcJingleParameter *y = g_ptr_array_index(b->parameters, i);
        if (!str_eq(x->name, y->name) || !str_eq(x->value, y->value))
            return FALSE;
    }
    for (guint i = 0; i < a->feedback->len; i++) {
        const CcJingleFeedback *x = g_ptr_array_index(a->feedback, i);
        const CcJingleFeedback *y = g_ptr_array_index(b->feedback, i);
        if (!str_eq(x->type, y->type) || !str_eq(x->subtype, y->subtype))
            return FALSE;
    }
    return TRUE;
}

static gboolean
content_eq(const CcJingleContent *a, const CcJingleContent *b)
{
    if (!str_eq(a->name, b->name) || !str_eq(a->creator, b->creator) ||
        !str_eq(a->senders, b->senders) || !str_eq(a->media, b->media) ||
        a->rtcp_mux != b->rtcp_mux || a->payload_types->len != b->payload_types->len ||
        a->hdrexts->len != b->hdrexts->len || a->sources->len != b->sources->len ||
        a->groups->len != b->groups->len || !transport_eq(a->transport, b->transport))
        return FALSE;
    for (guint i = 0; i < a->payload_types->len; i++) {
        if (!payload_type_eq(g_ptr_array_index(a->payload_types, i),
                             g_ptr_array_index(b->payload_types, i)))
            return FALSE;
    }
    for (guint i = 0; i < a->hdrexts->len; i++) {
        const CcJingleHdrExt *x = g_ptr_array_index(a->hdrexts, i);
        const CcJingleHdrExt *y = g_ptr_array_index(b->hdrexts, i);
        if (x->id != y->id || !str_eq(x->uri, y->uri))
            return FALSE;
    }
    for (guint i = 0; i < a->sources->len; i++) {
        const CcJingleSource *x = g_ptr_array_index(a->sources, i);
        const CcJingleSource *y = g_ptr_array_index(b->sources, i);
        if (x->ssrc != y->ssrc || !str_eq(x->name, y->name) || !str_eq(x->owner, y->owner) ||
            x->parameters->len != y->parameters->len)
            return FALSE;
        for (guint k = 0; k < x->parameters->len; k++) {
            const CcJingleParameter *px = g_ptr_array_index(x->parameters, k);
            const CcJingleParameter *py = g_ptr_array_index(y->parameters, k);
            if (!str_eq(px->name, py->name) || !str_eq(px->value, py->value))
                return FALSE;
        }
    }
    for (guint i = 0; i < a->groups->len; i++) {
        const CcColibri2SsrcGroup *x = g_ptr_array_index(a->groups, i);
        const CcColibri2SsrcGroup *y = g_ptr_array_index(b->groups, i);
        if (!str_eq(x->semantics, y->semantics) || x->ssrcs->len != y->ssrcs->len ||
            memcmp(x->ssrcs->data, y->ssrcs->data, x->ssrcs->len * sizeof(guint32)) != 0)
            return FALSE;
    }
    return TRUE;
}

static gboolean
jingle_eq(const CcJingle *a, const CcJingle *b)
{
    if (a->action != b->action || !str_eq(a->sid, b->sid) || !str_eq(a->initiator, b->initiator) ||
        !str_eq(a->responder, b->responder) || a->bundle != b->bundle ||
        !str_eq(a->reason, b->reason) || !str_eq(a->reason_text, b->reason_text) ||
        a->contents->len != b->contents->len)
        return FALSE;
    for (guint i = 0; i < a->contents->len; i++) {
        if (!content_eq(g_ptr_array_index(a->contents, i), g_ptr_array_index(b->contents, i)))
            return FALSE;
    }
    return TRUE;
}

static void
rewrite_and_reparse(const CcJingle *j)
{
    g_autoptr(xmpp_stanza_t) iq = xmpp_stanza_new(ctx);
    xmpp_stanza_set_name(iq, "iq");
    cc_jingle_write(iq, j);
    xmpp_stanza_t *je = xmpp_stanza_get_child_by_name_and_ns(iq, "jingle", CC_NS_JINGLE);
    g_autoptr(CcJingle) again = cc_jingle_parse(je, NULL);
    if (again == NULL || !jingle_eq(j, again))
        abort();
    /* on the wire */
    char *buf = NULL;
    size_t len = 0;
    if (xmpp_stanza_to_text(iq, &buf, &len) != XMPP_EOK)
        abort();
    g_autofree char *text = g_strndup(buf, len);
    xmpp_free(ctx, buf);
    g_autoptr(xmpp_stanza_t) wire = xmpp_stanza_new_from_string(ctx, text);
    if (wire == NULL)
        abort();
    je = xmpp_stanza_get_child_by_name_and_ns(wire, "jingle", CC_NS_JINGLE);
    g_autoptr(CcJingle) from_wire = cc_jingle_parse(je, NULL);
    if (from_wire == NULL || from_wire->contents->len != j->contents->len)
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
    xmpp_stanza_t *je = xmpp_stanza_get_child_by_name_and_ns(stanza, "jingle", CC_NS_JINGLE);
    if (je == NULL)
        je = stanza;
    g_autoptr(CcJingle) j = cc_jingle_parse(je, NULL);
    if (j != NULL)
        rewrite_and_reparse(j);
    return 0;
}
