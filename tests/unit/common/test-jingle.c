/* Unit tests of common/jingle.c: a session-initiate in the shape Jitsi clients exchange
 * parses into what it says and equals the same offer built with the API; offers,
 * source-add and session-terminate survive a write/serialize/parse round trip; the limits
 * hold exactly at their bounds; unknown and nested elements are ignored; and the parser
 * refuses each malformed shape with an error that names the element. */
#include "../check-main.h"
#include "cc-autoptr.h"
#include "cc-error.h"
#include "jingle.h"
#include "stanza.h"

#include <stdlib.h>
#include <string.h>

static xmpp_ctx_t *ctx;

static void
setup(void)
{
    xmpp_initialize();
    ctx = xmpp_ctx_new(NULL, NULL);
}

static void
teardown(void)
{
    xmpp_ctx_free(ctx);
}

#define RTP     " xmlns='urn:xmpp:jingle:apps:rtp:1'"
#define FB      " xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0'"
#define HDREXT  " xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0'"
#define SSMA    " xmlns='urn:xmpp:jingle:apps:rtp:ssma:0'"
#define JITMEET " xmlns='http://jitsi.org/jitmeet'"
#define ICE     " xmlns='urn:xmpp:jingle:transports:ice-udp:1'"

#define UFRAG       "3kp1"
#define PWD         "q7Rz0b2LxK9mW4sT1vY8nA"
#define FINGERPRINT "6D:0A:3F:1B:9C:22:7E:44:5A:81:0F:3C:D2:6B:90:11:AA:5E:37:C8:04:9D:E1:72"
#define OWNER       "room@conference.example.org/a1b2c3d4"

#define TRANSPORT                                                                                  \
    "<transport" ICE " ufrag='" UFRAG "' pwd='" PWD "'>"                                           \
    "<web-socket xmlns='http://jitsi.org/protocol/colibri' url='wss://example.org/ws'/>"           \
    "<rtcp-mux/>"                                                                                  \
    "<fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='actpass' "             \
    "required='false'>" FINGERPRINT "</fingerprint>"                                               \
    "<candidate component='1' foundation='1' generation='0' id='c1' network='0' "                  \
    "priority='2130706431' protocol='udp' type='host' ip='10.0.0.5' port='10000'/>"                \
    "<candidate component='1' foundation='2' generation='0' id='c2' network='0' "                  \
    "priority='1694498815' protocol='udp' type='srflx' ip='203.0.113.7' port='10000' "             \
    "rel-addr='10.0.0.5' rel-port='10000'/>"                                                       \
    "</transport>"

#define VIDEO_FB(id)                                                                               \
    "<payload-type id='" id "' name='VP8' clockrate='90000'>"                                      \
    "<rtcp-fb" FB " type='ccm' subtype='fir'/><rtcp-fb" FB " type='nack'/>"                        \
    "<rtcp-fb" FB " type='nack' subtype='pli'/><rtcp-fb" FB " type='transport-cc'/>"               \
    "</payload-type>"

/* What a Jitsi focus offers a participant: opus, VP8/VP9/H264 each with RTX, the usual
 * header extensions, the other participant's sources, BUNDLE and one ICE-UDP transport. */
static const char session_initiate[] =
    "<iq type='set' id='j1' to='peer@example.org/r' from='focus@auth.example.org/focus'>"
    "<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' "
    "initiator='focus@auth.example.org/focus' sid='8ag7d3kksbt2'>"
    "<content creator='initiator' name='audio' senders='both'>"
    "<description" RTP " media='audio' maxptime='60'>"
    "<payload-type id='111' name='opus' clockrate='48000' channels='2'>"
    "<parameter name='minptime' value='10'/><parameter name='useinbandfec' value='1'/>"
    "<rtcp-fb" FB " type='transport-cc'/>"
    "</payload-type>"
    "<payload-type id='126' name='telephone-event' clockrate='8000'/>"
    "<rtp-hdrext" HDREXT " id='1' uri='urn:ietf:params:rtp-hdrext:ssrc-audio-level'/>"
    "<rtp-hdrext" HDREXT " id='5' "
    "uri='http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01'/>"
    "<rtcp-mux/>"
    "<source" SSMA " ssrc='2405416051' name='a1b2c3d4-a0'>"
    "<parameter name='msid' value='a1b2c3d4-audio-1 a1b2c3d4-audio-1-track'/>"
    "<ssrc-info" JITMEET " owner='" OWNER "'/>"
    "</source>"
    "</description>" TRANSPORT "</content>"
    "<content creator='initiator' name='video' senders='both'>"
    "<description" RTP " media='video'>" VIDEO_FB(
        "100") "<payload-type id='96' name='rtx' clockrate='90000'>"
               "<parameter name='apt' value='100'/>"
               "<rtcp-fb" FB " type='ccm' subtype='fir'/><rtcp-fb" FB " type='nack'/>"
               "<rtcp-fb" FB " type='nack' subtype='pli'/>"
               "</payload-type>"
               "<payload-type id='101' name='VP9' clockrate='90000'>"
               "<rtcp-fb" FB " type='ccm' subtype='fir'/><rtcp-fb" FB " type='nack'/>"
               "<rtcp-fb" FB " type='nack' subtype='pli'/><rtcp-fb" FB " type='transport-cc'/>"
               "</payload-type>"
               "<payload-type id='97' name='rtx' clockrate='90000'><parameter name='apt' "
               "value='101'/>"
               "</payload-type>"
               "<payload-type id='107' name='H264' clockrate='90000'>"
               "<parameter name='profile-level-id' value='42e01f'/>"
               "<parameter name='packetization-mode' value='1'/>"
               "<rtcp-fb" FB " type='ccm' subtype='fir'/><rtcp-fb" FB " type='nack'/>"
               "<rtcp-fb" FB " type='nack' subtype='pli'/><rtcp-fb" FB " type='transport-cc'/>"
               "</payload-type>"
               "<payload-type id='99' name='rtx' clockrate='90000'><parameter name='apt' "
               "value='107'/>"
               "</payload-type>"
               "<rtp-hdrext" HDREXT " id='3' "
               "uri='http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time'/>"
               "<rtp-hdrext" HDREXT " id='5' "
               "uri='http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01'/>"
               "<rtcp-mux/>"
               "<source" SSMA " ssrc='1000' name='a1b2c3d4-v0'>"
               "<parameter name='cname' value='x9'/>"
               "<parameter name='msid' value='a1b2c3d4-video-1 a1b2c3d4-video-1-track'/>"
               "<ssrc-info" JITMEET " owner='" OWNER "'/>"
               "</source>"
               "<source" SSMA " ssrc='1001' name='a1b2c3d4-v0'>"
               "<parameter name='msid' value='a1b2c3d4-video-1 a1b2c3d4-video-1-track'/>"
               "<ssrc-info" JITMEET " owner='" OWNER "'/>"
               "</source>"
               "<ssrc-group" SSMA " semantics='FID'><source ssrc='1000'/><source ssrc='1001'/>"
               "</ssrc-group>"
               "</description>" TRANSPORT "</content>"
               "<group xmlns='urn:xmpp:jingle:apps:grouping:0' semantics='BUNDLE'>"
               "<content name='audio'/><content name='video'/></group>"
               "</jingle></iq>";

static xmpp_stanza_t *
parse_xml(const char *xml)
{
    xmpp_stanza_t *s = xmpp_stanza_new_from_string(ctx, xml);
    ck_assert_msg(s != NULL, "not XML: %s", xml);
    return s;
}

/* Parses the <jingle> child of an <iq> (or the element itself). */
static CcJingle *
parse_jingle(const char *xml, GError **error)
{
    g_autoptr(xmpp_stanza_t) s = parse_xml(xml);
    xmpp_stanza_t *j = xmpp_stanza_get_child_by_name_and_ns(s, "jingle", CC_NS_JINGLE);
    return cc_jingle_parse(j ? j : s, error);
}

