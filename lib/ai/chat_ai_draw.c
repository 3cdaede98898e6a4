/* The draw_chart tool: see chat_ai_draw.h. */
#include <apr_strings.h>

#include "chat_ai_draw.h"
#include "chat_ai_tools.h"
#include "chat_chart.h"
#include "chat_source_fetch.h"

#define DRAW_MAX_TITLE 120 /* bytes: about 40 Chinese characters */

/* A kind, whether it charts one commodity's history (ChatAITool history) or
 * today's market (ChatAITool board), its title, the fields of the source's
 * rows it needs, how the chart reads them (label= is added: time or date,
 * name or code), and the captions that go with them. */
static const struct {
    const char *kind, *what;
    int market;
    const char *needs, *mapping, *captions;
} kinds[] = {
    {"line", "收盘价", 0, "close", "series=close:收盘价", ""},
    {"bar_line", "成交量与收盘价", 0, "volume close", "bar=volume:成交量 line=close:收盘价",
     "y_unit=手"},
    {"candle", "日K线", 0, "open high low close", "", ""},
    {"pie", "今日涨跌分布", 1, "change", "value=change", ""},
    /* against the settlement price when the rows have one, else the change as given */
    {"cross_section", "各品种涨跌幅（相对结算价）", 1, "change", "value=change", "y_unit=涨跌幅%"},
    {"treemap", "各品种涨跌幅（面积为持仓量）", 1, "change oi", "value=change weight=oi", ""},
    {"scatter", "涨跌幅与持仓变化", 1, "change oi_change", "x=change y=oi_change",
     "x_unit=涨跌幅% y_unit=持仓变化%"},
    {"scatter_color", "涨跌幅与持仓变化（颜色为成交量）", 1, "change oi_change volume",
     "x=change y=oi_change color=volume", "x_unit=涨跌幅% y_unit=持仓变化% color_unit=成交量"},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

void chat_ai_draw_setup(apr_pool_t *p)
{
    chat_chart_setup(p);
}

static const chat_source *source_of(const chat_ai_conf *ac, int market)
{
    return ac ? ac->tool_src[market ? CHAT_AI_TOOL_BOARD : CHAT_AI_TOOL_HISTORY] : NULL;
}

int chat_ai_draw_offered(const chat_ai_conf *ac)
{
    return source_of(ac, 0) || source_of(ac, 1);
}

int chat_ai_draw_max_rows(const chat_ai_conf *ac)
{
    return ac->tool_rows > 0 && ac->tool_rows < CHAT_AI_DRAW_MAX_ROWS ? ac->tool_rows
                                                                      : CHAT_AI_DRAW_MAX_ROWS;
}

json_object *chat_ai_draw_tool(apr_pool_t *p, const chat_ai_conf *ac)
{
    int history = source_of(ac, 0) != NULL, market = source_of(ac, 1) != NULL;
    json_object *t = json_object_new_object(), *params, *props, *kind, *names, *o;
    size_t k;

    json_object_object_add(t, "name", json_object_new_string("draw_chart"));
    json_object_object_add(
        t, "description",
        json_object_new_string(apr_pstrcat(
            p, "Draw a chart and post it in the chat room as an image. ",
            history ? "Of one Chinese futures commodity over its last N trading days (commodity "
                      "and days required): line (closes), bar_line (volume bars and the close), "
                      "candle (daily candlesticks). "
                    : "",
            market ? "Of today's whole market (no commodity): pie (products bucketed by % change, "
                     "counts and names), cross_section (every product's % change against its "
                     "settlement, sorted), treemap (% change, area = open interest), scatter "
                     "(change against open-interest change), scatter_color (the same coloured "
                     "by volume). "
                   : "",
            "One chart per call; the room sees it at once, so do not describe the picture, "
            "only what it shows",
            NULL)));
    params = json_object_new_object();
    props = json_object_new_object();
    kind = json_object_new_object();
    names = json_object_new_array();
    for (k = 0; k < NKINDS; k++) {
        if (kinds[k].market ? market : history) {
            json_object_array_add(names, json_object_new_string(kinds[k].kind));
        }
    }
    json_object_object_add(kind, "type", json_object_new_string("string"));
    json_object_object_add(kind, "enum", names);
    json_object_object_add(props, "kind", kind);
    if (history) {
        o = json_object_new_object();
        json_object_object_add(o, "type", json_object_new_string("string"));
        json_object_object_add(o, "description", json_object_new_string("Chinese name or code"));
        json_object_object_add(props, "commodity", o);
        o = json_object_new_object();
        json_object_object_add(o, "type", json_object_new_string("integer"));
        json_object_object_add(o, "minimum", json_object_new_int(2));
        json_object_object_add(o, "maximum", json_object_new_int(chat_ai_draw_max_rows(ac)));
        json_object_object_add(props, "days", o);
    }
    o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("string"));
    json_object_object_add(o, "description", json_object_new_string("optional chart title"));
    json_object_object_add(props, "title", o);
    json_object_object_add(params, "type", json_object_new_string("object"));
    json_object_object_add(params, "properties", props);
    json_object_object_add(params, "required", json_tokener_parse("[\"kind\"]"));
    json_object_object_add(t, "parameters", params);
    return t;
}

static int has(json_object *row, const char *field)
{
    return json_object_object_get_ex(row, field, NULL);
}

