/* libFuzzer target: the policy store's result parser (focus/store/store-policy.c). A row
 * comes from the database, which the focus trusts less than its own memory: a corrupt or
 * hostile row must never crash it or slip a malformed HMAC into a room's owners. The input
 * describes a result: byte 0 the number of columns (mod 11) and, in bit 4, a second row;
 * bytes 1-2 a mask of NULL columns; the rest the column values, separated by NUL bytes.
 * Properties beyond "no crash": only a one-row, nine-column result parses, and every owner
 * or member it yields is 64 lowercase hex digits. */
#include "cc-autoptr.h"
#include "store.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_hmacs(GHashTable *set)
{
    GHashTableIter iter;
    gpointer key;
    g_hash_table_iter_init(&iter, set);
    while (g_hash_table_iter_next(&iter, &key, NULL)) {
        const char *hex = key;
        if (strlen(hex) != 64)
            abort();
        for (int i = 0; i < 64; i++)
            if (!g_ascii_isdigit(hex[i]) && (hex[i] < 'a' || hex[i] > 'f'))
                abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    int fields = data[0] % 11, rows = (data[0] & 0x10) ? 2 : 1;
    unsigned nulls = data[1] | (unsigned)data[2] << 8;
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc attrs[11];
    memset(attrs, 0, sizeof attrs);
    for (int i = 0; i < fields; i++)
        attrs[i].name = (char *)"c";
    if (fields > 0 && !PQsetResultAttrs(r, fields, attrs))
        abort();
    const char *p = (const char *)data + 3, *end = (const char *)data + size;
    for (int i = 0; i < fields; i++) {
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        const char *stop = nul ? nul : end;
        for (int row = 0; row < rows; row++) {
            gboolean is_null = (nulls >> i) & 1;
            if (!PQsetvalue(r, row, i, is_null ? NULL : (char *)p, is_null ? -1 : (int)(stop - p)))
                abort();
        }
        p = nul ? nul + 1 : end;
    }
    FocusStoreAnswer *a = focus_store_parse_answer(r);
    if (a != NULL) {
        if (fields != 9 || rows != 1)
            abort();
        check_hmacs(a->owners);
        check_hmacs(a->members);
        focus_store_answer_free(a);
    }
    PQclear(r);
    return 0;
}
