/* Scheduled jobs (ChatJob): cron expressions in a configurable zone, each
 * scheduled minute run once across every process and server (a Redis lock
 * per job and minute), history in Redis for the admin API, "run now" through
 * a Redis queue. Kinds: post a text, ask the AI and post its answer, chart a
 * JSON data source, post a digest of a JSON news feed's new items. */
#ifndef CHAT_JOBS_H
#define CHAT_JOBS_H

#include <httpd.h>
#include <http_config.h>
#include <hiredis/hiredis.h>

#include "chat_calendar.h"
#include "chat_cron.h"
#include "chat_source.h"

typedef enum { CHAT_JOB_POST = 1, CHAT_JOB_AI, CHAT_JOB_CHART, CHAT_JOB_NEWS } chat_job_kind;

typedef struct chat_job {
    const char *name;
    const char *expr; /* the cron expression as written */
    chat_cron *cron;
    chat_job_kind kind;
    apr_array_header_t *rooms; /* const char * */
    const char *text;          /* post: the text; ai: the prompt; chart: title; news: heading */
    const char *provider;      /* ai */
    const char *url;           /* chart, news: as written (a URL or source:NAME) */
    const char *mapping;       /* chart, news: the chart's or digest's use of the fields */
    const chat_source *source; /* chart, news: ChatDataSource NAME, or one made for the URL */
    apr_table_t *vars;         /* chart, news: MAPPING words naming a placeholder */
    int chart_kind;            /* chat_chart_kind */
    chat_session session;      /* ChatJobCalendar: NONE = every matching minute */
    int notice;                /* ChatJobNotice: post the outcome in the rooms */
} chat_job;

typedef struct chat_jobs_conf {
    apr_array_header_t *jobs; /* chat_job * */
    int tz_set;
    long tz_offset;      /* when tz_set; else the server's local zone */
    const char *tz_name; /* as written, for the admin API */
    const char *font;    /* ChatChartFont */
    int chart_w, chart_h;
    chat_calendar *calendar;   /* ChatTradingCalendar, or the default once a job needs it */
    const char *calendar_path; /* for messages and the admin API */
} chat_jobs_conf;

#define CHAT_JOB_HISTORY 50

/* Every job directive, told apart by cmd->info. */
const char *chat_job_directive(cmd_parms *cmd, void *dummy, const char *args);

#define CHAT_JOB_COMMANDS                                                                          \
    AP_INIT_RAW_ARGS(                                                                              \
        "ChatJob", chat_job_directive, (void *)1, RSRC_CONF,                                       \
        "NAME \"CRON\" post|ai|chart|news ...: a scheduled job (docs/directives.md)"),             \
        AP_INIT_RAW_ARGS("ChatJobTimeZone", chat_job_directive, (void *)2, RSRC_CONF,              \
                         "Zone of the jobs' cron expressions (default: the server's)"),            \
        AP_INIT_RAW_ARGS("ChatChartFont", chat_job_directive, (void *)3, RSRC_CONF,                \
                         "TrueType/OpenType font with CJK glyphs for charts"),                     \
        AP_INIT_RAW_ARGS("ChatChartSize", chat_job_directive, (void *)4, RSRC_CONF,                \
                         "WIDTHxHEIGHT of chart images (default 800x500)"),                        \
        AP_INIT_RAW_ARGS("ChatTradingCalendar", chat_job_directive, (void *)5, RSRC_CONF,          \
                         "PATH: holiday file of the trading calendar (default: the installed "     \
                         "one)"),                                                                  \
        AP_INIT_RAW_ARGS("ChatJobCalendar", chat_job_directive, (void *)6, RSRC_CONF,              \
                         "NAME trading [any|day|night]: run the job only on trading days, in "     \
                         "that session"),                                                          \
        AP_INIT_RAW_ARGS("ChatJobNotice", chat_job_directive, (void *)7, RSRC_CONF,                \
                         "NAME on|off: post the job's outcome in its rooms (default off)")

/* check_config: the default calendar when a job needs one and none is set;
 * NULL, or the error naming ChatTradingCalendar. */
const char *chat_jobs_check(apr_pool_t *pconf, chat_jobs_conf *jc);

/* post_config: AI jobs resolve product names with the table mod_chat uses
 * (ChatAIProducts), put in force by this module too so the two modules do
 * not rely on sharing symbols; a trading calendar that lists no holiday of
 * this year (Beijing time) is a warning, one without next year's in December
 * a notice, naming ChatTradingCalendar. */
void chat_jobs_post_config(apr_pool_t *pconf, server_rec *s);

/* The next minute after now the job runs at (cron and calendar), or 0. */
apr_time_t chat_job_next(const chat_jobs_conf *jc, const chat_job *job, apr_time_t now);

/* The zone offset (seconds east of UTC) the jobs use at time t. */
long chat_jobs_tz_offset(const chat_jobs_conf *jc, apr_time_t t);

/* Run one job now on this thread: NULL, or an error; *summary says what was done. */
const char *chat_job_run(apr_pool_t *p, server_rec *s, redisContext *c, const chat_job *job,
                         const char **summary);

/* Posts the outcome of a run (err NULL: ok) to the job's rooms as a system
 * message; NULL, or why it could not be stored. */
const char *chat_job_notice(apr_pool_t *p, server_rec *s, redisContext *c, const chat_job *job,
                            const char *err, const char *summary);

/* Start this child's scheduler thread (when jobs are configured). */
void chat_scheduler_child_init(apr_pool_t *pchild, server_rec *s);

/* Redis keys of a job (also read by the admin API). */
#define CHAT_JOB_QUEUE_KEY "jobs:run" /* names to run now, RPUSH by the admin API */

#endif
