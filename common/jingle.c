/* Jingle RTP codec (see jingle.h). Owns the parsed structures and the XML shapes; decides
 * nothing about sessions (the focus and the test peer do). The ICE-UDP transport is the
 * one Colibri2 carries, so its parser lives in colibri2.c and its writer here. */
#include "jingle.h"

#include "cc-autoptr.h"
#include "cc-error.h"
#include "stanza.h"
#include "xml-read.h"

#include <stdlib.h>
#include <string.h>

static const char *const action_names[] = {
    [CC_JINGLE_SESSION_INITIATE] = "session-initiate",
    [CC_JINGLE_SESSION_ACCEPT] = "session-accept",
    [CC_JINGLE_SESSION_INFO] = "session-info",
    [CC_JINGLE_SESSION_TERMINATE] = "session-terminate",
    [CC_JINGLE_TRANSPORT_INFO] = "transport-info",
    [CC_JINGLE_TRANSPORT_REPLACE] = "transport-replace",
    [CC_JINGLE_TRANSPORT_ACCEPT] = "transport-accept",
    [CC_JINGLE_TRANSPORT_REJECT] = "transport-reject",
    [CC_JINGLE_SOURCE_ADD] = "source-add",
    [CC_JINGLE_SOURCE_REMOVE] = "source-remove",
    [CC_JINGLE_CONTENT_ADD] = "content-add",
    [CC_JINGLE_CONTENT_REMOVE] = "content-remove",
    [CC_JINGLE_CONTENT_MODIFY] = "content-modify",
    [CC_JINGLE_CONTENT_ACCEPT] = "content-accept",
    [CC_JINGLE_CONTENT_REJECT] = "content-reject",
    [CC_JINGLE_DESCRIPTION_INFO] = "description-info",
};

const char *
cc_jingle_action_name(CcJingleAction action)
{
    if ((guint)action >= G_N_ELEMENTS(action_names))
        return NULL;
    return action_names[action];
}

gboolean
cc_jingle_action_parse(const char *name, CcJingleAction *action)
{
    if (name == NULL)
        return FALSE;
    for (guint i = 0; i < G_N_ELEMENTS(action_names); i++) {
        if (strcmp(name, action_names[i]) == 0) {
            *action = (CcJingleAction)i;
            return TRUE;
        }
    }
    return FALSE;
}

/* --- parsing helpers ----------------------------------------------------------------- */

/* An element `name` whose namespace is `ns`. A stanza built in memory carries a namespace
 * only where one was set explicitly, so an element without one counts as inheriting its
 * parent's: callers pass `ns` for children in their parent's namespace and use cc_xml_is() for
 * those that must declare their own. */
static gboolean
is_name(xmpp_stanza_t *s, const char *name, const char *ns)
{
    const char *n = xmpp_stanza_get_name(s);
    const char *x = xmpp_stanza_get_ns(s);
    return xmpp_stanza_is_tag(s) && n != NULL && strcmp(n, name) == 0 &&
           (x == NULL || strcmp(x, ns) == 0);
}

/* An optional string: absent, or at most CC_JINGLE_MAX_STRING bytes. */
static gboolean
valid_optional(const char *s)
{
    return s == NULL || strnlen(s, CC_JINGLE_MAX_STRING + 1) <= CC_JINGLE_MAX_STRING;
}

/* A required string: present, not empty, at most CC_JINGLE_MAX_STRING bytes. */
static gboolean
valid_required(const char *s)
{
    return s != NULL && *s != '\0' && valid_optional(s);
}

static gboolean
valid_choice(const char *s, const char *const *choices)
{
    return s == NULL || g_strv_contains(choices, s);
}

/* A decimal number without sign or spaces, at most `max`. */

/* An optional number attribute: absent reads as 0. */
static gboolean
parse_optional_u64(const char *s, guint64 max, guint64 *out)
{
    if (s == NULL) {
        *out = 0;
        return TRUE;
    }
    return cc_xml_parse_u64(s, max, out);
}

