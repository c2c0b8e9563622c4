/* The test peer's XMPP mode: a c2s client (libstrophe, plain TCP, SASL without TLS) driven
 * from the GLib main loop by common/strophe-loop.c, as the daemons' components are.
 *
 * Commands (stdin, one JSON object a line):
 *   {"cmd":"join","room":"r@conference.example","nick":"alice"}
 *       MUC presence with <x xmlns=muc/> and XEP-0115 caps (node PEER_CAPS_NODE).
 *   {"cmd":"leave"}   unavailable presence to the room; ends any Jingle session locally.
 *   {"cmd":"raw","xml":"<iq .../>"}
 *       sends a stanza as given (`from` filled in when absent); an IQ get/set gets an id if
 *       it has none and its reply is reported as "iq-reply" (what: "raw"). Emits
 *       {"event":"raw-sent","id","tracked"} (tracked: an IQ request whose reply is awaited).
 *   Jingle commands: see peer-jingle.c.
 *
 * Events (each with "t_us", the monotonic clock in microseconds):
 *   {"event":"xmpp-connected","jid"}      {"event":"xmpp-error","reason","connected"}
 *   {"event":"joined","room","nick","jid"} (our own presence from the room, status 110)
 *   {"event":"left","room"}                (our own unavailable presence from the room)
 *   {"event":"presence","from","type","codes":[N..],"condition","item_jid","properties",
 *    "recording"}                          (others, and errors; the focus's shows its JID,
 *                                           conference-properties and the Jibri recording
 *                                           status)
 *   {"event":"message","from","type","body","codes":[N..],"condition"}
 *   {"event":"iq-reply","id","what","from","type","condition","jingle_condition"}
 *   {"event":"disco-info","from","node"} (a disco#info request we answered)
 *
 * disco#info (with or without node='NODE#VER') is answered with identity client/pc and our
 * features; pings are answered; any other IQ get/set gets service-unavailable, Jingle too
 * with --no-jingle (then only disco#info is advertised). */
#include "peer-xmpp.h"

#include "cc-autoptr.h"
#include "jid.h"
#include "stanza.h"

#include <stdio.h>
#include <string.h>

#define NS_MUC      "http://jabber.org/protocol/muc"
#define NS_MUC_USER "http://jabber.org/protocol/muc#user"
#define NS_CAPS     "http://jabber.org/protocol/caps"

#define IDENTITY_CATEGORY "client"
#define IDENTITY_TYPE     "pc"
#define IDENTITY_NAME     "conclave-test-peer"

static const char *const jingle_features[] = {
    CC_NS_DISCO_INFO,   CC_NS_JINGLE,     CC_NS_JINGLE_RTP, CC_NS_JINGLE_AUDIO,
    CC_NS_JINGLE_VIDEO, CC_NS_ICE_UDP,    CC_NS_DTLS,       CC_NS_JINGLE_GROUP,
    CC_NS_RTCP_FB,      CC_NS_RTP_HDREXT, CC_NS_SSMA,
};

static guint
n_features(PeerXmpp *x)
{
    return x->no_jingle ? 1 : G_N_ELEMENTS(jingle_features);
}

static int
compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* XEP-0115 section 5.1: identities "category/type/lang/name<", then features "var<",
 * each sorted by octets; SHA-1, base64. */
static char *
caps_ver(PeerXmpp *x)
{
    guint n = n_features(x);
    const char *sorted[G_N_ELEMENTS(jingle_features)];
    memcpy(sorted, jingle_features, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, compare_strings);
    GString *s = g_string_new(IDENTITY_CATEGORY "/" IDENTITY_TYPE "//" IDENTITY_NAME "<");
    for (guint i = 0; i < n; i++)
        g_string_append_printf(s, "%s<", sorted[i]);
    guint8 digest[20];
    gsize len = sizeof digest;
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA1);
    g_checksum_update(sum, (const guchar *)s->str, s->len);
    g_checksum_get_digest(sum, digest, &len);
    g_checksum_free(sum);
    g_string_free(s, TRUE);
    return g_base64_encode(digest, len);
}

