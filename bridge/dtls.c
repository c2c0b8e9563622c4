/* DTLS-SRTP associations over OpenSSL (see dtls.h). Owns the certificate, the SSL objects,
 * a datagram BIO that hands every record OpenSSL writes to the caller's send function, the
 * retransmission timer and the fingerprint check. It knows nothing of ICE or of SRTP
 * sessions beyond exporting their keys. */
#include "dtls.h"

#include "cc-error.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>

#define FINGERPRINT_LEN 95 /* 32 * "XX" + 31 ':' */

struct _BridgeDtlsIdentity {
    SSL_CTX *ctx;
    EVP_PKEY *key;
    X509 *cert;
    char fingerprint[FINGERPRINT_LEN + 1];
};

struct _BridgeDtls {
    SSL *ssl;
    gboolean client;
    BridgeDtlsState state;
    BridgeDtlsFailure failure;
    BridgeDtlsSendFunc send;
    gpointer user_data;
    const guint8 *pending; /* the datagram being fed to OpenSSL */
    gsize pending_len;
    char remote_fp[FINGERPRINT_LEN + 1];
    BridgeSrtpKey local_key, remote_key;
};

static void
format_fingerprint(const unsigned char *md, char out[FINGERPRINT_LEN + 1])
{
    static const char hex[] = "0123456789ABCDEF";
    for (int i = 0; i < 32; i++) {
        out[i * 3] = hex[md[i] >> 4];
        out[i * 3 + 1] = hex[md[i] & 15];
        out[i * 3 + 2] = i == 31 ? '\0' : ':';
    }
}

gboolean
bridge_dtls_fingerprint_valid(const char *value)
{
    if (value == NULL || strlen(value) != FINGERPRINT_LEN)
        return FALSE;
    for (int i = 0; i < FINGERPRINT_LEN; i++) {
        if (i % 3 == 2 ? value[i] != ':' : !g_ascii_isxdigit(value[i]))
            return FALSE;
    }
    return TRUE;
}

/* --- the datagram BIO ------------------------------------------------------------------ */

static BIO_METHOD *bio_method;

static int
bio_write(BIO *bio, const char *data, int len)
{
    BridgeDtls *dtls = BIO_get_data(bio);
    if (len > 0)
        dtls->send((const guint8 *)data, (gsize)len, dtls->user_data);
    return len;
}

static int
bio_read(BIO *bio, char *out, int len)
{
    BridgeDtls *dtls = BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    if (dtls->pending == NULL) {
        BIO_set_retry_read(bio);
        return -1;
    }
    int n = (int)MIN((gsize)len, dtls->pending_len);
    memcpy(out, dtls->pending, (gsize)n);
    dtls->pending = NULL;
    dtls->pending_len = 0;
    return n;
}

static long
bio_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
        return BRIDGE_DTLS_MTU;
    case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
        return 0;
    case BIO_CTRL_PENDING: {
        BridgeDtls *dtls = BIO_get_data(bio);
        return dtls != NULL ? (long)dtls->pending_len : 0;
    }
    default:
        return 0;
    }
}

static int
bio_create(BIO *bio)
{
    BIO_set_init(bio, 1);
    return 1;
}

static void
bio_method_init(void)
{
    static gsize once = 0;
    if (g_once_init_enter(&once)) {
        bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "conclave-dgram");
        BIO_meth_set_write(bio_method, bio_write);
        BIO_meth_set_read(bio_method, bio_read);
        BIO_meth_set_ctrl(bio_method, bio_ctrl);
        BIO_meth_set_create(bio_method, bio_create);
        g_once_init_leave(&once, 1);
    }
}

/* --- the identity ---------------------------------------------------------------------- */

static gboolean cert_matches(BridgeDtls *dtls, X509 *cert);

/* Self-signed certificates are the norm here: the trust decision is the signalled
 * fingerprint, checked on the peer's own certificate while the handshake runs (so that a
 * mismatch aborts it with an alert) and once more when it completes. */
static int
verify_fingerprint(int preverify, X509_STORE_CTX *store)
{
    if (X509_STORE_CTX_get_error_depth(store) != 0)
        return 1;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    BridgeDtls *dtls = ssl ? SSL_get_app_data(ssl) : NULL;
    if (dtls == NULL)
        return 0;
    if (!cert_matches(dtls, X509_STORE_CTX_get_current_cert(store))) {
        dtls->failure = BRIDGE_DTLS_FAIL_FINGERPRINT;
        return 0;
    }
    return 1;
}

