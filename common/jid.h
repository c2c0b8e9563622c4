/* XMPP addresses (RFC 7622): parse, validate, compare, bare and full forms.
 *
 * Validation: each part at most 1023 bytes of valid UTF-8 with no control characters; the
 * localpart must not contain " & ' / : < > @ or spaces; the domain must be non-empty, with
 * no spaces, '@' or '/', and no empty label. Localpart and domain are compared after Unicode
 * case folding (an approximation of PRECIS that agrees with it on ASCII); resources are
 * compared exactly. Full PRECIS profiles are the XMPP server's job: it stamps `from`. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CC_JID_PART_MAX 1023

typedef struct {
    char *local;    /* NULL when absent */
    char *domain;   /* never NULL */
    char *resource; /* NULL when absent */
} CcJid;

CcJid *cc_jid_parse(const char *text, GError **error);
CcJid *cc_jid_new(const char *local, const char *domain, const char *resource, GError **error);
CcJid *cc_jid_copy(const CcJid *jid);
void cc_jid_free(CcJid *jid);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CcJid, cc_jid_free)

gboolean cc_jid_is_bare(const CcJid *jid);
char *cc_jid_to_string(const CcJid *jid);
char *cc_jid_bare_string(const CcJid *jid);
CcJid *cc_jid_bare(const CcJid *jid);

gboolean cc_jid_equal(const CcJid *a, const CcJid *b);
gboolean cc_jid_bare_equal(const CcJid *a, const CcJid *b);
/* The canonical (case-folded) bare form: a key for hash tables. */
char *cc_jid_bare_key(const CcJid *jid);

G_END_DECLS
