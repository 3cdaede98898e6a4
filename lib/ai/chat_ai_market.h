/* Market-data tools the AI may call ("intelligent data query"): the price of
 * a Chinese futures commodity by Chinese name or code, highest/lowest/average
 * over N days, and a natural-language query, answered from a JSON source
 * (ChatAIMarketData URL: URL/quote?code=rb, URL/history?code=rb&days=N). */
#ifndef CHAT_AI_MARKET_H
#define CHAT_AI_MARKET_H

#include <apr_pools.h>
#include <apr_time.h>
#include <json.h>

typedef struct chat_ai_market {
    const char *base_url;
    apr_interval_time_t timeout;
} chat_ai_market;

/* 螺纹钢 -> rb, RB -> rb, 黄金 -> au, rb2505 -> rb2505 (passed through: a
 * pointer into name), through the product table in force (chat_products.h);
 * NULL when unknown or ambiguous (chat_products_resolve() has the candidates
 * to ask back, and the pass-through of a code with blanks after it). */
const char *chat_ai_market_code(const char *name);

/* The commodity named in free text (the longest name or alias in it wins;
 * *name is that name as written), or NULL when none or ambiguous. */
const char *chat_ai_market_find(const char *text, const char **name);

/* The tool declarations (neutral form, see chat_ai_call.tools); caller puts. */
json_object *chat_ai_market_tools(void);

/* chat_ai_tool_fn over a chat_ai_market. */
const char *chat_ai_market_call(apr_pool_t *p, void *ctx, const char *name, json_object *args);

#endif
