/* Unit tests of common/colibri2.c: every example of schemas/colibri2.md parses and means
 * what the document says; the answer parses on the focus's side; requests, transports and
 * sources survive a write/parse round trip; and
 * the parser refuses each malformed shape (ids, numbers, candidates, groups, limits). */
#include "../check-main.h"
#include "cc-autoptr.h"
#include "cc-error.h"
#include "colibri2.h"

#include <stdlib.h>
#include <string.h>

static xmpp_ctx_t *ctx;
static GPtrArray *examples; /* the xml blocks of schemas/colibri2.md, in order */

static void
setup(void)
{
    xmpp_initialize();
    ctx = xmpp_ctx_new(NULL, NULL);
    const char *dir = g_getenv("CONCLAVE_SCHEMAS_DIR");
    ck_assert_msg(dir != NULL, "CONCLAVE_SCHEMAS_DIR is not set");
    g_autofree char *path = g_build_filename(dir, "colibri2.md", NULL);
    g_autofree char *text = NULL;
    ck_assert(g_file_get_contents(path, &text, NULL, NULL));
    examples = g_ptr_array_new_with_free_func(g_free);
    const char *p = text;
    while ((p = strstr(p, "```xml\n")) != NULL) {
        p += 7;
        const char *end = strstr(p, "```");
        ck_assert_ptr_nonnull(end);
        g_ptr_array_add(examples, g_strndup(p, (gsize)(end - p)));
        p = end + 3;
    }
}

static void
teardown(void)
{
    g_ptr_array_unref(examples);
    xmpp_ctx_free(ctx);
}

static xmpp_stanza_t *
parse_xml(const char *xml)
{
    xmpp_stanza_t *s = xmpp_stanza_new_from_string(ctx, xml);
    ck_assert_msg(s != NULL, "not XML: %s", xml);
    return s;
}

static CcColibri2Modify *
parse_modify(const char *xml, GError **error)
{
    g_autoptr(xmpp_stanza_t) iq = parse_xml(xml);
    xmpp_stanza_t *m =
        xmpp_stanza_get_child_by_name_and_ns(iq, "conference-modify", CC_NS_COLIBRI2);
    ck_assert_ptr_nonnull(m);
    return cc_colibri2_modify_parse(m, error);
}

static xmpp_stanza_t *
find_ice(xmpp_stanza_t *endpoint)
{
    xmpp_stanza_t *t = xmpp_stanza_get_child_by_name(endpoint, "transport");
    ck_assert_ptr_nonnull(t);
    xmpp_stanza_t *ice = xmpp_stanza_get_child_by_name_and_ns(t, "transport", CC_NS_ICE_UDP);
    ck_assert_ptr_nonnull(ice);
    return ice;
}