static CcJingle *
parse_ok(const char *xml)
{
    g_autoptr(GError) error = NULL;
    CcJingle *j = parse_jingle(xml, &error);
    ck_assert_msg(j != NULL, "%s: %s", error ? error->message : "", xml);
    return j;
}

static char *
to_text(xmpp_stanza_t *stanza)
{
    char *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(xmpp_stanza_to_text(stanza, &buf, &len), XMPP_EOK);
    char *copy = g_strndup(buf, len);
    xmpp_free(ctx, buf);
    return copy;
}

/* Writes `j` into an <iq>, serializes it and parses the text again. */
static CcJingle *
round_trip(const CcJingle *j)
{
    g_autoptr(xmpp_stanza_t) iq = xmpp_stanza_new(ctx);
    xmpp_stanza_set_name(iq, "iq");
    xmpp_stanza_set_type(iq, "set");
    cc_jingle_write(iq, j);
    g_autofree char *xml = to_text(iq);
    return parse_ok(xml);
}

static void
assert_transport_eq(const CcColibri2Transport *a, const CcColibri2Transport *b)
{
    if (a == NULL || b == NULL) {
        ck_assert_ptr_eq(a, b);
        return;
    }
    ck_assert_pstr_eq(a->ufrag, b->ufrag);
    ck_assert_pstr_eq(a->pwd, b->pwd);
    ck_assert_pstr_eq(a->fp_hash, b->fp_hash);
    ck_assert_pstr_eq(a->fp_setup, b->fp_setup);
    ck_assert_pstr_eq(a->fingerprint, b->fingerprint);
    ck_assert_int_eq(a->rtcp_mux, b->rtcp_mux);
    ck_assert_uint_eq(a->candidates->len, b->candidates->len);
    for (guint i = 0; i < a->candidates->len; i++) {
        const CcColibri2Candidate *x = g_ptr_array_index(a->candidates, i);
        const CcColibri2Candidate *y = g_ptr_array_index(b->candidates, i);
        ck_assert_str_eq(x->foundation, y->foundation);
        ck_assert_uint_eq(x->component, y->component);
        ck_assert_uint_eq(x->priority, y->priority);
        ck_assert_str_eq(x->ip, y->ip);
        ck_assert_uint_eq(x->port, y->port);
        ck_assert_str_eq(x->type, y->type);
    }
}

static void
assert_content_eq(const CcJingleContent *a, const CcJingleContent *b)
{
    ck_assert_str_eq(a->name, b->name);
    ck_assert_pstr_eq(a->creator, b->creator);
    ck_assert_pstr_eq(a->senders, b->senders);
    ck_assert_pstr_eq(a->media, b->media);
    ck_assert_int_eq(a->rtcp_mux, b->rtcp_mux);
    ck_assert_uint_eq(a->payload_types->len, b->payload_types->len);
    for (guint i = 0; i < a->payload_types->len; i++) {
        const CcJinglePayloadType *x = g_ptr_array_index(a->payload_types, i);
        const CcJinglePayloadType *y = g_ptr_array_index(b->payload_types, i);
        ck_assert_uint_eq(x->id, y->id);
        ck_assert_pstr_eq(x->name, y->name);
        ck_assert_uint_eq(x->clockrate, y->clockrate);
        ck_assert_uint_eq(x->channels, y->channels);
        ck_assert_uint_eq(x->parameters->len, y->parameters->len);
        for (guint k = 0; k < x->parameters->len; k++) {
            const CcJingleParameter *p = g_ptr_array_index(x->parameters, k);
            const CcJingleParameter *q = g_ptr_array_index(y->parameters, k);
            ck_assert_str_eq(p->name, q->name);
            ck_assert_pstr_eq(p->value, q->value);
        }
        ck_assert_uint_eq(x->feedback->len, y->feedback->len);
        for (guint k = 0; k < x->feedback->len; k++) {
            const CcJingleFeedback *f = g_ptr_array_index(x->feedback, k);
            const CcJingleFeedback *g = g_ptr_array_index(y->feedback, k);
            ck_assert_str_eq(f->type, g->type);
            ck_assert_pstr_eq(f->subtype, g->subtype);
        }
    }
    ck_assert_uint_eq(a->hdrexts->len, b->hdrexts->len);
    for (guint i = 0; i < a->hdrexts->len; i++) {
        const CcJingleHdrExt *x = g_ptr_array_index(a->hdrexts, i);
        const CcJingleHdrExt *y = g_ptr_array_index(b->hdrexts, i);
        ck_assert_uint_eq(x->id, y->id);
        ck_assert_str_eq(x->uri, y->uri);
    }
    ck_assert_uint_eq(a->sources->len, b->sources->len);
    for (guint i = 0; i < a->sources->len; i++) {
        const CcJingleSource *x = g_ptr_array_index(a->sources, i);
        const CcJingleSource *y = g_ptr_array_index(b->sources, i);
        ck_assert_uint_eq(x->ssrc, y->ssrc);
        ck_assert_pstr_eq(x->name, y->name);
        ck_assert_pstr_eq(x->msid, y->msid);
        ck_assert_pstr_eq(x->owner, y->owner);
    }
    ck_assert_uint_eq(a->groups->len, b->groups->len);
    for (guint i = 0; i < a->groups->len; i++) {
        const CcColibri2SsrcGroup *x = g_ptr_array_index(a->groups, i);
        const CcColibri2SsrcGroup *y = g_ptr_array_index(b->groups, i);
        ck_assert_str_eq(x->semantics, y->semantics);
        ck_assert_uint_eq(x->ssrcs->len, y->ssrcs->len);
        for (guint k = 0; k < x->ssrcs->len; k++)
            ck_assert_uint_eq(g_array_index(x->ssrcs, guint32, k),
                              g_array_index(y->ssrcs, guint32, k));
    }
    assert_transport_eq(a->transport, b->transport);
}

static void
assert_jingle_eq(const CcJingle *a, const CcJingle *b)
{
    ck_assert_int_eq(a->action, b->action);
    ck_assert_str_eq(a->sid, b->sid);
    ck_assert_pstr_eq(a->initiator, b->initiator);
    ck_assert_pstr_eq(a->responder, b->responder);
    ck_assert_int_eq(a->bundle, b->bundle);
    ck_assert_pstr_eq(a->reason, b->reason);
    ck_assert_pstr_eq(a->reason_text, b->reason_text);
    ck_assert_uint_eq(a->contents->len, b->contents->len);
    for (guint i = 0; i < a->contents->len; i++)
        assert_content_eq(g_ptr_array_index(a->contents, i), g_ptr_array_index(b->contents, i));
}

static CcJinglePayloadType *
pt_at(const CcJingleContent *c, guint i)
{
    ck_assert_uint_lt(i, c->payload_types->len);
    return g_ptr_array_index(c->payload_types, i);
}

static const char *
param(const CcJinglePayloadType *pt, const char *name)
{
    for (guint i = 0; i < pt->parameters->len; i++) {
        const CcJingleParameter *p = g_ptr_array_index(pt->parameters, i);
        if (strcmp(p->name, name) == 0)
            return p->value;
    }
    return NULL;
}

static CcColibri2Transport *
jitsi_transport(void)
{
    CcColibri2Transport *t = cc_colibri2_transport_new();
    t->ufrag = g_strdup(UFRAG);
    t->pwd = g_strdup(PWD);
    t->fp_hash = g_strdup("sha-256");
    t->fp_setup = g_strdup("actpass");
    t->fingerprint = g_strdup(FINGERPRINT);
    cc_colibri2_transport_add_candidate(t, "1", 1, 2130706431, "10.0.0.5", 10000, "host");
    cc_colibri2_transport_add_candidate(t, "2", 1, 1694498815, "203.0.113.7", 10000, "srflx");
    return t;
}

