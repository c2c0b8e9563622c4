/* A conference's recording, started and stopped the way Jitsi clients do it: a moderator
 * sends the Jibri IQ (<jibri xmlns='http://jitsi.org/protocol/jibri' action='start|stop'
 * recording_mode='file'/>) to room@service/focus, and is answered as Jicofo answers it
 * once the conference's bridge has done it (Colibri2 <recording action id/>,
 * schemas/colibri2.md). Everyone is told what changed: Jitsi clients by the focus's presence
 * (focus-occupant.c), every client by the room's 170/171 messages (the MUC's
 * focus_muc_set_recording). schemas/jibri.md is the contract.
 *
 * A recording never moves: when its conference leaves the bridge (failover, or nobody sends
 * media any more) it ends with what that bridge wrote, and a moderator may start a new one.
 * The bridge reports a recording damaged (the moderators are told) or failed (it ended:
 * everyone is told; the conference goes on). What a bridge's failure means for the
 * conference is conference.c's, which calls focus_recording_end() here. */
#include "focus-media.h"

#include "stanza.h"

/* --- answering clients -------------------------------------------------------------------- */

static void
reply_error(FocusMedia *media, xmpp_stanza_t *iq, const char *type, const char *condition,
            const char *text)
{
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_error_reply(iq, type, condition, text);
    cc_xmpp_component_send(media->xmpp, reply);
}

/* Jicofo's answer: a result naming the session (the recording's id) to a start, an empty
 * one to a stop. */
static void
reply_result(FocusMedia *media, xmpp_stanza_t *iq, const char *session_id)
{
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(iq);
    if (session_id != NULL) {
        xmpp_stanza_t *jibri = cc_stanza_add_child(reply, "jibri", NS_JIBRI);
        xmpp_stanza_set_attribute(jibri, "session_id", session_id);
    }
    cc_xmpp_component_send(media->xmpp, reply);
}

/* --- changes of state ----------------------------------------------------------------------- */

/* Jitsi clients first (the initiator's client then finds the session on when the result of
 * its start arrives), then every occupant. */
static void
announce(FocusConference *conf, const char *text)
{
    const FocusRecording *rec = &conf->recording;
    focus_occupant_refresh(conf);
    gboolean on = rec->state == FOCUS_REC_ON || rec->state == FOCUS_REC_STOPPING;
    focus_muc_set_recording(conf->media->muc, conf->room, on, text);
}

static void
started(FocusConference *conf)
{
    FocusRecording *rec = &conf->recording;
    rec->state = FOCUS_REC_ON;
    g_free(rec->id);
    rec->id = g_steal_pointer(&rec->next_id);
    g_free(rec->initiator);
    rec->initiator = g_steal_pointer(&rec->requester);
    g_clear_pointer(&rec->terminator, g_free);
    rec->failed = rec->damage_told = FALSE;
    rec->started_us = g_get_real_time();
    cc_metric_add(conf->media->metrics.recordings, 1);
    g_info("room %s: recording %s started on %s", conf->room->tag, rec->id, conf->bridge);
    announce(conf, NULL);
}

/* `id` is over: stopped by `terminator` (an occupant-id, taken), or ended on its own. */
static void
ended(FocusConference *conf, char *terminator, gboolean failed, const char *text)
{
    FocusRecording *rec = &conf->recording;
    rec->state = FOCUS_REC_OFF;
    g_free(rec->terminator);
    rec->terminator = terminator;
    rec->failed = failed;
    cc_metric_add(conf->media->metrics.recordings, -1);
    if (failed)
        cc_metric_inc(conf->media->metrics.recordings_failed);
    g_info("room %s: recording %s ended after %" G_GINT64_FORMAT " s%s", conf->room->tag, rec->id,
           (g_get_real_time() - rec->started_us) / G_USEC_PER_SEC, failed ? " (failed)" : "");
    announce(conf, text);
}

/* --- the bridge's answers --------------------------------------------------------------- */

/* The conference a recording answer is about, if the answer still matters: the same
 * conference on the same bridge, still waiting for it (else the client was answered when
 * the recording ended). */
static FocusConference *
waiting_conference(FocusRequest *request, FocusRecState state)
{
    FocusConference *conf = focus_request_conference(request);
    if (conf == NULL || conf->recording.state != state)
        return NULL;
    const char *id = state == FOCUS_REC_STARTING ? conf->recording.next_id : conf->recording.id;
    return g_strcmp0(id, request->payload) == 0 ? conf : NULL;
}

