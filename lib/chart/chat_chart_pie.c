/* Distribution pie: products bucketed by today's % change (default edges
 * -3, -1, 0, 1, 3: <-3%, -3~-1%, -1~0%, 0~1%, 1~3%, >=3%; a bucket holds
 * edge <= v < next edge, so a flat product counts with 0~1%). Slices go
 * clockwise from twelve o'clock, largest gains first, red for gains and green
 * for losses (the Chinese convention), deeper for larger moves; the hole
 * holds the total; the legend gives each bucket's count, share and names. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "chat_chart_kinds.h"

#define MAX_EDGES 9

static const double default_edges[] = {-3, -1, 0, 1, 3};

typedef struct bucket {
    int count, col, deep; /* deep: white text reads on it */
    const char *range, *names;
} bucket;

static const char *edge(apr_pool_t *p, double v)
{
    return apr_psprintf(p, "%g%%", v);
}

/* Bucket b's colour: gains red, losses green, deeper away from zero. */
static int bucket_color(gdImagePtr im, int b, int nb, int losses, int *deep)
{
    double t;

    if (b < losses) {
        t = losses > 1 ? (double)(losses - 1 - b) / (losses - 1) : 1;
        *deep = t > 0.4;
        return gdImageColorAllocate(im, 134 - (int)(113 * t), 239 - (int)(111 * t),
                                    172 - (int)(111 * t));
    }
    t = nb - losses > 1 ? (double)(b - losses) / (nb - losses - 1) : 1;
    *deep = t > 0.4;
    return gdImageColorAllocate(im, 252 - (int)(67 * t), 165 - (int)(137 * t),
                                165 - (int)(137 * t));
}

/* Names wrapped to width in at most lines lines, "…等N个" when cut short. */
static void names_text(apr_pool_t *p, chat_canvas *d, const bucket *bk, int x, int y, int width,
                       int lines)
{
    char *copy = apr_pstrdup(p, bk->names ? bk->names : ""), *tok, *last;
    const char *line = "";
    int row = 0;

    for (tok = apr_strtok(copy, "\n", &last); tok; tok = apr_strtok(NULL, "\n", &last)) {
        const char *next = *line ? apr_pstrcat(p, line, "、", tok, NULL) : tok;
        const char *more = apr_psprintf(p, "…等%d个", bk->count);
        if (chat_canvas_text_width(d, 9, next) <=
            width - (row == lines - 1 ? chat_canvas_text_width(d, 9, more) : 0)) {
            line = next;
            continue;
        }
        if (row == lines - 1) {
            chat_canvas_text(d, 9, 0, x, y + row * 15, d->muted, apr_pstrcat(p, line, more, NULL));
            return;
        }
        chat_canvas_text(d, 9, 0, x, y + row * 15, d->muted, line);
        row++;
        line = tok;
    }
    if (*line) {
        chat_canvas_text(d, 9, 0, x, y + row * 15, d->muted, line);
    }
}

