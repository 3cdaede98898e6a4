/* AI providers: Google Gemini (generateContent) and OpenAI-compatible chat
 * completions (DeepSeek, Kimi, self-hosted), with the model picked by the
 * time of day in a configured zone (DeepSeek's off-peak reasoning model by
 * Beijing time), a fallback model on quota or 5xx errors, and a tool-calling
 * loop. Pure code over libcurl and json-c, no httpd symbols: the module and
 * the unit tests share it. Blocking: request threads and the AI pool only. */
#ifndef CHAT_AI_H
#define CHAT_AI_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <json.h>

typedef enum { CHAT_AI_GEMINI = 1, CHAT_AI_OPENAI } chat_ai_kind;

/* Minutes of the day [from, to] (inclusive, in the provider's zone) that use model. */
typedef struct chat_ai_window {
    int from, to;
    const char *model;
} chat_ai_window;

typedef struct chat_ai_provider {
    const char *name; /* as in ChatAIProvider; "NAME_chat" messages use it */
    chat_ai_kind kind;
    const char *base_url; /* https://generativelanguage.googleapis.com, https://api.deepseek.com */
    const char *key;      /* resolved when the config is read */
    const char *model;
    const char *fallback;        /* tried once on 429/5xx/timeout, NULL = none */
    apr_array_header_t *windows; /* chat_ai_window; NULL: the default (see pick_model) */
    long tz_offset;              /* seconds east of UTC for the windows */
    int no_stream;               /* ChatAIStream NAME off: never ask for a stream */
    apr_array_header_t *aliases; /* ChatAIAlias (const char *); NULL: the defaults */
} chat_ai_provider;

/* "HH:MM-HH:MM" into minutes of the day; NULL or an error. */
const char *chat_ai_parse_window(apr_pool_t *p, const char *spec, int *from, int *to);

/* The model to use at now: the first window containing the local minute, else
 * the provider's model. A window holds its start and not its end (00:30-08:30
 * is 00:30:00 to 08:29:59) and may wrap midnight (22:00-06:00). An
 * OpenAI-shaped provider named "deepseek" with windows NULL (none configured)
 * has DeepSeek's off-peak rule: deepseek-reasoner 00:30-08:30 in its zone
 * (Beijing by default); an empty, non-NULL array means no window at all. */
const char *chat_ai_pick_model(const chat_ai_provider *prov, apr_time_t now);

typedef struct chat_ai_usage {
    apr_int64_t prompt, completion;
} chat_ai_usage;

/* A tool the model may call: returns a JSON text (an object) for the model. */
typedef const char *(*chat_ai_tool_fn)(apr_pool_t *p, void *ctx, const char *name,
                                       json_object *args);

/* The answer's text so far, as a streamed answer grows (one tool round's). */
typedef void (*chat_ai_progress_fn)(void *ctx, const char *text);

typedef struct chat_ai_call {
    const chat_ai_provider *prov;
    const char *system; /* instructions, or NULL */
    /* The conversation, oldest first: {"role":"user"|"assistant","text":...,
     * "image_mime"?, "image_b64"?}. Not consumed. */
    json_object *messages;
    /* [{"name","description","parameters" (JSON schema)}] or NULL */
    json_object *tools;
    chat_ai_tool_fn tool_fn;
    void *tool_ctx;
    apr_interval_time_t timeout; /* per HTTP call */
    apr_time_t now;              /* picks the model (injectable for tests) */
    int max_rounds;              /* tool-call rounds, 0 = 4 */
    /* Set: the answer is streamed (unless the provider's no_stream) and
     * progress gets the text as it comes; NULL: one whole reply. */
    chat_ai_progress_fn progress;
    void *progress_ctx;
} chat_ai_call;

typedef struct chat_ai_result {
    const char *text;  /* the answer (Markdown) */
    const char *model; /* the model that answered */
    chat_ai_usage usage;
    int tool_calls; /* how many tools were called */
    /* on failure: */
    const char *error;
    int status; /* provider HTTP status, 0 for transport errors */
    int timed_out;
} chat_ai_result;