static void
add_video_fb(CcJinglePayloadType *pt, gboolean transport_cc)
{
    cc_jingle_payload_type_add_feedback(pt, "ccm", "fir");
    cc_jingle_payload_type_add_feedback(pt, "nack", NULL);
    cc_jingle_payload_type_add_feedback(pt, "nack", "pli");
    if (transport_cc)
        cc_jingle_payload_type_add_feedback(pt, "transport-cc", NULL);
}

/* The offer of `session_initiate`, built the way the focus builds it. */
static CcJingle *
build_jitsi_offer(void)
{
    static const char twcc[] =
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
    CcJingle *j = cc_jingle_new(CC_JINGLE_SESSION_INITIATE, "8ag7d3kksbt2");
    j->initiator = g_strdup("focus@auth.example.org/focus");
    j->bundle = TRUE;

    CcJingleContent *audio = cc_jingle_add_content(j, "audio", "audio");
    audio->creator = g_strdup("initiator");
    audio->senders = g_strdup("both");
    CcJinglePayloadType *opus = cc_jingle_content_add_payload_type(audio, 111, "opus", 48000, 2);
    cc_jingle_payload_type_add_parameter(opus, "minptime", "10");
    cc_jingle_payload_type_add_parameter(opus, "useinbandfec", "1");
    cc_jingle_payload_type_add_feedback(opus, "transport-cc", NULL);
    cc_jingle_content_add_payload_type(audio, 126, "telephone-event", 8000, 0);
    cc_jingle_content_add_hdrext(audio, 1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level");
    cc_jingle_content_add_hdrext(audio, 5, twcc);
    audio->rtcp_mux = TRUE;
    CcJingleSource *a0 = cc_jingle_content_add_source(audio, 2405416051u, "a1b2c3d4-a0", OWNER);
    a0->msid = g_strdup("a1b2c3d4-audio-1 a1b2c3d4-audio-1-track");
    audio->transport = jitsi_transport();

    CcJingleContent *video = cc_jingle_add_content(j, "video", "video");
    video->creator = g_strdup("initiator");
    video->senders = g_strdup("both");
    add_video_fb(cc_jingle_content_add_payload_type(video, 100, "VP8", 90000, 0), TRUE);
    CcJinglePayloadType *rtx = cc_jingle_content_add_payload_type(video, 96, "rtx", 90000, 0);
    cc_jingle_payload_type_add_parameter(rtx, "apt", "100");
    add_video_fb(rtx, FALSE);
    add_video_fb(cc_jingle_content_add_payload_type(video, 101, "VP9", 90000, 0), TRUE);
    rtx = cc_jingle_content_add_payload_type(video, 97, "rtx", 90000, 0);
    cc_jingle_payload_type_add_parameter(rtx, "apt", "101");
    CcJinglePayloadType *h264 = cc_jingle_content_add_payload_type(video, 107, "H264", 90000, 0);
    cc_jingle_payload_type_add_parameter(h264, "profile-level-id", "42e01f");
    cc_jingle_payload_type_add_parameter(h264, "packetization-mode", "1");
    add_video_fb(h264, TRUE);
    rtx = cc_jingle_content_add_payload_type(video, 99, "rtx", 90000, 0);
    cc_jingle_payload_type_add_parameter(rtx, "apt", "107");
    cc_jingle_content_add_hdrext(video, 3,
                                 "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time");
    cc_jingle_content_add_hdrext(video, 5, twcc);
    video->rtcp_mux = TRUE;
    for (guint32 ssrc = 1000; ssrc <= 1001; ssrc++) {
        CcJingleSource *v = cc_jingle_content_add_source(video, ssrc, "a1b2c3d4-v0", OWNER);
        v->msid = g_strdup("a1b2c3d4-video-1 a1b2c3d4-video-1-track");
    }
    const guint32 fid[] = {1000, 1001};
    cc_jingle_content_add_group(video, "FID", fid, 2);
    video->transport = jitsi_transport();
    return j;
}

START_TEST(test_session_initiate)
{
    g_autoptr(CcJingle) j = parse_ok(session_initiate);
    ck_assert_int_eq(j->action, CC_JINGLE_SESSION_INITIATE);
    ck_assert_str_eq(j->sid, "8ag7d3kksbt2");
    ck_assert_str_eq(j->initiator, "focus@auth.example.org/focus");
    ck_assert_ptr_null(j->responder);
    ck_assert(j->bundle);
    ck_assert_ptr_null(j->reason);
    ck_assert_uint_eq(j->contents->len, 2);

    CcJingleContent *audio = cc_jingle_find_content(j, "audio");
    ck_assert_ptr_eq(audio, g_ptr_array_index(j->contents, 0));
    ck_assert_str_eq(audio->creator, "initiator");
    ck_assert_str_eq(audio->senders, "both");
    ck_assert_str_eq(audio->media, "audio");
    ck_assert(audio->rtcp_mux);
    ck_assert_uint_eq(audio->payload_types->len, 2);
    CcJinglePayloadType *opus = pt_at(audio, 0);
    ck_assert_uint_eq(opus->id, 111);
    ck_assert_str_eq(opus->name, "opus");
    ck_assert_uint_eq(opus->clockrate, 48000);
    ck_assert_uint_eq(opus->channels, 2);
    ck_assert_uint_eq(opus->parameters->len, 2);
    ck_assert_str_eq(param(opus, "minptime"), "10");
    ck_assert_str_eq(param(opus, "useinbandfec"), "1");
    ck_assert_uint_eq(opus->feedback->len, 1);
    CcJingleFeedback *fb = g_ptr_array_index(opus->feedback, 0);
    ck_assert_str_eq(fb->type, "transport-cc");
    ck_assert_ptr_null(fb->subtype);
    CcJinglePayloadType *dtmf = pt_at(audio, 1);
    ck_assert_uint_eq(dtmf->id, 126);
    ck_assert_uint_eq(dtmf->clockrate, 8000);
    ck_assert_uint_eq(dtmf->channels, 0);
    ck_assert_uint_eq(audio->hdrexts->len, 2);
    CcJingleHdrExt *level = g_ptr_array_index(audio->hdrexts, 0);
    ck_assert_uint_eq(level->id, 1);
    ck_assert_str_eq(level->uri, "urn:ietf:params:rtp-hdrext:ssrc-audio-level");
    ck_assert_uint_eq(audio->sources->len, 1);
    CcJingleSource *a0 = g_ptr_array_index(audio->sources, 0);
    ck_assert_uint_eq(a0->ssrc, 2405416051u);
    ck_assert_str_eq(a0->name, "a1b2c3d4-a0");
    ck_assert_str_eq(a0->msid, "a1b2c3d4-audio-1 a1b2c3d4-audio-1-track");
    ck_assert_str_eq(a0->owner, OWNER);
    ck_assert_uint_eq(audio->groups->len, 0);
    CcColibri2Transport *t = audio->transport;
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t->ufrag, UFRAG);
    ck_assert_str_eq(t->pwd, PWD);
    ck_assert_str_eq(t->fp_hash, "sha-256");
    ck_assert_str_eq(t->fp_setup, "actpass");
    ck_assert_str_eq(t->fingerprint, FINGERPRINT);
    ck_assert_uint_eq(t->candidates->len, 2);
    CcColibri2Candidate *srflx = g_ptr_array_index(t->candidates, 1);
    ck_assert_str_eq(srflx->type, "srflx");
    ck_assert_str_eq(srflx->ip, "203.0.113.7");
    ck_assert_uint_eq(srflx->priority, 1694498815u);

    CcJingleContent *video = cc_jingle_find_content(j, "video");
    ck_assert_ptr_nonnull(video);
    ck_assert_str_eq(video->media, "video");
    ck_assert_uint_eq(video->payload_types->len, 6);
    const guint8 ids[] = {100, 96, 101, 97, 107, 99};
    const char *const names[] = {"VP8", "rtx", "VP9", "rtx", "H264", "rtx"};
    const guint n_fb[] = {4, 3, 4, 0, 4, 0};
    for (guint i = 0; i < G_N_ELEMENTS(ids); i++) {
        CcJinglePayloadType *pt = pt_at(video, i);
        ck_assert_uint_eq(pt->id, ids[i]);
        ck_assert_str_eq(pt->name, names[i]);
        ck_assert_uint_eq(pt->clockrate, 90000);
        ck_assert_uint_eq(pt->feedback->len, n_fb[i]);
    }
    ck_assert_str_eq(param(pt_at(video, 1), "apt"), "100");
    ck_assert_str_eq(param(pt_at(video, 3), "apt"), "101");
    ck_assert_str_eq(param(pt_at(video, 5), "apt"), "107");
    ck_assert_str_eq(param(pt_at(video, 4), "packetization-mode"), "1");
    CcJingleFeedback *pli = g_ptr_array_index(pt_at(video, 4)->feedback, 2);
    ck_assert_str_eq(pli->type, "nack");
    ck_assert_str_eq(pli->subtype, "pli");
    CcJingleFeedback *fir = g_ptr_array_index(pt_at(video, 0)->feedback, 0);
    ck_assert_str_eq(fir->type, "ccm");
    ck_assert_str_eq(fir->subtype, "fir");
    ck_assert_uint_eq(video->hdrexts->len, 2);
    ck_assert_uint_eq(((CcJingleHdrExt *)g_ptr_array_index(video->hdrexts, 0))->id, 3);
    ck_assert_uint_eq(video->sources->len, 2);
    CcJingleSource *rtx = g_ptr_array_index(video->sources, 1);
    ck_assert_uint_eq(rtx->ssrc, 1001);
    ck_assert_str_eq(rtx->msid, "a1b2c3d4-video-1 a1b2c3d4-video-1-track");
    ck_assert_uint_eq(video->groups->len, 1);
    CcColibri2SsrcGroup *fid = g_ptr_array_index(video->groups, 0);
    ck_assert_str_eq(fid->semantics, "FID");
    ck_assert_uint_eq(fid->ssrcs->len, 2);
    ck_assert_uint_eq(g_array_index(fid->ssrcs, guint32, 0), 1000);
    ck_assert_uint_eq(g_array_index(fid->ssrcs, guint32, 1), 1001);
    ck_assert_ptr_nonnull(video->transport);
    ck_assert_ptr_null(cc_jingle_find_content(j, "data"));

    /* the same offer, built with the API */
    g_autoptr(CcJingle) built = build_jitsi_offer();
    assert_jingle_eq(j, built);
}
END_TEST

