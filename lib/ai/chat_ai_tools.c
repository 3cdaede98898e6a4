/* The AI's data tools: see chat_ai_tools.h. */
#include <math.h>
#include <stdlib.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "chat_ai_market.h"
#include "chat_ai_tools.h"
#include "chat_products.h"
#include "chat_source_fetch.h"

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

void chat_ai_tools_setup(apr_pool_t *p, chat_ai_tools *t, const chat_ai_conf *ac)
{
    int i;

    memset(t, 0, sizeof(*t));
    for (i = 0; i < CHAT_AI_TOOL_KINDS; i++) {
        t->src[i] = ac->tool_src[i];
    }
    t->max_rows = ac->tool_rows > 0 ? ac->tool_rows : CHAT_AI_DEFAULT_ROWS;
    t->max_bytes = (apr_size_t)(ac->tool_bytes > 0 ? ac->tool_bytes : CHAT_AI_DEFAULT_BYTES);
    t->log = apr_array_make(p, 4, sizeof(const char *));
    t->errors = apr_array_make(p, 1, sizeof(const char *));
}

static json_object *tool(const char *name, const char *desc, const char *params)
{
    json_object *t = json_object_new_object();
    json_object_object_add(t, "name", json_object_new_string(name));
    json_object_object_add(t, "description", json_object_new_string(desc));
    json_object_object_add(t, "parameters", json_tokener_parse(params));
    return t;
}

#define COMMODITY                                                                                     \
    "\"commodity\":{\"type\":\"string\",\"description\":\"Chinese name (螺纹钢, 黄金...), code " \
    "(rb, au) or contract (rb2505)\"}"

json_object *chat_ai_tools_declare(const chat_ai_tools *t)
{
    json_object *a = json_object_new_array();
    int history = t->src[CHAT_AI_TOOL_HISTORY] || t->src[CHAT_AI_TOOL_INTRADAY];

    if (t->src[CHAT_AI_TOOL_QUOTE]) {
        json_object_array_add(
            a, tool("get_price", "Latest quote (price, % change...) of a Chinese futures product",
                    "{\"type\":\"object\",\"properties\":{" COMMODITY "},"
                    "\"required\":[\"commodity\"]}"));
    }
    if (history) {
        json_object_array_add(
            a, tool("get_history",
                    "Recent bars of a product, oldest first: daily, or intraday where available",
                    "{\"type\":\"object\",\"properties\":{" COMMODITY ",\"days\":{\"type\":"
                    "\"integer\",\"minimum\":1,\"maximum\":365},\"interval\":{\"type\":\"string\","
                    "\"enum\":[\"daily\",\"intraday\"]}},\"required\":[\"commodity\"]}"));
        json_object_array_add(
            a, tool("get_stats",
                    "High, low, mean, first, last and change of every column (or one field) of a "
                    "product over the last N trading days",
                    "{\"type\":\"object\",\"properties\":{" COMMODITY ",\"days\":{\"type\":"
                    "\"integer\",\"minimum\":1,\"maximum\":365},\"field\":{\"type\":\"string\"}},"
                    "\"required\":[\"commodity\",\"days\"]}"));
    }
    if (t->src[CHAT_AI_TOOL_BOARD]) {
        json_object_array_add(
            a, tool("get_cross_section",
                    "Every product's figures today sorted by a field (default: change), to "
                    "compare products or find the strongest and weakest",
                    "{\"type\":\"object\",\"properties\":{\"field\":{\"type\":\"string\"},"
                    "\"order\":{\"type\":\"string\",\"enum\":[\"desc\",\"asc\"]},\"limit\":{"
                    "\"type\":\"integer\",\"minimum\":1}}}"));
    }
    if (t->src[CHAT_AI_TOOL_NEWS]) {
        json_object_array_add(
            a, tool("search_news", "Recent news items matching a query (title, time, link)",
                    "{\"type\":\"object\",\"properties\":{\"query\":{\"type\":\"string\"},"
                    "\"limit\":{\"type\":\"integer\",\"minimum\":1}},\"required\":[\"query\"]}"));
    }
    if (t->src[CHAT_AI_TOOL_QUOTE] && history) {
        json_object_array_add(
            a, tool("market_query",
                    "Answer a free-text market question: finds the product it names and returns "
                    "its latest quote and recent statistics",
                    "{\"type\":\"object\",\"properties\":{\"question\":{\"type\":\"string\"}},"
                    "\"required\":[\"question\"]}"));
    }
    if (!json_object_array_length(a)) {
        json_object_put(a);
        return NULL;
    }
    return a;
}

