/* Runs every unit suite (CK_RUN_SUITE / CK_RUN_CASE pick some); exits non-zero
 * when a test fails. */
#include <stdlib.h>

#include <apr_general.h>

#include "check_suites.h"

apr_pool_t *test_pool;

int main(void)
{
    SRunner *sr;
    int failed;

    apr_initialize();
    apr_pool_create(&test_pool, NULL);
    sr = srunner_create(suite_ws_frame());
    srunner_add_suite(sr, suite_utf8());
    srunner_add_suite(sr, suite_config());
    srunner_add_suite(sr, suite_identity());
    srunner_add_suite(sr, suite_cron());
    srunner_add_suite(sr, suite_ai());
    srunner_add_suite(sr, suite_wire());
    srunner_add_suite(sr, suite_products());
    srunner_add_suite(sr, suite_calendar());
    srunner_add_suite(sr, suite_source());
    srunner_run_all(sr, CK_ENV); /* CK_VERBOSITY=verbose lists every test */
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    apr_pool_destroy(test_pool);
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
