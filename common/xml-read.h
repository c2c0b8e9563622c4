/* Reading network XML strictly: the helpers colibri2.c and jingle.c share (element tests,
 * bounded numbers, SSRCs, the CC_ERROR_INVALID error they all end in). Internal to
 * common/. */
#pragma once

#include <glib.h>
#include <strophe.h>

G_BEGIN_DECLS

/* An element `name`; with `ns` not NULL, one that declares namespace `ns`. */
gboolean cc_xml_is(xmpp_stanza_t *s, const char *name, const char *ns);

/* Sets a CC_ERROR_INVALID error with `message`; returns FALSE. */
gboolean cc_xml_invalid(GError **error, const char *message);

/* A decimal number without sign or spaces, at most `max`. */
gboolean cc_xml_parse_u64(const char *s, guint64 max, guint64 *out);

/* The element's `ssrc` attribute: 1..2^32-1. */
gboolean cc_xml_read_ssrc(xmpp_stanza_t *s, guint32 *out);

G_END_DECLS
