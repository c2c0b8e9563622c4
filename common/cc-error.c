/* The libconclave-common error domain. */
#include "cc-error.h"

G_DEFINE_QUARK(conclave-common-error-quark, cc_error)
