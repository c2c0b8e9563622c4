/* conclave-test-peer: the client side of a bridge endpoint, for tests and benchmarks. A
 * libnice full agent (controlling, gathering only on the address given), an OpenSSL DTLS
 * client that checks the bridge's fingerprint, libsrtp2 sessions keyed from it, and the
 * streams of peer-media.c.
 *
 * It prints one JSON object per line on stdout (first its own transport, then events) and
 * reads one JSON command per line on stdin:
 *   {"cmd":"connect","ufrag":..,"pwd":..,"fingerprint":..,"candidates":[{"ip","port",
 *    "priority","foundation"}]}
 *   {"cmd":"expect","sources":[{"ssrc":N,"kind":"audio|video|rtx|foreign|bench"}]}
 *   {"cmd":"send","seconds":S}      {"cmd":"pli","ssrc":N}
 *   {"cmd":"hostile","what":"malformed|unsignalled","count":N}
 *   {"cmd":"report"}                {"cmd":"quit"} */
#include "peer.h"

#include "rtp.h"

#include <json-glib/json-glib.h>
#include <stdarg.h>
#include <stdio.h>

void
peer_emit(const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    vprintf(format, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

int
peer_send_raw(Peer *p, const guint8 *buf, gsize len)
{
    return nice_agent_send(p->agent, p->stream_id, 1, (guint)len, (const gchar *)buf) < 0 ? -1 : 0;
}

static int
dtls_send(const guint8 *buf, gsize len, gpointer data)
{
    return peer_send_raw(data, buf, len);
}

static void
check_dtls(Peer *p, BridgeDtlsState st)
{
    if (st == BRIDGE_DTLS_CONNECTED && p->srtp_in == NULL) {
        BridgeSrtpKey local, remote;
        bridge_dtls_srtp_keys(p->dtls, &local, &remote);
        p->srtp_in = bridge_srtp_new(&remote, FALSE, NULL);
        p->srtp_out = bridge_srtp_new(&local, TRUE, NULL);
        peer_emit("{\"event\":\"connected\",\"profile\":\"%s\"}",
                  bridge_srtp_profile_name(local.profile));
    } else if (st == BRIDGE_DTLS_FAILED) {
        BridgeDtlsFailure f = bridge_dtls_failure(p->dtls);
        peer_emit("{\"event\":\"dtls-failed\",\"reason\":\"%s\"}",
                  f == BRIDGE_DTLS_FAIL_FINGERPRINT ? "fingerprint" : "handshake");
        g_clear_pointer(&p->dtls, bridge_dtls_free);
    }
}

static void
on_recv(NiceAgent *agent, guint stream_id, guint component_id, guint len, gchar *data,
        gpointer user_data)
{
    Peer *p = user_data;
    guint8 *buf = (guint8 *)data;
    BridgePacketKind kind = bridge_demux_classify(buf, len);
    if (kind == BRIDGE_PKT_DTLS && p->dtls != NULL)
        check_dtls(p, bridge_dtls_receive(p->dtls, buf, len));
    else if (kind == BRIDGE_PKT_RTP || kind == BRIDGE_PKT_RTCP)
        peer_media_receive(p, buf, len, kind == BRIDGE_PKT_RTCP);
}

static void
on_state(NiceAgent *agent, guint stream_id, guint component_id, guint state, gpointer data)
{
    Peer *p = data;
    if ((state == NICE_COMPONENT_STATE_READY || state == NICE_COMPONENT_STATE_CONNECTED) &&
        !p->ice_ready) {
        p->ice_ready = TRUE;
        peer_emit("{\"event\":\"ice-connected\"}");
        if (p->dtls != NULL) {
            bridge_dtls_start(p->dtls);
            check_dtls(p, bridge_dtls_state(p->dtls));
        }
    } else if (state == NICE_COMPONENT_STATE_FAILED) {
        peer_emit("{\"event\":\"ice-failed\"}");
    }
}

static gboolean
on_dtls_timer(gpointer data)
{
    Peer *p = data;
    if (p->dtls != NULL && bridge_dtls_state(p->dtls) == BRIDGE_DTLS_HANDSHAKING)
        check_dtls(p, bridge_dtls_tick(p->dtls));
    return G_SOURCE_CONTINUE;
}

static void
print_transport(Peer *p)
{
    gchar *ufrag = NULL, *pwd = NULL;
    nice_agent_get_local_credentials(p->agent, p->stream_id, &ufrag, &pwd);
    GString *s = g_string_new(NULL);
    g_string_append_printf(s,
                           "{\"event\":\"transport\",\"ufrag\":\"%s\",\"pwd\":\"%s\","
                           "\"fingerprint\":\"%s\",\"candidates\":[",
                           ufrag, pwd, bridge_dtls_identity_fingerprint(p->identity));
    GSList *cands = nice_agent_get_local_candidates(p->agent, p->stream_id, 1);
    for (GSList *l = cands; l != NULL; l = l->next) {
        NiceCandidate *c = l->data;
        char ip[NICE_ADDRESS_STRING_LEN];
        nice_address_to_string(&c->addr, ip);
        g_string_append_printf(s,
                               "%s{\"foundation\":\"%s\",\"priority\":%u,\"ip\":\"%s\","
                               "\"port\":%u,\"type\":\"host\"}",
                               l == cands ? "" : ",", c->foundation, c->priority, ip,
                               nice_address_get_port(&c->addr));
    }
    g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
    g_string_append(s, "]}");
    peer_emit("%s", s->str);
    g_string_free(s, TRUE);
    g_free(ufrag);
    g_free(pwd);
}

static void
cmd_connect(Peer *p, JsonObject *o)
{
    const char *ufrag = json_object_get_string_member_with_default(o, "ufrag", "");
    const char *pwd = json_object_get_string_member_with_default(o, "pwd", "");
    const char *fp = json_object_get_string_member_with_default(o, "fingerprint", "");
    p->dtls = bridge_dtls_new(p->identity, !p->dtls_server, dtls_send, p);
    if (!bridge_dtls_set_remote_fingerprint(p->dtls, "sha-256", fp)) {
        peer_emit("{\"event\":\"error\",\"message\":\"bad fingerprint\"}");
        return;
    }
    nice_agent_set_remote_credentials(p->agent, p->stream_id, ufrag, pwd);
    GSList *list = NULL;
    JsonArray *cands = json_object_get_array_member(o, "candidates");
    for (guint i = 0; cands != NULL && i < json_array_get_length(cands); i++) {
        JsonObject *c = json_array_get_object_element(cands, i);
        NiceCandidate *nc = nice_candidate_new(NICE_CANDIDATE_TYPE_HOST);
        nc->component_id = 1;
        nc->stream_id = p->stream_id;
        nc->transport = NICE_CANDIDATE_TRANSPORT_UDP;
        nc->priority = (guint32)json_object_get_int_member_with_default(c, "priority", 1);
        g_strlcpy(nc->foundation, json_object_get_string_member_with_default(c, "foundation", "1"),
                  sizeof nc->foundation);
        nice_address_set_from_string(&nc->addr,
                                     json_object_get_string_member_with_default(c, "ip", ""));
        nice_address_set_port(&nc->addr,
                              (guint)json_object_get_int_member_with_default(c, "port", 0));
        list = g_slist_prepend(list, nc);
    }
    nice_agent_set_remote_candidates(p->agent, p->stream_id, 1, list);
    g_slist_free_full(list, (GDestroyNotify)nice_candidate_free);
    if (p->ice_ready) {
        bridge_dtls_start(p->dtls);
        check_dtls(p, bridge_dtls_state(p->dtls));
    }
}

static void
cmd_expect(Peer *p, JsonObject *o)
{
    JsonArray *a = json_object_get_array_member(o, "sources");
    for (guint i = 0; a != NULL && i < json_array_get_length(a) && p->n_rx < PEER_MAX_STREAMS;
         i++) {
        JsonObject *s = json_array_get_object_element(a, i);
        PeerRxStream *r = &p->rx[p->n_rx];
        if (!peer_kind_parse(json_object_get_string_member_with_default(s, "kind", ""), &r->kind))
            continue;
        r->ssrc = (guint32)json_object_get_int_member_with_default(s, "ssrc", 0);
        r->highest = -1;
        p->n_rx++;
    }
}

static void
run_command(Peer *p, const char *line)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    if (!json_parser_load_from_data(parser, line, -1, NULL) ||
        !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
        peer_emit("{\"event\":\"error\",\"message\":\"not a JSON object\"}");
        return;
    }
    JsonObject *o = json_node_get_object(json_parser_get_root(parser));
    const char *cmd = json_object_get_string_member_with_default(o, "cmd", "");
    if (g_str_equal(cmd, "connect"))
        cmd_connect(p, o);
    else if (g_str_equal(cmd, "expect"))
        cmd_expect(p, o);
    else if (g_str_equal(cmd, "send") && p->srtp_out != NULL)
        peer_media_start(p, json_object_get_double_member_with_default(o, "seconds", 1.0));
    else if (g_str_equal(cmd, "pli") && p->srtp_out != NULL)
        peer_media_send_pli(p, (guint32)json_object_get_int_member_with_default(o, "ssrc", 0));
    else if (g_str_equal(cmd, "hostile") && p->srtp_out != NULL)
        peer_media_send_hostile(p, json_object_get_string_member_with_default(o, "what", ""),
                                (guint)json_object_get_int_member_with_default(o, "count", 1));
    else if (g_str_equal(cmd, "report"))
        peer_media_report(p);
    else if (g_str_equal(cmd, "quit"))
        g_main_loop_quit(p->loop);
    else
        peer_emit("{\"event\":\"error\",\"message\":\"unknown or premature command\"}");
}

static gboolean
on_stdin(GIOChannel *ch, GIOCondition cond, gpointer data)
{
    Peer *p = data;
    g_autofree char *line = NULL;
    GIOStatus st = g_io_channel_read_line(ch, &line, NULL, NULL, NULL);
    if (st == G_IO_STATUS_EOF || st == G_IO_STATUS_ERROR) {
        g_main_loop_quit(p->loop);
        return G_SOURCE_REMOVE;
    }
    if (line != NULL && *g_strstrip(line) != '\0')
        run_command(p, line);
    return G_SOURCE_CONTINUE;
}

int
main(int argc, char **argv)
{
    gint audio = 0, video = 0, rtx = 0, drop_every = 0, bench_rate = 0;
    gboolean dtls_server = FALSE;
    g_autofree char *address = NULL, *profiles = NULL, *video_file = NULL;
    GOptionEntry entries[] = {
        {"audio-ssrc", 0, 0, G_OPTION_ARG_INT, &audio, "SSRC of the audio stream", "N"},
        {"video-ssrc", 0, 0, G_OPTION_ARG_INT, &video, "SSRC of the video stream", "N"},
        {"rtx-ssrc", 0, 0, G_OPTION_ARG_INT, &rtx, "SSRC of the video RTX stream", "N"},
        {"drop-every", 0, 0, G_OPTION_ARG_INT, &drop_every,
         "Drop every Nth received video packet and NACK it", "N"},
        {"address", 0, 0, G_OPTION_ARG_STRING, &address, "Local address (127.0.0.1)", "IP"},
        {"profiles", 0, 0, G_OPTION_ARG_STRING, &profiles, "use_srtp profiles offered", "LIST"},
        {"dtls-server", 0, 0, G_OPTION_ARG_NONE, &dtls_server,
         "Be the DTLS server (signal setup='passive'): the bridge connects", NULL},
        {"video-file", 0, 0, G_OPTION_ARG_FILENAME, &video_file,
         "Replay VP8 RTP payloads from FILE on the video SSRC", "FILE"},
        {"bench-rate", 0, 0, G_OPTION_ARG_INT, &bench_rate,
         "Send only timestamped benchmark packets, N per second, on the video SSRC", "N"},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- Conclave bridge test peer");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "conclave-test-peer: %s\n", error->message);
        return 2;
    }
    bridge_srtp_global_init();
    Peer p = {0};
    p.audio_ssrc = (guint32)audio;
    p.video_ssrc = (guint32)video;
    p.rtx_ssrc = (guint32)rtx;
    p.drop_every = (guint)drop_every;
    p.dtls_server = dtls_server;
    p.bench_rate = (guint)MAX(bench_rate, 0);
    p.latency_hist = g_new0(guint64, PEER_LATENCY_BUCKETS);
    if (video_file != NULL) {
        g_autofree char *data = NULL;
        gsize len = 0;
        if (!g_file_get_contents(video_file, &data, &len, &error)) {
            fprintf(stderr, "conclave-test-peer: %s\n", error->message);
            return 1;
        }
        p.video_file = g_bytes_new_take(g_steal_pointer(&data), len);
    }
    p.requested = g_hash_table_new(g_direct_hash, g_direct_equal);
    p.plis = g_hash_table_new(g_direct_hash, g_direct_equal);
    p.identity = bridge_dtls_identity_new(profiles, &error);
    if (p.identity == NULL) {
        fprintf(stderr, "conclave-test-peer: %s\n", error->message);
        return 1;
    }
    p.loop = g_main_loop_new(NULL, FALSE);
    p.agent = nice_agent_new_full(NULL, NICE_COMPATIBILITY_RFC5245, NICE_AGENT_OPTION_NONE);
    g_object_set(p.agent, "upnp", FALSE, "controlling-mode", TRUE, "ice-tcp", FALSE, NULL);
    NiceAddress local;
    nice_address_init(&local);
    nice_address_set_from_string(&local, address ? address : "127.0.0.1");
    nice_agent_add_local_address(p.agent, &local);
    p.stream_id = nice_agent_add_stream(p.agent, 1);
    g_signal_connect(p.agent, "component-state-changed", G_CALLBACK(on_state), &p);
    nice_agent_attach_recv(p.agent, p.stream_id, 1, NULL, on_recv, &p);
    if (!nice_agent_gather_candidates(p.agent, p.stream_id)) {
        fprintf(stderr, "conclave-test-peer: cannot gather candidates\n");
        return 1;
    }
    print_transport(&p);
    GIOChannel *in = g_io_channel_unix_new(0);
    guint in_watch = g_io_add_watch(in, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, &p);
    guint timer = g_timeout_add(50, on_dtls_timer, &p);
    g_main_loop_run(p.loop);
    g_source_remove(timer);
    g_source_remove(in_watch);
    g_io_channel_unref(in);
    if (p.send_timer)
        g_source_remove(p.send_timer);
    if (p.sr_timer)
        g_source_remove(p.sr_timer);
    nice_agent_attach_recv(p.agent, p.stream_id, 1, NULL, NULL, NULL);
    g_signal_handlers_disconnect_by_data(p.agent, &p);
    nice_agent_remove_stream(p.agent, p.stream_id);
    g_object_unref(p.agent);
    bridge_dtls_free(p.dtls);
    bridge_srtp_free(p.srtp_in);
    bridge_srtp_free(p.srtp_out);
    bridge_dtls_identity_free(p.identity);
    g_hash_table_unref(p.requested);
    g_hash_table_unref(p.plis);
    g_free(p.latency_hist);
    if (p.video_file != NULL)
        g_bytes_unref(p.video_file);
    g_main_loop_unref(p.loop);
    return 0;
}
