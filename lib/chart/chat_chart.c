/* Market charts with libgd: see chat_chart.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <gd.h>
#include <json.h>

#include "chat_chart.h"
#include "chat_chart_canvas.h"
#include "chat_chart_kinds.h"

static apr_status_t font_cache_free(void *data)
{
    (void)data;
    gdFontCacheShutdown(); /* a no-op when another user freed it already */
    return APR_SUCCESS;
}

void chat_chart_setup(apr_pool_t *p)
{
    gdFontCacheSetup(); /* a no-op when already set up */
    apr_pool_cleanup_register(p, NULL, font_cache_free, apr_pool_cleanup_null);
}

chat_chart_kind chat_chart_kind_parse(const char *name)
{
    static const struct {
        const char *name;
        chat_chart_kind kind;
    } k[] = {{"line", CHAT_CHART_LINE},
             {"bar_line", CHAT_CHART_BAR_LINE},
             {"candle", CHAT_CHART_CANDLE},
             {"candlestick", CHAT_CHART_CANDLE},
             {"treemap", CHAT_CHART_TREEMAP},
             {"scatter", CHAT_CHART_SCATTER},
             {"pie", CHAT_CHART_PIE},
             {"cross_section", CHAT_CHART_CROSS},
             {"scatter_color", CHAT_CHART_SCATTER_COLOR}};
    size_t i;

    for (i = 0; name && i < sizeof(k) / sizeof(k[0]); i++) {
        if (!strcmp(name, k[i].name)) {
            return k[i].kind;
        }
    }
    return 0;
}

static void draw_line(apr_pool_t *p, chat_canvas *d)
{
    const chat_chart *c = d->c;
    double mn = INFINITY, mx = -INFINITY;
    const char *names[16];
    int cols[16], s, i, k = c->series->nelts < 16 ? c->series->nelts : 16;

    for (s = 0; s < k; s++) {
        chat_canvas_range(APR_ARRAY_IDX(c->series, s, chat_chart_series).v, c->n, &mn, &mx);
    }
    chat_canvas_plot_area(d, 0);
    chat_canvas_nice_axis(mn, mx, 5, &d->lo, &d->hi, &d->step);
    chat_canvas_value_axes(p, d, 0);
    chat_canvas_category_axis(d);
    gdImageSetThickness(d->im, 2);
    for (s = 0; s < k; s++) {
        const chat_chart_series *se = &APR_ARRAY_IDX(c->series, s, chat_chart_series);
        cols[s] = chat_canvas_color(d->im, s);
        names[s] = se->name;
        for (i = 1; i < c->n; i++) {
            gdImageLine(d->im, chat_canvas_px(d, i - 1), chat_canvas_py(d, se->v[i - 1], 0),
                        chat_canvas_px(d, i), chat_canvas_py(d, se->v[i], 0), cols[s]);
        }
        if (c->n == 1) {
            gdImageFilledEllipse(d->im, chat_canvas_px(d, 0), chat_canvas_py(d, se->v[0], 0), 6, 6,
                                 cols[s]);
        }
    }
    gdImageSetThickness(d->im, 1);
    chat_canvas_legend(d, names, cols, k);
}

static void draw_bar_line(apr_pool_t *p, chat_canvas *d)
{
    const chat_chart *c = d->c;
    const chat_chart_series *bars = &APR_ARRAY_IDX(c->series, 0, chat_chart_series);
    const chat_chart_series *line = &APR_ARRAY_IDX(c->series, 1, chat_chart_series);
    double mn = 0, mx = 0, mn2 = INFINITY, mx2 = -INFINITY;
    const char *names[2] = {bars->name, line->name};
    int cols[2], i, half;

    chat_canvas_range(bars->v, c->n, &mn, &mx); /* bars start at zero */
    chat_canvas_range(line->v, c->n, &mn2, &mx2);
    chat_canvas_plot_area(d, 1);
    chat_canvas_nice_axis(mn, mx, 5, &d->lo, &d->hi, &d->step);
    chat_canvas_nice_axis(mn2, mx2, 5, &d->lo2, &d->hi2, &d->step2);
    chat_canvas_value_axes(p, d, 1);
    chat_canvas_category_axis(d);
    cols[0] = gdImageColorAllocate(d->im, 96, 165, 250);
    cols[1] = chat_canvas_color(d->im, 1);
    half = (int)((d->x1 - d->x0) / (double)c->n * 0.35);
    half = half < 1 ? 1 : half;
    for (i = 0; i < c->n; i++) {
        int y = chat_canvas_py(d, bars->v[i], 0), z = chat_canvas_py(d, 0, 0);
        gdImageFilledRectangle(d->im, chat_canvas_px(d, i) - half, y < z ? y : z,
                               chat_canvas_px(d, i) + half, y < z ? z : y, cols[0]);
    }
    gdImageSetThickness(d->im, 2);
    for (i = 1; i < c->n; i++) {
        gdImageLine(d->im, chat_canvas_px(d, i - 1), chat_canvas_py(d, line->v[i - 1], 1),
                    chat_canvas_px(d, i), chat_canvas_py(d, line->v[i], 1), cols[1]);
    }
    gdImageSetThickness(d->im, 1);
    for (i = 0; i < c->n; i++) {
        gdImageFilledEllipse(d->im, chat_canvas_px(d, i), chat_canvas_py(d, line->v[i], 1), 5, 5,
                             cols[1]);
    }
    chat_canvas_legend(d, names, cols, 2);
}

