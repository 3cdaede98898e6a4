/* Running one scheduled job: post a text, ask the AI, chart a JSON source
 * (stored like an upload, posted as an image), or post a digest of a news
 * feed's items not posted before; and the notice of its outcome. Blocking;
 * runs on the scheduler thread. */
#include <httpd.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <json.h>

#include "admin_config.h"
#include "chat_ai_settings.h"
#include "chat_ai_tools.h"
#include "chat_ai_usage.h"
#include "chat_chart.h"
#include "chat_jobs.h"
#include "chat_redis_sync.h"
#include "chat_source_fetch.h"
#include "chat_store.h"

#define NEWS_MAX 10

typedef struct job_ctx {
    apr_pool_t *p;
    server_rec *s;
    const chat_srv_conf *sc;
    const chat_dir_conf *dc; /* server-level: uploads, history size */
    redisContext *c;
    const chat_job *job;
} job_ctx;

static json_object *message(job_ctx *x, const char *user, const char *type, const char *text)
{
    json_object *m = json_object_new_object();

    json_object_object_add(m, "username", json_object_new_string(user));
    json_object_object_add(m, "timestamp", json_object_new_int64(apr_time_as_msec(apr_time_now())));
    json_object_object_add(m, "type", json_object_new_string(type));
    json_object_object_add(m, "text", json_object_new_string(text ? text : ""));
    json_object_object_add(m, "bot", json_object_new_boolean(1));
    json_object_object_add(m, "job", json_object_new_string(x->job->name));
    return m;
}

/* The message to every room of the job; consumes m. */
static const char *post_all(job_ctx *x, json_object *m)
{
    chat_room_limits lim;
    const char *body =
        apr_pstrdup(x->p, json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE));
    const char *err = NULL;
    int i;

    json_object_put(m);
    chat_settings_room_limits(x->dc, &lim);
    for (i = 0; i < x->job->rooms->nelts; i++) {
        const char *argv[11];
        redisReply *r;
        chat_store_post_args(x->p, argv, chat_settings_key_prefix(x->sc),
                             APR_ARRAY_IDX(x->job->rooms, i, const char *), lim.history_size, body,
                             CHAT_STORE_OWNER_BOT);
        r = chat_redis_sync_command(x->c, 11, argv, NULL);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            err = apr_psprintf(x->p, "not stored in %s: %s",
                               APR_ARRAY_IDX(x->job->rooms, i, const char *),
                               r ? r->str : "Redis unavailable");
        }
        if (r) {
            freeReplyObject(r);
        }
    }
    return err;
}

/* The job's rows through its source (lib/source): one mapping for charts,
 * news and the AI tools. NULL with *err, a sentence naming the source. */
static json_object *rows_of(job_ctx *x, const char **err)
{
    return chat_source_fetch(x->p, x->job->source, x->job->vars, 0, err);
}

/* What the AI's tools did, in the debug log of every room of the job (as a
 * question asked in the room logs it). */
static void log_tools(job_ctx *x, const char *bot, const chat_ai_tools *kit)
{
    int i, k;

    for (i = 0; i < kit->log->nelts; i++) {
        for (k = 0; k < x->job->rooms->nelts; k++) {
            chat_redis_sync_debug(x->c, x->p, x->sc, APR_ARRAY_IDX(x->job->rooms, k, const char *),
                                  "ai_tool", bot,
                                  apr_pstrcat(x->p, "job ", x->job->name, ": ",
                                              APR_ARRAY_IDX(kit->log, i, const char *), NULL));
        }
    }
}

