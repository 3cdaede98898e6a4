/* Time zones of cron jobs and AI model windows, as fixed offsets from UTC:
 * the calendar math elsewhere never depends on the process's TZ. */
#ifndef CHAT_TZ_H
#define CHAT_TZ_H

#include <apr_pools.h>

/* A time zone: "+08:00", "-05:30", "+0800", "+08", or a name from a small
 * table of zones without daylight saving time (UTC, Etc/UTC, GMT, Etc/GMT,
 * Asia/Shanghai, Asia/Hong_Kong, Asia/Taipei, Asia/Singapore, Asia/Tokyo,
 * Asia/Seoul, Asia/Kolkata). Offsets are limited to -14:00..+14:00. Returns
 * NULL and sets *offset_sec, or an error message from p. */
const char *chat_tz_parse(apr_pool_t *p, const char *spec, long *offset_sec);

#endif
