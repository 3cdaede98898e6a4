/* AI in the room: a gemini_chat / deepseek_chat message (or "@d question")
 * becomes the user's question plus a bot message "thinking…"; a streamed
 * answer grows it through not-stored ai_partial events, then the answer
 * replaces the bot message (same id), stored once. The provider call runs on a per-process thread
 * pool, so the connection's thread (the reactor under the event MPM) never waits; the job talks to
 * Redis only, and the room's normal fan-out carries the result to every member on every server. No
 * connection is touched from here. */
#include <httpd.h>
#include <apr_strings.h>
#include <apr_thread_pool.h>
#include <http_log.h>

#include "chat_ai_chart.h"
#include "chat_ai_room.h"
#include "chat_ai_settings.h"
#include "chat_ai_tools.h"
#include "chat_config.h"
#include "chat_ai_usage.h"
#include "chat_fetch.h"
#include "chat_redis_sync.h"
#include "chat_source_cache.h"
#include "chat_store.h"
#include "chat_util.h"

APLOG_USE_MODULE(chat);

static apr_thread_pool_t *pool_of_jobs;
static server_rec *main_server;

typedef struct ai_job {
    apr_pool_t *p;
    const chat_srv_conf *sc;
    const chat_ai_conf *ac;
    const chat_ai_provider *prov;
    const char *room, *user, *text;
    int history_size;
} ai_job;

/* A pre-cleanup of the child pool: the abort must come before the thread
 * pool (a subpool) waits for its threads, or a slow provider call would hold
 * the exiting child for its whole timeout. Jobs still queued are dropped. */
static apr_status_t stop_jobs(void *data)
{
    apr_thread_pool_t *tp = pool_of_jobs;

    (void)data;
    pool_of_jobs = NULL;
    chat_fetch_abort_all(); /* calls in flight return at once */
    if (tp) {
        apr_thread_pool_destroy(tp);
    }
    return APR_SUCCESS;
}

static apr_status_t clear_cache(void *data)
{
    (void)data;
    chat_source_cache_clear();
    return APR_SUCCESS;
}

void chat_ai_room_child_init(apr_pool_t *pchild, server_rec *s)
{
    server_rec *vs;
    apr_status_t rv;
    int threads = 0;

    main_server = s;
    /* cached source documents are malloc'd: freed before httpd unloads the module */
    apr_pool_cleanup_register(pchild, NULL, clear_cache, apr_pool_cleanup_null);
    /* one pool for the process, as large as the largest ChatAIThreads of any
     * virtual host that has a provider */
    for (vs = s; vs; vs = vs->next) {
        const chat_ai_conf *ac =
            chat_ai_settings_of(ap_get_module_config(vs->module_config, &chat_module));
        if (ac->providers && ac->providers->nelts) {
            int n = ac->threads > 0 ? ac->threads : CHAT_AI_DEFAULT_THREADS;
            threads = n > threads ? n : threads;
        }
    }
    if (!threads) {
        return;
    }
    chat_ai_draw_setup(pchild); /* before the threads that may draw_chart */
    rv = apr_thread_pool_create(&pool_of_jobs, 0, threads, pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "chat: cannot start the AI thread pool");
        pool_of_jobs = NULL;
        return;
    }
    apr_pool_pre_cleanup_register(pchild, NULL, stop_jobs);
}

