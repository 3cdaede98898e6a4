/* /chat-admin/api/jobs: the scheduled jobs of mod_chat's configuration with
 * their next run, the run in progress and the recent history (Redis), and
 * "run now", queued in Redis for whichever scheduler thread pops it first. */
#include <httpd.h>
#include <apr_strings.h>
#include <http_protocol.h>

#include "admin.h"
#include "chat_jobs.h"

static const char *kinds[] = {"", "post", "ai", "chart", "news"};

/* NULL (the error already answered, *status set) when Redis fails. */
static json_object *job_json(admin_req *a, const chat_jobs_conf *jc, const chat_job *job, int runs,
                             int *status)
{
    json_object *o = json_object_new_object(), *rooms = json_object_new_array(), *list;
    apr_time_t now = apr_time_now(), next;
    const char *argv[4];
    redisReply *r;
    int i;

    json_object_object_add(o, "name", json_object_new_string(job->name));
    json_object_object_add(o, "cron", json_object_new_string(job->expr));
    json_object_object_add(o, "kind", json_object_new_string(kinds[job->kind]));
    for (i = 0; i < job->rooms->nelts; i++) {
        json_object_array_add(rooms,
                              json_object_new_string(APR_ARRAY_IDX(job->rooms, i, const char *)));
    }
    json_object_object_add(o, "rooms", rooms);
    json_object_object_add(o, "timeZone",
                           json_object_new_string(jc->tz_set ? jc->tz_name : "server"));
    json_object_object_add(o, "calendar", json_object_new_string(chat_session_name(job->session)));
    json_object_object_add(o, "notice", json_object_new_boolean(job->notice));
    next = chat_job_next(jc, job, now);
    json_object_object_add(o, "next", next ? json_object_new_int64(apr_time_as_msec(next)) : NULL);
    argv[0] = "GET";
    argv[1] = apr_pstrcat(a->r->pool, a->prefix, "job:", job->name, ":current", NULL);
    if (!(r = admin_cmd(a, status, 2, argv))) {
        json_object_put(o);
        return NULL;
    }
    json_object_object_add(o, "running",
                           r->type == REDIS_REPLY_STRING ? json_tokener_parse(r->str) : NULL);
    freeReplyObject(r);
    list = json_object_new_array();
    argv[0] = "LRANGE";
    argv[1] = apr_pstrcat(a->r->pool, a->prefix, "job:", job->name, ":runs", NULL);
    argv[2] = "0";
    argv[3] = apr_itoa(a->r->pool, runs - 1);
    if (!(r = admin_cmd(a, status, 4, argv))) {
        json_object_put(list);
        json_object_put(o);
        return NULL;
    }
    {
        size_t k;
        for (k = 0; r->type == REDIS_REPLY_ARRAY && k < r->elements; k++) {
            json_object *e = json_tokener_parse(r->element[k]->str);
            if (e) {
                json_object_array_add(list, e);
            }
        }
        freeReplyObject(r);
    }
    json_object_object_add(o, "runs", list);
    return o;
}

int admin_jobs(admin_req *a, const char *name, const char *action)
{
    const chat_jobs_conf *jc = admin_config_get(a->r->server)->jobs;
    const chat_job *job = NULL;
    const char *argv[3];
    redisReply *r;
    int i, status;

    if (!name) {
        json_object *out = json_object_new_object(), *list = json_object_new_array();
        if (a->r->method_number != M_GET) {
            json_object_put(out);
            json_object_put(list);
            return admin_error(a, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "use GET");
        }
        for (i = 0; jc && i < jc->jobs->nelts; i++) {
            json_object *o = job_json(a, jc, APR_ARRAY_IDX(jc->jobs, i, chat_job *), 10, &status);
            if (!o) {
                json_object_put(list);
                json_object_put(out);
                return status;
            }
            json_object_array_add(list, o);
        }
        json_object_object_add(out, "jobs", list);
        return admin_reply(a, HTTP_OK, out);
    }
    for (i = 0; jc && i < jc->jobs->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(jc->jobs, i, chat_job *)->name, name)) {
            job = APR_ARRAY_IDX(jc->jobs, i, chat_job *);
        }
    }
    if (!job) {
        return admin_error(a, HTTP_NOT_FOUND, "unknown_job",
                           apr_psprintf(a->r->pool, "no scheduled job named %s", name));
    }
    if (!action) {
        if (a->r->method_number != M_GET) {
            return admin_error(a, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "use GET");
        }
        json_object *o = job_json(a, jc, job, CHAT_JOB_HISTORY, &status);
        return o ? admin_reply(a, HTTP_OK, o) : status;
    }
    if (strcmp(action, "run") || a->r->method_number != M_POST) {
        return admin_error(a, HTTP_NOT_FOUND, "not_found", "use POST /jobs/{name}/run");
    }
    argv[0] = "RPUSH";
    argv[1] = apr_pstrcat(a->r->pool, a->prefix, CHAT_JOB_QUEUE_KEY, NULL);
    argv[2] = job->name;
    if (!(r = admin_cmd(a, &status, 3, argv))) {
        return status;
    }
    freeReplyObject(r);
    admin_log_write(a, apr_psprintf(a->r->pool, "queued job %s to run now", name));
    {
        json_object *out = json_object_new_object();
        json_object_object_add(out, "queued", json_object_new_string(job->name));
        return admin_reply(a, HTTP_ACCEPTED, out);
    }
}