START_TEST(test_examples)
{
    ck_assert_uint_ge(examples->len, 8);
    guint messages = 0;
    for (guint i = 0; i < examples->len; i++) {
        g_autoptr(xmpp_stanza_t) s = parse_xml(g_ptr_array_index(examples, i));
        if (g_str_equal(xmpp_stanza_get_name(s), "message")) {
            /* a bridge reporting what happened on its own: a recording that failed, an
             * endpoint or a conference it expired */
            xmpp_stanza_t *e =
                xmpp_stanza_get_child_by_name_and_ns(s, "endpoint-expired", CC_NS_COLIBRI2);
            xmpp_stanza_t *r =
                xmpp_stanza_get_child_by_name_and_ns(s, "recording-status", CC_NS_RECORDING);
            xmpp_stanza_t *c =
                xmpp_stanza_get_child_by_name_and_ns(s, "conference-expired", CC_NS_COLIBRI2);
            ck_assert(e != NULL || r != NULL || c != NULL);
            if (c != NULL) {
                ck_assert_str_eq(xmpp_stanza_get_attribute(c, "meeting-id"), "7f3e2a10-c0de");
                ck_assert_str_eq(xmpp_stanza_get_attribute(c, "reason"), "empty");
            } else if (e != NULL) {
                ck_assert_str_eq(xmpp_stanza_get_attribute(e, "reason"), "ice_failed");
            } else {
                g_autoptr(GError) status_error = NULL;
                g_autoptr(CcColibri2RecordingStatus) st =
                    cc_colibri2_recording_status_parse(r, &status_error);
                ck_assert_msg(st != NULL, "%s", status_error ? status_error->message : "");
                ck_assert_str_eq(st->state, "failed");
                ck_assert_str_eq(st->reason, "disk_full");
                ck_assert_str_eq(st->id, "rec-5d1f");
            }
            messages++;
            continue;
        }
        ck_assert_str_eq(xmpp_stanza_get_name(s), "iq");
        xmpp_stanza_t *cm =
            xmpp_stanza_get_child_by_name_and_ns(s, "conference-modify", CC_NS_COLIBRI2);
        xmpp_stanza_t *rec =
            cm ? xmpp_stanza_get_child_by_name_and_ns(cm, "recording", CC_NS_RECORDING) : NULL;
        if (rec != NULL) {
            g_autoptr(GError) rec_error = NULL;
            g_autoptr(CcColibri2Modify) m = cc_colibri2_modify_parse(cm, &rec_error);
            ck_assert_msg(m != NULL, "%s", rec_error ? rec_error->message : "");
            ck_assert_int_eq(m->recording, CC_COLIBRI2_RECORDING_START);
            ck_assert_str_eq(m->recording_id, "rec-5d1f");
        }
    }
    ck_assert_uint_eq(messages, 3);
    g_autoptr(GError) error = NULL;
    g_autoptr(CcColibri2Modify) create = parse_modify(g_ptr_array_index(examples, 0), &error);
    ck_assert_msg(create != NULL, "%s", error ? error->message : "");
    ck_assert(create->create);
    ck_assert_str_eq(create->meeting_id, "7f3e2a10-c0de");
    ck_assert_uint_eq(create->endpoints->len, 2);
    CcColibri2Endpoint *ep = g_ptr_array_index(create->endpoints, 1);
    ck_assert_str_eq(ep->id, "d4e5f6");
    ck_assert(ep->create && !ep->expire && ep->transport == NULL && ep->sources == NULL);
    ck_assert_ptr_null(ep->channel_id);
    ck_assert_str_eq(((CcColibri2Endpoint *)g_ptr_array_index(create->endpoints, 0))->channel_id,
                     "Alice");

    /* the bridge's answer: the transport the focus reads */
    g_autoptr(xmpp_stanza_t) answer = parse_xml(g_ptr_array_index(examples, 1));
    xmpp_stanza_t *mod =
        xmpp_stanza_get_child_by_name_and_ns(answer, "conference-modified", CC_NS_COLIBRI2);
    ck_assert_ptr_nonnull(mod);
    g_autoptr(CcIceUdpTransport) t = cc_ice_udp_transport_parse(
        find_ice(xmpp_stanza_get_child_by_name(mod, "endpoint")), &error);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t->ufrag, "8hhy");
    ck_assert_str_eq(t->fp_setup, "actpass");
    ck_assert_uint_eq(t->candidates->len, 2);
    CcIceUdpCandidate *c = g_ptr_array_index(t->candidates, 1);
    ck_assert_str_eq(c->type, "srflx");
    ck_assert_uint_eq(c->port, 10000);
    ck_assert(g_str_has_prefix(t->websocket_url, "wss://meet.example.org/colibri-ws/bridge1/"
                                                 "7f3e2a10-c0de/a1b2c3?pwd="));

    g_autoptr(CcColibri2Modify) update = parse_modify(g_ptr_array_index(examples, 2), &error);
    ck_assert_msg(update != NULL, "%s", error ? error->message : "");
    ep = g_ptr_array_index(update->endpoints, 0);
    ck_assert(!ep->create);
    ck_assert_str_eq(ep->transport->fp_setup, "active");
    ck_assert(ep->has_payload_types);
    ck_assert(cc_colibri2_payload_type_has(&ep->audio, 111));
    ck_assert(!cc_colibri2_payload_type_has(&ep->audio, 100));
    ck_assert(cc_colibri2_payload_type_has(&ep->video, 100));
    ck_assert(!cc_colibri2_payload_type_has(&ep->video, 96));
    ck_assert_uint_eq(ep->audio_level_ext, 1);
    ck_assert_uint_eq(ep->sources->len, 2);
    CcColibri2Source *video = g_ptr_array_index(ep->sources, 1);
    ck_assert_str_eq(video->type, "video");
    ck_assert_uint_eq(video->ssrcs->len, 2);
    ck_assert_uint_eq(video->groups->len, 1);
    CcColibri2SsrcGroup *g = g_ptr_array_index(video->groups, 0);
    ck_assert_str_eq(g->semantics, "FID");
    ck_assert_uint_eq(g_array_index(g->ssrcs, guint32, 1), 3333);

    g_autoptr(CcColibri2Modify) expire_ep = parse_modify(g_ptr_array_index(examples, 3), &error);
    ck_assert(((CcColibri2Endpoint *)g_ptr_array_index(expire_ep->endpoints, 0))->expire);
    g_autoptr(CcColibri2Modify) expire = parse_modify(g_ptr_array_index(examples, 4), &error);
    ck_assert(expire->expire);
    ck_assert_uint_eq(expire->endpoints->len, 0);
}
END_TEST

