/* chat_cron: parsing (bitsets, names, macros, a table of bad expressions and
 * their messages), the next run time in UTC and in fixed offsets (short
 * months, leap days, year ends, the day-of-month / day-of-week OR rule),
 * chat_cron_matches, time zone specs, and random next-run searches checked
 * minute by minute against a matcher built on gmtime_r. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* timegm */
#endif
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "chat_cron.h"
#include "chat_tz.h"
#include "check_suites.h"

#define CST (8 * 3600) /* Asia/Shanghai */
#define IST (5 * 3600 + 1800)

/* "YYYY-MM-DDTHH:MM[:SS]Z" (UTC) to apr_time_t; timegm is independent of the
 * code under test and of the process TZ. */
static apr_time_t T(const char *iso)
{
    struct tm tm;
    int sec = 0;

    memset(&tm, 0, sizeof(tm));
    ck_assert_msg(sscanf(iso, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                         &tm.tm_hour, &tm.tm_min, &sec) >= 5,
                  "bad test time %s", iso);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_sec = sec;
    return apr_time_from_sec((apr_int64_t)timegm(&tm));
}

static const char *iso(apr_time_t t)
{
    static char buf[4][32];
    static int n;
    time_t s = (time_t)apr_time_sec(t);
    struct tm tm;
    char *b = buf[n++ % 4];

    if (t == 0) {
        return "(none)";
    }
    gmtime_r(&s, &tm);
    strftime(b, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return b;
}

static chat_cron *P(const char *expr)
{
    chat_cron *c = NULL;
    const char *err = chat_cron_parse(test_pool, expr, &c);

    ck_assert_msg(err == NULL, "'%s': %s", expr, err ? err : "");
    ck_assert_ptr_nonnull(c);
    return c;
}

/* ---- parsing into bitsets ---- */

#define B(n) ((apr_uint64_t)1 << (n))

START_TEST(test_parse_bits)
{
    chat_cron *c;

    c = P("* * * * *");
    ck_assert(c->minute == B(60) - 1);
    ck_assert_uint_eq(c->hour, B(24) - 1);
    ck_assert_uint_eq(c->dom, (B(32) - 1) & ~B(0));
    ck_assert_uint_eq(c->month, (B(13) - 1) & ~B(0));
    ck_assert_uint_eq(c->dow, 0x7F);
    ck_assert_int_eq(c->dom_star, 1);
    ck_assert_int_eq(c->dow_star, 1);

    c = P("*/15 */6 1-31/10 */4 */2");
    ck_assert(c->minute == (B(0) | B(15) | B(30) | B(45)));
    ck_assert_uint_eq(c->hour, B(0) | B(6) | B(12) | B(18));
    ck_assert_uint_eq(c->dom, B(1) | B(11) | B(21) | B(31));
    ck_assert_uint_eq(c->month, B(1) | B(5) | B(9));
    ck_assert_uint_eq(c->dow, B(0) | B(2) | B(4) | B(6));

    c = P("1-5/2 5-8 7 1,6,12 1-5");
    ck_assert(c->minute == (B(1) | B(3) | B(5)));
    ck_assert_uint_eq(c->hour, B(5) | B(6) | B(7) | B(8));
    ck_assert_uint_eq(c->dom, B(7));
    ck_assert_uint_eq(c->month, B(1) | B(6) | B(12));
    ck_assert_uint_eq(c->dow, 0x3E);
    ck_assert_int_eq(c->dom_star, 0);
    ck_assert_int_eq(c->dow_star, 0);

    /* "a/n" runs to the end of the field */
    c = P("10/20 20/1 28/2 11/1 1/2");
    ck_assert(c->minute == (B(10) | B(30) | B(50)));
    ck_assert_uint_eq(c->hour, B(20) | B(21) | B(22) | B(23));
    ck_assert_uint_eq(c->dom, B(28) | B(30));
    ck_assert_uint_eq(c->month, B(11) | B(12));
    ck_assert_uint_eq(c->dow, B(1) | B(3) | B(5)); /* not Sunday */

    /* overlapping list items, single values at both ends */
    c = P("0,59,0-2,1 0,23 1,31 1,12 0,6");
    ck_assert(c->minute == (B(0) | B(1) | B(2) | B(59)));
    ck_assert_uint_eq(c->hour, B(0) | B(23));
    ck_assert_uint_eq(c->dom, B(1) | B(31));
    ck_assert_uint_eq(c->month, B(1) | B(12));
    ck_assert_uint_eq(c->dow, B(0) | B(6));

    /* a stepped star still counts as a star for the day rule, as in Vixie cron */
    c = P("0 0 */2 * 1");
    ck_assert_int_eq(c->dom_star, 1);
    ck_assert_int_eq(c->dow_star, 0);
    c = P("0 0 1 * *,1");
    ck_assert_int_eq(c->dom_star, 0);
    ck_assert_int_eq(c->dow_star, 1);

    /* blanks of any kind and amount around and between fields */
    c = P("  \t5\t\t4  3 2   1 \n");
    ck_assert(c->minute == B(5));
    ck_assert_uint_eq(c->dow, B(1));
}
END_TEST

START_TEST(test_parse_dow_seven)
{
    ck_assert_uint_eq(P("0 0 * * 7")->dow, B(0));
    ck_assert_uint_eq(P("0 0 * * 0")->dow, B(0));
    ck_assert_uint_eq(P("0 0 * * 0,7")->dow, B(0));
    ck_assert_uint_eq(P("0 0 * * 5-7")->dow, B(5) | B(6) | B(0));
    ck_assert_uint_eq(P("0 0 * * 0-7")->dow, 0x7F);
    ck_assert_uint_eq(P("0 0 * * 1-7/3")->dow, B(1) | B(4) | B(0));
    ck_assert_uint_eq(P("0 0 * * 7/1")->dow, B(0));
    ck_assert_uint_eq(P("0 0 * * */7")->dow, B(0));
    ck_assert_uint_eq(P("0 0 * * fri-7")->dow, B(5) | B(6) | B(0));
}
END_TEST

START_TEST(test_parse_names)
{
    ck_assert_uint_eq(P("0 0 * jan,JUL,Dec *")->month, B(1) | B(7) | B(12));
    ck_assert_uint_eq(P("0 0 * jan-dec *")->month, P("0 0 * * *")->month);
    ck_assert_uint_eq(P("0 0 * Mar-Jun/2 *")->month, B(3) | B(5));
    ck_assert_uint_eq(P("0 0 * feb-4 *")->month, B(2) | B(3) | B(4));
    ck_assert_uint_eq(P("0 0 * * mon-fri")->dow, 0x3E);
    ck_assert_uint_eq(P("0 0 * * MON-Fri")->dow, 0x3E);
    ck_assert_uint_eq(P("0 0 * * sun-sat")->dow, 0x7F);
    ck_assert_uint_eq(P("0 0 * * sat,sun")->dow, B(6) | B(0));
    ck_assert_uint_eq(P("0 0 * * tue,thu")->dow, B(2) | B(4));
    ck_assert_uint_eq(P("0 0 * * wed/2")->dow, B(3) | B(5));
}
END_TEST

START_TEST(test_parse_macros)
{
    static const char *const m[][2] = {
        {"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},     {"@midnight", "0 0 * * *"},
        {"@weekly", "0 0 * * 0"},   {"@monthly", "0 0 1 * *"},   {"@yearly", "0 0 1 1 *"},
        {"@annually", "0 0 1 1 *"}, {"  @DAILY  ", "0 0 * * *"}, {"@Weekly\n", "0 0 * * 0"},
    };
    size_t i;

    for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        chat_cron *a = P(m[i][0]), *b = P(m[i][1]);

        ck_assert_msg(a->minute == b->minute && a->hour == b->hour && a->dom == b->dom &&
                          a->month == b->month && a->dow == b->dow && a->dom_star == b->dom_star &&
                          a->dow_star == b->dow_star,
                      "%s != %s", m[i][0], m[i][1]);
    }
}
END_TEST

static const struct {
    const char *expr;
    const char *msg; /* a substring of the error */
} bad[] = {
    {"", "empty cron expression"},
    {" \t ", "empty cron expression"},
    {"* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"},
    {"* * * * * *", "got 6"},
    {"0 0 * * * /bin/true", "got 6"},
    {"*", "got 1"},
    {"60 * * * *", "minute field: '60' is out of range 0-59"},
    {"* 24 * * *", "hour field: '24' is out of range 0-23"},
    {"0 25 * * *", "hour field: '25' is out of range 0-23"},
    {"* * 0 * *", "day-of-month field: '0' is out of range 1-31"},
    {"* * 32 * *", "day-of-month field: '32' is out of range 1-31"},
    {"* * * 0 *", "month field: '0' is out of range 1-12"},
    {"* * * 13 *", "month field: '13' is out of range 1-12"},
    {"* * * * 8", "day-of-week field: '8' is out of range 0-7"},
    {"0-60 * * * *", "minute field: '60' is out of range 0-59"},
    {"99999999999999999999 * * * *", "minute field: '99999999999999999999' is out of range"},
    {"5-1 * * * *", "minute field: range '5-1' is reversed"},
    {"0 23-22 * * *", "hour field: range '23-22' is reversed"},
    {"* * * dec-jan *", "month field: range 'dec-jan' is reversed"},
    {"* * * * fri-mon", "day-of-week field: range 'fri-mon' is reversed"},
    {"* * * * 7-1", "day-of-week field: range '7-1' is reversed"},
    {"*/0 * * * *", "minute field: step '0' in '*/0' is out of range 1-59"},
    {"* 1-5/0 * * *", "hour field: step '0' in '1-5/0' is out of range 1-23"},
    {"* * 5/00 * *", "day-of-month field: step '00' in '5/00'"},
    {"*/60 * * * *", "minute field: step '60' in '*/60' is out of range 1-59"},
    {"* * * * */8", "day-of-week field: step '8' in '*/8' is out of range 1-7"},
    {"*/ * * * *", "minute field: '*/' needs a number after '/'"},
    {"*/x * * * *", "minute field: '*/x' needs a number after '/'"},
    {"*/-1 * * * *", "minute field: '*/-1' needs a number after '/'"},
    {"* * * */jan *", "month field: '*/jan' needs a number after '/'"},
    {"1,,2 * * * *", "minute field: empty item in list '1,,2'"},
    {",1 * * * *", "minute field: empty item in list ',1'"},
    {"* 1, * * *", "hour field: empty item in list '1,'"},
    {"* * * * ,", "day-of-week field: empty item in list ','"},
    {"x * * * *", "minute field: 'x' is not a number"},
    {"* mon * * *", "hour field: 'mon' is not a number"},
    {"* * jan * *", "day-of-month field: 'jan' is not a number"},
    {"* * * fri *", "month field: 'fri' is not a number or a month name"},
    {"* * * * jan", "day-of-week field: 'jan' is not a number or a day name"},
    {"* * * * mo", "day-of-week field: 'mo' is not a number or a day name"},
    {"* * * * monday", "day-of-week field: 'monday' is not a number or a day name"},
    {"* * * january *", "month field: 'january' is not a number or a month name"},
    {"5x * * * *", "minute field: unexpected 'x' in '5x'"},
    {"* * * 1jan *", "month field: unexpected 'jan' in '1jan'"},
    {"1-2-3 * * * *", "minute field: unexpected '-3' in '1-2-3'"},
    {"*/5/2 * * * *", "minute field: unexpected '/2' in '*/5/2'"},
    {"*-5 * * * *", "minute field: unexpected '-5' in '*-5'"},
    {"** * * * *", "minute field: unexpected '*' in '**'"},
    {"1- * * * *", "minute field: '1-' ends where a number was expected"},
    {"-1 * * * *", "minute field: unexpected '-1' in '-1'"},
    {"1-\xc3\xa9 * * * *", "minute field: unexpected '\xc3\xa9' in '1-\xc3\xa9'"},
    {"* * * * 1;2", "day-of-week field: unexpected ';2' in '1;2'"},
    {"* * ? * *", "day-of-month field: unexpected '?' in '?'"},
    {"* * L * *", "day-of-month field: 'L' is not a number"},
    {"@reboot", "unknown macro '@reboot'"},
    {"@", "unknown macro '@'"},
    {"@dayly", "unknown macro '@dayly'"},
    {"@daily 5", "unexpected '5' after '@daily'"},
    {"@hourly * * * * *", "unexpected '* * * * *' after '@hourly'"},
};

START_TEST(test_parse_errors)
{
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        chat_cron *c = (chat_cron *)&c; /* must be reset to NULL */
        const char *err = chat_cron_parse(test_pool, bad[i].expr, &c);

        ck_assert_msg(err != NULL, "'%s' was accepted", bad[i].expr);
        ck_assert_msg(strstr(err, bad[i].msg) != NULL, "'%s': got \"%s\", want \"%s\"", bad[i].expr,
                      err, bad[i].msg);
        ck_assert_ptr_null(c);
    }
    {
        chat_cron *c;

        ck_assert_ptr_nonnull(chat_cron_parse(test_pool, NULL, &c));
        ck_assert_ptr_null(c);
    }
}
END_TEST

