/* The trading calendar: see chat_calendar.h. */
#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "chat_calendar.h"
#include "chat_utf8.h"
#include "chat_util.h"

#define MAX_FILE     (1024 * 1024)
#define DAY_FROM     (9 * 60)       /* 09:00 */
#define DAY_TO       (15 * 60 + 15) /* 15:15 */
#define NIGHT_FROM   (21 * 60)      /* 21:00 */
#define NIGHT_TO     (2 * 60 + 30)  /* 02:30 the next morning */
#define SEARCH_LIMIT 400            /* days: longer than any closure */
#define HORIZON_DAYS 31             /* next run searched a month ahead */

typedef struct holiday {
    long day;
    const char *name;
} holiday;

struct chat_calendar {
    apr_array_header_t *days; /* holiday, sorted by day */
};

static const char *const weekdays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                       "Thursday", "Friday", "Saturday"};

static long floor_div(long a, long b)
{
    return a / b - (a % b < 0);
}

static int weekday(long day) /* 0 = Sunday; 1970-01-01 was a Thursday */
{
    return (int)(((day + 4) % 7 + 7) % 7);
}

/* Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian). */
long chat_calendar_day(int y, int m, int d)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    long era, yoe, doy, doe;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] ||
        (m == 2 && d == 29 && !leap)) {
        return -1;
    }
    y -= m <= 2;
    era = y / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static const char *date_of(apr_pool_t *p, long day)
{
    long z = day + 719468, era = z / 146097, doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    long d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;

    return apr_psprintf(p, "%04ld-%02ld-%02ld", yoe + era * 400 + (m <= 2), m, d);
}

static int by_day(const void *a, const void *b)
{
    long x = ((const holiday *)a)->day, y = ((const holiday *)b)->day;
    return x < y ? -1 : x > y;
}

const char *chat_calendar_parse(apr_pool_t *p, const char *text, apr_size_t len,
                                chat_calendar **out)
{
    chat_calendar *c = apr_pcalloc(p, sizeof(*c));
    char *copy = apr_pstrmemdup(p, text, len), *line, *next;
    int lineno = 0, i;

    if (strlen(copy) != len) {
        return "a NUL byte in the file";
    }
    c->days = apr_array_make(p, 40, sizeof(holiday));
    for (line = copy; line; line = next) {
        holiday *h;
        char *s = line, *name;
        int y, m, d;

        lineno++;
        if ((next = strchr(line, '\n'))) {
            *next++ = '\0';
        }
        while (*s == ' ' || *s == '\t' || *s == '\r') {
            s++;
        }
        if (!*s || *s == '#') {
            continue;
        }
        for (i = 0; i < 10; i++) {
            if (i == 4 || i == 7 ? s[i] != '-' : !apr_isdigit(s[i])) {
                return apr_psprintf(p, "line %d: a date is written YYYY-MM-DD", lineno);
            }
        }
        if (s[10] && !apr_isspace(s[10])) {
            return apr_psprintf(p, "line %d: a date is written YYYY-MM-DD", lineno);
        }
        y = atoi(s);
        m = atoi(s + 5);
        d = atoi(s + 8);
        for (name = s + 10; apr_isspace(*name); name++) {
        }
        for (i = (int)strlen(name); i > 0 && apr_isspace(name[i - 1]); i--) {
            name[i - 1] = '\0';
        }
        if (!chat_utf8_valid(name, strlen(name))) {
            return apr_psprintf(p, "line %d: the name is not UTF-8", lineno);
        }
        h = apr_array_push(c->days);
        if ((h->day = chat_calendar_day(y, m, d)) < 0) {
            return apr_psprintf(p, "line %d: %.10s is not a date", lineno, s);
        }
        h->name = *name ? name : NULL;
    }
    qsort(c->days->elts, (size_t)c->days->nelts, sizeof(holiday), by_day);
    for (i = 1; i < c->days->nelts; i++) {
        if (APR_ARRAY_IDX(c->days, i, holiday).day == APR_ARRAY_IDX(c->days, i - 1, holiday).day) {
            return apr_psprintf(p, "%s is listed twice",
                                date_of(p, APR_ARRAY_IDX(c->days, i, holiday).day));
        }
    }
    *out = c;
    return NULL;
}

const char *chat_calendar_load(apr_pool_t *p, const char *path, chat_calendar **out)
{
    const char *err;
    apr_size_t len;
    char *buf;

    if ((err = chat_file_slurp(p, path, MAX_FILE, &buf, &len))) {
        return err;
    }
    if ((err = chat_calendar_parse(p, buf, len, out))) {
        return apr_psprintf(p, "%s: %s", path, err);
    }
    return NULL;
}