/* <recording> and occupant-id survive a round trip; each malformed shape is refused. */
START_TEST(test_recording)
{
    g_autoptr(CcColibri2Modify) m = cc_colibri2_modify_new("m1");
    m->recording = CC_COLIBRI2_RECORDING_STOP;
    m->recording_id = g_strdup("rec-1");
    CcColibri2Endpoint *ep = cc_colibri2_modify_add_endpoint(m, "e1");
    ep->occupant_id = g_strdup("OKAC_LteObv3RnksoTN97A");
    g_autoptr(xmpp_stanza_t) iq = xmpp_iq_new(ctx, "set", "r");
    cc_colibri2_modify_write(iq, m);
    g_autoptr(GError) error = NULL;
    g_autoptr(CcColibri2Modify) back = cc_colibri2_modify_parse(
        xmpp_stanza_get_child_by_name_and_ns(iq, "conference-modify", CC_NS_COLIBRI2), &error);
    ck_assert_msg(back != NULL, "%s", error ? error->message : "");
    ck_assert_int_eq(back->recording, CC_COLIBRI2_RECORDING_STOP);
    ck_assert_str_eq(back->recording_id, "rec-1");
    ck_assert_str_eq(((CcColibri2Endpoint *)g_ptr_array_index(back->endpoints, 0))->occupant_id,
                     "OKAC_LteObv3RnksoTN97A");

    static const char *const bad[] = {
        "<recording xmlns='urn:conclave:recording:0' action='pause' id='r'/>",
        "<recording xmlns='urn:conclave:recording:0' action='start'/>",
        "<recording xmlns='urn:conclave:recording:0' action='start' id='a b'/>",
        "<recording xmlns='urn:conclave:recording:0' action='start' id='a'/>"
        "<recording xmlns='urn:conclave:recording:0' action='stop' id='a'/>",
        "<endpoint id='e' occupant-id='not/valid'/>",
        NULL,
    };
    for (const char *const *b = bad; *b != NULL; b++) {
        g_autofree char *xml = g_strdup_printf("<iq><conference-modify xmlns='jitsi:colibri2' "
                                               "meeting-id='m'>%s</conference-modify></iq>",
                                               *b);
        g_autoptr(GError) e = NULL;
        g_autoptr(CcColibri2Modify) refused = parse_modify(xml, &e);
        ck_assert_msg(refused == NULL, "accepted: %s", *b);
        ck_assert_ptr_nonnull(e);
    }
    static const char *const bad_status[] = {
        "<recording-status xmlns='urn:conclave:recording:0' meeting-id='m' id='r' state='on' "
        "reason='x'/>",
        "<recording-status xmlns='urn:conclave:recording:0' meeting-id='m' id='r' state='failed'/>",
        "<recording-status xmlns='urn:conclave:recording:0' meeting-id='m' id='r' state='failed' "
        "reason='Disk Full'/>",
        "<recording-status xmlns='urn:conclave:recording:0' id='r' state='failed' reason='x'/>",
        NULL,
    };
    for (const char *const *b = bad_status; *b != NULL; b++) {
        g_autoptr(xmpp_stanza_t) s = parse_xml(*b);
        g_autoptr(GError) e = NULL;
        g_autoptr(CcColibri2RecordingStatus) st = cc_colibri2_recording_status_parse(s, &e);
        ck_assert_msg(st == NULL, "accepted: %s", *b);
    }
    CcColibri2RecordingStatus out = {"m", "r", "damaged", "queue_overflow"};
    g_autoptr(xmpp_stanza_t) msg = xmpp_message_new(ctx, NULL, "f", NULL);
    cc_colibri2_recording_status_write(msg, &out);
    g_autoptr(CcColibri2RecordingStatus) in = cc_colibri2_recording_status_parse(
        xmpp_stanza_get_child_by_name(msg, "recording-status"), &error);
    ck_assert_ptr_nonnull(in);
    ck_assert_str_eq(in->state, "damaged");
    ck_assert_str_eq(in->reason, "queue_overflow");
}
END_TEST