static void draw_candle(apr_pool_t *p, chat_canvas *d)
{
    const chat_chart *c = d->c;
    double mn = INFINITY, mx = -INFINITY;
    int up = gdImageColorAllocate(d->im, 220, 38, 38),
        down = gdImageColorAllocate(d->im, 22, 163, 74);
    int i, half;

    chat_canvas_range(c->low, c->n, &mn, &mx);
    chat_canvas_range(c->high, c->n, &mn, &mx);
    chat_canvas_plot_area(d, 0);
    chat_canvas_nice_axis(mn, mx, 5, &d->lo, &d->hi, &d->step);
    chat_canvas_value_axes(p, d, 0);
    chat_canvas_category_axis(d);
    half = (int)((d->x1 - d->x0) / (double)c->n * 0.32);
    half = half < 1 ? 1 : half;
    for (i = 0; i < c->n; i++) {
        int col = c->close[i] >= c->open[i] ? up : down, x = chat_canvas_px(d, i);
        int yo = chat_canvas_py(d, c->open[i], 0), yc = chat_canvas_py(d, c->close[i], 0);
        gdImageLine(d->im, x, chat_canvas_py(d, c->high[i], 0), x, chat_canvas_py(d, c->low[i], 0),
                    col);
        gdImageFilledRectangle(d->im, x - half, yo < yc ? yo : yc, x + half,
                               yo < yc ? (yc > yo ? yc : yo + 1) : (yo > yc ? yo : yc + 1), col);
    }
}

/* Treemap: items split into two groups of about equal area, the rectangle
 * cut across its longer side, recursively (good aspect ratios, stable). */
typedef struct tm_item {
    double w, v;
    const char *name;
} tm_item;

