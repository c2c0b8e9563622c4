/* Colibri2 codec (see colibri2.h). Owns the parsed structures and the XML shapes; decides
 * nothing about conferences (the bridge and the focus do). */
#include "colibri2.h"
#include "xml-read.h"

#include "cc-autoptr.h"
#include "cc-error.h"
#include "stanza.h"

#include <stdlib.h>
#include <string.h>

gboolean
cc_colibri2_valid_id(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > CC_COLIBRI2_MAX_ID_LEN)
        return FALSE;
    for (const char *p = s; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '.' && *p != '_' && *p != '-')
            return FALSE;
    }
    return TRUE;
}

static gboolean
parse_bool(const char *s)
{
    return s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "1") == 0);
}

void
cc_colibri2_transport_write(xmpp_stanza_t *parent, const CcIceUdpTransport *t)
{
    xmpp_stanza_t *outer = cc_stanza_add_child(parent, "transport", NULL);
    cc_ice_udp_transport_write(outer, t);
}

/* --- sources ------------------------------------------------------------------------- */

void
cc_colibri2_source_free(CcColibri2Source *s)
{
    if (s == NULL)
        return;
    g_free(s->type);
    g_free(s->id);
    g_array_unref(s->ssrcs);
    g_ptr_array_unref(s->groups);
    g_free(s);
}

void
cc_colibri2_ssrc_group_free(CcColibri2SsrcGroup *g)
{
    g_free(g->semantics);
    g_array_unref(g->ssrcs);
    g_free(g);
}

CcColibri2Source *
cc_colibri2_source_new(const char *type, const char *id)
{
    CcColibri2Source *src = g_new0(CcColibri2Source, 1);
    src->type = g_strdup(type);
    src->id = g_strdup(id);
    src->ssrcs = g_array_new(FALSE, FALSE, sizeof(guint32));
    src->groups = g_ptr_array_new_with_free_func((GDestroyNotify)cc_colibri2_ssrc_group_free);
    return src;
}

void
cc_colibri2_source_add_group(CcColibri2Source *src, const char *semantics, GArray *ssrcs)
{
    CcColibri2SsrcGroup *g = g_new0(CcColibri2SsrcGroup, 1);
    g->semantics = g_strdup(semantics);
    g->ssrcs = g_array_copy(ssrcs);
    g_ptr_array_add(src->groups, g);
}

CcColibri2Source *
cc_colibri2_source_copy(const CcColibri2Source *source)
{
    CcColibri2Source *s = cc_colibri2_source_new(source->type, source->id);
    g_array_append_vals(s->ssrcs, source->ssrcs->data, source->ssrcs->len);
    for (guint i = 0; i < source->groups->len; i++) {
        const CcColibri2SsrcGroup *g = g_ptr_array_index(source->groups, i);
        cc_colibri2_source_add_group(s, g->semantics, g->ssrcs);
    }
    return s;
}

static gboolean
array_has(GArray *a, guint32 v)
{
    for (guint i = 0; i < a->len; i++) {
        if (g_array_index(a, guint32, i) == v)
            return TRUE;
    }
    return FALSE;
}

static gboolean
parse_group(xmpp_stanza_t *e, CcColibri2Source *src, GError **error)
{
    const char *sem = xmpp_stanza_get_attribute(e, "semantics");
    if (sem == NULL || (strcmp(sem, "FID") != 0 && strcmp(sem, "SIM") != 0))
        return cc_xml_invalid(error, "ssrc-group: bad semantics");
    CcColibri2SsrcGroup *g = g_new0(CcColibri2SsrcGroup, 1);
    g->semantics = g_strdup(sem);
    g->ssrcs = g_array_new(FALSE, FALSE, sizeof(guint32));
    g_ptr_array_add(src->groups, g);
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(e); c; c = xmpp_stanza_get_next(c)) {
        guint32 ssrc;
        if (!cc_xml_is(c, "source", NULL))
            continue;
        if (!cc_xml_read_ssrc(c, &ssrc) || !array_has(src->ssrcs, ssrc))
            return cc_xml_invalid(error, "ssrc-group: ssrc not listed in its media-source");
        if (g->ssrcs->len >= CC_COLIBRI2_MAX_SSRCS)
            return cc_xml_invalid(error, "ssrc-group: too many ssrcs");
        g_array_append_val(g->ssrcs, ssrc);
    }
    if (g->ssrcs->len < 2 || (strcmp(sem, "FID") == 0 && g->ssrcs->len != 2))
        return cc_xml_invalid(error, "ssrc-group: wrong number of ssrcs");
    return TRUE;
}

