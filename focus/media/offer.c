/* What the focus offers in every session (the same for everyone: the bridge forwards
 * payloads untouched, so all participants must agree on one set), and the translation of
 * the sources a client announces in Jingle into the media-sources Colibri2 carries. */
#include "focus-media.h"

#include "cc-error.h"

#include <string.h>

#define URI_AUDIO_LEVEL   CC_URI_AUDIO_LEVEL
#define URI_ABS_SEND_TIME "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
#define URI_TRANSPORT_CC  "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
#define URI_VIDEO_ORIENT  "urn:3gpp:video-orientation"
#define URI_DEPENDENCY_DSC                                                                         \
    "https://aomedia.org/av1-rtp-spec/#dependency-descriptor-rtp-header-extension"

static void
video_feedback(CcJinglePayloadType *pt)
{
    cc_jingle_payload_type_add_feedback(pt, "ccm", "fir");
    cc_jingle_payload_type_add_feedback(pt, "nack", NULL);
    cc_jingle_payload_type_add_feedback(pt, "nack", "pli");
    cc_jingle_payload_type_add_feedback(pt, "transport-cc", NULL);
}

static void
add_video_codec(CcJingleContent *c, guint8 id, const char *name, guint8 rtx_id,
                const char *param_name, const char *param_value)
{
    CcJinglePayloadType *pt = cc_jingle_content_add_payload_type(c, id, name, 90000, 0);
    if (param_name != NULL)
        cc_jingle_payload_type_add_parameter(pt, param_name, param_value);
    video_feedback(pt);
    CcJinglePayloadType *rtx = cc_jingle_content_add_payload_type(c, rtx_id, "rtx", 90000, 0);
    char apt[8];
    g_snprintf(apt, sizeof apt, "%u", id);
    cc_jingle_payload_type_add_parameter(rtx, "apt", apt);
}

void
focus_offer_write(CcJingle *jingle, const CcIceUdpTransport *bridge)
{
    CcJingleContent *audio = cc_jingle_add_content(jingle, "audio", "audio");
    CcJinglePayloadType *opus = cc_jingle_content_add_payload_type(audio, 111, "opus", 48000, 2);
    cc_jingle_payload_type_add_parameter(opus, "minptime", "10");
    cc_jingle_payload_type_add_parameter(opus, "useinbandfec", "1");
    cc_jingle_payload_type_add_feedback(opus, "transport-cc", NULL);
    cc_jingle_content_add_hdrext(audio, FOCUS_AUDIO_LEVEL_EXT, URI_AUDIO_LEVEL);
    cc_jingle_content_add_hdrext(audio, 5, URI_TRANSPORT_CC);

    CcJingleContent *video = cc_jingle_add_content(jingle, "video", "video");
    add_video_codec(video, 100, "VP8", 96, NULL, NULL);
    add_video_codec(video, 101, "VP9", 97, "profile-id", "0");
    add_video_codec(video, 107, "H264", 99, "profile-level-id", "42e01f");
    cc_jingle_content_add_hdrext(video, 3, URI_ABS_SEND_TIME);
    cc_jingle_content_add_hdrext(video, 4, URI_VIDEO_ORIENT);
    cc_jingle_content_add_hdrext(video, 5, URI_TRANSPORT_CC);
    cc_jingle_content_add_hdrext(video, 11, URI_DEPENDENCY_DSC);

    /* BUNDLE: one transport for both; each content carries it, as Jitsi clients expect. */
    for (guint i = 0; i < jingle->contents->len; i++) {
        CcJingleContent *c = g_ptr_array_index(jingle->contents, i);
        c->creator = g_strdup("initiator");
        c->senders = g_strdup("both");
        c->rtcp_mux = TRUE;
        c->transport = cc_ice_udp_transport_copy(bridge);
        c->transport->rtcp_mux = TRUE;
    }
    jingle->bundle = TRUE;
}