/* The text of an element, or NULL when it has none. */
static char *
element_text(xmpp_stanza_t *s)
{
    char *text = xmpp_stanza_get_text(s);
    if (text != NULL && *text == '\0') {
        xmpp_free(xmpp_stanza_get_context(s), text);
        return NULL;
    }
    return text;
}

/* --- structures ---------------------------------------------------------------------- */

void
cc_jingle_parameter_free(CcJingleParameter *p)
{
    g_free(p->name);
    g_free(p->value);
    g_free(p);
}

static void
feedback_free(CcJingleFeedback *f)
{
    g_free(f->type);
    g_free(f->subtype);
    g_free(f);
}

static void
payload_type_free(CcJinglePayloadType *pt)
{
    g_free(pt->name);
    g_ptr_array_unref(pt->parameters);
    g_ptr_array_unref(pt->feedback);
    g_free(pt);
}

static void
hdrext_free(CcJingleHdrExt *h)
{
    g_free(h->uri);
    g_free(h);
}

static void
source_free(CcJingleSource *s)
{
    g_free(s->name);
    g_ptr_array_unref(s->parameters);
    g_free(s->owner);
    g_free(s);
}

static void
content_free(CcJingleContent *c)
{
    g_free(c->name);
    g_free(c->creator);
    g_free(c->senders);
    g_free(c->media);
    g_ptr_array_unref(c->payload_types);
    g_ptr_array_unref(c->hdrexts);
    g_ptr_array_unref(c->sources);
    g_ptr_array_unref(c->groups);
    cc_ice_udp_transport_free(c->transport);
    g_free(c);
}

static CcJingleContent *
content_new(const char *name, const char *media)
{
    CcJingleContent *c = g_new0(CcJingleContent, 1);
    c->name = g_strdup(name);
    c->media = g_strdup(media);
    c->payload_types = g_ptr_array_new_with_free_func((GDestroyNotify)payload_type_free);
    c->hdrexts = g_ptr_array_new_with_free_func((GDestroyNotify)hdrext_free);
    c->sources = g_ptr_array_new_with_free_func((GDestroyNotify)source_free);
    c->groups = g_ptr_array_new_with_free_func((GDestroyNotify)cc_colibri2_ssrc_group_free);
    return c;
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CcJingleContent, content_free)

CcJingle *
cc_jingle_new(CcJingleAction action, const char *sid)
{
    CcJingle *j = g_new0(CcJingle, 1);
    j->action = action;
    j->sid = g_strdup(sid);
    j->contents = g_ptr_array_new_with_free_func((GDestroyNotify)content_free);
    return j;
}

void
cc_jingle_free(CcJingle *j)
{
    if (j == NULL)
        return;
    g_free(j->sid);
    g_free(j->initiator);
    g_free(j->responder);
    g_ptr_array_unref(j->contents);
    g_free(j->reason);
    g_free(j->reason_text);
    g_free(j);
}

CcJingleContent *
cc_jingle_add_content(CcJingle *j, const char *name, const char *media)
{
    CcJingleContent *c = content_new(name, media);
    g_ptr_array_add(j->contents, c);
    return c;
}

CcJinglePayloadType *
cc_jingle_content_add_payload_type(CcJingleContent *c, guint8 id, const char *name, guint clockrate,
                                   guint channels)
{
    CcJinglePayloadType *pt = g_new0(CcJinglePayloadType, 1);
    pt->id = id;
    pt->name = g_strdup(name);
    pt->clockrate = clockrate;
    pt->channels = channels;
    pt->parameters = g_ptr_array_new_with_free_func((GDestroyNotify)cc_jingle_parameter_free);
    pt->feedback = g_ptr_array_new_with_free_func((GDestroyNotify)feedback_free);
    g_ptr_array_add(c->payload_types, pt);
    return pt;
}

void
cc_jingle_payload_type_add_parameter(CcJinglePayloadType *pt, const char *name, const char *value)
{
    CcJingleParameter *p = g_new0(CcJingleParameter, 1);
    p->name = g_strdup(name);
    p->value = g_strdup(value);
    g_ptr_array_add(pt->parameters, p);
}