const char *chat_ai_draw_rows(apr_pool_t *p, const chat_ai_conf *ac, const char *kind,
                              const char *code, int days, const char **json, const char **mapping,
                              int *n)
{
    const chat_source *src;
    const char *err = NULL, *label;
    json_object *rows, *first, *keep;
    int limit = chat_ai_draw_max_rows(ac), i, total, settled;
    size_t k;
    char *need, *word, *last;

    for (k = 0; k < NKINDS && strcmp(kind, kinds[k].kind); k++) {
    }
    if (k == NKINDS) {
        return apr_psprintf(p, "no chart kind '%s'", kind);
    }
    if (!(src = source_of(ac, kinds[k].market))) {
        return kinds[k].market ? "no source of today's market is configured (ChatAITool board)"
                               : "no history source is configured (ChatAITool history)";
    }
    /* the same placeholders, cache and sentences as the data tools */
    if (!(rows = chat_source_fetch(p, src, chat_ai_tools_vars(p, code, days, days), 0, &err))) {
        return err;
    }
    total = (int)json_object_array_length(rows);
    if (!total) {
        json_object_put(rows);
        return code ? apr_psprintf(p, "the data source '%s' has no bars for '%s'", src->name, code)
                    : apr_psprintf(p, "the data source '%s' has no rows", src->name);
    }
    if (code && total > days) { /* the newest days bars */
        keep = json_object_new_array();
        for (i = total - days; i < total; i++) {
            json_object_array_add(keep, json_object_get(json_object_array_get_idx(rows, i)));
        }
        json_object_put(rows);
        rows = keep;
        total = days;
    }
    if (total > limit) {
        json_object_put(rows);
        return apr_psprintf(p, "the data source '%s' has %d rows, a chart takes at most %d",
                            src->name, total, limit);
    }
    first = json_object_array_get_idx(rows, 0);
    settled = !strcmp(kind, "cross_section") && has(first, "close") && has(first, "settle");
    need = apr_pstrdup(p, settled ? "close settle" : kinds[k].needs);
    for (word = apr_strtok(need, " ", &last); word; word = apr_strtok(NULL, " ", &last)) {
        if (!has(first, word)) {
            json_object_put(rows);
            return apr_psprintf(p, "the data source '%s' has no field '%s' (a %s chart needs %s)",
                                src->name, word, kind, kinds[k].needs);
        }
    }
    label = code ? (has(first, "time") ? "time" : "date") : has(first, "name") ? "name" : "code";
    *mapping = apr_pstrcat(p, "label=", label, " ",
                           settled ? "price=close settle=settle" : kinds[k].mapping, " ",
                           kinds[k].captions, NULL);
    *json = apr_pstrdup(p, json_object_to_json_string_ext(rows, JSON_C_TO_STRING_PLAIN));
    *n = total;
    json_object_put(rows);
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
    int days = 0, size = 0, n = 0, limit = chat_ai_draw_max_rows(dr->ac);
    size_t k;

    for (k = 0; kind && k < NKINDS && strcmp(kind, kinds[k].kind); k++) {
    }
    if (!kind || k == NKINDS) {
        return apr_psprintf(p,
                            "kind must be line, bar_line, candle, pie, cross_section, treemap, "
                            "scatter or scatter_color, not '%s'",
                            kind ? kind : "");
    }
    if (!kinds[k].market && source_of(dr->ac, 0)) {
        if (!(code = chat_ai_tools_code(p, name, &err))) {
            return err;
        }
        days = json_object_object_get_ex(args, "days", &v) ? json_object_get_int(v) : 0;
        if (days < 2 || days > limit) {
            return apr_psprintf(p, "days must be 2 to %d", limit);
        }
    }
    if ((err = chat_ai_draw_rows(p, dr->ac, kind, code, days, &data, &mapping, &n))) {
        return err;
    }
    c.kind = chat_chart_kind_parse(kind);
    c.width = dr->width ? dr->width : CHAT_CHART_DEFAULT_W;
    c.height = dr->height ? dr->height : CHAT_CHART_DEFAULT_H;
    c.font = dr->font ? dr->font : CHAT_CHART_DEFAULT_FONT;
    /* the model's title when it gave a sensible one; the days drawn, not asked for */
    c.title = title && *title && strlen(title) <= DRAW_MAX_TITLE ? title
              : !code                                            ? kinds[k].what
              : strcasecmp(name, code)
                  ? apr_psprintf(p, "%s %s %s（近%d个交易日）", name, code, kinds[k].what, n)
                  : apr_psprintf(p, "%s %s（近%d个交易日）", code, kinds[k].what, n);
    if ((err = chat_chart_from_json(p, &c, data, mapping))) {
        return apr_psprintf(p, "the data source '%s' cannot be charted: %s",
                            source_of(dr->ac, kinds[k].market)->name, err);
    }
    if ((err = chat_chart_render(p, &c, &png, &size)) ||
        (err = dr->post(p, dr->baton, png, size, c.title))) {
        return err;
    }
    *summary = code ? apr_psprintf(p, "%s of %s (%s), %d rows, %d bytes, from %s", kind, name, code,
                                   c.n, size, source_of(dr->ac, 0)->name)
                    : apr_psprintf(p, "%s of today's market, %d rows, %d bytes, from %s", kind, c.n,
                                   size, source_of(dr->ac, 1)->name);
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