static CcColibri2Source *
parse_source(xmpp_stanza_t *e, GError **error)
{
    const char *type = xmpp_stanza_get_attribute(e, "type");
    const char *id = xmpp_stanza_get_attribute(e, "id");
    if (type == NULL || (strcmp(type, "audio") != 0 && strcmp(type, "video") != 0)) {
        cc_xml_invalid(error, "media-source: bad type");
        return NULL;
    }
    if (!cc_colibri2_valid_id(id)) {
        cc_xml_invalid(error, "media-source: bad id");
        return NULL;
    }
    CcColibri2Source *src = cc_colibri2_source_new(type, id);
    /* sources first, so that groups can be checked against them */
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(e); c; c = xmpp_stanza_get_next(c)) {
        guint32 ssrc;
        if (!cc_xml_is(c, "source", NULL))
            continue;
        if (!cc_xml_read_ssrc(c, &ssrc) || array_has(src->ssrcs, ssrc) ||
            src->ssrcs->len >= CC_COLIBRI2_MAX_SSRCS) {
            cc_xml_invalid(error, "media-source: bad or repeated ssrc");
            cc_colibri2_source_free(src);
            return NULL;
        }
        g_array_append_val(src->ssrcs, ssrc);
    }
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(e); c; c = xmpp_stanza_get_next(c)) {
        if (cc_xml_is(c, "ssrc-group", NULL) && !parse_group(c, src, error)) {
            cc_colibri2_source_free(src);
            return NULL;
        }
    }
    if (src->ssrcs->len == 0) {
        cc_xml_invalid(error, "media-source: no ssrc");
        cc_colibri2_source_free(src);
        return NULL;
    }
    return src;
}

static GPtrArray *
parse_sources(xmpp_stanza_t *e, GError **error)
{
    g_autoptr(GPtrArray) out =
        g_ptr_array_new_with_free_func((GDestroyNotify)cc_colibri2_source_free);
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(e); c; c = xmpp_stanza_get_next(c)) {
        if (!cc_xml_is(c, "media-source", NULL))
            continue;
        if (out->len >= CC_COLIBRI2_MAX_SOURCES) {
            cc_xml_invalid(error, "sources: too many media-source elements");
            return NULL;
        }
        CcColibri2Source *src = parse_source(c, error);
        if (src == NULL)
            return NULL;
        g_ptr_array_add(out, src);
    }
    return g_steal_pointer(&out);
}

void
cc_colibri2_sources_write(xmpp_stanza_t *parent, GPtrArray *sources)
{
    xmpp_stanza_t *e = cc_stanza_add_child(parent, "sources", NULL);
    char num[16];
    for (guint i = 0; i < sources->len; i++) {
        const CcColibri2Source *s = g_ptr_array_index(sources, i);
        xmpp_stanza_t *m = cc_stanza_add_child(e, "media-source", NULL);
        xmpp_stanza_set_attribute(m, "type", s->type);
        xmpp_stanza_set_attribute(m, "id", s->id);
        for (guint j = 0; j < s->ssrcs->len; j++) {
            xmpp_stanza_t *src = cc_stanza_add_child(m, "source", CC_NS_SSMA);
            g_snprintf(num, sizeof num, "%u", g_array_index(s->ssrcs, guint32, j));
            xmpp_stanza_set_attribute(src, "ssrc", num);
        }
        for (guint j = 0; j < s->groups->len; j++) {
            const CcColibri2SsrcGroup *g = g_ptr_array_index(s->groups, j);
            xmpp_stanza_t *ge = cc_stanza_add_child(m, "ssrc-group", CC_NS_SSMA);
            xmpp_stanza_set_attribute(ge, "semantics", g->semantics);
            for (guint k = 0; k < g->ssrcs->len; k++) {
                xmpp_stanza_t *src = cc_stanza_add_child(ge, "source", NULL);
                g_snprintf(num, sizeof num, "%u", g_array_index(g->ssrcs, guint32, k));
                xmpp_stanza_set_attribute(src, "ssrc", num);
            }
        }
    }
}

