/* SRTP sessions (see srtp.h). Owns the transforms: srtp-send.c outbound (RTP and SRTCP),
 * srtp-receive.c for inbound RTP (what libsrtp would do, without its per-call cost), and a
 * libsrtp2 srtp_t for inbound SRTCP; knows nothing of DTLS or of endpoints.
 * Outbound sessions allow repeated transmission of an index, because the bridge answers
 * NACKs by sending a stored packet again with its original sequence number. */
#include "srtp.h"

#include "cc-error.h"
#include "srtp-libsrtp.h"
#include "srtp-receive.h"
#include "srtp-send.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <string.h>

struct _BridgeSrtp {
    BridgeSrtpSend *out;       /* outbound RTP and SRTCP; NULL on inbound sessions */
    BridgeSrtpReceive *rtp_in; /* inbound RTP; NULL on outbound sessions */
    srtp_t rtcp_in;            /* inbound SRTCP (libsrtp2); NULL on outbound sessions */
};

void
bridge_srtp_global_init(void)
{
    static gsize once = 0;
    if (g_once_init_enter(&once)) {
        srtp_err_status_t st = srtp_init();
        if (st != srtp_err_status_ok)
            g_error("srtp_init failed: %d", (int)st);
        /* AES-GCM runs on GnuTLS: not left to its implicit initialisation, which an
         * environment variable (GNUTLS_NO_IMPLICIT_INIT) turns off */
        int rc = gnutls_global_init();
        if (rc < 0)
            g_error("gnutls_global_init failed: %s", gnutls_strerror(rc));
        g_once_init_leave(&once, 1);
    }
}

const char *
bridge_srtp_profile_name(BridgeSrtpProfile profile)
{
    return profile == BRIDGE_SRTP_AEAD_AES_128_GCM ? "SRTP_AEAD_AES_128_GCM"
                                                   : "SRTP_AES128_CM_SHA1_80";
}

srtp_t
bridge_srtp_libsrtp_session(const BridgeSrtpKey *key, gboolean outbound, srtp_err_status_t *status)
{
    srtp_policy_t policy;
    memset(&policy, 0, sizeof policy);
    if (key->profile == BRIDGE_SRTP_AEAD_AES_128_GCM) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
    } else {
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
    }
    guint8 master[30];
    memcpy(master, key->key, 16);
    memcpy(master + 16, key->salt, bridge_srtp_salt_len(key->profile));
    policy.key = master;
    policy.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
    policy.window_size = 1024;
    policy.allow_repeat_tx = outbound ? 1 : 0;
    srtp_t session = NULL;
    srtp_err_status_t st = srtp_create(&session, &policy);
    explicit_bzero(master, sizeof master);
    if (status != NULL)
        *status = st;
    return st == srtp_err_status_ok ? session : NULL;
}

BridgeSrtp *
bridge_srtp_new(const BridgeSrtpKey *key, gboolean outbound, GError **error)
{
    BridgeSrtp *srtp = g_new0(BridgeSrtp, 1);
    if (outbound) {
        srtp->out = bridge_srtp_send_new(key, error);
    } else {
        srtp_err_status_t st;
        srtp->rtcp_in = bridge_srtp_libsrtp_session(key, FALSE, &st);
        if (srtp->rtcp_in == NULL)
            g_set_error(error, CC_ERROR, CC_ERROR_CRYPTO, "srtp_create failed (%d)", (int)st);
        else
            srtp->rtp_in = bridge_srtp_receive_new(key, error);
    }
    if (srtp->out == NULL && srtp->rtp_in == NULL) {
        bridge_srtp_free(srtp);
        return NULL;
    }
    return srtp;
}

void
bridge_srtp_free(BridgeSrtp *srtp)
{
    if (srtp == NULL)
        return;
    if (srtp->rtcp_in != NULL)
        srtp_dealloc(srtp->rtcp_in);
    bridge_srtp_send_free(srtp->out);
    bridge_srtp_receive_free(srtp->rtp_in);
    g_free(srtp);
}

static int
status_to_code(srtp_err_status_t st)
{
    switch (st) {
    case srtp_err_status_ok:
        return 0;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old:
        return -EALREADY;
    case srtp_err_status_auth_fail:
        return -EBADMSG;
    default:
        return -EINVAL;
    }
}

/* RTP goes one way per session: protect on an outbound one, unprotect on an inbound one. */
static int
protect(BridgeSrtp *srtp, guint8 *buf, gsize *len, gboolean again)
{
    return srtp->out != NULL ? bridge_srtp_send_protect(srtp->out, buf, len, again) : -EINVAL;
}

int
bridge_srtp_protect(BridgeSrtp *srtp, guint8 *buf, gsize *len)
{
    return protect(srtp, buf, len, FALSE);
}

int
bridge_srtp_protect_again(BridgeSrtp *srtp, guint8 *buf, gsize *len)
{
    return protect(srtp, buf, len, TRUE);
}

void
bridge_srtp_retire_ssrc(BridgeSrtp *srtp, guint32 ssrc)
{
    if (srtp->out != NULL)
        bridge_srtp_send_retire(srtp->out, ssrc);
}

int
bridge_srtp_unprotect(BridgeSrtp *srtp, guint8 *buf, gsize *len)
{
    return srtp->rtp_in != NULL ? bridge_srtp_receive_unprotect(srtp->rtp_in, buf, len) : -EINVAL;
}

int
bridge_srtp_protect_rtcp(BridgeSrtp *srtp, guint8 *buf, gsize *len)
{
    return srtp->out != NULL ? bridge_srtp_send_protect_rtcp(srtp->out, buf, len) : -EINVAL;
}

int
bridge_srtp_unprotect_rtcp(BridgeSrtp *srtp, guint8 *buf, gsize *len)
{
    if (srtp->rtcp_in == NULL)
        return -EINVAL;
    int n = (int)*len;
    int rc = status_to_code(srtp_unprotect_rtcp(srtp->rtcp_in, buf, &n));
    if (rc == 0)
        *len = (gsize)n;
    return rc;
}
