/* libFuzzer target: the JID parser (JIDs arrive in every stanza's to/from). Properties
 * checked beyond "no crash": a parsed JID prints back to a string that parses to an equal
 * JID, and its bare form is bare. */
#include "jid.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = g_strndup((const char *)data, size);
    CcJid *jid = cc_jid_parse(text, NULL);
    if (jid != NULL) {
        char *printed = cc_jid_to_string(jid);
        CcJid *again = cc_jid_parse(printed, NULL);
        if (again == NULL || !cc_jid_equal(jid, again))
            abort();
        CcJid *bare = cc_jid_bare(jid);
        if (!cc_jid_is_bare(bare) || !cc_jid_bare_equal(bare, jid))
            abort();
        cc_jid_free(bare);
        cc_jid_free(again);
        g_free(printed);
        cc_jid_free(jid);
    }
    g_free(text);
    return 0;
}
