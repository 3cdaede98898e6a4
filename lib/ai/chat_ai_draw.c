/* The draw_chart tool: see chat_ai_draw.h. */
#include <apr_strings.h>

#include "chat_ai_draw.h"
#include "chat_chart.h"
#include "chat_fetch.h"

#define DRAW_MAX_DATA (1024 * 1024)

static const struct {
    const char *kind, *what, *mapping; /* mapping of the history rows */
} kinds[] = {
    {"line", "收盘价", "series=close:收盘价"},
    {"bar_line", "成交量与收盘价", "bar=volume:成交量 line=close:收盘价 y_unit=手"},
    {"candle", "日K线", ""},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

void chat_ai_draw_setup(apr_pool_t *p)
{
    chat_chart_setup(p);
}

json_object *chat_ai_draw_tool(void)
{
    json_object *t = json_object_new_object();

    json_object_object_add(t, "name", json_object_new_string("draw_chart"));
    json_object_object_add(
        t, "description",
        json_object_new_string(
            "Draw a chart of a Chinese futures commodity over its last N trading days and post "
            "it in the chat room as an image: line (closes), bar_line (volume bars and the "
            "close), candle (daily candlesticks). One chart per call; the room sees it at "
            "once, so do not describe the picture, only what it shows"));
    json_object_object_add(
        t, "parameters",
        json_tokener_parse(
            "{\"type\":\"object\",\"properties\":{"
            "\"kind\":{\"type\":\"string\",\"enum\":[\"line\",\"bar_line\",\"candle\"]},"
            "\"commodity\":{\"type\":\"string\",\"description\":\"Chinese name or code\"},"
            "\"days\":{\"type\":\"integer\",\"minimum\":2,\"maximum\":250},"
            "\"title\":{\"type\":\"string\",\"description\":\"optional chart title\"}},"
            "\"required\":[\"kind\",\"commodity\",\"days\"]}"));
    return t;
}

const char *chat_ai_draw_rows(apr_pool_t *p, const chat_ai_market *mk, const char *code, int days,
                              const char **json, const char **mapping)
{
    chat_fetch_reply r;

    if (!mk || !mk->base_url) {
        return "no market data source is configured (ChatAIMarketData)";
    }
    chat_fetch_request(p, apr_psprintf(p, "%s/history?code=%s&days=%d", mk->base_url, code, days),
                       NULL, NULL, mk->timeout, DRAW_MAX_DATA, &r);
    if (r.error || r.status != 200) {
        return apr_psprintf(p, "market data: %s",
                            r.error ? r.error : apr_psprintf(p, "HTTP %d", r.status));
    }
    *json = r.body;
    *mapping = "items=bars label=date";
    return NULL;
}

static const char *answer(apr_pool_t *p, const char *key, const char *text)
{
    json_object *o = json_object_new_object();
    const char *s;

    json_object_object_add(o, key, json_object_new_string(text));
    s = apr_pstrdup(p, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return s;
}

static const char *str_arg(json_object *args, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(args, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* One chart: NULL (posted) or why not; *summary says what was drawn. */
static const char *draw(apr_pool_t *p, chat_ai_draw *dr, json_object *args, const char **summary)
{
    const char *kind = str_arg(args, "kind"), *name = str_arg(args, "commodity");
    const char *title = str_arg(args, "title"), *code, *data, *mapping, *err;
    json_object *v;
    chat_chart c = {0};
    void *png = NULL;
    int days, size = 0;
    size_t k;

    for (k = 0; kind && k < NKINDS && strcmp(kind, kinds[k].kind); k++) {
    }
    if (!kind || k == NKINDS) {
        return apr_psprintf(p, "kind must be line, bar_line or candle, not '%s'", kind ? kind : "");
    }
    if (!(code = chat_ai_market_code(name))) {
        return apr_psprintf(p, "unknown commodity '%s'", name ? name : "");
    }
    days = json_object_object_get_ex(args, "days", &v) ? json_object_get_int(v) : 0;
    if (days < 2 || days > CHAT_AI_DRAW_MAX_ROWS) {
        return apr_psprintf(p, "days must be 2 to %d", CHAT_AI_DRAW_MAX_ROWS);
    }
    if ((err = chat_ai_draw_rows(p, dr->market, code, days, &data, &mapping))) {
        return err;
    }
    c.kind = chat_chart_kind_parse(kind);
    c.width = dr->width ? dr->width : CHAT_CHART_DEFAULT_W;
    c.height = dr->height ? dr->height : CHAT_CHART_DEFAULT_H;
    c.font = dr->font ? dr->font : CHAT_CHART_DEFAULT_FONT;
    c.title = title && *title ? title
              : strcasecmp(name, code)
                  ? apr_psprintf(p, "%s %s %s（近%d个交易日）", name, code, kinds[k].what, days)
                  : apr_psprintf(p, "%s %s（近%d个交易日）", code, kinds[k].what, days);
    if ((err = chat_chart_from_json(p, &c, data,
                                    apr_pstrcat(p, mapping, " ", kinds[k].mapping, NULL)))) {
        return apr_pstrcat(p, "market data: ", err, NULL);
    }
    if (c.n > CHAT_AI_DRAW_MAX_ROWS) {
        return apr_psprintf(p, "market data: %d rows, a chart takes at most %d", c.n,
                            CHAT_AI_DRAW_MAX_ROWS);
    }
    if ((err = chat_chart_render(p, &c, &png, &size)) ||
        (err = dr->post(p, dr->baton, png, size, c.title))) {
        return err;
    }
    *summary = apr_psprintf(p, "%s of %s (%s), %d rows, %d bytes", kind, name, code, c.n, size);
    return NULL;
}

const char *chat_ai_draw_call(apr_pool_t *p, void *ctx, const char *name, json_object *args)
{
    chat_ai_draw *dr = ctx;
    const char *err, *summary = NULL;

    if (strcmp(name, "draw_chart")) {
        return dr->next ? dr->next(p, dr->next_ctx, name, args)
                        : answer(p, "error", apr_psprintf(p, "no such tool '%s'", name));
    }
    if (dr->drawn >= CHAT_AI_DRAW_MAX_CHARTS) {
        err = apr_psprintf(p, "at most %d charts per question", CHAT_AI_DRAW_MAX_CHARTS);
    }
    else {
        err = draw(p, dr, args, &summary);
    }
    if (dr->log) {
        dr->log(dr->baton, err ? "draw_chart_failed" : "draw_chart", err ? err : summary);
    }
    if (err) {
        if (dr->fail) {
            dr->fail(p, dr->baton, err);
        }
        return answer(p, "error", err);
    }
    dr->drawn++;
    return answer(p, "posted",
                  apr_pstrcat(p, "The chart (", summary,
                              ") is posted in the room as an image; the members see it now.",
                              NULL));
}
