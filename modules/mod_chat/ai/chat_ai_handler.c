/* POST /chat/ai/explain and /chat/ai/describe-image (SetHandler chat-ai):
 * signed-in room members only, per-user rate limit shared with the room bot.
 * The provider call blocks this request's worker like any proxied backend;
 * chat sockets live elsewhere (the reactor), so chatting goes on. Images come
 * only from this server's uploads or ChatAIImageAllow prefixes, size-capped. */
#include <httpd.h>
#include <apr_base64.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include "chat_access.h"
#include "chat_ai_chart.h"
#include "chat_ai_handler.h"
#include "chat_ai_room.h"
#include "chat_ai_settings.h"
#include "chat_ai_usage.h"
#include "chat_fetch.h"
#include "chat_redis_sync.h"
#include "chat_reply.h"
#include "chat_upload.h"
#include "chat_util.h"

APLOG_USE_MODULE(chat);

#define AI_MAX_BODY (256 * 1024)

static const char *EXPLAIN_PROMPT =
    "You explain market news and financial text to traders of a futures research desk. Reply "
    "in the language of the text, in concise Markdown (at most about 200 words): what it says, "
    "why it matters for prices, and any terms a reader may not know.";
static const char *DESCRIBE_PROMPT =
    "Describe this image for a futures research desk: what it shows (for a chart: instrument, "
    "period, trend, notable levels), then transcribe any text in it. Concise Markdown.";

/* The part of an allow-listed URL after its host must not climb out of the
 * prefix's directory: no dot segments, no encoded dots or slashes, no
 * backslashes, no user info. (Prefixes end with "/", checked at startup.) */
static int chat_ai_url_tail_safe(const char *url)
{
    const char *host = strstr(url, "://"), *path, *q;
    static const char *const bad[] = {"/../", "/./", "%2e", "%2E", "%2f",
                                      "%2F",  "%5c", "%5C", "\\"};
    apr_size_t i, n;

    if (!host) {
        return 0;
    }
    path = strchr(host + 3, '/');
    if (!path || memchr(host, '@', path - host)) {
        return 0;
    }
    q = path + strcspn(path, "?#");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *hit = strstr(path, bad[i]);
        if (hit && hit < q) {
            return 0;
        }
    }
    n = (apr_size_t)(q - path);
    /* ".." or "." as the last segment */
    if ((n >= 3 && !strncmp(q - 3, "/..", 3)) || (n >= 2 && !strncmp(q - 2, "/.", 2))) {
        return 0;
    }
    return 1;
}

static json_object *read_json(request_rec *r)
{
    char *buf = apr_palloc(r->pool, AI_MAX_BODY + 1);
    apr_size_t got = 0;
    long n = 0;
    json_object *o;

    if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK) {
        return NULL;
    }
    while (got <= AI_MAX_BODY &&
           (n = ap_get_client_block(r, buf + got, AI_MAX_BODY + 1 - got)) > 0) {
        got += (apr_size_t)n;
    }
    if (n < 0 || got > AI_MAX_BODY) {
        return NULL;
    }
    buf[got] = '\0';
    o = json_tokener_parse(buf);
    if (o && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    return o;
}