/* A start the bridge refused, answered as Jicofo answers a Jibri that cannot record. */
static void
start_refused(FocusConference *conf, xmpp_stanza_t *iq, xmpp_stanza_t *reply, const GError *error)
{
    FocusMedia *media = conf->media;
    const char *reason = focus_colibri_reason(reply);
    g_autofree char *bridge = g_strdup(conf->bridge);
    cc_metric_inc(media->metrics.colibri_errors);
    g_message("room %s: bridge %s did not start a recording: %s", conf->room->tag, bridge,
              error->message);
    if (g_strcmp0(reason, "recording_disabled") == 0) {
        reply_error(media, iq, "cancel", "service-unavailable",
                    "This server does not record conferences");
    } else if (g_strcmp0(reason, "recording_active") == 0) {
        reply_error(media, iq, "wait", "unexpected-request",
                    "A recording of this conference is already running");
    } else if (g_strcmp0(reason, "recording_failed") == 0) {
        reply_error(media, iq, "wait", "internal-server-error",
                    "The media bridge could not create the recording");
    } else if (focus_colibri_conference_gone(reply)) {
        /* The bridge expired the conference: it is created afresh at the next request
         * for it, or on the bridge's conference-expired (conference.c). */
        reply_error(media, iq, "wait", "service-unavailable",
                    "The media bridge ended the conference; try again");
    } else if (focus_colibri_bridge_at_fault(reply, error)) {
        reply_error(media, iq, "wait", "service-unavailable",
                    "The media bridge did not answer; try again");
        focus_bridges_fail(media->bridges, bridge); /* the conference moves (conference.c) */
    } else {
        reply_error(media, iq, "cancel", "internal-server-error",
                    "The media bridge refused the recording");
    }
}

static void
on_started(CcXmppComponent *xmpp, xmpp_stanza_t *reply, const GError *error, gpointer data)
{
    g_autoptr(FocusRequest) request = data;
    FocusConference *conf = waiting_conference(request, FOCUS_REC_STARTING);
    if (conf == NULL)
        return;
    FocusRecording *rec = &conf->recording;
    g_autoptr(xmpp_stanza_t) iq = g_steal_pointer(&rec->pending);
    if (error != NULL) {
        rec->state = FOCUS_REC_OFF;
        g_clear_pointer(&rec->next_id, g_free);
        g_clear_pointer(&rec->requester, g_free);
        start_refused(conf, iq, reply, error);
        return;
    }
    started(conf);
    reply_result(conf->media, iq, rec->id);
}

static void
on_stopped(CcXmppComponent *xmpp, xmpp_stanza_t *reply, const GError *error, gpointer data)
{
    g_autoptr(FocusRequest) request = data;
    FocusConference *conf = waiting_conference(request, FOCUS_REC_STOPPING);
    if (conf == NULL)
        return;
    FocusMedia *media = conf->media;
    FocusRecording *rec = &conf->recording;
    g_autoptr(xmpp_stanza_t) iq = g_steal_pointer(&rec->pending);
    gboolean gone =
        error == NULL || g_strcmp0(focus_colibri_reason(reply), "unknown_recording") == 0 ||
        focus_colibri_conference_gone(reply) || focus_colibri_bridge_at_fault(reply, error);
    if (!gone) { /* the bridge says it still records: so does everyone else */
        g_warning("room %s: bridge %s did not stop recording %s: %s", conf->room->tag, conf->bridge,
                  rec->id, error->message);
        cc_metric_inc(media->metrics.colibri_errors);
        rec->state = FOCUS_REC_ON;
        g_clear_pointer(&rec->requester, g_free);
        reply_error(media, iq, "cancel", "internal-server-error",
                    "The media bridge did not stop the recording");
        return;
    }
    g_autofree char *bridge = g_strdup(conf->bridge);
    ended(conf, g_steal_pointer(&rec->requester), FALSE, NULL);
    reply_result(media, iq, NULL);
    if (error != NULL && focus_colibri_bridge_at_fault(reply, error)) {
        cc_metric_inc(media->metrics.colibri_errors);
        focus_bridges_fail(media->bridges, bridge); /* leaving it expires the recording */
    }
}

static void
ask_bridge(FocusConference *conf, CcColibri2RecordingAction action, const char *id,
           CcIqCallback callback)
{
    g_autoptr(CcColibri2Modify) m = focus_colibri_modify_new(conf);
    m->recording = action;
    m->recording_id = g_strdup(id);
    FocusRequest *request = focus_request_new(conf->media, conf, NULL);
    request->payload = g_strdup(id);
    request->payload_free = g_free;
    focus_colibri_send(conf, m, callback, request);
}

/* --- the Jibri IQ ----------------------------------------------------------------------- */