static const char *to_json(apr_pool_t *p, json_object *o)
{
    const char *s = apr_pstrdup(p, json_object_to_json_string_ext(
                                       o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return s;
}

static json_object *message(const ai_job *j, const char *user, const char *text, int bot)
{
    json_object *m = json_object_new_object();

    json_object_object_add(m, "username", json_object_new_string(user));
    json_object_object_add(m, "timestamp", json_object_new_int64(apr_time_as_msec(apr_time_now())));
    json_object_object_add(m, "type", json_object_new_string("text"));
    json_object_object_add(m, "text", json_object_new_string(text));
    if (bot) {
        json_object_object_add(m, "bot", json_object_new_boolean(1));
        json_object_object_add(m, "ai", json_object_new_string(j->prov->name));
    }
    return m;
}

/* Store a message; its id, or NULL. */
static const char *post(ai_job *j, redisContext *c, json_object *m, const char *user)
{
    const char *argv[11];
    redisReply *r;
    const char *id = NULL;

    chat_store_post_args(j->p, argv, chat_settings_key_prefix(j->sc), j->room, j->history_size,
                         to_json(j->p, m), user);
    r = chat_redis_sync_command(c, 11, argv, NULL);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
        id = apr_psprintf(j->p, "%" APR_INT64_T_FMT, (apr_int64_t)r->element[0]->integer);
    }
    if (r) {
        freeReplyObject(r);
    }
    return id;
}

/* An error for the asking user's sessions only, through the room's fan-out. */
static void tell_user(ai_job *j, redisContext *c, const char *code, const char *msg)
{
    json_object *ev = json_object_new_object(), *p = json_object_new_object();
    redisReply *r;

    json_object_object_add(p, "message", json_object_new_string(msg));
    json_object_object_add(p, "code", json_object_new_string(code));
    json_object_object_add(ev, "t", json_object_new_string("signal"));
    json_object_object_add(ev, "type", json_object_new_string("error"));
    json_object_object_add(ev, "target", json_object_new_string(j->user));
    json_object_object_add(ev, "p", p);
    r = redisCommand(c, "PUBLISH %s %s",
                     chat_store_channel(j->p, chat_settings_key_prefix(j->sc), j->room),
                     to_json(j->p, ev));
    if (r) {
        freeReplyObject(r);
    }
}

/* The recent room messages as the conversation, oldest first. */
static json_object *context(ai_job *j, redisContext *c, const char *skip_id)
{
    int n = j->ac->context >= 0 ? j->ac->context : CHAT_AI_DEFAULT_CONTEXT;
    json_object *conv = json_object_new_array(), *list = NULL;
    const char *argv[6];
    redisReply *r;
    size_t i;

    argv[0] = "EVAL";
    argv[1] = chat_lua_history;
    argv[2] = "1";
    argv[3] = chat_store_key(j->p, chat_settings_key_prefix(j->sc), j->room, "log");
    argv[4] = "0";
    argv[5] = apr_itoa(j->p, n + 1);
    r = chat_redis_sync_command(c, 6, argv, NULL);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        list = json_tokener_parse(r->element[0]->str);
    }
    if (r) {
        freeReplyObject(r);
    }
    for (i = 0; list && i < json_object_array_length(list); i++) {
        json_object *m = json_object_array_get_idx(list, i), *v, *e;
        const char *id = json_object_object_get_ex(m, "id", &v) ? json_object_get_string(v) : "";
        const char *text =
            json_object_object_get_ex(m, "text", &v) ? json_object_get_string(v) : "";
        const char *who =
            json_object_object_get_ex(m, "username", &v) ? json_object_get_string(v) : "";
        int bot = json_object_object_get_ex(m, "bot", &v) && json_object_get_boolean(v);
        if (!strcmp(id, skip_id) || !*text) {
            continue;
        }
        e = json_object_new_object();
        json_object_object_add(e, "role", json_object_new_string(bot ? "assistant" : "user"));
        json_object_object_add(
            e, "text",
            json_object_new_string(bot ? text : apr_pstrcat(j->p, who, ": ", text, NULL)));
        json_object_array_add(conv, e);
    }
    json_object_put(list);
    return conv;
}

static void replace(ai_job *j, redisContext *c, const char *id, json_object *m)
{
    const char *argv[10];
    redisReply *r;

    argv[0] = "EVAL";
    argv[1] = chat_lua_replace;
    argv[2] = "2";
    argv[3] = chat_store_key(j->p, chat_settings_key_prefix(j->sc), j->room, "meta");
    argv[4] = chat_store_key(j->p, chat_settings_key_prefix(j->sc), j->room, "log");
    argv[5] = chat_store_channel(j->p, chat_settings_key_prefix(j->sc), j->room);
    argv[6] = apr_itoa(j->p, j->history_size);
    argv[7] = id;
    argv[8] = to_json(j->p, m);
    argv[9] = CHAT_STORE_OWNER_BOT;
    r = chat_redis_sync_command(c, 10, argv, NULL);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, main_server, "chat: AI answer in %s not stored: %s",
                     j->room, r ? r->str : "Redis unavailable");
    }
    if (r) {
        freeReplyObject(r);
    }
}

