/* Unit tests of common/jingle.c at its edges: the limits hold exactly at their bounds,
 * and the parser refuses each malformed shape with an error that names the element. */
#include "jingle-test-fixture.h"

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
                    "'><candidate component='1' foundation='f' priority='1' protocol='udp' "
                    "type='host' ip='10.0.0.1' port='0'/></transport></content>",
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
                        "repeated parameter");
    x = g_strdup_printf("<source" SSMA " ssrc='1'><parameter name='msid' value='%s'/></source>",
                        s257);
    refused_description(x, "bad parameter");
    g_clear_pointer(&x, g_free);
    refused_description("<source" SSMA " ssrc='1'><parameter value='v'/></source>",
                        "bad parameter");
    x = g_strdup_printf("<source" SSMA " ssrc='1'><parameter name='%s' value='v'/></source>",
                        "a-name-longer-than-thirty-two-bytes");
    refused_description(x, "bad parameter");
    g_clear_pointer(&x, g_free);
    GString *many_params = g_string_new("<source" SSMA " ssrc='1'>");
    for (int i = 0; i <= CC_JINGLE_MAX_SOURCE_PARAMS; i++)
        g_string_append_printf(many_params, "<parameter name='p%d' value='v'/>", i);
    g_string_append(many_params, "</source>");
    refused_description(many_params->str, "too many parameter");
    g_string_free(many_params, TRUE);
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
jingle_limits_suite(void)
{
    Suite *s = suite_create("jingle-limits");
    TCase *tc = tcase_create("jingle-limits");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_refused_session);
    tcase_add_test(tc, test_refused_description);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(jingle_limits_suite)