START_TEST(test_round_trip)
{
    g_autoptr(CcIceUdpTransport) t = cc_ice_udp_transport_new();
    t->ufrag = g_strdup("abcd");
    t->pwd = g_strdup("0123456789abcdefghijkl");
    t->fp_hash = g_strdup("sha-256");
    t->fp_setup = g_strdup("passive");
    t->fingerprint = g_strdup("AA:BB");
    cc_ice_udp_transport_add_candidate(t, "f1", 1, 12345, "::1", 4000, "host");
    cc_ice_udp_transport_add_candidate(t, "f2", 1, 1, "10.0.0.1", 65535, "relay");
    g_autoptr(xmpp_stanza_t) ep = xmpp_stanza_new(ctx);
    xmpp_stanza_set_name(ep, "endpoint");
    xmpp_stanza_set_ns(ep, CC_NS_COLIBRI2);
    xmpp_stanza_set_attribute(ep, "id", "e1");
    cc_colibri2_transport_write(ep, t);
    g_autoptr(GError) error = NULL;
    g_autoptr(CcIceUdpTransport) back = cc_ice_udp_transport_parse(find_ice(ep), &error);
    ck_assert_msg(back != NULL, "%s", error ? error->message : "");
    ck_assert_str_eq(back->pwd, t->pwd);
    ck_assert_str_eq(back->fp_setup, "passive");
    ck_assert_str_eq(back->fingerprint, "AA:BB");
    ck_assert_uint_eq(back->candidates->len, 2);
    CcIceUdpCandidate *c = g_ptr_array_index(back->candidates, 0);
    ck_assert_str_eq(c->ip, "::1");
    ck_assert_uint_eq(c->priority, 12345);

    /* sources */
    g_autoptr(GError) e2 = NULL;
    g_autoptr(CcColibri2Modify) m = parse_modify(g_ptr_array_index(examples, 2), &e2);
    CcColibri2Endpoint *src_ep = g_ptr_array_index(m->endpoints, 0);
    cc_colibri2_sources_write(ep, src_ep->sources);
    char *buf;
    size_t len;
    ck_assert_int_eq(xmpp_stanza_to_text(ep, &buf, &len), XMPP_EOK);
    g_autofree char *xml = g_strdup_printf(
        "<iq type='set'><conference-modify xmlns='jitsi:colibri2' meeting-id='m'>%.*s"
        "</conference-modify></iq>",
        (int)len, buf);
    xmpp_free(ctx, buf);
    g_autoptr(CcColibri2Modify) m2 = parse_modify(xml, &e2);
    ck_assert_msg(m2 != NULL, "%s", e2 ? e2->message : "");
    CcColibri2Endpoint *ep2 = g_ptr_array_index(m2->endpoints, 0);
    ck_assert_uint_eq(ep2->sources->len, 2);
    CcColibri2Source *v = g_ptr_array_index(ep2->sources, 1);
    ck_assert_uint_eq(v->groups->len, 1);
}
END_TEST

START_TEST(test_answer_parse)
{
    g_autoptr(xmpp_stanza_t) answer = parse_xml(g_ptr_array_index(examples, 1));
    xmpp_stanza_t *mod =
        xmpp_stanza_get_child_by_name_and_ns(answer, "conference-modified", CC_NS_COLIBRI2);
    g_autoptr(GError) error = NULL;
    g_autoptr(CcColibri2Modify) m = cc_colibri2_modified_parse(mod, &error);
    ck_assert_msg(m != NULL, "%s", error ? error->message : "");
    ck_assert_str_eq(m->meeting_id, "7f3e2a10-c0de");
    ck_assert_uint_eq(m->endpoints->len, 2);
    CcColibri2Endpoint *a = g_ptr_array_index(m->endpoints, 0);
    CcColibri2Endpoint *b = g_ptr_array_index(m->endpoints, 1);
    ck_assert_str_eq(a->transport->pwd, "asd88fgpdd777uzjYhagZg");
    ck_assert_uint_eq(a->transport->candidates->len, 2);
    ck_assert_ptr_null(b->transport);
    /* a request is not an answer */
    g_autoptr(xmpp_stanza_t) req = parse_xml(g_ptr_array_index(examples, 0));
    g_autoptr(GError) e2 = NULL;
    ck_assert_ptr_null(cc_colibri2_modified_parse(
        xmpp_stanza_get_child_by_name_and_ns(req, "conference-modify", CC_NS_COLIBRI2), &e2));
}
END_TEST

