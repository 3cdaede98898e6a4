/* A server's AI settings as the ChatAI* directives wrote them (mod_chat's
 * config/chat_ai_config.c parses them): providers, limits, the market-data
 * source, and which provider answers what. Read by mod_chat's AI endpoints
 * and by mod_chat_admin's AI jobs. */
#ifndef CHAT_AI_SETTINGS_H
#define CHAT_AI_SETTINGS_H

#include "chat_ai.h"
#include "chat_settings.h"
#include "chat_source.h"

#define CHAT_AI_DEFAULT_TIMEOUT   60
#define CHAT_AI_DEFAULT_MAX_IMAGE (5 * 1024 * 1024)
#define CHAT_AI_DEFAULT_RATE      10
#define CHAT_AI_DEFAULT_THREADS   20
#define CHAT_AI_DEFAULT_CONTEXT   20
#define CHAT_AI_DEFAULT_ROUNDS    4     /* tool-call rounds per answer */
#define CHAT_AI_DEFAULT_ROWS      60    /* rows in one tool result */
#define CHAT_AI_DEFAULT_BYTES     16384 /* bytes of one tool result */
#define CHAT_AI_DEFAULT_STREAM_MS 300   /* ChatAIStreamInterval: a streamed answer's updates */
#define CHAT_AI_PARTIAL_MAX       65536 /* bytes of answer an update carries; longer: the end only */

/* What a ChatAITool KIND names a source for. */
typedef enum {
    CHAT_AI_TOOL_QUOTE = 0,
    CHAT_AI_TOOL_HISTORY,
    CHAT_AI_TOOL_INTRADAY,
    CHAT_AI_TOOL_BOARD,
    CHAT_AI_TOOL_NEWS,
    CHAT_AI_TOOL_KINDS
} chat_ai_tool_kind;

typedef struct chat_ai_conf {
    apr_array_header_t *providers;              /* chat_ai_provider * */
    const chat_ai_provider *explain, *describe; /* NULL = first (describe: first Gemini) */
    int timeout;                                /* seconds per provider call, -1 = unset */
    apr_int64_t max_image;                      /* -1 = unset */
    apr_array_header_t *image_allow;            /* URL prefixes images may be fetched from */
    int rate;    /* AI requests per user per minute, -1 = unset, 0 = off */
    int threads; /* concurrent in-room AI calls per process */
    int context; /* room messages given as context */
    const char *market_url;
    const char *products_path; /* ChatAIProducts; NULL: CHAT_PRODUCTS_DEFAULT */
    /* ChatData*: every configured source (chat_source *), read by the AI
     * tools here and by mod_chat_admin's chart and news jobs */
    apr_array_header_t *sources;
    const chat_source *tool_src[CHAT_AI_TOOL_KINDS]; /* ChatAITool, NULL = no such tool */
    int tool_rounds, tool_rows;                      /* -1 = unset */
    apr_int64_t tool_bytes;                          /* -1 = unset */
    int stream_ms;                                   /* ChatAIStreamInterval, -1 = unset */
} chat_ai_conf;

/* A server's AI settings (as written: -1 = unset); never NULL. */
const chat_ai_conf *chat_ai_settings_of(const chat_srv_conf *sc);
const chat_ai_provider *chat_ai_provider_find(const chat_ai_conf *ac, const char *name);
const chat_ai_provider *chat_ai_provider_for_explain(const chat_ai_conf *ac);
const chat_ai_provider *chat_ai_provider_for_describe(const chat_ai_conf *ac);

/* The provider "@alias" names (alias without the @, len bytes; any case):
 * ChatAIAlias lines first, then each provider without one by its name and
 * its first letter (unless another provider's name starts with that
 * letter). NULL when none. */
const chat_ai_provider *chat_ai_provider_by_alias(const chat_ai_conf *ac, const char *alias,
                                                  apr_size_t len);

/* The aliases of pr in force (const char *), for the page's @ pop-up. */
apr_array_header_t *chat_ai_provider_aliases(apr_pool_t *p, const chat_ai_conf *ac,
                                             const chat_ai_provider *pr);

/* The ChatDataSource named name, or NULL. */
const chat_source *chat_ai_source_find(const chat_ai_conf *ac, const char *name);

#endif
