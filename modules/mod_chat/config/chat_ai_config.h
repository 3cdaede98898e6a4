/* AI directives (ChatAI*): providers, keys, models and their time windows,
 * limits, the market-data source. Server-wide; checked when the config is
 * read so `apachectl configtest` names a bad one. What they fill is in
 * lib/ai/chat_ai_settings.h. */
#ifndef CHAT_AI_CONFIG_H
#define CHAT_AI_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "chat_ai_settings.h"

/* Every ChatAI* directive, told apart by cmd->info; *slot is the server's
 * AI settings, made on first use. */
const char *chat_ai_directive(cmd_parms *cmd, chat_ai_conf **slot, const char *args);

/* post_config: the product table of ChatAIProducts (or the installed
 * default, a warning when missing) becomes the one in force. */
int chat_ai_config_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                               server_rec *s);

/* The server's AI settings, made on first use. */
chat_ai_conf *chat_ai_config_of(cmd_parms *cmd, chat_ai_conf **slot);

/* The directives, spliced into mod_chat's command table; fn finds the slot
 * and calls chat_ai_directive. */
#define CHAT_AI_DIRECTIVE(name, n, help)                                                           \
    AP_INIT_RAW_ARGS(name, chat_config_set_ai, (void *)n, RSRC_CONF, help)
#define CHAT_AI_COMMANDS                                                                           \
    CHAT_AI_DIRECTIVE("ChatAIProvider", 1,                                                         \
                      "NAME gemini|openai BASE_URL: an AI provider; NAME_chat messages use it"),   \
        CHAT_AI_DIRECTIVE("ChatAIKey", 2,                                                          \
                          "NAME KEY | env:VARIABLE | file:/path: the provider's API key"),         \
        CHAT_AI_DIRECTIVE("ChatAIModel", 3,                                                        \
                          "NAME MODEL [FALLBACK]: the model, and one tried on 429/5xx"),           \
        CHAT_AI_DIRECTIVE(                                                                         \
            "ChatAIModelWindow", 4,                                                                \
            "NAME HH:MM-HH:MM MODEL | NAME off: MODEL in that daily window (provider's zone)"),    \
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
                          "Base URL of the market-data JSON source the AI tools query"),           \
        CHAT_AI_DIRECTIVE("ChatAIProducts", 15,                                                    \
                          "PATH: the futures product table (default: the installed one)"),         \
        CHAT_AI_DIRECTIVE("ChatAIStream", 16,                                                      \
                          "NAME on|off: stream the provider's answers in rooms (default on)"),     \
        CHAT_AI_DIRECTIVE("ChatAIAlias", 17,                                                       \
                          "NAME ALIAS...: @ALIAS question asks NAME (default: name, 1st letter)"), \
        CHAT_AI_DIRECTIVE("ChatAIStreamInterval", 18,                                              \
                          "Milliseconds between a streamed answer's room updates (default 300)")

#endif