/* A streamed answer's room updates: at most one per ChatAIStreamInterval,
 * published on the room's channel and never stored (the whole answer is
 * stored once, by replace()). Each update is built in a scratch pool
 * cleared after it, so a long answer does not grow the job's pool. */
typedef struct ai_partial {
    ai_job *j;
    redisContext *c;
    const char *id;
    apr_pool_t *scratch;
    apr_time_t last;
    apr_interval_time_t every;
} ai_partial;

static void ai_partial_publish(void *data, const char *text)
{
    ai_partial *pa = data;
    apr_time_t now = apr_time_now();
    json_object *ev;
    redisReply *r;

    if ((pa->last && now - pa->last < pa->every) || strlen(text) > CHAT_AI_PARTIAL_MAX) {
        return;
    }
    pa->last = now;
    ev = json_object_new_object();
    json_object_object_add(ev, "t", json_object_new_string("ai_partial"));
    json_object_object_add(ev, "id", json_object_new_string(pa->id));
    json_object_object_add(ev, "text", json_object_new_string(text));
    r = redisCommand(
        pa->c, "PUBLISH %s %s",
        chat_store_channel(pa->scratch, chat_settings_key_prefix(pa->j->sc), pa->j->room),
        to_json(pa->scratch, ev));
    if (r) {
        freeReplyObject(r);
    }
    apr_pool_clear(pa->scratch);
}

void chat_ai_room_log_tools(apr_pool_t *p, redisContext *c, const chat_srv_conf *sc,
                            const char *room, const char *bot, const chat_ai_tools *kit)
{
    int i;

    for (i = 0; i < kit->log->nelts; i++) {
        const char *line = APR_ARRAY_IDX(kit->log, i, const char *);
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, main_server, "chat: room %s: ai_tool %s", room,
                     line);
        chat_redis_sync_debug(c, p, sc, room, "ai_tool", bot, line);
    }
}

static void *APR_THREAD_FUNC ai_job_run(apr_thread_t *t, void *data)
{
    ai_job *j = data;
    const char *err = NULL, *prefix = chat_settings_key_prefix(j->sc), *id;
    redisContext *c = chat_redis_sync_open(j->sc, &err);
    chat_ai_tools kit;
    chat_ai_chart chart;
    chat_ai_call call;
    chat_ai_result res;
    ai_partial partial;
    json_object *conv, *tools = NULL, *answer;
    int ok;

    (void)t;
    if (!c) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, main_server, "chat: AI request in %s dropped: %s",
                     j->room, err);
        goto out;
    }
    if ((ok = chat_ai_rate_take(c, prefix, j->user,
                                j->ac->rate >= 0 ? j->ac->rate : CHAT_AI_DEFAULT_RATE)) != 1) {
        tell_user(j, c, "ai_rate_limited",
                  ok < 0 ? "AI unavailable: chat storage error"
                         : apr_psprintf(j->p, "too many AI requests: at most %d per minute",
                                        j->ac->rate >= 0 ? j->ac->rate : CHAT_AI_DEFAULT_RATE));
        goto out;
    }
    if (!post(j, c, message(j, j->user, j->text, 0), j->user) ||
        !(id = post(j, c, message(j, j->prov->name, "thinking…", 1), CHAT_STORE_OWNER_BOT))) {
        tell_user(j, c, "not_stored", "AI request not stored: storage error");
        goto out;
    }
    conv = context(j, c, id);
    chat_ai_tools_setup(j->p, &kit, j->ac);
    tools = chat_ai_tools_declare(&kit);
    memset(&call, 0, sizeof(call));
    call.prov = j->prov;
    call.system = apr_psprintf(
        j->p,
        "You are %s, an assistant in the chat room #%s of a futures research desk. Messages "
        "from people start with their name. Answer the last message concisely in Markdown, in "
        "the language it is written in.%s",
        j->prov->name, j->room,
        tools ? " Use the tools for prices, statistics and news of commodities; never "
                "invent numbers."
              : "");
    call.messages = conv;
    call.tools = tools;
    call.tool_fn = chat_ai_tools_call;
    call.tool_ctx = &kit;
    call.max_rounds = j->ac->tool_rounds > 0 ? j->ac->tool_rounds : CHAT_AI_DEFAULT_ROUNDS;
    /* draw_chart, in front of the other tools */
    chart.p = j->p;
    chart.s = main_server;
    chart.sc = j->sc;
    chart.c = c;
    chart.room = j->room;
    chart.bot = j->prov->name;
    chart.history_size = j->history_size;
    chart.urls = NULL;
    chat_ai_chart_offer(&chart, j->ac, &tools, &call);
    call.timeout = apr_time_from_sec(j->ac->timeout > 0 ? j->ac->timeout : CHAT_AI_DEFAULT_TIMEOUT);
    call.now = apr_time_now();
    partial.j = j;
    partial.c = c;
    partial.id = id;
    partial.last = 0;
    partial.every =
        apr_time_from_msec(j->ac->stream_ms > 0 ? j->ac->stream_ms : CHAT_AI_DEFAULT_STREAM_MS);
    apr_pool_create(&partial.scratch, j->p);
    call.progress = ai_partial_publish;
    call.progress_ctx = &partial;
    chat_ai_complete(j->p, &call, &res);
    chat_ai_room_log_tools(j->p, c, j->sc, j->room, j->prov->name, &kit);
    if (res.error) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, main_server, "chat: AI in %s: %s", j->room,
                     res.error);
        answer = message(j, j->prov->name,
                         chat_ai_tools_note(j->p, &kit,
                                            apr_pstrcat(j->p, "⚠️ AI error: ",
                                                        res.timed_out ? "no answer in time. " : "",
                                                        res.error, NULL)),
                         1);
        json_object_object_add(answer, "error", json_object_new_boolean(1));
    }
    else {
        answer = message(j, j->prov->name,
                         chat_ai_tools_note(j->p, &kit, *res.text ? res.text : "(no answer)"), 1);
        json_object_object_add(answer, "model", json_object_new_string(res.model));
        chat_ai_usage_add(c, prefix, j->user, j->room, &res.usage);
    }
    replace(j, c, id, answer);
    json_object_put(conv);
    json_object_put(tools);
