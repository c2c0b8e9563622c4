/* conclave-test-peer: the client side of a bridge endpoint, for tests and benchmarks. A
 * libnice full agent (controlling unless --ice-controlled, gathering only on the address given), an
 * OpenSSL DTLS client that checks the bridge's fingerprint, libsrtp2 sessions keyed from it, and
 * the streams of peer-media.c.
 *
 * It prints one JSON object per line on stdout (first its own transport, then events) and
 * reads one JSON command per line on stdin:
 *   {"cmd":"connect","ufrag":..,"pwd":..,"fingerprint":..,"candidates":[{"ip","port",
 *    "priority","foundation"}]}
 *   {"cmd":"expect","sources":[{"ssrc":N,"kind":"audio|video|rtx|foreign|bench"}]}
 *       (an SSRC already expected, e.g. one offered over Jingle, takes the new kind)
 *   {"cmd":"send","seconds":S}      {"cmd":"pli","ssrc":N}
 * {"cmd":"nack","ssrc":N,"seq":S[,"repeat":R]}
 *   {"cmd":"audio-level","level":N} (RFC 6464 level 0..127 in audio from now on; -1: none)
 *   {"cmd":"hostile","what":"malformed|unsignalled","count":N}
 *   {"cmd":"report"}                {"cmd":"reset-rx"}        {"cmd":"quit"}
 *
 * With --xmpp-jid it logs in to an XMPP server instead and has no transport until a Jingle
 * session-initiate arrives (see peer-xmpp.c for its commands and events). */
#include "peer.h"

#include "rtp.h"

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

JsonObject *
peer_event_new(const char *name)
{
    JsonObject *o = json_object_new();
    json_object_set_string_member(o, "event", name);
    return o;
}

void
peer_emit_object(JsonObject *event)
{
    json_object_set_int_member(event, "t_us", g_get_monotonic_time());
    g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(root, event);
    g_autoptr(JsonGenerator) gen = json_generator_new();
    json_generator_set_root(gen, root);
    g_autofree char *text = json_generator_to_data(gen, NULL);
    peer_emit("%s", text);
}

void
peer_json_append_string(GString *out, const char *text)
{
    g_string_append_c(out, '"');
    for (const char *c = text; *c != '\0'; c++) {
        if (*c == '"' || *c == '\\')
            g_string_append_printf(out, "\\%c", *c);
        else if ((guchar)*c < 0x20)
            g_string_append_printf(out, "\\u%04x", (guchar)*c);
        else
            g_string_append_c(out, *c);
    }
    g_string_append_c(out, '"');
}

int
peer_send_raw(Peer *p, const guint8 *buf, gsize len)
{
    if (p->agent == NULL)
        return -1;
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
        peer_emit("{\"event\":\"connected\",\"profile\":\"%s\",\"t_us\":%" G_GINT64_FORMAT "}",
                  bridge_srtp_profile_name(local.profile), g_get_monotonic_time());
        if (p->send_on_connect > 0)
            peer_media_start(p, p->send_on_connect);
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
        peer_emit("{\"event\":\"ice-connected\",\"t_us\":%" G_GINT64_FORMAT "}",
                  g_get_monotonic_time());
        if (p->dtls != NULL) {
            bridge_dtls_start(p->dtls);
            check_dtls(p, bridge_dtls_state(p->dtls));
        }
    } else if (state == NICE_COMPONENT_STATE_FAILED) {
        peer_emit("{\"event\":\"ice-failed\"}");
    }
}

static gboolean
on_gathered_idle(gpointer data)
{
    Peer *p = data;
    p->gathered_idle = 0;
    if (p->xmpp != NULL)
        peer_xmpp_gathered(p->xmpp);
    return G_SOURCE_REMOVE;
}

static void
on_gathering_done(NiceAgent *agent, guint stream_id, gpointer data)
{
    Peer *p = data;
    if (p->xmpp != NULL && p->gathered_idle == 0)
        p->gathered_idle = g_idle_add(on_gathered_idle, p);
}

static gboolean
on_dtls_timer(gpointer data)
{
    Peer *p = data;
    if (p->dtls != NULL && bridge_dtls_state(p->dtls) == BRIDGE_DTLS_HANDSHAKING)
        check_dtls(p, bridge_dtls_tick(p->dtls));
    return G_SOURCE_CONTINUE;
}

