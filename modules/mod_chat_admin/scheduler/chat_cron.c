/* Cron expressions: a parser into one bitset per field, and a search for the
 * next matching minute that walks the local calendar day by day. Local time
 * is UTC plus a fixed offset, turned into dates with Howard Hinnant's
 * civil_from_days, so neither localtime() nor the process TZ is involved. */
#include <string.h>
#include <strings.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "chat_cron.h"

/* How far chat_cron_next looks: five years, leap days included. An
 * expression that fires less often than that ("0 0 30 2 *") never fires. */
#define HORIZON_DAYS (5 * 366)

/* Offsets beyond a day are nonsense and could overflow the minute math. */
#define MAX_OFFSET 86400L

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

typedef struct field_spec {
    const char *name;
    int min, max; /* values accepted */
    int star_max; /* end of '*' and of "a/n" */
    const char *const *names;
    int names_base; /* value of names[0] */
    int nnames;
    const char *what; /* what a token other than a number may be */
} field_spec;

/* Day-of-week takes 7 for Sunday, but '*' and "a/n" stop at 6 so that "1/2"
 * means Mon, Wed, Fri rather than also Sunday (bit 7 folds into bit 0). */
static const field_spec fields[5] = {
    {"minute", 0, 59, 59, NULL, 0, 0, "a number"},
    {"hour", 0, 23, 23, NULL, 0, 0, "a number"},
    {"day-of-month", 1, 31, 31, NULL, 0, 0, "a number"},
    {"month", 1, 12, 12, month_names, 1, 12, "a number or a month name (jan-dec)"},
    {"day-of-week", 0, 7, 6, dow_names, 0, 7, "a number or a day name (sun-sat)"},
};