/* NULL on success (res->text set), else res->error (also returned). */
const char *chat_ai_complete(apr_pool_t *p, const chat_ai_call *call, chat_ai_result *res);

/* 1 when the call streams its answer (progress set, provider not no_stream). */
int chat_ai_call_streams(const chat_ai_call *call);

/* The request body one round would send (for the unit tests and debug logs). */
json_object *chat_ai_request_body(const chat_ai_call *call, const char *model);

/* ---- streamed answers (chat_ai_sse.c) ---- */

/* Server-sent events (the text/event-stream both AI APIs stream in), read
 * as hostile input: pieces of any size in, one callback per event's data
 * out. Lines may end in LF, CRLF or CR (a CRLF split between two pieces is
 * one end); "data:" lines of an event are joined with LF; comments (":")
 * and the other fields (event, id, retry) are skipped. Bounded: a line
 * longer than max_line or more than max_total bytes in all is an error.
 * Pure code, no I/O. */

/* One event's data (NUL-terminated, len bytes); non-zero stops the stream. */
typedef int (*chat_ai_sse_fn)(void *ctx, const char *data, apr_size_t len);

typedef struct chat_ai_sse {
    apr_pool_t *p;
    apr_size_t max_line, max_total, total;
    char *line; /* the line being read */
    apr_size_t line_len, line_cap;
    char *data; /* the event's data so far */
    apr_size_t data_len, data_cap;
    int has_data, after_cr, failed;
    chat_ai_sse_fn fn;
    void *ctx;
    const char *error; /* why the stream was refused, or NULL */
} chat_ai_sse;

void chat_ai_sse_init(chat_ai_sse *s, apr_pool_t *p, apr_size_t max_line, apr_size_t max_total,
                      chat_ai_sse_fn fn, void *ctx);

/* 0, or -1 once the stream is refused (s->error) or fn stopped it. */
int chat_ai_sse_feed(chat_ai_sse *s, const char *buf, apr_size_t len);

/* The end of the stream: an event without its closing blank line is still
 * dispatched. 0 or -1 as above. */
int chat_ai_sse_finish(chat_ai_sse *s);

/* A streamed answer of either API shape, event by event, into the reply the
 * same request would have had without streaming, so the tool-call loop of
 * chat_ai.c reads both alike:
 *   OpenAI-compatible: "data: {chat.completion.chunk}" events, text in
 *     choices[0].delta.content, tool calls in delta.tool_calls fragments
 *     joined by their index (id and name once, arguments in pieces), usage on
 *     a late chunk, "data: [DONE]" last;
 *   Gemini (streamGenerateContent?alt=sse): each event a whole
 *     GenerateContentResponse; text parts appended, functionCall parts kept
 *     whole, usageMetadata of the last event.
 * Pure code over chat_ai_sse; bounded by max_total bytes in all. */

#define CHAT_AI_STREAM_MAX_CALLS 64 /* tool calls in one streamed turn */

typedef struct chat_ai_stream {
    apr_pool_t *p;
    chat_ai_kind kind;
    chat_ai_sse sse;
    char *text; /* the answer so far (NUL-terminated) */
    apr_size_t text_len, text_cap;
    apr_array_header_t *calls; /* OpenAI: one per index (chat_ai_sse.c's own struct) */
    json_object *parts;        /* Gemini: the functionCall parts */
    json_object *usage;        /* the last usage seen */
    int events, done;
    const char *error; /* the provider's error event, or a malformed stream */
    chat_ai_progress_fn progress;
    void *progress_ctx;
} chat_ai_stream;

void chat_ai_stream_init(chat_ai_stream *s, apr_pool_t *p, chat_ai_kind kind, apr_size_t max_total,
                         chat_ai_progress_fn progress, void *ctx);

/* A piece of the HTTP body (a chat_fetch_data_fn): non-zero stops. */
int chat_ai_stream_feed(void *s, const char *buf, apr_size_t len);

/* The end of the body: the reply in the non-streamed shape (caller puts it),
 * or NULL with s->error. Frees what the stream held. */
json_object *chat_ai_stream_reply(chat_ai_stream *s);

#endif
