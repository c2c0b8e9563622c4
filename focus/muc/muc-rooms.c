/* The service's table of rooms: finding a room by name, creating it on the first join and
 * destroying it (the media side hears of it first, through the hooks). */
#include "muc.h"

FocusRoom *
focus_muc_find_room(FocusMuc *muc, const char *local)
{
    g_autofree char *key = g_utf8_casefold(local, -1);
    return g_hash_table_lookup(muc->rooms, key);
}

FocusRoom *
focus_muc_create_room(FocusMuc *muc, const char *local)
{
    FocusRoom *room = focus_room_new(muc, local);
    g_hash_table_insert(muc->rooms, room->local, room);
    cc_metric_set(muc->metrics.rooms, g_hash_table_size(muc->rooms));
    cc_metric_inc(muc->metrics.rooms_created);
    g_info("room %s created", room->tag);
    return room;
}

void
focus_muc_destroy_room(FocusMuc *muc, FocusRoom *room)
{
    g_info("room %s destroyed", room->tag);
    focus_muc_audit(muc, "room_destroyed", room->local, NULL,
                    room->destroyed ? "destroyed" : "empty");
    if (muc->hooks.destroying != NULL)
        muc->hooks.destroying(room, muc->hooks.data);
    cc_metric_add(muc->metrics.occupants, -(gint64)room->occupants->len);
    g_hash_table_remove(muc->rooms, room->local);
    cc_metric_set(muc->metrics.rooms, g_hash_table_size(muc->rooms));
    cc_metric_inc(muc->metrics.rooms_destroyed);
}