START_TEST(test_request_write)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(CcColibri2Modify) example = parse_modify(g_ptr_array_index(examples, 2), &error);
    ck_assert_ptr_nonnull(example);
    CcColibri2Endpoint *src = g_ptr_array_index(example->endpoints, 0);

    g_autoptr(CcColibri2Modify) m = cc_colibri2_modify_new("meeting-1");
    m->create = TRUE;
    CcColibri2Endpoint *created = cc_colibri2_modify_add_endpoint(m, "new-one");
    created->create = TRUE;
    CcColibri2Endpoint *updated = cc_colibri2_modify_add_endpoint(m, "a1b2c3");
    updated->transport = g_steal_pointer(&src->transport);
    updated->sources = g_steal_pointer(&src->sources);
    CcColibri2Endpoint *gone = cc_colibri2_modify_add_endpoint(m, "old");
    gone->expire = TRUE;

    g_autoptr(xmpp_stanza_t) iq = xmpp_stanza_new(ctx);
    xmpp_stanza_set_name(iq, "iq");
    xmpp_stanza_set_type(iq, "set");
    cc_colibri2_modify_write(iq, m);
    char *buf;
    size_t len;
    ck_assert_int_eq(xmpp_stanza_to_text(iq, &buf, &len), XMPP_EOK);
    g_autofree char *xml = g_strndup(buf, len);
    xmpp_free(ctx, buf);
    g_autoptr(CcColibri2Modify) back = parse_modify(xml, &error);
    ck_assert_msg(back != NULL, "%s: %s", xml, error ? error->message : "");
    ck_assert(back->create);
    ck_assert_str_eq(back->meeting_id, "meeting-1");
    ck_assert_uint_eq(back->endpoints->len, 3);
    CcColibri2Endpoint *b0 = g_ptr_array_index(back->endpoints, 0);
    CcColibri2Endpoint *b1 = g_ptr_array_index(back->endpoints, 1);
    CcColibri2Endpoint *b2 = g_ptr_array_index(back->endpoints, 2);
    ck_assert(b0->create && !b0->expire && b0->transport == NULL);
    ck_assert_str_eq(b1->transport->fp_setup, "active");
    ck_assert_str_eq(b1->transport->fingerprint, updated->transport->fingerprint);
    ck_assert_uint_eq(b1->sources->len, 2);
    ck_assert(b2->expire);
}
END_TEST

static void
assert_refused(const char *inner)
{
    g_autofree char *xml = g_strdup_printf(
        "<iq type='set'><conference-modify xmlns='jitsi:colibri2' meeting-id='m1'>%s"
        "</conference-modify></iq>",
        inner);
    g_autoptr(GError) error = NULL;
    g_autoptr(CcColibri2Modify) m = parse_modify(xml, &error);
    ck_assert_msg(m == NULL, "accepted: %s", inner);
    ck_assert_ptr_nonnull(error);
    ck_assert(g_error_matches(error, CC_ERROR, CC_ERROR_INVALID));
}

#define ICE  "<transport><transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' "
#define SRC  "<sources><media-source type='video' id='v'>"
#define SSMA " xmlns='urn:xmpp:jingle:apps:rtp:ssma:0'"

/* Candidates Conclave cannot use (TCP, unknown types) are skipped and counted; the rest of
 * the transport, and the bridge channel's URL, are kept and written back. */
START_TEST(test_transport_skips_unusable_candidates)
{
    const char *xml =
        "<iq><conference-modify xmlns='jitsi:colibri2' meeting-id='m'><endpoint id='x'>" ICE
        "ufrag='abcd' pwd='0123456789abcdefghijkl'>"
        "<candidate port='9' ip='1.2.3.4' protocol='tcp' tcptype='active' type='host' "
        "component='1' priority='1' foundation='t'/>"
        "<candidate port='5' ip='1.2.3.4' protocol='udp' type='host' component='1' "
        "priority='2' foundation='u'/>"
        "<candidate port='6' ip='1.2.3.4' protocol='udp' type='weird' component='1' "
        "priority='3' foundation='w'/>"
        "<web-socket xmlns='http://jitsi.org/protocol/colibri' url='wss://b.example/c/x?pwd=p'/>"
        "</transport></transport></endpoint></conference-modify></iq>";
    g_autoptr(GError) error = NULL;
    g_autoptr(CcColibri2Modify) m = parse_modify(xml, &error);
    ck_assert_msg(m != NULL, "%s", error ? error->message : "");
    CcColibri2Endpoint *ep = g_ptr_array_index(m->endpoints, 0);
    ck_assert_uint_eq(ep->transport->candidates->len, 1);
    ck_assert_uint_eq(ep->transport->skipped_candidates, 2);
    CcIceUdpCandidate *c = g_ptr_array_index(ep->transport->candidates, 0);
    ck_assert_str_eq(c->foundation, "u");
    ck_assert_str_eq(ep->transport->websocket_url, "wss://b.example/c/x?pwd=p");
    g_autoptr(CcIceUdpTransport) copy = cc_ice_udp_transport_copy(ep->transport);
    ck_assert_str_eq(copy->websocket_url, "wss://b.example/c/x?pwd=p");
    g_autoptr(xmpp_stanza_t) parent = parse_xml("<endpoint/>");
    cc_colibri2_transport_write(parent, copy);
    xmpp_stanza_t *outer = xmpp_stanza_get_child_by_name(parent, "transport");
    xmpp_stanza_t *ice = xmpp_stanza_get_child_by_ns(outer, CC_NS_ICE_UDP);
    xmpp_stanza_t *ws = xmpp_stanza_get_child_by_name_and_ns(ice, "web-socket", CC_NS_COLIBRI_STAT);
    ck_assert_ptr_nonnull(ws);
    ck_assert_str_eq(xmpp_stanza_get_attribute(ws, "url"), "wss://b.example/c/x?pwd=p");
    guint n = 0;
    for (xmpp_stanza_t *e = xmpp_stanza_get_children(ice); e; e = xmpp_stanza_get_next(e))
        if (g_strcmp0(xmpp_stanza_get_name(e), "candidate") == 0) {
            ck_assert_str_eq(xmpp_stanza_get_attribute(e, "protocol"), "udp");
            n++;
        }
    ck_assert_uint_eq(n, 1);
}
END_TEST

