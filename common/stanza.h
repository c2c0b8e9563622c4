/* Small helpers for building and reading libstrophe stanzas, and XMPP stanza errors
 * (RFC 6120 section 8.3). */
#pragma once

#include <glib.h>
#include <strophe.h>

G_BEGIN_DECLS

#define CC_NS_STANZAS     "urn:ietf:params:xml:ns:xmpp-stanzas"
#define CC_NS_DISCO_INFO  "http://jabber.org/protocol/disco#info"
#define CC_NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define CC_NS_PING        "urn:xmpp:ping"

/* A new child element `name` in namespace `ns` (NULL: inherited), appended to `parent`;
 * the returned pointer is owned by the parent. */
xmpp_stanza_t *cc_stanza_add_child(xmpp_stanza_t *parent, const char *name, const char *ns);

/* Writing attributes and text: an unsigned number; a string only when not NULL; a text
 * child. */
void cc_stanza_set_uint(xmpp_stanza_t *stanza, const char *name, guint64 value);
void cc_stanza_set_optional(xmpp_stanza_t *stanza, const char *name, const char *value);
void cc_stanza_add_text(xmpp_stanza_t *parent, const char *text);

/* The first child that is an element (not text), or NULL. */
xmpp_stanza_t *cc_stanza_first_element(xmpp_stanza_t *stanza);

/* An empty IQ result answering `request` (from/to swapped, same id). */
xmpp_stanza_t *cc_stanza_iq_result(xmpp_stanza_t *request);

/* An error answering `request`: same name and id, from/to swapped, type='error', with
 * <error type=`type`><`condition`/>[<text>`text`</text>]</error>. */
xmpp_stanza_t *cc_stanza_error_reply(xmpp_stanza_t *request, const char *type,
                                     const char *condition, const char *text);

/* The defined condition of an error stanza (e.g. "item-not-found"), or NULL. */
const char *cc_stanza_error_condition(xmpp_stanza_t *stanza);

/* A random id of 16 hex characters (64 bits), for stanzas we originate. */
char *cc_stanza_new_id(void);

G_END_DECLS