static const char *str_arg(json_object *args, const char *key)
{
    json_object *v;
    return args && json_object_object_get_ex(args, key, &v) &&
                   json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static int int_arg(json_object *args, const char *key, int dflt, int min, int max)
{
    json_object *v;
    int n;

    if (!args || !json_object_object_get_ex(args, key, &v) || !v) {
        return dflt;
    }
    n = json_object_get_int(v);
    return n < min ? min : n > max ? max : n;
}

/* Why arg names no commodity: when it could be several, a question naming
 * them (the model asks the user back instead of guessing). */
static const char *unknown_why(apr_pool_t *p, const char *arg, int in_text)
{
    chat_product_match m;

    if (arg) {
        if (in_text) {
            chat_products_find(chat_products_current(), arg, &m);
        }
        else {
            chat_products_resolve(chat_products_current(), arg, &m);
        }
        if (m.status == CHAT_PRODUCT_AMBIGUOUS) {
            return chat_products_question(p, &m);
        }
    }
    return in_text ? "no known commodity named in the question"
                   : apr_psprintf(p, "unknown commodity '%s'", arg ? arg : "");
}

/* A name from the table, or a code/contract as written (rb2505, SC2506). */
static const char *code_of(const char *arg)
{
    const char *code = chat_ai_market_code(arg), *c;

    if (code || !arg || !*arg || strlen(arg) > 12) {
        return code;
    }
    for (c = arg; *c; c++) {
        if (!apr_isalnum(*c)) {
            return NULL;
        }
    }
    return arg;
}

const char *chat_ai_tools_code(apr_pool_t *p, const char *arg, const char **why)
{
    const char *code = code_of(arg);

    if (!code) {
        *why = unknown_why(p, arg, 0);
    }
    return code;
}

apr_table_t *chat_ai_tools_vars(apr_pool_t *p, const char *code, int days, int limit)
{
    apr_table_t *v = apr_table_make(p, 8);
    apr_time_exp_t tm;
    char date[16];
    apr_size_t len;

    apr_time_exp_tz(&tm, apr_time_now(), CHAT_SOURCE_ZONE);
    apr_strftime(date, &len, sizeof(date), "%Y-%m-%d", &tm);
    apr_table_set(v, "date", date);
    apr_table_set(v, "to", date);
    if (code) {
        apr_table_set(v, "code", code);
        apr_table_set(v, "contract", code);
    }
    if (days > 0) {
        apr_table_set(v, "days", apr_itoa(p, days));
    }
    if (limit > 0) {
        apr_table_set(v, "limit", apr_itoa(p, limit));
    }
    return v;
}

static json_object *error_obj(apr_pool_t *p, chat_ai_tools *t, const char *msg, int source)
{
    json_object *o = json_object_new_object();
    int i;

    json_object_object_add(o, "error", json_object_new_string(msg));
    for (i = 0; source && i < t->errors->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(t->errors, i, const char *), msg)) {
            source = 0;
        }
    }
    if (source) {
        APR_ARRAY_PUSH(t->errors, const char *) = apr_pstrdup(p, msg);
    }
    return o;
}

/* The rows of a tool's source, or NULL with *out set to the error. */
static json_object *rows_of(apr_pool_t *p, chat_ai_tools *t, const chat_source *src,
                            apr_table_t *vars, json_object **out)
{
    const char *err = NULL;
    json_object *rows = chat_source_fetch(p, src, vars, 0, &err);

    if (!rows) {
        *out = error_obj(p, t, err, 1);
    }
    return rows;
}

