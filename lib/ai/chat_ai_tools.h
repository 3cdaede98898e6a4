/* The AI's data tools over configured sources (ChatAITool KIND SOURCE):
 * get_price (quote), get_history (daily, or intraday where a source is
 * named), get_stats (high, low, mean, change of any mapped column over a
 * window), get_cross_section (every product's change, sorted), search_news,
 * and market_query (a free-text question). Only tools whose source is
 * configured are offered. Results are bounded in rows and bytes; every call
 * is recorded for the room's debug log, every source failure kept as a
 * sentence for the user. */
#ifndef CHAT_AI_TOOLS_H
#define CHAT_AI_TOOLS_H

#include "chat_ai_settings.h"

#define CHAT_AI_TOOL_MAX_CALLS 32 /* per answer, all rounds together */

typedef struct chat_ai_tools {
    const chat_source *src[CHAT_AI_TOOL_KINDS];
    int max_rows;
    apr_size_t max_bytes;
    apr_array_header_t *log;    /* const char *: "get_stats {...} -> 812 bytes" */
    apr_array_header_t *errors; /* const char *: a failing source's sentence, once each */
} chat_ai_tools;

/* The tools of a server's settings, logs allocated from p. */
void chat_ai_tools_setup(apr_pool_t *p, chat_ai_tools *t, const chat_ai_conf *ac);

/* The declarations (chat_ai_call.tools) of the configured tools, or NULL
 * when there are none; caller puts. */
json_object *chat_ai_tools_declare(const chat_ai_tools *t);

/* chat_ai_tool_fn over a chat_ai_tools. */
const char *chat_ai_tools_call(apr_pool_t *p, void *ctx, const char *name, json_object *args);

/* The placeholders of a tool's fetch: {date} and {to} (today, Beijing
 * time), {code} and {contract}, {days} and {limit} when > 0. */
apr_table_t *chat_ai_tools_vars(apr_pool_t *p, const char *code, int days, int limit);

/* The code a commodity argument names (a name of the product table, or a
 * code or contract as written), or NULL with *why: unknown, or the question
 * naming the candidates of an ambiguous name. */
const char *chat_ai_tools_code(apr_pool_t *p, const char *arg, const char **why);

/* text with a line per source error appended, so a failing source reaches
 * the user even when the model does not say so. */
const char *chat_ai_tools_note(apr_pool_t *p, const chat_ai_tools *t, const char *text);

#endif
