/* Scatter: x against y, each point named, labels placed where they hit no
 * other label; scatter_color adds a third field as the points' colour on a
 * sequential scale (dark blue to yellow, readable in grey) with a colour bar
 * and its caption at the right. */
#include <math.h>
#include <string.h>

#include <apr_strings.h>

#include "chat_chart_kinds.h"

/* Five stops of viridis: even steps of lightness, fine for colour-blind readers. */
static const int stops[][3] = {
    {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};

static int scale(gdImagePtr im, double t)
{
    double f;
    int k;

    t = t < 0 ? 0 : t > 1 ? 1 : t;
    k = t >= 1 ? 3 : (int)(t * 4);
    f = t * 4 - k;
    return gdImageColorAllocate(im, (int)lround(stops[k][0] + f * (stops[k + 1][0] - stops[k][0])),
                                (int)lround(stops[k][1] + f * (stops[k + 1][1] - stops[k][1])),
                                (int)lround(stops[k][2] + f * (stops[k + 1][2] - stops[k][2])));
}

/* The colour bar right of the plot: low at the bottom, ticks and caption. */
static void color_bar(apr_pool_t *p, chat_canvas *d, double lo, double hi, double step)
{
    int x0 = d->c->width - 92, x1 = x0 + 14, y, k;
    double v;

    for (y = d->y0; y <= d->y1; y++) {
        gdImageLine(d->im, x0, y, x1, y, scale(d->im, (double)(d->y1 - y) / (d->y1 - d->y0)));
    }
    gdImageRectangle(d->im, x0, d->y0, x1, d->y1, d->axis);
    for (k = 0; k <= 100 && (v = lo + k * step) <= hi + step / 2; k++) {
        int ty = d->y1 - (int)lround((v - lo) / (hi - lo) * (d->y1 - d->y0));
        gdImageLine(d->im, x1, ty, x1 + 3, ty, d->axis);
        chat_canvas_text(d, 9, 0, x1 + 6, ty + 4, d->muted, chat_canvas_number(p, v, step));
    }
    if (d->c->color_unit) {
        chat_canvas_text(d, 10, 0, x0 - 6, d->y0 - 10, d->muted, d->c->color_unit);
    }
}

void chat_chart_scatter_draw(apr_pool_t *p, chat_canvas *d)
{
    const chat_chart *c = d->c;
    double mn = 0, mx = 0, mn2 = 0, mx2 = 0, v;
    int up = gdImageColorAllocate(d->im, 220, 38, 38),
        down = gdImageColorAllocate(d->im, 22, 163, 74);
    int i, placed = 0, *boxes, colored = c->kind == CHAT_CHART_SCATTER_COLOR && c->color;
    double clo = 0, chi = 0, cstep = 0;

    chat_canvas_range(c->x, c->n, &mn, &mx);
    chat_canvas_range(c->y, c->n, &mn2, &mx2);
    d->x0 = 70;
    d->x1 = c->width - (colored ? 110 : 24); /* room for the colour bar */
    d->y0 = 50;
    d->y1 = c->height - 44;
    chat_canvas_nice_axis(mn2, mx2, 5, &d->lo, &d->hi, &d->step);
    chat_canvas_nice_axis(mn, mx, 6, &d->lo2, &d->hi2, &d->step2);
    chat_canvas_value_axes(p, d, 0);
    /* x axis: values, not categories */
    for (i = 0; i <= 100 && (v = d->lo2 + i * d->step2) <= d->hi2 + d->step2 / 2; i++) {
        int x = d->x0 + (int)lround((v - d->lo2) / (d->hi2 - d->lo2) * (d->x1 - d->x0));
        const char *s = chat_canvas_number(p, v, d->step2);
        gdImageLine(d->im, x, d->y0, x, d->y1, d->grid);
        chat_canvas_text(d, 10, 0, x - chat_canvas_text_width(d, 10, s) / 2, d->y1 + 18, d->muted,
                         s);
    }
    if (d->lo2 < 0 && d->hi2 > 0) {
        int x = d->x0 + (int)lround(-d->lo2 / (d->hi2 - d->lo2) * (d->x1 - d->x0));
        gdImageLine(d->im, x, d->y0, x, d->y1, d->axis);
    }
    if (d->lo < 0 && d->hi > 0) {
        gdImageLine(d->im, d->x0, chat_canvas_py(d, 0, 0), d->x1, chat_canvas_py(d, 0, 0), d->axis);
    }
    if (c->x_unit) {
        chat_canvas_text(d, 10, 0, d->x1 - chat_canvas_text_width(d, 10, c->x_unit), c->height - 6,
                         d->muted, c->x_unit);
    }
    if (colored) {
        double cmn = INFINITY, cmx = -INFINITY;
        chat_canvas_range(c->color, c->n, &cmn, &cmx);
        chat_canvas_nice_axis(cmn, cmx, 5, &clo, &chi, &cstep);
        color_bar(p, d, clo, chi, cstep);
    }
    /* points first, then labels placed where they hit no other label: right
     * above, right below, left above, left below; a label with no free place
     * is left out rather than drawn over another */
    boxes = apr_palloc(p, sizeof(int) * 4 * c->n);
    for (i = 0; i < c->n; i++) {
        int x = d->x0 + (int)lround((c->x[i] - d->lo2) / (d->hi2 - d->lo2) * (d->x1 - d->x0));
        if (colored) {
            gdImageFilledEllipse(d->im, x, chat_canvas_py(d, c->y[i], 0), 11, 11,
                                 scale(d->im, (c->color[i] - clo) / (chi - clo)));
            gdImageEllipse(d->im, x, chat_canvas_py(d, c->y[i], 0), 11, 11, d->muted);
        }
        else {
            gdImageFilledEllipse(d->im, x, chat_canvas_py(d, c->y[i], 0), 9, 9,
                                 c->x[i] >= 0 ? up : down);
        }
    }
    for (i = 0; i < c->n; i++) {
        int x = d->x0 + (int)lround((c->x[i] - d->lo2) / (d->hi2 - d->lo2) * (d->x1 - d->x0));
        int y = chat_canvas_py(d, c->y[i], 0), w, k;
        if (!c->labels[i]) {
            continue;
        }
        w = chat_canvas_text_width(d, 10, c->labels[i]);
        for (k = 0; k < 4; k++) {
            int bx = k < 2 ? x + 7 : x - 7 - w, by = k % 2 ? y + 16 : y - 5, j, free = 1;
            int box[4] = {bx, by - 12, bx + w, by + 3};
            for (j = 0; j < placed && free; j++) {
                const int *o = boxes + 4 * j;
                free = box[2] < o[0] || box[0] > o[2] || box[3] < o[1] || box[1] > o[3];
            }
            if (free && box[0] >= d->x0 && box[2] <= d->x1 && box[1] >= d->y0 - 4) {
                memcpy(boxes + 4 * placed++, box, sizeof(box));
                chat_canvas_text(d, 10, 0, bx, by, d->fg, c->labels[i]);
                break;
            }
        }
    }
}

const char *chat_chart_scatter_map_color(apr_pool_t *p, chat_chart *c, json_object *items,
                                         apr_table_t *m)
{
    const char *f = apr_table_get(m, "color") ? apr_table_get(m, "color") : "oi";

    c->color_unit = apr_table_get(m, "color_unit") ? apr_table_get(m, "color_unit") : f;
    return chat_chart_column(p, items, f, &c->color);
}