static void
strophe_log(xmpp_log_level_t level, const char *area, const char *msg, gpointer userdata)
{
    PeerXmpp *x = userdata;
    if (x->debug || level == XMPP_LEVEL_ERROR || level == XMPP_LEVEL_WARN)
        fprintf(stderr, "xmpp %s: %s\n", area, msg);
}

void
peer_xmpp_send(PeerXmpp *x, xmpp_stanza_t *stanza)
{
    if (!x->connected) {
        JsonObject *o = peer_event_new("error");
        json_object_set_string_member(o, "message", "not connected to the XMPP server");
        peer_emit_object(o);
        return;
    }
    cc_strophe_loop_send(x->loop, stanza);
}

char *
peer_xmpp_send_iq(PeerXmpp *x, xmpp_stanza_t *iq, const char *what)
{
    if (xmpp_stanza_get_id(iq) == NULL) {
        g_autofree char *id = cc_stanza_new_id();
        xmpp_stanza_set_id(iq, id);
    }
    char *id = g_strdup(xmpp_stanza_get_id(iq));
    g_hash_table_replace(x->pending, g_strdup(id), g_strdup(what));
    peer_xmpp_send(x, iq);
    return id;
}

static void
add_jingle_condition(xmpp_stanza_t *reply, const char *jingle_condition)
{
    xmpp_stanza_t *error = xmpp_stanza_get_child_by_name(reply, "error");
    if (error != NULL)
        cc_jingle_error_condition(error, jingle_condition);
}

void
peer_xmpp_answer_error(PeerXmpp *x, xmpp_stanza_t *request, const char *type, const char *condition,
                       const char *jingle_condition, const char *text)
{
    const char *t = xmpp_stanza_get_type(request);
    if (t != NULL && g_str_equal(t, "error"))
        return;
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_error_reply(request, type, condition, text);
    if (jingle_condition != NULL)
        add_jingle_condition(reply, jingle_condition);
    peer_xmpp_send(x, reply);
}

void
peer_xmpp_answer_result(PeerXmpp *x, xmpp_stanza_t *request)
{
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(request);
    peer_xmpp_send(x, reply);
}

const char *
peer_xmpp_owner(PeerXmpp *x)
{
    if (x->in_room && x->occupant != NULL)
        return x->occupant;
    return x->jid;
}

char *
peer_xmpp_nick(PeerXmpp *x)
{
    if (x->in_room && x->occupant != NULL) {
        const char *slash = strchr(x->occupant, '/');
        if (slash != NULL)
            return g_strdup(slash + 1);
    }
    if (x->in_room && x->nick != NULL)
        return g_strdup(x->nick);
    const char *at = x->jid ? strchr(x->jid, '@') : NULL;
    return at ? g_strndup(x->jid, (gsize)(at - x->jid)) : g_strdup("peer");
}

/* --- incoming stanzas ------------------------------------------------------------------ */

static gboolean is_room_jid(PeerXmpp *x, const char *from);

gboolean
peer_xmpp_from_room(PeerXmpp *x, const char *from)
{
    return x->in_room && is_room_jid(x, from);
}

static gboolean
is_room_jid(PeerXmpp *x, const char *from)
{
    if (x->room == NULL || from == NULL)
        return FALSE;
    g_autoptr(CcJid) a = cc_jid_parse(from, NULL);
    g_autoptr(CcJid) b = cc_jid_parse(x->room, NULL);
    return a != NULL && b != NULL && cc_jid_bare_equal(a, b);
}

static xmpp_stanza_t *
child_ns(xmpp_stanza_t *st, const char *name, const char *ns)
{
    return xmpp_stanza_get_child_by_name_and_ns(st, name, ns);
}

static const char *
jingle_error_condition(xmpp_stanza_t *stanza)
{
    xmpp_stanza_t *error = xmpp_stanza_get_child_by_name(stanza, "error");
    for (xmpp_stanza_t *c = error ? xmpp_stanza_get_children(error) : NULL; c != NULL;
         c = xmpp_stanza_get_next(c)) {
        const char *ns = xmpp_stanza_is_tag(c) ? xmpp_stanza_get_ns(c) : NULL;
        if (ns != NULL && g_str_equal(ns, CC_NS_JINGLE_ERRORS))
            return xmpp_stanza_get_name(c);
    }
    return NULL;
}

