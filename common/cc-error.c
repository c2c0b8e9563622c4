/* The libconclave-common error domain. */
#include "cc-error.h"

// clang-format off
G_DEFINE_QUARK(conclave-common-error-quark, cc_error)
// clang-format on