START_TEST(test_offer_round_trip)
{
    g_autoptr(CcJingle) offer = build_jitsi_offer();
    g_autoptr(xmpp_stanza_t) iq = xmpp_stanza_new(ctx);
    xmpp_stanza_set_name(iq, "iq");
    cc_jingle_write(iq, offer);

    /* the shape on the wire */
    xmpp_stanza_t *je = xmpp_stanza_get_child_by_name_and_ns(iq, "jingle", CC_NS_JINGLE);
    ck_assert_ptr_nonnull(je);
    ck_assert_str_eq(xmpp_stanza_get_attribute(je, "action"), "session-initiate");
    ck_assert_str_eq(xmpp_stanza_get_attribute(je, "sid"), "8ag7d3kksbt2");
    ck_assert_ptr_null(xmpp_stanza_get_attribute(je, "responder"));
    xmpp_stanza_t *content = xmpp_stanza_get_child_by_name(je, "content");
    ck_assert_str_eq(xmpp_stanza_get_attribute(content, "name"), "audio");
    xmpp_stanza_t *ice = xmpp_stanza_get_child_by_name_and_ns(content, "transport", CC_NS_ICE_UDP);
    ck_assert_ptr_nonnull(ice);
    ck_assert_str_eq(xmpp_stanza_get_attribute(ice, "ufrag"), UFRAG);
    ck_assert_ptr_nonnull(xmpp_stanza_get_child_by_name(ice, "candidate"));
    xmpp_stanza_t *desc =
        xmpp_stanza_get_child_by_name_and_ns(content, "description", CC_NS_JINGLE_RTP);
    ck_assert_str_eq(xmpp_stanza_get_attribute(desc, "media"), "audio");
    xmpp_stanza_t *group = xmpp_stanza_get_child_by_name_and_ns(je, "group", CC_NS_JINGLE_GROUP);
    ck_assert_ptr_nonnull(group);
    ck_assert_str_eq(xmpp_stanza_get_attribute(group, "semantics"), "BUNDLE");
    guint n = 0;
    const char *const expect[] = {"audio", "video"};
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(group); c; c = xmpp_stanza_get_next(c)) {
        ck_assert_uint_lt(n, 2);
        ck_assert_str_eq(xmpp_stanza_get_attribute(c, "name"), expect[n++]);
    }
    ck_assert_uint_eq(n, 2);
    ck_assert_ptr_null(xmpp_stanza_get_child_by_name(je, "reason"));

    /* serialized and parsed again: the same session */
    g_autoptr(CcJingle) back = round_trip(offer);
    assert_jingle_eq(back, offer);
    /* and the parsed Jitsi text survives its own round trip */
    g_autoptr(CcJingle) parsed = parse_ok(session_initiate);
    g_autoptr(CcJingle) again = round_trip(parsed);
    assert_jingle_eq(again, parsed);
    ck_assert_uint_eq(pt_at(cc_jingle_find_content(again, "video"), 4)->id, 107);
}
END_TEST