void
cc_jingle_payload_type_add_feedback(CcJinglePayloadType *pt, const char *type, const char *subtype)
{
    CcJingleFeedback *f = g_new0(CcJingleFeedback, 1);
    f->type = g_strdup(type);
    f->subtype = g_strdup(subtype);
    g_ptr_array_add(pt->feedback, f);
}

void
cc_jingle_content_add_hdrext(CcJingleContent *c, guint id, const char *uri)
{
    CcJingleHdrExt *h = g_new0(CcJingleHdrExt, 1);
    h->id = id;
    h->uri = g_strdup(uri);
    g_ptr_array_add(c->hdrexts, h);
}

CcJingleSource *
cc_jingle_content_add_source(CcJingleContent *c, guint32 ssrc, const char *name, const char *owner)
{
    CcJingleSource *s = g_new0(CcJingleSource, 1);
    s->ssrc = ssrc;
    s->name = g_strdup(name);
    s->owner = g_strdup(owner);
    s->parameters = g_ptr_array_new_with_free_func((GDestroyNotify)cc_jingle_parameter_free);
    g_ptr_array_add(c->sources, s);
    return s;
}

static CcJingleParameter *
find_source_parameter(const CcJingleSource *source, const char *name)
{
    for (guint i = 0; i < source->parameters->len; i++) {
        CcJingleParameter *p = g_ptr_array_index(source->parameters, i);
        if (g_str_equal(p->name, name))
            return p;
    }
    return NULL;
}

const char *
cc_jingle_source_parameter(const CcJingleSource *source, const char *name)
{
    const CcJingleParameter *p = find_source_parameter(source, name);
    return p ? p->value : NULL;
}

void
cc_jingle_source_set_parameter(CcJingleSource *source, const char *name, const char *value)
{
    CcJingleParameter *p = find_source_parameter(source, name);
    if (p == NULL) {
        p = g_new0(CcJingleParameter, 1);
        p->name = g_strdup(name);
        g_ptr_array_add(source->parameters, p);
    }
    g_free(p->value);
    p->value = g_strdup(value);
}

void
cc_jingle_content_add_group(CcJingleContent *c, const char *semantics, const guint32 *ssrcs,
                            guint n_ssrcs)
{
    CcColibri2SsrcGroup *g = g_new0(CcColibri2SsrcGroup, 1);
    g->semantics = g_strdup(semantics);
    g->ssrcs = g_array_sized_new(FALSE, FALSE, sizeof(guint32), n_ssrcs);
    g_array_append_vals(g->ssrcs, ssrcs, n_ssrcs);
    g_ptr_array_add(c->groups, g);
}

CcJingleContent *
cc_jingle_find_content(const CcJingle *j, const char *name)
{
    if (name == NULL)
        return NULL;
    for (guint i = 0; i < j->contents->len; i++) {
        CcJingleContent *c = g_ptr_array_index(j->contents, i);
        if (c->name != NULL && strcmp(c->name, name) == 0)
            return c;
    }
    return NULL;
}

static CcJingleSource *
find_source(const CcJingleContent *c, guint32 ssrc)
{
    for (guint i = 0; i < c->sources->len; i++) {
        CcJingleSource *s = g_ptr_array_index(c->sources, i);
        if (s->ssrc == ssrc)
            return s;
    }
    return NULL;
}

/* --- parsing the description --------------------------------------------------------- */

