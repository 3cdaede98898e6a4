/* AI providers over libcurl: see chat_ai.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "chat_ai.h"
#include "chat_fetch.h"

#define AI_MAX_REPLY (4 * 1024 * 1024)

const char *chat_ai_parse_window(apr_pool_t *p, const char *spec, int *from, int *to)
{
    int h1, m1, h2, m2, n = 0;

    if (sscanf(spec, "%2d:%2d-%2d:%2d%n", &h1, &m1, &h2, &m2, &n) != 4 || spec[n] || h1 > 23 ||
        h2 > 23 || m1 > 59 || m2 > 59 || h1 < 0 || h2 < 0 || m1 < 0 || m2 < 0) {
        return apr_psprintf(p, "'%s' is not a time window like 00:30-08:30", spec);
    }
    *from = h1 * 60 + m1;
    *to = h2 * 60 + m2;
    return NULL;
}

/* DeepSeek's off-peak hours, 00:30-08:30 Beijing time. */
static const chat_ai_window deepseek_window = {30, 8 * 60 + 30, "deepseek-reasoner"};

const char *chat_ai_pick_model(const chat_ai_provider *prov, apr_time_t now)
{
    long long secs = (long long)apr_time_sec(now) + prov->tz_offset;
    int minute = (int)(((secs % 86400) + 86400) % 86400 / 60), i, n;
    int dflt = !prov->windows && prov->kind == CHAT_AI_OPENAI && prov->name &&
               !strcmp(prov->name, "deepseek");

    n = dflt ? 1 : prov->windows ? prov->windows->nelts : 0;
    for (i = 0; i < n; i++) {
        const chat_ai_window *w =
            dflt ? &deepseek_window : &APR_ARRAY_IDX(prov->windows, i, chat_ai_window);
        /* [from, to): 00:30-08:30 holds 00:30:00 to 08:29:59 */
        int in = w->from <= w->to ? (minute >= w->from && minute < w->to)
                                  : (minute >= w->from || minute < w->to);
        if (in) {
            return w->model;
        }
    }
    return prov->model;
}

static json_object *jstr(const char *s)
{
    return json_object_new_string(s ? s : "");
}