/* The MUC status codes (muc#user <status code/>) of a presence or message. */
static JsonArray *
status_codes(xmpp_stanza_t *st)
{
    xmpp_stanza_t *mu = child_ns(st, "x", NS_MUC_USER);
    JsonArray *codes = json_array_new();
    for (xmpp_stanza_t *c = mu ? xmpp_stanza_get_children(mu) : NULL; c != NULL;
         c = xmpp_stanza_get_next(c)) {
        const char *code =
            xmpp_stanza_is_tag(c) && g_strcmp0(xmpp_stanza_get_name(c), "status") == 0
                ? xmpp_stanza_get_attribute(c, "code")
                : NULL;
        if (code != NULL)
            json_array_add_int_element(codes, g_ascii_strtoll(code, NULL, 10));
    }
    return codes;
}

static void
on_presence(PeerXmpp *x, xmpp_stanza_t *st)
{
    const char *from = xmpp_stanza_get_from(st);
    const char *type = xmpp_stanza_get_type(st);
    xmpp_stanza_t *mu = child_ns(st, "x", NS_MUC_USER);
    JsonArray *codes = status_codes(st);
    gboolean self = FALSE;
    for (guint i = 0; i < json_array_get_length(codes); i++)
        self = self || json_array_get_int_element(codes, i) == 110;
    if (self && is_room_jid(x, from) && type == NULL && x->in_room) {
        g_free(x->occupant);
        x->occupant = g_strdup(from);
        if (!x->joined) {
            x->joined = TRUE;
            JsonObject *o = peer_event_new("joined");
            json_object_set_string_member(o, "room", x->room);
            g_autofree char *nick = peer_xmpp_nick(x);
            json_object_set_string_member(o, "nick", nick);
            json_object_set_string_member(o, "jid", from);
            json_object_set_array_member(o, "codes", codes);
            peer_emit_object(o);
            return;
        }
    } else if (self && is_room_jid(x, from) && g_strcmp0(type, "unavailable") == 0) {
        x->joined = FALSE;
        JsonObject *o = peer_event_new("left");
        json_object_set_string_member(o, "room", x->room);
        json_object_set_array_member(o, "codes", codes);
        peer_emit_object(o);
        return;
    }
    JsonObject *o = peer_event_new("presence");
    json_object_set_string_member(o, "from", from);
    json_object_set_string_member(o, "type", type ? type : "available");
    json_object_set_array_member(o, "codes", codes);
    xmpp_stanza_t *item = mu ? xmpp_stanza_get_child_by_name(mu, "item") : NULL;
    if (item != NULL && xmpp_stanza_get_attribute(item, "jid") != NULL)
        json_object_set_string_member(o, "item_jid", xmpp_stanza_get_attribute(item, "jid"));
    xmpp_stanza_t *props = child_ns(st, "conference-properties", "http://jitsi.org/protocol/focus");
    if (props != NULL) {
        JsonObject *po = json_object_new();
        for (xmpp_stanza_t *c = xmpp_stanza_get_children(props); c; c = xmpp_stanza_get_next(c))
            if (xmpp_stanza_is_tag(c) && xmpp_stanza_get_attribute(c, "key") != NULL)
                json_object_set_string_member(po, xmpp_stanza_get_attribute(c, "key"),
                                              xmpp_stanza_get_attribute(c, "value"));
        json_object_set_object_member(o, "properties", po);
    }
    xmpp_stanza_t *rec = child_ns(st, "jibri-recording-status", "http://jitsi.org/protocol/jibri");
    if (rec != NULL)
        json_object_set_string_member(o, "recording", xmpp_stanza_get_attribute(rec, "status"));
    if (g_strcmp0(type, "error") == 0)
        json_object_set_string_member(o, "condition", cc_stanza_error_condition(st));
    peer_emit_object(o);
}

static void
on_message(PeerXmpp *x, xmpp_stanza_t *st)
{
    const char *type = xmpp_stanza_get_type(st);
    xmpp_stanza_t *body = xmpp_stanza_get_child_by_name(st, "body");
    if (body == NULL && g_strcmp0(type, "error") != 0)
        return;
    JsonObject *o = peer_event_new("message");
    json_object_set_string_member(o, "from", xmpp_stanza_get_from(st));
    json_object_set_string_member(o, "type", type ? type : "normal");
    g_autofree char *text = body ? xmpp_stanza_get_text(body) : NULL;
    json_object_set_string_member(o, "body", text);
    json_object_set_array_member(o, "codes", status_codes(st));
    if (g_strcmp0(type, "error") == 0)
        json_object_set_string_member(o, "condition", cc_stanza_error_condition(st));
    peer_emit_object(o);
}