static gboolean
parse_payload_type(xmpp_stanza_t *e, CcJingleContent *content, GError **error)
{
    const char *name = xmpp_stanza_get_attribute(e, "name");
    guint64 id, clockrate, channels;
    if (!cc_xml_parse_u64(xmpp_stanza_get_attribute(e, "id"), 127, &id))
        return cc_xml_invalid(error, "payload-type: bad id");
    if (!valid_optional(name))
        return cc_xml_invalid(error, "payload-type: bad name");
    if (!parse_optional_u64(xmpp_stanza_get_attribute(e, "clockrate"), 1000000, &clockrate))
        return cc_xml_invalid(error, "payload-type: bad clockrate");
    if (!parse_optional_u64(xmpp_stanza_get_attribute(e, "channels"), 8, &channels))
        return cc_xml_invalid(error, "payload-type: bad channels");
    for (guint i = 0; i < content->payload_types->len; i++) {
        const CcJinglePayloadType *other = g_ptr_array_index(content->payload_types, i);
        if (other->id == id)
            return cc_xml_invalid(error, "payload-type: repeated id");
    }
    if (content->payload_types->len >= CC_JINGLE_MAX_PAYLOAD_TYPES)
        return cc_xml_invalid(error, "description: too many payload-type elements");
    CcJinglePayloadType *pt = cc_jingle_content_add_payload_type(content, (guint8)id, name,
                                                                 (guint)clockrate, (guint)channels);
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(e); c; c = xmpp_stanza_get_next(c)) {
        if (is_name(c, "parameter", CC_NS_JINGLE_RTP)) {
            const char *pname = xmpp_stanza_get_attribute(c, "name");
            const char *value = xmpp_stanza_get_attribute(c, "value");
            if (!valid_required(pname) || !valid_optional(value))
                return cc_xml_invalid(error, "parameter: bad name or value");
            if (pt->parameters->len >= CC_JINGLE_MAX_PARAMETERS)
                return cc_xml_invalid(error, "payload-type: too many parameter elements");
            cc_jingle_payload_type_add_parameter(pt, pname, value);
        } else if (cc_xml_is(c, "rtcp-fb", CC_NS_RTCP_FB)) {
            const char *type = xmpp_stanza_get_attribute(c, "type");
            const char *subtype = xmpp_stanza_get_attribute(c, "subtype");
            if (!valid_required(type) || !valid_optional(subtype))
                return cc_xml_invalid(error, "rtcp-fb: bad type or subtype");
            if (pt->feedback->len >= CC_JINGLE_MAX_FEEDBACK)
                return cc_xml_invalid(error, "payload-type: too many rtcp-fb elements");
            cc_jingle_payload_type_add_feedback(pt, type, subtype);
        }
    }
    return TRUE;
}

static gboolean
parse_hdrext(xmpp_stanza_t *e, CcJingleContent *content, GError **error)
{
    const char *uri = xmpp_stanza_get_attribute(e, "uri");
    guint64 id;
    if (!cc_xml_parse_u64(xmpp_stanza_get_attribute(e, "id"), 255, &id) || id == 0)
        return cc_xml_invalid(error, "rtp-hdrext: bad id");
    if (!valid_required(uri))
        return cc_xml_invalid(error, "rtp-hdrext: bad uri");
    for (guint i = 0; i < content->hdrexts->len; i++) {
        const CcJingleHdrExt *other = g_ptr_array_index(content->hdrexts, i);
        if (other->id == id)
            return cc_xml_invalid(error, "rtp-hdrext: repeated id");
    }
    if (content->hdrexts->len >= CC_JINGLE_MAX_HDREXTS)
        return cc_xml_invalid(error, "description: too many rtp-hdrext elements");
    cc_jingle_content_add_hdrext(content, (guint)id, uri);
    return TRUE;
}

