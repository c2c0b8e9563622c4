/* Unit tests of bridge/colibri-apply.c: a conference-modify is applied whole or not at all.
 * A conference with three endpoints is the fixture; a request made of elements that are
 * each valid (expire, create with transport and sources, transport + media + sources,
 * trickled candidates, sources + occupant id, a second create) gets one faulty element
 * inserted at every position N, for every kind of fault (unknown endpoint, existing
 * endpoint, SSRC conflict, second transport, bad fingerprint, no ICE port left for the
 * Nth create; an id given twice is the parser's refusal, before any of this): the request is
 * refused with the fault's reason and the conference afterwards equals the conference before, down
 * to each endpoint's remote candidates. The valid elements alone apply. A seeded random walk of
 * requests checks the same property, and that an accepted request did what it said. Real ICE agents
 * on 127.0.0.1: port exhaustion is produced by holding the range's ports. */
#include "../check-main.h"
#include "cc-autoptr.h"
#include "colibri-apply.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define N_PORTS 8
#define FP                                                                                         \
    "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:"   \
    "CD:EF"

static xmpp_ctx_t *ctx;
static CcMetrics *metrics;
static BridgeStats stats;
static BridgeMediaConfig config;
static BridgeWorkerPool *pool;
static BridgeConference *conf;
static guint port_base;
static int blockers[N_PORTS]; /* our sockets on the range's ports not held by endpoints */

