/* conclavectl audit [purge]: read and trim the policy store's audit table. */
#pragma once

/* argv[0] is "audit"; returns the exit status (0 done, 1 failed, 2 usage). */
int ctl_audit(int argc, char **argv);

extern const char ctl_audit_usage[];