static void
on_iq_reply(PeerXmpp *x, xmpp_stanza_t *st, const char *type)
{
    const char *id = xmpp_stanza_get_id(st);
    g_autofree char *key = NULL, *what = NULL;
    if (id == NULL ||
        !g_hash_table_steal_extended(x->pending, id, (gpointer *)&key, (gpointer *)&what))
        return;
    JsonObject *o = peer_event_new("iq-reply");
    json_object_set_string_member(o, "id", id);
    json_object_set_string_member(o, "what", what);
    json_object_set_string_member(o, "from", xmpp_stanza_get_from(st));
    json_object_set_string_member(o, "type", type);
    gboolean error = g_str_equal(type, "error");
    json_object_set_string_member(o, "condition", error ? cc_stanza_error_condition(st) : NULL);
    json_object_set_string_member(o, "jingle_condition", error ? jingle_error_condition(st) : NULL);
    peer_emit_object(o);
}

static void
answer_disco_info(PeerXmpp *x, xmpp_stanza_t *iq, xmpp_stanza_t *query)
{
    const char *node = xmpp_stanza_get_attribute(query, "node");
    g_autofree char *our_node = g_strdup_printf("%s#%s", PEER_CAPS_NODE, x->caps_ver);
    JsonObject *o = peer_event_new("disco-info");
    json_object_set_string_member(o, "from", xmpp_stanza_get_from(iq));
    json_object_set_string_member(o, "node", node);
    peer_emit_object(o);
    if (node != NULL && !g_str_equal(node, our_node)) {
        peer_xmpp_answer_error(x, iq, "cancel", "item-not-found", NULL, NULL);
        return;
    }
    g_autoptr(xmpp_stanza_t) reply = cc_stanza_iq_result(iq);
    xmpp_stanza_t *q = cc_stanza_add_child(reply, "query", CC_NS_DISCO_INFO);
    if (node != NULL)
        xmpp_stanza_set_attribute(q, "node", node);
    xmpp_stanza_t *id = cc_stanza_add_child(q, "identity", NULL);
    xmpp_stanza_set_attribute(id, "category", IDENTITY_CATEGORY);
    xmpp_stanza_set_attribute(id, "type", IDENTITY_TYPE);
    xmpp_stanza_set_attribute(id, "name", IDENTITY_NAME);
    for (guint i = 0; i < n_features(x); i++) {
        xmpp_stanza_t *f = cc_stanza_add_child(q, "feature", NULL);
        xmpp_stanza_set_attribute(f, "var", jingle_features[i]);
    }
    peer_xmpp_send(x, reply);
}

static void
on_iq_request(PeerXmpp *x, xmpp_stanza_t *st, const char *type)
{
    xmpp_stanza_t *payload = cc_stanza_first_element(st);
    const char *ns = payload ? xmpp_stanza_get_ns(payload) : NULL;
    const char *name = payload ? xmpp_stanza_get_name(payload) : NULL;
    gboolean get = g_str_equal(type, "get");
    if (payload == NULL || ns == NULL || xmpp_stanza_get_id(st) == NULL) {
        peer_xmpp_answer_error(x, st, "modify", "bad-request", NULL, NULL);
    } else if (g_str_equal(ns, CC_NS_JINGLE) && g_str_equal(name, "jingle") && !get &&
               !x->no_jingle) {
        peer_jingle_handle(x, st, payload);
    } else if (g_str_equal(ns, CC_NS_DISCO_INFO) && g_str_equal(name, "query") && get) {
        answer_disco_info(x, st, payload);
    } else if (g_str_equal(ns, CC_NS_PING) && g_str_equal(name, "ping") && get) {
        peer_xmpp_answer_result(x, st);
    } else {
        peer_xmpp_answer_error(x, st, "cancel", "service-unavailable", NULL, NULL);
    }
}