static const char *run_ai(job_ctx *x, const char **summary)
{
    const chat_ai_conf *ac = chat_ai_settings_of(x->sc);
    const chat_ai_provider *prov = chat_ai_provider_find(ac, x->job->provider);
    chat_ai_tools kit;
    json_object *msgs = json_object_new_array(), *u = json_object_new_object(), *tools = NULL;
    apr_time_exp_t tm;
    chat_ai_call call;
    chat_ai_result res;
    char when[64];
    apr_size_t len;

    apr_time_exp_tz(&tm, apr_time_now(), 8 * 3600);
    apr_strftime(when, &len, sizeof(when), "%Y-%m-%d %H:%M", &tm);
    json_object_object_add(u, "role", json_object_new_string("user"));
    json_object_object_add(u, "text", json_object_new_string(x->job->text));
    json_object_array_add(msgs, u);
    memset(&call, 0, sizeof(call));
    call.prov = prov;
    call.system = apr_psprintf(x->p,
                               "You write a post for the chat room of a futures research desk. "
                               "It is %s Beijing time. Concise Markdown, in the language of the "
                               "request.",
                               when);
    call.messages = msgs;
    call.timeout = apr_time_from_sec(ac->timeout > 0 ? ac->timeout : CHAT_AI_DEFAULT_TIMEOUT);
    call.now = apr_time_now();
    chat_ai_tools_setup(x->p, &kit, ac);
    tools = chat_ai_tools_declare(&kit);
    call.tools = tools;
    call.tool_fn = chat_ai_tools_call;
    call.tool_ctx = &kit;
    call.max_rounds = ac->tool_rounds > 0 ? ac->tool_rounds : CHAT_AI_DEFAULT_ROUNDS;
    chat_ai_complete(x->p, &call, &res);
    json_object_put(msgs);
    json_object_put(tools);
    log_tools(x, prov->name, &kit);
    if (res.error) {
        return res.error;
    }
    chat_ai_usage_add(x->c, chat_settings_key_prefix(x->sc),
                      apr_pstrcat(x->p, "job:", x->job->name, NULL), NULL, &res.usage);
    *summary = apr_psprintf(x->p, "posted %s's answer (%s, %" APR_INT64_T_FMT " tokens)",
                            prov->name, res.model, res.usage.prompt + res.usage.completion);
    {
        json_object *m = message(x, prov->name, "text", chat_ai_tools_note(x->p, &kit, res.text));
        json_object_object_add(m, "model", json_object_new_string(res.model));
        return post_all(x, m);
    }
}

static const char *run_chart(job_ctx *x, const char **summary)
{
    const chat_jobs_conf *jc = admin_config_get(x->s)->jobs;
    chat_chart c;
    const char *data, *err = NULL, *url = NULL;
    void *png = NULL;
    int size = 0;
    json_object *m, *rows;

    if (!(rows = rows_of(x, &err))) {
        return err;
    }
    data = apr_pstrdup(x->p, json_object_to_json_string_ext(rows, JSON_C_TO_STRING_PLAIN));
    json_object_put(rows);
    memset(&c, 0, sizeof(c));
    c.kind = x->job->chart_kind;
    c.title = x->job->text;
    c.width = jc->chart_w ? jc->chart_w : CHAT_CHART_DEFAULT_W;
    c.height = jc->chart_h ? jc->chart_h : CHAT_CHART_DEFAULT_H;
    c.font = jc->font ? jc->font : CHAT_CHART_DEFAULT_FONT;
    if ((err = chat_chart_from_json(x->p, &c, data, x->job->mapping)) ||
        (err = chat_chart_render(x->p, &c, &png, &size)) ||
        (err = chat_chart_save(x->p, png, size, x->dc->upload_dir, x->dc->upload_url, &url))) {
        return err;
    }
    m = message(x, x->job->name, "image", x->job->text);
    json_object_object_add(m, "imageUrl", json_object_new_string(url));
    json_object_object_add(m, "filename",
                           json_object_new_string(apr_pstrcat(x->p, x->job->name, ".png", NULL)));
    json_object_object_add(m, "size", json_object_new_int(size));
    if (x->job->text) {
        json_object_object_add(m, "caption", json_object_new_string(x->job->text));
    }
    *summary = apr_psprintf(x->p, "posted a %dx%d chart of %d items (%d bytes)", c.width, c.height,
                            c.n, size);
    return post_all(x, m);
}

static const char *field(json_object *o, const char *name)
{
    json_object *v;
    return json_object_object_get_ex(o, name, &v) && v ? json_object_get_string(v) : NULL;
}

