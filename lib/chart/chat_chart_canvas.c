/* The drawing surface every chart kind shares: see chat_chart_canvas.h. */
#include <math.h>
#include <string.h>

#include <apr_strings.h>

#include "chat_chart_canvas.h"

static const int palette[][3] = {{37, 99, 235},  {220, 38, 38}, {22, 163, 74}, {217, 119, 6},
                                 {124, 58, 237}, {8, 145, 178}, {190, 24, 93}, {75, 85, 99}};
#define NPALETTE (int)(sizeof(palette) / sizeof(palette[0]))

int chat_canvas_color(gdImagePtr im, int i)
{
    const int *rgb = palette[i % NPALETTE];
    return gdImageColorAllocate(im, rgb[0], rgb[1], rgb[2]);
}

/* Text at (x, y) = left end of the baseline; angle in radians. Returns the width. */
int chat_canvas_text(chat_canvas *d, double size, double angle, int x, int y, int col,
                     const char *s)
{
    int br[8];
    char *e = gdImageStringFT(d->im, br, col, d->font, size, angle, x, y, (char *)s);

    if (e && !d->err) {
        d->err = e;
    }
    return e ? 0 : br[2] - br[0];
}

int chat_canvas_text_width(chat_canvas *d, double size, const char *s)
{
    int br[8];
    char *e = gdImageStringFT(NULL, br, 0, d->font, size, 0, 0, 0, (char *)s);

    if (e && !d->err) {
        d->err = e;
    }
    return e ? 0 : br[2] - br[0];
}

void chat_canvas_text_center(chat_canvas *d, double size, int cx, int y, int col, const char *s)
{
    chat_canvas_text(d, size, 0, cx - chat_canvas_text_width(d, size, s) / 2, y, col, s);
}

/* Ticks at 1, 2, 2.5 or 5 times a power of ten, about `want` of them. */
void chat_canvas_nice_axis(double mn, double mx, int want, double *lo, double *hi, double *step)
{
    double range, raw, mag, f;

    /* a flat or nearly flat series (float noise): widen, or ticks would not
     * advance in floating point */
    if (!(mx - mn > 1e-9 * fmax(fabs(mn), fabs(mx))) || !(mx - mn > 1e-12)) {
        double pad = fabs(mn) > 0 ? fabs(mn) * 0.05 : 1;
        mn -= pad;
        mx += pad;
    }
    range = mx - mn;
    raw = range / want;
    mag = pow(10, floor(log10(raw)));
    f = raw / mag;
    *step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
    *lo = floor(mn / *step) * *step;
    *hi = ceil(mx / *step) * *step;
}

/* Enough decimals to tell ticks apart (2.5 -> "2.5"), thousands separated. */
const char *chat_canvas_number(apr_pool_t *p, double v, double step)
{
    int dec = 0, neg, i, k;
    const char *digits;
    char *out;

    while (dec < 6 && fabs(step * pow(10, dec) - floor(step * pow(10, dec) + 0.5)) > 1e-6) {
        dec++;
    }
    if (fabs(v) < step / 1e6) {
        v = 0;
    }
    if (dec || fabs(v) < 10000) {
        return apr_psprintf(p, "%.*f", dec, v);
    }
    neg = v < 0;
    digits = apr_psprintf(p, "%.0f", fabs(v));
    out = apr_palloc(p, strlen(digits) * 2 + 2);
    k = 0;
    if (neg) {
        out[k++] = '-';
    }
    for (i = 0; digits[i]; i++) {
        if (i && (strlen(digits) - i) % 3 == 0) {
            out[k++] = ',';
        }
        out[k++] = digits[i];
    }
    out[k] = '\0';
    return out;
}

int chat_canvas_py(const chat_canvas *d, double v, int right)
{
    double lo = right ? d->lo2 : d->lo, hi = right ? d->hi2 : d->hi;
    return d->y1 - (int)lround((v - lo) / (hi - lo) * (d->y1 - d->y0));
}

int chat_canvas_px(const chat_canvas *d, int i)
{
    return d->x0 + (int)lround((i + 0.5) * (d->x1 - d->x0) / (double)d->c->n);
}

