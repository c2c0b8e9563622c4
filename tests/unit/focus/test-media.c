/* Unit tests of the focus's media helpers: the XEP-0115 verification string that decides
 * whether a caps answer may be cached (capabilities.c), and turning the sources a client
 * announces in Jingle into Colibri2 media-sources (offer.c). */
#include "../check-main.h"
#include "focus-media.h"

#include <string.h>

static xmpp_ctx_t *ctx;

static xmpp_stanza_t *
stanza(const char *xml)
{
    if (ctx == NULL)
        ctx = xmpp_ctx_new(NULL, NULL);
    xmpp_stanza_t *s = xmpp_stanza_new_from_string(ctx, xml);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* XEP-0115 section 5.2. */
START_TEST(test_caps_simple)
{
    xmpp_stanza_t *q = stanza("<query xmlns='http://jabber.org/protocol/disco#info'>"
                              "<identity category='client' name='Exodus 0.9.1' type='pc'/>"
                              "<feature var='http://jabber.org/protocol/muc'/>"
                              "<feature var='http://jabber.org/protocol/disco#info'/>"
                              "<feature var='http://jabber.org/protocol/disco#items'/>"
                              "<feature var='http://jabber.org/protocol/caps'/>"
                              "</query>");
    g_autofree char *ver = focus_capabilities_ver(q);
    ck_assert_str_eq(ver, "QgayPKawpkPSDYmwT/WM94uAlu0=");
    xmpp_stanza_release(q);
    /* No identity: no verification string, so nothing is cached. */
    q = stanza("<query xmlns='http://jabber.org/protocol/disco#info'>"
               "<feature var='urn:xmpp:jingle:apps:rtp:1'/></query>");
    ck_assert_ptr_null(focus_capabilities_ver(q));
    xmpp_stanza_release(q);
}
END_TEST

/* XEP-0115 section 5.3: languages, and an extended form with multi-valued fields. */
START_TEST(test_caps_complex)
{
    xmpp_stanza_t *q =
        stanza("<query xmlns='http://jabber.org/protocol/disco#info'>"
               "<identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>"
               "<identity xml:lang='el' category='client' name='\xce\xa8 0.11' type='pc'/>"
               "<feature var='http://jabber.org/protocol/caps'/>"
               "<feature var='http://jabber.org/protocol/disco#info'/>"
               "<feature var='http://jabber.org/protocol/disco#items'/>"
               "<feature var='http://jabber.org/protocol/muc'/>"
               "<x xmlns='jabber:x:data' type='result'>"
               "<field var='FORM_TYPE' "
               "type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>"
               "<field var='ip_version'><value>ipv6</value><value>ipv4</value></field>"
               "<field var='os'><value>Mac</value></field>"
               "<field var='os_version'><value>10.5.1</value></field>"
               "<field var='software'><value>Psi</value></field>"
               "<field var='software_version'><value>0.11</value></field>"
               "</x></query>");
    g_autofree char *ver = focus_capabilities_ver(q);
    ck_assert_str_eq(ver, "q07IKJEyjvHSyhy//CH0CxmKi8w=");
    xmpp_stanza_release(q);
}
END_TEST

static CcJingle *
jingle(const char *contents)
{
    g_autofree char *xml = g_strdup_printf(
        "<jingle xmlns='urn:xmpp:jingle:1' action='session-accept' sid='s1'>%s</jingle>", contents);
    xmpp_stanza_t *s = stanza(xml);
    g_autoptr(GError) error = NULL;
    CcJingle *j = cc_jingle_parse(s, &error);
    xmpp_stanza_release(s);
    if (j == NULL)
        ck_abort_msg("parse: %s", error->message);
    return j;
}

#define SRC(ssrc, name)                                                                            \
    "<source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='" ssrc "' name='" name "'/>"
#define GROUP(sem, body)                                                                           \
    "<ssrc-group xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' semantics='" sem "'>" body "</"           \
    "ssrc-group>"
#define GSRC(ssrc) "<source ssrc='" ssrc "'/>"
#define DESC(media, body)                                                                          \
    "<content name='" media "'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='" media      \
    "'>" body "</description></content>"

START_TEST(test_sources_grouped)
{
    /* Simulcast with RTX: six SSRCs tied by SIM and FID groups are one camera. */
    g_autoptr(CcJingle) j = jingle(DESC("audio", SRC("11", "ep-a0")) DESC(
        "video",
        SRC("21", "ep-v0") SRC("22", "ep-v0") SRC("23", "ep-v0") SRC("31", "ep-v0")
            SRC("32", "ep-v0") SRC("33", "ep-v0") SRC("41", "bad name!")
                GROUP("SIM", GSRC("21") GSRC("22") GSRC("23")) GROUP("FID", GSRC("21") GSRC("31"))
                    GROUP("FID", GSRC("22") GSRC("32")) GROUP("FID", GSRC("23") GSRC("33"))));
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) sources = focus_offer_sources_from_jingle(j, "abc", &error);
    ck_assert_ptr_nonnull(sources);
    ck_assert_uint_eq(sources->len, 3);
    CcColibri2Source *audio = g_ptr_array_index(sources, 0);
    CcColibri2Source *camera = g_ptr_array_index(sources, 1);
    CcColibri2Source *other = g_ptr_array_index(sources, 2);
    ck_assert_str_eq(audio->type, "audio");
    ck_assert_str_eq(audio->id, "ep-a0");
    ck_assert_str_eq(camera->type, "video");
    ck_assert_str_eq(camera->id, "ep-v0");
    ck_assert_uint_eq(camera->ssrcs->len, 6);
    ck_assert_uint_eq(camera->groups->len, 4);
    /* A name that is not a valid id is replaced by one made from the endpoint. */
    ck_assert_str_eq(other->id, "abc-v2");
    ck_assert_uint_eq(other->ssrcs->len, 1);
    ck_assert_uint_eq(focus_offer_count_ssrcs(sources), 8);
    ck_assert(focus_offer_has_ssrc(sources, 33));
    ck_assert(!focus_offer_has_ssrc(sources, 34));
    /* Copies are deep and equal. */
    CcColibri2Source *copy = cc_colibri2_source_copy(camera);
    ck_assert_uint_eq(copy->ssrcs->len, 6);
    ck_assert_uint_eq(copy->groups->len, 4);
    ck_assert_str_eq(copy->id, camera->id);
    cc_colibri2_source_free(copy);
}
END_TEST