static void
start(FocusMedia *media, FocusRoom *room, FocusOccupant *occ, xmpp_stanza_t *iq,
      xmpp_stanza_t *jibri)
{
    FocusConference *conf = room->media;
    const char *mode = xmpp_stanza_get_attribute(jibri, "recording_mode");
    if (conf != NULL && conf->recording.state != FOCUS_REC_OFF) {
        reply_error(media, iq, "wait", "unexpected-request",
                    "A recording of this conference is already running");
        return;
    }
    if ((mode != NULL && !g_str_equal(mode, "file")) ||
        xmpp_stanza_get_attribute(jibri, "streamid") != NULL ||
        xmpp_stanza_get_attribute(jibri, "sipaddress") != NULL) {
        reply_error(media, iq, "cancel", "feature-not-implemented",
                    "Conclave records conferences to a file only (no live streaming, no SIP)");
        return;
    }
    if (conf == NULL || conf->bridge == NULL || !conf->created) {
        reply_error(media, iq, "wait", "service-unavailable",
                    "Nobody in the conference sends media yet: there is nothing to record");
        return;
    }
    FocusRecording *rec = &conf->recording;
    rec->state = FOCUS_REC_STARTING;
    rec->next_id = g_uuid_string_random();
    rec->requester = g_strdup(occ->occupant_id);
    rec->pending = xmpp_stanza_copy(iq);
    ask_bridge(conf, CC_COLIBRI2_RECORDING_START, rec->next_id, on_started);
}

static void
stop(FocusMedia *media, FocusRoom *room, FocusOccupant *occ, xmpp_stanza_t *iq)
{
    FocusConference *conf = room->media;
    FocusRecState state = conf != NULL ? conf->recording.state : FOCUS_REC_OFF;
    if (state == FOCUS_REC_OFF) {
        reply_error(media, iq, "cancel", "item-not-found", "No recording is running");
        return;
    }
    if (state != FOCUS_REC_ON) {
        reply_error(media, iq, "wait", "unexpected-request",
                    state == FOCUS_REC_STARTING ? "The recording is still starting"
                                                : "The recording is already stopping");
        return;
    }
    FocusRecording *rec = &conf->recording;
    rec->state = FOCUS_REC_STOPPING;
    rec->requester = g_strdup(occ->occupant_id);
    rec->pending = xmpp_stanza_copy(iq);
    ask_bridge(conf, CC_COLIBRI2_RECORDING_STOP, rec->id, on_stopped);
}

/* Only to room@service/focus, only from a moderator of that room (Jicofo checks the role
 * first too); then the action. */
static gboolean
on_jibri(CcXmppComponent *comp, xmpp_stanza_t *iq, gpointer data)
{
    FocusMedia *media = data;
    if (g_strcmp0(xmpp_stanza_get_type(iq), "set") != 0)
        return FALSE;
    g_autoptr(CcJid) from = cc_jid_parse(xmpp_stanza_get_from(iq), NULL);
    if (from == NULL) {
        reply_error(media, iq, "modify", "jid-malformed", NULL);
        return TRUE;
    }
    g_autofree char *from_text = cc_jid_to_string(from);
    if (!focus_policy_allow_stanza(media->muc->policy, from_text)) {
        reply_error(media, iq, "wait", "resource-constraint", "Too many stanzas");
        return TRUE;
    }
    g_autoptr(CcJid) to = cc_jid_parse(xmpp_stanza_get_to(iq), NULL);
    FocusRoom *room = to && to->local ? focus_muc_find_room(media->muc, to->local) : NULL;
    if (room == NULL) {
        reply_error(media, iq, "cancel", "item-not-found", NULL);
        return TRUE;
    }
    if (to->resource == NULL || !g_str_equal(to->resource, FOCUS_NICK)) {
        reply_error(media, iq, "cancel", "service-unavailable",
                    "Recordings are asked of the room's focus occupant");
        return TRUE;
    }
    FocusOccupant *occ = focus_room_by_jid(room, from_text);
    if (occ == NULL || occ->role != FOCUS_ROLE_MODERATOR) {
        reply_error(media, iq, "auth", "forbidden",
                    "Only a moderator may start or stop a recording");
        return TRUE;
    }
    xmpp_stanza_t *jibri = cc_stanza_first_element(iq);
    const char *action = xmpp_stanza_get_attribute(jibri, "action");
    if (g_strcmp0(action, "start") == 0)
        start(media, room, occ, iq, jibri);
    else if (g_strcmp0(action, "stop") == 0)
        stop(media, room, occ, iq);
    else
        reply_error(media, iq, "modify", "bad-request", "The action must be start or stop");
    return TRUE;
}

void
focus_recording_install(FocusMedia *media)
{
    cc_xmpp_component_register_iq(media->xmpp, NS_JIBRI, "jibri", on_jibri, media);
}

/* --- the end of a recording that nobody stopped ---------------------------------------------- */