gboolean
peer_session_new(Peer *p)
{
    g_return_val_if_fail(p->agent == NULL, FALSE);
    p->agent = nice_agent_new_full(NULL, NICE_COMPATIBILITY_RFC5245, NICE_AGENT_OPTION_NONE);
    g_object_set(p->agent, "upnp", FALSE, "controlling-mode", !p->ice_controlled, "ice-tcp", FALSE,
                 NULL);
    NiceAddress local;
    nice_address_init(&local);
    nice_address_set_from_string(&local, p->address ? p->address : "127.0.0.1");
    nice_agent_add_local_address(p->agent, &local);
    p->stream_id = nice_agent_add_stream(p->agent, 1);
    g_signal_connect(p->agent, "component-state-changed", G_CALLBACK(on_state), p);
    g_signal_connect(p->agent, "candidate-gathering-done", G_CALLBACK(on_gathering_done), p);
    nice_agent_attach_recv(p->agent, p->stream_id, 1, NULL, on_recv, p);
    if (!nice_agent_gather_candidates(p->agent, p->stream_id)) {
        peer_session_free(p);
        return FALSE;
    }
    return TRUE;
}

static void
fill_candidates(Peer *p, GSList *candidates)
{
    for (GSList *l = candidates; l != NULL; l = l->next) {
        NiceCandidate *c = l->data;
        c->stream_id = p->stream_id;
        c->component_id = 1;
    }
}

gboolean
peer_session_set_remote(Peer *p, const char *ufrag, const char *pwd, const char *fingerprint,
                        GSList *candidates)
{
    g_clear_pointer(&p->dtls, bridge_dtls_free);
    p->dtls = bridge_dtls_new(p->identity, !p->dtls_server, dtls_send, p);
    if (!bridge_dtls_set_remote_fingerprint(p->dtls, "sha-256", fingerprint))
        return FALSE;
    nice_agent_set_remote_credentials(p->agent, p->stream_id, ufrag, pwd);
    peer_session_add_candidates(p, candidates);
    if (p->ice_ready) {
        bridge_dtls_start(p->dtls);
        check_dtls(p, bridge_dtls_state(p->dtls));
    }
    return TRUE;
}

void
peer_session_add_candidates(Peer *p, GSList *candidates)
{
    if (p->agent == NULL || candidates == NULL)
        return;
    fill_candidates(p, candidates);
    nice_agent_set_remote_candidates(p->agent, p->stream_id, 1, candidates);
}

void
peer_session_free(Peer *p)
{
    peer_media_stop(p, "session-end");
    g_clear_handle_id(&p->gathered_idle, g_source_remove);
    if (p->agent != NULL) {
        nice_agent_attach_recv(p->agent, p->stream_id, 1, NULL, NULL, NULL);
        g_signal_handlers_disconnect_by_data(p->agent, p);
        nice_agent_remove_stream(p->agent, p->stream_id);
        g_clear_object(&p->agent);
    }
    p->stream_id = 0;
    p->ice_ready = FALSE;
    p->first_media = FALSE;
    g_clear_pointer(&p->dtls, bridge_dtls_free);
    g_clear_pointer(&p->srtp_in, bridge_srtp_free);
    g_clear_pointer(&p->srtp_out, bridge_srtp_free);
}

GSList *
peer_session_local_candidates(Peer *p, char **ufrag, char **pwd)
{
    nice_agent_get_local_credentials(p->agent, p->stream_id, ufrag, pwd);
    return nice_agent_get_local_candidates(p->agent, p->stream_id, 1);
}

