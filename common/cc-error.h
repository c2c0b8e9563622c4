/* The error domain of libconclave-common and its codes. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CC_ERROR (cc_error_quark())
GQuark cc_error_quark(void);

typedef enum {
    CC_ERROR_CONFIG,       /* a configuration file is wrong */
    CC_ERROR_INVALID,      /* malformed input (JID, base64, ...) */
    CC_ERROR_KEY_FILE,     /* a key or secret file is missing, unsafe or malformed */
    CC_ERROR_CRYPTO,       /* the crypto library failed */
    CC_ERROR_TIMEOUT,      /* a request got no answer in time */
    CC_ERROR_DISCONNECTED, /* the connection went away before an answer */
    CC_ERROR_REMOTE,       /* the peer answered with an error */
} CcError;

G_END_DECLS
