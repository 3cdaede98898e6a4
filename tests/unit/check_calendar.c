/* The trading calendar (data/holidays-cn.txt as shipped): 2026's closures
 * and make-up Saturdays, the next trading day, day and night sessions (a
 * night belongs to the next trading day, none before a holiday); the holiday
 * parser refuses bad lines and survives a seeded random driver. */
#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#include "chat_calendar.h"
#include "check_suites.h"

#define SHIPPED CHAT_SRCDIR "/data/holidays-cn.txt"

static chat_calendar *shipped(void)
{
    static chat_calendar *c;
    const char *err;

    if (!c) {
        err = chat_calendar_load(test_pool, SHIPPED, &c);
        ck_assert_msg(!err, "%s", err ? err : "");
    }
    return c;
}

static long day(const char *ymd)
{
    return chat_calendar_day(atoi(ymd), atoi(ymd + 5), atoi(ymd + 8));
}

/* "2026-10-08 21:30" Beijing time */
static apr_time_t at(const char *when)
{
    return apr_time_from_sec(day(when) * 86400 + atoi(when + 11) * 3600 + atoi(when + 14) * 60 -
                             CHAT_CALENDAR_OFFSET);
}

START_TEST(closures_of_2026)
{
    static const char *const holidays[] = {"2026-01-01", "2026-01-02", "2026-02-16", "2026-02-17",
                                           "2026-02-18", "2026-02-19", "2026-02-20", "2026-02-23",
                                           "2026-04-06", "2026-05-01", "2026-05-04", "2026-05-05",
                                           "2026-06-19", "2026-09-25", "2026-10-01", "2026-10-02",
                                           "2026-10-05", "2026-10-06", "2026-10-07"};
    /* make-up working days: the exchanges stay closed */
    static const char *const makeup[] = {"2026-01-04", "2026-02-14", "2026-02-28",
                                         "2026-05-09", "2026-09-20", "2026-10-10"};
    apr_size_t i;
    long d;
    int trading = 0;

    for (i = 0; i < sizeof(holidays) / sizeof(holidays[0]); i++) {
        const char *why = chat_calendar_closed(test_pool, shipped(), day(holidays[i]));
        ck_assert_msg(why && strstr(why, "is a holiday ("), "%s: %s", holidays[i],
                      why ? why : "open");
    }
    for (i = 0; i < sizeof(makeup) / sizeof(makeup[0]); i++) {
        ck_assert_ptr_nonnull(chat_calendar_closed(test_pool, shipped(), day(makeup[i])));
    }
    ck_assert_str_eq(chat_calendar_closed(test_pool, shipped(), day("2026-10-07")),
                     "2026-10-07 is a holiday (国庆节)");
    ck_assert_str_eq(chat_calendar_closed(test_pool, shipped(), day("2026-10-10")),
                     "2026-10-10 is a Saturday");
    for (d = day("2026-01-01"); d <= day("2026-12-31"); d++) {
        trading += !chat_calendar_closed(test_pool, shipped(), d);
    }
    ck_assert_int_eq(trading, 261 - 19); /* weekdays less weekday holidays */
    /* the coverage the startup warning reads */
    ck_assert_int_eq(chat_calendar_last_year(shipped()), 2026);
}
END_TEST

START_TEST(last_year_listed)
{
    chat_calendar *c = NULL;
    static const char text[] = "2027-12-31 x\n2025-01-01 y\n";

    ck_assert_ptr_null(chat_calendar_parse(test_pool, text, strlen(text), &c));
    ck_assert_int_eq(chat_calendar_last_year(c), 2027); /* whatever the order in the file */
    ck_assert_ptr_null(chat_calendar_parse(test_pool, "# none\n", 7, &c));
    ck_assert_int_eq(chat_calendar_last_year(c), 0);
    ck_assert_int_eq(chat_calendar_last_year(NULL), 0);
}
END_TEST