static gboolean
parse_source(xmpp_stanza_t *e, CcJingleContent *content, GError **error)
{
    const char *name = xmpp_stanza_get_attribute(e, "name");
    guint32 ssrc;
    if (!cc_xml_read_ssrc(e, &ssrc))
        return cc_xml_invalid(error, "source: bad ssrc");
    if (!valid_optional(name))
        return cc_xml_invalid(error, "source: bad name");
    if (find_source(content, ssrc) != NULL)
        return cc_xml_invalid(error, "source: repeated ssrc");
    if (content->sources->len >= CC_JINGLE_MAX_SOURCES)
        return cc_xml_invalid(error, "description: too many source elements");
    CcJingleSource *src = cc_jingle_content_add_source(content, ssrc, name, NULL);
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(e); c; c = xmpp_stanza_get_next(c)) {
        if (is_name(c, "parameter", CC_NS_SSMA)) {
            /* Kept whole (msid, cname...): other clients build their a=ssrc lines from them. */
            const char *pname = xmpp_stanza_get_attribute(c, "name");
            const char *value = xmpp_stanza_get_attribute(c, "value");
            if (!valid_required(pname) || strlen(pname) > 32 || !valid_optional(value))
                return cc_xml_invalid(error, "source: bad parameter");
            if (find_source_parameter(src, pname) != NULL)
                return cc_xml_invalid(error, "source: repeated parameter");
            if (g_str_equal(pname, "msid") && !valid_required(value))
                return cc_xml_invalid(error, "source: empty msid");
            if (src->parameters->len >= CC_JINGLE_MAX_SOURCE_PARAMS)
                return cc_xml_invalid(error, "source: too many parameter elements");
            cc_jingle_source_set_parameter(src, pname, value);
        } else if (cc_xml_is(c, "ssrc-info", CC_NS_JITSI_MEET)) {
            const char *owner = xmpp_stanza_get_attribute(c, "owner");
            if (src->owner != NULL || !valid_required(owner))
                return cc_xml_invalid(error, "ssrc-info: bad or repeated owner");
            src->owner = g_strdup(owner);
        }
    }
    return TRUE;
}

static gboolean
parse_group(xmpp_stanza_t *e, CcJingleContent *content, GError **error)
{
    const char *sem = xmpp_stanza_get_attribute(e, "semantics");
    gboolean fid = sem != NULL && strcmp(sem, "FID") == 0;
    if (sem == NULL || (!fid && strcmp(sem, "SIM") != 0))
        return cc_xml_invalid(error, "ssrc-group: bad semantics");
    if (content->groups->len >= CC_JINGLE_MAX_GROUPS)
        return cc_xml_invalid(error, "description: too many ssrc-group elements");
    guint32 ssrcs[3];
    guint n = 0;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(e); c; c = xmpp_stanza_get_next(c)) {
        guint32 ssrc;
        if (!is_name(c, "source", CC_NS_SSMA))
            continue;
        if (!cc_xml_read_ssrc(c, &ssrc))
            return cc_xml_invalid(error, "ssrc-group: bad ssrc");
        if (find_source(content, ssrc) == NULL)
            return cc_xml_invalid(error, "ssrc-group: ssrc not listed as a source");
        for (guint i = 0; i < n; i++) {
            if (ssrcs[i] == ssrc)
                return cc_xml_invalid(error, "ssrc-group: repeated ssrc");
        }
        if (n >= (fid ? 2 : 3))
            return cc_xml_invalid(error, "ssrc-group: too many ssrcs");
        ssrcs[n++] = ssrc;
    }
    if (n < 2)
        return cc_xml_invalid(error, "ssrc-group: too few ssrcs");
    cc_jingle_content_add_group(content, sem, ssrcs, n);
    return TRUE;
}

static gboolean
parse_description(xmpp_stanza_t *e, CcJingleContent *content, GError **error)
{
    static const char *const medias[] = {"audio", "video", NULL};
    const char *media = xmpp_stanza_get_attribute(e, "media");
    if (media == NULL || !g_strv_contains(medias, media))
        return cc_xml_invalid(error, "description: bad media");
    content->media = g_strdup(media);
    /* sources first, so that groups can be checked against them */
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(e); c; c = xmpp_stanza_get_next(c)) {
        gboolean ok = TRUE;
        if (is_name(c, "payload-type", CC_NS_JINGLE_RTP))
            ok = parse_payload_type(c, content, error);
        else if (cc_xml_is(c, "rtp-hdrext", CC_NS_RTP_HDREXT))
            ok = parse_hdrext(c, content, error);
        else if (is_name(c, "rtcp-mux", CC_NS_JINGLE_RTP))
            content->rtcp_mux = TRUE;
        else if (cc_xml_is(c, "source", CC_NS_SSMA))
            ok = parse_source(c, content, error);
        if (!ok)
            return FALSE;
    }
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(e); c; c = xmpp_stanza_get_next(c)) {
        if (cc_xml_is(c, "ssrc-group", CC_NS_SSMA) && !parse_group(c, content, error))
            return FALSE;
    }
    return TRUE;
}

