/* The audit rows the MUC writes through the policy store (schemas/policy-store.md): which
 * event, which room and which actor (turned into HMACs by the store, never kept), and a
 * reason code. Refusals are audited for joins only, with the contract's reason codes; a
 * refusal that says nothing about access (a nick conflict, a rate limit) is not. Nothing
 * happens when the focus has no database. */
#include "muc.h"

void
focus_muc_audit(FocusMuc *muc, const char *event, const char *room_local, const char *bare_key,
                const char *detail)
{
    if (muc->store == NULL)
        return;
    focus_store_audit(muc->store, event, room_local, bare_key, detail);
}

/* The refusal table's metric label -> the audit's reason code; NULL: not audited. */
static const char *
audit_code(const char *reason)
{
    static const char *const map[][2] = {
        {"policy", "forbidden"},
        {"guest_create", "not_allowed"},
        {"not_started", "not_allowed"},
        {"not_valid_now", "not_valid_now"},
        {"password", "password"},
        {"locked_out", "locked_out"},
        {"banned", "banned"},
        {"members_only", "members_only"},
        {"room_full", "room_full"},
        {"max_rooms", "unavailable"},
        {"store_unavailable", "unavailable"},
        {"store_busy", "unavailable"},
        {"token", "token"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(map); i++) {
        if (g_str_equal(map[i][0], reason))
            return map[i][1];
    }
    return NULL;
}

void
focus_muc_audit_refusal(FocusMuc *muc, xmpp_stanza_t *stanza, const char *reason)
{
    const char *code = audit_code(reason);
    if (muc->store == NULL || code == NULL ||
        !g_str_equal(xmpp_stanza_get_name(stanza), "presence"))
        return;
    g_autoptr(CcJid) from = cc_jid_parse(xmpp_stanza_get_from(stanza), NULL);
    g_autoptr(CcJid) to = cc_jid_parse(xmpp_stanza_get_to(stanza), NULL);
    if (from == NULL || to == NULL || to->local == NULL)
        return;
    g_autofree char *bare_key = from->local ? cc_jid_bare_key(from) : NULL;
    g_autofree char *local = g_utf8_casefold(to->local, -1);
    focus_store_audit(muc->store, "refusal", local, bare_key, code);
}