START_TEST(next_trading_day)
{
    ck_assert_int_eq(chat_calendar_next_trading_day(shipped(), day("2026-10-07")),
                     day("2026-10-08"));
    ck_assert_int_eq(chat_calendar_next_trading_day(shipped(), day("2026-10-09")),
                     day("2026-10-12"));
    ck_assert_int_eq(chat_calendar_next_trading_day(shipped(), day("2026-02-13")),
                     day("2026-02-24"));
    ck_assert_int_eq(chat_calendar_next_trading_day(NULL, day("2026-10-02")), day("2026-10-05"));
    ck_assert_int_eq(chat_calendar_day(1970, 1, 1), 0);
    ck_assert_int_eq(chat_calendar_day(2026, 2, 29), -1);
    ck_assert_int_eq(chat_calendar_day(2028, 2, 29), day("2028-03-01") - 1);
}
END_TEST

START_TEST(sessions)
{
    static const struct {
        chat_session s;
        const char *when, *why; /* why NULL: in session; else a prefix of the reason */
    } rows[] = {
        {CHAT_SESSION_DAY, "2026-10-08 09:00", NULL},
        {CHAT_SESSION_DAY, "2026-10-08 15:15", NULL},
        {CHAT_SESSION_DAY, "2026-10-08 15:16", "outside the day session"},
        {CHAT_SESSION_DAY, "2026-10-08 08:59", "outside the day session"},
        {CHAT_SESSION_DAY, "2026-10-07 10:00", "2026-10-07 is a holiday (国庆节)"},
        {CHAT_SESSION_DAY, "2026-10-10 10:00", "2026-10-10 is a Saturday"},
        {CHAT_SESSION_NIGHT, "2026-10-08 21:00", NULL},
        {CHAT_SESSION_NIGHT, "2026-10-09 02:30", NULL}, /* Thursday's night */
        {CHAT_SESSION_NIGHT, "2026-10-09 02:31", "outside the night session"},
        {CHAT_SESSION_NIGHT, "2026-10-09 22:00", NULL}, /* Friday night trades for Monday */
        {CHAT_SESSION_NIGHT, "2026-10-10 01:00", NULL},
        {CHAT_SESSION_NIGHT, "2026-10-10 21:30", "no night session on the evening of 2026-10-10"},
        {CHAT_SESSION_NIGHT, "2026-09-30 21:30",
         "no night session on the evening of 2026-09-30 "
         "(the next weekday is closed)"},
        {CHAT_SESSION_NIGHT, "2026-02-13 23:00", "no night session"}, /* Monday is 春节 */
        {CHAT_SESSION_NIGHT, "2026-10-08 10:00", "outside the night session"},
        {CHAT_SESSION_ANY, "2026-10-08 08:00", NULL},
        {CHAT_SESSION_ANY, "2026-10-08 23:59", NULL},
        {CHAT_SESSION_ANY, "2026-10-10 01:00", "2026-10-10 is a Saturday"}, /* not a day */
        {CHAT_SESSION_ANY, "2026-10-10 12:00", "2026-10-10 is a Saturday"},
        {CHAT_SESSION_ANY, "2026-10-01 01:00", "2026-10-01 is a holiday"},
        {CHAT_SESSION_ANY, "2026-10-12 00:00", NULL},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *why = chat_calendar_check(test_pool, shipped(), rows[i].s, at(rows[i].when));
        if (!rows[i].why) {
            ck_assert_msg(!why, "%s %s: %s", chat_session_name(rows[i].s), rows[i].when, why);
        }
        else {
            ck_assert_msg(why && !strncmp(why, rows[i].why, strlen(rows[i].why)), "%s %s: %s",
                          chat_session_name(rows[i].s), rows[i].when, why ? why : "in session");
        }
    }
    ck_assert_int_eq(chat_session_parse("night"), CHAT_SESSION_NIGHT);
    ck_assert_int_eq(chat_session_parse("evening"), CHAT_SESSION_NONE);
}
END_TEST

