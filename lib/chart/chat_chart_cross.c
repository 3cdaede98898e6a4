/* Cross-section comparison: every product's % change against its
 * settlement price (the exchanges' reference for the day's change), sorted
 * from the largest gain to the largest loss, one bar each; the top three and
 * bottom three are drawn deeper and carry their value. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "chat_chart_kinds.h"

#define MARKED 3

typedef struct entry {
    double v;
    const char *label;
    int at; /* position in the data: ties keep the data's order */
} entry;

static int entry_cmp(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    return x->v < y->v ? 1 : x->v > y->v ? -1 : x->at - y->at;
}

void chat_chart_cross_draw(apr_pool_t *p, chat_canvas *d)
{
    const chat_chart *c = d->c;
    chat_chart sorted = *c;
    entry *en = apr_palloc(p, sizeof(entry) * c->n);
    double mn = 0, mx = 0, pad;
    int i, half, slot, top = c->n < 2 * MARKED ? (c->n + 1) / 2 : MARKED,
                       bottom = c->n < 2 * MARKED ? c->n / 2 : MARKED;
    int cols[4] = {
        gdImageColorAllocate(d->im, 252, 165, 165), gdImageColorAllocate(d->im, 185, 28, 28),
        gdImageColorAllocate(d->im, 134, 239, 172), gdImageColorAllocate(d->im, 21, 128, 61)};
    const char *names[2] = {"涨幅前三", "跌幅前三"};
    int legend_cols[2] = {cols[1], cols[3]};

    for (i = 0; i < c->n; i++) {
        en[i].v = c->value[i];
        en[i].label = c->labels[i];
        en[i].at = i;
    }
    qsort(en, c->n, sizeof(entry), entry_cmp);
    sorted.labels = apr_palloc(p, sizeof(char *) * c->n);
    sorted.value = apr_palloc(p, sizeof(double) * c->n);
    for (i = 0; i < c->n; i++) {
        sorted.labels[i] = en[i].label;
        sorted.value[i] = en[i].v;
    }
    d->c = &sorted;
    chat_canvas_range(sorted.value, c->n, &mn, &mx);
    /* headroom for the values written past the ends of the marked bars */
    pad = (mx - mn) * 0.16;
    chat_canvas_plot_area(d, 0);
    chat_canvas_nice_axis(mn < 0 ? mn - pad : mn, mx > 0 ? mx + pad : mx, 8, &d->lo, &d->hi,
                          &d->step);
    chat_canvas_value_axes(p, d, 0);
    chat_canvas_category_axis(d);
    if (d->lo < 0 && d->hi > 0) {
        gdImageLine(d->im, d->x0, chat_canvas_py(d, 0, 0), d->x1, chat_canvas_py(d, 0, 0), d->axis);
    }
    slot = (d->x1 - d->x0) / c->n;
    half = (int)(slot * 0.35);
    half = half < 1 ? 1 : half;
    for (i = 0; i < c->n; i++) {
        double v = sorted.value[i];
        int marked = i < top || i >= c->n - bottom, x = chat_canvas_px(d, i);
        int y = chat_canvas_py(d, v, 0), z = chat_canvas_py(d, 0, 0);
        int col = cols[(v >= 0 ? 0 : 2) + marked];
        const char *s;
        int w;
        gdImageFilledRectangle(d->im, x - half, y < z ? y : z, x + half, y < z ? z : y, col);
        if (!marked) {
            continue;
        }
        s = apr_psprintf(p, "%+.2f%%", v);
        w = chat_canvas_text_width(d, 9, s);
        if (w + 4 <= slot) {
            chat_canvas_text(d, 9, 0, x - w / 2, v >= 0 ? y - 4 : y + 13, col, s);
        }
        else if (v >= 0) { /* upright, reading upwards from the bar's end */
            chat_canvas_text(d, 9, CHAT_CANVAS_PI / 2, x + 4, y - 4, col, s);
        }
        else {
            chat_canvas_text(d, 9, CHAT_CANVAS_PI / 2, x + 4, y + 4 + w, col, s);
        }
    }
    chat_canvas_legend(d, names, legend_cols, 2);
    d->c = c;
}

const char *chat_chart_cross_map(apr_pool_t *p, chat_chart *c, json_object *items, apr_table_t *m)
{
    double *price, *settle;
    const char *err;
    int i;

    if (!apr_table_get(m, "settle")) {
        return chat_chart_column(
            p, items, apr_table_get(m, "value") ? apr_table_get(m, "value") : "change", &c->value);
    }
    if ((err = chat_chart_column(
             p, items, apr_table_get(m, "price") ? apr_table_get(m, "price") : "close", &price)) ||
        (err = chat_chart_column(p, items, apr_table_get(m, "settle"), &settle))) {
        return err;
    }
    c->value = apr_palloc(p, sizeof(double) * c->n);
    for (i = 0; i < c->n; i++) {
        if (!(settle[i] > 0)) {
            return apr_psprintf(p, "item %d has no positive settlement in field '%s'", i,
                                apr_table_get(m, "settle"));
        }
        c->value[i] = (price[i] - settle[i]) / settle[i] * 100;
    }
    return NULL;
}