static json_object *quote(apr_pool_t *p, chat_ai_tools *t, const char *code)
{
    json_object *rows, *out = NULL, *row = NULL;
    size_t i;

    if (!(rows =
              rows_of(p, t, t->src[CHAT_AI_TOOL_QUOTE], chat_ai_tools_vars(p, code, 0, 0), &out))) {
        return out;
    }
    /* a source of many rows (a board): the row of this code */
    for (i = 0; i < json_object_array_length(rows) && !row; i++) {
        json_object *r = json_object_array_get_idx(rows, i), *c;
        if (json_object_object_get_ex(r, "code", &c) &&
            !strcasecmp(json_object_get_string(c), code)) {
            row = r;
        }
    }
    if (!row && json_object_array_length(rows) == 1) {
        row = json_object_array_get_idx(rows, 0);
    }
    if (!row) {
        json_object_put(rows);
        return error_obj(p, t,
                         apr_psprintf(p, "the data source '%s' has no quote for '%s'",
                                      t->src[CHAT_AI_TOOL_QUOTE]->name, code),
                         1);
    }
    out = json_object_new_object();
    json_object_object_add(out, "code", json_object_new_string(code));
    json_object_object_foreach(row, k, v)
    {
        if (strcmp(k, "code")) {
            json_object_object_add(out, k, json_object_get(v));
        }
    }
    json_object_object_add(out, "source", json_object_new_string(t->src[CHAT_AI_TOOL_QUOTE]->name));
    json_object_put(rows);
    return out;
}

/* The last days bars of code, oldest first; NULL with *out set. */
static json_object *bars(apr_pool_t *p, chat_ai_tools *t, const char *code, int days, int intraday,
                         const chat_source **used, json_object **out)
{
    const chat_source *src = intraday && t->src[CHAT_AI_TOOL_INTRADAY]
                                 ? t->src[CHAT_AI_TOOL_INTRADAY]
                                 : t->src[CHAT_AI_TOOL_HISTORY];
    json_object *rows, *tail;
    size_t n, i;

    if (!src) {
        src = t->src[CHAT_AI_TOOL_INTRADAY];
    }
    *used = src;
    if (!(rows = rows_of(p, t, src, chat_ai_tools_vars(p, code, days, days), out))) {
        return NULL;
    }
    n = json_object_array_length(rows);
    if (!n) {
        json_object_put(rows);
        *out = error_obj(
            p, t, apr_psprintf(p, "the data source '%s' has no bars for '%s'", src->name, code), 1);
        return NULL;
    }
    tail = json_object_new_array();
    for (i = n > (size_t)days ? n - (size_t)days : 0; i < n; i++) {
        json_object_array_add(tail, json_object_get(json_object_array_get_idx(rows, i)));
    }
    json_object_put(rows);
    return tail;
}

static json_object *history(apr_pool_t *p, chat_ai_tools *t, const char *code, json_object *args)
{
    const char *interval = str_arg(args, "interval");
    int intraday = interval && !strcmp(interval, "intraday");
    const chat_source *src;
    json_object *out = NULL, *rows;

    if (!(rows = bars(p, t, code, int_arg(args, "days", 20, 1, 365), intraday, &src, &out))) {
        return out;
    }
    out = json_object_new_object();
    json_object_object_add(out, "code", json_object_new_string(code));
    json_object_object_add(
        out, "interval",
        json_object_new_string(src == t->src[CHAT_AI_TOOL_INTRADAY] ? "intraday" : "daily"));
    json_object_object_add(out, "source", json_object_new_string(src->name));
    json_object_object_add(out, "rows", rows);
    return out;
}

static double round4(double d)
{
    return round(d * 10000.0) / 10000.0;
}