START_TEST(test_source_add)
{
    /* a simulcast sender: three layers, each with RTX */
    g_autoptr(CcJingle) j = parse_ok(
        "<iq type='set'><jingle xmlns='urn:xmpp:jingle:1' action='source-add' sid='s1'>"
        "<content name='video'><description" RTP " media='video'>"
        "<ssrc-group" SSMA " semantics='SIM'><source ssrc='11'/><source ssrc='12'/>"
        "<source ssrc='13'/></ssrc-group>"
        "<source" SSMA " ssrc='11' name='e1-v0'><ssrc-info" JITMEET " owner='r@c/e1'/></source>"
        "<source" SSMA " ssrc='12' name='e1-v0'/><source" SSMA " ssrc='13' name='e1-v0'/>"
        "<source" SSMA " ssrc='21' name='e1-v0'/><source" SSMA " ssrc='22' name='e1-v0'/>"
        "<source" SSMA " ssrc='4294967295' name='e1-v0'/>"
        "<ssrc-group" SSMA " semantics='FID'><source ssrc='11'/><source ssrc='21'/></ssrc-group>"
        "<ssrc-group" SSMA " semantics='FID'><source ssrc='12'/><source ssrc='22'/></ssrc-group>"
        "<ssrc-group" SSMA " semantics='FID'><source ssrc='13'/><source ssrc='4294967295'/>"
        "</ssrc-group>"
        "</description></content></jingle></iq>");
    ck_assert_int_eq(j->action, CC_JINGLE_SOURCE_ADD);
    ck_assert(!j->bundle);
    ck_assert_ptr_null(j->initiator);
    ck_assert_uint_eq(j->contents->len, 1);
    CcJingleContent *video = g_ptr_array_index(j->contents, 0);
    ck_assert_ptr_null(video->creator);
    ck_assert_ptr_null(video->senders);
    ck_assert_ptr_null(video->transport);
    ck_assert(!video->rtcp_mux);
    ck_assert_uint_eq(video->payload_types->len, 0);
    ck_assert_uint_eq(video->sources->len, 6);
    CcJingleSource *first = g_ptr_array_index(video->sources, 0);
    ck_assert_str_eq(first->owner, "r@c/e1");
    ck_assert_ptr_null(first->msid);
    CcJingleSource *last = g_ptr_array_index(video->sources, 5);
    ck_assert_uint_eq(last->ssrc, 4294967295u);
    ck_assert_ptr_null(last->owner);
    /* groups in document order, checked against every source whatever the order */
    ck_assert_uint_eq(video->groups->len, 4);
    CcColibri2SsrcGroup *sim = g_ptr_array_index(video->groups, 0);
    ck_assert_str_eq(sim->semantics, "SIM");
    ck_assert_uint_eq(sim->ssrcs->len, 3);
    ck_assert_uint_eq(g_array_index(sim->ssrcs, guint32, 2), 13);
    CcColibri2SsrcGroup *fid = g_ptr_array_index(video->groups, 3);
    ck_assert_str_eq(fid->semantics, "FID");
    ck_assert_uint_eq(g_array_index(fid->ssrcs, guint32, 1), 4294967295u);

    /* written back: a description and no transport */
    g_autoptr(xmpp_stanza_t) iq = xmpp_stanza_new(ctx);
    xmpp_stanza_set_name(iq, "iq");
    cc_jingle_write(iq, j);
    xmpp_stanza_t *content = xmpp_stanza_get_child_by_name(
        xmpp_stanza_get_child_by_name_and_ns(iq, "jingle", CC_NS_JINGLE), "content");
    ck_assert_ptr_nonnull(xmpp_stanza_get_child_by_name(content, "description"));
    ck_assert_ptr_null(xmpp_stanza_get_child_by_name(content, "transport"));
    ck_assert_ptr_null(xmpp_stanza_get_attribute(content, "creator"));
    g_autoptr(CcJingle) back = round_trip(j);
    assert_jingle_eq(back, j);

    /* a SIM of two layers */
    g_autoptr(CcJingle) two = parse_ok(
        "<jingle xmlns='urn:xmpp:jingle:1' action='source-remove' sid='s1'>"
        "<content name='video'><description" RTP " media='video'>"
        "<source" SSMA " ssrc='1'/><source" SSMA " ssrc='2'/>"
        "<ssrc-group" SSMA " semantics='SIM'><source ssrc='2'/><source ssrc='1'/></ssrc-group>"
        "</description></content></jingle>");
    ck_assert_int_eq(two->action, CC_JINGLE_SOURCE_REMOVE);
    CcJingleContent *c = g_ptr_array_index(two->contents, 0);
    CcColibri2SsrcGroup *g = g_ptr_array_index(c->groups, 0);
    ck_assert_uint_eq(g->ssrcs->len, 2);
    ck_assert_uint_eq(g_array_index(g->ssrcs, guint32, 0), 2);
    ck_assert_ptr_null(((CcJingleSource *)g_ptr_array_index(c->sources, 0))->name);
}
END_TEST

START_TEST(test_session_terminate)
{
    g_autoptr(CcJingle) j = parse_ok(
        "<iq type='set'><jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='t1' "
        "responder='peer@example.org/r'><reason><success/><text>Bye &amp; thanks</text>"
        "</reason></jingle></iq>");
    ck_assert_int_eq(j->action, CC_JINGLE_SESSION_TERMINATE);
    ck_assert_str_eq(j->responder, "peer@example.org/r");
    ck_assert_uint_eq(j->contents->len, 0);
    ck_assert_str_eq(j->reason, "success");
    ck_assert_str_eq(j->reason_text, "Bye & thanks");
    g_autoptr(CcJingle) back = round_trip(j);
    assert_jingle_eq(back, j);

    /* built: reason without text */
    g_autoptr(CcJingle) built = cc_jingle_new(CC_JINGLE_SESSION_TERMINATE, "t2");
    built->reason = g_strdup("gone");
    g_autoptr(CcJingle) b2 = round_trip(built);
    ck_assert_str_eq(b2->reason, "gone");
    ck_assert_ptr_null(b2->reason_text);

    /* the condition is the first Jingle element other than text, wherever it is */
    g_autoptr(CcJingle) after = parse_ok(
        "<jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='t3'><reason>"
        "<text>busy here</text><app xmlns='urn:example:app'/><busy/><decline/></reason></jingle>");
    ck_assert_str_eq(after->reason, "busy");
    ck_assert_str_eq(after->reason_text, "busy here");
    g_autoptr(CcJingle) empty_text =
        parse_ok("<jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='t4'>"
                 "<reason><timeout/><text/></reason></jingle>");
    ck_assert_str_eq(empty_text->reason, "timeout");
    ck_assert_ptr_null(empty_text->reason_text);
}
END_TEST

START_TEST(test_transport_info)
{
    g_autoptr(CcJingle) j =
        parse_ok("<jingle xmlns='urn:xmpp:jingle:1' action='transport-info' sid='x'>"
                 "<content name='audio' creator='responder'><transport" ICE " ufrag='" UFRAG
                 "' pwd='" PWD "'><candidate component='1' foundation='f' "
                 "priority='7' protocol='udp' type='relay' ip='2001:db8::1' port='3478'/>"
                 "</transport></content></jingle>");
    ck_assert_int_eq(j->action, CC_JINGLE_TRANSPORT_INFO);
    CcJingleContent *c = g_ptr_array_index(j->contents, 0);
    ck_assert_str_eq(c->creator, "responder");
    ck_assert_ptr_null(c->media);
    ck_assert_uint_eq(c->payload_types->len, 0);
    ck_assert_ptr_nonnull(c->transport);
    ck_assert_ptr_null(c->transport->fingerprint);
    CcColibri2Candidate *cand = g_ptr_array_index(c->transport->candidates, 0);
    ck_assert_str_eq(cand->ip, "2001:db8::1");
    ck_assert_uint_eq(cand->port, 3478);
    g_autoptr(CcJingle) back = round_trip(j);
    assert_jingle_eq(back, j);
    ck_assert_ptr_null(((CcJingleContent *)g_ptr_array_index(back->contents, 0))->media);
}
END_TEST

START_TEST(test_actions)
{
    for (guint i = CC_JINGLE_SESSION_INITIATE; i <= CC_JINGLE_DESCRIPTION_INFO; i++) {
        const char *name = cc_jingle_action_name((CcJingleAction)i);
        ck_assert_ptr_nonnull(name);
        CcJingleAction back = CC_JINGLE_SESSION_INFO;
        ck_assert(cc_jingle_action_parse(name, &back));
        ck_assert_int_eq(back, i);
        /* and through the whole codec */
        g_autoptr(CcJingle) j = cc_jingle_new((CcJingleAction)i, "sid");
        g_autoptr(CcJingle) again = round_trip(j);
        ck_assert_int_eq(again->action, i);
        ck_assert_str_eq(again->sid, "sid");
    }
    ck_assert_str_eq(cc_jingle_action_name(CC_JINGLE_SOURCE_ADD), "source-add");
    ck_assert_str_eq(cc_jingle_action_name(CC_JINGLE_TRANSPORT_REPLACE), "transport-replace");
    ck_assert_ptr_null(cc_jingle_action_name((CcJingleAction)99));
    CcJingleAction a = CC_JINGLE_SESSION_ACCEPT;
    ck_assert(!cc_jingle_action_parse("session-initiated", &a));
    ck_assert(!cc_jingle_action_parse("", &a));
    ck_assert(!cc_jingle_action_parse(NULL, &a));
    ck_assert_int_eq(a, CC_JINGLE_SESSION_ACCEPT);
}
END_TEST

