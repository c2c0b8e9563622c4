/* Data built into conclavectl at build time by tools/embed-data.py: the policy store's
 * migrations (schemas/sql/) and the room-name syllables (schemas/room-name-syllables.txt). */
#pragma once

#include <glib.h>

typedef struct {
    int version;      /* 1, 2, ... in order, without a gap */
    const char *name; /* "policy" for 0001_policy.sql */
    const char *sql;  /* the whole file */
} CtlMigration;

extern const CtlMigration ctl_migrations[];
extern const gsize ctl_n_migrations;

extern const char *const ctl_room_syllables[];
extern const gsize ctl_n_room_syllables;