static int
bind_udp(guint port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((guint16)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A range of N_PORTS free ports, checked by binding each. */
static guint
free_range(void)
{
    for (int attempt = 0; attempt < 200; attempt++) {
        guint base = 20000 + (guint)g_random_int_range(0, 40000);
        int fds[N_PORTS];
        guint n = 0;
        while (n < N_PORTS && (fds[n] = bind_udp(base + n)) >= 0)
            n++;
        for (guint i = 0; i < n; i++)
            close(fds[i]);
        if (n == N_PORTS)
            return base;
    }
    ck_abort_msg("no free port range");
    return 0;
}

/* Holds every port of the range that no endpoint holds, but `leave` of them. */
static void
hold_ports(guint leave)
{
    for (guint i = 0; i < N_PORTS; i++) {
        if (blockers[i] < 0)
            blockers[i] = bind_udp(port_base + i);
    }
    for (guint i = 0; i < N_PORTS && leave > 0; i++) {
        if (blockers[i] >= 0) {
            close(blockers[i]);
            blockers[i] = -1;
            leave--;
        }
    }
}

static void
release_ports(void)
{
    for (guint i = 0; i < N_PORTS; i++) {
        if (blockers[i] >= 0)
            close(blockers[i]);
        blockers[i] = -1;
    }
}

/* --- requests ------------------------------------------------------------------------------ */

static char *
transport(const char *ufrag, const char *fp, guint port)
{
    return g_strdup_printf(
        "<transport><transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='%s' "
        "pwd='Z1x2c3v4b5n6m7a8s9d0f1'><fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' "
        "hash='sha-256' setup='active'>%s</fingerprint><candidate foundation='1' component='1' "
        "protocol='udp' priority='2122260223' ip='127.0.0.1' port='%u' type='host' "
        "generation='0' id='k%u'/></transport></transport>",
        ufrag, fp, port, port);
}

static char *
sources(guint32 ssrc)
{
    return g_strdup_printf(
        "<sources><media-source type='audio' id='s%u'><source "
        "xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='%u'/></media-source></sources>",
        ssrc, ssrc);
}

static const char *
media(void)
{
    return "<media type='audio'><payload-type xmlns='urn:xmpp:jingle:apps:rtp:1' id='111'/>"
           "<rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='1' "
           "uri='urn:ietf:params:rtp-hdrext:ssrc-audio-level'/></media>";
}

/* Applies a conference-modify holding `body` (endpoint elements); returns the colibri2
 * reason of the refusal, or NULL when it applied. */
static const char *
apply(const char *body)
{
    g_autofree char *xml = g_strdup_printf(
        "<conference-modify xmlns='jitsi:colibri2' meeting-id='m1'>%s</conference-modify>", body);
    g_autoptr(xmpp_stanza_t) st = xmpp_stanza_new_from_string(ctx, xml);
    ck_assert_ptr_nonnull(st);
    g_autoptr(GError) error = NULL;
    g_autoptr(CcColibri2Modify) m = cc_colibri2_modify_parse(st, &error);
    ck_assert_msg(m != NULL, "%s: %s", xml, error ? error->message : "");
    BridgeColibriApply a = {.conf = conf, .modify = m};
    a.answers = g_ptr_array_new_with_free_func((GDestroyNotify)cc_ice_udp_transport_free);
    g_ptr_array_set_size(a.answers, m->endpoints->len);
    bridge_worker_call(conf->worker, bridge_colibri_apply, &a);
    for (guint i = 0; i < m->endpoints->len && a.failure.reason == NULL; i++) {
        const CcColibri2Endpoint *req = g_ptr_array_index(m->endpoints, i);
        ck_assert_int_eq(req->create, g_ptr_array_index(a.answers, i) != NULL);
    }
    g_ptr_array_unref(a.answers);
    const char *reason = a.failure.reason;
    bridge_colibri_failure_clear(&a.failure);
    return reason;
}

/* --- the conference's state, as text ------------------------------------------------------- */

static gint
by_id(gconstpointer a, gconstpointer b)
{
    return strcmp((*(BridgeEndpoint *const *)a)->id, (*(BridgeEndpoint *const *)b)->id);
}

static void
snapshot_on_worker(gpointer data)
{
    GString *s = data;
    g_autoptr(GPtrArray) eps = g_ptr_array_copy(conf->list, NULL, NULL);
    g_ptr_array_sort(eps, by_id);
    g_string_append_printf(s, "n=%u/%u workers=%d\n", eps->len, g_hash_table_size(conf->endpoints),
                           conf->worker->endpoints);
    for (guint i = 0; i < eps->len; i++) {
        BridgeEndpoint *ep = g_ptr_array_index(eps, i);
        GSList *cands = nice_agent_get_remote_candidates(ep->agent, ep->stream_id, 1);
        g_string_append_printf(s,
                               "%s remote=%d ufrag=%s dtls=%d cands=%u pt=%d:%" G_GINT64_MODIFIER
                               "x:%" G_GINT64_MODIFIER "x ext=%u occ=%s ssrcs=",
                               ep->id, ep->remote_set, ep->remote_ufrag ? ep->remote_ufrag : "-",
                               ep->dtls != NULL, g_slist_length(cands), ep->pt_filter,
                               (guint64)ep->accepted_pts.bits[0], (guint64)ep->accepted_pts.bits[1],
                               ep->audio_level_ext, ep->occupant_id ? ep->occupant_id : "-");
        g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
        for (guint j = 0; j < ep->n_ssrcs; j++) {
            BridgeEndpoint *owner =
                g_hash_table_lookup(conf->ssrc_owner, GUINT_TO_POINTER(ep->ssrcs[j]));
            g_string_append_printf(s, "%u(%s),", ep->ssrcs[j], owner ? owner->id : "-");
        }
        g_string_append_c(s, '\n');
    }
    g_string_append_printf(s, "owned=%u\n", g_hash_table_size(conf->ssrc_owner));
}

static char *
snapshot(void)
{
    GString *s = g_string_new(NULL);
    bridge_worker_call(conf->worker, snapshot_on_worker, s);
    return g_string_free(s, FALSE);
}

/* --- fixture ------------------------------------------------------------------------------- */

static void
setup(void)
{
    xmpp_initialize();
    ctx = xmpp_ctx_new(NULL, NULL);
    metrics = cc_metrics_new();
    bridge_stats_init(&stats, metrics);
    static char *addresses[] = {(char *)"127.0.0.1", NULL};
    port_base = free_range();
    config = (BridgeMediaConfig){.addresses = addresses,
                                 .port_min = port_base,
                                 .port_max = port_base + N_PORTS - 1,
                                 .media_timeout_s = 30,
                                 .connect_timeout_s = 30,
                                 .empty_grace_s = 30,
                                 .stats = &stats};
    config.identity = bridge_dtls_identity_new(NULL, NULL);
    pool = bridge_worker_pool_new(1, metrics, &stats);
    conf = bridge_conference_new("m1", bridge_worker_pool_get(pool, 0), &config);
    for (guint i = 0; i < N_PORTS; i++)
        blockers[i] = -1;
    /* a: transport, sources, media, occupant id; b: created only; c and x: transport */
    g_autofree char *ta = transport("ufA1", FP, 40001);
    g_autofree char *sa = sources(1001);
    g_autofree char *tc = transport("ufC1", FP, 40003);
    g_autofree char *tx = transport("ufX0", FP, 40005);
    g_autofree char *body = g_strdup_printf(
        "<endpoint id='a' create='true' occupant-id='occ-a'>%s%s%s</endpoint>"
        "<endpoint id='b' create='true'/><endpoint id='c' create='true'>%s</endpoint>"
        "<endpoint id='x' create='true'>%s</endpoint>",
        media(), ta, sa, tc, tx);
    ck_assert_ptr_null(apply(body));
}

static void
shutdown_on_worker(gpointer data)
{
    bridge_conference_shutdown(data);
}

static void
teardown(void)
{
    release_ports();
    bridge_worker_call(conf->worker, shutdown_on_worker, conf);
    bridge_conference_free(conf);
    bridge_worker_pool_free(pool);
    bridge_dtls_identity_free(config.identity);
    cc_metrics_free(metrics);
    xmpp_ctx_free(ctx);
    xmpp_shutdown();
}

/* --- each fault at each position ----------------------------------------------------------- */

/* Elements that are valid alone and together; `creates` counts the endpoints each makes. */
static GPtrArray *
valid_elements(void)
{
    GPtrArray *e = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *td = transport("ufD1", FP, 40004);
    g_autofree char *sd = sources(5001);
    g_autofree char *tb = transport("ufB1", FP, 40002);
    g_autofree char *sb = sources(3001);
    g_autofree char *tc = transport("ufC1", FP, 40033); /* c's ufrag: a trickled candidate */
    g_autofree char *sc = sources(4001);
    g_ptr_array_add(e, g_strdup("<endpoint id='a' expire='true'/>"));
    g_ptr_array_add(e, g_strdup_printf("<endpoint id='d' create='true'>%s%s</endpoint>", td, sd));
    g_ptr_array_add(e, g_strdup_printf("<endpoint id='b'>%s%s%s</endpoint>", media(), tb, sb));
    g_ptr_array_add(
        e, g_strdup_printf("<endpoint id='c' occupant-id='occ-c'>%s%s</endpoint>", tc, sc));
    g_ptr_array_add(e, g_strdup("<endpoint id='c2' create='true'/>"));
    return e;
}

typedef struct {
    const char *name, *reason;
    char *xml;
} Fault;

static GPtrArray *
faults(void)
{
    GPtrArray *f = g_ptr_array_new();
    static Fault list[7];
    g_autofree char *s1001 = sources(1001);
    g_autofree char *s5001 = sources(5001);
    g_autofree char *new_tc = transport("ufC9", FP, 40099);
    g_autofree char *bad_fp = transport("ufG1", "01:23", 40100);
    list[0] = (Fault){"unknown endpoint", "unknown_endpoint",
                      g_strdup("<endpoint id='zz' occupant-id='x'/>")};
    list[1] = (Fault){"existing endpoint", "endpoint_already_exists",
                      g_strdup("<endpoint id='x' create='true'/>")};
    /* a's SSRC, even where the same request expires a */
    list[2] = (Fault){"ssrc of another endpoint", "bad_request",
                      g_strdup_printf("<endpoint id='f' create='true'>%s</endpoint>", s1001)};
    /* d's SSRC, claimed by another element of the same request */
    list[3] = (Fault){"ssrc claimed twice", "bad_request",
                      g_strdup_printf("<endpoint id='f' create='true'>%s</endpoint>", s5001)};
    list[4] = (Fault){"second transport", "bad_request",
                      g_strdup_printf("<endpoint id='x'>%s</endpoint>", new_tc)};
    list[5] = (Fault){"bad fingerprint", "bad_request",
                      g_strdup_printf("<endpoint id='g' create='true'>%s</endpoint>", bad_fp)};
    list[6] =
        (Fault){"no ICE port left", "internal_error", g_strdup("<endpoint id='p' create='true'/>")};
    for (guint i = 0; i < G_N_ELEMENTS(list); i++)
        g_ptr_array_add(f, &list[i]);
    return f;
}

START_TEST(test_each_fault_at_each_position)
{
    g_autoptr(GPtrArray) valid = valid_elements();
    g_autoptr(GPtrArray) kinds = faults();
    g_autofree char *before = snapshot();
    guint cases = 0;
    for (guint k = 0; k < kinds->len; k++) {
        Fault *f = g_ptr_array_index(kinds, k);
        gboolean ports = strcmp(f->reason, "internal_error") == 0;
        for (guint n = 0; n <= valid->len; n++) {
            /* "ssrc claimed twice" needs d before it. */
            if (strcmp(f->name, "ssrc claimed twice") == 0 && n < 2)
                continue;
            GString *body = g_string_new(NULL);
            guint creates_before = 0;
            for (guint i = 0; i <= valid->len; i++) {
                if (i == n)
                    g_string_append(body, f->xml);
                if (i < valid->len) {
                    const char *e = g_ptr_array_index(valid, i);
                    g_string_append(body, e);
                    creates_before += i < n && strstr(e, "create='true'") != NULL;
                }
            }
            /* The faulty create is the first that finds no port. */
            if (ports)
                hold_ports(creates_before);
            const char *reason = apply(body->str);
            release_ports();
            ck_assert_msg(g_strcmp0(reason, f->reason) == 0, "%s at %u: %s instead of %s", f->name,
                          n, reason ? reason : "success", f->reason);
            g_autofree char *after = snapshot();
            ck_assert_msg(strcmp(before, after) == 0, "%s at %u changed the conference:\n%s\n%s",
                          f->name, n, before, after);
            g_string_free(body, TRUE);
            cases++;
        }
        g_free(f->xml);
    }
    ck_assert_uint_eq(cases, 40); /* 7 faults x 6 positions, 2 of them meaningless */
    /* The valid elements alone apply, and did what they say. */
    GString *all = g_string_new(NULL);
    for (guint i = 0; i < valid->len; i++)
        g_string_append(all, g_ptr_array_index(valid, i));
    ck_assert_ptr_null(apply(all->str));
    g_string_free(all, TRUE);
    g_autofree char *done = snapshot();
    ck_assert_msg(strstr(done, "n=5/5 workers=5\n") != NULL, "%s", done);
    ck_assert_msg(strstr(done, "\na ") == NULL, "%s", done);
    ck_assert_msg(strstr(done, "b remote=1 ufrag=ufB1 dtls=1 cands=1 pt=1:") != NULL, "%s", done);
    ck_assert_msg(strstr(done, "c remote=1 ufrag=ufC1 dtls=1 cands=2 ") != NULL, "%s", done);
    ck_assert_msg(strstr(done, "occ=occ-c ssrcs=4001(c),") != NULL, "%s", done);
    ck_assert_msg(strstr(done, "c2 remote=0 ufrag=- dtls=0 cands=0 ") != NULL, "%s", done);
    ck_assert_msg(strstr(done, "d remote=1 ufrag=ufD1 dtls=1 cands=1 ") != NULL, "%s", done);
    ck_assert_msg(strstr(done, "ssrcs=5001(d),") != NULL, "%s", done);
}
END_TEST

/* --- a random walk ------------------------------------------------------------------------- */

static const char *const ids[] = {"a", "b", "c", "d", "e"};

/* One random endpoint element over a small space of ids, SSRCs and transports, so that
 * conflicts, unknown endpoints and duplicates are frequent. */
static char *
random_element(GRand *rng, const char *id, guint32 *ssrc_out)
{
    *ssrc_out = 0;
    switch (g_rand_int_range(rng, 0, 5)) {
    case 0:
        return g_strdup_printf("<endpoint id='%s' expire='true'/>", id);
    case 1:
        return g_strdup_printf("<endpoint id='%s' create='true'/>", id);
    case 2: {
        g_autofree char *t = transport(g_rand_boolean(rng) ? "ufX1" : "ufY1",
                                       g_rand_int_range(rng, 0, 8) == 0 ? "00" : FP, 41000);
        return g_strdup_printf("<endpoint id='%s'>%s</endpoint>", id, t);
    }
    case 3: {
        *ssrc_out = (guint32)g_rand_int_range(rng, 1, 6);
        g_autofree char *s = sources(*ssrc_out);
        return g_strdup_printf("<endpoint id='%s'>%s</endpoint>", id, s);
    }
    default:
        return g_strdup_printf("<endpoint id='%s' occupant-id='o%u'>%s</endpoint>", id,
                               g_rand_int_range(rng, 0, 9), media());
    }
}

START_TEST(test_random_requests)
{
    g_autoptr(GRand) rng = g_rand_new_with_seed(20261203);
    guint accepted = 0, refused = 0;
    for (guint round = 0; round < 300; round++) {
        guint n = (guint)g_rand_int_range(rng, 1, 5);
        GString *body = g_string_new(NULL);
        const char *el_ids[4];
        guint32 el_ssrcs[4];
        gboolean el_expire[4];
        /* distinct ids: a request naming one twice is refused by the parser */
        guint first = (guint)g_rand_int_range(rng, 0, G_N_ELEMENTS(ids));
        for (guint i = 0; i < n; i++) {
            el_ids[i] = ids[(first + i) % G_N_ELEMENTS(ids)];
            g_autofree char *e = random_element(rng, el_ids[i], &el_ssrcs[i]);
            el_expire[i] = strstr(e, "expire='true'") != NULL;
            g_string_append(body, e);
        }
        /* Sometimes one ICE port is left, or none. */
        if (g_rand_int_range(rng, 0, 3) == 0)
            hold_ports((guint)g_rand_int_range(rng, 0, 2));
        g_autofree char *before = snapshot();
        const char *reason = apply(body->str);
        release_ports();
        g_autofree char *after = snapshot();
        if (reason != NULL) {
            refused++;
            ck_assert_msg(strcmp(before, after) == 0, "refused (%s) but changed:\n%s\n%s\n%s",
                          reason, body->str, before, after);
        } else {
            accepted++;
            for (guint i = 0; i < n; i++) {
                g_autofree char *line = g_strdup_printf("\n%s remote=", el_ids[i]);
                ck_assert_msg((strstr(after, line) == NULL) == el_expire[i], "%s\n%s", body->str,
                              after);
                if (el_ssrcs[i] != 0) {
                    g_autofree char *own = g_strdup_printf("%u(%s),", el_ssrcs[i], el_ids[i]);
                    ck_assert_msg(strstr(after, own) != NULL, "%s\n%s", body->str, after);
                }
            }
        }
        g_string_free(body, TRUE);
    }
    /* Both outcomes were exercised, many times. */
    ck_assert_uint_ge(accepted, 30);
    ck_assert_uint_ge(refused, 30);
}
END_TEST

static Suite *
colibri_apply_suite(void)
{
    Suite *s = suite_create("colibri-apply");
    TCase *tc = tcase_create("atomic");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_each_fault_at_each_position);
    tcase_add_test(tc, test_random_requests);
    suite_add_tcase(s, tc);
    return s;
}

CC_TEST_MAIN(colibri_apply_suite)