/* high, low, mean, first, last, change, change_pct of one column; NULL if not numeric. */
static json_object *column_stats(json_object *rows, const char *field)
{
    size_t i, n = json_object_array_length(rows);
    double hi = 0, lo = 0, sum = 0, first = 0, last = 0, d;
    json_object *o, *v;

    for (i = 0; i < n; i++) {
        if (!json_object_object_get_ex(json_object_array_get_idx(rows, i), field, &v) ||
            !chat_source_number(v, &d)) {
            return NULL;
        }
        hi = !i || d > hi ? d : hi;
        lo = !i || d < lo ? d : lo;
        first = i ? first : d;
        last = d;
        sum += d;
    }
    o = json_object_new_object();
    json_object_object_add(o, "high", json_object_new_double(round4(hi)));
    json_object_object_add(o, "low", json_object_new_double(round4(lo)));
    json_object_object_add(o, "mean", json_object_new_double(round4(sum / (double)n)));
    json_object_object_add(o, "first", json_object_new_double(round4(first)));
    json_object_object_add(o, "last", json_object_new_double(round4(last)));
    json_object_object_add(o, "change", json_object_new_double(round4(last - first)));
    if (first != 0) {
        json_object_object_add(o, "change_pct",
                               json_object_new_double(round4((last - first) / first * 100.0)));
    }
    return o;
}

static double stat_of(json_object *cols, const char *col, const char *what, int *found)
{
    json_object *c, *v;

    if (json_object_object_get_ex(cols, col, &c) && json_object_object_get_ex(c, what, &v)) {
        *found = 1;
        return json_object_get_double(v);
    }
    return 0;
}

static json_object *stats(apr_pool_t *p, chat_ai_tools *t, const char *code, int days,
                          const char *field)
{
    const chat_source *src;
    json_object *out = NULL, *rows, *cols, *first, *tv;
    size_t n;
    int found = 0;

    if (!(rows = bars(p, t, code, days, 0, &src, &out))) {
        return out;
    }
    n = json_object_array_length(rows);
    cols = json_object_new_object();
    first = json_object_array_get_idx(rows, 0);
    json_object_object_foreach(first, k, v)
    {
        json_object *s;
        (void)v;
        if ((!field || !strcmp(field, k)) && (s = column_stats(rows, k))) {
            json_object_object_add(cols, k, s);
        }
    }
    if (field && !json_object_object_length(cols)) {
        json_object_put(rows);
        json_object_put(cols);
        return error_obj(p, t, apr_psprintf(p, "no numeric field '%s' in %s", field, src->name), 0);
    }
    out = json_object_new_object();
    json_object_object_add(out, "code", json_object_new_string(code));
    json_object_object_add(out, "days", json_object_new_int((int)n));
    json_object_object_add(out, "source", json_object_new_string(src->name));
    if (json_object_object_get_ex(first, "time", &tv) ||
        json_object_object_get_ex(first, "date", &tv)) {
        json_object *lv = NULL;
        json_object_object_get_ex(json_object_array_get_idx(rows, n - 1),
                                  json_object_object_get_ex(first, "time", &lv) ? "time" : "date",
                                  &lv);
        json_object_object_add(out, "from", json_object_get(tv));
        json_object_object_add(out, "to", json_object_get(lv));
    }
    if (!field) {
        /* the usual questions answered directly: highest high, lowest low, mean close */
        double hi = stat_of(cols, "high", "high", &found), lo = stat_of(cols, "low", "low", &found),
               avg = stat_of(cols, "close", "mean", &found),
               last = stat_of(cols, "close", "last", &found);
        if (found) {
            json_object_object_add(out, "highest", json_object_new_double(hi));
            json_object_object_add(out, "lowest", json_object_new_double(lo));
            json_object_object_add(out, "average_close", json_object_new_double(avg));
            json_object_object_add(out, "last_close", json_object_new_double(last));
        }
    }
    json_object_object_add(out, "columns", cols);
    json_object_put(rows);
    return out;
}

typedef struct sort_item {
    double v;
    json_object *row;
} sort_item;

static int by_value_desc(const void *a, const void *b)
{
    double x = ((const sort_item *)a)->v, y = ((const sort_item *)b)->v;
    return x < y ? 1 : x > y ? -1 : 0;
}

