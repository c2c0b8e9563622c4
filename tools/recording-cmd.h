/* conclavectl recording: keygen, verify and decrypt of encrypted recordings. */
#pragma once

/* argv[0] is "recording"; returns the exit status (0 done, 1 failed, 2 usage). */
int ctl_recording(int argc, char **argv);

extern const char ctl_recording_usage[];