int chat_calendar_last_year(const chat_calendar *c)
{
    apr_time_exp_t tm;

    if (!c || !c->days->nelts) {
        return 0;
    }
    apr_time_exp_gmt(
        &tm, apr_time_from_sec((apr_time_t)APR_ARRAY_IDX(c->days, c->days->nelts - 1, holiday).day *
                               86400));
    return tm.tm_year + 1900;
}

static const holiday *holiday_of(const chat_calendar *c, long day)
{
    holiday key = {day, NULL};
    return c ? bsearch(&key, c->days->elts, (size_t)c->days->nelts, sizeof(holiday), by_day) : NULL;
}

static int trading(const chat_calendar *c, long day)
{
    int wd = weekday(day);
    return wd != 0 && wd != 6 && !holiday_of(c, day);
}

const char *chat_calendar_closed(apr_pool_t *p, const chat_calendar *c, long day)
{
    const holiday *h = holiday_of(c, day);
    int wd = weekday(day);

    if (wd == 0 || wd == 6) {
        return apr_psprintf(p, "%s is a %s", date_of(p, day), weekdays[wd]);
    }
    if (h) {
        return apr_psprintf(p, "%s is a holiday%s%s%s", date_of(p, day), h->name ? " (" : "",
                            h->name ? h->name : "", h->name ? ")" : "");
    }
    return NULL;
}

long chat_calendar_next_trading_day(const chat_calendar *c, long day)
{
    long d;
    for (d = day + 1; d <= day + SEARCH_LIMIT; d++) {
        if (trading(c, d)) {
            return d;
        }
    }
    return -1;
}

/* The evening of day has a night session: day trades and the next trading
 * day is the next weekday (none before a holiday). */
static int night_after(const chat_calendar *c, long day)
{
    int wd = weekday(day);
    return trading(c, day) && chat_calendar_next_trading_day(c, day) == day + (wd == 5   ? 3
                                                                               : wd == 6 ? 2
                                                                                         : 1);
}

const char *chat_calendar_check(apr_pool_t *p, const chat_calendar *c, chat_session s, apr_time_t t)
{
    long sec = (long)apr_time_sec(t) + CHAT_CALENDAR_OFFSET, day = floor_div(sec, 86400);
    int minute = (int)((sec - day * 86400) / 60);
    const char *closed = chat_calendar_closed(p, c, day);
    int night_hours = minute >= NIGHT_FROM || minute <= NIGHT_TO;
    long evening = minute >= NIGHT_FROM ? day : day - 1;
    int in_night = night_hours && night_after(c, evening);

    switch (s) {
    case CHAT_SESSION_DAY:
        if (closed) {
            return closed;
        }
        return minute >= DAY_FROM && minute <= DAY_TO
                   ? NULL
                   : "outside the day session (09:00-15:15 Beijing time)";
    case CHAT_SESSION_NIGHT:
        if (in_night) {
            return NULL;
        }
        if (!night_hours) {
            return "outside the night session (21:00-02:30 Beijing time)";
        }
        return apr_psprintf(p, "no night session on the evening of %s (%s)", date_of(p, evening),
                            trading(c, evening) ? "the next weekday is closed"
                                                : chat_calendar_closed(p, c, evening));
    case CHAT_SESSION_ANY:
        return closed;
    default:
        return NULL;
    }
}

apr_time_t chat_calendar_next_cron(const chat_calendar *c, chat_session s, const chat_cron *cron,
                                   apr_time_t after, long utc_offset)
{
    apr_time_t t = after, horizon = after + apr_time_from_sec(HORIZON_DAYS * 86400L);
    apr_pool_t *p;

    if (s == CHAT_SESSION_NONE) {
        return chat_cron_next(cron, after, utc_offset);
    }
    apr_pool_create(&p, NULL);
    while ((t = chat_cron_next(cron, t, utc_offset)) && t <= horizon &&
           chat_calendar_check(p, c, s, t)) {
        apr_pool_clear(p); /* the reason it was not */
    }
    apr_pool_destroy(p);
    return t <= horizon ? t : 0;
}

chat_session chat_session_parse(const char *s)
{
    return !strcmp(s, "any")     ? CHAT_SESSION_ANY
           : !strcmp(s, "day")   ? CHAT_SESSION_DAY
           : !strcmp(s, "night") ? CHAT_SESSION_NIGHT
                                 : CHAT_SESSION_NONE;
}

const char *chat_session_name(chat_session s)
{
    return s == CHAT_SESSION_DAY     ? "day"
           : s == CHAT_SESSION_NIGHT ? "night"
           : s == CHAT_SESSION_ANY   ? "any"
                                     : "always";
}