static json_object *cross_section(apr_pool_t *p, chat_ai_tools *t, json_object *args)
{
    const char *field = str_arg(args, "field") ? str_arg(args, "field") : "change";
    const char *order = str_arg(args, "order");
    int asc = order && !strcmp(order, "asc"),
        limit = int_arg(args, "limit", t->max_rows, 1, t->max_rows);
    json_object *rows, *out = NULL, *list;
    sort_item *items;
    size_t i, n, k = 0;

    if (!(rows =
              rows_of(p, t, t->src[CHAT_AI_TOOL_BOARD], chat_ai_tools_vars(p, NULL, 0, 0), &out))) {
        return out;
    }
    n = json_object_array_length(rows);
    items = apr_palloc(p, sizeof(sort_item) * (n ? n : 1));
    for (i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(rows, i), *v;
        if (json_object_object_get_ex(r, field, &v) && chat_source_number(v, &items[k].v)) {
            items[k++].row = r;
        }
    }
    if (!k) {
        json_object_put(rows);
        return error_obj(p, t,
                         apr_psprintf(p, "no row of %s has a number in '%s'",
                                      t->src[CHAT_AI_TOOL_BOARD]->name, field),
                         0);
    }
    qsort(items, k, sizeof(sort_item), by_value_desc);
    list = json_object_new_array();
    for (i = 0; i < k && (int)i < limit; i++) {
        json_object_array_add(list, json_object_get(items[asc ? k - 1 - i : i].row));
    }
    out = json_object_new_object();
    json_object_object_add(out, "field", json_object_new_string(field));
    json_object_object_add(out, "order", json_object_new_string(asc ? "asc" : "desc"));
    json_object_object_add(out, "products", json_object_new_int((int)k));
    json_object_object_add(out, "source", json_object_new_string(t->src[CHAT_AI_TOOL_BOARD]->name));
    json_object_object_add(out, "rows", list);
    json_object_put(rows);
    return out;
}

static json_object *news(apr_pool_t *p, chat_ai_tools *t, json_object *args)
{
    int limit = int_arg(args, "limit", 10, 1, t->max_rows);
    apr_table_t *vars = chat_ai_tools_vars(p, NULL, 0, limit);
    json_object *rows, *out = NULL, *list;
    size_t i;

    apr_table_set(vars, "query", str_arg(args, "query") ? str_arg(args, "query") : "");
    if (!(rows = rows_of(p, t, t->src[CHAT_AI_TOOL_NEWS], vars, &out))) {
        return out;
    }
    list = json_object_new_array();
    for (i = 0; i < json_object_array_length(rows) && (int)i < limit; i++) {
        json_object_array_add(list, json_object_get(json_object_array_get_idx(rows, i)));
    }
    out = json_object_new_object();
    json_object_object_add(out, "query", json_object_new_string(apr_table_get(vars, "query")));
    json_object_object_add(out, "source", json_object_new_string(t->src[CHAT_AI_TOOL_NEWS]->name));
    json_object_object_add(out, "rows", list);
    json_object_put(rows);
    return out;
}

static json_object *market_query(apr_pool_t *p, chat_ai_tools *t, json_object *args)
{
    const char *q = str_arg(args, "question"), *cname = NULL, *digits, *code;
    json_object *out;
    int days = 20;

    if (!(code = chat_ai_market_find(q, &cname))) {
        return error_obj(p, t, unknown_why(p, q, 1), 0);
    }
    /* "最近10天": the first number after the name (沪深300 is not a number of days) */
    for (digits = strstr(q, cname) + strlen(cname); *digits && !apr_isdigit(*digits); digits++) {
    }
    if (*digits) {
        days = atoi(digits);
        days = days < 1 ? 1 : days > 365 ? 365 : days;
    }
    out = json_object_new_object();
    json_object_object_add(out, "commodity", json_object_new_string(cname));
    json_object_object_add(out, "quote", quote(p, t, code));
    json_object_object_add(out, "stats", stats(p, t, code, days, NULL));
    return out;
}

/* The result as text within max_bytes: rows dropped (the oldest of bars, the
 * last of a sorted list) until it fits, with "truncated" saying how many. */
