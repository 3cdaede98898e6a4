/* The scheduler: one thread per httpd child wakes twice a second, and for
 * every minute that began since it last looked (at most 5 back, so a busy
 * thread catches up but an idle cluster does not replay a day) asks each job
 * whether that minute matches. A match runs only where SET job:NAME:at:MINUTE
 * NX succeeds: once per scheduled minute across all processes, servers and
 * restart generations. The lock is kept a day, so a server killed mid-run
 * is not followed by a second run of the same minute elsewhere. "Run now"
 * requests arrive on a Redis list that every scheduler pops from. A job on
 * the trading calendar (ChatJobCalendar) skips minutes outside its session
 * without taking the lock; run-now ignores the calendar. Under Sentinel a
 * job runs only once its lock is on the primary's replicas (lock_replicated),
 * so a failover neither repeats nor loses the minute. */
#include <httpd.h>
#include <gd.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif
#include <http_log.h>
#include <json.h>

#include "admin_config.h"
#include "chat_chart.h"
#include "chat_fetch.h"
#include "chat_jobs.h"
#include "chat_redis_sync.h"
#include "chat_source_cache.h"

APLOG_USE_MODULE(chat_admin);

#define CATCH_UP_MINUTES 5

static struct {
    apr_thread_t *thread;
    volatile int stop;
    server_rec *s;
    apr_interval_time_t clock_offset; /* CHAT_CLOCK_OFFSET: tests reach a minute sooner */
    char node[128];
} sched;

static apr_time_t clock_now(void)
{
    return apr_time_now() + sched.clock_offset;
}

static void history_push(redisContext *c, apr_pool_t *p, const char *prefix, const chat_job *job,
                         apr_time_t scheduled, apr_time_t start, const char *err,
                         const char *summary, int manual)
{
    json_object *o = json_object_new_object();
    const char *key = apr_pstrcat(p, prefix, "job:", job->name, ":runs", NULL);
    redisReply *r;

    if (scheduled) {
        json_object_object_add(o, "scheduled", json_object_new_int64(apr_time_as_msec(scheduled)));
    }
    json_object_object_add(o, "start", json_object_new_int64(apr_time_as_msec(start)));
    json_object_object_add(o, "end", json_object_new_int64(apr_time_as_msec(clock_now())));
    json_object_object_add(o, "outcome", json_object_new_string(err ? "error" : "ok"));
    if (err) {
        json_object_object_add(o, "error", json_object_new_string(err));
    }
    json_object_object_add(o, "summary", json_object_new_string(summary ? summary : ""));
    json_object_object_add(o, "node", json_object_new_string(sched.node));
    json_object_object_add(o, "manual", json_object_new_boolean(manual));
    r = redisCommand(
        c, "LPUSH %s %s", key,
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    if (r) {
        freeReplyObject(r);
    }
    if ((r = redisCommand(c, "LTRIM %s 0 %d", key, CHAT_JOB_HISTORY - 1))) {
        freeReplyObject(r);
    }
    if ((r = redisCommand(c, "DEL %sjob:%s:current", prefix, job->name))) {
        freeReplyObject(r);
    }
    json_object_put(o);
}

/* minute: the scheduled minute (its first second), or 0 for "run now".
 * 1 ran, 0 another process has the minute, -1 Redis failed (try again). */
/* Under Sentinel a minute's lock must be on every connected replica before
 * the job runs: a lock only the primary had would be gone after a failover,
 * and the promoted replica's schedulers would run the minute again, or
 * nobody would (its posts died with the primary). 1 = safe to run. */
static int lock_replicated(redisContext *c, const chat_srv_conf *sc, const chat_job *job)
{
    int timeout_ms, replicas = 0, ok;
    redisReply *r;

    if (!sc->sentinels) {
        return 1;
    }
    chat_settings_wait_replicas(sc, &timeout_ms);
    /* ROLE of a primary: {"master", offset, {{ip, port, offset}, ...}} */
    if ((r = redisCommand(c, "ROLE")) && r->type == REDIS_REPLY_ARRAY && r->elements >= 3 &&
        r->element[2]->type == REDIS_REPLY_ARRAY) {
        replicas = (int)r->element[2]->elements;
    }
    if (r) {
        freeReplyObject(r);
    }
    if (!replicas) {
        return 1; /* no replica to promote: the lock cannot be lost to a failover */
    }
    r = redisCommand(c, "WAIT %d %d", replicas, timeout_ms);
    ok = r && r->type == REDIS_REPLY_INTEGER && r->integer >= replicas;
    if (!ok) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, sched.s,
                     "chat: job %s: the minute's lock is not on the replicas yet (%lld of %d "
                     "within %d ms): waiting, so that a failover cannot run it twice",
                     job->name, r && r->type == REDIS_REPLY_INTEGER ? r->integer : 0LL, replicas,
                     timeout_ms);
    }
    if (r) {
        freeReplyObject(r);
    }
    return ok;
}

