/* The ICE-UDP transport (XEP-0176) with its DTLS fingerprint (XEP-0320) and the bridge
 * channel's URL: the one element both stanza families carry, Jingle between clients and
 * the focus, Colibri2 between the focus and bridges. This file owns its structure, its
 * strict bounded parser and its writer, so that colibri2.c and jingle.c both depend on it
 * and not on each other.
 *
 * Parsing is strict and bounded like the rest: a bad ufrag/pwd, fingerprint, candidate
 * number or address, too many candidates, or a bad web-socket URL is a CC_ERROR_INVALID
 * error naming the element; well-formed candidates Conclave cannot use (TCP, unknown
 * types) are skipped and counted. */
#pragma once

#include <glib.h>
#include <strophe.h>

G_BEGIN_DECLS

#define CC_NS_ICE_UDP      "urn:xmpp:jingle:transports:ice-udp:1"
#define CC_NS_DTLS         "urn:xmpp:jingle:apps:dtls:0"
#define CC_NS_COLIBRI_STAT "http://jitsi.org/protocol/colibri"

#define CC_ICE_UDP_MAX_CANDIDATES 16
#define CC_ICE_UDP_MAX_URL_LEN    512

typedef struct {
    char *foundation;
    guint component;
    char *protocol; /* "udp" */
    guint32 priority;
    char *ip;
    guint16 port;
    char *type; /* host, srflx, prflx, relay */
    char *rel_addr;
    guint16 rel_port;
} CcIceUdpCandidate;

typedef struct {
    char *ufrag;
    char *pwd;
    char *fp_hash;  /* "sha-256" */
    char *fp_setup; /* actpass, active, passive */
    char *fingerprint;
    GPtrArray *candidates; /* CcIceUdpCandidate* */
    gboolean rtcp_mux;
    /* <web-socket xmlns='http://jitsi.org/protocol/colibri' url/>: the endpoint's bridge
     * channel (schemas/bridge-channel.md), or NULL. */
    char *websocket_url;
    /* Well-formed candidates that were left out because Conclave cannot use them (TCP,
     * unknown types): the parser skips them rather than refusing the whole transport. */
    guint skipped_candidates;
} CcIceUdpTransport;

/* <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'> and its children. */
CcIceUdpTransport *cc_ice_udp_transport_parse(xmpp_stanza_t *ice_udp, GError **error);
CcIceUdpTransport *cc_ice_udp_transport_new(void);
CcIceUdpTransport *cc_ice_udp_transport_copy(const CcIceUdpTransport *transport);
void cc_ice_udp_transport_free(CcIceUdpTransport *transport);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CcIceUdpTransport, cc_ice_udp_transport_free)
void cc_ice_udp_transport_add_candidate(CcIceUdpTransport *transport, const char *foundation,
                                        guint component, guint32 priority, const char *ip,
                                        guint16 port, const char *type);
/* Appends the bare <transport xmlns=ice-udp> element to `parent`. */
void cc_ice_udp_transport_write(xmpp_stanza_t *parent, const CcIceUdpTransport *transport);

G_END_DECLS