/* Only items whose id the job has not posted before (a Redis set per job). */
static const char *run_news(job_ctx *x, const char **summary)
{
    const char *err = NULL;
    apr_table_t *m = apr_table_make(x->p, 4);
    char *copy = apr_pstrdup(x->p, x->job->mapping), *tok, *last;
    const char *seen =
        apr_pstrcat(x->p, chat_settings_key_prefix(x->sc), "job:", x->job->name, ":seen", NULL);
    const char *digest;
    json_object *items;
    size_t i;
    int fresh = 0;
    apr_array_header_t *ids = apr_array_make(x->p, NEWS_MAX, sizeof(const char *));

    for (tok = apr_strtok(copy, " \t", &last); tok; tok = apr_strtok(NULL, " \t", &last)) {
        char *eq = strchr(tok, '=');
        if (eq) {
            *eq = '\0';
            apr_table_setn(m, tok, eq + 1);
        }
    }
    if (!(items = rows_of(x, &err))) {
        return err;
    }
    digest = apr_pstrcat(x->p, "**", x->job->text ? x->job->text : x->job->name, "**\n", NULL);
    for (i = 0; i < json_object_array_length(items) && fresh < NEWS_MAX; i++) {
        json_object *it = json_object_array_get_idx(items, i);
        const char *id = field(it, apr_table_get(m, "id") ? apr_table_get(m, "id") : "id");
        const char *title =
            field(it, apr_table_get(m, "title") ? apr_table_get(m, "title") : "title");
        const char *link = field(it, apr_table_get(m, "url") ? apr_table_get(m, "url") : "url");
        redisReply *r;
        int added;
        if (!title) {
            continue;
        }
        r = redisCommand(x->c, "SISMEMBER %s %s", seen, id ? id : title);
        added = r && r->type == REDIS_REPLY_INTEGER && r->integer == 0;
        if (r) {
            freeReplyObject(r);
        }
        if (!added) {
            continue;
        }
        APR_ARRAY_PUSH(ids, const char *) = apr_pstrdup(x->p, id ? id : title);
        fresh++;
        digest = link && (!strncmp(link, "https://", 8) || !strncmp(link, "http://", 7))
                     ? apr_pstrcat(x->p, digest, "\n- [", title, "](", link, ")", NULL)
                     : apr_pstrcat(x->p, digest, "\n- ", title, NULL);
    }
    json_object_put(items);
    if (!fresh) {
        *summary = "no new items";
        return NULL;
    }
    *summary = apr_psprintf(x->p, "posted %d new items", fresh);
    if ((err = post_all(x, message(x, x->job->name, "text", digest)))) {
        return err; /* not marked seen: the next run posts them */
    }
    for (i = 0; i < (size_t)ids->nelts; i++) {
        redisReply *r = redisCommand(x->c, "SADD %s %s", seen, APR_ARRAY_IDX(ids, i, const char *));
        if (r) {
            freeReplyObject(r);
        }
    }
    return NULL;
}

const char *chat_job_notice(apr_pool_t *p, server_rec *s, redisContext *c, const chat_job *job,
                            const char *err, const char *summary)
{
    job_ctx x = {p, s, admin_config_chat(s), admin_config_chat_dir(s), c, job};
    json_object *m = message(
        &x, "system", "system",
        err ? apr_psprintf(p, "⚠️ Job %s failed: %s", job->name, err)
            : apr_psprintf(p, "✅ Job %s ran: %s", job->name, summary && *summary ? summary : "ok"));

    json_object_object_add(m, "notice", json_object_new_string(err ? "failed" : "ok"));
    return post_all(&x, m);
}

const char *chat_job_run(apr_pool_t *p, server_rec *s, redisContext *c, const chat_job *job,
                         const char **summary)
{
    job_ctx x = {p, s, admin_config_chat(s), admin_config_chat_dir(s), c, job};

    *summary = "";
    switch (job->kind) {
    case CHAT_JOB_POST:
        *summary = "posted the text";
        return post_all(&x, message(&x, job->name, "text", job->text));
    case CHAT_JOB_AI:
        return run_ai(&x, summary);
    case CHAT_JOB_CHART:
        return run_chart(&x, summary);
    default:
        return run_news(&x, summary);
    }
}