/* --- parsing contents and the session ------------------------------------------------ */

static CcJingleContent *
parse_content(xmpp_stanza_t *e, GError **error)
{
    static const char *const creators[] = {"initiator", "responder", NULL};
    static const char *const senders[] = {"both", "initiator", "responder", "none", NULL};
    const char *name = xmpp_stanza_get_attribute(e, "name");
    const char *creator = xmpp_stanza_get_attribute(e, "creator");
    const char *sending = xmpp_stanza_get_attribute(e, "senders");
    if (!valid_required(name)) {
        cc_xml_invalid(error, "content: bad name");
        return NULL;
    }
    if (!valid_choice(creator, creators)) {
        cc_xml_invalid(error, "content: bad creator");
        return NULL;
    }
    if (!valid_choice(sending, senders)) {
        cc_xml_invalid(error, "content: bad senders");
        return NULL;
    }
    g_autoptr(CcJingleContent) content = content_new(name, NULL);
    content->creator = g_strdup(creator);
    content->senders = g_strdup(sending);
    gboolean described = FALSE;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(e); c; c = xmpp_stanza_get_next(c)) {
        if (cc_xml_is(c, "description", CC_NS_JINGLE_RTP)) {
            if (described) {
                cc_xml_invalid(error, "content: repeated description");
                return NULL;
            }
            described = TRUE;
            if (!parse_description(c, content, error))
                return NULL;
        } else if (cc_xml_is(c, "transport", CC_NS_ICE_UDP)) {
            if (content->transport != NULL) {
                cc_xml_invalid(error, "content: repeated transport");
                return NULL;
            }
            content->transport = cc_ice_udp_transport_parse(c, error);
            if (content->transport == NULL)
                return NULL;
        }
    }
    return g_steal_pointer(&content);
}

static gboolean
parse_reason(xmpp_stanza_t *e, CcJingle *j, GError **error)
{
    if (j->reason != NULL)
        return cc_xml_invalid(error, "reason: repeated");
    xmpp_stanza_t *condition = NULL;
    xmpp_stanza_t *text = NULL;
    /* the condition and the text are in the Jingle namespace; others are extensions */
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(e); c; c = xmpp_stanza_get_next(c)) {
        const char *ns = xmpp_stanza_get_ns(c);
        if (!xmpp_stanza_is_tag(c) || (ns != NULL && strcmp(ns, CC_NS_JINGLE) != 0))
            continue;
        if (is_name(c, "text", CC_NS_JINGLE)) {
            if (text == NULL)
                text = c;
        } else if (condition == NULL) {
            condition = c;
        }
    }
    const char *name = condition ? xmpp_stanza_get_name(condition) : NULL;
    if (!valid_required(name))
        return cc_xml_invalid(error, "reason: bad or missing condition");
    char *body = text ? element_text(text) : NULL;
    if (!valid_optional(body)) {
        xmpp_free(xmpp_stanza_get_context(e), body);
        return cc_xml_invalid(error, "reason: text too long");
    }
    j->reason = g_strdup(name);
    j->reason_text = g_strdup(body);
    if (body != NULL)
        xmpp_free(xmpp_stanza_get_context(e), body);
    return TRUE;
}

