/* Market-data tools for the AI: see chat_ai_market.h. */
#include <stdlib.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "chat_ai_market.h"
#include "chat_fetch.h"
#include "chat_products.h"

/* Names resolve through the product table in force (chat_products.h). */
const char *chat_ai_market_code(const char *name)
{
    chat_product_match m;

    chat_products_resolve(chat_products_current(), name, &m);
    if (m.status == CHAT_PRODUCT_PASS) {
        /* as given: the caller's string, when nothing but blanks surrounds it */
        while (apr_isspace(*name)) {
            name++;
        }
        return strcmp(name, m.code) ? NULL : name;
    }
    return m.status == CHAT_PRODUCT_FOUND ? m.code : NULL;
}

const char *chat_ai_market_find(const char *text, const char **name)
{
    chat_product_match m;

    chat_products_find(chat_products_current(), text, &m);
    if (m.status != CHAT_PRODUCT_FOUND) {
        return NULL;
    }
    if (name) {
        *name = m.matched;
    }
    return m.code;
}

static json_object *tool(const char *name, const char *desc, const char *params)
{
    json_object *t = json_object_new_object();
    json_object_object_add(t, "name", json_object_new_string(name));
    json_object_object_add(t, "description", json_object_new_string(desc));
    json_object_object_add(t, "parameters", json_tokener_parse(params));
    return t;
}

json_object *chat_ai_market_tools(void)
{
    json_object *a = json_object_new_array();

    json_object_array_add(
        a, tool("get_price",
                "Latest price and % change of a Chinese futures commodity, by Chinese name "
                "(螺纹钢, 黄金, 原油...) or exchange code (rb, au, sc...)",
                "{\"type\":\"object\",\"properties\":{\"commodity\":{\"type\":\"string\","
                "\"description\":\"Chinese name or code\"}},\"required\":[\"commodity\"]}"));
    json_object_array_add(
        a, tool("get_stats",
                "Highest high, lowest low and average close of a commodity over the last N "
                "trading days",
                "{\"type\":\"object\",\"properties\":{\"commodity\":{\"type\":\"string\"},"
                "\"days\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":365}},"
                "\"required\":[\"commodity\",\"days\"]}"));
    json_object_array_add(
        a, tool("market_query",
                "Answer a free-text market question: finds the commodity it names and returns "
                "its latest quote and recent statistics",
                "{\"type\":\"object\",\"properties\":{\"question\":{\"type\":\"string\"}},"
                "\"required\":[\"question\"]}"));
    return a;
}