static const char *get_s(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* The image as base64 with its type; an HTTP status and message when refused. */
static int load_image(request_rec *r, const chat_ai_conf *ac, const char *url, const char **mime,
                      const char **b64, const char **why)
{
    chat_dir_conf *dc = ap_get_module_config(r->per_dir_config, &chat_module);
    const char *own = dc->upload_url ? dc->upload_url : "/chat/files";
    apr_int64_t max = ac->max_image > 0 ? ac->max_image : CHAT_AI_DEFAULT_MAX_IMAGE;
    const char *data = NULL;
    apr_size_t len = 0;
    int i, allowed = 0;
    char *out;

    if (!strncmp(url, own, strlen(own)) && url[strlen(own)] == '/') {
        const char *path = chat_upload_file_path(r->pool, dc, url + strlen(own) + 1, mime);
        apr_file_t *f;
        apr_finfo_t fi;
        if (!path || apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, r->pool) ||
            apr_file_info_get(&fi, APR_FINFO_SIZE, f)) {
            *why = "no such upload";
            return HTTP_NOT_FOUND;
        }
        if (fi.size > max) {
            *why =
                apr_psprintf(r->pool, "the image is larger than %" APR_INT64_T_FMT " bytes", max);
            return HTTP_REQUEST_ENTITY_TOO_LARGE;
        }
        len = (apr_size_t)fi.size;
        data = apr_palloc(r->pool, len + 1);
        if (apr_file_read_full(f, (void *)data, len, NULL) != APR_SUCCESS) {
            *why = "cannot read the upload";
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    else {
        chat_fetch_reply rep;
        for (i = 0; ac->image_allow && i < ac->image_allow->nelts; i++) {
            const char *prefix = APR_ARRAY_IDX(ac->image_allow, i, const char *);
            allowed |= !strncmp(url, prefix, strlen(prefix));
        }
        if (!allowed || !chat_ai_url_tail_safe(url)) {
            *why = "images are fetched only from this server's uploads or ChatAIImageAllow";
            return HTTP_FORBIDDEN;
        }
        chat_fetch_request(
            r->pool, url, NULL, NULL,
            apr_time_from_sec(ac->timeout > 0 ? ac->timeout : CHAT_AI_DEFAULT_TIMEOUT),
            (apr_size_t)max, &rep);
        if (rep.too_large) {
            *why =
                apr_psprintf(r->pool, "the image is larger than %" APR_INT64_T_FMT " bytes", max);
            return HTTP_REQUEST_ENTITY_TOO_LARGE;
        }
        if (rep.error || rep.status != 200) {
            *why = apr_psprintf(r->pool, "cannot fetch the image: %s",
                                rep.error ? rep.error : apr_itoa(r->pool, rep.status));
            return HTTP_BAD_GATEWAY;
        }
        if (!rep.content_type || strncasecmp(rep.content_type, "image/", 6)) {
            *why = "the URL is not an image";
            return HTTP_UNSUPPORTED_MEDIA_TYPE;
        }
        *mime = apr_pstrndup(r->pool, rep.content_type, strcspn(rep.content_type, "; "));
        data = rep.body;
        len = rep.len;
    }
    if (strncmp(*mime, "image/", 6)) {
        *why = "not an image";
        return HTTP_UNSUPPORTED_MEDIA_TYPE;
    }
    out = apr_palloc(r->pool, apr_base64_encode_len((int)len));
    apr_base64_encode_binary(out, (const unsigned char *)data, (int)len);
    *b64 = out;
    return OK;
}

int chat_ai_handler(request_rec *r)
{
    const chat_ai_conf *ac;
    const chat_ai_provider *prov;
    const chat_srv_conf *sc;
    chat_room_limits lim;
    const char *what, *user, *room, *err = NULL, *why = NULL;
    json_object *body, *msgs, *m, *out, *tools = NULL;
    chat_ai_call call;
    chat_ai_result res;
    chat_ai_tools kit;
    chat_ai_chart chart;
    redisContext *c;
    int status, describe, member, ok;

    if (!r->handler || strcmp(r->handler, "chat-ai")) {
        return DECLINED;
    }
    what = strrchr(r->uri, '/');
    what = what ? what + 1 : r->uri;
    describe = !strcmp(what, "describe-image");
    if (!describe && strcmp(what, "explain")) {
        return HTTP_NOT_FOUND;
    }
    if (r->method_number != M_POST) {
        ap_allow_methods(r, REPLACE_ALLOW, "POST", NULL);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    sc = ap_get_module_config(r->server->module_config, &chat_module);
    ac = chat_ai_settings_of(sc);
    if (!(prov = describe ? chat_ai_provider_for_describe(ac) : chat_ai_provider_for_explain(ac))) {
        return chat_json_error(r, HTTP_SERVICE_UNAVAILABLE, "ai_unavailable",
                               "AI is not configured on this server (ChatAIProvider)");
    }
    chat_settings_room_limits(ap_get_module_config(r->per_dir_config, &chat_module), &lim);
    if (!(user = chat_identify(r, &lim, &status))) {
        return chat_json_error(r, status, "unauthorized", "sign in to use the AI");
    }
    if (!(body = read_json(r))) {
        return chat_json_error(r, HTTP_BAD_REQUEST, "malformed",
                               "the body must be a JSON object of at most 256 KB");
    }
    if (get_s(body, "model")) {
        /* SPEC: "model" names the provider (gemini, deepseek, ...) */
        const chat_ai_provider *named = chat_ai_provider_find(ac, get_s(body, "model"));
        if (!named) {
            const char *msg =
                apr_psprintf(r->pool, "no AI provider named '%s' here", get_s(body, "model"));
            json_object_put(body);
            return chat_json_error(r, HTTP_BAD_REQUEST, "unknown_model", msg);
        }
        prov = named;
    }
    room = apr_pstrdup(r->pool, get_s(body, "roomName") ? get_s(body, "roomName") : "");
    if (!chat_room_name_valid(room)) {
        json_object_put(body);
        return chat_json_error(r, HTTP_BAD_REQUEST, "invalid", "roomName must name a room");
    }
    if ((member = chat_room_is_member(r, room, user)) != 1) {
        json_object_put(body);
        return member < 0 ? chat_json_error(r, HTTP_SERVICE_UNAVAILABLE, "unavailable",
                                            "chat storage unavailable")
                          : chat_json_error(r, HTTP_FORBIDDEN, "forbidden",
                                            "only members of the room may use its AI");
    }
    if (describe ? !get_s(body, "imageUrl")
                 : (!get_s(body, "text") || !*get_s(body, "text") ||
                    strlen(get_s(body, "text")) > (apr_size_t)lim.max_text * 4)) {
        json_object_put(body);
        return chat_json_error(
            r, HTTP_BAD_REQUEST, "invalid",
            describe
                ? "imageUrl is required"
                : apr_psprintf(r->pool, "text is required (at most %d characters)", lim.max_text));
    }
    /* the rate limit before any work: an image download costs too */
    if (!(c = chat_redis_sync_open(sc, &err))) {
        json_object_put(body);
        return chat_json_error(r, HTTP_SERVICE_UNAVAILABLE, "unavailable", err);
    }
    ok = chat_ai_rate_take(c, chat_settings_key_prefix(sc), user,
                           ac->rate >= 0 ? ac->rate : CHAT_AI_DEFAULT_RATE);
    if (ok != 1) {
        redisFree(c);
        json_object_put(body);
        if (ok == 0) {
            apr_table_setn(r->err_headers_out, "Retry-After", "60");
            return chat_json_error(r, HTTP_TOO_MANY_REQUESTS, "rate_limited",
                                   apr_psprintf(r->pool, "at most %d AI requests per minute",
                                                ac->rate >= 0 ? ac->rate : CHAT_AI_DEFAULT_RATE));
        }
        return chat_json_error(r, HTTP_SERVICE_UNAVAILABLE, "unavailable", "chat storage error");
    }
    m = json_object_new_object();
    json_object_object_add(m, "role", json_object_new_string("user"));
    if (describe) {
        const char *url = get_s(body, "imageUrl"), *mime = NULL, *b64 = NULL;
        if ((status = load_image(r, ac, apr_pstrdup(r->pool, url), &mime, &b64, &why)) != OK) {
            redisFree(c);
            json_object_put(body);
            json_object_put(m);
            return chat_json_error(r, status,
                                   status == HTTP_REQUEST_ENTITY_TOO_LARGE ? "too_large"
                                   : status == HTTP_FORBIDDEN              ? "image_not_allowed"
                                   : status == HTTP_NOT_FOUND              ? "not_found"
                                                                           : "bad_image",
                                   why);
        }
        json_object_object_add(m, "text", json_object_new_string("Describe this image."));
        json_object_object_add(m, "image_mime", json_object_new_string(mime));
        json_object_object_add(m, "image_b64", json_object_new_string(b64));
    }
    else {
        json_object_object_add(m, "text", json_object_new_string(get_s(body, "text")));
    }
    json_object_put(body);
    msgs = json_object_new_array();
    json_object_array_add(msgs, m);
    memset(&call, 0, sizeof(call));
    call.prov = prov;
    call.system = describe ? DESCRIBE_PROMPT : EXPLAIN_PROMPT;
    call.messages = msgs;
    call.timeout = apr_time_from_sec(ac->timeout > 0 ? ac->timeout : CHAT_AI_DEFAULT_TIMEOUT);
    call.now = apr_time_now();
    chat_ai_tools_setup(r->pool, &kit, ac);
    memset(&chart, 0, sizeof(chart));
    if (!describe) {
        call.tools = tools = chat_ai_tools_declare(&kit);
        call.tool_fn = chat_ai_tools_call;
        call.tool_ctx = &kit;
        call.max_rounds = ac->tool_rounds > 0 ? ac->tool_rounds : CHAT_AI_DEFAULT_ROUNDS;
        /* draw_chart posts in the room the question comes from, as in the room */
        chart.p = r->pool;
        chart.s = r->server;
        chart.sc = sc;
        chart.c = c;
        chart.room = room;
        chart.bot = prov->name;
        chart.history_size = lim.history_size;
        chart.urls = apr_array_make(r->pool, 1, sizeof(const char *));
        chat_ai_chart_offer(&chart, ac, &tools, &call);
    }
    chat_ai_complete(r->pool, &call, &res);
    json_object_put(tools);
    chat_ai_room_log_tools(r->pool, c, sc, room, prov->name, &kit);
    if (res.error) {
        json_object_put(msgs);
        redisFree(c);
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "chat: AI %s for %s: %s", what, user,
                      res.error);
        return chat_json_error(r, res.timed_out ? HTTP_GATEWAY_TIME_OUT : HTTP_BAD_GATEWAY,
                               res.timed_out ? "ai_timeout" : "ai_error",
                               chat_ai_tools_note(r->pool, &kit, res.error));
    }
    json_object_put(msgs);
    chat_ai_usage_add(c, chat_settings_key_prefix(sc), user, room, &res.usage);
    redisFree(c);
    out = json_object_new_object();
    json_object_object_add(out, describe ? "description" : "explanation",
                           json_object_new_string(chat_ai_tools_note(r->pool, &kit, res.text)));
    if (chart.urls && chart.urls->nelts) {
        json_object *a = json_object_new_array();
        int i;
        for (i = 0; i < chart.urls->nelts; i++) {
            json_object_array_add(
                a, json_object_new_string(APR_ARRAY_IDX(chart.urls, i, const char *)));
        }
        json_object_object_add(out, "charts", a); /* also posted in the room */
    }
    json_object_object_add(out, "provider", json_object_new_string(prov->name));
    json_object_object_add(out, "model", json_object_new_string(res.model));
    {
        json_object *u = json_object_new_object();
        json_object_object_add(u, "prompt", json_object_new_int64(res.usage.prompt));
        json_object_object_add(u, "completion", json_object_new_int64(res.usage.completion));
        json_object_object_add(out, "usage", u);
    }
    return chat_json_reply(r, HTTP_OK, out);
}
