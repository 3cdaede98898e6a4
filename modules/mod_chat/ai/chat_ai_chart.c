/* draw_chart in the room: the PNG the tool renders (lib/ai/chat_ai_draw.c)
 * is stored in the server's ChatUploadDir under a generated name and posted
 * by the provider's bot as an image message, exactly as a chart job posts
 * one; every call, drawn or refused, goes to the room's debug log. Runs on
 * an AI thread over its own Redis connection: no connection is touched. */
#include <httpd.h>

#include <apr_strings.h>
#include <http_config.h>
#include <http_log.h>

#include "chat_ai_chart.h"
#include "chat_chart.h"
#include "chat_redis_sync.h"
#include "chat_store.h"

APLOG_USE_MODULE(chat);

/* The server-level settings of the virtual host sc belongs to (where chart
 * jobs store their charts too). */
static const chat_dir_conf *uploads_of(server_rec *s, const chat_srv_conf *sc)
{
    server_rec *vs;

    for (vs = s; vs; vs = vs->next) {
        if (ap_get_module_config(vs->module_config, &chat_module) == sc) {
            return ap_get_module_config(vs->lookup_defaults, &chat_module);
        }
    }
    return ap_get_module_config(s->lookup_defaults, &chat_module);
}

/* A message of the bot in the room; consumes m. NULL, or an error. */
static const char *post_message(chat_ai_chart *x, apr_pool_t *p, json_object *m)
{
    const char *err, *argv[11];
    redisReply *r;

    json_object_object_add(m, "username", json_object_new_string(x->bot));
    json_object_object_add(m, "timestamp", json_object_new_int64(apr_time_as_msec(apr_time_now())));
    json_object_object_add(m, "bot", json_object_new_boolean(1));
    json_object_object_add(m, "ai", json_object_new_string(x->bot));
    chat_store_post_args(
        p, argv, chat_settings_key_prefix(x->sc), x->room, x->history_size,
        apr_pstrdup(p, json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE)),
        CHAT_STORE_OWNER_BOT);
    json_object_put(m);
    r = chat_redis_sync_command(x->c, 11, argv, NULL);
    err = !r || r->type == REDIS_REPLY_ERROR ? apr_pstrdup(p, r ? r->str : "Redis unavailable")
                                             : NULL;
    if (r) {
        freeReplyObject(r);
    }
    return err;
}

static const char *post_chart(apr_pool_t *p, void *baton, const void *png, int size,
                              const char *title)
{
    chat_ai_chart *x = baton;
    const chat_dir_conf *dc = uploads_of(x->s, x->sc);
    json_object *m;
    const char *url = NULL, *err;

    if ((err = chat_chart_save(p, png, size, dc->upload_dir, dc->upload_url, &url))) {
        return err;
    }
    m = json_object_new_object();
    json_object_object_add(m, "type", json_object_new_string("image"));
    json_object_object_add(m, "text", json_object_new_string(title));
    json_object_object_add(m, "imageUrl", json_object_new_string(url));
    json_object_object_add(m, "filename", json_object_new_string("chart.png"));
    json_object_object_add(m, "size", json_object_new_int(size));
    json_object_object_add(m, "caption", json_object_new_string(title));
    if ((err = post_message(x, p, m))) {
        return apr_pstrcat(p, "the chart was drawn but not posted: ", err, NULL);
    }
    if (x->urls) {
        APR_ARRAY_PUSH(x->urls, const char *) = apr_pstrdup(x->p, url);
    }
    return NULL;
}

static void tell_failure(apr_pool_t *p, void *baton, const char *reason)
{
    chat_ai_chart *x = baton;
    json_object *m = json_object_new_object();

    json_object_object_add(m, "type", json_object_new_string("text"));
    json_object_object_add(
        m, "text",
        json_object_new_string(apr_pstrcat(p, "⚠️ Chart not drawn: ", reason, NULL)));
    json_object_object_add(m, "error", json_object_new_boolean(1));
    post_message(x, p, m);
}

/* An entry of the room's debug log, as members' events are. */
static void log_call(void *baton, const char *event, const char *detail)
{
    chat_ai_chart *x = baton;

    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, x->s, "chat: room %s: %s %s: %s", x->room, event,
                 x->bot, detail);
    chat_redis_sync_debug(x->c, x->p, x->sc, x->room, event, x->bot, detail);
}

void chat_ai_chart_offer(chat_ai_chart *x, const chat_ai_conf *ac, json_object **tools,
                         chat_ai_call *call)
{
    if (!chat_ai_draw_offered(ac)) {
        return;
    }
    memset(&x->draw, 0, sizeof(x->draw));
    x->draw.ac = ac;
    x->draw.post = post_chart;
    x->draw.fail = tell_failure;
    x->draw.log = log_call;
    x->draw.baton = x;
    x->draw.next = call->tool_fn;
    x->draw.next_ctx = call->tool_ctx;
    if (!*tools) {
        *tools = json_object_new_array();
    }
    json_object_array_add(*tools, chat_ai_draw_tool(x->p, ac));
    call->tools = *tools;
    call->tool_fn = chat_ai_draw_call;
    call->tool_ctx = &x->draw;
    call->system =
        apr_pstrcat(x->p, call->system ? call->system : "",
                    " To show a chart, call draw_chart: it is posted in the room.", NULL);
}
