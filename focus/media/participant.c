/* One participant's media session (see focus-media.h): its state, starting and ending sessions,
 * and keeping what it was told about others' sources equal to what they have on the bridge.
 * That last part is a difference between two sets (wanted, told), so every change anywhere
 * in the room ends the same way: compute, then send source-remove and source-add. It never
 * calls up into its conference: what follows a refused offer is the caller's callback. */
#include "focus-media.h"

#include "stanza.h"

static void
told_free(FocusToldSource *t)
{
    g_free(t->owner);
    cc_colibri2_source_free(t->source);
    g_free(t);
}

static GHashTable *
told_table(void)
{
    return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)told_free);
}

FocusParticipant *
focus_participant_new(FocusConference *conf, FocusOccupant *occ)
{
    FocusParticipant *p = g_new0(FocusParticipant, 1);
    p->conf = conf;
    p->occ = occ;
    p->jid = g_strdup(occ->jid_text);
    p->state = PART_DISCOVERING;
    p->sources = g_ptr_array_new_with_free_func((GDestroyNotify)cc_colibri2_source_free);
    p->source_params = focus_offer_params_new();
    p->told = told_table();
    return p;
}

void
focus_participant_free(FocusParticipant *p)
{
    focus_participant_set_state(p, PART_TEXT_ONLY);
    focus_p2p_forget(p);
    g_free(p->jid);
    g_free(p->endpoint);
    g_free(p->sid);
    g_ptr_array_unref(p->sources);
    g_hash_table_unref(p->source_params);
    g_hash_table_unref(p->told);
    g_free(p->remote_ufrag);
    if (p->trickled != NULL)
        cc_ice_udp_transport_free(p->trickled);
    g_free(p);
}

void
focus_participant_set_state(FocusParticipant *p, FocusPartState state)
{
    FocusMediaMetrics *m = &p->conf->media->metrics;
    gboolean was_media = p->state >= PART_WAITING, is_media = state >= PART_WAITING;
    if (p->state == PART_ACTIVE && state != PART_ACTIVE)
        cc_metric_add(m->sessions, -1);
    else if (p->state != PART_ACTIVE && state == PART_ACTIVE)
        cc_metric_add(m->sessions, 1);
    if (was_media != is_media)
        cc_metric_add(m->participants, is_media ? 1 : -1);
    p->state = state;
}

void
focus_participant_renew(FocusParticipant *p)
{
    g_free(p->endpoint);
    g_free(p->sid);
    p->endpoint = cc_stanza_new_id();
    p->sid = cc_stanza_new_id();
}

static gboolean
has_ssrc(GArray *ssrcs, guint32 ssrc)
{
    for (guint i = 0; i < ssrcs->len; i++)
        if (g_array_index(ssrcs, guint32, i) == ssrc)
            return TRUE;
    return FALSE;
}

/* The same source whatever the order its SSRCs were listed in (a client that puts its
 * sources back lists them as it likes): telling a client "removed, then added" for an
 * unchanged source would leave two m-lines with one msid in a browser. */
static gboolean
source_equal(const CcColibri2Source *a, const CcColibri2Source *b)
{
    if (!g_str_equal(a->type, b->type) || a->ssrcs->len != b->ssrcs->len ||
        a->groups->len != b->groups->len)
        return FALSE;
    for (guint i = 0; i < a->ssrcs->len; i++)
        if (!has_ssrc(b->ssrcs, g_array_index(a->ssrcs, guint32, i)))
            return FALSE;
    return TRUE;
}

GHashTable *
focus_conference_active_sources(FocusConference *conf)
{
    GHashTable *active = told_table();
    for (guint i = 0; i < conf->participants->len; i++) {
        FocusParticipant *q = g_ptr_array_index(conf->participants, i);
        if (q->state != PART_ACTIVE)
            continue;
        for (guint j = 0; j < q->sources->len; j++) {
            const CcColibri2Source *s = g_ptr_array_index(q->sources, j);
            FocusToldSource *t = g_new0(FocusToldSource, 1);
            t->owner = focus_conference_owner(conf, q);
            t->source = cc_colibri2_source_copy(s);
            t->from = q;
            g_hash_table_insert(active, g_strconcat(q->endpoint, "/", s->id, NULL), t);
        }
    }
    return active;
}