static const char *get_s(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static json_object *get_o(json_object *o, const char *key)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static json_object *openai_message(json_object *m)
{
    const char *role = get_s(m, "role"), *text = get_s(m, "text"), *b64 = get_s(m, "image_b64");
    json_object *o = json_object_new_object();

    json_object_object_add(o, "role",
                           jstr(role && !strcmp(role, "assistant") ? "assistant" : "user"));
    if (b64 && get_s(m, "image_mime")) {
        json_object *parts = json_object_new_array(), *t = json_object_new_object(),
                    *img = json_object_new_object(), *url = json_object_new_object();
        size_t n = strlen(b64) + strlen(get_s(m, "image_mime")) + 16;
        char *data = malloc(n); /* images are megabytes: not worth a pool here */
        if (data) {
            snprintf(data, n, "data:%s;base64,%s", get_s(m, "image_mime"), b64);
        }
        json_object_object_add(t, "type", jstr("text"));
        json_object_object_add(t, "text", jstr(text));
        json_object_object_add(url, "url", jstr(data ? data : ""));
        free(data);
        json_object_object_add(img, "type", jstr("image_url"));
        json_object_object_add(img, "image_url", url);
        json_object_array_add(parts, t);
        json_object_array_add(parts, img);
        json_object_object_add(o, "content", parts);
    }
    else {
        json_object_object_add(o, "content", jstr(text));
    }
    return o;
}

static json_object *gemini_content(json_object *m)
{
    const char *role = get_s(m, "role"), *b64 = get_s(m, "image_b64");
    json_object *o = json_object_new_object(), *parts = json_object_new_array(),
                *t = json_object_new_object();

    json_object_object_add(o, "role", jstr(role && !strcmp(role, "assistant") ? "model" : "user"));
    json_object_object_add(t, "text", jstr(get_s(m, "text")));
    json_object_array_add(parts, t);
    if (b64) {
        json_object *part = json_object_new_object(), *inl = json_object_new_object();
        json_object_object_add(inl, "mime_type", jstr(get_s(m, "image_mime")));
        json_object_object_add(inl, "data", jstr(b64));
        json_object_object_add(part, "inline_data", inl);
        json_object_array_add(parts, part);
    }
    json_object_object_add(o, "parts", parts);
    return o;
}

int chat_ai_call_streams(const chat_ai_call *call)
{
    return call->progress && !call->prov->no_stream;
}

json_object *chat_ai_request_body(const chat_ai_call *call, const char *model)
{
    json_object *body = json_object_new_object(), *list = json_object_new_array();
    size_t i, n = call->messages ? json_object_array_length(call->messages) : 0;

    if (call->prov->kind == CHAT_AI_OPENAI) {
        json_object_object_add(body, "model", jstr(model));
        if (call->system) {
            json_object *s = json_object_new_object();
            json_object_object_add(s, "role", jstr("system"));
            json_object_object_add(s, "content", jstr(call->system));
            json_object_array_add(list, s);
        }
        for (i = 0; i < n; i++) {
            json_object_array_add(list,
                                  openai_message(json_object_array_get_idx(call->messages, i)));
        }
        json_object_object_add(body, "messages", list);
        if (call->tools && json_object_array_length(call->tools)) {
            json_object *tools = json_object_new_array();
            for (i = 0; i < json_object_array_length(call->tools); i++) {
                json_object *t = json_object_new_object(), *f = NULL;
                json_object_deep_copy(json_object_array_get_idx(call->tools, i), &f, NULL);
                json_object_object_add(t, "type", jstr("function"));
                json_object_object_add(t, "function", f);
                json_object_array_add(tools, t);
            }
            json_object_object_add(body, "tools", tools);
        }
        json_object_object_add(body, "stream", json_object_new_boolean(chat_ai_call_streams(call)));
        if (chat_ai_call_streams(call)) {
            /* the token counts come on a last chunk only when asked */
            json_object *so = json_object_new_object();
            json_object_object_add(so, "include_usage", json_object_new_boolean(1));
            json_object_object_add(body, "stream_options", so);
        }
        return body;
    }
    for (i = 0; i < n; i++) {
        json_object_array_add(list, gemini_content(json_object_array_get_idx(call->messages, i)));
    }
    json_object_object_add(body, "contents", list);
    if (call->system) {
        json_object *si = json_object_new_object(), *parts = json_object_new_array(),
                    *t = json_object_new_object();
        json_object_object_add(t, "text", jstr(call->system));
        json_object_array_add(parts, t);
        json_object_object_add(si, "parts", parts);
        json_object_object_add(body, "systemInstruction", si);
    }
    if (call->tools && json_object_array_length(call->tools)) {
        json_object *tools = json_object_new_array(), *decl = json_object_new_object(), *fns = NULL;
        json_object_deep_copy(call->tools, &fns, NULL);
        json_object_object_add(decl, "functionDeclarations", fns);
        json_object_array_add(tools, decl);
        json_object_object_add(body, "tools", tools);
    }
    return body;
}

/* The provider's own error text: {"error":{"message":...}} in both APIs. */
static const char *error_text(apr_pool_t *p, const chat_fetch_reply *r)
{
    json_object *o = json_tokener_parse(r->body), *e = get_o(o, "error");
    const char *msg = e ? get_s(e, "message") : NULL;
    const char *out;

    if (r->error) {
        out = r->error;
    }
    else if (msg) {
        out = apr_psprintf(p, "HTTP %d: %s", r->status, msg);
    }
    else {
        out = apr_psprintf(p, "HTTP %d", r->status);
    }
    json_object_put(o);
    return out;
}

static apr_int64_t get_i(json_object *o, const char *key)
{
    json_object *v = get_o(o, key);
    return v ? json_object_get_int64(v) : 0;
}

/* A tool's answer for the model: always a JSON object. */
static json_object *run_tool(apr_pool_t *p, const chat_ai_call *call, const char *name,
                             json_object *args)
{
    const char *out = call->tool_fn ? call->tool_fn(p, call->tool_ctx, name, args) : NULL;
    json_object *o = out ? json_tokener_parse(out) : NULL;

    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = json_object_new_object();
        json_object_object_add(o, "error", jstr(out ? out : "no such tool"));
    }
    return o;
}

