/* What the SRTP transform tests share (test-srtp-transform.c, test-srtp-receive.c): random
 * keys, libsrtp configured as the bridge configures it, and the comparison of one packet's
 * fate in libsrtp's inbound session and in ours. */
#pragma once

#include "../check-main.h"
#include "srtp-libsrtp.h"
#include "srtp-receive.h"
#include "srtp.h"

#include <errno.h>
#include <string.h>

#define MAX_PACKET 1400
#define BUF_LEN    (MAX_PACKET + BRIDGE_SRTP_MAX_TRAILER)

static inline void
random_key(GRand *rng, BridgeSrtpProfile profile, BridgeSrtpKey *key)
{
    memset(key, 0, sizeof *key);
    key->profile = profile;
    for (gsize i = 0; i < sizeof key->key; i++)
        key->key[i] = (guint8)g_rand_int(rng);
    for (gsize i = 0; i < bridge_srtp_salt_len(profile); i++)
        key->salt[i] = (guint8)g_rand_int(rng);
}

/* libsrtp configured as bridge/srtp.c configures it. */
static inline srtp_t
libsrtp_session(const BridgeSrtpKey *key, gboolean outbound)
{
    bridge_srtp_global_init();
    srtp_t session = bridge_srtp_libsrtp_session(key, outbound, NULL);
    ck_assert_ptr_nonnull(session);
    return session;
}

/* Gives `pkt` (protected) to libsrtp's inbound session and to ours, each its own copy:
 * they must agree on the outcome and, when they accept it, on the bytes (then in `out`,
 * if not NULL). libsrtp's status. */
static inline srtp_err_status_t
receive_both(srtp_t oracle, BridgeSrtpReceive *ours, const guint8 *pkt, gsize len, guint8 *out,
             gsize *out_len)
{
    guint8 a[BUF_LEN], b[BUF_LEN];
    memcpy(a, pkt, len);
    memcpy(b, pkt, len);
    gsize a_len = len;
    int b_len = (int)len;
    int rc = bridge_srtp_receive_unprotect(ours, a, &a_len);
    srtp_err_status_t status = srtp_unprotect(oracle, b, &b_len);
    switch (status) {
    case srtp_err_status_ok:
        ck_assert_int_eq(rc, 0);
        ck_assert_uint_eq(a_len, (gsize)b_len);
        ck_assert_int_eq(memcmp(a, b, a_len), 0);
        if (out != NULL) {
            memcpy(out, a, a_len);
            *out_len = a_len;
        }
        break;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old:
        ck_assert_int_eq(rc, -EALREADY);
        break;
    case srtp_err_status_auth_fail:
        ck_assert_int_eq(rc, -EBADMSG);
        break;
    default: /* a header libsrtp cannot parse */
        ck_assert_msg(rc == -EINVAL, "libsrtp %d, ours %d", (int)status, rc);
        break;
    }
    return status;
}
