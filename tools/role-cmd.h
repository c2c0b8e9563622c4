/* conclavectl role {grant,revoke,list}: service-wide roles in the policy store. */
#pragma once

/* argv[0] is "role"; returns the exit status (0 done, 1 failed, 2 usage). */
int ctl_role(int argc, char **argv);

extern const char ctl_role_usage[];
