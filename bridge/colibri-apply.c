/* A conference-modify applied whole or not at all (see colibri-apply.h). Every step that
 * can fail runs before the first change; what it allocated is kept in a Prepared per
 * request endpoint and either committed or freed. */
#include "colibri-apply.h"

#include <string.h>

void
bridge_colibri_fail(BridgeColibriFailure *f, const char *type, const char *condition,
                    const char *reason, const char *text)
{
    if (f->reason != NULL)
        return;
    f->type = type;
    f->condition = condition;
    f->reason = reason;
    f->text = g_strdup(text);
}

void
bridge_colibri_failure_clear(BridgeColibriFailure *f)
{
    g_clear_pointer(&f->text, g_free);
    f->reason = NULL;
}

/* What the prepare step allocated for one request endpoint. */
typedef struct {
    BridgeEndpoint *created; /* new, not in the conference yet */
    BridgeDtls *dtls;        /* the DTLS of a new transport */
} Prepared;

typedef struct {
    BridgeColibriApply *a;
    GHashTable *claimed; /* ssrc -> endpoint id, over the whole request */
    GHashTable *ids;     /* endpoint ids seen in the request */
    Prepared *prepared;  /* one per request endpoint */
} Run;

static void
refuse(Run *r, const char *text)
{
    bridge_colibri_fail(&r->a->failure, "modify", "bad-request", "bad_request", text);
}

/* --- 1. check ------------------------------------------------------------------------------ */

static gboolean
ssrc_taken(BridgeConference *conf, const CcColibri2Endpoint *req, guint32 ssrc)
{
    BridgeEndpoint *owner = g_hash_table_lookup(conf->ssrc_owner, GUINT_TO_POINTER(ssrc));
    return owner != NULL && strcmp(owner->id, req->id) != 0;
}

static gboolean
check_sources(Run *r, const CcColibri2Endpoint *req)
{
    guint n = 0;
    for (guint i = 0; i < req->sources->len; i++) {
        const CcColibri2Source *src = g_ptr_array_index(req->sources, i);
        for (guint j = 0; j < src->ssrcs->len; j++, n++) {
            guint32 ssrc = g_array_index(src->ssrcs, guint32, j);
            const char *claimant = g_hash_table_lookup(r->claimed, GUINT_TO_POINTER(ssrc));
            /* Two endpoints of one request claiming an SSRC is as wrong as taking one that
             * another endpoint already owns (even one this request expires: the check is
             * against the conference as it is). */
            if (ssrc_taken(r->a->conf, req, ssrc) ||
                (claimant != NULL && strcmp(claimant, req->id) != 0)) {
                refuse(r, "an ssrc is already used by another endpoint");
                return FALSE;
            }
            g_hash_table_insert(r->claimed, GUINT_TO_POINTER(ssrc), req->id);
        }
    }
    if (n > BRIDGE_MAX_SSRCS) {
        refuse(r, "too many ssrcs");
        return FALSE;
    }
    return TRUE;
}

static gboolean
check_endpoint(Run *r, const CcColibri2Endpoint *req)
{
    BridgeColibriApply *a = r->a;
    BridgeEndpoint *ep = bridge_conference_endpoint(a->conf, req->id);
    if (!g_hash_table_add(r->ids, req->id)) {
        refuse(r, "an endpoint appears twice in the request");
        return FALSE;
    }
    if (req->create && ep != NULL) {
        bridge_colibri_fail(&a->failure, "cancel", "conflict", "endpoint_already_exists", req->id);
        return FALSE;
    }
    if (!req->create && !req->expire && ep == NULL) {
        bridge_colibri_fail(&a->failure, "cancel", "item-not-found", "unknown_endpoint", req->id);
        return FALSE;
    }
    if (req->expire)
        return TRUE; /* nothing else of it applies */
    if (req->transport != NULL && ep != NULL && bridge_endpoint_is_trickle(ep, req->transport)) {
        /* more candidates for the same ICE session: nothing else to check */
    } else if (req->transport != NULL) {
        const CcIceUdpTransport *t = req->transport;
        if (t->fingerprint == NULL || g_ascii_strcasecmp(t->fp_hash, "sha-256") != 0 ||
            !bridge_dtls_fingerprint_valid(t->fingerprint)) {
            refuse(r, "a transport needs a sha-256 DTLS fingerprint");
            return FALSE;
        }
        if (ep != NULL && ep->remote_set) {
            refuse(r, "the endpoint's transport is already set (only candidates may be added, "
                      "with the same ufrag)");
            return FALSE;
        }
    }
    return req->sources == NULL || check_sources(r, req);
}

/* --- 2. prepare ---------------------------------------------------------------------------- */

