/* The draw_chart tool: see chat_ai_draw.h. */
#include <apr_strings.h>

#include "chat_ai_draw.h"
#include "chat_ai_market.h"
#include "chat_chart.h"
#include "chat_fetch.h"

#define DRAW_MAX_DATA  (1024 * 1024)
#define DRAW_MAX_TITLE 120 /* bytes: about 40 Chinese characters */

/* A kind, whether it charts one commodity's history or today's market, its
 * title and the captions that go with the source's fields. */
static const struct {
    const char *kind, *what;
    int market;
    const char *captions;
} kinds[] = {
    {"line", "收盘价", 0, ""},
    {"bar_line", "成交量与收盘价", 0, "y_unit=手"},
    {"candle", "日K线", 0, ""},
    {"pie", "今日涨跌分布", 1, ""},
    {"cross_section", "各品种涨跌幅（相对结算价）", 1, "y_unit=涨跌幅%"},
    {"treemap", "各品种涨跌幅（面积为持仓量）", 1, ""},
    {"scatter", "涨跌幅与持仓变化", 1, "x_unit=涨跌幅% y_unit=持仓变化%"},
    {"scatter_color", "涨跌幅与持仓变化（颜色为成交量）", 1,
     "x_unit=涨跌幅% y_unit=持仓变化% color_unit=成交量"},
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
            "Draw a chart and post it in the chat room as an image. Of one Chinese futures "
            "commodity over its last N trading days (commodity and days required): line "
            "(closes), bar_line (volume bars and the close), candle (daily candlesticks). Of "
            "today's whole market (no commodity): pie (products bucketed by % change, counts "
            "and names), cross_section (every product's % change against its settlement, "
            "sorted), treemap (% change, area = open interest), scatter (change against "
            "open-interest change), scatter_color (the same coloured by volume). One chart "
            "per call; the room sees it at once, so do not describe the picture, only what "
            "it shows"));
    json_object_object_add(
        t, "parameters",
        json_tokener_parse(
            "{\"type\":\"object\",\"properties\":{"
            "\"kind\":{\"type\":\"string\",\"enum\":[\"line\",\"bar_line\",\"candle\","
            "\"pie\",\"cross_section\",\"treemap\",\"scatter\",\"scatter_color\"]},"
            "\"commodity\":{\"type\":\"string\",\"description\":\"Chinese name or code\"},"
            "\"days\":{\"type\":\"integer\",\"minimum\":2,\"maximum\":250},"
            "\"title\":{\"type\":\"string\",\"description\":\"optional chart title\"}},"
            "\"required\":[\"kind\"]}"));
    return t;
}

int chat_ai_draw_offered(const chat_ai_conf *ac)
{
    return ac && ac->market_url;
}

const char *chat_ai_draw_rows(apr_pool_t *p, const chat_ai_conf *ac, const char *kind,
                              const char *code, int days, const char **json, const char **mapping)
{
    chat_fetch_reply r;
    const char *url;

    if (!chat_ai_draw_offered(ac)) {
        return "no market data source is configured (ChatAIMarketData)";
    }
    /* history: {"bars":[{date,open,high,low,close,volume}]}; today's market:
     * {"rows":[{name,change,close,settle,oi,oi_change,volume}]} */
    if (!code) {
        url = apr_pstrcat(p, ac->market_url, "/cross", NULL);
        *mapping = !strcmp(kind, "cross_section")
                       ? "items=rows label=name price=close settle=settle"
                   : !strcmp(kind, "treemap") ? "items=rows label=name value=change weight=oi"
                   : !strcmp(kind, "pie")     ? "items=rows label=name value=change"
                                              : "items=rows label=name x=change y=oi_change "
                                                "color=volume";
    }
    else {
        url = apr_psprintf(p, "%s/history?code=%s&days=%d", ac->market_url, code, days);
        *mapping = !strcmp(kind, "line")       ? "items=bars label=date series=close:收盘价"
                   : !strcmp(kind, "bar_line") ? "items=bars label=date bar=volume:成交量 "
                                                 "line=close:收盘价"
                                               : "items=bars label=date";
    }
    chat_fetch_request(p, url, NULL, NULL,
                       apr_time_from_sec(ac->timeout > 0 ? ac->timeout : CHAT_AI_DEFAULT_TIMEOUT),
                       DRAW_MAX_DATA, &r);
    if (r.error || r.status != 200) {
        return apr_psprintf(p, "market data: %s",
                            r.error ? r.error : apr_psprintf(p, "HTTP %d", r.status));
    }
    *json = r.body;
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
    const char *title = str_arg(args, "title"), *code = NULL, *data, *mapping, *err;
    json_object *v;
    chat_chart c = {0};
    void *png = NULL;
    int days = 0, size = 0;
    size_t k;

    for (k = 0; kind && k < NKINDS && strcmp(kind, kinds[k].kind); k++) {
    }
    if (!kind || k == NKINDS) {
        return apr_psprintf(p,
                            "kind must be line, bar_line, candle, pie, cross_section, treemap, "
                            "scatter or scatter_color, not '%s'",
                            kind ? kind : "");
    }
    if (!kinds[k].market) {
        if (!(code = chat_ai_market_code(name))) {
            return apr_psprintf(p, "unknown commodity '%s'", name ? name : "");
        }
        days = json_object_object_get_ex(args, "days", &v) ? json_object_get_int(v) : 0;
        if (days < 2 || days > CHAT_AI_DRAW_MAX_ROWS) {
            return apr_psprintf(p, "days must be 2 to %d", CHAT_AI_DRAW_MAX_ROWS);
        }
    }
    if ((err = chat_ai_draw_rows(p, dr->ac, kind, code, days, &data, &mapping))) {
        return err;
    }
    c.kind = chat_chart_kind_parse(kind);
    c.width = dr->width ? dr->width : CHAT_CHART_DEFAULT_W;
    c.height = dr->height ? dr->height : CHAT_CHART_DEFAULT_H;
    c.font = dr->font ? dr->font : CHAT_CHART_DEFAULT_FONT;
    /* the model's title when it gave a sensible one */
    c.title = title && *title && strlen(title) <= DRAW_MAX_TITLE ? title
              : !code                                            ? kinds[k].what
              : strcasecmp(name, code)
                  ? apr_psprintf(p, "%s %s %s（近%d个交易日）", name, code, kinds[k].what, days)
                  : apr_psprintf(p, "%s %s（近%d个交易日）", code, kinds[k].what, days);
    if ((err = chat_chart_from_json(p, &c, data,
                                    apr_pstrcat(p, mapping, " ", kinds[k].captions, NULL)))) {
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
    *summary =
        code ? apr_psprintf(p, "%s of %s (%s), %d rows, %d bytes", kind, name, code, c.n, size)
             : apr_psprintf(p, "%s of today's market, %d rows, %d bytes", kind, c.n, size);
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
