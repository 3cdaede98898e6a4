/* Data-source directives (ChatData*) and the AI's use of them (ChatAITool,
 * ChatAIToolRounds/Rows/Bytes): each source is a URL template, headers, a
 * path to its rows, a field map, filters, a cache TTL and a timeout, checked
 * when the config is read so `apachectl configtest` names a bad template,
 * path, conversion or source. They fill chat_ai_conf.sources and tool_src
 * (lib/ai/chat_ai_settings.h); lib/source/ does the mapping. */
#ifndef CHAT_DATA_CONFIG_H
#define CHAT_DATA_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "chat_ai_settings.h"

/* cmd->info of the first ChatData* directive; below are the ChatAI* ones. */
#define CHAT_DATA_FIRST 20

/* A ChatData* or ChatAITool* directive (cmd->info >= CHAT_DATA_FIRST). */
const char *chat_data_directive(cmd_parms *cmd, chat_ai_conf *ac, const char *args);

/* KEY, env:VARIABLE or file:/path resolved now, so a missing one fails
 * configtest (ChatAIKey, ChatDataHeader); NULL, or an error naming the
 * directive. */
const char *chat_data_config_secret(cmd_parms *cmd, const char *spec, const char **key);

/* ChatAIMarketData URL as two sources, market_quote and market_history (the
 * shapes of mod_chat's own /quote and /history), serving the quote and
 * history tools unless ChatAITool names others. */
const char *chat_data_market(cmd_parms *cmd, chat_ai_conf *ac);

#define CHAT_DATA_COMMANDS                                                                         \
    CHAT_AI_DIRECTIVE("ChatDataSource", 20,                                                        \
                      "NAME URL-TEMPLATE: a JSON-over-HTTP data source ({code}, {date}...)"),      \
        CHAT_AI_DIRECTIVE("ChatDataHeader", 21,                                                    \
                          "NAME \"Header: value|env:VAR|file:/path\": a request header"),          \
        CHAT_AI_DIRECTIVE("ChatDataRows", 22,                                                      \
                          "NAME PATH: where the rows are (default: the document itself)"),         \
        CHAT_AI_DIRECTIVE("ChatDataField", 23,                                                     \
                          "NAME field=path[:conversion]...: the field map (default: as is)"),      \
        CHAT_AI_DIRECTIVE("ChatDataFilter", 24,                                                    \
                          "NAME FIELD >|<|>=|<=|=|!=|in VALUE: keep only matching rows"),          \
        CHAT_AI_DIRECTIVE("ChatDataCache", 25,                                                     \
                          "NAME SECONDS: reuse a fetched document this long (default 0)"),         \
        CHAT_AI_DIRECTIVE("ChatDataTimeout", 26,                                                   \
                          "NAME SECONDS: one fetch may take this long (default 10)"),              \
        CHAT_AI_DIRECTIVE("ChatAITool", 27,                                                        \
                          "quote|history|intraday|board|news SOURCE: the source of an AI tool"),   \
        CHAT_AI_DIRECTIVE("ChatAIToolRounds", 28, "Tool-call rounds per AI answer (default 4)"),   \
        CHAT_AI_DIRECTIVE("ChatAIToolRows", 29, "Rows in one tool result (default 60)"),           \
        CHAT_AI_DIRECTIVE("ChatAIToolBytes", 30, "Bytes of one tool result (default 16K)")

#endif