/* --- endpoints and conference-modify ------------------------------------------------- */

static void
endpoint_free(CcColibri2Endpoint *ep)
{
    g_free(ep->id);
    g_free(ep->channel_id);
    g_free(ep->occupant_id);
    cc_ice_udp_transport_free(ep->transport);
    if (ep->sources != NULL)
        g_ptr_array_unref(ep->sources);
    g_free(ep);
}

/* <rtp-hdrext id uri/> in an audio <media>: only the audio level extension's id is kept;
 * other extensions are the clients' business. */
static gboolean
parse_hdrext(xmpp_stanza_t *c, gboolean audio, CcColibri2Endpoint *ep, GError **error)
{
    guint64 id = 0;
    if (!cc_xml_parse_u64(xmpp_stanza_get_attribute(c, "id"), 255, &id) || id == 0)
        return cc_xml_invalid(error, "media: bad rtp-hdrext id");
    if (audio && g_strcmp0(xmpp_stanza_get_attribute(c, "uri"), CC_URI_AUDIO_LEVEL) == 0) {
        if (ep->audio_level_ext != 0)
            return cc_xml_invalid(error, "media: audio level extension given twice");
        ep->audio_level_ext = (guint8)id;
    }
    return TRUE;
}

/* <media type='audio|video'><payload-type id='N' .../>...<rtp-hdrext .../></media>: the
 * payload type ids only (names, parameters and feedback are the clients' business), and
 * the audio level extension's id. A <media> that holds header extensions and no payload
 * type says nothing about payload types. */
static gboolean
parse_media(xmpp_stanza_t *e, CcColibri2Endpoint *ep, GError **error)
{
    const char *type = xmpp_stanza_get_attribute(e, "type");
    CcColibri2PayloadTypes *pts = g_strcmp0(type, "audio") == 0   ? &ep->audio
                                  : g_strcmp0(type, "video") == 0 ? &ep->video
                                                                  : NULL;
    if (pts == NULL)
        return cc_xml_invalid(error, "media: type must be audio or video");
    guint n = 0, n_ext = 0;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(e); c; c = xmpp_stanza_get_next(c)) {
        if (cc_xml_is(c, "rtp-hdrext", NULL)) {
            if (++n_ext > 16)
                return cc_xml_invalid(error, "media: too many rtp-hdrext");
            if (!parse_hdrext(c, pts == &ep->audio, ep, error))
                return FALSE;
            continue;
        }
        if (!cc_xml_is(c, "payload-type", NULL))
            continue;
        guint64 id = 0;
        if (!cc_xml_parse_u64(xmpp_stanza_get_attribute(c, "id"), 127, &id))
            return cc_xml_invalid(error, "media: bad payload-type id");
        if (++n > 64)
            return cc_xml_invalid(error, "media: too many payload types");
        cc_colibri2_payload_type_add(pts, (guint8)id);
    }
    if (n > 0 || n_ext == 0)
        ep->has_payload_types = TRUE;
    return TRUE;
}

static void
write_media(xmpp_stanza_t *e, const char *type, const CcColibri2PayloadTypes *pts,
            guint8 audio_level_ext)
{
    xmpp_stanza_t *m = cc_stanza_add_child(e, "media", NULL);
    xmpp_stanza_set_attribute(m, "type", type);
    char id[8];
    for (guint pt = 0; pts != NULL && pt < 128; pt++) {
        if (!cc_colibri2_payload_type_has(pts, (guint8)pt))
            continue;
        xmpp_stanza_t *p = cc_stanza_add_child(m, "payload-type", CC_NS_JINGLE_RTP);
        g_snprintf(id, sizeof id, "%u", pt);
        xmpp_stanza_set_attribute(p, "id", id);
    }
    if (audio_level_ext != 0) {
        xmpp_stanza_t *x = cc_stanza_add_child(m, "rtp-hdrext", CC_NS_RTP_HDREXT);
        g_snprintf(id, sizeof id, "%u", audio_level_ext);
        xmpp_stanza_set_attribute(x, "id", id);
        xmpp_stanza_set_attribute(x, "uri", CC_URI_AUDIO_LEVEL);
    }
}