out:
    if (c) {
        redisFree(c);
    }
    apr_pool_destroy(j->p);
    return NULL;
}

/* Queue a question; NULL, or why it cannot be asked. Never blocks. */
static const char *ai_room_ask(const chat_srv_conf *sc, const chat_ai_conf *ac,
                               const chat_ai_provider *prov, const char *room, const char *user,
                               const char *text, int history_size)
{
    apr_pool_t *p;
    ai_job *j;

    if (!pool_of_jobs) {
        return "AI is not running in this process";
    }
    /* a flood of questions waits behind slow calls: refuse rather than queue forever */
    if (apr_thread_pool_tasks_count(pool_of_jobs) >=
        10 * apr_thread_pool_thread_max_get(pool_of_jobs)) {
        return "the AI is busy: try again in a minute";
    }
    /* unmanaged: jobs outlive the request and run on other threads */
    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
        return "out of memory";
    }
    j = apr_pcalloc(p, sizeof(*j));
    j->p = p;
    j->sc = sc;
    j->ac = ac;
    j->prov = prov;
    j->room = apr_pstrdup(p, room);
    j->user = apr_pstrdup(p, user);
    j->text = apr_pstrdup(p, text);
    j->history_size = history_size;
    if (apr_thread_pool_push(pool_of_jobs, ai_job_run, j, APR_THREAD_TASK_PRIORITY_NORMAL, NULL) !=
        APR_SUCCESS) {
        apr_pool_destroy(p);
        return "AI queue unavailable";
    }
    return NULL;
}

static int ai_room_known(const chat_srv_conf *sc, const char *name)
{
    return chat_ai_provider_find(chat_ai_settings_of(sc), name) != NULL;
}

static const char *ai_room_alias(const chat_srv_conf *sc, const char *word, apr_size_t len)
{
    const chat_ai_provider *pr = chat_ai_provider_by_alias(chat_ai_settings_of(sc), word, len);

    return pr ? pr->name : NULL;
}

static const char *ai_room_bot_ask(const chat_srv_conf *sc, const char *name, const char *room,
                                   const char *user, const char *text, int history_size)
{
    const chat_ai_conf *ac = chat_ai_settings_of(sc);

    return ai_room_ask(sc, ac, chat_ai_provider_find(ac, name), room, user, text, history_size);
}

const chat_protocol_bot chat_ai_room_bot = {ai_room_known, ai_room_bot_ask, ai_room_alias};
