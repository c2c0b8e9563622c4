/* conclavectl room-name: a random, readable room name that nobody can guess. */
#pragma once

#include <glib.h>

/* argv[0] is "room-name"; returns the exit status (0 done, 1 failed, 2 usage). */
int ctl_room_name(int argc, char **argv);

/* A new name (words of syllables joined by '-'), and its entropy in bits. */
char *ctl_room_name_new(double *bits, GError **error);

extern const char ctl_room_name_usage[];
