/* Time zones as fixed UTC offsets (see chat_tz.h). */
#include <string.h>
#include <strings.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "chat_tz.h"

/* Zones that have no daylight saving time now, so one offset is right all
 * year (Hong Kong, Tokyo, Seoul and Taipei last observed it decades ago). */
static const struct {
    const char *name;
    long offset;
} zones[] = {
    {"UTC", 0},
    {"Etc/UTC", 0},
    {"GMT", 0},
    {"Etc/GMT", 0},
    {"Asia/Shanghai", 8 * 3600},
    {"Asia/Hong_Kong", 8 * 3600},
    {"Asia/Taipei", 8 * 3600},
    {"Asia/Singapore", 8 * 3600},
    {"Asia/Tokyo", 9 * 3600},
    {"Asia/Seoul", 9 * 3600},
    {"Asia/Kolkata", 5 * 3600 + 1800},
};

static int two_digits(const char *s)
{
    return apr_isdigit(s[0]) && apr_isdigit(s[1]) ? (s[0] - '0') * 10 + (s[1] - '0') : -1;
}

const char *chat_tz_parse(apr_pool_t *p, const char *spec, long *offset_sec)
{
    size_t i;

    if (spec == NULL || *spec == '\0') {
        return "empty time zone";
    }
    for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
        if (strcasecmp(spec, zones[i].name) == 0) {
            *offset_sec = zones[i].offset;
            return NULL;
        }
    }
    if (spec[0] == '+' || spec[0] == '-') {
        size_t len = strlen(spec);
        int hh = len >= 3 ? two_digits(spec + 1) : -1, mm = 0;

        if (len == 5) { /* +HHMM */
            mm = two_digits(spec + 3);
        }
        else if (len == 6 && spec[3] == ':') { /* +HH:MM */
            mm = two_digits(spec + 4);
        }
        else if (len != 3) { /* +HH */
            hh = -1;
        }
        if (hh < 0 || mm < 0) {
            return apr_psprintf(p, "time zone '%s': an offset is written +HH:MM, +HHMM or +HH",
                                spec);
        }
        if (mm > 59 || hh * 60 + mm > 14 * 60) {
            return apr_psprintf(p, "time zone '%s' is out of range -14:00 to +14:00", spec);
        }
        *offset_sec = (spec[0] == '-' ? -1L : 1L) * (hh * 3600L + mm * 60L);
        return NULL;
    }
    return apr_psprintf(p,
                        "unknown time zone '%s': use an offset such as +08:00 or one of UTC, "
                        "Asia/Shanghai, Asia/Hong_Kong, Asia/Taipei, Asia/Singapore, Asia/Tokyo, "
                        "Asia/Seoul, Asia/Kolkata (zones with daylight saving time are not "
                        "supported)",
                        spec);
}
