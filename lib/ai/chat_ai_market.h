/* Chinese futures products by name: the table the AI's data tools
 * (chat_ai_tools.c) resolve a commodity named in a question with. */
#ifndef CHAT_AI_MARKET_H
#define CHAT_AI_MARKET_H

#include <apr_pools.h>
#include <apr_time.h>
#include <json.h>

/* 螺纹钢 -> rb, RB -> rb, "黄金" -> au ...; NULL when unknown. */
const char *chat_ai_market_code(const char *name);

/* The first commodity named in free text (longest name wins), or NULL. */
const char *chat_ai_market_find(const char *text, const char **name);

#endif
