/* Streamed answers: server-sent events and their assembly into one reply
 * (see the end of chat_ai.h). */
#include <string.h>

#include <apr_strings.h>

#include "chat_ai.h"

void chat_ai_sse_init(chat_ai_sse *s, apr_pool_t *p, apr_size_t max_line, apr_size_t max_total,
                      chat_ai_sse_fn fn, void *ctx)
{
    memset(s, 0, sizeof(*s));
    s->p = p;
    s->max_line = max_line;
    s->max_total = max_total;
    s->fn = fn;
    s->ctx = ctx;
}

/* Room for need more bytes (+ NUL) in *buf: doubled in the pool, so a long
 * stream costs at most twice its longest line and event. */
static void grow(apr_pool_t *p, char **buf, apr_size_t *cap, apr_size_t len, apr_size_t need)
{
    apr_size_t c = *cap ? *cap : 256;
    char *nb;

    if (len + need + 1 <= *cap) {
        return;
    }
    while (c < len + need + 1) {
        c *= 2;
    }
    nb = apr_palloc(p, c);
    if (len) {
        memcpy(nb, *buf, len);
    }
    *buf = nb;
    *cap = c;
}

static int fail(chat_ai_sse *s, const char *why)
{
    s->failed = 1;
    s->error = why;
    return -1;
}

static int dispatch(chat_ai_sse *s)
{
    int stop;

    if (!s->has_data) {
        return 0;
    }
    s->data[s->data_len] = '\0';
    stop = s->fn ? s->fn(s->ctx, s->data, s->data_len) : 0;
    s->data_len = 0;
    s->has_data = 0;
    return stop ? fail(s, "stopped") : 0;
}

/* One complete line (without its end). */
static int take_line(chat_ai_sse *s)
{
    const char *v;
    apr_size_t n;

    if (!s->line_len) {
        return dispatch(s); /* a blank line ends the event */
    }
    s->line[s->line_len] = '\0';
    if (s->line_len < 5 || memcmp(s->line, "data", 4) || (s->line[4] != ':')) {
        /* "data" alone is an empty data line; anything else is not ours */
        if (s->line_len == 4 && !memcmp(s->line, "data", 4)) {
            v = "";
            n = 0;
        }
        else {
            s->line_len = 0;
            return 0;
        }
    }
    else {
        v = s->line + 5;
        n = s->line_len - 5;
        if (n && *v == ' ') {
            v++;
            n--;
        }
    }
    if (s->data_len + n + 1 > s->max_line) {
        return fail(s, "an event longer than the limit");
    }
    grow(s->p, &s->data, &s->data_cap, s->data_len, n + 1);
    if (s->has_data) {
        s->data[s->data_len++] = '\n';
    }
    memcpy(s->data + s->data_len, v, n);
    s->data_len += n;
    s->has_data = 1;
    s->line_len = 0;
    return 0;
}

int chat_ai_sse_feed(chat_ai_sse *s, const char *buf, apr_size_t len)
{
    apr_size_t i = 0;

    if (s->failed) {
        return -1;
    }
    if (len > s->max_total - s->total) {
        return fail(s, "a stream larger than the limit");
    }
    s->total += len;
    while (i < len) {
        const char *end;
        apr_size_t run;

        if (s->after_cr && buf[i] == '\n') { /* the LF of a CRLF split across pieces */
            s->after_cr = 0;
            i++;
            continue;
        }
        s->after_cr = 0;
        /* the bytes up to the next line end go into the line at once */
        for (end = buf + i; end < buf + len && *end != '\n' && *end != '\r'; end++) {
        }
        run = (apr_size_t)(end - (buf + i));
        if (s->line_len + run > s->max_line) {
            return fail(s, "a line longer than the limit");
        }
        if (run) {
            grow(s->p, &s->line, &s->line_cap, s->line_len, run);
            memcpy(s->line + s->line_len, buf + i, run);
            s->line_len += run;
            i += run;
        }
        if (i < len) {
            s->after_cr = buf[i] == '\r';
            i++;
            if (s->after_cr && i < len && buf[i] == '\n') {
                s->after_cr = 0;
                i++;
            }
            if (take_line(s)) {
                return -1;
            }
        }
    }
    return 0;
}

int chat_ai_sse_finish(chat_ai_sse *s)
{
    if (s->failed) {
        return -1;
    }
    if (s->line_len && take_line(s)) {
        return -1;
    }
    return dispatch(s);
}

/* ---- a streamed answer into one reply ---------------------------------- */

/* One OpenAI tool call being assembled. */
typedef struct stream_call {
    const char *id, *name;
    char *args;
    apr_size_t len, cap;
} stream_call;