static CcColibri2Endpoint *
first_endpoint(CcColibri2Modify *m)
{
    ck_assert_uint_ge(m->endpoints->len, 1);
    return g_ptr_array_index(m->endpoints, 0);
}

static CcColibri2Modify *
parse_endpoint_xml(const char *inner)
{
    g_autofree char *xml = g_strdup_printf(
        "<iq type='set'><conference-modify xmlns='jitsi:colibri2' meeting-id='m1'>%s"
        "</conference-modify></iq>",
        inner);
    g_autoptr(GError) error = NULL;
    CcColibri2Modify *m = parse_modify(xml, &error);
    ck_assert_msg(m != NULL, "%s: %s", inner, error ? error->message : "");
    return m;
}

/* channel-id and the audio level extension: written, read back, and what a <media> holding
 * only header extensions means. */
START_TEST(test_channel_fields)
{
    g_autoptr(CcColibri2Modify) m = cc_colibri2_modify_new("m");
    CcColibri2Endpoint *a = cc_colibri2_modify_add_endpoint(m, "a");
    a->channel_id = g_strdup("Zoë \"the\" <speaker> & co");
    a->audio_level_ext = 1;
    CcColibri2Endpoint *b = cc_colibri2_modify_add_endpoint(m, "b");
    b->has_payload_types = TRUE;
    cc_colibri2_payload_type_add(&b->audio, 111);
    b->audio_level_ext = 14;
    g_autoptr(xmpp_stanza_t) iq = parse_xml("<iq type='set'/>");
    cc_colibri2_modify_write(iq, m);
    char *buf;
    size_t len;
    ck_assert_int_eq(xmpp_stanza_to_text(iq, &buf, &len), XMPP_EOK);
    g_autofree char *xml = g_strndup(buf, len);
    xmpp_free(ctx, buf);
    g_autoptr(GError) error = NULL;
    g_autoptr(CcColibri2Modify) back = parse_modify(xml, &error);
    ck_assert_msg(back != NULL, "%s: %s", xml, error ? error->message : "");
    CcColibri2Endpoint *a2 = g_ptr_array_index(back->endpoints, 0);
    CcColibri2Endpoint *b2 = g_ptr_array_index(back->endpoints, 1);
    ck_assert_str_eq(a2->channel_id, a->channel_id);
    ck_assert_uint_eq(a2->audio_level_ext, 1);
    ck_assert(!a2->has_payload_types); /* only the extension: payload types unchanged */
    ck_assert_ptr_null(b2->channel_id);
    ck_assert_uint_eq(b2->audio_level_ext, 14);
    ck_assert(b2->has_payload_types);
    ck_assert(cc_colibri2_payload_type_has(&b2->audio, 111));

    /* other extensions and video's are ignored; an empty <media> still means "none" */
    g_autoptr(CcColibri2Modify) m3 = parse_endpoint_xml(
        "<endpoint id='x'><media type='audio'><rtp-hdrext id='3' uri='urn:example:other'/>"
        "</media><media type='video'><rtp-hdrext id='2' "
        "uri='urn:ietf:params:rtp-hdrext:ssrc-audio-level'/></media></endpoint>");
    ck_assert_uint_eq(first_endpoint(m3)->audio_level_ext, 0);
    ck_assert(!first_endpoint(m3)->has_payload_types);
    g_autoptr(CcColibri2Modify) m4 =
        parse_endpoint_xml("<endpoint id='x' channel-id='名前'><media type='video'/></endpoint>");
    ck_assert(first_endpoint(m4)->has_payload_types);
    ck_assert_str_eq(first_endpoint(m4)->channel_id, "名前");
    g_autofree char *longest = g_strnfill(CC_COLIBRI2_MAX_CHANNEL_ID_LEN, 'n');
    g_autofree char *inner = g_strdup_printf("<endpoint id='x' channel-id='%s'/>", longest);
    g_autoptr(CcColibri2Modify) m5 = parse_endpoint_xml(inner);
    ck_assert_str_eq(first_endpoint(m5)->channel_id, longest);
}
END_TEST

