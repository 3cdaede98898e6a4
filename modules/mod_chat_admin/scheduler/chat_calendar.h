/* The trading calendar of the Chinese futures exchanges for jobs: weekends
 * and a holiday file (data/holidays-cn.txt; its format is in its header),
 * and the sessions a scheduled minute falls in, on the exchanges' clock
 * (Beijing time, whatever ChatJobTimeZone says).
 *
 * Sessions: "day" is 09:00-15:15 of a trading day (the earliest open to the
 * latest close of the day sessions, CFFEX's bonds included), both ends
 * inclusive. "night" is 21:00-02:30 starting on the evening of trading day D
 * when the next trading day is the next weekday (no night session before a
 * holiday, as the exchanges do); the night belongs to that next trading day
 * (Friday night trades for Monday). "any" is any minute of a trading
 * day's date (Beijing): Saturday 01:00 is in Friday's night session but not
 * on a trading day. */
#ifndef CHAT_CALENDAR_H
#define CHAT_CALENDAR_H

#include <apr_pools.h>
#include <apr_time.h>

#include "chat_cron.h"

#ifndef CHAT_DATADIR
#define CHAT_DATADIR "/usr/local/share/mod_chat"
#endif
#define CHAT_CALENDAR_DEFAULT CHAT_DATADIR "/holidays-cn.txt"
#define CHAT_CALENDAR_OFFSET  (8 * 3600) /* the exchanges' clock */

typedef enum {
    CHAT_SESSION_NONE = 0, /* not a trading job */
    CHAT_SESSION_ANY,
    CHAT_SESSION_DAY,
    CHAT_SESSION_NIGHT
} chat_session;

typedef struct chat_calendar chat_calendar;

/* The holidays from a file's text; NULL and *out, or "line N: ..." from p. */
const char *chat_calendar_parse(apr_pool_t *p, const char *text, apr_size_t len,
                                chat_calendar **out);

/* The holidays from a file; NULL and *out, or "PATH: ..." from p. */
const char *chat_calendar_load(apr_pool_t *p, const char *path, chat_calendar **out);

/* The year of the last holiday listed, 0 when none is: past it every
 * weekday counts as a trading day (the file needs next year's dates). */
int chat_calendar_last_year(const chat_calendar *c);

/* Days since 1970-01-01 of a date, or -1 when it is not a date. */
long chat_calendar_day(int year, int month, int mday);

/* Why day is closed ("Saturday", "Sunday", "a holiday (春节)"), or NULL
 * when it is a trading day. */
const char *chat_calendar_closed(apr_pool_t *p, const chat_calendar *c, long day);

/* The first trading day after day (a year's search at most; -1 beyond). */
long chat_calendar_next_trading_day(const chat_calendar *c, long day);

/* Whether the minute at t is in session s: NULL, or why not (from p). */
const char *chat_calendar_check(apr_pool_t *p, const chat_calendar *c, chat_session s,
                                apr_time_t t);

/* The first minute after `after` that cron (in the zone utc_offset seconds
 * east of UTC) matches and session s allows (NONE: the cron alone); with a
 * session, 0 when none within 31 days (a session the cron never meets). */
apr_time_t chat_calendar_next_cron(const chat_calendar *c, chat_session s, const chat_cron *cron,
                                   apr_time_t after, long utc_offset);

/* "any", "day", "night" <-> chat_session; 0 when not one of them. */
chat_session chat_session_parse(const char *s);
const char *chat_session_name(chat_session s);

#endif