/* Records in p->told that `p` was told of `t` (a copy: `active` is shared). */
static void
remember(FocusParticipant *p, const char *key, const FocusToldSource *t)
{
    FocusToldSource *copy = g_new0(FocusToldSource, 1);
    copy->owner = g_strdup(t->owner);
    copy->source = cc_colibri2_source_copy(t->source);
    g_hash_table_insert(p->told, g_strdup(key), copy);
}

static CcJingle *
jingle_new(FocusParticipant *p, CcJingleAction action)
{
    CcJingle *j = cc_jingle_new(action, p->sid);
    j->initiator = focus_conference_focus_jid(p->conf);
    return j;
}

void
focus_participant_initiate(FocusParticipant *p, const CcIceUdpTransport *bridge,
                           FocusJingleRefused refused, gpointer data)
{
    g_autoptr(CcJingle) j = jingle_new(p, CC_JINGLE_SESSION_INITIATE);
    j->responder = g_strdup(p->jid);
    focus_offer_write(j, bridge);
    g_hash_table_remove_all(p->told);
    g_autoptr(GHashTable) active = focus_conference_active_sources(p->conf);
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, active);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        FocusToldSource *t = value;
        if (t->from == p)
            continue;
        focus_offer_add_source(j, t->source, t->owner, t->from->source_params);
        remember(p, key, t);
    }
    focus_participant_set_state(p, PART_INITIATED);
    focus_jingle_send(p, j, refused, data);
}

void
focus_participant_end_session(FocusParticipant *p, const char *reason, const char *text,
                              gboolean expire)
{
    if (reason != NULL && p->state >= PART_INITIATED && p->sid != NULL) {
        g_autoptr(CcJingle) j = jingle_new(p, CC_JINGLE_SESSION_TERMINATE);
        j->reason = g_strdup(reason);
        j->reason_text = g_strdup(text);
        focus_jingle_send(p, j, NULL, NULL);
    }
    if (expire && p->state >= PART_ALLOCATING && p->endpoint != NULL)
        focus_colibri_expire_endpoint(p->conf, p->endpoint);
    g_ptr_array_set_size(p->sources, 0);
    g_hash_table_remove_all(p->source_params);
    g_hash_table_remove_all(p->told);
    g_clear_pointer(&p->remote_ufrag, g_free);
    g_clear_pointer(&p->trickled, cc_ice_udp_transport_free);
}

void
focus_participant_sync(FocusParticipant *p, GHashTable *active)
{
    if (p->state != PART_ACTIVE)
        return; /* an initiated session learns the rest once accepted */
    g_autoptr(CcJingle) add = jingle_new(p, CC_JINGLE_SOURCE_ADD);
    g_autoptr(CcJingle) remove = jingle_new(p, CC_JINGLE_SOURCE_REMOVE);
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, p->told);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        FocusToldSource *told = value, *want = g_hash_table_lookup(active, key);
        if (want == NULL && focus_p2p_holds_removal(p, told))
            continue;
        if (want == NULL || want->from == p || !source_equal(told->source, want->source)) {
            focus_offer_add_source(remove, told->source, told->owner, NULL);
            g_hash_table_iter_remove(&it);
        }
    }
    g_hash_table_iter_init(&it, active);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        FocusToldSource *want = value;
        if (want->from == p || g_hash_table_contains(p->told, key))
            continue;
        focus_offer_add_source(add, want->source, want->owner, want->from->source_params);
        remember(p, key, want);
    }
    if (remove->contents->len > 0)
        focus_jingle_send(p, remove, NULL, NULL);
    if (add->contents->len > 0)
        focus_jingle_send(p, add, NULL, NULL);
}