static gboolean
prepare_endpoint(Run *r, guint i, const CcColibri2Endpoint *req)
{
    BridgeColibriApply *a = r->a;
    Prepared *p = &r->prepared[i];
    if (req->expire)
        return TRUE;
    BridgeEndpoint *ep = bridge_conference_endpoint(a->conf, req->id);
    if (req->create) {
        g_autoptr(GError) error = NULL;
        ep = p->created = bridge_endpoint_new(a->conf, req->id, &error);
        if (ep == NULL) {
            g_warning("cannot create endpoint %s: %s", req->id, error->message);
            bridge_colibri_fail(&a->failure, "wait", "internal-server-error", "internal_error",
                                "cannot allocate ICE resources");
            return FALSE;
        }
    }
    if (req->transport != NULL && !bridge_endpoint_is_trickle(ep, req->transport)) {
        g_autoptr(GError) error = NULL;
        p->dtls = bridge_endpoint_prepare_remote(ep, req->transport, &error);
        if (p->dtls == NULL) {
            refuse(r, error->message);
            return FALSE;
        }
    }
    return TRUE;
}

static void
discard_prepared(Run *r, guint n)
{
    for (guint i = 0; i < n; i++) {
        bridge_dtls_free(r->prepared[i].dtls);
        bridge_endpoint_free(r->prepared[i].created);
    }
}

/* --- 3. commit ----------------------------------------------------------------------------- */

static void
commit_endpoint(Run *r, guint i, const CcColibri2Endpoint *req)
{
    BridgeColibriApply *a = r->a;
    Prepared *p = &r->prepared[i];
    BridgeEndpoint *ep = bridge_conference_endpoint(a->conf, req->id);
    if (req->expire) {
        if (ep != NULL)
            bridge_conference_remove_endpoint(a->conf, ep, BRIDGE_EXPIRE_SIGNALLED);
        return;
    }
    if (p->created != NULL) {
        ep = p->created;
        bridge_conference_add_endpoint(a->conf, ep);
        cc_metric_inc(a->conf->config->stats->endpoints_created);
        CcIceUdpTransport *answer = cc_ice_udp_transport_new();
        bridge_endpoint_local_transport(ep, answer);
        g_ptr_array_index(a->answers, i) = answer;
    }
    if (p->dtls != NULL)
        bridge_endpoint_commit_remote(ep, req->transport, p->dtls);
    else if (req->transport != NULL)
        bridge_endpoint_add_remote_candidates(ep, req->transport);
    if (req->sources != NULL)
        bridge_endpoint_set_sources(ep, req->sources); /* counted by the check */
    if (req->has_payload_types) {
        ep->pt_filter = TRUE;
        ep->accepted_pts.bits[0] = req->audio.bits[0] | req->video.bits[0];
        ep->accepted_pts.bits[1] = req->audio.bits[1] | req->video.bits[1];
    }
    if (req->has_payload_types || req->audio_level_ext != 0)
        ep->audio_level_ext = req->audio_level_ext;
    if (req->occupant_id != NULL) {
        g_free(ep->occupant_id);
        ep->occupant_id = g_strdup(req->occupant_id);
    }
}

void
bridge_colibri_apply(gpointer data)
{
    BridgeColibriApply *a = data;
    const CcColibri2Modify *m = a->modify;
    g_autoptr(GHashTable) claimed = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_autoptr(GHashTable) ids = g_hash_table_new(g_str_hash, g_str_equal);
    g_autofree Prepared *prepared = g_new0(Prepared, m->endpoints->len + 1);
    Run r = {.a = a, .claimed = claimed, .ids = ids, .prepared = prepared};
    for (guint i = 0; i < m->endpoints->len; i++) {
        if (!check_endpoint(&r, g_ptr_array_index(m->endpoints, i)))
            return;
    }
    for (guint i = 0; i < m->endpoints->len; i++) {
        if (!prepare_endpoint(&r, i, g_ptr_array_index(m->endpoints, i))) {
            discard_prepared(&r, i + 1);
            return;
        }
    }
    /* Nothing below can fail. */
    bridge_conference_start(a->conf);
    gboolean sources_changed = FALSE;
    for (guint i = 0; i < m->endpoints->len; i++) {
        const CcColibri2Endpoint *req = g_ptr_array_index(m->endpoints, i);
        commit_endpoint(&r, i, req);
        sources_changed |= req->sources != NULL && !req->expire;
    }
    if (sources_changed)
        bridge_conference_rebuild_ssrcs(a->conf);
    if (m->recording == CC_COLIBRI2_RECORDING_STOP)
        a->conf->recorder = NULL;
    if (a->start != NULL)
        a->conf->recorder = a->start;
}