static int run_once(redisContext *c, const chat_job *job, apr_time_t minute)
{
    const chat_srv_conf *sc = admin_config_chat(sched.s);
    const char *prefix = chat_settings_key_prefix(sc), *summary = NULL, *err;
    apr_pool_t *p;
    apr_time_t start = clock_now();
    redisReply *r;
    int won = 1;

    apr_pool_create(&p, NULL);
    if (minute) {
        r = redisCommand(c, "SET %sjob:%s:at:%" APR_TIME_T_FMT " %s NX EX 86400", prefix, job->name,
                         apr_time_sec(minute) / 60, sched.node);
        if (!r || (r->type != REDIS_REPLY_STATUS && r->type != REDIS_REPLY_NIL)) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, sched.s,
                         "chat: job %s: cannot take the minute's lock: %s", job->name,
                         r && r->type == REDIS_REPLY_ERROR ? r->str : "Redis unavailable");
            if (r) {
                freeReplyObject(r);
            }
            apr_pool_destroy(p);
            return -1;
        }
        won = r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        if (!won && sc->sentinels) {
            /* ours from an earlier look that waited for the replicas? */
            r = redisCommand(c, "GET %sjob:%s:at:%" APR_TIME_T_FMT, prefix, job->name,
                             apr_time_sec(minute) / 60);
            won = r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, sched.node);
            if (r) {
                freeReplyObject(r);
            }
        }
        if (won && !lock_replicated(c, sc, job)) {
            apr_pool_destroy(p);
            return -1; /* look at this minute again, reconnected (maybe to a new primary) */
        }
    }
    if (!won) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, sched.s,
                     "chat: job %s minute %" APR_TIME_T_FMT ": runs elsewhere", job->name,
                     apr_time_sec(minute) / 60);
        apr_pool_destroy(p);
        return 0; /* another process or server has this minute */
    }
    if ((r = redisCommand(c, "SET %sjob:%s:current %s EX 3600", prefix, job->name,
                          apr_psprintf(p, "{\"start\":%" APR_TIME_T_FMT ",\"node\":\"%s\"}",
                                       apr_time_as_msec(start), sched.node)))) {
        freeReplyObject(r);
    }
    if (minute) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, sched.s,
                     "chat: job %s minute %" APR_TIME_T_FMT ": starts", job->name,
                     apr_time_sec(minute) / 60);
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, sched.s, "chat: job %s: starts (run now)",
                     job->name);
    }
    err = chat_job_run(p, sched.s, c, job, &summary);
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, sched.s, "chat: job %s failed: %s", job->name, err);
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, sched.s, "chat: job %s: %s", job->name, summary);
    }
    history_push(c, p, prefix, job, minute, start, err, summary, !minute);
    if (job->notice && (err = chat_job_notice(p, sched.s, c, job, err, summary))) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, sched.s, "chat: job %s: notice %s", job->name,
                     err);
    }
    apr_pool_destroy(p);
    return 1;
}

/* A trading job's minute outside its session is skipped (logged at debug
 * like "runs elsewhere": every process says it, every minute it applies). */
static int in_session(const chat_jobs_conf *jc, const chat_job *job, apr_time_t minute)
{
    apr_pool_t *p;
    const char *why;

    if (!job->session) {
        return 1;
    }
    apr_pool_create(&p, NULL);
    if ((why = chat_calendar_check(p, jc->calendar, job->session, minute))) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, sched.s,
                     "chat: job %s minute %" APR_TIME_T_FMT ": skipped, not a trading %s: %s",
                     job->name, apr_time_sec(minute) / 60,
                     job->session == CHAT_SESSION_ANY ? "day" : "session", why);
    }
    apr_pool_destroy(p);
    return !why;
}

apr_time_t chat_job_next(const chat_jobs_conf *jc, const chat_job *job, apr_time_t now)
{
    return chat_calendar_next_cron(jc->calendar, job->session, job->cron, now,
                                   chat_jobs_tz_offset(jc, now));
}

