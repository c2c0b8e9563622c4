/* conclave-bridge: the Selective Forwarding Unit. This file only describes the daemon to
 * the shared skeleton; the media plane and the Colibri2 server live beside it. */
#include "daemon.h"

static const char *const bridge_features[] = {NULL};

static const CcServiceIdentity bridge_identity = {
    .category = "component",
    .type = "generic",
    .name = "Conclave media bridge",
    .features = bridge_features,
};

static const CcDaemonSpec bridge_spec = {
    .program = "conclave-bridge",
    .summary = "The Conclave media bridge: a DTLS-SRTP Selective Forwarding Unit driven\n"
               "by the focus over Colibri2.",
    .default_config = "/etc/conclave/bridge.conf",
    .default_listen = "127.0.0.1:9472",
    .identity = &bridge_identity,
};

int
main(int argc, char **argv)
{
    return cc_daemon_main(&bridge_spec, argc, argv);
}
