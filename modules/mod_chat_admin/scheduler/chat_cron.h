/* Standard 5-field cron expressions ("min hour dom month dow", Vixie cron
 * semantics) and the next time one fires, in the wall clock of a fixed UTC
 * offset. The calendar math is done here, so the process TZ never matters.
 * Pure C plus APR: no httpd symbols. */
#ifndef CHAT_CRON_H
#define CHAT_CRON_H

#include <apr_pools.h>
#include <apr_time.h>

/* One bit per allowed value. Public so that callers can embed it and tests
 * can look at the sets; fill it only through chat_cron_parse. */
typedef struct chat_cron {
    apr_uint64_t minute; /* bits 0-59 */
    apr_uint32_t hour;   /* bits 0-23 */
    apr_uint32_t dom;    /* bits 1-31 */
    apr_uint32_t month;  /* bits 1-12 */
    apr_uint32_t dow;    /* bits 0-6, 0 = Sunday (a 7 in the expression sets bit 0) */
    /* The field began with '*' (a bare star or a stepped one). As in Vixie
     * cron, when either flag is set a day must match both day fields (so a
     * bare star leaves only the other field), otherwise either one. */
    int dom_star;
    int dow_star;
} chat_cron;

/* Parses "min hour dom month dow" or one of @hourly @daily @midnight @weekly
 * @monthly @yearly @annually. Each field is a comma list of "*", "n" and
 * "a-b", the first and last optionally followed by a step "/n", and of "a/n"
 * (= a-max/n, max 6 for day-of-week); month and day-of-week also take
 * three-letter English names (jan, mon; any case). Day-of-week is 0-7, where
 * 0 and 7 are Sunday. Returns NULL and sets *out (allocated from p), or
 * returns an error message from p that names the field and the bad token,
 * e.g. "hour field: '25' is out of range 0-23". */
const char *chat_cron_parse(apr_pool_t *p, const char *expr, chat_cron **out);

/* The first minute strictly after `after` at which c fires, in the wall
 * clock that is utc_offset_sec seconds ahead of UTC (8*3600 for
 * Asia/Shanghai). 0 when it does not fire within about five years
 * ("0 0 30 2 *"), or when the offset is more than a day either way. */
apr_time_t chat_cron_next(const chat_cron *c, apr_time_t after, long utc_offset_sec);

/* 1 when c fires in the minute that holds t (its seconds are ignored), in
 * that offset; else 0 (also for an offset of more than a day). */
int chat_cron_matches(const chat_cron *c, apr_time_t t, long utc_offset_sec);

#endif