CcJingle *
cc_jingle_parse(xmpp_stanza_t *e, GError **error)
{
    CcJingleAction action;
    if (e == NULL || !cc_xml_is(e, "jingle", CC_NS_JINGLE)) {
        cc_xml_invalid(error, "not a jingle element");
        return NULL;
    }
    if (!cc_jingle_action_parse(xmpp_stanza_get_attribute(e, "action"), &action)) {
        cc_xml_invalid(error, "jingle: missing or unknown action");
        return NULL;
    }
    const char *sid = xmpp_stanza_get_attribute(e, "sid");
    const char *initiator = xmpp_stanza_get_attribute(e, "initiator");
    const char *responder = xmpp_stanza_get_attribute(e, "responder");
    if (!valid_required(sid)) {
        cc_xml_invalid(error, "jingle: missing or bad sid");
        return NULL;
    }
    if (!valid_optional(initiator) || !valid_optional(responder)) {
        cc_xml_invalid(error, "jingle: bad initiator or responder");
        return NULL;
    }
    g_autoptr(CcJingle) j = cc_jingle_new(action, sid);
    j->initiator = g_strdup(initiator);
    j->responder = g_strdup(responder);
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(e); c; c = xmpp_stanza_get_next(c)) {
        if (is_name(c, "content", CC_NS_JINGLE)) {
            if (j->contents->len >= CC_JINGLE_MAX_CONTENTS) {
                cc_xml_invalid(error, "jingle: too many content elements");
                return NULL;
            }
            CcJingleContent *content = parse_content(c, error);
            if (content == NULL)
                return NULL;
            if (cc_jingle_find_content(j, content->name) != NULL) {
                content_free(content);
                cc_xml_invalid(error, "content: repeated name");
                return NULL;
            }
            g_ptr_array_add(j->contents, content);
        } else if (cc_xml_is(c, "group", CC_NS_JINGLE_GROUP)) {
            const char *sem = xmpp_stanza_get_attribute(c, "semantics");
            if (sem != NULL && strcmp(sem, "BUNDLE") == 0)
                j->bundle = TRUE;
        } else if (is_name(c, "reason", CC_NS_JINGLE)) {
            if (!parse_reason(c, j, error))
                return NULL;
        }
    }
    return g_steal_pointer(&j);
}

/* --- writing ------------------------------------------------------------------------- */

static void
write_payload_type(xmpp_stanza_t *desc, const CcJinglePayloadType *pt)
{
    xmpp_stanza_t *e = cc_stanza_add_child(desc, "payload-type", NULL);
    cc_stanza_set_uint(e, "id", pt->id);
    cc_stanza_set_optional(e, "name", pt->name);
    if (pt->clockrate != 0)
        cc_stanza_set_uint(e, "clockrate", pt->clockrate);
    if (pt->channels != 0)
        cc_stanza_set_uint(e, "channels", pt->channels);
    for (guint i = 0; i < pt->parameters->len; i++) {
        const CcJingleParameter *p = g_ptr_array_index(pt->parameters, i);
        xmpp_stanza_t *pe = cc_stanza_add_child(e, "parameter", NULL);
        xmpp_stanza_set_attribute(pe, "name", p->name);
        cc_stanza_set_optional(pe, "value", p->value);
    }
    for (guint i = 0; i < pt->feedback->len; i++) {
        const CcJingleFeedback *f = g_ptr_array_index(pt->feedback, i);
        xmpp_stanza_t *fe = cc_stanza_add_child(e, "rtcp-fb", CC_NS_RTCP_FB);
        xmpp_stanza_set_attribute(fe, "type", f->type);
        cc_stanza_set_optional(fe, "subtype", f->subtype);
    }
}

