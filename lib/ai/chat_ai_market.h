/* Chinese futures products by name: the table the AI's data tools
 * (chat_ai_tools.c) resolve a commodity named in a question with. */
#ifndef CHAT_AI_MARKET_H
#define CHAT_AI_MARKET_H

#include <apr_pools.h>
#include <apr_time.h>
#include <json.h>

/* 螺纹钢 -> rb, RB -> rb, 黄金 -> au, rb2505 -> rb2505 (passed through: a
 * pointer into name), through the product table in force (chat_products.h);
 * NULL when unknown or ambiguous (chat_products_resolve() has the candidates
 * to ask back, and the pass-through of a code with blanks after it). */
const char *chat_ai_market_code(const char *name);

/* The commodity named in free text (the longest name or alias in it wins;
 * *name is that name as written), or NULL when none or ambiguous. */
const char *chat_ai_market_find(const char *text, const char **name);

#endif