static gboolean
make_certificate(BridgeDtlsIdentity *id, GError **error)
{
    id->key = EVP_EC_gen("P-256");
    id->cert = X509_new();
    if (id->key == NULL || id->cert == NULL)
        goto fail;
    unsigned char serial[8];
    if (RAND_bytes(serial, sizeof serial) != 1)
        goto fail;
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(id->cert));
    BN_free(bn);
    X509_set_version(id->cert, 2);
    X509_gmtime_adj(X509_getm_notBefore(id->cert), -86400);
    X509_gmtime_adj(X509_getm_notAfter(id->cert), 30L * 86400);
    X509_NAME *name = X509_get_subject_name(id->cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"conclave", -1, -1,
                               0);
    X509_set_issuer_name(id->cert, name);
    X509_set_pubkey(id->cert, id->key);
    if (X509_sign(id->cert, id->key, EVP_sha256()) == 0)
        goto fail;
    unsigned char md[32];
    unsigned int md_len = 0;
    if (X509_digest(id->cert, EVP_sha256(), md, &md_len) != 1 || md_len != 32)
        goto fail;
    format_fingerprint(md, id->fingerprint);
    return TRUE;
fail:
    g_set_error(error, CC_ERROR, CC_ERROR_CRYPTO, "cannot make the DTLS certificate");
    return FALSE;
}