static const struct {
    const char *name;
    const char *expr;
} macros[] = {
    {"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
    {"@weekly", "0 0 * * 0"},   {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
};

static int is_space(char c)
{
    return apr_isspace(c);
}

/* One number or name at *sp, which is left just past it. item is the list
 * item it belongs to, for the messages. */
static const char *parse_value(apr_pool_t *p, const field_spec *f, const char *item,
                               const char **sp, int *val)
{
    const char *s = *sp, *start = s;

    if (apr_isdigit(*s)) {
        long v = 0;

        while (apr_isdigit(*s)) {
            if (v < 100000) { /* saturate: any longer number is out of range anyway */
                v = v * 10 + (*s - '0');
            }
            s++;
        }
        if (v < f->min || v > f->max) {
            return apr_psprintf(p, "%s field: '%.*s' is out of range %d-%d", f->name,
                                (int)(s - start), start, f->min, f->max);
        }
        *val = (int)v;
        *sp = s;
        return NULL;
    }
    if (apr_isalpha(*s)) {
        int i;

        while (apr_isalpha(*s)) {
            s++;
        }
        for (i = 0; i < f->nnames && s - start == 3; i++) {
            if (strncasecmp(start, f->names[i], 3) == 0) {
                *val = f->names_base + i;
                *sp = s;
                return NULL;
            }
        }
        return apr_psprintf(p, "%s field: '%.*s' is not %s", f->name, (int)(s - start), start,
                            f->what);
    }
    if (*s == '\0') {
        return apr_psprintf(p, "%s field: '%s' ends where %s was expected", f->name, item, f->what);
    }
    /* the rest, not one char, so a multi-byte character is never cut */
    return apr_psprintf(p, "%s field: unexpected '%s' in '%s'", f->name, s, item);
}

/* One comma-list item: "*", "v", "a-b", each with an optional "/step". */
static const char *parse_item(apr_pool_t *p, const field_spec *f, const char *item,
                              apr_uint64_t *bits)
{
    const char *s = item, *err;
    int lo, hi, step = 1, v;
    int single = 0;

    if (*s == '*') {
        lo = f->min;
        hi = f->star_max;
        s++;
    }
    else {
        if ((err = parse_value(p, f, item, &s, &lo)) != NULL) {
            return err;
        }
        hi = lo;
        single = 1;
        if (*s == '-') {
            s++;
            if ((err = parse_value(p, f, item, &s, &hi)) != NULL) {
                return err;
            }
            if (hi < lo) {
                return apr_psprintf(p, "%s field: range '%.*s' is reversed", f->name,
                                    (int)(s - item), item);
            }
            single = 0;
        }
    }
    if (*s == '/') {
        const char *num = ++s;
        long n = 0;

        while (apr_isdigit(*s)) {
            if (n < 100000) {
                n = n * 10 + (*s - '0');
            }
            s++;
        }
        if (s == num) {
            return apr_psprintf(p, "%s field: '%s' needs a number after '/'", f->name, item);
        }
        if (n < 1 || n > f->max) {
            return apr_psprintf(p, "%s field: step '%.*s' in '%s' is out of range 1-%d", f->name,
                                (int)(s - num), num, item, f->max);
        }
        step = (int)n;
        if (single) { /* "a/n" runs from a to the end of the field */
            hi = lo > f->star_max ? lo : f->star_max;
        }
    }
    if (*s != '\0') {
        return apr_psprintf(p, "%s field: unexpected '%s' in '%s'", f->name, s, item);
    }
    for (v = lo; v <= hi; v += step) {
        *bits |= (apr_uint64_t)1 << v;
    }
    return NULL;
}

static const char *parse_field(apr_pool_t *p, const field_spec *f, char *text, apr_uint64_t *bits)
{
    const char *whole = apr_pstrdup(p, text);
    char *item = text;

    *bits = 0;
    for (;;) {
        char *comma = strchr(item, ',');
        const char *err;

        if (comma) {
            *comma = '\0';
        }
        if (*item == '\0') {
            return apr_psprintf(p, "%s field: empty item in list '%s'", f->name, whole);
        }
        if ((err = parse_item(p, f, item, bits)) != NULL) {
            return err;
        }
        if (!comma) {
            return NULL;
        }
        item = comma + 1;
    }
}

static const char *parse_fields(apr_pool_t *p, const char *expr, chat_cron *c)
{
    char *copy = apr_pstrdup(p, expr), *s = copy;
    char *tok[5];
    apr_uint64_t bits[5];
    int n = 0, i;

    for (;;) {
        while (is_space(*s)) {
            s++;
        }
        if (*s == '\0') {
            break;
        }
        if (n < 5) {
            tok[n] = s;
        }
        n++;
        while (*s && !is_space(*s)) {
            s++;
        }
        if (*s) {
            *s++ = '\0';
        }
    }
    if (n != 5) {
        return apr_psprintf(p,
                            "expected 5 fields (minute hour day-of-month month day-of-week), "
                            "got %d in '%s'",
                            n, expr);
    }
    for (i = 0; i < 5; i++) {
        const char *err = parse_field(p, &fields[i], tok[i], &bits[i]);

        if (err) {
            return err;
        }
    }
    c->minute = bits[0];
    c->hour = (apr_uint32_t)bits[1];
    c->dom = (apr_uint32_t)bits[2];
    c->month = (apr_uint32_t)bits[3];
    c->dow = (apr_uint32_t)((bits[4] | (bits[4] >> 7)) & 0x7F); /* 7 is Sunday too */
    c->dom_star = tok[2][0] == '*';
    c->dow_star = tok[4][0] == '*';
    return NULL;
}

const char *chat_cron_parse(apr_pool_t *p, const char *expr, chat_cron **out)
{
    chat_cron *c;
    const char *s, *err;

    *out = NULL;
    if (expr == NULL) {
        return "no cron expression";
    }
    for (s = expr; is_space(*s); s++) {
    }
    if (*s == '\0') {
        return "empty cron expression";
    }
    c = apr_pcalloc(p, sizeof(*c));
    if (*s == '@') {
        const char *end = s, *rest;
        size_t i;

        while (*end && !is_space(*end)) {
            end++;
        }
        for (rest = end; is_space(*rest); rest++) {
        }
        if (*rest) {
            return apr_psprintf(p, "unexpected '%s' after '%.*s'", rest, (int)(end - s), s);
        }
        for (i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
            if ((size_t)(end - s) == strlen(macros[i].name) &&
                strncasecmp(s, macros[i].name, (size_t)(end - s)) == 0) {
                if ((err = parse_fields(p, macros[i].expr, c)) != NULL) {
                    return err;
                }
                *out = c;
                return NULL;
            }
        }
        return apr_psprintf(p,
                            "unknown macro '%.*s' (use @hourly, @daily, @midnight, @weekly, "
                            "@monthly, @yearly or @annually)",
                            (int)(end - s), s);
    }
    if ((err = parse_fields(p, s, c)) != NULL) {
        return err;
    }
    *out = c;
    return NULL;
}

/* Rounds toward minus infinity, so times before 1970 fall on the right day. */
static apr_int64_t floor_div(apr_int64_t a, apr_int64_t b)
{
    apr_int64_t q = a / b;

    if (a % b != 0 && (a < 0) != (b < 0)) {
        q--;
    }
    return q;
}

/* Days since 1970-01-01 to a proleptic Gregorian date (Hinnant's
 * civil_from_days: 400-year eras that start on March 1st, so the leap day
 * is the last day of its year). */
static void civil_from_days(apr_int64_t z, apr_int64_t *year, int *month, int *mday)
{
    apr_int64_t era, doe, yoe, doy, mp;

    z += 719468; /* days from 0000-03-01 to 1970-01-01 */
    era = floor_div(z, 146097);
    doe = z - era * 146097;                                      /* [0, 146096] */
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    mp = (5 * doy + 2) / 153;                                    /* March = 0 */
    *mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2);
}

static int day_matches(const chat_cron *c, apr_int64_t day)
{
    apr_int64_t year;
    int month, mday, wday, dm, wm;

    civil_from_days(day, &year, &month, &mday);
    if (!(c->month & (1u << month))) {
        return 0;
    }
    wday = (int)(day + 4 - floor_div(day + 4, 7) * 7); /* 1970-01-01 was a Thursday */
    dm = (c->dom >> mday) & 1;
    wm = (c->dow >> wday) & 1;
    return (c->dom_star || c->dow_star) ? (dm && wm) : (dm || wm);
}

/* The local minute number (minutes since 1970-01-01T00:00 local) of t. */
static apr_int64_t local_minute(apr_time_t t, long utc_offset_sec)
{
    return floor_div(floor_div(t, APR_USEC_PER_SEC) + utc_offset_sec, 60);
}

apr_time_t chat_cron_next(const chat_cron *c, apr_time_t after, long utc_offset_sec)
{
    apr_int64_t first, day;
    int h0, m0, i;

    if (utc_offset_sec < -MAX_OFFSET || utc_offset_sec > MAX_OFFSET) {
        return 0;
    }
    first = local_minute(after, utc_offset_sec) + 1; /* strictly after */
    day = floor_div(first, 1440);
    h0 = (int)((first - day * 1440) / 60);
    m0 = (int)((first - day * 1440) % 60);

    for (i = 0; i < HORIZON_DAYS; i++, day++, h0 = 0, m0 = 0) {
        int h, m;

        if (!day_matches(c, day)) {
            continue;
        }
        for (h = h0; h < 24; h++) {
            if (!(c->hour & (1u << h))) {
                continue;
            }
            for (m = (h == h0 ? m0 : 0); m < 60; m++) {
                if (c->minute & ((apr_uint64_t)1 << m)) {
                    apr_int64_t sec = (day * 1440 + h * 60 + m) * 60 - utc_offset_sec;

                    if (sec > APR_INT64_MAX / APR_USEC_PER_SEC) {
                        return 0;
                    }
                    return apr_time_from_sec(sec);
                }
            }
        }
    }
    return 0;
}

int chat_cron_matches(const chat_cron *c, apr_time_t t, long utc_offset_sec)
{
    apr_int64_t min, day;
    int h, m;

    if (utc_offset_sec < -MAX_OFFSET || utc_offset_sec > MAX_OFFSET) {
        return 0;
    }
    min = local_minute(t, utc_offset_sec);
    day = floor_div(min, 1440);
    h = (int)((min - day * 1440) / 60);
    m = (int)((min - day * 1440) % 60);

    return day_matches(c, day) && (c->hour & (1u << h)) && (c->minute & ((apr_uint64_t)1 << m));
}