static int tm_cmp(const void *a, const void *b)
{
    double x = ((const tm_item *)a)->w, y = ((const tm_item *)b)->w;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void tm_cell(apr_pool_t *p, chat_canvas *d, const tm_item *it, int x0, int y0, int x1,
                    int y1, double maxabs)
{
    double t = maxabs > 0 ? fmin(fabs(it->v) / maxabs, 1.0) : 0;
    int col, w = x1 - x0, h = y1 - y0;
    const char *pct = apr_psprintf(p, "%+.2f%%", it->v);

    /* red up, green down; stronger for larger moves */
    if (it->v > 0) {
        col = gdImageColorAllocate(d->im, 255 - (int)(55 * t), 205 - (int)(170 * t),
                                   205 - (int)(170 * t));
    }
    else if (it->v < 0) {
        col = gdImageColorAllocate(d->im, 200 - (int)(180 * t), 235 - (int)(90 * t),
                                   200 - (int)(150 * t));
    }
    else {
        col = gdImageColorAllocate(d->im, 210, 213, 219);
    }
    gdImageFilledRectangle(d->im, x0, y0, x1, y1, col);
    gdImageRectangle(d->im, x0, y0, x1, y1, d->white);
    if (w > 36 && h > 30) {
        double size = h > 70 && w > 90 ? 14 : 10;
        int tc = t > 0.55 ? d->white : d->fg;
        if (chat_canvas_text_width(d, size, it->name) < w - 6) {
            chat_canvas_text_center(d, size, (x0 + x1) / 2, (y0 + y1) / 2 - 2, tc, it->name);
            chat_canvas_text_center(d, size * 0.85, (x0 + x1) / 2,
                                    (y0 + y1) / 2 + (int)(size * 1.3), tc, pct);
        }
    }
}

static void tm_split(apr_pool_t *p, chat_canvas *d, const tm_item *it, int n, int x0, int y0,
                     int x1, int y1, double maxabs)
{
    double total = 0, acc = 0;
    int i, k;

    if (n == 1) {
        tm_cell(p, d, it, x0, y0, x1, y1, maxabs);
        return;
    }
    for (i = 0; i < n; i++) {
        total += it[i].w;
    }
    for (k = 0; k < n - 1 && acc + it[k].w <= total / 2; k++) {
        acc += it[k].w;
    }
    if (k == 0) {
        acc = it[0].w;
        k = 1;
    }
    if (x1 - x0 >= y1 - y0) {
        int xm = x0 + (int)lround((x1 - x0) * (total > 0 ? acc / total : 0.5));
        tm_split(p, d, it, k, x0, y0, xm, y1, maxabs);
        tm_split(p, d, it + k, n - k, xm, y0, x1, y1, maxabs);
    }
    else {
        int ym = y0 + (int)lround((y1 - y0) * (total > 0 ? acc / total : 0.5));
        tm_split(p, d, it, k, x0, y0, x1, ym, maxabs);
        tm_split(p, d, it + k, n - k, x0, ym, x1, y1, maxabs);
    }
}

static void draw_treemap(apr_pool_t *p, chat_canvas *d)
{
    const chat_chart *c = d->c;
    tm_item *it = apr_pcalloc(p, sizeof(tm_item) * c->n);
    double maxabs = 0;
    int i;

    for (i = 0; i < c->n; i++) {
        it[i].w = c->weight ? fabs(c->weight[i]) : 1;
        it[i].v = c->value[i];
        it[i].name = c->labels[i] ? c->labels[i] : "";
        maxabs = fmax(maxabs, fabs(c->value[i]));
    }
    qsort(it, c->n, sizeof(tm_item), tm_cmp);
    tm_split(p, d, it, c->n, 8, 44, c->width - 8, c->height - 8, maxabs);
}

const char *chat_chart_render(apr_pool_t *p, const chat_chart *c, void **png, int *size)
{
    chat_canvas d;
    void *data;
    int i;

    memset(&d, 0, sizeof(d));
    d.c = c;
    if (c->width < 200 || c->height < 150 || c->width > 4000 || c->height > 4000) {
        return "chart size must be 200x150 to 4000x4000";
    }
    if (c->n < 1) {
        return "no data to chart";
    }
    if ((c->kind == CHAT_CHART_LINE && (!c->series || !c->series->nelts)) ||
        (c->kind == CHAT_CHART_BAR_LINE && (!c->series || c->series->nelts < 2)) ||
        (c->kind == CHAT_CHART_CANDLE && (!c->open || !c->high || !c->low || !c->close)) ||
        ((c->kind == CHAT_CHART_TREEMAP || c->kind == CHAT_CHART_PIE ||
          c->kind == CHAT_CHART_CROSS) &&
         !c->value) ||
        (c->kind == CHAT_CHART_SCATTER_COLOR && !c->color) ||
        ((c->kind == CHAT_CHART_SCATTER || c->kind == CHAT_CHART_SCATTER_COLOR) &&
         (!c->x || !c->y)) ||
        !c->labels) {
        return "the data lacks a field this kind of chart needs";
    }
    d.font = apr_pstrdup(p, c->font);
    d.im = gdImageCreateTrueColor(c->width, c->height);
    d.white = gdImageColorAllocate(d.im, 255, 255, 255);
    d.fg = gdImageColorAllocate(d.im, 31, 41, 55);
    d.muted = gdImageColorAllocate(d.im, 107, 114, 128);
    d.grid = gdImageColorAllocate(d.im, 229, 231, 235);
    d.axis = gdImageColorAllocate(d.im, 156, 163, 175);
    gdImageFilledRectangle(d.im, 0, 0, c->width - 1, c->height - 1, d.white);
    if (c->title) {
        chat_canvas_text_center(&d, 16, c->width / 2, 28, d.fg, c->title);
    }
    switch (c->kind) {
    case CHAT_CHART_LINE:
        draw_line(p, &d);
        break;
    case CHAT_CHART_BAR_LINE:
        draw_bar_line(p, &d);
        break;
    case CHAT_CHART_CANDLE:
        draw_candle(p, &d);
        break;
    case CHAT_CHART_TREEMAP:
        draw_treemap(p, &d);
        break;
    case CHAT_CHART_PIE:
        chat_chart_pie_draw(p, &d);
        break;
    case CHAT_CHART_CROSS:
        chat_chart_cross_draw(p, &d);
        break;
    default:
        chat_chart_scatter_draw(p, &d);
        break;
    }
    if (d.err) {
        gdImageDestroy(d.im);
        return apr_psprintf(p, "font %s: %s", c->font, d.err);
    }
    data = gdImagePngPtr(d.im, &i);
    gdImageDestroy(d.im);
    if (!data) {
        return "PNG encoding failed";
    }
    *png = apr_pmemdup(p, data, i);
    *size = i;
    gdFree(data);
    return NULL;
}

/* ------------------------------------------------------------- JSON mapping */

static json_object *walk(json_object *o, const char *path, apr_pool_t *p)
{
    char *copy = apr_pstrdup(p, path), *tok, *last;

    for (tok = apr_strtok(copy, ".", &last); tok && o; tok = apr_strtok(NULL, ".", &last)) {
        json_object *next = NULL;
        if (!json_object_object_get_ex(o, tok, &next)) {
            return NULL;
        }
        o = next;
    }
    return o;
}

static int number_of(json_object *o, double *out)
{
    char *end;

    if (json_object_is_type(o, json_type_double) || json_object_is_type(o, json_type_int)) {
        *out = json_object_get_double(o);
        return isfinite(*out);
    }
    if (json_object_is_type(o, json_type_string)) {
        /* "3,520.5" and "-0.85%" as data APIs send them */
        const char *s = json_object_get_string(o);
        char buf[64];
        size_t i, k = 0;
        for (i = 0; s[i] && k < sizeof(buf) - 1; i++) {
            if (s[i] != ',' && s[i] != '%' && s[i] != ' ') {
                buf[k++] = s[i];
            }
        }
        buf[k] = '\0';
        *out = strtod(buf, &end);
        return k && !*end && isfinite(*out);
    }
    return 0;
}

static const char *column(apr_pool_t *p, json_object *items, const char *field, double **out)
{
    int i, n = (int)json_object_array_length(items);
    double *v = apr_palloc(p, sizeof(double) * (n ? n : 1));

    for (i = 0; i < n; i++) {
        json_object *f = NULL;
        if (!json_object_object_get_ex(json_object_array_get_idx(items, i), field, &f) ||
            !number_of(f, &v[i])) {
            return apr_psprintf(p, "item %d has no number in field '%s'", i, field);
        }
    }
    *out = v;
    return NULL;
}

const char *chat_chart_from_json(apr_pool_t *p, chat_chart *c, const char *json,
                                 const char *mapping)
{
    json_object *root = json_tokener_parse(json), *items;
    apr_table_t *m = apr_table_make(p, 8);
    char *copy = apr_pstrdup(p, mapping ? mapping : ""), *tok, *last;
    const char *err = NULL, *f;
    int i, n;

    if (!root) {
        return "the data source did not answer JSON";
    }
    for (tok = apr_strtok(copy, " \t", &last); tok; tok = apr_strtok(NULL, " \t", &last)) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok || !eq[1]) {
            json_object_put(root);
            return apr_psprintf(p, "mapping '%s' is not field=value", tok);
        }
        *eq = '\0';
        apr_table_setn(m, tok, eq + 1);
    }
    items = json_object_is_type(root, json_type_array)
                ? root
                : walk(root, apr_table_get(m, "items") ? apr_table_get(m, "items") : "data", p);
    if (!items || !json_object_is_type(items, json_type_array)) {
        json_object_put(root);
        return apr_psprintf(p, "no array at '%s' in the data",
                            apr_table_get(m, "items") ? apr_table_get(m, "items") : "data");
    }
    /* axis captions travel with the mapping: they describe the data's units */
    if (apr_table_get(m, "y_unit")) {
        c->y_unit = apr_table_get(m, "y_unit");
    }
    if (apr_table_get(m, "y2_unit")) {
        c->y2_unit = apr_table_get(m, "y2_unit");
    }
    if (apr_table_get(m, "x_unit")) {
        c->x_unit = apr_table_get(m, "x_unit");
    }
    n = (int)json_object_array_length(items);
    if (n < 1 || n > 2000) {
        json_object_put(root);
        return apr_psprintf(p, "%d items: a chart needs 1 to 2000", n);
    }
    c->n = n;
    c->labels = apr_pcalloc(p, sizeof(char *) * n);
    f = apr_table_get(m, "label") ? apr_table_get(m, "label") : "name";
    for (i = 0; i < n; i++) {
        json_object *v = NULL;
        if (json_object_object_get_ex(json_object_array_get_idx(items, i), f, &v) && v) {
            c->labels[i] = apr_pstrdup(p, json_object_get_string(v));
        }
    }
    switch (c->kind) {
    case CHAT_CHART_LINE:
    case CHAT_CHART_BAR_LINE: {
        /* line: series=close,settle:结算价 ; bar_line: bar=volume line=close */
        const char *spec =
            c->kind == CHAT_CHART_LINE
                ? apr_table_get(m, "series")
                : apr_pstrcat(p, apr_table_get(m, "bar") ? apr_table_get(m, "bar") : "volume", ",",
                              apr_table_get(m, "line") ? apr_table_get(m, "line") : "close", NULL);
        char *s = apr_pstrdup(p, spec ? spec : "value"), *fld, *l2;
        c->series = apr_array_make(p, 4, sizeof(chat_chart_series));
        for (fld = apr_strtok(s, ",", &l2); fld && !err; fld = apr_strtok(NULL, ",", &l2)) {
            chat_chart_series *se = apr_array_push(c->series);
            char *colon = strchr(fld, ':');
            if (colon) {
                *colon = '\0';
            }
            se->name = colon ? colon + 1 : fld;
            err = column(p, items, fld, &se->v);
        }
        break;
    }
    case CHAT_CHART_CANDLE:
        if (!(err = column(p, items, apr_table_get(m, "open") ? apr_table_get(m, "open") : "open",
                           &c->open)) &&
            !(err = column(p, items, apr_table_get(m, "high") ? apr_table_get(m, "high") : "high",
                           &c->high)) &&
            !(err = column(p, items, apr_table_get(m, "low") ? apr_table_get(m, "low") : "low",
                           &c->low))) {
            err = column(p, items, apr_table_get(m, "close") ? apr_table_get(m, "close") : "close",
                         &c->close);
        }
        break;
    case CHAT_CHART_TREEMAP:
        if (!(err =
                  column(p, items, apr_table_get(m, "value") ? apr_table_get(m, "value") : "change",
                         &c->value)) &&
            apr_table_get(m, "weight")) {
            err = column(p, items, apr_table_get(m, "weight"), &c->weight);
        }
        break;
    case CHAT_CHART_PIE:
        err = chat_chart_pie_map(p, c, items, m);
        break;
    case CHAT_CHART_CROSS:
        err = chat_chart_cross_map(p, c, items, m);
        break;
    default:
        if (!(err = column(p, items, apr_table_get(m, "x") ? apr_table_get(m, "x") : "change",
                           &c->x))) {
            err = column(p, items, apr_table_get(m, "y") ? apr_table_get(m, "y") : "oi_change",
                         &c->y);
        }
        if (!err && c->kind == CHAT_CHART_SCATTER_COLOR) {
            err = chat_chart_scatter_map_color(p, c, items, m);
        }
        break;
    }
    json_object_put(root);
    return err;
}