/* A MUC nickname: UTF-8 without control characters, bounded. */
static gboolean
valid_channel_id(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > CC_COLIBRI2_MAX_CHANNEL_ID_LEN ||
        !g_utf8_validate(s, -1, NULL))
        return FALSE;
    for (const char *p = s; *p != '\0'; p = g_utf8_next_char(p)) {
        if (g_unichar_iscntrl(g_utf8_get_char(p)))
            return FALSE;
    }
    return TRUE;
}

static CcColibri2Endpoint *
parse_endpoint(xmpp_stanza_t *e, GError **error)
{
    const char *id = xmpp_stanza_get_attribute(e, "id");
    if (!cc_colibri2_valid_id(id)) {
        cc_xml_invalid(error, "endpoint: bad id");
        return NULL;
    }
    const char *channel_id = xmpp_stanza_get_attribute(e, "channel-id");
    if (channel_id != NULL && !valid_channel_id(channel_id)) {
        cc_xml_invalid(error, "endpoint: bad channel-id");
        return NULL;
    }
    const char *occupant_id = xmpp_stanza_get_attribute(e, "occupant-id");
    if (occupant_id != NULL && !cc_colibri2_valid_id(occupant_id)) {
        cc_xml_invalid(error, "endpoint: bad occupant-id");
        return NULL;
    }
    CcColibri2Endpoint *ep = g_new0(CcColibri2Endpoint, 1);
    ep->id = g_strdup(id);
    ep->channel_id = g_strdup(channel_id);
    ep->occupant_id = g_strdup(occupant_id);
    ep->create = parse_bool(xmpp_stanza_get_attribute(e, "create"));
    ep->expire = parse_bool(xmpp_stanza_get_attribute(e, "expire"));
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(e); c; c = xmpp_stanza_get_next(c)) {
        if (cc_xml_is(c, "transport", NULL) && ep->transport == NULL) {
            xmpp_stanza_t *ice = NULL;
            for (xmpp_stanza_t *t = xmpp_stanza_get_children(c); t; t = xmpp_stanza_get_next(t))
                if (cc_xml_is(t, "transport", CC_NS_ICE_UDP))
                    ice = t;
            if (ice != NULL) {
                ep->transport = cc_ice_udp_transport_parse(ice, error);
                if (ep->transport == NULL)
                    goto fail;
            }
        } else if (cc_xml_is(c, "sources", NULL) && ep->sources == NULL) {
            ep->sources = parse_sources(c, error);
            if (ep->sources == NULL)
                goto fail;
        } else if (cc_xml_is(c, "media", NULL)) {
            if (!parse_media(c, ep, error))
                goto fail;
        }
    }
    if (ep->create && ep->expire) {
        cc_xml_invalid(error, "endpoint: create and expire together");
        goto fail;
    }
    return ep;
fail:
    endpoint_free(ep);
    return NULL;
}

void
cc_colibri2_modify_free(CcColibri2Modify *m)
{
    if (m == NULL)
        return;
    g_free(m->meeting_id);
    g_free(m->name);
    g_free(m->recording_id);
    g_ptr_array_unref(m->endpoints);
    g_free(m);
}

static CcColibri2Modify *parse_body(xmpp_stanza_t *e, GError **error);

static gboolean
parse_recording(xmpp_stanza_t *e, CcColibri2Modify *m, GError **error)
{
    const char *action = xmpp_stanza_get_attribute(e, "action");
    const char *id = xmpp_stanza_get_attribute(e, "id");
    if (m->recording != CC_COLIBRI2_RECORDING_NONE) {
        cc_xml_invalid(error, "recording: repeated");
        return FALSE;
    }
    if (g_strcmp0(action, "start") == 0)
        m->recording = CC_COLIBRI2_RECORDING_START;
    else if (g_strcmp0(action, "stop") == 0)
        m->recording = CC_COLIBRI2_RECORDING_STOP;
    else {
        cc_xml_invalid(error, "recording: bad action");
        return FALSE;
    }
    if (!cc_colibri2_valid_id(id)) {
        cc_xml_invalid(error, "recording: bad id");
        return FALSE;
    }
    m->recording_id = g_strdup(id);
    return TRUE;
}

CcColibri2Modify *
cc_colibri2_modify_parse(xmpp_stanza_t *e, GError **error)
{
    if (!cc_xml_is(e, "conference-modify", CC_NS_COLIBRI2)) {
        cc_xml_invalid(error, "not a conference-modify");
        return NULL;
    }
    return parse_body(e, error);
}