void
focus_offer_add_source(CcJingle *jingle, const CcColibri2Source *source, const char *owner,
                       GHashTable *params)
{
    CcJingleContent *c = cc_jingle_find_content(jingle, source->type);
    if (c == NULL)
        c = cc_jingle_add_content(jingle, source->type, source->type);
    for (guint i = 0; i < source->ssrcs->len; i++) {
        guint32 ssrc = g_array_index(source->ssrcs, guint32, i);
        CcJingleSource *js = cc_jingle_content_add_source(c, ssrc, source->id, owner);
        GPtrArray *given = params ? g_hash_table_lookup(params, GUINT_TO_POINTER(ssrc)) : NULL;
        for (guint k = 0; given != NULL && k < given->len; k++) {
            const CcJingleParameter *p = g_ptr_array_index(given, k);
            cc_jingle_source_set_parameter(js, p->name, p->value);
        }
    }
    for (guint i = 0; i < source->groups->len; i++) {
        const CcColibri2SsrcGroup *g = g_ptr_array_index(source->groups, i);
        cc_jingle_content_add_group(c, g->semantics, (const guint32 *)g->ssrcs->data,
                                    g->ssrcs->len);
    }
}

/* --- source parameters ------------------------------------------------------------------ */

GHashTable *
focus_offer_params_new(void)
{
    return g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                 (GDestroyNotify)g_ptr_array_unref);
}

void
focus_offer_keep_params(GHashTable *params, const CcJingle *jingle)
{
    for (guint i = 0; i < jingle->contents->len; i++) {
        const CcJingleContent *c = g_ptr_array_index(jingle->contents, i);
        for (guint k = 0; k < c->sources->len; k++) {
            const CcJingleSource *s = g_ptr_array_index(c->sources, k);
            GPtrArray *copy =
                g_ptr_array_new_with_free_func((GDestroyNotify)cc_jingle_parameter_free);
            for (guint n = 0; n < s->parameters->len; n++) {
                const CcJingleParameter *p = g_ptr_array_index(s->parameters, n);
                CcJingleParameter *q = g_new0(CcJingleParameter, 1);
                q->name = g_strdup(p->name);
                q->value = g_strdup(p->value);
                g_ptr_array_add(copy, q);
            }
            g_hash_table_replace(params, GUINT_TO_POINTER(s->ssrc), copy);
        }
    }
}

void
focus_offer_prune_params(GHashTable *params, GPtrArray *sources)
{
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, params);
    while (g_hash_table_iter_next(&it, &key, NULL))
        if (!focus_offer_has_ssrc(sources, GPOINTER_TO_UINT(key)))
            g_hash_table_iter_remove(&it);
}

/* --- counting ----------------------------------------------------------------------- */

guint
focus_offer_count_ssrcs(GPtrArray *sources)
{
    guint n = 0;
    for (guint i = 0; sources != NULL && i < sources->len; i++)
        n += ((CcColibri2Source *)g_ptr_array_index(sources, i))->ssrcs->len;
    return n;
}

gboolean
focus_offer_has_ssrc(GPtrArray *sources, guint32 ssrc)
{
    for (guint i = 0; sources != NULL && i < sources->len; i++) {
        GArray *ssrcs = ((CcColibri2Source *)g_ptr_array_index(sources, i))->ssrcs;
        for (guint j = 0; j < ssrcs->len; j++)
            if (g_array_index(ssrcs, guint32, j) == ssrc)
                return TRUE;
    }
    return FALSE;
}

/* --- from Jingle ------------------------------------------------------------------------- */

static gboolean
name_taken(GPtrArray *out, const char *name)
{
    for (guint i = 0; i < out->len; i++)
        if (g_str_equal(((CcColibri2Source *)g_ptr_array_index(out, i))->id, name))
            return TRUE;
    return FALSE;
}

/* Index of the set (of ssrcs joined by groups) `i` belongs to: a tiny union-find. */
static guint
find_set(guint *parent, guint i)
{
    while (parent[i] != i)
        i = parent[i] = parent[parent[i]];
    return i;
}

static guint
source_index(const CcJingleContent *c, guint32 ssrc)
{
    for (guint i = 0; i < c->sources->len; i++)
        if (((CcJingleSource *)g_ptr_array_index(c->sources, i))->ssrc == ssrc)
            return i;
    return G_MAXUINT;
}

