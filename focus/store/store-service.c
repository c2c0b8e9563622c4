/* The top of the store wing: builds a store from its connection (store-conn.c) and its audit
 * queue (store-audit.c), wires the one call the connection makes into the audit (through a
 * callback, so that the connection depends on nothing else in the wing), and ends it. */
#include "store.h"

FocusStore *
focus_store_new(const char *conninfo, GBytes *room_key, const FocusStoreSettings *settings,
                CcMetrics *metrics)
{
    FocusStore *store = focus_store_conn_new(conninfo, room_key, settings, metrics);
    focus_store_audit_init(store);
    focus_store_audit_register(store, metrics);
    store->on_up = focus_store_audit_on_up;
    focus_store_conn_start(store);
    return store;
}

void
focus_store_free(FocusStore *store)
{
    if (store == NULL)
        return;
    focus_store_conn_stop(store);
    focus_store_audit_clear(store);
    focus_store_conn_free(store);
}