static int
on_stanza(xmpp_conn_t *conn, xmpp_stanza_t *st, void *data)
{
    PeerXmpp *x = data;
    const char *name = xmpp_stanza_get_name(st);
    const char *type = xmpp_stanza_get_type(st);
    if (name == NULL)
        return 1;
    if (g_str_equal(name, "iq")) {
        if (type != NULL && (g_str_equal(type, "result") || g_str_equal(type, "error")))
            on_iq_reply(x, st, type);
        else if (type != NULL && (g_str_equal(type, "get") || g_str_equal(type, "set")))
            on_iq_request(x, st, type);
        else
            peer_xmpp_answer_error(x, st, "modify", "bad-request", NULL, NULL);
    } else if (g_str_equal(name, "presence")) {
        on_presence(x, st);
    } else if (g_str_equal(name, "message")) {
        on_message(x, st);
    }
    return 1;
}

static void
on_conn_event(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
              xmpp_stream_error_t *stream_error, void *data)
{
    PeerXmpp *x = data;
    if (event == XMPP_CONN_CONNECT) {
        x->connected = TRUE;
        g_free(x->jid);
        x->jid = g_strdup(xmpp_conn_get_bound_jid(conn));
        JsonObject *o = peer_event_new("xmpp-connected");
        json_object_set_string_member(o, "jid", x->jid);
        peer_emit_object(o);
        return;
    }
    if (event != XMPP_CONN_DISCONNECT && event != XMPP_CONN_FAIL)
        return;
    gboolean was_connected = x->connected;
    x->connected = FALSE;
    /* As a browser does, keep-media goes on sending and receiving through the bridge while
     * signalling is away. */
    if (!x->keep_media)
        peer_jingle_end(x, "xmpp-disconnected", "local");
    if (x->closing)
        return;
    JsonObject *o = peer_event_new("xmpp-error");
    g_autofree char *reason = NULL;
    if (stream_error != NULL)
        reason = g_strdup_printf("stream error %d%s%s", (int)stream_error->type,
                                 stream_error->text ? ": " : "",
                                 stream_error->text ? stream_error->text : "");
    else if (error != 0)
        reason = g_strdup(g_strerror(error));
    else
        reason = g_strdup(was_connected ? "closed by the server" : "cannot connect or log in");
    json_object_set_string_member(o, "reason", reason);
    json_object_set_boolean_member(o, "connected", was_connected);
    peer_emit_object(o);
}

/* --- commands ---------------------------------------------------------------------------- */