/* One reply: 1 = final text in res, 0 = tools called (body extended), -1 = bad reply. */
static int take_reply(apr_pool_t *p, const chat_ai_call *call, json_object *body,
                      json_object *reply, chat_ai_result *res)
{
    size_t i;

    if (call->prov->kind == CHAT_AI_OPENAI) {
        json_object *choices = get_o(reply, "choices"), *msg, *calls,
                    *usage = get_o(reply, "usage");
        if (usage) {
            res->usage.prompt += get_i(usage, "prompt_tokens");
            res->usage.completion += get_i(usage, "completion_tokens");
        }
        if (!choices || !json_object_is_type(choices, json_type_array) ||
            !json_object_array_length(choices) ||
            !(msg = get_o(json_object_array_get_idx(choices, 0), "message"))) {
            return -1;
        }
        calls = get_o(msg, "tool_calls");
        if (calls && json_object_is_type(calls, json_type_array) &&
            json_object_array_length(calls)) {
            json_object *list = get_o(body, "messages"), *copy = NULL;
            json_object_deep_copy(msg, &copy, NULL);
            json_object_array_add(list, copy);
            for (i = 0; i < json_object_array_length(calls); i++) {
                json_object *c = json_object_array_get_idx(calls, i), *f = get_o(c, "function");
                const char *argtext = f ? get_s(f, "arguments") : NULL;
                json_object *args = argtext ? json_tokener_parse(argtext) : NULL;
                json_object *out = run_tool(p, call, f ? get_s(f, "name") : "", args);
                json_object *t = json_object_new_object();
                json_object_object_add(t, "role", jstr("tool"));
                json_object_object_add(t, "tool_call_id", jstr(get_s(c, "id")));
                json_object_object_add(
                    t, "content",
                    jstr(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE)));
                json_object_array_add(list, t);
                json_object_put(out);
                json_object_put(args);
                res->tool_calls++;
            }
            return 0;
        }
        res->text = apr_pstrdup(p, get_s(msg, "content") ? get_s(msg, "content") : "");
        return 1;
    }
    else {
        json_object *cands = get_o(reply, "candidates"), *content, *parts,
                    *usage = get_o(reply, "usageMetadata");
        json_object *answers = NULL;
        char *text = "";
        if (usage) {
            res->usage.prompt += get_i(usage, "promptTokenCount");
            res->usage.completion += get_i(usage, "candidatesTokenCount");
        }
        if (!cands || !json_object_is_type(cands, json_type_array) ||
            !json_object_array_length(cands) ||
            !(content = get_o(json_object_array_get_idx(cands, 0), "content")) ||
            !(parts = get_o(content, "parts")) || !json_object_is_type(parts, json_type_array)) {
            return -1;
        }
        for (i = 0; i < json_object_array_length(parts); i++) {
            json_object *part = json_object_array_get_idx(parts, i),
                        *fc = get_o(part, "functionCall");
            if (fc) {
                json_object *fr = json_object_new_object(), *wrap = json_object_new_object();
                const char *name = get_s(fc, "name");
                if (!answers) {
                    answers = json_object_new_array();
                }
                json_object_object_add(fr, "name", jstr(name));
                json_object_object_add(fr, "response",
                                       run_tool(p, call, name ? name : "", get_o(fc, "args")));
                json_object_object_add(wrap, "functionResponse", fr);
                json_object_array_add(answers, wrap);
                res->tool_calls++;
            }
            else if (get_s(part, "text")) {
                text = apr_pstrcat(p, text, get_s(part, "text"), NULL);
            }
        }
        if (answers) {
            json_object *list = get_o(body, "contents"), *copy = NULL,
                        *turn = json_object_new_object();
            json_object_deep_copy(content, &copy, NULL);
            json_object_array_add(list, copy);
            json_object_object_add(turn, "role", jstr("user"));
            json_object_object_add(turn, "parts", answers);
            json_object_array_add(list, turn);
            return 0;
        }
        res->text = text;
        return 1;
    }
}

