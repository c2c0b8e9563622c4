/* The main() of every unit test program: runs one Check suite and reports it in TAP on
 * stdout, which the test runner counts case by case. */
#pragma once

#include <check.h>
#include <stdlib.h>

#define CC_TEST_MAIN(make_suite)                                                                   \
    int main(void)                                                                                 \
    {                                                                                              \
        SRunner *runner = srunner_create(make_suite());                                            \
        srunner_set_tap(runner, "-");                                                              \
        srunner_run_all(runner, CK_SILENT);                                                        \
        int failed = srunner_ntests_failed(runner);                                                \
        srunner_free(runner);                                                                      \
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;                                          \
    }