/* The attributes and endpoints shared by conference-modify and conference-modified. */
static CcColibri2Modify *
parse_body(xmpp_stanza_t *e, GError **error)
{
    const char *meeting = xmpp_stanza_get_attribute(e, "meeting-id");
    const char *name = xmpp_stanza_get_attribute(e, "name");
    if (!cc_colibri2_valid_id(meeting)) {
        cc_xml_invalid(error, "conference-modify: bad meeting-id");
        return NULL;
    }
    if (name != NULL && strlen(name) > 1024) {
        cc_xml_invalid(error, "conference-modify: bad name");
        return NULL;
    }
    g_autoptr(CcColibri2Modify) m = g_new0(CcColibri2Modify, 1);
    m->meeting_id = g_strdup(meeting);
    m->name = g_strdup(name);
    m->create = parse_bool(xmpp_stanza_get_attribute(e, "create"));
    m->expire = parse_bool(xmpp_stanza_get_attribute(e, "expire"));
    m->endpoints = g_ptr_array_new_with_free_func((GDestroyNotify)endpoint_free);
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(e); c; c = xmpp_stanza_get_next(c)) {
        if (cc_xml_is(c, "recording", CC_NS_RECORDING)) {
            if (!parse_recording(c, m, error))
                return NULL;
            continue;
        }
        if (!cc_xml_is(c, "endpoint", NULL))
            continue;
        if (m->endpoints->len >= CC_COLIBRI2_MAX_ENDPOINTS) {
            cc_xml_invalid(error, "conference-modify: too many endpoints");
            return NULL;
        }
        CcColibri2Endpoint *ep = parse_endpoint(c, error);
        if (ep == NULL)
            return NULL;
        for (guint i = 0; i < m->endpoints->len; i++) {
            CcColibri2Endpoint *other = g_ptr_array_index(m->endpoints, i);
            if (strcmp(other->id, ep->id) == 0) {
                endpoint_free(ep);
                cc_xml_invalid(error, "conference-modify: repeated endpoint id");
                return NULL;
            }
        }
        g_ptr_array_add(m->endpoints, ep);
    }
    if (m->create && m->expire) {
        cc_xml_invalid(error, "conference-modify: create and expire together");
        return NULL;
    }
    return g_steal_pointer(&m);
}

/* --- the answer, and requests (the focus's side) ------------------------------------- */

CcColibri2Modify *
cc_colibri2_modify_new(const char *meeting_id)
{
    CcColibri2Modify *m = g_new0(CcColibri2Modify, 1);
    m->meeting_id = g_strdup(meeting_id);
    m->endpoints = g_ptr_array_new_with_free_func((GDestroyNotify)endpoint_free);
    return m;
}

CcColibri2Endpoint *
cc_colibri2_modify_add_endpoint(CcColibri2Modify *m, const char *id)
{
    CcColibri2Endpoint *ep = g_new0(CcColibri2Endpoint, 1);
    ep->id = g_strdup(id);
    g_ptr_array_add(m->endpoints, ep);
    return ep;
}

CcColibri2Modify *
cc_colibri2_modified_parse(xmpp_stanza_t *e, GError **error)
{
    if (!cc_xml_is(e, "conference-modified", CC_NS_COLIBRI2)) {
        cc_xml_invalid(error, "not a conference-modified");
        return NULL;
    }
    return parse_body(e, error);
}

static void
write_recording(xmpp_stanza_t *parent, const CcColibri2Modify *m)
{
    if (m->recording == CC_COLIBRI2_RECORDING_NONE)
        return;
    xmpp_stanza_t *r = cc_stanza_add_child(parent, "recording", CC_NS_RECORDING);
    xmpp_stanza_set_attribute(r, "action",
                              m->recording == CC_COLIBRI2_RECORDING_START ? "start" : "stop");
    xmpp_stanza_set_attribute(r, "id", m->recording_id);
}

