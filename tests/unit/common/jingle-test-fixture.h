/* What the Jingle unit tests share (test-jingle.c: round trips; test-jingle-limits.c:
 * limits and refusals): a libstrophe context per test, namespace shorthands, a Jitsi
 * session-initiate, and helpers to parse, round-trip and compare. */
#pragma once

#include "../check-main.h"
#include "cc-autoptr.h"
#include "cc-error.h"
#include "jingle.h"
#include "stanza.h"

#include <stdlib.h>
#include <string.h>

static xmpp_ctx_t *ctx;

static inline void
setup(void)
{
    xmpp_initialize();
    ctx = xmpp_ctx_new(NULL, NULL);
}

static inline void
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
G_GNUC_UNUSED static const char session_initiate[] =
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
    "<parameter name='cname' value='a1b2c3d4-cname'/>"
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

static inline xmpp_stanza_t *
parse_xml(const char *xml)
{
    xmpp_stanza_t *s = xmpp_stanza_new_from_string(ctx, xml);
    ck_assert_msg(s != NULL, "not XML: %s", xml);
    return s;
}

/* Parses the <jingle> child of an <iq> (or the element itself). */
static inline CcJingle *
parse_jingle(const char *xml, GError **error)
{
    g_autoptr(xmpp_stanza_t) s = parse_xml(xml);
    xmpp_stanza_t *j = xmpp_stanza_get_child_by_name_and_ns(s, "jingle", CC_NS_JINGLE);
    return cc_jingle_parse(j ? j : s, error);
}

static inline CcJingle *
parse_ok(const char *xml)
{
    g_autoptr(GError) error = NULL;
    CcJingle *j = parse_jingle(xml, &error);
    ck_assert_msg(j != NULL, "%s: %s", error ? error->message : "", xml);
    return j;
}

static inline char *
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
static inline CcJingle *
round_trip(const CcJingle *j)
{
    g_autoptr(xmpp_stanza_t) iq = xmpp_stanza_new(ctx);
    xmpp_stanza_set_name(iq, "iq");
    xmpp_stanza_set_type(iq, "set");
    cc_jingle_write(iq, j);
    g_autofree char *xml = to_text(iq);
    return parse_ok(xml);
}

static inline void
assert_transport_eq(const CcIceUdpTransport *a, const CcIceUdpTransport *b)
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
        const CcIceUdpCandidate *x = g_ptr_array_index(a->candidates, i);
        const CcIceUdpCandidate *y = g_ptr_array_index(b->candidates, i);
        ck_assert_str_eq(x->foundation, y->foundation);
        ck_assert_uint_eq(x->component, y->component);
        ck_assert_uint_eq(x->priority, y->priority);
        ck_assert_str_eq(x->ip, y->ip);
        ck_assert_uint_eq(x->port, y->port);
        ck_assert_str_eq(x->type, y->type);
    }
}

static inline void
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
        ck_assert_uint_eq(x->parameters->len, y->parameters->len);
        for (guint k = 0; k < x->parameters->len; k++) {
            const CcJingleParameter *px = g_ptr_array_index(x->parameters, k);
            const CcJingleParameter *py = g_ptr_array_index(y->parameters, k);
            ck_assert_str_eq(px->name, py->name);
            ck_assert_pstr_eq(px->value, py->value);
        }
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

static inline void
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

static inline CcJinglePayloadType *
pt_at(const CcJingleContent *c, guint i)
{
    ck_assert_uint_lt(i, c->payload_types->len);
    return g_ptr_array_index(c->payload_types, i);
}

static inline const char *
param(const CcJinglePayloadType *pt, const char *name)
{
    for (guint i = 0; i < pt->parameters->len; i++) {
        const CcJingleParameter *p = g_ptr_array_index(pt->parameters, i);
        if (strcmp(p->name, name) == 0)
            return p->value;
    }
    return NULL;
}

static inline CcIceUdpTransport *
jitsi_transport(void)
{
    CcIceUdpTransport *t = cc_ice_udp_transport_new();
    t->ufrag = g_strdup(UFRAG);
    t->pwd = g_strdup(PWD);
    t->fp_hash = g_strdup("sha-256");
    t->fp_setup = g_strdup("actpass");
    t->fingerprint = g_strdup(FINGERPRINT);
    cc_ice_udp_transport_add_candidate(t, "1", 1, 2130706431, "10.0.0.5", 10000, "host");
    cc_ice_udp_transport_add_candidate(t, "2", 1, 1694498815, "203.0.113.7", 10000, "srflx");
    return t;
}

static inline void
add_video_fb(CcJinglePayloadType *pt, gboolean transport_cc)
{
    cc_jingle_payload_type_add_feedback(pt, "ccm", "fir");
    cc_jingle_payload_type_add_feedback(pt, "nack", NULL);
    cc_jingle_payload_type_add_feedback(pt, "nack", "pli");
    if (transport_cc)
        cc_jingle_payload_type_add_feedback(pt, "transport-cc", NULL);
}

/* The offer of `session_initiate`, built the way the focus builds it. */
static inline CcJingle *
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
    cc_jingle_source_set_parameter(a0, "msid", "a1b2c3d4-audio-1 a1b2c3d4-audio-1-track");
    cc_jingle_source_set_parameter(a0, "cname", "a1b2c3d4-cname");
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
        if (ssrc == 1000)
            cc_jingle_source_set_parameter(v, "cname", "x9");
        cc_jingle_source_set_parameter(v, "msid", "a1b2c3d4-video-1 a1b2c3d4-video-1-track");
    }
    const guint32 fid[] = {1000, 1001};
    cc_jingle_content_add_group(video, "FID", fid, 2);
    video->transport = jitsi_transport();
    return j;
}