const char *chat_ai_complete(apr_pool_t *p, const chat_ai_call *call, chat_ai_result *res)
{
    const chat_ai_provider *prov = call->prov;
    apr_array_header_t *hdrs = apr_array_make(p, 2, sizeof(const char *));
    const char *model = chat_ai_pick_model(prov, call->now);
    json_object *body = chat_ai_request_body(call, model);
    int round, rounds = call->max_rounds > 0 ? call->max_rounds : 4, fell_back = 0;
    int streams = chat_ai_call_streams(call);

    memset(res, 0, sizeof(*res));
    if (!model) {
        res->error = apr_psprintf(p, "%s: no model configured (ChatAIModel %s MODEL)", prov->name,
                                  prov->name);
        json_object_put(body);
        return res->error;
    }
    if (!prov->key) {
        /* a self-hosted server may need no key */
    }
    else if (prov->kind == CHAT_AI_OPENAI) {
        APR_ARRAY_PUSH(hdrs, const char *) =
            apr_pstrcat(p, "Authorization: Bearer ", prov->key, NULL);
    }
    else {
        APR_ARRAY_PUSH(hdrs, const char *) = apr_pstrcat(p, "x-goog-api-key: ", prov->key, NULL);
    }
    for (round = 0; round <= rounds;) {
        chat_fetch_reply r;
        json_object *reply;
        const char *url, *text;
        chat_ai_stream st;
        int got;

        if (prov->kind == CHAT_AI_OPENAI) {
            json_object_object_add(body, "model", jstr(model));
            url = apr_pstrcat(p, prov->base_url, "/chat/completions", NULL);
        }
        else {
            url =
                apr_pstrcat(p, prov->base_url, "/v1beta/models/", model,
                            streams ? ":streamGenerateContent?alt=sse" : ":generateContent", NULL);
        }
        text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                        JSON_C_TO_STRING_NOSLASHESCAPE);
        if (streams) {
            chat_ai_stream_init(&st, p, prov->kind, AI_MAX_REPLY, call->progress,
                                call->progress_ctx);
            chat_fetch_stream(p, url, hdrs, text, call->timeout, AI_MAX_REPLY, chat_ai_stream_feed,
                              &st, &r);
            reply = chat_ai_stream_reply(&st); /* also frees what the stream held */
            if (st.error && r.status == 200 && !r.timed_out && !r.too_large) {
                r.error = apr_pstrcat(p, "a broken stream: ", st.error, NULL);
            }
        }
        else {
            chat_fetch_request(p, url, hdrs, text, call->timeout, AI_MAX_REPLY, &r);
            reply = NULL;
        }
        if (r.error || r.status != 200) {
            json_object_put(reply);
            /* quota, overload or a stuck model: the fallback model gets one try */
            if ((r.timed_out || r.status == 429 || r.status >= 500) && prov->fallback &&
                !fell_back && strcmp(prov->fallback, model)) {
                fell_back = 1;
                model = prov->fallback;
                continue;
            }
            res->error = apr_psprintf(p, "%s (%s): %s", prov->name, model, error_text(p, &r));
            res->status = r.status;
            res->timed_out = r.timed_out;
            res->model = model;
            break;
        }
        if (!streams) {
            reply = json_tokener_parse(r.body);
        }
        got = reply ? take_reply(p, call, body, reply, res) : -1;
        json_object_put(reply);
        if (got < 0) {
            res->error =
                apr_psprintf(p, "%s (%s): an answer in an unknown shape", prov->name, model);
            res->status = r.status;
            break;
        }
        res->model = model;
        if (got == 1) {
            break;
        }
        if (++round > rounds) {
            res->error = apr_psprintf(p, "%s (%s): still calling tools after %d rounds", prov->name,
                                      model, rounds);
            break;
        }
    }
    json_object_put(body);
    return res->error;
}