START_TEST(test_error_condition)
{
    g_autoptr(xmpp_stanza_t) req =
        parse_xml("<iq type='set' id='q' from='a@b/c' to='focus@d'><jingle/></iq>");
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_error_reply(req, "cancel", "item-not-found", NULL);
    xmpp_stanza_t *error = xmpp_stanza_get_child_by_name(reply, "error");
    cc_jingle_error_condition(error, "unknown-session");
    xmpp_stanza_t *cond =
        xmpp_stanza_get_child_by_name_and_ns(error, "unknown-session", CC_NS_JINGLE_ERRORS);
    ck_assert_ptr_nonnull(cond);
    ck_assert_str_eq(cc_stanza_error_condition(reply), "item-not-found");
    g_autofree char *text = to_text(error);
    ck_assert_ptr_nonnull(strstr(text, "<unknown-session xmlns=\"urn:xmpp:jingle:errors:1\"/>"));
}
END_TEST

START_TEST(test_ignored)
{
    /* unknown elements at every level, and known names nested inside them or in another
     * namespace, are skipped without being looked at */
    g_autoptr(CcJingle) j = parse_ok(
        "<jingle xmlns='urn:xmpp:jingle:1' action='session-accept' sid='i1'>"
        "<ext xmlns='urn:example:x'><content/><reason/></ext>"
        "<content name='audio'>"
        "<wrapper><description" RTP " media='bogus'/><transport" ICE "/></wrapper>"
        "<description xmlns='urn:xmpp:jingle:apps:webrtc-datachannel:0' media='application'/>"
        "<transport xmlns='urn:xmpp:jingle:transports:raw-udp:1'/>"
        "<description" RTP " media='audio'>"
        "<unknown><payload-type id='999'/><source" SSMA " ssrc='0'/></unknown>"
        "<payload-type id='0' name='PCMU' clockrate='8000'>"
        "<rtcp-fb type='nack'/><rtcp-fb xmlns='urn:example:fb' type='x'/>"
        "<extra><parameter/></extra></payload-type>"
        "<source ssrc='0'/>"
        "<bandwidth type='AS' value='x'/>"
        "<source" SSMA " ssrc='5'><parameter name='cname' value=''/><parameter name='label'/>"
        "<ssrc-info owner=''/><deep><ssrc-info" JITMEET "/></deep></source>"
        "<ssrc-group semantics='BAD'/><encryption><crypto/></encryption>"
        "</description></content>"
        "<group xmlns='urn:xmpp:jingle:apps:grouping:0' semantics='LS'><content name='x'/></group>"
        "<group semantics='BUNDLE'/>"
        "</jingle>");
    ck_assert_int_eq(j->action, CC_JINGLE_SESSION_ACCEPT);
    ck_assert(!j->bundle);
    ck_assert_ptr_null(j->reason);
    ck_assert_uint_eq(j->contents->len, 1);
    CcJingleContent *c = g_ptr_array_index(j->contents, 0);
    ck_assert_str_eq(c->media, "audio");
    ck_assert_ptr_null(c->transport);
    ck_assert_uint_eq(c->payload_types->len, 1);
    CcJinglePayloadType *pcmu = pt_at(c, 0);
    ck_assert_uint_eq(pcmu->id, 0);
    ck_assert_str_eq(pcmu->name, "PCMU");
    ck_assert_uint_eq(pcmu->parameters->len, 0);
    ck_assert_uint_eq(pcmu->feedback->len, 0);
    ck_assert_uint_eq(c->sources->len, 1);
    CcJingleSource *s = g_ptr_array_index(c->sources, 0);
    ck_assert_uint_eq(s->ssrc, 5);
    ck_assert_ptr_null(s->msid);
    ck_assert_ptr_null(s->owner);
    ck_assert_uint_eq(c->groups->len, 0);
}
END_TEST

/* `before` N `after` for N in 1..n, concatenated. */
static char *
repeat(const char *before, const char *after, guint n)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < n; i++)
        g_string_append_printf(s, "%s%u%s", before, i + 1, after);
    return g_string_free(s, FALSE);
}

static char *
jingle_with(const char *inner)
{
    return g_strdup_printf("<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' "
                           "sid='s'>%s</jingle>",
                           inner);
}

static char *
description_with(const char *inner)
{
    g_autofree char *content =
        g_strdup_printf("<content name='c'><description" RTP " media='video'>%s"
                        "</description></content>",
                        inner);
    return jingle_with(content);
}

START_TEST(test_limits)
{
    g_autofree char *s256 = g_strnfill(CC_JINGLE_MAX_STRING, 'a');

    g_autofree char *sid_xml = g_strdup_printf(
        "<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='%s' initiator='%s'/>", s256,
        s256);
    g_autoptr(CcJingle) long_sid = parse_ok(sid_xml);
    ck_assert_uint_eq(strlen(long_sid->sid), CC_JINGLE_MAX_STRING);
    ck_assert_uint_eq(strlen(long_sid->initiator), CC_JINGLE_MAX_STRING);

    g_autofree char *contents = repeat("<content name='c", "'/>", CC_JINGLE_MAX_CONTENTS);
    g_autofree char *contents_xml = jingle_with(contents);
    g_autoptr(CcJingle) four = parse_ok(contents_xml);
    ck_assert_uint_eq(four->contents->len, CC_JINGLE_MAX_CONTENTS);
    ck_assert_ptr_nonnull(cc_jingle_find_content(four, "c4"));

    g_autofree char *pts =
        repeat("<payload-type id='", "' name='x' clockrate='1000000' channels='8'/>",
               CC_JINGLE_MAX_PAYLOAD_TYPES);
    g_autofree char *pts_xml = description_with(pts);
    g_autoptr(CcJingle) many_pts = parse_ok(pts_xml);
    CcJingleContent *c = g_ptr_array_index(many_pts->contents, 0);
    ck_assert_uint_eq(c->payload_types->len, CC_JINGLE_MAX_PAYLOAD_TYPES);
    ck_assert_uint_eq(pt_at(c, 31)->clockrate, 1000000);
    ck_assert_uint_eq(pt_at(c, 31)->channels, 8);

    g_autofree char *params =
        repeat("<parameter name='p", "' value=''/>", CC_JINGLE_MAX_PARAMETERS);
    g_autofree char *fbs = repeat("<rtcp-fb" FB " type='t", "'/>", CC_JINGLE_MAX_FEEDBACK);
    g_autofree char *pt_full =
        g_strdup_printf("<payload-type id='127'>%s%s</payload-type>", params, fbs);
    g_autofree char *pt_xml = description_with(pt_full);
    g_autoptr(CcJingle) full_pt = parse_ok(pt_xml);
    CcJinglePayloadType *pt = pt_at(g_ptr_array_index(full_pt->contents, 0), 0);
    ck_assert_uint_eq(pt->id, 127);
    ck_assert_ptr_null(pt->name);
    ck_assert_uint_eq(pt->clockrate, 0);
    ck_assert_uint_eq(pt->parameters->len, CC_JINGLE_MAX_PARAMETERS);
    ck_assert_str_eq(param(pt, "p16"), "");
    ck_assert_uint_eq(pt->feedback->len, CC_JINGLE_MAX_FEEDBACK);

    g_autofree char *hdrexts = repeat("<rtp-hdrext" HDREXT " id='", "' uri='u'/>", 15);
    g_autofree char *hdr_inner =
        g_strdup_printf("%s<rtp-hdrext" HDREXT " id='255' uri='%s'/>", hdrexts, s256);
    g_autofree char *hdr_xml = description_with(hdr_inner);
    g_autoptr(CcJingle) hdr = parse_ok(hdr_xml);
    c = g_ptr_array_index(hdr->contents, 0);
    ck_assert_uint_eq(c->hdrexts->len, CC_JINGLE_MAX_HDREXTS);
    ck_assert_uint_eq(((CcJingleHdrExt *)g_ptr_array_index(c->hdrexts, 15))->id, 255);

    g_autofree char *sources = repeat("<source" SSMA " ssrc='", "'/>", CC_JINGLE_MAX_SOURCES);
    g_autofree char *groups = repeat("<ssrc-group" SSMA " semantics='SIM'><source ssrc='",
                                     "'/><source ssrc='64'/>"
                                     "</ssrc-group>",
                                     CC_JINGLE_MAX_GROUPS);
    g_autofree char *src_inner = g_strconcat(sources, groups, NULL);
    g_autofree char *src_xml = description_with(src_inner);
    g_autoptr(CcJingle) src = parse_ok(src_xml);
    c = g_ptr_array_index(src->contents, 0);
    ck_assert_uint_eq(c->sources->len, CC_JINGLE_MAX_SOURCES);
    ck_assert_uint_eq(c->groups->len, CC_JINGLE_MAX_GROUPS);
    g_autoptr(CcJingle) src_back = round_trip(src);
    assert_jingle_eq(src_back, src);
}
END_TEST