/* The admin API's next run: the cron's next minute that the calendar allows. */
START_TEST(next_run_follows_the_calendar)
{
    static const struct {
        const char *cron;
        chat_session s;
        const char *after, *next; /* next NULL: never */
    } rows[] = {
        {"0 8 * * *", CHAT_SESSION_ANY, "2026-10-09 09:00", "2026-10-12 08:00"}, /* not Sat */
        {"0 8 * * *", CHAT_SESSION_ANY, "2026-09-30 09:00", "2026-10-08 08:00"}, /* 国庆节 */
        {"0 8 * * *", CHAT_SESSION_NONE, "2026-10-09 09:00", "2026-10-10 08:00"},
        {"30 21 * * *", CHAT_SESSION_NIGHT, "2026-09-29 22:00", "2026-10-08 21:30"},
        {"0 1 * * *", CHAT_SESSION_NIGHT, "2026-10-09 09:00", "2026-10-10 01:00"}, /* Fri night */
        {"0 12 * * *", CHAT_SESSION_NIGHT, "2026-09-29 22:00", NULL},
        {"0 0 1 1 *", CHAT_SESSION_NONE, "2026-10-09 09:00", "2027-01-01 00:00"},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        chat_cron *cron;
        ck_assert_ptr_null(chat_cron_parse(test_pool, rows[i].cron, &cron));
        ck_assert_int_eq(chat_calendar_next_cron(shipped(), rows[i].s, cron, at(rows[i].after),
                                                 CHAT_CALENDAR_OFFSET),
                         rows[i].next ? at(rows[i].next) : 0);
    }
}
END_TEST

static const char *parse(const char *text)
{
    chat_calendar *c;
    return chat_calendar_parse(test_pool, text, strlen(text), &c);
}

START_TEST(parser_refuses_by_line)
{
    static const struct {
        const char *text, *err;
    } rows[] = {
        {"# c\n2026-13-01\n", "line 2: 2026-13-01 is not a date"},
        {"2026-02-29 x", "line 1: 2026-02-29 is not a date"},
        {"2026/01/01", "line 1: a date is written YYYY-MM-DD"},
        {"2026-01-01x", "line 1: a date is written YYYY-MM-DD"},
        {"2026-1-1", "line 1: a date is written YYYY-MM-DD"},
        {"2026-01-01 \xff", "line 1: the name is not UTF-8"},
        {"2026-01-02\n2026-01-01 a\n2026-01-02 b", "2026-01-02 is listed twice"},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *err = parse(rows[i].text);
        ck_assert_msg(err && !strcmp(err, rows[i].err), "row %u: %s", (unsigned)i,
                      err ? err : "(accepted)");
    }
    ck_assert_ptr_null(parse("")); /* weekends only */
    ck_assert_ptr_null(parse("  2026-01-01\t元旦 \r\n\n# x\n"));
    ck_assert_ptr_nonnull(
        strstr(chat_calendar_load(test_pool, "/nonexistent/h.txt", NULL), "/nonexistent/h.txt: "));
}
END_TEST

/* Random edits of the shipped file: a calendar or a clear error, no crash. */
START_TEST(parser_random_driver)
{
    static const char alphabet[] = "\n\r\t #-0123456789x节\xff";
    unsigned int seed = 20261130;
    apr_size_t len;
    char *orig;
    int round;

    orig = check_read_file(SHIPPED, &len);
    for (round = 0; round < 2000; round++) {
        apr_pool_t *p;
        char *buf;
        apr_size_t n;
        chat_calendar *c = NULL;
        const char *err;

        apr_pool_create(&p, test_pool);
        buf = apr_pmemdup(p, orig, len + 1);
        n = check_mutate(buf, len, alphabet, &seed);
        err = chat_calendar_parse(p, buf, n, &c);
        if (!err) {
            /* a parsed calendar answers every question */
            ck_assert_int_ge(chat_calendar_next_trading_day(c, day("2026-10-01")),
                             day("2026-10-02"));
            (void)chat_calendar_check(p, c, CHAT_SESSION_NIGHT, at("2026-10-09 22:00"));
        }
        else {
            ck_assert_msg(!strncmp(err, "line ", 5) || strstr(err, " is listed twice"), "%s", err);
        }
        apr_pool_destroy(p);
    }
}
END_TEST

Suite *suite_calendar(void)
{
    Suite *s = suite_create("calendar");
    TCase *tc = tcase_create("calendar");

    tcase_add_test(tc, closures_of_2026);
    tcase_add_test(tc, last_year_listed);
    tcase_add_test(tc, next_trading_day);
    tcase_add_test(tc, sessions);
    tcase_add_test(tc, next_run_follows_the_calendar);
    tcase_add_test(tc, parser_refuses_by_line);
    tcase_add_test(tc, parser_random_driver);
    suite_add_tcase(s, tc);
    return s;
}
