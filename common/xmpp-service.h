/* What every Conclave component answers about itself: XEP-0030 disco#info and disco#items
 * on its domain, and XEP-0199 ping. */
#pragma once

#include "xmpp.h"

G_BEGIN_DECLS

typedef struct {
    const char *category;        /* e.g. "conference" */
    const char *type;            /* e.g. "text" */
    const char *name;            /* human-readable */
    const char *const *features; /* NULL-terminated; disco#info and ping are always added */
} CcServiceIdentity;

/* Registers the handlers. `identity` must outlive the component. Requests to another JID
 * of the domain (a node@ or /resource address) get item-not-found: the daemon registers its
 * own handlers for the addresses it serves. */
void cc_xmpp_service_install(CcXmppComponent *comp, const CcServiceIdentity *identity);

/* TRUE when `stanza` is addressed to the component's bare domain. */
gboolean cc_xmpp_service_is_for_domain(CcXmppComponent *comp, xmpp_stanza_t *stanza);

G_END_DECLS