/* The parser refuses `xml` with CC_ERROR_INVALID and a message containing `what`. */
static void
assert_refused(const char *xml, const char *what)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CcJingle) j = parse_jingle(xml, &error);
    ck_assert_msg(j == NULL, "accepted: %s", xml);
    ck_assert_ptr_nonnull(error);
    ck_assert(g_error_matches(error, CC_ERROR, CC_ERROR_INVALID));
    ck_assert_msg(strstr(error->message, what) != NULL, "'%s' does not say '%s' for %s",
                  error->message, what, xml);
}

static void
refused_description(const char *inner, const char *what)
{
    g_autofree char *xml = description_with(inner);
    assert_refused(xml, what);
}

static void
refused_content(const char *inner, const char *what)
{
    g_autofree char *xml = jingle_with(inner);
    assert_refused(xml, what);
}

START_TEST(test_refused_session)
{
    g_autofree char *s257 = g_strnfill(CC_JINGLE_MAX_STRING + 1, 'a');
    g_autofree char *x = NULL;

    assert_refused("<jingle action='session-initiate' sid='s'/>", "not a jingle");
    assert_refused("<jingle xmlns='urn:xmpp:jingle:0' action='session-initiate' sid='s'/>",
                   "not a jingle");
    assert_refused("<iq xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s'/>",
                   "not a jingle");
    g_autoptr(GError) error = NULL;
    ck_assert_ptr_null(cc_jingle_parse(NULL, &error));
    ck_assert(g_error_matches(error, CC_ERROR, CC_ERROR_INVALID));

    assert_refused("<jingle xmlns='urn:xmpp:jingle:1' sid='s'/>", "action");
    assert_refused("<jingle xmlns='urn:xmpp:jingle:1' action='session-initiated' sid='s'/>",
                   "action");
    assert_refused("<jingle xmlns='urn:xmpp:jingle:1' action='' sid='s'/>", "action");
    assert_refused("<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate'/>", "sid");
    assert_refused("<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid=''/>", "sid");
    x = g_strdup_printf("<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='%s'/>", s257);
    assert_refused(x, "sid");
    g_clear_pointer(&x, g_free);
    x = g_strdup_printf("<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='s' "
                        "initiator='%s'/>",
                        s257);
    assert_refused(x, "initiator");
    g_clear_pointer(&x, g_free);
    x = g_strdup_printf("<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='s' "
                        "responder='%s'/>",
                        s257);
    assert_refused(x, "responder");
    g_clear_pointer(&x, g_free);

    /* contents */
    refused_content("<content/>", "content: bad name");
    refused_content("<content name=''/>", "content: bad name");
    x = g_strdup_printf("<content name='%s'/>", s257);
    refused_content(x, "content: bad name");
    g_clear_pointer(&x, g_free);
    refused_content("<content name='a' creator='both'/>", "creator");
    refused_content("<content name='a' senders='all'/>", "senders");
    refused_content("<content name='a'/><content name='a'/>", "repeated name");
    x = repeat("<content name='c", "'/>", CC_JINGLE_MAX_CONTENTS + 1);
    refused_content(x, "too many content");
    g_clear_pointer(&x, g_free);
    refused_content("<content name='a'><description" RTP " media='audio'/><description" RTP
                    " media='audio'/></content>",
                    "repeated description");
    refused_content("<content name='a'><description" RTP "/></content>", "media");
    refused_content("<content name='a'><description" RTP " media='application'/></content>",
                    "media");
    refused_content("<content name='a'><transport" ICE " ufrag='" UFRAG "' pwd='" PWD
                    "'/><transport" ICE " ufrag='" UFRAG "' pwd='" PWD "'/></content>",
                    "repeated transport");
    /* the transport's own rules are colibri2.c's */
    refused_content("<content name='a'><transport" ICE " ufrag='ab' pwd='" PWD "'/></content>",
                    "ufrag");
    refused_content("<content name='a'><transport" ICE "/></content>", "ufrag");
    refused_content("<content name='a'><transport" ICE " ufrag='" UFRAG "' pwd='" PWD
                    "'><candidate component='1' foundation='f' priority='1' protocol='tcp' "
                    "type='host' ip='10.0.0.1' port='1'/></transport></content>",
                    "candidate");

    /* reasons */
    refused_content("<reason/>", "condition");
    refused_content("<reason><text>why</text></reason>", "condition");
    refused_content("<reason><other xmlns='urn:example'/></reason>", "condition");
    refused_content("<reason><success/></reason><reason><gone/></reason>", "repeated");
    x = g_strdup_printf("<reason><success/><text>%s</text></reason>", s257);
    refused_content(x, "text");
    g_clear_pointer(&x, g_free);
    x = g_strdup_printf("<reason><%s/></reason>", s257);
    refused_content(x, "condition");
    g_clear_pointer(&x, g_free);
}
END_TEST

