/* Unit tests of common/jingle.c: a session-initiate in the shape Jitsi clients exchange
 * parses into what it says and equals the same offer built with the API; offers,
 * source-add and session-terminate survive a write/serialize/parse round trip; unknown and
 * nested elements are ignored. Limits and refusals: test-jingle-limits.c. */
#include "jingle-test-fixture.h"

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
    ck_assert_str_eq(cc_jingle_source_parameter(a0, "msid"),
                     "a1b2c3d4-audio-1 a1b2c3d4-audio-1-track");
    ck_assert_str_eq(a0->owner, OWNER);
    ck_assert_uint_eq(audio->groups->len, 0);
    CcIceUdpTransport *t = audio->transport;
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t->ufrag, UFRAG);
    ck_assert_str_eq(t->pwd, PWD);
    ck_assert_str_eq(t->fp_hash, "sha-256");
    ck_assert_str_eq(t->fp_setup, "actpass");
    ck_assert_str_eq(t->fingerprint, FINGERPRINT);
    ck_assert_uint_eq(t->candidates->len, 2);
    CcIceUdpCandidate *srflx = g_ptr_array_index(t->candidates, 1);
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
    ck_assert_str_eq(cc_jingle_source_parameter(rtx, "msid"),
                     "a1b2c3d4-video-1 a1b2c3d4-video-1-track");
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
    ck_assert_uint_eq(first->parameters->len, 0);
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
    CcIceUdpCandidate *cand = g_ptr_array_index(c->transport->candidates, 0);
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
    /* parameters are kept whole, in order, a missing value as NULL */
    ck_assert_uint_eq(s->parameters->len, 2);
    ck_assert_str_eq(cc_jingle_source_parameter(s, "cname"), "");
    ck_assert_ptr_null(cc_jingle_source_parameter(s, "label"));
    ck_assert_ptr_null(cc_jingle_source_parameter(s, "msid"));
    ck_assert_ptr_null(s->owner);
    ck_assert_uint_eq(c->groups->len, 0);
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
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(jingle_suite)