static const chat_job *find(const chat_jobs_conf *jc, const char *name)
{
    int i;
    for (i = 0; i < jc->jobs->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(jc->jobs, i, chat_job *)->name, name)) {
            return APR_ARRAY_IDX(jc->jobs, i, chat_job *);
        }
    }
    return NULL;
}

static void *APR_THREAD_FUNC sched_main(apr_thread_t *t, void *data)
{
    const chat_srv_conf *sc = admin_config_chat(sched.s);
    const chat_jobs_conf *jc = admin_config_get(sched.s)->jobs;
    apr_int64_t last = apr_time_sec(clock_now()) / 60 - 1;
    redisContext *c = NULL;
    const char *err;
    int i;

    (void)data;
#if defined(__linux__)
    prctl(PR_SET_NAME, "chat-scheduler"); /* visible in ps -L and /proc/PID/task */
#endif
    while (!sched.stop) {
        apr_int64_t cur = apr_time_sec(clock_now()) / 60, m;
        redisReply *r;

        if (!c && !(c = chat_redis_sync_open(sc, &err))) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, sched.s, "chat: scheduler: %s", err);
            apr_sleep(apr_time_from_sec(1));
            continue;
        }
        for (m = last + 1 > cur - CATCH_UP_MINUTES ? last + 1 : cur - CATCH_UP_MINUTES;
             m <= cur && !sched.stop && c; m++) {
            apr_time_t at = apr_time_from_sec(m * 60);
            for (i = 0; i < jc->jobs->nelts; i++) {
                const chat_job *job = APR_ARRAY_IDX(jc->jobs, i, chat_job *);
                if (chat_cron_matches(job->cron, at, chat_jobs_tz_offset(jc, at)) &&
                    in_session(jc, job, at) && run_once(c, job, at) < 0) {
                    /* Redis failed: reconnect and look at this minute again (the
                     * lock keeps the jobs that did run from running twice) */
                    redisFree(c);
                    c = NULL;
                    break;
                }
            }
            if (c) {
                last = m;
            }
        }
        if (!c) {
            apr_sleep(apr_time_from_sec(1));
            continue;
        }
        /* run-now requests from the admin API */
        while (!sched.stop &&
               (r = redisCommand(c, "LPOP %s" CHAT_JOB_QUEUE_KEY, chat_settings_key_prefix(sc)))) {
            const chat_job *job = r->type == REDIS_REPLY_STRING ? find(jc, r->str) : NULL;
            int more = r->type == REDIS_REPLY_STRING;
            freeReplyObject(r);
            if (job) {
                run_once(c, job, 0);
            }
            if (!more) {
                break;
            }
        }
        if (c->err) {
            redisFree(c);
            c = NULL;
        }
        apr_sleep(apr_time_from_msec(500));
    }
    if (c) {
        redisFree(c);
    }
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

static apr_status_t sched_stop(void *data)
{
    apr_status_t rv;

    (void)data;
    sched.stop = 1;
    chat_fetch_abort_all(); /* a job waiting on a slow source returns now */
    if (sched.thread) {
        apr_thread_join(&rv, sched.thread);
        sched.thread = NULL;
    }
    chat_source_cache_clear(); /* this module's copy: its memory goes when httpd unloads it */
    /* libgd's font cache is process-wide, set up by the first chart: freed once
     * the only thread that draws has stopped */
    gdFontCacheShutdown();
    return APR_SUCCESS;
}

void chat_scheduler_child_init(apr_pool_t *pchild, server_rec *s)
{
    const chat_jobs_conf *jc = admin_config_get(s)->jobs;
    const char *off = getenv("CHAT_CLOCK_OFFSET");
    apr_status_t rv;

    if (!jc || !jc->jobs->nelts || !admin_config_chat(s)) {
        return;
    }
    chat_chart_setup(pchild); /* before any thread draws: mod_chat's AI may too */
    sched.s = s;
    sched.stop = 0;
    sched.clock_offset = off ? (apr_interval_time_t)(atof(off) * APR_USEC_PER_SEC) : 0;
    apr_snprintf(sched.node, sizeof(sched.node), "%s:%" APR_PID_T_FMT,
                 s->server_hostname ? s->server_hostname : "httpd", getpid());
    if ((rv = apr_thread_create(&sched.thread, NULL, sched_main, NULL, pchild)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "chat: cannot start the job scheduler");
        sched.thread = NULL;
        return;
    }
    apr_pool_pre_cleanup_register(pchild, NULL, sched_stop);
}
