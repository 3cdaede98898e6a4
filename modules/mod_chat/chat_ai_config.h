/* AI directives (ChatAI*): providers, keys, models and their time windows,
 * limits, the market-data source. Server-wide; checked when the config is
 * read so `apachectl configtest` names a bad one. */
#ifndef CHAT_AI_CONFIG_H
#define CHAT_AI_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "chat_ai.h"

#define CHAT_AI_DEFAULT_TIMEOUT   60
#define CHAT_AI_DEFAULT_MAX_IMAGE (5 * 1024 * 1024)
#define CHAT_AI_DEFAULT_RATE      10
#define CHAT_AI_DEFAULT_THREADS   20
#define CHAT_AI_DEFAULT_CONTEXT   20

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
} chat_ai_conf;

/* The effective settings (defaults applied); never NULL. */
chat_ai_conf *chat_ai_conf_get(server_rec *s);
const chat_ai_provider *chat_ai_provider_find(const chat_ai_conf *ac, const char *name);
const chat_ai_provider *chat_ai_provider_for_explain(const chat_ai_conf *ac);
const chat_ai_provider *chat_ai_provider_for_describe(const chat_ai_conf *ac);

/* Every ChatAI* directive, told apart by cmd->info. */
const char *chat_ai_directive(cmd_parms *cmd, void *dummy, const char *args);

/* The directives, spliced into mod_chat's command table. */
#define CHAT_AI_DIRECTIVE(name, n, help)                                                           \
    AP_INIT_RAW_ARGS(name, chat_ai_directive, (void *)n, RSRC_CONF, help)
#define CHAT_AI_COMMANDS                                                                           \
    CHAT_AI_DIRECTIVE("ChatAIProvider", 1,                                                         \
                      "NAME gemini|openai BASE_URL: an AI provider; NAME_chat messages use it"),   \
        CHAT_AI_DIRECTIVE("ChatAIKey", 2,                                                          \
                          "NAME KEY | env:VARIABLE | file:/path: the provider's API key"),         \
        CHAT_AI_DIRECTIVE("ChatAIModel", 3,                                                        \
                          "NAME MODEL [FALLBACK]: the model, and one tried on 429/5xx"),           \
        CHAT_AI_DIRECTIVE(                                                                         \
            "ChatAIModelWindow", 4,                                                                \
            "NAME HH:MM-HH:MM MODEL: use MODEL in that daily window (provider's zone)"),           \
        CHAT_AI_DIRECTIVE("ChatAITimeZone", 5,                                                     \
                          "NAME ZONE: zone of the model windows (default Asia/Shanghai)"),         \
        CHAT_AI_DIRECTIVE("ChatAIExplainProvider", 6, "NAME: provider of /chat/ai/explain"),       \
        CHAT_AI_DIRECTIVE("ChatAIDescribeProvider", 7,                                             \
                          "NAME: provider of /chat/ai/describe-image"),                            \
        CHAT_AI_DIRECTIVE("ChatAITimeout", 8, "Seconds one provider call may take (default 60)"),  \
        CHAT_AI_DIRECTIVE("ChatAIMaxImageSize", 9, "Largest image sent to the AI (default 5M)"),   \
        CHAT_AI_DIRECTIVE(                                                                         \
            "ChatAIImageAllow", 10,                                                                \
            "URL prefixes images may be fetched from, besides this server's uploads"),             \
        CHAT_AI_DIRECTIVE("ChatAIRateLimit", 11,                                                   \
                          "AI requests per user per minute (default 10; 0 = off)"),                \
        CHAT_AI_DIRECTIVE("ChatAIThreads", 12,                                                     \
                          "Concurrent in-room AI calls per process (default 20)"),                 \
        CHAT_AI_DIRECTIVE("ChatAIContext", 13,                                                     \
                          "Recent room messages given to the AI (default 20)"),                    \
        CHAT_AI_DIRECTIVE("ChatAIMarketData", 14,                                                  \
                          "Base URL of the market-data JSON source the AI tools query")

#endif
