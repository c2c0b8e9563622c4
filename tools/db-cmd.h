/* conclavectl db {migrate,status}: the policy store's schema. */
#pragma once

/* argv[0] is "db"; returns the exit status (0 done, 1 failed, 2 usage). */
int ctl_db(int argc, char **argv);

extern const char ctl_db_usage[];
