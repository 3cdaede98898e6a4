/* The Check suites of the pure C code (libchatcore). */
#ifndef CHECK_SUITES_H
#define CHECK_SUITES_H

#include <apr_pools.h>
#include <check.h>

extern apr_pool_t *test_pool;

/* A data file of the source tree, whole, in test_pool (fails the test when
 * it cannot be read). */
char *check_read_file(const char *path, apr_size_t *len);
/* The seeded random drivers of the file parsers: 1 to 8 edits of buf (a
 * byte overwritten from alphabet, the text cut, a byte dropped); the new
 * length. */
apr_size_t check_mutate(char *buf, apr_size_t n, const char *alphabet, unsigned int *seed);

Suite *suite_ws_frame(void);
Suite *suite_utf8(void);
Suite *suite_config(void);
Suite *suite_identity(void);
Suite *suite_cron(void);
Suite *suite_ai(void);
Suite *suite_ai_sse(void);
Suite *suite_wire(void);
Suite *suite_products(void);
Suite *suite_calendar(void);
Suite *suite_sentinel(void);
Suite *suite_source(void);

#endif
