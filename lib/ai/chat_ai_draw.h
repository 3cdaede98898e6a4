/* The draw_chart tool: the model asks for one chart, of a commodity over
 * its last N trading days (line, bar_line, candle: rows of the source
 * ChatAITool history names) or of today's market (pie, cross_section,
 * treemap, scatter, scatter_color: rows of the ChatAITool board source);
 * only kinds with a source are offered. The server fetches the rows through
 * lib/source as the data tools do (placeholders, cache, one sentence per
 * failure), renders the PNG with lib/chart and hands it to whoever posts it
 * (the room: modules/mod_chat/ai/chat_ai_chart.c); the tool's answer tells
 * the model it was posted, or why not, and a chart that could not be drawn
 * is reported to the room too, whatever the model then says. Other tool
 * names pass to the next tool function, so draw_chart sits in front of the
 * data tools. */
#ifndef CHAT_AI_DRAW_H
#define CHAT_AI_DRAW_H

#include <apr_pools.h>
#include <json.h>

#include "chat_ai.h"
#include "chat_ai_settings.h"

#define CHAT_AI_DRAW_MAX_ROWS   250 /* rows of one chart: a year of trading days */
#define CHAT_AI_DRAW_MAX_CHARTS 3   /* charts per question */

/* Posts a rendered chart: NULL (the chart is in the room), or an error. */
typedef const char *(*chat_ai_draw_post_fn)(apr_pool_t *p, void *baton, const void *png, int size,
                                            const char *title);

/* Tells the room a chart was asked for and not drawn (reason: why). */
typedef void (*chat_ai_draw_fail_fn)(apr_pool_t *p, void *baton, const char *reason);

/* One line of what the tool did (the room's debug log). */
typedef void (*chat_ai_draw_log_fn)(void *baton, const char *event, const char *detail);

typedef struct chat_ai_draw {
    const chat_ai_conf *ac; /* the sources (ChatAITool history, board), ChatAIToolRows */
    const char *font;       /* NULL = CHAT_CHART_DEFAULT_FONT */
    int width, height;      /* 0 = the chart jobs' default */
    chat_ai_draw_post_fn post;
    chat_ai_draw_fail_fn fail; /* may be NULL */
    chat_ai_draw_log_fn log;   /* may be NULL */
    void *baton;
    chat_ai_tool_fn next; /* other tools, may be NULL */
    void *next_ctx;
    int drawn; /* charts posted so far */
} chat_ai_draw;

/* Once per process, before AI threads draw (libgd's font cache, freed
 * with p: a normal cleanup, after the threads' pre-cleanup stopped them). */
void chat_ai_draw_setup(apr_pool_t *p);

/* The declaration (neutral form, see chat_ai_call.tools) of the kinds ac
 * has a source for; caller puts. */
json_object *chat_ai_draw_tool(apr_pool_t *p, const chat_ai_conf *ac);

/* chat_ai_tool_fn over a chat_ai_draw. */
const char *chat_ai_draw_call(apr_pool_t *p, void *ctx, const char *name, json_object *args);

/* Whether ac has a source draw_chart can chart (ChatAITool history or board). */
int chat_ai_draw_offered(const chat_ai_conf *ac);

/* Rows in one chart: CHAT_AI_DRAW_MAX_ROWS, or ChatAIToolRows when set lower. */
int chat_ai_draw_max_rows(const chat_ai_conf *ac);

/* The rows kind charts, through the configured source, as a JSON array, and
 * the chart mapping that reads them (fields and captions; the title is the
 * caller's): code's last days bars from the history source, or today's
 * market from the board source when code is NULL; *n rows. NULL, or a
 * sentence naming the source for the model and the room. */
const char *chat_ai_draw_rows(apr_pool_t *p, const chat_ai_conf *ac, const char *kind,
                              const char *code, int days, const char **json, const char **mapping,
                              int *n);

#endif