static json_object *get_o(json_object *o, const char *key)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *get_s(json_object *o, const char *key)
{
    json_object *v = get_o(o, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static void append(apr_pool_t *p, char **buf, apr_size_t *len, apr_size_t *cap, const char *s)
{
    apr_size_t n = strlen(s), c = *cap ? *cap : 256;

    if (*len + n + 1 > *cap) {
        char *nb;
        while (c < *len + n + 1) {
            c *= 2;
        }
        nb = apr_palloc(p, c);
        if (*len) {
            memcpy(nb, *buf, *len);
        }
        *buf = nb;
        *cap = c;
    }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
}

static void keep_usage(chat_ai_stream *s, json_object *usage)
{
    if (usage && json_object_is_type(usage, json_type_object)) {
        json_object_put(s->usage);
        s->usage = json_object_get(usage);
    }
}

static int openai_event(chat_ai_stream *s, json_object *ev)
{
    json_object *choices = get_o(ev, "choices"), *delta, *calls;
    const char *content;
    size_t i;

    keep_usage(s, get_o(ev, "usage"));
    if (!choices || !json_object_is_type(choices, json_type_array) ||
        !json_object_array_length(choices)) {
        return 0; /* a usage-only chunk */
    }
    /* Moonshot (Kimi) puts the usage in the choice */
    keep_usage(s, get_o(json_object_array_get_idx(choices, 0), "usage"));
    delta = get_o(json_object_array_get_idx(choices, 0), "delta");
    if ((content = get_s(delta, "content")) && *content) {
        append(s->p, &s->text, &s->text_len, &s->text_cap, content);
        if (s->progress) {
            s->progress(s->progress_ctx, s->text);
        }
    }
    calls = get_o(delta, "tool_calls");
    for (i = 0; calls && json_object_is_type(calls, json_type_array) &&
                i < json_object_array_length(calls);
         i++) {
        json_object *c = json_object_array_get_idx(calls, i), *f = get_o(c, "function"),
                    *idx = get_o(c, "index");
        int n = idx && json_object_is_type(idx, json_type_int) ? json_object_get_int(idx) : -1;
        stream_call *sc;
        if (n < 0 || n >= CHAT_AI_STREAM_MAX_CALLS) {
            s->error = "a tool call without a valid index";
            return -1;
        }
        while (s->calls->nelts <= n) {
            memset(apr_array_push(s->calls), 0, sizeof(stream_call));
        }
        sc = &APR_ARRAY_IDX(s->calls, n, stream_call);
        if (get_s(c, "id") && *get_s(c, "id")) {
            sc->id = apr_pstrdup(s->p, get_s(c, "id"));
        }
        if (get_s(f, "name") && *get_s(f, "name")) {
            sc->name = apr_pstrdup(s->p, get_s(f, "name"));
        }
        if (get_s(f, "arguments")) {
            append(s->p, &sc->args, &sc->len, &sc->cap, get_s(f, "arguments"));
        }
    }
    return 0;
}

static int gemini_event(chat_ai_stream *s, json_object *ev)
{
    json_object *cands = get_o(ev, "candidates"), *parts;
    size_t i;
    int grew = 0;

    keep_usage(s, get_o(ev, "usageMetadata"));
    if (!cands || !json_object_is_type(cands, json_type_array) ||
        !json_object_array_length(cands)) {
        return 0; /* a usage or safety-only event */
    }
    parts = get_o(get_o(json_object_array_get_idx(cands, 0), "content"), "parts");
    for (i = 0; parts && json_object_is_type(parts, json_type_array) &&
                i < json_object_array_length(parts);
         i++) {
        json_object *part = json_object_array_get_idx(parts, i), *copy = NULL, *thought;
        if (get_o(part, "functionCall")) {
            if (json_object_array_length(s->parts) >= CHAT_AI_STREAM_MAX_CALLS) {
                s->error = "too many function calls";
                return -1;
            }
            json_object_deep_copy(part, &copy, NULL);
            json_object_array_add(s->parts, copy);
        }
        else if (get_s(part, "text") &&
                 !((thought = get_o(part, "thought")) && json_object_get_boolean(thought))) {
            append(s->p, &s->text, &s->text_len, &s->text_cap, get_s(part, "text"));
            grew = 1;
        }
    }
    if (grew && s->progress) {
        s->progress(s->progress_ctx, s->text);
    }
    return 0;
}

static int on_event(void *data, const char *text, apr_size_t len)
{
    chat_ai_stream *s = data;
    json_object *ev, *err;
    int rc;

    (void)len;
    if (s->done) {
        return 0; /* nothing counts after [DONE] */
    }
    if (s->kind == CHAT_AI_OPENAI && !strcmp(text, "[DONE]")) {
        s->done = 1;
        return 0;
    }
    ev = json_tokener_parse(text);
    if (!ev || !json_object_is_type(ev, json_type_object)) {
        json_object_put(ev);
        s->error = "an event that is not a JSON object";
        return -1;
    }
    s->events++;
    if ((err = get_o(ev, "error"))) {
        const char *msg = get_s(err, "message");
        s->error = apr_pstrcat(s->p, "error in the stream: ", msg ? msg : "(no message)", NULL);
        json_object_put(ev);
        return -1;
    }
    rc = s->kind == CHAT_AI_OPENAI ? openai_event(s, ev) : gemini_event(s, ev);
    json_object_put(ev);
    return rc;
}

void chat_ai_stream_init(chat_ai_stream *s, apr_pool_t *p, chat_ai_kind kind, apr_size_t max_total,
                         chat_ai_progress_fn progress, void *ctx)
{
    memset(s, 0, sizeof(*s));
    s->p = p;
    s->kind = kind;
    s->text = "";
    s->calls = apr_array_make(p, 2, sizeof(stream_call));
    s->parts = json_object_new_array();
    s->progress = progress;
    s->progress_ctx = ctx;
    /* one event is bounded by the whole: a Gemini event may carry a big call */
    chat_ai_sse_init(&s->sse, p, max_total, max_total, on_event, s);
}

int chat_ai_stream_feed(void *data, const char *buf, apr_size_t len)
{
    chat_ai_stream *s = data;

    if (chat_ai_sse_feed(&s->sse, buf, len)) {
        if (!s->error) {
            s->error = s->sse.error;
        }
        return -1;
    }
    return 0;
}

static json_object *jstr(const char *s)
{
    return json_object_new_string(s ? s : "");
}

static json_object *openai_reply(chat_ai_stream *s)
{
    json_object *reply = json_object_new_object(), *choices = json_object_new_array(),
                *choice = json_object_new_object(), *msg = json_object_new_object();
    int i;

    json_object_object_add(msg, "role", jstr("assistant"));
    json_object_object_add(msg, "content", s->text_len || !s->calls->nelts ? jstr(s->text) : NULL);
    if (s->calls->nelts) {
        json_object *list = json_object_new_array();
        for (i = 0; i < s->calls->nelts; i++) {
            stream_call *sc = &APR_ARRAY_IDX(s->calls, i, stream_call);
            json_object *c = json_object_new_object(), *f = json_object_new_object();
            json_object_object_add(c, "id",
                                   jstr(sc->id ? sc->id : apr_psprintf(s->p, "call_%d", i)));
            json_object_object_add(c, "type", jstr("function"));
            json_object_object_add(f, "name", jstr(sc->name));
            json_object_object_add(f, "arguments", jstr(sc->len ? sc->args : "{}"));
            json_object_object_add(c, "function", f);
            json_object_array_add(list, c);
        }
        json_object_object_add(msg, "tool_calls", list);
    }
    json_object_object_add(choice, "index", json_object_new_int(0));
    json_object_object_add(choice, "message", msg);
    json_object_array_add(choices, choice);
    json_object_object_add(reply, "choices", choices);
    if (s->usage) {
        json_object_object_add(reply, "usage", json_object_get(s->usage));
    }
    return reply;
}

static json_object *gemini_reply(chat_ai_stream *s)
{
    json_object *reply = json_object_new_object(), *cands = json_object_new_array(),
                *cand = json_object_new_object(), *content = json_object_new_object(),
                *parts = json_object_new_array();
    size_t i;

    if (s->text_len || !json_object_array_length(s->parts)) {
        json_object *t = json_object_new_object();
        json_object_object_add(t, "text", jstr(s->text));
        json_object_array_add(parts, t);
    }
    for (i = 0; i < json_object_array_length(s->parts); i++) {
        json_object_array_add(parts, json_object_get(json_object_array_get_idx(s->parts, i)));
    }
    json_object_object_add(content, "role", jstr("model"));
    json_object_object_add(content, "parts", parts);
    json_object_object_add(cand, "content", content);
    json_object_array_add(cands, cand);
    json_object_object_add(reply, "candidates", cands);
    if (s->usage) {
        json_object_object_add(reply, "usageMetadata", json_object_get(s->usage));
    }
    return reply;
}

json_object *chat_ai_stream_reply(chat_ai_stream *s)
{
    json_object *reply = NULL;

    if (!s->error && chat_ai_sse_finish(&s->sse)) {
        s->error = s->error ? s->error : s->sse.error;
    }
    if (!s->error && !s->events) {
        s->error = "an empty stream";
    }
    if (!s->error) {
        reply = s->kind == CHAT_AI_OPENAI ? openai_reply(s) : gemini_reply(s);
    }
    json_object_put(s->parts);
    json_object_put(s->usage);
    s->parts = s->usage = NULL;
    return reply;
}