void chat_chart_pie_draw(apr_pool_t *p, chat_canvas *d)
{
    const chat_chart *c = d->c;
    const double *e = c->edges ? c->edges : default_edges;
    int ne = c->edges ? c->nedges : 5, nb = ne + 1, losses = 0, i, b, acc = 0;
    int top = c->title ? 44 : 12, r, cx, cy, lx, row_h;
    bucket *bk = apr_pcalloc(p, sizeof(bucket) * nb);

    for (i = 0; i < ne; i++) {
        losses += e[i] <= 0;
    }
    for (b = 0; b < nb; b++) {
        bk[b].col = bucket_color(d->im, b, nb, losses, &bk[b].deep);
        bk[b].range = b == 0        ? apr_pstrcat(p, "<", edge(p, e[0]), NULL)
                      : b == nb - 1 ? apr_pstrcat(p, "≥", edge(p, e[ne - 1]), NULL)
                                    : apr_pstrcat(p, edge(p, e[b - 1]), " ~ ", edge(p, e[b]), NULL);
    }
    for (i = 0; i < c->n; i++) {
        for (b = 0; b < ne && c->value[i] >= e[b]; b++) {
        }
        bk[b].count++;
        if (c->labels[i]) {
            bk[b].names =
                bk[b].names ? apr_pstrcat(p, bk[b].names, "\n", c->labels[i], NULL) : c->labels[i];
        }
    }
    r = (int)fmin(c->width * 0.2, (c->height - top - 24) / 2.0);
    cx = 24 + r;
    cy = top + (c->height - top) / 2;
    /* slices clockwise from twelve o'clock, largest gains first; gd's
     * angles are degrees clockwise from three o'clock */
    for (b = nb - 1; b >= 0; b--) {
        int from = 270 + (int)lround(360.0 * acc / c->n), to;
        if (!bk[b].count) {
            continue;
        }
        acc += bk[b].count;
        to = 270 + (int)lround(360.0 * acc / c->n);
        gdImageFilledArc(d->im, cx, cy, 2 * r, 2 * r, from, to, bk[b].col, gdPie);
    }
    /* white borders between slices, then the counts on slices wide enough */
    gdImageSetThickness(d->im, 2);
    for (acc = 0, b = nb - 1; b >= 0 && acc < c->n && bk[b].count < c->n; b--) {
        double a = (270 + 360.0 * acc / c->n) * CHAT_CANVAS_PI / 180;
        if (!bk[b].count) {
            continue;
        }
        gdImageLine(d->im, cx, cy, cx + (int)lround(r * cos(a)), cy + (int)lround(r * sin(a)),
                    d->white);
        acc += bk[b].count;
    }
    gdImageSetThickness(d->im, 1);
    for (acc = 0, b = nb - 1; b >= 0; b--) {
        double mid = (270 + 360.0 * (acc + bk[b].count / 2.0) / c->n) * CHAT_CANVAS_PI / 180;
        acc += bk[b].count;
        if (bk[b].count && 360.0 * bk[b].count / c->n >= 14) {
            chat_canvas_text_center(d, 12, cx + (int)lround(0.76 * r * cos(mid)),
                                    cy + (int)lround(0.76 * r * sin(mid)) + 6,
                                    bk[b].deep ? d->white : d->fg, apr_itoa(p, bk[b].count));
        }
    }
    gdImageFilledEllipse(d->im, cx, cy, r, r, d->white);
    chat_canvas_text_center(d, 22, cx, cy + 4, d->fg, apr_itoa(p, c->n));
    chat_canvas_text_center(d, 10, cx, cy + 24, d->muted, "个品种");
    /* the legend: one block per bucket, largest gains on top */
    lx = cx + r + 40;
    row_h = (c->height - top - 12) / nb;
    for (i = 0, b = nb - 1; b >= 0; b--, i++) {
        int y = top + 8 + i * row_h;
        const char *head = apr_psprintf(p, "%s  %d个  %.0f%%", bk[b].range, bk[b].count,
                                        100.0 * bk[b].count / c->n);
        gdImageFilledRectangle(d->im, lx, y, lx + 14, y + 12, bk[b].col);
        chat_canvas_text(d, 11, 0, lx + 22, y + 12, d->fg, head);
        if (bk[b].count) {
            names_text(p, d, &bk[b], lx + 22, y + 30, c->width - lx - 36,
                       row_h >= 63   ? 3
                       : row_h >= 48 ? 2
                                     : 1);
        }
    }
}

const char *chat_chart_pie_map(apr_pool_t *p, chat_chart *c, json_object *items, apr_table_t *m)
{
    const char *spec = apr_table_get(m, "buckets");

    if (spec) {
        char *copy = apr_pstrdup(p, spec), *tok, *last, *end;
        double *e = apr_palloc(p, sizeof(double) * MAX_EDGES);
        int k = 0;
        for (tok = apr_strtok(copy, ",", &last); tok; tok = apr_strtok(NULL, ",", &last)) {
            if (k == MAX_EDGES || !(e[k] = strtod(tok, &end), end != tok && !*end) ||
                !isfinite(e[k]) || (k && e[k] <= e[k - 1])) {
                return apr_psprintf(p,
                                    "buckets '%s': 1 to %d ascending numbers (%%), comma "
                                    "separated",
                                    spec, MAX_EDGES);
            }
            k++;
        }
        if (!k) {
            return apr_psprintf(p, "buckets '%s': no edges", spec);
        }
        c->edges = e;
        c->nedges = k;
    }
    return chat_chart_column(
        p, items, apr_table_get(m, "value") ? apr_table_get(m, "value") : "change", &c->value);
}