void
cc_colibri2_modify_write(xmpp_stanza_t *parent, const CcColibri2Modify *m)
{
    xmpp_stanza_t *cm = cc_stanza_add_child(parent, "conference-modify", CC_NS_COLIBRI2);
    xmpp_stanza_set_attribute(cm, "meeting-id", m->meeting_id);
    if (m->name != NULL)
        xmpp_stanza_set_attribute(cm, "name", m->name);
    if (m->create)
        xmpp_stanza_set_attribute(cm, "create", "true");
    if (m->expire)
        xmpp_stanza_set_attribute(cm, "expire", "true");
    for (guint i = 0; i < m->endpoints->len; i++) {
        const CcColibri2Endpoint *ep = g_ptr_array_index(m->endpoints, i);
        xmpp_stanza_t *e = cc_stanza_add_child(cm, "endpoint", NULL);
        xmpp_stanza_set_attribute(e, "id", ep->id);
        if (ep->channel_id != NULL)
            xmpp_stanza_set_attribute(e, "channel-id", ep->channel_id);
        if (ep->occupant_id != NULL)
            xmpp_stanza_set_attribute(e, "occupant-id", ep->occupant_id);
        if (ep->create)
            xmpp_stanza_set_attribute(e, "create", "true");
        if (ep->expire)
            xmpp_stanza_set_attribute(e, "expire", "true");
        if (ep->has_payload_types) {
            write_media(e, "audio", &ep->audio, ep->audio_level_ext);
            write_media(e, "video", &ep->video, 0);
        } else if (ep->audio_level_ext != 0) {
            write_media(e, "audio", NULL, ep->audio_level_ext);
        }
        if (ep->transport != NULL)
            cc_colibri2_transport_write(e, ep->transport);
        if (ep->sources != NULL)
            cc_colibri2_sources_write(e, ep->sources);
    }
    write_recording(cm, m);
}

/* A reason token: 1..32 of [a-z_]. */
static gboolean
valid_token(const char *s)
{
    gsize len = s ? strlen(s) : 0;
    return len > 0 && len <= 32 && strspn(s, "abcdefghijklmnopqrstuvwxyz_") == len;
}

CcColibri2RecordingStatus *
cc_colibri2_recording_status_parse(xmpp_stanza_t *e, GError **error)
{
    if (!cc_xml_is(e, "recording-status", CC_NS_RECORDING)) {
        cc_xml_invalid(error, "not a recording-status");
        return NULL;
    }
    const char *meeting = xmpp_stanza_get_attribute(e, "meeting-id");
    const char *id = xmpp_stanza_get_attribute(e, "id");
    const char *state = xmpp_stanza_get_attribute(e, "state");
    const char *reason = xmpp_stanza_get_attribute(e, "reason");
    if (!cc_colibri2_valid_id(meeting) || !cc_colibri2_valid_id(id)) {
        cc_xml_invalid(error, "recording-status: bad meeting-id or id");
        return NULL;
    }
    if (g_strcmp0(state, "damaged") != 0 && g_strcmp0(state, "failed") != 0) {
        cc_xml_invalid(error, "recording-status: bad state");
        return NULL;
    }
    if (!valid_token(reason)) {
        cc_xml_invalid(error, "recording-status: bad reason");
        return NULL;
    }
    CcColibri2RecordingStatus *st = g_new0(CcColibri2RecordingStatus, 1);
    st->meeting_id = g_strdup(meeting);
    st->id = g_strdup(id);
    st->state = g_strdup(state);
    st->reason = g_strdup(reason);
    return st;
}

void
cc_colibri2_recording_status_write(xmpp_stanza_t *parent, const CcColibri2RecordingStatus *st)
{
    xmpp_stanza_t *e = cc_stanza_add_child(parent, "recording-status", CC_NS_RECORDING);
    xmpp_stanza_set_attribute(e, "meeting-id", st->meeting_id);
    xmpp_stanza_set_attribute(e, "id", st->id);
    xmpp_stanza_set_attribute(e, "state", st->state);
    xmpp_stanza_set_attribute(e, "reason", st->reason);
}

void
cc_colibri2_recording_status_free(CcColibri2RecordingStatus *st)
{
    if (st == NULL)
        return;
    g_free(st->meeting_id);
    g_free(st->id);
    g_free(st->state);
    g_free(st->reason);
    g_free(st);
}

void
cc_colibri2_error_reason(xmpp_stanza_t *error, const char *reason)
{
    xmpp_stanza_t *r = cc_stanza_add_child(error, "error", CC_NS_COLIBRI2);
    xmpp_stanza_set_attribute(r, "reason", reason);
}