/* One media-source per set of SSRCs tied by ssrc-groups (a camera with its RTX and
 * simulcast layers), named by its first SSRC's name when that is a valid, unused id. */
static gboolean
content_sources(const CcJingleContent *c, const char *endpoint, GPtrArray *out, GError **error)
{
    guint n = c->sources->len;
    g_autofree guint *parent = g_new(guint, MAX(n, 1));
    for (guint i = 0; i < n; i++)
        parent[i] = i;
    for (guint g = 0; g < c->groups->len; g++) {
        const CcColibri2SsrcGroup *grp = g_ptr_array_index(c->groups, g);
        guint first = source_index(c, g_array_index(grp->ssrcs, guint32, 0));
        for (guint k = 1; k < grp->ssrcs->len; k++) {
            guint other = source_index(c, g_array_index(grp->ssrcs, guint32, k));
            if (first == G_MAXUINT || other == G_MAXUINT) {
                g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "ssrc-group of unlisted SSRCs");
                return FALSE;
            }
            parent[find_set(parent, other)] = find_set(parent, first);
        }
    }
    g_autofree CcColibri2Source **by_root = g_new0(CcColibri2Source *, MAX(n, 1));
    const char *letter = g_str_equal(c->media, "audio") ? "a" : "v";
    for (guint i = 0; i < n; i++) {
        const CcJingleSource *js = g_ptr_array_index(c->sources, i);
        guint root = find_set(parent, i);
        CcColibri2Source *s = by_root[root];
        if (s == NULL) {
            g_autofree char *name = NULL;
            if (cc_colibri2_valid_id(js->name) && !name_taken(out, js->name))
                name = g_strdup(js->name);
            for (guint k = out->len; name == NULL || name_taken(out, name); k++) {
                g_free(name);
                name = g_strdup_printf("%.40s-%s%u", endpoint, letter, k);
            }
            s = by_root[root] = cc_colibri2_source_new(c->media, name);
            g_ptr_array_add(out, s);
        }
        if (s->ssrcs->len >= CC_COLIBRI2_MAX_SSRCS) {
            g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "too many SSRCs in one source");
            return FALSE;
        }
        g_array_append_val(s->ssrcs, js->ssrc);
    }
    for (guint g = 0; g < c->groups->len; g++) {
        const CcColibri2SsrcGroup *grp = g_ptr_array_index(c->groups, g);
        guint root = find_set(parent, source_index(c, g_array_index(grp->ssrcs, guint32, 0)));
        cc_colibri2_source_add_group(by_root[root], grp->semantics, grp->ssrcs);
    }
    return TRUE;
}

GPtrArray *
focus_offer_sources_from_jingle(const CcJingle *jingle, const char *endpoint, GError **error)
{
    g_autoptr(GPtrArray) out =
        g_ptr_array_new_with_free_func((GDestroyNotify)cc_colibri2_source_free);
    for (guint i = 0; i < jingle->contents->len; i++) {
        const CcJingleContent *c = g_ptr_array_index(jingle->contents, i);
        if (c->media == NULL || c->sources->len == 0)
            continue;
        if (!g_str_equal(c->media, "audio") && !g_str_equal(c->media, "video")) {
            g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "sources of an unknown media type");
            return NULL;
        }
        if (!content_sources(c, endpoint, out, error))
            return NULL;
    }
    /* The same SSRC in two contents would be two claims on one stream. */
    g_autoptr(GHashTable) seen = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (guint i = 0; i < out->len; i++) {
        GArray *ssrcs = ((CcColibri2Source *)g_ptr_array_index(out, i))->ssrcs;
        for (guint j = 0; j < ssrcs->len; j++) {
            guint32 ssrc = g_array_index(ssrcs, guint32, j);
            if (!g_hash_table_add(seen, GUINT_TO_POINTER(ssrc))) {
                g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "SSRC %u listed twice", ssrc);
                return NULL;
            }
        }
    }
    if (out->len > CC_COLIBRI2_MAX_SOURCES) {
        g_set_error(error, CC_ERROR, CC_ERROR_INVALID, "too many sources");
        return NULL;
    }
    return g_steal_pointer(&out);
}
