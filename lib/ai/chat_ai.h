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

/* The request body one round would send (for the unit tests and debug logs). */
json_object *chat_ai_request_body(const chat_ai_call *call, const char *model);

#endif