START_TEST(test_sources_refused)
{
    static const char *const bad[] = {
        /* the same SSRC in audio and video */
        DESC("audio", SRC("5", "x")) DESC("video", SRC("5", "y")),
        /* more than 8 SSRCs tied into one source */
        DESC("video", SRC("1", "v") SRC("2", "v") SRC("3", "v") SRC("4", "v") SRC("5", "v")
                          SRC("6", "v") SRC("7", "v") SRC("8", "v") SRC("9", "v")
                              GROUP("SIM", GSRC("1") GSRC("2") GSRC("3"))
                                  GROUP("SIM", GSRC("3") GSRC("4") GSRC("5"))
                                      GROUP("SIM", GSRC("5") GSRC("6") GSRC("7"))
                                          GROUP("SIM", GSRC("7") GSRC("8") GSRC("9"))),
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(CcJingle) j = jingle(bad[i]);
        g_autoptr(GError) error = NULL;
        GPtrArray *sources = focus_offer_sources_from_jingle(j, "abc", &error);
        if (sources != NULL)
            ck_abort_msg("accepted case %zu", i);
        ck_assert_ptr_nonnull(error);
    }
}
END_TEST

START_TEST(test_offer)
{
    g_autoptr(CcIceUdpTransport) t = cc_ice_udp_transport_new();
    t->ufrag = g_strdup("abcd");
    t->pwd = g_strdup("0123456789abcdef012345");
    t->fp_hash = g_strdup("sha-256");
    t->fp_setup = g_strdup("actpass");
    t->fingerprint = g_strdup("AA:BB");
    cc_ice_udp_transport_add_candidate(t, "1", 1, 100, "127.0.0.1", 10000, "host");
    g_autoptr(CcJingle) j = cc_jingle_new(CC_JINGLE_SESSION_INITIATE, "s");
    focus_offer_write(j, t);
    ck_assert(j->bundle);
    ck_assert_uint_eq(j->contents->len, 2);
    CcJingleContent *audio = cc_jingle_find_content(j, "audio");
    CcJingleContent *video = cc_jingle_find_content(j, "video");
    ck_assert_ptr_nonnull(audio);
    ck_assert_ptr_nonnull(video);
    ck_assert_str_eq(((CcJinglePayloadType *)g_ptr_array_index(audio->payload_types, 0))->name,
                     "opus");
    /* VP8, VP9 and H.264, each followed by its RTX. */
    ck_assert_uint_eq(video->payload_types->len, 6);
    static const char *const names[] = {"VP8", "rtx", "VP9", "rtx", "H264", "rtx"};
    for (guint i = 0; i < 6; i++)
        ck_assert_str_eq(((CcJinglePayloadType *)g_ptr_array_index(video->payload_types, i))->name,
                         names[i]);
    ck_assert_str_eq(video->transport->fingerprint, "AA:BB");
    ck_assert_uint_eq(video->transport->candidates->len, 1);
    ck_assert(video->transport->rtcp_mux && video->rtcp_mux);
    /* It survives the wire. */
    xmpp_stanza_t *iq = stanza("<iq type='set'/>");
    cc_jingle_write(iq, j);
    g_autoptr(GError) error = NULL;
    g_autoptr(CcJingle) back = cc_jingle_parse(cc_stanza_first_element(iq), &error);
    ck_assert_ptr_nonnull(back);
    ck_assert_uint_eq(back->contents->len, 2);
    xmpp_stanza_release(iq);
}
END_TEST

static Suite *
media_suite(void)
{
    Suite *s = suite_create("media");
    TCase *tc = tcase_create("media");
    tcase_add_test(tc, test_caps_simple);
    tcase_add_test(tc, test_caps_complex);
    tcase_add_test(tc, test_sources_grouped);
    tcase_add_test(tc, test_sources_refused);
    tcase_add_test(tc, test_offer);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(media_suite)
