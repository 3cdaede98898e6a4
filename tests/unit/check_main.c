/* Runs every unit suite (CK_RUN_SUITE / CK_RUN_CASE pick some); exits non-zero
 * when a test fails. */
#include <stdlib.h>

#include <apr_general.h>

#include <string.h>
#include "chat_util.h"
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
    srunner_add_suite(sr, suite_ai_sse());
    srunner_add_suite(sr, suite_wire());
    srunner_add_suite(sr, suite_products());
    srunner_add_suite(sr, suite_calendar());
    srunner_add_suite(sr, suite_source());
    srunner_add_suite(sr, suite_sentinel());
    srunner_run_all(sr, CK_ENV); /* CK_VERBOSITY=verbose lists every test */
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    apr_pool_destroy(test_pool);
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

char *check_read_file(const char *path, apr_size_t *len)
{
    char *buf = NULL;
    const char *err = chat_file_slurp(test_pool, path, 16 * 1024 * 1024, &buf, len);

    ck_assert_msg(err == NULL, "%s", err ? err : "");
    return buf;
}

apr_size_t check_mutate(char *buf, apr_size_t n, const char *alphabet, unsigned int *seed)
{
    apr_size_t edits = 1 + (apr_size_t)(rand_r(seed) % 8), e, alen = strlen(alphabet);

    for (e = 0; e < edits && n; e++) {
        apr_size_t at = (apr_size_t)rand_r(seed) % n;
        switch (rand_r(seed) % 3) {
        case 0: /* overwrite a byte */
            buf[at] = alphabet[(apr_size_t)rand_r(seed) % alen];
            break;
        case 1: /* cut here */
            n = at;
            break;
        default: /* drop a byte */
            memmove(buf + at, buf + at + 1, n - at - 1);
            n--;
        }
    }
    return n;
}
