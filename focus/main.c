/* conclave-focus: the Multi-User Chat service and Jingle focus of a domain. This file only
 * describes the daemon to the shared skeleton; rooms, Jingle and bridges live beside it. */
#include "daemon.h"

static const char *const focus_features[] = {NULL};

static const CcServiceIdentity focus_identity = {
    .category = "conference",
    .type = "text",
    .name = "Conclave conferences",
    .features = focus_features,
};

static const CcDaemonSpec focus_spec = {
    .program = "conclave-focus",
    .summary = "The Conclave conference focus: an XEP-0114 component that is the\n"
               "Multi-User Chat service of its domain.",
    .default_config = "/etc/conclave/focus.conf",
    .default_listen = "127.0.0.1:9471",
    .identity = &focus_identity,
};

int
main(int argc, char **argv)
{
    return cc_daemon_main(&focus_spec, argc, argv);
}