/* Left (and right) value axis with grid lines and units. */
void chat_canvas_value_axes(apr_pool_t *p, chat_canvas *d, int right)
{
    double v;
    int k;

    for (k = 0; k <= 100 && (v = d->lo + k * d->step) <= d->hi + d->step / 2; k++) {
        const char *s = chat_canvas_number(p, v, d->step);
        int y = chat_canvas_py(d, v, 0);
        gdImageLine(d->im, d->x0, y, d->x1, y, d->grid);
        chat_canvas_text(d, 10, 0, d->x0 - 8 - chat_canvas_text_width(d, 10, s), y + 4, d->muted,
                         s);
    }
    if (right) {
        for (k = 0; k <= 100 && (v = d->lo2 + k * d->step2) <= d->hi2 + d->step2 / 2; k++) {
            chat_canvas_text(d, 10, 0, d->x1 + 8, chat_canvas_py(d, v, 1) + 4, d->muted,
                             chat_canvas_number(p, v, d->step2));
        }
        if (d->c->y2_unit) {
            chat_canvas_text(d, 10, 0, d->x1 - chat_canvas_text_width(d, 10, d->c->y2_unit) + 40,
                             d->y0 - 10, d->muted, d->c->y2_unit);
        }
    }
    if (d->c->y_unit) {
        chat_canvas_text(d, 10, 0, d->x0 - 40 > 4 ? d->x0 - 40 : 4, d->y0 - 10, d->muted,
                         d->c->y_unit);
    }
    gdImageLine(d->im, d->x0, d->y0, d->x0, d->y1, d->axis);
    gdImageLine(d->im, d->x0, d->y1, d->x1, d->y1, d->axis);
    if (right) {
        gdImageLine(d->im, d->x1, d->y0, d->x1, d->y1, d->axis);
    }
}

/* Category labels under the plot: rotated 45 degrees when they do not fit
 * side by side, and thinned out when even that is too crowded. */
void chat_canvas_category_axis(chat_canvas *d)
{
    int i, maxw = 0, slot = (d->x1 - d->x0) / (d->c->n ? d->c->n : 1), rotate, stride = 1;

    for (i = 0; i < d->c->n; i++) {
        int w = chat_canvas_text_width(d, 10, d->c->labels[i] ? d->c->labels[i] : "");
        maxw = w > maxw ? w : maxw;
    }
    rotate = maxw + 6 > slot;
    if (rotate) {
        stride = (int)ceil(16.0 / (slot > 0 ? slot : 1));
    }
    for (i = 0; i < d->c->n; i += stride) {
        const char *s = d->c->labels[i] ? d->c->labels[i] : "";
        int x = chat_canvas_px(d, i), w = chat_canvas_text_width(d, 10, s);
        gdImageLine(d->im, x, d->y1, x, d->y1 + 4, d->axis);
        if (rotate) {
            /* the text ends at the tick, slanting down to the left */
            chat_canvas_text(d, 10, CHAT_CANVAS_PI / 4, x - (int)(w * 0.707) + 4,
                             d->y1 + 12 + (int)(w * 0.707), d->fg, s);
        }
        else {
            chat_canvas_text(d, 10, 0, x - w / 2, d->y1 + 18, d->fg, s);
        }
    }
    if (d->c->x_unit) {
        chat_canvas_text(d, 10, 0, d->x1 - chat_canvas_text_width(d, 10, d->c->x_unit),
                         d->c->height - 6, d->muted, d->c->x_unit);
    }
}

int chat_canvas_labels_rotated(chat_canvas *d, int x0, int x1)
{
    int i, maxw = 0, slot = (x1 - x0) / (d->c->n ? d->c->n : 1);

    for (i = 0; i < d->c->n; i++) {
        int w = chat_canvas_text_width(d, 10, d->c->labels[i] ? d->c->labels[i] : "");
        maxw = w > maxw ? w : maxw;
    }
    return maxw + 6 > slot ? maxw : 0;
}

void chat_canvas_legend(chat_canvas *d, const char **names, const int *cols, int k)
{
    int i, x, total = 0;

    for (i = 0; i < k; i++) {
        total += 22 + chat_canvas_text_width(d, 11, names[i]) + 14;
    }
    x = (d->c->width - total) / 2;
    for (i = 0; i < k; i++) {
        gdImageFilledRectangle(d->im, x, 40, x + 14, 50, cols[i]);
        x += 20;
        x += chat_canvas_text(d, 11, 0, x, 50, d->fg, names[i]) + 16;
    }
}

void chat_canvas_range(const double *v, int n, double *mn, double *mx)
{
    int i;
    for (i = 0; i < n; i++) {
        if (v[i] < *mn) {
            *mn = v[i];
        }
        if (v[i] > *mx) {
            *mx = v[i];
        }
    }
}

void chat_canvas_plot_area(chat_canvas *d, int right_axis)
{
    int rot = chat_canvas_labels_rotated(d, 70, d->c->width - (right_axis ? 70 : 24));

    d->x0 = 70;
    d->x1 = d->c->width - (right_axis ? 70 : 24);
    d->y0 = 70;
    d->y1 = d->c->height - (rot ? 24 + (int)(rot * 0.72) : 40);
    if (d->y1 - d->y0 < 60) {
        d->y1 = d->y0 + 60;
    }
}