static const char *bounded(apr_pool_t *p, chat_ai_tools *t, json_object *out, int drop_front)
{
    json_object *rows = NULL;
    const char *s = json_object_to_json_string_ext(out, JSON_FLAGS);
    int dropped = 0;

    json_object_object_get_ex(out, "rows", &rows);
    if (rows && json_object_is_type(rows, json_type_array)) {
        while ((int)json_object_array_length(rows) > t->max_rows) {
            json_object_array_del_idx(rows, drop_front ? 0 : json_object_array_length(rows) - 1, 1);
            dropped++;
        }
        s = json_object_to_json_string_ext(out, JSON_FLAGS);
        while (strlen(s) > t->max_bytes && json_object_array_length(rows)) {
            size_t n = json_object_array_length(rows), cut = n / 4 ? n / 4 : 1;
            json_object_array_del_idx(rows, drop_front ? 0 : n - cut, cut);
            dropped += (int)cut;
            s = json_object_to_json_string_ext(out, JSON_FLAGS);
        }
        if (dropped) {
            json_object_object_add(out, "truncated", json_object_new_int(dropped));
            s = json_object_to_json_string_ext(out, JSON_FLAGS);
        }
    }
    if (strlen(s) > t->max_bytes) {
        s = apr_psprintf(p, "{\"error\":\"the result is larger than %lu bytes (ChatAIToolBytes)\"}",
                         (unsigned long)t->max_bytes);
        json_object_put(out);
        return s;
    }
    s = apr_pstrdup(p, s);
    json_object_put(out);
    return s;
}

const char *chat_ai_tools_call(apr_pool_t *p, void *ctx, const char *name, json_object *args)
{
    chat_ai_tools *t = ctx;
    const char *arg = str_arg(args, "commodity"), *code = NULL, *s;
    json_object *out, *e;
    int front = 0;

    if (t->log->nelts >= CHAT_AI_TOOL_MAX_CALLS) {
        /* parallel calls are not bounded by rounds: each one costs a fetch */
        out = error_obj(
            p, t, apr_psprintf(p, "more than %d tool calls in one answer", CHAT_AI_TOOL_MAX_CALLS),
            0);
    }
    else if (!strcmp(name, "get_cross_section") && t->src[CHAT_AI_TOOL_BOARD]) {
        out = cross_section(p, t, args);
    }
    else if (!strcmp(name, "search_news") && t->src[CHAT_AI_TOOL_NEWS]) {
        out = news(p, t, args);
    }
    else if (!strcmp(name, "market_query") && t->src[CHAT_AI_TOOL_QUOTE]) {
        out = market_query(p, t, args);
    }
    else if (strcmp(name, "get_price") && strcmp(name, "get_history") &&
             strcmp(name, "get_stats")) {
        out = error_obj(p, t, apr_psprintf(p, "no such tool '%s'", name), 0);
    }
    else if (!(code = code_of(arg))) {
        out = error_obj(p, t, unknown_why(p, arg, 0), 0);
    }
    else if (!strcmp(name, "get_price") && t->src[CHAT_AI_TOOL_QUOTE]) {
        out = quote(p, t, code);
    }
    else if (!t->src[CHAT_AI_TOOL_HISTORY] && !t->src[CHAT_AI_TOOL_INTRADAY]) {
        out = error_obj(p, t, apr_psprintf(p, "no source is configured for '%s'", name), 0);
    }
    else if (!strcmp(name, "get_history")) {
        out = history(p, t, code, args);
        front = 1;
    }
    else {
        out = stats(p, t, code, int_arg(args, "days", 20, 1, 365), str_arg(args, "field"));
    }
    s = bounded(p, t, out, front);
    out = json_tokener_parse(s);
    APR_ARRAY_PUSH(t->log, const char *) = apr_psprintf(
        p, "%s %s -> %s", name, args ? json_object_to_json_string_ext(args, JSON_FLAGS) : "{}",
        out && json_object_object_get_ex(out, "error", &e)
            ? apr_pstrcat(p, "error: ", json_object_get_string(e), NULL)
            : apr_psprintf(p, "%lu bytes", (unsigned long)strlen(s)));
    json_object_put(out);
    return s;
}

const char *chat_ai_tools_note(apr_pool_t *p, const chat_ai_tools *t, const char *text)
{
    int i;

    for (i = 0; t->errors && i < t->errors->nelts; i++) {
        const char *e = APR_ARRAY_IDX(t->errors, i, const char *);
        text = apr_pstrcat(p, text, *text ? "\n\n" : "", "⚠️ Data: ", e, ".", NULL);
    }
    return text;
}