static void
cmd_join(PeerXmpp *x, JsonObject *args)
{
    const char *room = json_object_get_string_member_with_default(args, "room", NULL);
    const char *nick = json_object_get_string_member_with_default(args, "nick", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(CcJid) jid = room ? cc_jid_parse(room, &error) : NULL;
    if (jid == NULL || jid->local == NULL || nick == NULL || *nick == '\0') {
        JsonObject *o = peer_event_new("error");
        json_object_set_string_member(o, "message", "join: needs a room JID and a nick");
        peer_emit_object(o);
        return;
    }
    g_free(x->room);
    x->room = cc_jid_bare_string(jid);
    g_free(x->nick);
    x->nick = g_strdup(nick);
    g_clear_pointer(&x->occupant, g_free);
    x->in_room = TRUE;
    x->joined = FALSE;
    g_autoptr(xmpp_stanza_t) pres = xmpp_presence_new(x->ctx);
    g_autofree char *to = g_strdup_printf("%s/%s", x->room, nick);
    xmpp_stanza_set_to(pres, to);
    cc_stanza_add_child(pres, "x", NS_MUC);
    xmpp_stanza_t *c = cc_stanza_add_child(pres, "c", NS_CAPS);
    xmpp_stanza_set_attribute(c, "hash", "sha-1");
    xmpp_stanza_set_attribute(c, "node", PEER_CAPS_NODE);
    xmpp_stanza_set_attribute(c, "ver", x->caps_ver);
    peer_xmpp_send(x, pres);
}

static void
cmd_leave(PeerXmpp *x)
{
    peer_jingle_end(x, "leave", "local");
    if (x->room == NULL || !x->in_room)
        return;
    g_autoptr(xmpp_stanza_t) pres = xmpp_presence_new(x->ctx);
    g_autofree char *to =
        x->occupant ? g_strdup(x->occupant) : g_strdup_printf("%s/%s", x->room, x->nick);
    xmpp_stanza_set_to(pres, to);
    xmpp_stanza_set_type(pres, "unavailable");
    x->in_room = FALSE;
    peer_xmpp_send(x, pres);
}

static void
cmd_raw(PeerXmpp *x, JsonObject *args)
{
    const char *xml = json_object_get_string_member_with_default(args, "xml", "");
    g_autoptr(xmpp_stanza_t) st = xmpp_stanza_new_from_string(x->ctx, xml);
    if (st == NULL || xmpp_stanza_get_name(st) == NULL) {
        JsonObject *o = peer_event_new("error");
        json_object_set_string_member(o, "message", "raw: not an XML element");
        peer_emit_object(o);
        return;
    }
    if (xmpp_stanza_get_from(st) == NULL && x->jid != NULL)
        xmpp_stanza_set_from(st, x->jid);
    const char *type = xmpp_stanza_get_type(st);
    gboolean request = g_str_equal(xmpp_stanza_get_name(st), "iq") &&
                       (g_strcmp0(type, "get") == 0 || g_strcmp0(type, "set") == 0);
    g_autofree char *id = NULL;
    if (request) {
        id = peer_xmpp_send_iq(x, st, "raw");
    } else {
        id = g_strdup(xmpp_stanza_get_id(st));
        peer_xmpp_send(x, st);
    }
    JsonObject *o = peer_event_new("raw-sent");
    json_object_set_string_member(o, "id", id);
    json_object_set_boolean_member(o, "tracked", request);
    peer_emit_object(o);
}

gboolean
peer_xmpp_command(PeerXmpp *x, const char *cmd, JsonObject *args)
{
    if (g_str_equal(cmd, "join"))
        cmd_join(x, args);
    else if (g_str_equal(cmd, "leave"))
        cmd_leave(x);
    else if (g_str_equal(cmd, "raw"))
        cmd_raw(x, args);
    else
        return peer_jingle_command(x, cmd, args);
    return TRUE;
}

void
peer_xmpp_gathered(PeerXmpp *x)
{
    peer_jingle_send_accept(x);
}

/* --- life cycle ---------------------------------------------------------------------------- */

PeerXmpp *
peer_xmpp_new(Peer *peer, const PeerXmppSettings *settings)
{
    PeerXmpp *x = g_new0(PeerXmpp, 1);
    x->peer = peer;
    x->debug = settings->debug;
    x->no_jingle = settings->no_jingle;
    x->keep_media = settings->keep_media;
    x->jingle_from_anyone = settings->jingle_from_anyone;
    x->caps_ver = caps_ver(x);
    x->pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    x->loop = cc_strophe_loop_new(strophe_log, x);
    x->ctx = cc_strophe_loop_ctx(x->loop);
    xmpp_conn_t *conn = cc_strophe_loop_new_conn(x->loop);
    xmpp_conn_set_flags(conn, XMPP_CONN_FLAG_DISABLE_TLS);
    xmpp_conn_set_jid(conn, settings->jid);
    xmpp_conn_set_pass(conn, settings->password);
    xmpp_handler_add(conn, on_stanza, NULL, NULL, NULL, x);
    if (!cc_strophe_loop_connect_client(x->loop, settings->host, settings->port, on_conn_event,
                                        x)) {
        JsonObject *o = peer_event_new("xmpp-error");
        json_object_set_string_member(o, "reason", "cannot start connecting");
        json_object_set_boolean_member(o, "connected", FALSE);
        peer_emit_object(o);
    }
    return x;
}

void
peer_xmpp_free(PeerXmpp *x)
{
    if (x == NULL)
        return;
    peer_jingle_end(x, "quit", "local");
    x->closing = TRUE;
    if (x->connected) {
        if (x->in_room)
            cmd_leave(x);
        cc_strophe_loop_disconnect_sync(x->loop, 1000);
    }
    cc_strophe_loop_free(x->loop);
    g_hash_table_unref(x->pending);
    g_free(x->caps_ver);
    g_free(x->jid);
    g_free(x->room);
    g_free(x->nick);
    g_free(x->occupant);
    g_free(x);
}
