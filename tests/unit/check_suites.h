/* The Check suites of the pure C code (libchatcore). */
#ifndef CHECK_SUITES_H
#define CHECK_SUITES_H

#include <apr_pools.h>
#include <check.h>

extern apr_pool_t *test_pool;

Suite *suite_ws_frame(void);
Suite *suite_utf8(void);
Suite *suite_config(void);
Suite *suite_identity(void);
Suite *suite_cron(void);
Suite *suite_ai(void);
Suite *suite_wire(void);
Suite *suite_products(void);
Suite *suite_calendar(void);
Suite *suite_source(void);

#endif