BridgeDtlsIdentity *
bridge_dtls_identity_new(const char *profiles, GError **error)
{
    bio_method_init();
    BridgeDtlsIdentity *id = g_new0(BridgeDtlsIdentity, 1);
    if (!make_certificate(id, error)) {
        bridge_dtls_identity_free(id);
        return NULL;
    }
    id->ctx = SSL_CTX_new(DTLS_method());
    if (id->ctx == NULL || SSL_CTX_set_min_proto_version(id->ctx, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_use_certificate(id->ctx, id->cert) != 1 ||
        SSL_CTX_use_PrivateKey(id->ctx, id->key) != 1 ||
        SSL_CTX_set_cipher_list(id->ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:ECDHE+AES") != 1 ||
        SSL_CTX_set_tlsext_use_srtp(
            id->ctx, profiles ? profiles : "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80") != 0) {
        g_set_error(error, CC_ERROR, CC_ERROR_CRYPTO, "cannot set up the DTLS context");
        bridge_dtls_identity_free(id);
        return NULL;
    }
    SSL_CTX_set_verify(id->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       verify_fingerprint);
    SSL_CTX_set_options(id->ctx, SSL_OP_NO_QUERY_MTU);
    return id;
}

void
bridge_dtls_identity_free(BridgeDtlsIdentity *id)
{
    if (id == NULL)
        return;
    SSL_CTX_free(id->ctx);
    X509_free(id->cert);
    EVP_PKEY_free(id->key);
    g_free(id);
}

const char *
bridge_dtls_identity_fingerprint(const BridgeDtlsIdentity *id)
{
    return id->fingerprint;
}

/* --- associations ---------------------------------------------------------------------- */

BridgeDtls *
bridge_dtls_new(BridgeDtlsIdentity *id, gboolean client, BridgeDtlsSendFunc send,
                gpointer user_data)
{
    BridgeDtls *dtls = g_new0(BridgeDtls, 1);
    dtls->client = client;
    dtls->send = send;
    dtls->user_data = user_data;
    dtls->ssl = SSL_new(id->ctx);
    BIO *bio = BIO_new(bio_method);
    BIO_set_data(bio, dtls);
    SSL_set_bio(dtls->ssl, bio, bio);
    SSL_set_app_data(dtls->ssl, dtls);
    SSL_set_mtu(dtls->ssl, BRIDGE_DTLS_MTU);
    if (client)
        SSL_set_connect_state(dtls->ssl);
    else
        SSL_set_accept_state(dtls->ssl);
    dtls->state = BRIDGE_DTLS_NEW;
    return dtls;
}

void
bridge_dtls_free(BridgeDtls *dtls)
{
    if (dtls == NULL)
        return;
    SSL_free(dtls->ssl);
    memset(&dtls->local_key, 0, sizeof dtls->local_key);
    memset(&dtls->remote_key, 0, sizeof dtls->remote_key);
    g_free(dtls);
}

gboolean
bridge_dtls_set_remote_fingerprint(BridgeDtls *dtls, const char *hash, const char *value)
{
    if (hash == NULL || g_ascii_strcasecmp(hash, "sha-256") != 0 ||
        !bridge_dtls_fingerprint_valid(value))
        return FALSE;
    for (int i = 0; i < FINGERPRINT_LEN; i++)
        dtls->remote_fp[i] = g_ascii_toupper(value[i]);
    dtls->remote_fp[FINGERPRINT_LEN] = '\0';
    return TRUE;
}

static gboolean
cert_matches(BridgeDtls *dtls, X509 *cert)
{
    if (cert == NULL || dtls->remote_fp[0] == '\0')
        return FALSE;
    unsigned char md[32];
    unsigned int md_len = 0;
    if (X509_digest(cert, EVP_sha256(), md, &md_len) != 1 || md_len != 32)
        return FALSE;
    char fp[FINGERPRINT_LEN + 1];
    format_fingerprint(md, fp);
    return CRYPTO_memcmp(fp, dtls->remote_fp, FINGERPRINT_LEN) == 0;
}

static gboolean
fingerprint_matches(BridgeDtls *dtls)
{
    X509 *peer = SSL_get1_peer_certificate(dtls->ssl);
    gboolean ok = cert_matches(dtls, peer);
    X509_free(peer);
    return ok;
}

static gboolean
export_keys(BridgeDtls *dtls)
{
    const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(dtls->ssl);
    if (p == NULL)
        return FALSE;
    BridgeSrtpProfile profile;
    if (p->id == SRTP_AEAD_AES_128_GCM)
        profile = BRIDGE_SRTP_AEAD_AES_128_GCM;
    else if (p->id == SRTP_AES128_CM_SHA1_80)
        profile = BRIDGE_SRTP_AES128_CM_SHA1_80;
    else
        return FALSE;
    gsize salt = bridge_srtp_salt_len(profile);
    guint8 material[2 * (16 + 14)];
    gsize total = 2 * (16 + salt);
    static const char label[] = "EXTRACTOR-dtls_srtp";
    if (SSL_export_keying_material(dtls->ssl, material, total, label, sizeof label - 1, NULL, 0,
                                   0) != 1)
        return FALSE;
    /* client key, server key, client salt, server salt */
    BridgeSrtpKey client = {.profile = profile}, server = {.profile = profile};
    memcpy(client.key, material, 16);
    memcpy(server.key, material + 16, 16);
    memcpy(client.salt, material + 32, salt);
    memcpy(server.salt, material + 32 + salt, salt);
    dtls->local_key = dtls->client ? client : server;
    dtls->remote_key = dtls->client ? server : client;
    memset(material, 0, sizeof material);
    return TRUE;
}

static void
fail(BridgeDtls *dtls, BridgeDtlsFailure why)
{
    dtls->state = BRIDGE_DTLS_FAILED;
    dtls->failure = why;
    ERR_clear_error();
}

static void
step(BridgeDtls *dtls)
{
    int rc = SSL_do_handshake(dtls->ssl);
    if (rc == 1) {
        if (!fingerprint_matches(dtls))
            fail(dtls, BRIDGE_DTLS_FAIL_FINGERPRINT);
        else if (!export_keys(dtls))
            fail(dtls, BRIDGE_DTLS_FAIL_NO_SRTP);
        else
            dtls->state = BRIDGE_DTLS_CONNECTED;
        return;
    }
    int err = SSL_get_error(dtls->ssl, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
        return;
    fail(dtls, dtls->failure == BRIDGE_DTLS_FAIL_FINGERPRINT ? BRIDGE_DTLS_FAIL_FINGERPRINT
                                                             : BRIDGE_DTLS_FAIL_HANDSHAKE);
}

void
bridge_dtls_start(BridgeDtls *dtls)
{
    if (dtls->state != BRIDGE_DTLS_NEW)
        return;
    dtls->state = BRIDGE_DTLS_HANDSHAKING;
    if (dtls->client)
        step(dtls);
}

BridgeDtlsState
bridge_dtls_receive(BridgeDtls *dtls, const guint8 *buf, gsize len)
{
    if (dtls->state == BRIDGE_DTLS_FAILED || dtls->state == BRIDGE_DTLS_CLOSED)
        return dtls->state;
    if (dtls->state == BRIDGE_DTLS_NEW)
        dtls->state = BRIDGE_DTLS_HANDSHAKING;
    dtls->pending = buf;
    dtls->pending_len = len;
    if (dtls->state == BRIDGE_DTLS_HANDSHAKING) {
        step(dtls);
    } else {
        /* After the handshake: a retransmitted flight, application data (ignored) or an
         * alert. */
        guint8 scratch[256];
        int n = SSL_read(dtls->ssl, scratch, sizeof scratch);
        if (n <= 0) {
            int err = SSL_get_error(dtls->ssl, n);
            if (err == SSL_ERROR_ZERO_RETURN)
                dtls->state = BRIDGE_DTLS_CLOSED;
            ERR_clear_error();
        }
    }
    dtls->pending = NULL;
    dtls->pending_len = 0;
    return dtls->state;
}

BridgeDtlsState
bridge_dtls_tick(BridgeDtls *dtls)
{
    if (dtls->state != BRIDGE_DTLS_HANDSHAKING)
        return dtls->state;
    if (DTLSv1_handle_timeout(dtls->ssl) < 0)
        fail(dtls, BRIDGE_DTLS_FAIL_HANDSHAKE);
    return dtls->state;
}

BridgeDtlsState
bridge_dtls_state(const BridgeDtls *dtls)
{
    return dtls->state;
}

BridgeDtlsFailure
bridge_dtls_failure(const BridgeDtls *dtls)
{
    return dtls->failure;
}

void
bridge_dtls_srtp_keys(const BridgeDtls *dtls, BridgeSrtpKey *local, BridgeSrtpKey *remote)
{
    *local = dtls->local_key;
    *remote = dtls->remote_key;
}