static const char *err_json(apr_pool_t *p, const char *msg)
{
    json_object *o = json_object_new_object();
    const char *s;
    json_object_object_add(o, "error", json_object_new_string(msg));
    s = apr_pstrdup(p, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return s;
}

/* GET a JSON object from the source; NULL with *err. */
static json_object *fetch(apr_pool_t *p, const chat_ai_market *mk, const char *path,
                          const char **err)
{
    chat_fetch_reply r;
    json_object *o;

    chat_fetch_request(p, apr_pstrcat(p, mk->base_url, path, NULL), NULL, NULL, mk->timeout,
                       1024 * 1024, &r);
    if (r.error || r.status != 200) {
        *err = apr_psprintf(p, "market data: %s", r.error ? r.error : apr_itoa(p, r.status));
        return NULL;
    }
    if (!(o = json_tokener_parse(r.body)) || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        *err = "market data: not a JSON object";
        return NULL;
    }
    return o;
}

static double num(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_double(v) : 0.0;
}

static const char *stats(apr_pool_t *p, const chat_ai_market *mk, const char *code, int days)
{
    const char *err = NULL;
    json_object *h, *bars, *out;
    double hi = 0, lo = 0, sum = 0;
    size_t i, n;
    const char *s;

    if (days < 1 || days > 365) {
        return err_json(p, "days must be 1 to 365");
    }
    if (!(h = fetch(p, mk, apr_psprintf(p, "/history?code=%s&days=%d", code, days), &err))) {
        return err_json(p, err);
    }
    if (!json_object_object_get_ex(h, "bars", &bars) ||
        !json_object_is_type(bars, json_type_array) || !(n = json_object_array_length(bars))) {
        json_object_put(h);
        return err_json(p, "market data: no bars");
    }
    for (i = 0; i < n; i++) {
        json_object *b = json_object_array_get_idx(bars, i);
        double high = num(b, "high"), low = num(b, "low");
        if (!i || high > hi) {
            hi = high;
        }
        if (!i || low < lo) {
            lo = low;
        }
        sum += num(b, "close");
    }
    out = json_object_new_object();
    json_object_object_add(out, "code", json_object_new_string(code));
    json_object_object_add(out, "days", json_object_new_int((int)n));
    json_object_object_add(out, "highest", json_object_new_double(hi));
    json_object_object_add(out, "lowest", json_object_new_double(lo));
    json_object_object_add(out, "average_close", json_object_new_double(sum / (double)n));
    json_object_object_add(
        out, "last_close",
        json_object_new_double(num(json_object_array_get_idx(bars, n - 1), "close")));
    s = apr_pstrdup(p, json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(out);
    json_object_put(h);
    return s;
}

static const char *quote(apr_pool_t *p, const chat_ai_market *mk, const char *code)
{
    const char *err = NULL, *s;
    json_object *q = fetch(p, mk, apr_pstrcat(p, "/quote?code=", code, NULL), &err);

    if (!q) {
        return err_json(p, err);
    }
    s = apr_pstrdup(p, json_object_to_json_string_ext(q, JSON_C_TO_STRING_PLAIN |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(q);
    return s;
}

const char *chat_ai_market_call(apr_pool_t *p, void *ctx, const char *name, json_object *args)
{
    const chat_ai_market *mk = ctx;
    chat_product_match pm;
    json_object *v;
    const char *arg = NULL, *code;

    if (!mk || !mk->base_url) {
        return err_json(p, "no market data source is configured (ChatAIMarketData)");
    }
    if (!strcmp(name, "market_query")) {
        const char *q =
            json_object_object_get_ex(args, "question", &v) ? json_object_get_string(v) : NULL;
        const char *cname = NULL, *digits;
        int days = 20;
        if (!(code = chat_ai_market_find(q, &cname))) {
            chat_products_find(chat_products_current(), q, &pm);
            return err_json(p, pm.status == CHAT_PRODUCT_AMBIGUOUS
                                   ? chat_products_question(p, &pm)
                                   : "no known commodity named in the question");
        }
        /* "最近10天", "last 10 days": the first number in the question */
        /* after the name: 沪深300 is not a number of days */
        for (digits = strstr(q, cname) + strlen(cname); *digits && !apr_isdigit(*digits);
             digits++) {
        }
        if (*digits) {
            days = atoi(digits);
            days = days < 1 ? 1 : days > 365 ? 365 : days;
        }
        return apr_psprintf(p, "{\"commodity\":\"%s\",\"quote\":%s,\"stats\":%s}", cname,
                            quote(p, mk, code), stats(p, mk, code, days));
    }
    if (json_object_object_get_ex(args, "commodity", &v)) {
        arg = json_object_get_string(v);
    }
    chat_products_resolve(chat_products_current(), arg, &pm);
    if (pm.status == CHAT_PRODUCT_AMBIGUOUS) {
        return err_json(p, chat_products_question(p, &pm));
    }
    if (pm.status != CHAT_PRODUCT_FOUND && pm.status != CHAT_PRODUCT_PASS) {
        return err_json(p, apr_psprintf(p, "unknown commodity '%s'", arg ? arg : ""));
    }
    code = apr_pstrdup(p, pm.code);
    if (!strcmp(name, "get_price")) {
        return quote(p, mk, code);
    }
    if (!strcmp(name, "get_stats")) {
        return stats(p, mk, code,
                     json_object_object_get_ex(args, "days", &v) ? json_object_get_int(v) : 0);
    }
    return err_json(p, apr_psprintf(p, "no such tool '%s'", name));
}
