/* DTLS 1.2 with the use_srtp extension (RFC 5764) through OpenSSL, over datagrams the
 * caller carries (ICE). A BridgeDtlsIdentity is the process's self-generated ECDSA P-256
 * certificate and the SSL_CTX built on it; a BridgeDtls is one association, client or
 * server. Records stay under BRIDGE_DTLS_MTU. Once the handshake completes, the peer's
 * certificate must hash (sha-256) to the fingerprint signalled for it, or the association
 * fails. Keys for SRTP come from SSL_export_keying_material("EXTRACTOR-dtls_srtp"). */
#pragma once

#include "srtp.h"

#include <glib.h>

G_BEGIN_DECLS

#define BRIDGE_DTLS_MTU 1200

typedef struct _BridgeDtlsIdentity BridgeDtlsIdentity;
typedef struct _BridgeDtls BridgeDtls;

typedef enum {
    BRIDGE_DTLS_NEW,
    BRIDGE_DTLS_HANDSHAKING,
    BRIDGE_DTLS_CONNECTED,
    BRIDGE_DTLS_FAILED,
    BRIDGE_DTLS_CLOSED,
} BridgeDtlsState;

typedef enum {
    BRIDGE_DTLS_FAIL_NONE,
    BRIDGE_DTLS_FAIL_HANDSHAKE,
    BRIDGE_DTLS_FAIL_FINGERPRINT,
    BRIDGE_DTLS_FAIL_NO_SRTP,
} BridgeDtlsFailure;

/* Sends one datagram; returns 0 or a negative code. */
typedef int (*BridgeDtlsSendFunc)(const guint8 *buf, gsize len, gpointer user_data);

/* `profiles`: OpenSSL's use_srtp list in preference order; NULL means GCM then CM. */
BridgeDtlsIdentity *bridge_dtls_identity_new(const char *profiles, GError **error);
void bridge_dtls_identity_free(BridgeDtlsIdentity *identity);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BridgeDtlsIdentity, bridge_dtls_identity_free)
/* "AB:CD:..." (upper-case hex, 95 characters), the sha-256 of our certificate. */
const char *bridge_dtls_identity_fingerprint(const BridgeDtlsIdentity *identity);

BridgeDtls *bridge_dtls_new(BridgeDtlsIdentity *identity, gboolean client, BridgeDtlsSendFunc send,
                            gpointer user_data);
void bridge_dtls_free(BridgeDtls *dtls);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BridgeDtls, bridge_dtls_free)

/* The fingerprint signalled for the peer (`hash` must be "sha-256"). Returns FALSE if it is
 * not a well-formed sha-256 fingerprint. */
gboolean bridge_dtls_set_remote_fingerprint(BridgeDtls *dtls, const char *hash, const char *value);
/* Starts the handshake (a client sends its ClientHello). */
void bridge_dtls_start(BridgeDtls *dtls);
/* Feeds one received DTLS datagram; returns the state after it. */
BridgeDtlsState bridge_dtls_receive(BridgeDtls *dtls, const guint8 *buf, gsize len);
/* Runs the retransmission timer; call every few tens of milliseconds while handshaking. */
BridgeDtlsState bridge_dtls_tick(BridgeDtls *dtls);
BridgeDtlsState bridge_dtls_state(const BridgeDtls *dtls);
BridgeDtlsFailure bridge_dtls_failure(const BridgeDtls *dtls);
/* After CONNECTED: the keys each side protects with. */
void bridge_dtls_srtp_keys(const BridgeDtls *dtls, BridgeSrtpKey *local, BridgeSrtpKey *remote);

/* Checks a fingerprint's shape: 32 colon-separated hex pairs. */
gboolean bridge_dtls_fingerprint_valid(const char *value);

G_END_DECLS
