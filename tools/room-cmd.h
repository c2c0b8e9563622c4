/* conclavectl room {reserve,show,unreserve}: reserved rooms in the policy store. */
#pragma once

/* argv[0] is "room"; returns the exit status (0 done, 1 failed, 2 usage). */
int ctl_room(int argc, char **argv);

extern const char ctl_room_usage[];
