/* The ICE-UDP transport element (see ice-udp.h): structure, parser and writer. */
#include "ice-udp.h"

#include "cc-autoptr.h"
#include "cc-error.h"
#include "stanza.h"
#include "xml-read.h"

#include <string.h>

/* ICE ufrag/pwd, foundations: ice-char (RFC 8445), bounded. */
static gboolean
valid_ice(const char *s, gsize min, gsize max)
{
    gsize n = s ? strlen(s) : 0;
    if (n < min || n > max)
        return FALSE;
    for (const char *p = s; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '+' && *p != '/')
            return FALSE;
    }
    return TRUE;
}

static gboolean
valid_ip(const char *s)
{
    return s != NULL && strlen(s) <= 45 && g_hostname_is_ip_address(s);
}

/* --- candidates and transports ------------------------------------------------------- */

static void
candidate_free(CcIceUdpCandidate *c)
{
    g_free(c->foundation);
    g_free(c->protocol);
    g_free(c->ip);
    g_free(c->type);
    g_free(c->rel_addr);
    g_free(c);
}

CcIceUdpTransport *
cc_ice_udp_transport_new(void)
{
    CcIceUdpTransport *t = g_new0(CcIceUdpTransport, 1);
    t->candidates = g_ptr_array_new_with_free_func((GDestroyNotify)candidate_free);
    t->rtcp_mux = TRUE;
    return t;
}

void
cc_ice_udp_transport_free(CcIceUdpTransport *t)
{
    if (t == NULL)
        return;
    g_free(t->ufrag);
    g_free(t->pwd);
    g_free(t->fp_hash);
    g_free(t->fp_setup);
    g_free(t->fingerprint);
    g_free(t->websocket_url);
    g_ptr_array_unref(t->candidates);
    g_free(t);
}

void
cc_ice_udp_transport_add_candidate(CcIceUdpTransport *t, const char *foundation, guint component,
                                   guint32 priority, const char *ip, guint16 port, const char *type)
{
    CcIceUdpCandidate *c = g_new0(CcIceUdpCandidate, 1);
    c->foundation = g_strdup(foundation);
    c->component = component;
    c->protocol = g_strdup("udp");
    c->priority = priority;
    c->ip = g_strdup(ip);
    c->port = port;
    c->type = g_strdup(type);
    g_ptr_array_add(t->candidates, c);
}

CcIceUdpTransport *
cc_ice_udp_transport_copy(const CcIceUdpTransport *t)
{
    CcIceUdpTransport *copy = cc_ice_udp_transport_new();
    copy->ufrag = g_strdup(t->ufrag);
    copy->pwd = g_strdup(t->pwd);
    copy->fp_hash = g_strdup(t->fp_hash);
    copy->fp_setup = g_strdup(t->fp_setup);
    copy->fingerprint = g_strdup(t->fingerprint);
    copy->rtcp_mux = t->rtcp_mux;
    copy->websocket_url = g_strdup(t->websocket_url);
    copy->skipped_candidates = t->skipped_candidates;
    for (guint i = 0; i < t->candidates->len; i++) {
        const CcIceUdpCandidate *c = g_ptr_array_index(t->candidates, i);
        cc_ice_udp_transport_add_candidate(copy, c->foundation, c->component, c->priority, c->ip,
                                           c->port, c->type);
    }
    return copy;
}

static gboolean
valid_websocket_url(const char *url)
{
    if (url == NULL || strlen(url) > CC_ICE_UDP_MAX_URL_LEN)
        return FALSE;
    if (!g_str_has_prefix(url, "wss://") && !g_str_has_prefix(url, "ws://"))
        return FALSE;
    for (const char *p = url; *p != '\0'; p++)
        if ((guchar)*p <= 0x20 || (guchar)*p >= 0x7f)
            return FALSE;
    return TRUE;
}

static gboolean
parse_candidate(xmpp_stanza_t *s, CcIceUdpTransport *t, GError **error)
{
    static const char *const types[] = {"host", "srflx", "prflx", "relay", NULL};
    const char *foundation = xmpp_stanza_get_attribute(s, "foundation");
    const char *protocol = xmpp_stanza_get_attribute(s, "protocol");
    const char *type = xmpp_stanza_get_attribute(s, "type");
    const char *ip = xmpp_stanza_get_attribute(s, "ip");
    guint64 component, priority, port;
    if (!valid_ice(foundation, 1, 32))
        return cc_xml_invalid(error, "candidate: bad foundation");
    if (!cc_xml_parse_u64(xmpp_stanza_get_attribute(s, "component"), 256, &component) ||
        component == 0)
        return cc_xml_invalid(error, "candidate: bad component");
    if (!cc_xml_parse_u64(xmpp_stanza_get_attribute(s, "priority"), G_MAXUINT32, &priority))
        return cc_xml_invalid(error, "candidate: bad priority");
    if (!cc_xml_parse_u64(xmpp_stanza_get_attribute(s, "port"), 65535, &port) || port == 0)
        return cc_xml_invalid(error, "candidate: bad port");
    if (!valid_ip(ip))
        return cc_xml_invalid(error, "candidate: bad ip");
    if (protocol == NULL || type == NULL || strlen(protocol) > 16 || strlen(type) > 16)
        return cc_xml_invalid(error, "candidate: bad protocol or type");
    /* Browsers add TCP candidates (tcptype active) beside UDP ones: leave out what we
     * cannot use and keep the rest. */
    if (g_ascii_strcasecmp(protocol, "udp") != 0 || !g_strv_contains(types, type)) {
        t->skipped_candidates++;
        return TRUE;
    }
    if (t->candidates->len >= CC_ICE_UDP_MAX_CANDIDATES)
        return cc_xml_invalid(error, "transport: too many candidates");
    cc_ice_udp_transport_add_candidate(t, foundation, (guint)component, (guint32)priority, ip,
                                       (guint16)port, type);
    return TRUE;
}