void
focus_recording_end(FocusConference *conf, FocusRecEnd why)
{
    FocusRecording *rec = &conf->recording;
    const char *text = why == FOCUS_REC_END_BRIDGE_FAILED
                           ? "The recording stopped: its media bridge failed. A moderator may "
                             "start a new one."
                           : "The recording stopped: nobody in the conference sends media.";
    g_autoptr(xmpp_stanza_t) iq = g_steal_pointer(&rec->pending);
    switch (rec->state) {
    case FOCUS_REC_OFF:
        return;
    case FOCUS_REC_STARTING: /* nothing was shown yet */
        rec->state = FOCUS_REC_OFF;
        g_clear_pointer(&rec->next_id, g_free);
        g_clear_pointer(&rec->requester, g_free);
        reply_error(conf->media, iq, "wait", "service-unavailable",
                    why == FOCUS_REC_END_BRIDGE_FAILED
                        ? "The media bridge failed; try again"
                        : "Nobody in the conference sends media: there is nothing to record");
        return;
    case FOCUS_REC_STOPPING: /* what was asked happened */
        ended(conf, g_steal_pointer(&rec->requester), FALSE, NULL);
        reply_result(conf->media, iq, NULL);
        return;
    case FOCUS_REC_ON:
        ended(conf, NULL, why == FOCUS_REC_END_BRIDGE_FAILED, text);
        return;
    }
}

void
focus_recording_clear(FocusConference *conf)
{
    FocusRecording *rec = &conf->recording;
    if (rec->state == FOCUS_REC_ON || rec->state == FOCUS_REC_STOPPING)
        cc_metric_add(conf->media->metrics.recordings, -1);
    /* Only at teardown can a request still wait (a room's end ends its recording first):
     * the focus is going away, its clients with it. */
    g_clear_pointer(&rec->pending, xmpp_stanza_release);
    g_clear_pointer(&rec->id, g_free);
    g_clear_pointer(&rec->next_id, g_free);
    g_clear_pointer(&rec->initiator, g_free);
    g_clear_pointer(&rec->terminator, g_free);
    g_clear_pointer(&rec->requester, g_free);
    rec->state = FOCUS_REC_OFF;
}

/* --- the bridge's reports ----------------------------------------------------------------- */

static const char *
reason_text(const char *reason)
{
    static const char *const texts[][2] = {
        {"disk_full", "the recording disk is full"},
        {"write_error", "writing the file failed"},
        {"queue_overflow", "the recorder fell behind"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(texts); i++)
        if (g_str_equal(reason, texts[i][0]))
            return texts[i][1];
    return reason;
}

/* The conference whose running recording `st` is about, if `from` is its bridge. */
static FocusConference *
reported_conference(FocusMedia *media, const char *from, const CcColibri2RecordingStatus *st)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, media->conferences);
    while (from != NULL && g_hash_table_iter_next(&it, NULL, &value)) {
        FocusConference *conf = value;
        if (conf->bridge != NULL && g_ascii_strcasecmp(conf->bridge, from) == 0 &&
            g_str_equal(conf->room->meeting_id, st->meeting_id) &&
            conf->recording.state == FOCUS_REC_ON && g_str_equal(conf->recording.id, st->id))
            return conf;
    }
    return NULL;
}

gboolean
focus_recording_on_bridge_message(xmpp_stanza_t *message, gpointer data)
{
    FocusMedia *media = data;
    xmpp_stanza_t *e =
        xmpp_stanza_get_child_by_name_and_ns(message, "recording-status", CC_NS_RECORDING);
    if (e == NULL)
        return FALSE;
    g_autoptr(CcColibri2RecordingStatus) st = cc_colibri2_recording_status_parse(e, NULL);
    FocusConference *conf =
        st ? reported_conference(media, xmpp_stanza_get_from(message), st) : NULL;
    if (conf == NULL)
        return TRUE; /* malformed, stale or not believed: nothing to answer either way */
    FocusRecording *rec = &conf->recording;
    gboolean damaged = g_str_equal(st->state, "damaged");
    if (damaged && rec->damage_told) /* once per recording is enough for the moderators */
        return TRUE;
    g_message("room %s: bridge %s reports recording %s %s (%s)", conf->room->tag, conf->bridge,
              rec->id, st->state, st->reason);
    if (damaged) {
        rec->damage_told = TRUE;
        g_autofree char *text =
            g_strdup_printf("The recording lost some media (%s); it goes on, marked as damaged.",
                            reason_text(st->reason));
        focus_muc_tell_moderators(media->muc, conf->room, text);
        return TRUE;
    }
    g_autofree char *text = g_strdup_printf("The recording failed (%s) and stopped; the "
                                            "conference goes on. A moderator may start a new one.",
                                            reason_text(st->reason));
    ended(conf, NULL, TRUE, text);
    return TRUE;
}