START_TEST(test_refused_description)
{
    g_autofree char *s257 = g_strnfill(CC_JINGLE_MAX_STRING + 1, 'a');
    g_autofree char *x = NULL;

    /* payload types */
    refused_description("<payload-type id='128'/>", "payload-type: bad id");
    refused_description("<payload-type id='-1'/>", "payload-type: bad id");
    refused_description("<payload-type id='+1'/>", "payload-type: bad id");
    refused_description("<payload-type id=' 1'/>", "payload-type: bad id");
    refused_description("<payload-type id='abc'/>", "payload-type: bad id");
    refused_description("<payload-type id=''/>", "payload-type: bad id");
    refused_description("<payload-type name='opus'/>", "payload-type: bad id");
    refused_description("<payload-type id='99999999999999999999999'/>", "payload-type: bad id");
    x = g_strdup_printf("<payload-type id='1' name='%s'/>", s257);
    refused_description(x, "payload-type: bad name");
    g_clear_pointer(&x, g_free);
    refused_description("<payload-type id='1' clockrate='1000001'/>", "clockrate");
    refused_description("<payload-type id='1' clockrate='x'/>", "clockrate");
    refused_description("<payload-type id='1' channels='9'/>", "channels");
    refused_description("<payload-type id='1' channels=''/>", "channels");
    refused_description("<payload-type id='1'/><payload-type id='1'/>",
                        "payload-type: repeated id");
    x = repeat("<payload-type id='", "'/>", CC_JINGLE_MAX_PAYLOAD_TYPES + 1);
    refused_description(x, "too many payload-type");
    g_clear_pointer(&x, g_free);
    refused_description("<payload-type id='1'><parameter value='1'/></payload-type>", "parameter");
    refused_description("<payload-type id='1'><parameter name='' value='1'/></payload-type>",
                        "parameter");
    x = g_strdup_printf("<payload-type id='1'><parameter name='a' value='%s'/></payload-type>",
                        s257);
    refused_description(x, "parameter");
    g_clear_pointer(&x, g_free);
    g_autofree char *params = repeat("<parameter name='p", "' value='1'/>", 17);
    x = g_strdup_printf("<payload-type id='1'>%s</payload-type>", params);
    refused_description(x, "too many parameter");
    g_clear_pointer(&x, g_free);
    refused_description("<payload-type id='1'><rtcp-fb" FB " subtype='pli'/></payload-type>",
                        "rtcp-fb");
    x = g_strdup_printf(
        "<payload-type id='1'><rtcp-fb" FB " type='nack' subtype='%s'/></payload-type>", s257);
    refused_description(x, "rtcp-fb");
    g_clear_pointer(&x, g_free);
    g_autofree char *fbs = repeat("<rtcp-fb" FB " type='t", "'/>", 17);
    x = g_strdup_printf("<payload-type id='1'>%s</payload-type>", fbs);
    refused_description(x, "too many rtcp-fb");
    g_clear_pointer(&x, g_free);

    /* header extensions */
    refused_description("<rtp-hdrext" HDREXT " id='0' uri='u'/>", "rtp-hdrext: bad id");
    refused_description("<rtp-hdrext" HDREXT " id='256' uri='u'/>", "rtp-hdrext: bad id");
    refused_description("<rtp-hdrext" HDREXT " uri='u'/>", "rtp-hdrext: bad id");
    refused_description("<rtp-hdrext" HDREXT " id='1'/>", "uri");
    refused_description("<rtp-hdrext" HDREXT " id='1' uri=''/>", "uri");
    x = g_strdup_printf("<rtp-hdrext" HDREXT " id='1' uri='%s'/>", s257);
    refused_description(x, "uri");
    g_clear_pointer(&x, g_free);
    refused_description("<rtp-hdrext" HDREXT " id='1' uri='a'/><rtp-hdrext" HDREXT
                        " id='1' uri='b'/>",
                        "rtp-hdrext: repeated id");
    x = repeat("<rtp-hdrext" HDREXT " id='", "' uri='u'/>", CC_JINGLE_MAX_HDREXTS + 1);
    refused_description(x, "too many rtp-hdrext");
    g_clear_pointer(&x, g_free);

    /* sources */
    refused_description("<source" SSMA " ssrc='0'/>", "source: bad ssrc");
    refused_description("<source" SSMA " ssrc='4294967296'/>", "source: bad ssrc");
    refused_description("<source" SSMA " ssrc='12ab'/>", "source: bad ssrc");
    refused_description("<source" SSMA " ssrc='-5'/>", "source: bad ssrc");
    refused_description("<source" SSMA " name='a'/>", "source: bad ssrc");
    x = g_strdup_printf("<source" SSMA " ssrc='1' name='%s'/>", s257);
    refused_description(x, "source: bad name");
    g_clear_pointer(&x, g_free);
    refused_description("<source" SSMA " ssrc='7'/><source" SSMA " ssrc='7'/>",
                        "source: repeated ssrc");
    x = repeat("<source" SSMA " ssrc='", "'/>", CC_JINGLE_MAX_SOURCES + 1);
    refused_description(x, "too many source");
    g_clear_pointer(&x, g_free);
    refused_description("<source" SSMA " ssrc='1'><parameter name='msid'/></source>", "msid");
    refused_description("<source" SSMA " ssrc='1'><parameter name='msid' value=''/></source>",
                        "msid");
    refused_description("<source" SSMA " ssrc='1'><parameter name='msid' value='a'/>"
                        "<parameter name='msid' value='b'/></source>",
                        "msid");
    x = g_strdup_printf("<source" SSMA " ssrc='1'><parameter name='msid' value='%s'/></source>",
                        s257);
    refused_description(x, "msid");
    g_clear_pointer(&x, g_free);
    refused_description("<source" SSMA " ssrc='1'><ssrc-info" JITMEET "/></source>", "owner");
    refused_description("<source" SSMA " ssrc='1'><ssrc-info" JITMEET
                        " owner='a'/><ssrc-info" JITMEET " owner='b'/></source>",
                        "owner");
    x = g_strdup_printf("<source" SSMA " ssrc='1'><ssrc-info" JITMEET " owner='%s'/></source>",
                        s257);
    refused_description(x, "owner");
    g_clear_pointer(&x, g_free);

    /* ssrc groups */
#define TWO  "<source" SSMA " ssrc='1'/><source" SSMA " ssrc='2'/>"
#define FOUR TWO "<source" SSMA " ssrc='3'/><source" SSMA " ssrc='4'/>"
    refused_description(TWO "<ssrc-group" SSMA "><source ssrc='1'/><source ssrc='2'/>"
                            "</ssrc-group>",
                        "semantics");
    refused_description(TWO "<ssrc-group" SSMA " semantics='FEC'><source ssrc='1'/>"
                            "<source ssrc='2'/></ssrc-group>",
                        "semantics");
    refused_description(TWO "<ssrc-group" SSMA " semantics='fid'><source ssrc='1'/>"
                            "<source ssrc='2'/></ssrc-group>",
                        "semantics");
    refused_description(FOUR "<ssrc-group" SSMA " semantics='FID'><source ssrc='1'/>"
                             "<source ssrc='2'/><source ssrc='3'/></ssrc-group>",
                        "too many ssrcs");
    refused_description(FOUR "<ssrc-group" SSMA " semantics='SIM'><source ssrc='1'/>"
                             "<source ssrc='2'/><source ssrc='3'/><source ssrc='4'/>"
                             "</ssrc-group>",
                        "too many ssrcs");
    refused_description(TWO "<ssrc-group" SSMA " semantics='FID'><source ssrc='1'/>"
                            "</ssrc-group>",
                        "too few ssrcs");
    refused_description(TWO "<ssrc-group" SSMA " semantics='SIM'/>", "too few ssrcs");
    refused_description(TWO "<ssrc-group" SSMA " semantics='FID'><source ssrc='1'/>"
                            "<source ssrc='3'/></ssrc-group>",
                        "not listed");
    refused_description(TWO "<ssrc-group" SSMA " semantics='FID'><source ssrc='1'/>"
                            "<source ssrc='0'/></ssrc-group>",
                        "ssrc-group: bad ssrc");
    refused_description(TWO "<ssrc-group" SSMA " semantics='FID'><source ssrc='1'/>"
                            "<source/></ssrc-group>",
                        "ssrc-group: bad ssrc");
    refused_description(TWO "<ssrc-group" SSMA " semantics='FID'><source ssrc='1'/>"
                            "<source ssrc='1'/></ssrc-group>",
                        "ssrc-group: repeated ssrc");
    /* a group may not name a source of another content */
    refused_content("<content name='a'><description" RTP " media='audio'><source" SSMA
                    " ssrc='1'/></description></content><content name='v'><description" RTP
                    " media='video'><source" SSMA " ssrc='2'/><ssrc-group" SSMA
                    " semantics='FID'><source ssrc='1'/><source ssrc='2'/></ssrc-group>"
                    "</description></content>",
                    "not listed");
    g_autofree char *groups =
        repeat("<ssrc-group" SSMA " semantics='FID'><source ssrc='1'/><source ssrc='2'/>"
               "</ssrc-group><!-- ",
               " -->", CC_JINGLE_MAX_GROUPS + 1);
    x = g_strconcat(TWO, groups, NULL);
    refused_description(x, "too many ssrc-group");
    g_clear_pointer(&x, g_free);
#undef TWO
#undef FOUR
}
END_TEST

static Suite *
jingle_suite(void)
{
    Suite *s = suite_create("jingle");
    TCase *tc = tcase_create("jingle");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_session_initiate);
    tcase_add_test(tc, test_offer_round_trip);
    tcase_add_test(tc, test_source_add);
    tcase_add_test(tc, test_session_terminate);
    tcase_add_test(tc, test_transport_info);
    tcase_add_test(tc, test_actions);
    tcase_add_test(tc, test_error_condition);
    tcase_add_test(tc, test_ignored);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_refused_session);
    tcase_add_test(tc, test_refused_description);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(jingle_suite)