static void
print_transport(Peer *p)
{
    gchar *ufrag = NULL, *pwd = NULL;
    GSList *cands = peer_session_local_candidates(p, &ufrag, &pwd);
    GString *s = g_string_new(NULL);
    g_string_append_printf(s,
                           "{\"event\":\"transport\",\"ufrag\":\"%s\",\"pwd\":\"%s\","
                           "\"fingerprint\":\"%s\",\"candidates\":[",
                           ufrag, pwd, bridge_dtls_identity_fingerprint(p->identity));
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
    GSList *list = NULL;
    JsonArray *cands = json_object_get_array_member(o, "candidates");
    for (guint i = 0; cands != NULL && i < json_array_get_length(cands); i++) {
        JsonObject *c = json_array_get_object_element(cands, i);
        NiceCandidate *nc = nice_candidate_new(NICE_CANDIDATE_TYPE_HOST);
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
    if (!peer_session_set_remote(p, ufrag, pwd, fp, list))
        peer_emit("{\"event\":\"error\",\"message\":\"bad fingerprint\"}");
    g_slist_free_full(list, (GDestroyNotify)nice_candidate_free);
}

PeerRxStream *
peer_rx_find(Peer *p, guint32 ssrc)
{
    for (guint i = 0; i < p->n_rx; i++) {
        if (p->rx[i].ssrc == ssrc)
            return &p->rx[i];
    }
    return NULL;
}

PeerRxStream *
peer_rx_expect(Peer *p, guint32 ssrc, PeerKind kind, const char *owner)
{
    PeerRxStream *r = peer_rx_find(p, ssrc);
    if (r == NULL) {
        if (p->n_rx >= PEER_MAX_STREAMS)
            return NULL;
        r = &p->rx[p->n_rx++];
        r->ssrc = ssrc;
        r->highest = -1;
    }
    r->kind = kind;
    r->removed = FALSE;
    if (owner != NULL) {
        g_free(r->owner);
        r->owner = g_strdup(owner);
    }
    return r;
}

static void
cmd_expect(Peer *p, JsonObject *o)
{
    JsonArray *a = json_object_get_array_member(o, "sources");
    for (guint i = 0; a != NULL && i < json_array_get_length(a); i++) {
        JsonObject *s = json_array_get_object_element(a, i);
        PeerKind kind;
        if (!peer_kind_parse(json_object_get_string_member_with_default(s, "kind", ""), &kind))
            continue;
        guint32 ssrc = (guint32)json_object_get_int_member_with_default(s, "ssrc", 0);
        if (peer_rx_expect(p, ssrc, kind, NULL) == NULL)
            break;
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
    if (g_str_equal(cmd, "connect") && p->agent != NULL && p->xmpp == NULL)
        cmd_connect(p, o);
    else if (g_str_equal(cmd, "expect"))
        cmd_expect(p, o);
    else if (g_str_equal(cmd, "send") && p->srtp_out != NULL)
        peer_media_start(p, json_object_get_double_member_with_default(o, "seconds", 1.0));
    else if (g_str_equal(cmd, "pli") && p->srtp_out != NULL)
        peer_media_send_pli(p, (guint32)json_object_get_int_member_with_default(o, "ssrc", 0));
    else if (g_str_equal(cmd, "nack") && p->srtp_out != NULL)
        for (gint64 i = CLAMP(json_object_get_int_member_with_default(o, "repeat", 1), 1, 16);
             i > 0; i--)
            peer_media_send_nack(p, (guint32)json_object_get_int_member_with_default(o, "ssrc", 0),
                                 (guint16)json_object_get_int_member_with_default(o, "seq", 0));
    else if (g_str_equal(cmd, "hostile") && p->srtp_out != NULL)
        peer_media_send_hostile(p, json_object_get_string_member_with_default(o, "what", ""),
                                (guint)json_object_get_int_member_with_default(o, "count", 1));
    else if (g_str_equal(cmd, "audio-level"))
        p->audio_level =
            (int)CLAMP(json_object_get_int_member_with_default(o, "level", -1), -1, 127);
    else if (g_str_equal(cmd, "report"))
        peer_media_report(p);
    else if (g_str_equal(cmd, "reset-rx"))
        peer_media_reset_rx(p);
    else if (g_str_equal(cmd, "quit"))
        g_main_loop_quit(p->loop);
    else if (p->xmpp == NULL || !peer_xmpp_command(p->xmpp, cmd, o))
        peer_emit("{\"event\":\"error\",\"message\":\"unknown or premature command\"}");
}

static guint in_watch;

static gboolean
on_stdin(GIOChannel *ch, GIOCondition cond, gpointer data)
{
    Peer *p = data;
    g_autofree char *line = NULL;
    GIOStatus st = g_io_channel_read_line(ch, &line, NULL, NULL, NULL);
    if (st == G_IO_STATUS_EOF || st == G_IO_STATUS_ERROR) {
        g_main_loop_quit(p->loop);
        in_watch = 0;
        return G_SOURCE_REMOVE;
    }
    if (line != NULL && *g_strstrip(line) != '\0')
        run_command(p, line);
    return G_SOURCE_CONTINUE;
}

int
main(int argc, char **argv)
{
    gint audio = 0, video = 0, rtx = 0, drop_every = 0, bench_rate = 0, xmpp_port = 5222;
    gint audio_level = -1;
    gboolean dtls_server = FALSE, no_jingle = FALSE, jingle_from_anyone = FALSE;
    gboolean xmpp_debug = FALSE, keep_media = FALSE, ice_controlled = FALSE;
    gint bench_size = 1100, rtcp_interval = 500;
    double send_on_connect = 0;
    g_autofree char *address = NULL, *profiles = NULL, *video_file = NULL;
    g_autofree char *xmpp_jid = NULL, *xmpp_password = NULL, *xmpp_host = NULL;
    GOptionEntry entries[] = {
        {"audio-ssrc", 0, 0, G_OPTION_ARG_INT, &audio, "SSRC of the audio stream", "N"},
        {"video-ssrc", 0, 0, G_OPTION_ARG_INT, &video, "SSRC of the video stream", "N"},
        {"rtx-ssrc", 0, 0, G_OPTION_ARG_INT, &rtx, "SSRC of the video RTX stream", "N"},
        {"audio-level", 0, 0, G_OPTION_ARG_INT, &audio_level,
         "Audio carries this RFC 6464 audio level (0..127 -dBov) with header extension id 1", "N"},
        {"drop-every", 0, 0, G_OPTION_ARG_INT, &drop_every,
         "Drop every Nth received video packet and NACK it", "N"},
        {"address", 0, 0, G_OPTION_ARG_STRING, &address, "Local address (127.0.0.1)", "IP"},
        {"profiles", 0, 0, G_OPTION_ARG_STRING, &profiles, "use_srtp profiles offered", "LIST"},
        {"dtls-server", 0, 0, G_OPTION_ARG_NONE, &dtls_server,
         "Be the DTLS server (signal setup='passive'): the bridge connects", NULL},
        {"video-file", 0, 0, G_OPTION_ARG_FILENAME, &video_file,
         "Replay VP8 RTP payloads from FILE on the video SSRC", "FILE"},
        {"bench-rate", 0, 0, G_OPTION_ARG_INT, &bench_rate,
         "Send only timestamped benchmark packets, N per second, on the video SSRC (or the "
         "audio SSRC without one)",
         "N"},
        {"bench-size", 0, 0, G_OPTION_ARG_INT, &bench_size,
         "Payload bytes of a benchmark packet (8..1200, default 1100)", "N"},
        {"rtcp-interval", 0, 0, G_OPTION_ARG_INT, &rtcp_interval,
         "Milliseconds between RTCP reports while sending (10..10000, default 500)", "MS"},
        {"ice-controlled", 0, 0, G_OPTION_ARG_NONE, &ice_controlled,
         "Be the controlled ICE agent (when answering an offer)", NULL},
        {"send-on-connect", 0, 0, G_OPTION_ARG_DOUBLE, &send_on_connect,
         "Send for SECONDS each time a session's DTLS connects", "SECONDS"},
        {"xmpp-jid", 0, 0, G_OPTION_ARG_STRING, &xmpp_jid,
         "XMPP mode: log in as this full JID and speak Jingle", "JID"},
        {"xmpp-password", 0, 0, G_OPTION_ARG_STRING, &xmpp_password, "XMPP password", "PW"},
        {"xmpp-host", 0, 0, G_OPTION_ARG_STRING, &xmpp_host, "XMPP server (127.0.0.1)", "HOST"},
        {"xmpp-port", 0, 0, G_OPTION_ARG_INT, &xmpp_port, "XMPP c2s port (5222)", "N"},
        {"no-jingle", 0, 0, G_OPTION_ARG_NONE, &no_jingle,
         "A text-only client: advertise and answer disco#info only", NULL},
        {"jingle-from-anyone", 0, 0, G_OPTION_ARG_NONE, &jingle_from_anyone,
         "Tests only: accept Jingle from any JID, not just the room's", NULL},
        {"keep-media", 0, 0, G_OPTION_ARG_NONE, &keep_media,
         "Keep the media session when the XMPP connection is lost", NULL},
        {"xmpp-debug", 0, 0, G_OPTION_ARG_NONE, &xmpp_debug,
         "Log libstrophe's debug output (raw XML) on stderr", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- Conclave bridge test peer");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "conclave-test-peer: %s\n", error->message);
        return 2;
    }
    if (rtcp_interval < 10 || rtcp_interval > 10000) {
        fprintf(stderr, "conclave-test-peer: --rtcp-interval must be 10..10000\n");
        return 2;
    }
    if (bench_size < 8 || bench_size > 1200) {
        fprintf(stderr, "conclave-test-peer: --bench-size must be 8..1200\n");
        return 2;
    }
    if (xmpp_jid != NULL && (xmpp_port <= 0 || xmpp_port > 65535)) {
        fprintf(stderr, "conclave-test-peer: bad --xmpp-port\n");
        return 2;
    }
    bridge_srtp_global_init();
    Peer *p = g_new0(Peer, 1);
    p->audio_ssrc = (guint32)audio;
    p->video_ssrc = (guint32)video;
    p->rtx_ssrc = (guint32)rtx;
    p->drop_every = (guint)drop_every;
    p->audio_level = CLAMP(audio_level, -1, 127);
    p->dtls_server = dtls_server;
    p->address = g_strdup(address ? address : "127.0.0.1");
    p->send_on_connect = send_on_connect;
    p->bench_rate = (guint)MAX(bench_rate, 0);
    p->bench_size = (guint)bench_size;
    p->rtcp_interval_ms = (guint)rtcp_interval;
    p->ice_controlled = ice_controlled;
    p->latency_hist = g_new0(guint64, PEER_LATENCY_BUCKETS);
    if (video_file != NULL) {
        g_autofree char *data = NULL;
        gsize len = 0;
        if (!g_file_get_contents(video_file, &data, &len, &error)) {
            fprintf(stderr, "conclave-test-peer: %s\n", error->message);
            return 1;
        }
        p->video_file = g_bytes_new_take(g_steal_pointer(&data), len);
        p->video_file_pt = PEER_PT_VIDEO;
    }
    p->requested = g_hash_table_new(g_direct_hash, g_direct_equal);
    p->plis = g_hash_table_new(g_direct_hash, g_direct_equal);
    p->nacked = g_hash_table_new(g_direct_hash, g_direct_equal);
    p->identity = bridge_dtls_identity_new(profiles, &error);
    if (p->identity == NULL) {
        fprintf(stderr, "conclave-test-peer: %s\n", error->message);
        return 1;
    }
    p->loop = g_main_loop_new(NULL, FALSE);
    if (xmpp_jid != NULL) {
        PeerXmppSettings settings = {
            .jid = xmpp_jid,
            .password = xmpp_password ? xmpp_password : "",
            .host = xmpp_host ? xmpp_host : "127.0.0.1",
            .port = (guint16)xmpp_port,
            .no_jingle = no_jingle,
            .jingle_from_anyone = jingle_from_anyone,
            .debug = xmpp_debug,
            .keep_media = keep_media,
        };
        p->xmpp = peer_xmpp_new(p, &settings);
    } else {
        if (!peer_session_new(p)) {
            fprintf(stderr, "conclave-test-peer: cannot gather candidates\n");
            return 1;
        }
        print_transport(p);
    }
    GIOChannel *in = g_io_channel_unix_new(0);
    in_watch = g_io_add_watch(in, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, p);
    guint timer = g_timeout_add(50, on_dtls_timer, p);
    g_main_loop_run(p->loop);
    g_source_remove(timer);
    g_clear_handle_id(&in_watch, g_source_remove);
    g_io_channel_unref(in);
    g_clear_pointer(&p->xmpp, peer_xmpp_free);
    peer_media_stop(p, NULL);
    peer_session_free(p);
    bridge_dtls_identity_free(p->identity);
    g_hash_table_unref(p->requested);
    g_hash_table_unref(p->plis);
    g_hash_table_unref(p->nacked);
    g_free(p->latency_hist);
    if (p->video_file != NULL)
        g_bytes_unref(p->video_file);
    for (guint i = 0; i < p->n_rx; i++)
        g_free(p->rx[i].owner);
    for (guint i = 0; i < p->n_extra; i++)
        g_free(p->extra[i].name);
    g_free(p->address);
    g_main_loop_unref(p->loop);
    g_free(p);
    return 0;
}