START_TEST(test_refused)
{
    /* channel-id: empty, control characters, too long */
    assert_refused("<endpoint id='x' channel-id=''/>");
    assert_refused("<endpoint id='x' channel-id='a&#9;b'/>");
    assert_refused("<endpoint id='x' channel-id='a&#10;b'/>");
    assert_refused("<endpoint id='x' channel-id='a&#x85;b'/>");
    g_autofree char *long_nick = g_strnfill(CC_COLIBRI2_MAX_CHANNEL_ID_LEN + 1, 'n');
    g_autofree char *long_inner = g_strdup_printf("<endpoint id='x' channel-id='%s'/>", long_nick);
    assert_refused(long_inner);
    /* the audio level extension: ids 1-255, once */
    assert_refused("<endpoint id='x'><media type='audio'><rtp-hdrext id='0' "
                   "uri='urn:ietf:params:rtp-hdrext:ssrc-audio-level'/></media></endpoint>");
    assert_refused("<endpoint id='x'><media type='audio'><rtp-hdrext id='256' "
                   "uri='urn:ietf:params:rtp-hdrext:ssrc-audio-level'/></media></endpoint>");
    assert_refused("<endpoint id='x'><media type='audio'><rtp-hdrext "
                   "uri='urn:ietf:params:rtp-hdrext:ssrc-audio-level'/></media></endpoint>");
    assert_refused("<endpoint id='x'><media type='audio'><rtp-hdrext id='1' "
                   "uri='urn:ietf:params:rtp-hdrext:ssrc-audio-level'/><rtp-hdrext id='2' "
                   "uri='urn:ietf:params:rtp-hdrext:ssrc-audio-level'/></media></endpoint>");
    GString *exts = g_string_new("<endpoint id='x'><media type='audio'>");
    for (int i = 1; i <= 17; i++)
        g_string_append_printf(exts, "<rtp-hdrext id='%d' uri='urn:x:%d'/>", i, i);
    g_string_append(exts, "</media></endpoint>");
    assert_refused(exts->str);
    g_string_free(exts, TRUE);
    assert_refused("<endpoint/>");
    assert_refused("<endpoint id=''/>");
    assert_refused("<endpoint id='has space'/>");
    assert_refused("<endpoint id='x' create='true' expire='true'/>");
    assert_refused("<endpoint id='x'/><endpoint id='x'/>");
    assert_refused("<endpoint id='x'>" ICE
                   "ufrag='ab' pwd='0123456789abcdefghijkl'/></transport></endpoint>");
    assert_refused("<endpoint id='x'>" ICE "ufrag='abcd' pwd='short'/></transport></endpoint>");
    assert_refused("<endpoint id='x'>" ICE
                   "ufrag='ab cd' pwd='0123456789abcdefghijkl'/></transport></endpoint>");
    const char *cands[] = {
        "port='0' ip='1.2.3.4' protocol='udp' type='host' component='1' priority='1' "
        "foundation='f'",
        "port='70000' ip='1.2.3.4' protocol='udp' type='host' component='1' priority='1' "
        "foundation='f'",
        "port='5' ip='not-an-ip' protocol='udp' type='host' component='1' priority='1' "
        "foundation='f'",
        "port='5' ip='1.2.3.4' type='host' component='1' priority='1' foundation='f'",
        "port='5' ip='1.2.3.4' protocol='udp' component='1' priority='1' foundation='f'",
        "port='5' ip='1.2.3.4' protocol='udp' type='host' component='0' priority='1' "
        "foundation='f'",
        "port='5' ip='1.2.3.4' protocol='udp' type='host' component='1' priority='4294967296' "
        "foundation='f'",
        "port='-5' ip='1.2.3.4' protocol='udp' type='host' component='1' priority='1' "
        "foundation='f'",
        "port='5' ip='1.2.3.4' protocol='udp' type='host' component='1' priority='1'",
    };
    for (guint i = 0; i < G_N_ELEMENTS(cands); i++) {
        g_autofree char *inner = g_strdup_printf(
            "<endpoint id='x'>" ICE "ufrag='abcd' pwd='0123456789abcdefghijkl'><candidate %s/>"
            "</transport></transport></endpoint>",
            cands[i]);
        assert_refused(inner);
    }
    /* the bridge channel's URL: one, a ws:// or wss:// URL of printable ASCII, bounded */
    assert_refused("<endpoint id='x'>" ICE "ufrag='abcd' pwd='0123456789abcdefghijkl'>"
                   "<web-socket xmlns='http://jitsi.org/protocol/colibri' url='http://a/b'/>"
                   "</transport></transport></endpoint>");
    assert_refused("<endpoint id='x'>" ICE "ufrag='abcd' pwd='0123456789abcdefghijkl'>"
                   "<web-socket xmlns='http://jitsi.org/protocol/colibri'/>"
                   "</transport></transport></endpoint>");
    assert_refused("<endpoint id='x'>" ICE "ufrag='abcd' pwd='0123456789abcdefghijkl'>"
                   "<web-socket xmlns='http://jitsi.org/protocol/colibri' url='wss://a/ b'/>"
                   "</transport></transport></endpoint>");
    assert_refused("<endpoint id='x'>" ICE "ufrag='abcd' pwd='0123456789abcdefghijkl'>"
                   "<web-socket xmlns='http://jitsi.org/protocol/colibri' url='wss://a/1'/>"
                   "<web-socket xmlns='http://jitsi.org/protocol/colibri' url='wss://a/2'/>"
                   "</transport></transport></endpoint>");
    g_autofree char *long_url = g_strnfill(CC_ICE_UDP_MAX_URL_LEN, 'u');
    g_autofree char *too_long =
        g_strdup_printf("<endpoint id='x'>" ICE "ufrag='abcd' pwd='0123456789abcdefghijkl'>"
                        "<web-socket xmlns='http://jitsi.org/protocol/colibri' url='wss://%s'/>"
                        "</transport></transport></endpoint>",
                        long_url);
    assert_refused(too_long);
    assert_refused("<endpoint id='x'>" SRC "<source" SSMA
                   " ssrc='0'/></media-source></sources></endpoint>");
    assert_refused("<endpoint id='x'>" SRC "<source" SSMA
                   " ssrc='4294967296'/></media-source></sources></endpoint>");
    assert_refused("<endpoint id='x'>" SRC "<source" SSMA
                   " ssrc='+1'/></media-source></sources></endpoint>");
    assert_refused("<endpoint id='x'>" SRC "<source" SSMA " ssrc='1'/><source" SSMA
                   " ssrc='1'/></media-source></sources></endpoint>");
    assert_refused("<endpoint id='x'>" SRC "</media-source></sources></endpoint>");
    assert_refused("<endpoint id='x'><sources><media-source type='data' id='v'><source" SSMA
                   " ssrc='1'/></media-source></sources></endpoint>");
    /* a group naming an SSRC its media-source does not list, and a FID of three */
    assert_refused("<endpoint id='x'>" SRC "<source" SSMA " ssrc='1'/><ssrc-group" SSMA
                   " semantics='FID'><source ssrc='1'/><source ssrc='2'/></ssrc-group>"
                   "</media-source></sources></endpoint>");
    assert_refused("<endpoint id='x'>" SRC "<source" SSMA " ssrc='1'/><source" SSMA
                   " ssrc='2'/><source" SSMA " ssrc='3'/><ssrc-group" SSMA
                   " semantics='FID'><source ssrc='1'/><source "
                   "ssrc='2'/><source ssrc='3'/></ssrc-group></media-source></sources></endpoint>");
    assert_refused(
        "<endpoint id='x'>" SRC "<source" SSMA " ssrc='1'/><ssrc-group" SSMA
        " semantics='XYZ'><source ssrc='1'/></ssrc-group></media-source></sources></endpoint>");
    /* too many endpoints */
    GString *many = g_string_new(NULL);
    for (int i = 0; i <= CC_COLIBRI2_MAX_ENDPOINTS; i++)
        g_string_append_printf(many, "<endpoint id='e%d'/>", i);
    assert_refused(many->str);
    g_string_free(many, TRUE);
    /* the conference itself */
    g_autoptr(GError) error = NULL;
    g_autoptr(CcColibri2Modify) m = parse_modify(
        "<iq><conference-modify xmlns='jitsi:colibri2' meeting-id='a/b'/></iq>", &error);
    ck_assert_ptr_null(m);
    g_autoptr(GError) e2 = NULL;
    g_autoptr(CcColibri2Modify) m2 =
        parse_modify("<iq><conference-modify xmlns='jitsi:colibri2' meeting-id='a' create='true' "
                     "expire='true'/></iq>",
                     &e2);
    ck_assert_ptr_null(m2);
}
END_TEST

static Suite *
colibri2_suite(void)
{
    Suite *s = suite_create("colibri2");
    TCase *tc = tcase_create("colibri2");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_examples);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_recording);
    tcase_add_test(tc, test_answer_parse);
    tcase_add_test(tc, test_request_write);
    tcase_add_test(tc, test_transport_skips_unusable_candidates);
    tcase_add_test(tc, test_channel_fields);
    tcase_add_test(tc, test_refused);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(colibri2_suite)
