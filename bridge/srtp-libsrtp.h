/* libsrtp2 sessions configured as the bridge configures them (srtp.c): for srtp.c itself,
 * and for what measures or checks against libsrtp2 (bench-floor, the SRTP transform tests). */
#pragma once

#include "srtp-key.h"

#include <srtp2/srtp.h>

G_BEGIN_DECLS

/* Both profiles' RTP and RTCP, replay window 1024; outbound sessions allow repeated
 * transmission of an index (NACK answers). NULL when libsrtp2 refuses; `*status` says why
 * (may be NULL). bridge_srtp_global_init() must have run. */
srtp_t bridge_srtp_libsrtp_session(const BridgeSrtpKey *key, gboolean outbound,
                                   srtp_err_status_t *status);

G_END_DECLS