static void
write_description(xmpp_stanza_t *content_el, const CcJingleContent *c)
{
    xmpp_stanza_t *desc = cc_stanza_add_child(content_el, "description", CC_NS_JINGLE_RTP);
    xmpp_stanza_set_attribute(desc, "media", c->media);
    for (guint i = 0; i < c->payload_types->len; i++)
        write_payload_type(desc, g_ptr_array_index(c->payload_types, i));
    for (guint i = 0; i < c->hdrexts->len; i++) {
        const CcJingleHdrExt *h = g_ptr_array_index(c->hdrexts, i);
        xmpp_stanza_t *e = cc_stanza_add_child(desc, "rtp-hdrext", CC_NS_RTP_HDREXT);
        cc_stanza_set_uint(e, "id", h->id);
        xmpp_stanza_set_attribute(e, "uri", h->uri);
    }
    if (c->rtcp_mux)
        cc_stanza_add_child(desc, "rtcp-mux", NULL);
    for (guint i = 0; i < c->sources->len; i++) {
        const CcJingleSource *s = g_ptr_array_index(c->sources, i);
        xmpp_stanza_t *e = cc_stanza_add_child(desc, "source", CC_NS_SSMA);
        cc_stanza_set_uint(e, "ssrc", s->ssrc);
        cc_stanza_set_optional(e, "name", s->name);
        for (guint k = 0; k < s->parameters->len; k++) {
            const CcJingleParameter *param = g_ptr_array_index(s->parameters, k);
            xmpp_stanza_t *p = cc_stanza_add_child(e, "parameter", NULL);
            xmpp_stanza_set_attribute(p, "name", param->name);
            cc_stanza_set_optional(p, "value", param->value);
        }
        if (s->owner != NULL) {
            xmpp_stanza_t *info = cc_stanza_add_child(e, "ssrc-info", CC_NS_JITSI_MEET);
            xmpp_stanza_set_attribute(info, "owner", s->owner);
        }
    }
    for (guint i = 0; i < c->groups->len; i++) {
        const CcColibri2SsrcGroup *g = g_ptr_array_index(c->groups, i);
        xmpp_stanza_t *e = cc_stanza_add_child(desc, "ssrc-group", CC_NS_SSMA);
        xmpp_stanza_set_attribute(e, "semantics", g->semantics);
        for (guint k = 0; k < g->ssrcs->len; k++) {
            xmpp_stanza_t *s = cc_stanza_add_child(e, "source", NULL);
            cc_stanza_set_uint(s, "ssrc", g_array_index(g->ssrcs, guint32, k));
        }
    }
}

void
cc_jingle_write(xmpp_stanza_t *iq, const CcJingle *j)
{
    const char *action = cc_jingle_action_name(j->action);
    g_return_if_fail(action != NULL && j->sid != NULL);
    xmpp_stanza_t *e = cc_stanza_add_child(iq, "jingle", CC_NS_JINGLE);
    xmpp_stanza_set_attribute(e, "action", action);
    xmpp_stanza_set_attribute(e, "sid", j->sid);
    cc_stanza_set_optional(e, "initiator", j->initiator);
    cc_stanza_set_optional(e, "responder", j->responder);
    for (guint i = 0; i < j->contents->len; i++) {
        const CcJingleContent *c = g_ptr_array_index(j->contents, i);
        xmpp_stanza_t *ce = cc_stanza_add_child(e, "content", NULL);
        xmpp_stanza_set_attribute(ce, "name", c->name);
        cc_stanza_set_optional(ce, "creator", c->creator);
        cc_stanza_set_optional(ce, "senders", c->senders);
        if (c->media != NULL)
            write_description(ce, c);
        if (c->transport != NULL)
            cc_ice_udp_transport_write(ce, c->transport);
    }
    if (j->bundle) {
        xmpp_stanza_t *g = cc_stanza_add_child(e, "group", CC_NS_JINGLE_GROUP);
        xmpp_stanza_set_attribute(g, "semantics", "BUNDLE");
        for (guint i = 0; i < j->contents->len; i++) {
            const CcJingleContent *c = g_ptr_array_index(j->contents, i);
            xmpp_stanza_t *ce = cc_stanza_add_child(g, "content", NULL);
            xmpp_stanza_set_attribute(ce, "name", c->name);
        }
    }
    if (j->reason != NULL) {
        xmpp_stanza_t *r = cc_stanza_add_child(e, "reason", NULL);
        cc_stanza_add_child(r, j->reason, NULL);
        if (j->reason_text != NULL)
            cc_stanza_add_text(cc_stanza_add_child(r, "text", NULL), j->reason_text);
    }
}

void
cc_jingle_error_condition(xmpp_stanza_t *error, const char *condition)
{
    cc_stanza_add_child(error, condition, CC_NS_JINGLE_ERRORS);
}