const char *chat_chart_column(apr_pool_t *p, json_object *items, const char *field, double **out)
{
    return column(p, items, field, out);
}

const char *chat_chart_save(apr_pool_t *p, const void *png, int size, const char *dir,
                            const char *url_base, const char **url)
{
    apr_uint64_t rnd;
    const char *name, *final;
    char *tmp;
    apr_file_t *f;

    if (!dir) {
        return "charts are stored like uploads: the server has no ChatUploadDir";
    }
    apr_generate_random_bytes((unsigned char *)&rnd, sizeof(rnd));
    name = apr_psprintf(p, "%016" APR_UINT64_T_HEX_FMT ".png", rnd);
    tmp = apr_pstrcat(p, dir, "/.chart-XXXXXX", NULL);
    if (apr_file_mktemp(&f, tmp, APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_EXCL, p) !=
        APR_SUCCESS) {
        return apr_psprintf(p, "cannot write the chart in %s", dir);
    }
    final = apr_pstrcat(p, dir, "/", name, NULL);
    if (apr_file_write_full(f, png, (apr_size_t)size, NULL) != APR_SUCCESS ||
        apr_file_close(f) != APR_SUCCESS ||
        apr_file_perms_set(tmp, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD |
                                    APR_FPROT_WREAD) != APR_SUCCESS ||
        apr_file_rename(tmp, final, p) != APR_SUCCESS) {
        apr_file_remove(tmp, p);
        return "cannot store the chart";
    }
    *url = apr_pstrcat(p, url_base ? url_base : "/chat/files", "/", name, NULL);
    return NULL;
}