/* ---- next run time ---- */

static const struct {
    const char *expr;
    long offset;
    const char *after;
    const char *next; /* NULL: none within five years */
} nexts[] = {
    /* strictly after, seconds ignored */
    {"* * * * *", 0, "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"},
    {"* * * * *", 0, "2026-01-01T00:00:59Z", "2026-01-01T00:01:00Z"},
    {"30 10 * * *", 0, "2026-05-05T10:29:59Z", "2026-05-05T10:30:00Z"},
    {"30 10 * * *", 0, "2026-05-05T10:30:00Z", "2026-05-06T10:30:00Z"},
    {"30 10 * * *", 0, "2026-05-05T10:30:30Z", "2026-05-06T10:30:00Z"},
    /* Asia/Shanghai: 08:00 local is 00:00 UTC */
    {"0 8 * * *", CST, "2026-11-24T00:00:00Z", "2026-11-25T00:00:00Z"},
    {"0 8 * * *", CST, "2026-11-23T23:59:59Z", "2026-11-24T00:00:00Z"},
    {"0 8 * * *", CST, "2026-11-24T12:00:00Z", "2026-11-25T00:00:00Z"},
    {"0 8 * * *", 0, "2026-11-24T00:00:00Z", "2026-11-24T08:00:00Z"},
    {"0 0 * * *", CST, "2026-11-24T00:00:00Z", "2026-11-24T16:00:00Z"},
    {"@midnight", CST, "2026-11-24T15:59:00Z", "2026-11-24T16:00:00Z"},
    {"@midnight", CST, "2026-11-24T16:00:00Z", "2026-11-25T16:00:00Z"},
    {"30 1 * * *", CST, "2026-11-24T00:00:00Z", "2026-11-24T17:30:00Z"},
    /* Monday 09:00 in Shanghai is Monday 01:00 UTC; UTC Sunday evening is
     * already Monday there */
    {"0 9 * * mon", CST, "2026-01-04T20:00:00Z", "2026-01-05T01:00:00Z"},
    {"0 9 * * mon", 0, "2026-01-04T20:00:00Z", "2026-01-05T09:00:00Z"},
    {"0 7 * * mon", CST, "2026-01-04T22:59:00Z", "2026-01-04T23:00:00Z"},
    /* negative offset (-05:30): local midnight is 05:30 UTC */
    {"0 0 * * *", -IST, "2026-01-01T00:00:00Z", "2026-01-01T05:30:00Z"},
    {"0 0 1 * *", -IST, "2026-01-01T05:29:00Z", "2026-01-01T05:30:00Z"},
    {"0 0 1 * *", -IST, "2026-01-01T05:30:00Z", "2026-02-01T05:30:00Z"},
    {"0 0 * * *", IST, "2026-01-01T00:00:00Z", "2026-01-01T18:30:00Z"},
    /* steps and ranges */
    {"*/15 * * * *", 0, "2026-03-10T10:07:00Z", "2026-03-10T10:15:00Z"},
    {"*/15 * * * *", 0, "2026-03-10T10:45:00Z", "2026-03-10T11:00:00Z"},
    {"*/15 * * * *", 0, "2026-12-31T23:59:00Z", "2027-01-01T00:00:00Z"},
    {"1-5/2 * * * *", 0, "2026-03-10T10:00:00Z", "2026-03-10T10:01:00Z"},
    {"1-5/2 * * * *", 0, "2026-03-10T10:01:00Z", "2026-03-10T10:03:00Z"},
    {"1-5/2 * * * *", 0, "2026-03-10T10:05:00Z", "2026-03-10T11:01:00Z"},
    {"58-59 * * * *", 0, "2026-03-10T10:58:00Z", "2026-03-10T10:59:00Z"},
    {"58-59 * * * *", 0, "2026-03-10T10:59:00Z", "2026-03-10T11:58:00Z"},
    {"58-59 23 * * *", 0, "2026-02-28T23:59:00Z", "2026-03-01T23:58:00Z"},
    {"10/20 * * * *", 0, "2026-03-10T10:50:00Z", "2026-03-10T11:10:00Z"},
    {"0 */6 * * *", 0, "2026-03-10T18:00:00Z", "2026-03-11T00:00:00Z"},
    {"0 9-17/4 * * *", 0, "2026-03-10T17:00:00Z", "2026-03-11T09:00:00Z"},
    {"0 9-17/4 * * *", 0, "2026-03-10T09:00:00Z", "2026-03-10T13:00:00Z"},
    {"0 0 * */5 *", 0, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
    {"0 0 1 */5 *", 0, "2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z"},
    {"0 0 1 */5 *", 0, "2026-11-01T00:00:00Z", "2027-01-01T00:00:00Z"},
    {"0 12 * * 1/2", 0, "2026-01-05T12:00:00Z", "2026-01-07T12:00:00Z"}, /* Mon -> Wed */
    {"0 12 * * 1/2", 0, "2026-01-09T12:00:00Z", "2026-01-12T12:00:00Z"}, /* Fri -> Mon */
    /* the 31st skips short months */
    {"0 0 31 * *", 0, "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z"},
    {"0 0 31 * *", 0, "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"},
    {"0 0 31 * *", 0, "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z"},
    {"0 0 31 * *", 0, "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z"},
    {"0 0 31 * *", 0, "2026-08-31T00:00:00Z", "2026-10-31T00:00:00Z"},
    {"0 0 31 * *", 0, "2026-12-31T00:00:00Z", "2027-01-31T00:00:00Z"},
    {"0 0 30 * *", 0, "2026-01-30T00:00:00Z", "2026-03-30T00:00:00Z"},
    {"0 0 29 * *", 0, "2027-01-29T00:00:00Z", "2027-03-29T00:00:00Z"},
    {"0 0 29 * *", 0, "2028-01-29T00:00:00Z", "2028-02-29T00:00:00Z"},
    /* leap days: 2000 was leap, 2100 is not */
    {"0 0 29 2 *", 0, "2026-01-01T00:00:00Z", "2028-02-29T00:00:00Z"},
    {"0 0 29 2 *", 0, "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"},
    {"0 0 29 2 *", 0, "1999-01-01T00:00:00Z", "2000-02-29T00:00:00Z"},
    {"0 0 29 2 *", 0, "2096-03-01T00:00:00Z", NULL}, /* 2104: beyond five years */
    {"0 0 29 feb *", CST, "2026-01-01T00:00:00Z", "2028-02-28T16:00:00Z"},
    {"0 0 1 3 *", 0, "2100-02-28T00:00:00Z", "2100-03-01T00:00:00Z"},
    {"0 0 * 2 *", 0, "2100-02-28T00:00:00Z", "2101-02-01T00:00:00Z"},
    {"0 0 * 2 *", 0, "2028-02-28T00:00:00Z", "2028-02-29T00:00:00Z"},
    /* never */
    {"0 0 30 2 *", 0, "2026-01-01T00:00:00Z", NULL},
    {"0 0 31 4,6,9,11 *", 0, "2026-01-01T00:00:00Z", NULL},
    {"0 0 31 2 *", CST, "2026-01-01T00:00:00Z", NULL},
    /* but the OR rule makes Feb 30 "or Monday" fire */
    {"0 0 30 2 mon", 0, "2026-01-01T00:00:00Z", "2026-02-02T00:00:00Z"},
    /* day-of-month OR day-of-week when both are restricted */
    {"0 0 13 * fri", 0, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"}, /* a Friday */
    {"0 0 13 * fri", 0, "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z"}, /* a Tuesday */
    {"0 0 13 * fri", 0, "2026-01-13T00:00:00Z", "2026-01-16T00:00:00Z"}, /* a Friday */
    {"0 0 13 * fri", 0, "2026-02-12T00:00:00Z", "2026-02-13T00:00:00Z"}, /* both */
    {"0 0 13 * *", 0, "2026-01-01T00:00:00Z", "2026-01-13T00:00:00Z"},
    {"0 0 * * fri", 0, "2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z"},
    {"30 4 1,15 * 5", 0, "2026-01-01T05:00:00Z", "2026-01-02T04:30:00Z"},
    {"30 4 1,15 * 5", 0, "2026-01-09T04:30:00Z", "2026-01-15T04:30:00Z"},
    /* a stepped star counts as '*': then both must match (Vixie cron) */
    {"0 0 */2 * mon", 0, "2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z"},
    {"0 0 */2 * mon", 0, "2026-01-05T00:00:00Z", "2026-01-19T00:00:00Z"},
    {"0 0 1 * */2", 0, "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"}, /* Feb 1 is Sunday */
    /* 7 and 0 are Sunday */
    {"0 0 * * 7", 0, "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
    {"0 0 * * 0", 0, "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
    {"0 0 * * sun", 0, "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
    {"0 0 * * 6-7", 0, "2026-01-04T00:00:00Z", "2026-01-10T00:00:00Z"},
    {"0 9 * * mon-fri", 0, "2026-01-02T09:00:00Z", "2026-01-05T09:00:00Z"},
    {"0 9 * * MON-FRI", CST, "2026-01-02T01:00:00Z", "2026-01-05T01:00:00Z"},
    /* names */
    {"0 0 1 jul *", 0, "2026-07-01T00:00:00Z", "2027-07-01T00:00:00Z"},
    {"15 10 * Mar-May sat", 0, "2026-01-01T00:00:00Z", "2026-03-07T10:15:00Z"},
    /* macros */
    {"@hourly", 0, "2026-03-10T10:00:00Z", "2026-03-10T11:00:00Z"},
    {"@daily", 0, "2026-12-31T23:59:00Z", "2027-01-01T00:00:00Z"},
    {"@weekly", 0, "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
    {"@monthly", 0, "2026-01-15T00:00:00Z", "2026-02-01T00:00:00Z"},
    {"@yearly", 0, "2026-06-01T00:00:00Z", "2027-01-01T00:00:00Z"},
    {"@annually", CST, "2026-06-01T00:00:00Z", "2026-12-31T16:00:00Z"},
    /* year rollover */
    {"59 23 31 12 *", 0, "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z"},
    {"59 23 31 12 *", 0, "2026-12-31T23:58:59Z", "2026-12-31T23:59:00Z"},
    {"0 0 1 1 *", CST, "2026-12-31T15:59:00Z", "2026-12-31T16:00:00Z"},
    {"0 0 1 1 *", CST, "2026-12-31T16:00:00Z", "2027-12-31T16:00:00Z"},
    {"0 0 1 1 *", -IST, "2026-12-31T23:00:00Z", "2027-01-01T05:30:00Z"},
    {"0 0 * * *", 0, "2099-12-31T00:00:00Z", "2100-01-01T00:00:00Z"},
    /* before 1970: times below zero round down to their day */
    {"0 0 * * *", 0, "1969-07-20T20:17:40Z", "1969-07-21T00:00:00Z"},
    {"30 0 1 1 *", 0, "1969-12-31T23:00:00Z", "1970-01-01T00:30:00Z"},
    {"0 12 * * thu", 0, "1969-12-25T12:00:00Z", "1970-01-01T12:00:00Z"},
};

START_TEST(test_next_table)
{
    size_t i;

    for (i = 0; i < sizeof(nexts) / sizeof(nexts[0]); i++) {
        chat_cron *c = P(nexts[i].expr);
        apr_time_t got = chat_cron_next(c, T(nexts[i].after), nexts[i].offset);
        apr_time_t want = nexts[i].next ? T(nexts[i].next) : 0;

        ck_assert_msg(got == want, "'%s' %+ld after %s: got %s, want %s", nexts[i].expr,
                      nexts[i].offset, nexts[i].after, iso(got), iso(want));
        if (got) {
            ck_assert_msg(chat_cron_matches(c, got, nexts[i].offset), "'%s' at %s", nexts[i].expr,
                          iso(got));
        }
    }
}
END_TEST

/* Sub-second parts of `after` are ignored like its seconds. */
START_TEST(test_next_microseconds)
{
    chat_cron *c = P("* * * * *");
    apr_time_t t = T("2026-01-01T00:00:00Z");

    ck_assert(chat_cron_next(c, t + 999999, 0) == t + apr_time_from_sec(60));
    ck_assert(chat_cron_next(c, t - 1, 0) == t);
    ck_assert(chat_cron_next(c, t + apr_time_from_sec(59) + 999999, 0) ==
              t + apr_time_from_sec(60));
}
END_TEST

/* Following next() from its own result walks every run in order, across
 * hours, days, months and into the next year. */
START_TEST(test_next_chain)
{
    static const char *const want[] = {
        "2026-02-27T23:45:00Z", "2026-02-28T00:00:00Z", "2026-02-28T00:15:00Z",
        "2026-02-28T00:45:00Z", "2026-02-28T23:00:00Z", "2026-02-28T23:15:00Z",
        "2026-02-28T23:45:00Z", "2026-03-27T00:00:00Z", "2026-03-27T00:15:00Z",
        "2026-03-27T00:45:00Z", "2026-03-27T23:00:00Z", "2026-03-27T23:15:00Z",
        "2026-03-27T23:45:00Z", "2026-03-28T00:00:00Z", "2026-03-28T00:15:00Z",
        "2026-03-28T00:45:00Z", "2026-03-28T23:00:00Z", "2026-03-28T23:15:00Z",
        "2026-03-28T23:45:00Z", "2027-02-27T00:00:00Z",
    };
    chat_cron *c = P("0,15,45 0,23 27-28 2-3 *");
    apr_time_t t = T("2026-02-27T23:44:59Z");
    size_t i;

    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        t = chat_cron_next(c, t, 0);
        ck_assert_str_eq(iso(t), want[i]);
    }
}
END_TEST

START_TEST(test_next_far_future)
{
    chat_cron *c = P("* * * * *");

    /* no overflow near the end of apr_time_t */
    ck_assert(chat_cron_next(c, APR_INT64_MAX - 1000, 0) == 0);
    ck_assert(chat_cron_next(c, APR_INT64_MAX - 1000, -14 * 3600) == 0);
    /* nor with absurd offsets */
    ck_assert(chat_cron_next(c, 0, 86401) == 0);
    ck_assert(chat_cron_next(c, 0, -86401) == 0);
    ck_assert(chat_cron_next(c, 0, 86400) == apr_time_from_sec(60));
    ck_assert_int_eq(chat_cron_matches(c, 0, 86401), 0);
    ck_assert_int_eq(chat_cron_matches(c, 0, -86400), 1);
}
END_TEST

/* ---- matches ---- */

START_TEST(test_matches)
{
    chat_cron *c = P("30 10 * * *");
    apr_time_t t;
    int n;

    ck_assert(chat_cron_matches(c, T("2026-05-05T10:30:00Z"), 0));
    ck_assert(chat_cron_matches(c, T("2026-05-05T10:30:59Z"), 0));
    ck_assert(chat_cron_matches(c, T("2026-05-05T10:30:59Z") + 999999, 0));
    ck_assert(!chat_cron_matches(c, T("2026-05-05T10:31:00Z"), 0));
    ck_assert(!chat_cron_matches(c, T("2026-05-05T10:29:59Z"), 0));
    ck_assert(!chat_cron_matches(c, T("2026-05-05T10:30:00Z"), CST));
    ck_assert(chat_cron_matches(c, T("2026-05-05T02:30:00Z"), CST));
    ck_assert(chat_cron_matches(c, T("2026-05-05T16:00:00Z"), -IST));

    c = P("0 8 * * *");
    ck_assert(chat_cron_matches(c, T("2026-11-24T00:00:00Z"), CST));
    ck_assert(!chat_cron_matches(c, T("2026-11-24T00:00:00Z"), 0));

    /* 7 == 0 == sun: 2026-01-04 is a Sunday */
    ck_assert(chat_cron_matches(P("0 0 * * 7"), T("2026-01-04T00:00:00Z"), 0));
    ck_assert(chat_cron_matches(P("0 0 * * 0"), T("2026-01-04T00:00:00Z"), 0));
    ck_assert(!chat_cron_matches(P("0 0 * * 7"), T("2026-01-05T00:00:00Z"), 0));
    /* but in +08:00 it is already Monday 08:00 by 2026-01-05T00:00Z */
    ck_assert(chat_cron_matches(P("0 8 * * 1"), T("2026-01-05T00:00:00Z"), CST));
    ck_assert(!chat_cron_matches(P("0 8 * * 1"), T("2026-01-04T00:00:00Z"), CST));

    /* 1970-01-01 (Thursday) and the minute before it */
    ck_assert(chat_cron_matches(P("0 0 1 1 thu"), 0, 0));
    ck_assert(chat_cron_matches(P("59 23 31 12 wed"), -1, 0));
    ck_assert(!chat_cron_matches(P("59 23 31 12 *"), 0, 0));

    /* "0 0 13 * fri" in 2026: 52 Fridays plus the 13ths that are not
     * Fridays (Feb, Mar and Nov 13 are): 52 + 12 - 3 = 61 days */
    c = P("0 0 13 * fri");
    n = 0;
    for (t = T("2026-01-01T00:00:00Z"); t < T("2027-01-01T00:00:00Z");
         t += apr_time_from_sec(86400)) {
        n += chat_cron_matches(c, t, 0);
    }
    ck_assert_int_eq(n, 61);

    /* February 2100 has 28 days, 2000 had 29 */
    c = P("0 0 * feb *");
    n = 0;
    for (t = T("2100-01-01T00:00:00Z"); t < T("2100-04-01T00:00:00Z");
         t += apr_time_from_sec(86400)) {
        n += chat_cron_matches(c, t, 0);
    }
    ck_assert_int_eq(n, 28);
    n = 0;
    for (t = T("2000-01-01T00:00:00Z"); t < T("2000-04-01T00:00:00Z");
         t += apr_time_from_sec(86400)) {
        n += chat_cron_matches(c, t, 0);
    }
    ck_assert_int_eq(n, 29);

    /* every minute of a day against "*\/15 9-17 ..." */
    c = P("*/15 9-17 * * *");
    n = 0;
    for (t = T("2026-06-01T00:00:00Z"); t < T("2026-06-02T00:00:00Z"); t += apr_time_from_sec(60)) {
        n += chat_cron_matches(c, t, 0);
    }
    ck_assert_int_eq(n, 9 * 4);
}
END_TEST

/* ---- time zones ---- */

START_TEST(test_parse_tz)
{
    static const struct {
        const char *spec;
        long offset;
    } good[] = {
        {"UTC", 0},
        {"Etc/UTC", 0},
        {"utc", 0},
        {"Asia/Shanghai", CST},
        {"asia/shanghai", CST},
        {"Asia/Hong_Kong", CST},
        {"Asia/Singapore", CST},
        {"Asia/Tokyo", 9 * 3600},
        {"Asia/Kolkata", IST},
        {"+08:00", CST},
        {"+0800", CST},
        {"+08", CST},
        {"-05:30", -IST},
        {"+05:45", 5 * 3600 + 45 * 60},
        {"+00:00", 0},
        {"-00:00", 0},
        {"+14:00", 14 * 3600},
        {"-14:00", -14 * 3600},
    };
    static const struct {
        const char *spec;
        const char *msg;
    } wrong[] = {
        {"", "empty time zone"},
        {"America/New_York", "unknown time zone 'America/New_York'"},
        {"Europe/London", "daylight saving time"},
        {"CST", "unknown time zone"},
        {"08:00", "unknown time zone"},
        {"+8", "an offset is written"},
        {"+8:00", "an offset is written"},
        {"+08:0", "an offset is written"},
        {"+08:00x", "an offset is written"},
        {"+08-00", "an offset is written"},
        {"+", "an offset is written"},
        {"-", "an offset is written"},
        {"+ab:cd", "an offset is written"},
        {"+14:01", "out of range -14:00 to +14:00"},
        {"-15:00", "out of range"},
        {"+08:60", "out of range"},
        {"+99", "out of range"},
    };
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        long off = 12345;
        const char *err = chat_tz_parse(test_pool, good[i].spec, &off);

        ck_assert_msg(err == NULL, "'%s': %s", good[i].spec, err ? err : "");
        ck_assert_msg(off == good[i].offset, "'%s': %ld", good[i].spec, off);
    }
    for (i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        long off = 12345;
        const char *err = chat_tz_parse(test_pool, wrong[i].spec, &off);

        ck_assert_msg(err != NULL, "'%s' was accepted", wrong[i].spec);
        ck_assert_msg(strstr(err, wrong[i].msg) != NULL, "'%s': got \"%s\"", wrong[i].spec, err);
        ck_assert_int_eq(off, 12345);
    }
    {
        long off = 1;

        ck_assert_ptr_nonnull(chat_tz_parse(test_pool, NULL, &off));
    }
}
END_TEST

/* ---- random searches against an independent matcher ---- */

/* Reads the bitsets directly, with dates from gmtime_r. *day_ok tells
 * whether the whole local day can be skipped. */
static int ref_matches(const chat_cron *c, apr_time_t t, long offset, int *day_ok)
{
    time_t s = (time_t)(apr_time_sec(t) + offset);
    struct tm tm;
    int dm, wm, ok;

    gmtime_r(&s, &tm);
    dm = (c->dom >> tm.tm_mday) & 1;
    wm = (c->dow >> tm.tm_wday) & 1;
    ok = ((c->month >> (tm.tm_mon + 1)) & 1) &&
         ((c->dom_star || c->dow_star) ? (dm && wm) : (dm || wm));
    if (day_ok) {
        *day_ok = ok;
    }
    return ok && ((c->minute >> tm.tm_min) & 1) && ((c->hour >> tm.tm_hour) & 1);
}

START_TEST(test_next_random)
{
    /* the scan below steps a minute at a time only through days that match */
    static const char *const exprs[] = {
        "* * * * *",
        "*/7 * * * *",
        "5 */3 * * *",
        "0 8 * * mon-fri",
        "30 2 13 * fri",
        "0 0 1,15 * *",
        "45 23 * * 0",
        "0 0 */2 * mon",
        "58-59 1-5/2 * * *",
        "0 12 * * 1/2",
        "0 0 28-31 * *",
        "59 23 * * 7",
        "0,30 6-9 * * sat,sun",
        "*/20 0 1-10 * 3",
        "@daily",
        "@weekly",
        "0 0 29 2 *",
        "0 0 31 * *",
        "0 0 13 * fri",
        "@yearly",
        "0 0 1 */5 *",
    };
    static const long offsets[] = {0, CST, -IST, 14 * 3600, -12 * 3600, 9 * 3600 + 1};
    unsigned int seed = 7;
    apr_time_t lo = T("1990-01-01T00:00:00Z"), span = T("2090-01-01T00:00:00Z") - lo;
    int round;

    for (round = 0; round < 2000; round++) {
        const char *e = exprs[round % (sizeof(exprs) / sizeof(exprs[0]))];
        long off = offsets[(round / 16) % (sizeof(offsets) / sizeof(offsets[0]))];
        chat_cron *c = P(e);
        apr_time_t after, next, t;
        apr_uint64_t r;

        seed = seed * 1103515245u + 12345u;
        r = seed;
        seed = seed * 1103515245u + 12345u;
        r = (r << 32) | seed;
        after = lo + (apr_time_t)(r % (apr_uint64_t)span);
        next = chat_cron_next(c, after, off);
        ck_assert_msg(next > after, "'%s' %+ld after %s: %s", e, off, iso(after), iso(next));
        ck_assert_msg(ref_matches(c, next, off, NULL), "'%s' %+ld: %s does not match", e, off,
                      iso(next));
        ck_assert_int_eq(apr_time_usec(next), 0);
        ck_assert_int_eq(apr_time_sec(next) % 60 == 0 || off % 60 != 0, 1);
        /* no minute in between matches; days that cannot match are skipped whole */
        t = apr_time_from_sec((apr_time_sec(after) + off) / 60 * 60 - off + 60);
        while (t < next) {
            int day_ok;

            /* ck_abort_msg only on failure: every passing ck_assert costs a
             * message to the runner, millions of them here */
            if (ref_matches(c, t, off, &day_ok)) {
                ck_abort_msg("'%s' %+ld after %s: skipped %s for %s", e, off, iso(after), iso(t),
                             iso(next));
            }
            if (day_ok) {
                t += apr_time_from_sec(60);
            }
            else { /* to the next local midnight */
                t = apr_time_from_sec(((apr_time_sec(t) + off) / 86400 + 1) * 86400 - off);
            }
        }
        ck_assert_int_eq(chat_cron_matches(c, next, off), 1);
    }
}
END_TEST

Suite *suite_cron(void)
{
    Suite *s = suite_create("cron");
    TCase *tp = tcase_create("parse");
    TCase *tn = tcase_create("next");

    tcase_add_test(tp, test_parse_bits);
    tcase_add_test(tp, test_parse_dow_seven);
    tcase_add_test(tp, test_parse_names);
    tcase_add_test(tp, test_parse_macros);
    tcase_add_test(tp, test_parse_errors);
    tcase_add_test(tp, test_parse_tz);
    suite_add_tcase(s, tp);

    tcase_set_timeout(tn, 120);
    tcase_add_test(tn, test_next_table);
    tcase_add_test(tn, test_next_microseconds);
    tcase_add_test(tn, test_next_chain);
    tcase_add_test(tn, test_next_far_future);
    tcase_add_test(tn, test_matches);
    tcase_add_test(tn, test_next_random);
    suite_add_tcase(s, tn);
    return s;
}