CcIceUdpTransport *
cc_ice_udp_transport_parse(xmpp_stanza_t *ice, GError **error)
{
    g_autoptr(CcIceUdpTransport) t = cc_ice_udp_transport_new();
    const char *ufrag = xmpp_stanza_get_attribute(ice, "ufrag");
    const char *pwd = xmpp_stanza_get_attribute(ice, "pwd");
    if (!valid_ice(ufrag, 4, 256) || !valid_ice(pwd, 22, 256)) {
        cc_xml_invalid(error, "transport: bad ufrag or pwd");
        return NULL;
    }
    t->ufrag = g_strdup(ufrag);
    t->pwd = g_strdup(pwd);
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(ice); c; c = xmpp_stanza_get_next(c)) {
        if (cc_xml_is(c, "candidate", NULL)) {
            if (!parse_candidate(c, t, error))
                return NULL;
        } else if (cc_xml_is(c, "fingerprint", CC_NS_DTLS)) {
            static const char *const setups[] = {"actpass", "active", "passive", NULL};
            const char *hash = xmpp_stanza_get_attribute(c, "hash");
            const char *setup = xmpp_stanza_get_attribute(c, "setup");
            g_autofree char *text = xmpp_stanza_get_text(c);
            if (t->fingerprint != NULL || hash == NULL || strlen(hash) > 16 || text == NULL ||
                strlen(text) > 200 || (setup != NULL && !g_strv_contains(setups, setup))) {
                cc_xml_invalid(error, "transport: bad fingerprint");
                return NULL;
            }
            if (*g_strstrip(text) == '\0') {
                cc_xml_invalid(error, "transport: empty fingerprint");
                return NULL;
            }
            t->fp_hash = g_strdup(hash);
            t->fp_setup = g_strdup(setup ? setup : "actpass");
            t->fingerprint = g_strdup(text);
        } else if (cc_xml_is(c, "rtcp-mux", NULL)) {
            t->rtcp_mux = TRUE;
        } else if (cc_xml_is(c, "web-socket", CC_NS_COLIBRI_STAT)) {
            const char *url = xmpp_stanza_get_attribute(c, "url");
            if (t->websocket_url != NULL || !valid_websocket_url(url)) {
                cc_xml_invalid(error, "transport: bad web-socket");
                return NULL;
            }
            t->websocket_url = g_strdup(url);
        }
    }
    return g_steal_pointer(&t);
}

/* --- writing ---------------------------------------------------------------------------- */

void
cc_ice_udp_transport_write(xmpp_stanza_t *parent, const CcIceUdpTransport *t)
{
    xmpp_stanza_t *ice = cc_stanza_add_child(parent, "transport", CC_NS_ICE_UDP);
    cc_stanza_set_optional(ice, "ufrag", t->ufrag);
    cc_stanza_set_optional(ice, "pwd", t->pwd);
    if (t->fingerprint != NULL) {
        xmpp_stanza_t *fp = cc_stanza_add_child(ice, "fingerprint", CC_NS_DTLS);
        xmpp_stanza_set_attribute(fp, "hash", t->fp_hash ? t->fp_hash : "sha-256");
        xmpp_stanza_set_attribute(fp, "setup", t->fp_setup ? t->fp_setup : "actpass");
        cc_stanza_add_text(fp, t->fingerprint);
    }
    if (t->rtcp_mux)
        cc_stanza_add_child(ice, "rtcp-mux", NULL);
    if (t->websocket_url != NULL) {
        xmpp_stanza_t *ws = cc_stanza_add_child(ice, "web-socket", CC_NS_COLIBRI_STAT);
        xmpp_stanza_set_attribute(ws, "url", t->websocket_url);
    }
    for (guint i = 0; i < t->candidates->len; i++) {
        const CcIceUdpCandidate *c = g_ptr_array_index(t->candidates, i);
        xmpp_stanza_t *e = cc_stanza_add_child(ice, "candidate", NULL);
        xmpp_stanza_set_attribute(e, "foundation", c->foundation);
        cc_stanza_set_uint(e, "component", c->component);
        xmpp_stanza_set_attribute(e, "protocol", c->protocol);
        cc_stanza_set_uint(e, "priority", c->priority);
        xmpp_stanza_set_attribute(e, "ip", c->ip);
        cc_stanza_set_uint(e, "port", c->port);
        xmpp_stanza_set_attribute(e, "type", c->type);
        xmpp_stanza_set_attribute(e, "generation", "0");
        cc_stanza_set_uint(e, "id", i + 1);
    }
}
