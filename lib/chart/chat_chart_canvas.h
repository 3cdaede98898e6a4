/* The drawing surface every chart kind shares (private to lib/chart): text
 * through FreeType with the first font error kept, value and category axes
 * with "nice" ticks, numbers with thousands separators, a legend. Split from
 * chat_chart.c so each kind can live in a file of its own. */
#ifndef CHAT_CHART_CANVAS_H
#define CHAT_CHART_CANVAS_H

#include <gd.h>

#include <apr_pools.h>

#include "chat_chart_types.h"

#define CHAT_CANVAS_PI 3.14159265358979323846

typedef struct chat_canvas {
    gdImagePtr im;
    const chat_chart *c;
    char *font;
    int fg, grid, axis, muted, white;
    int x0, x1, y0, y1;     /* plot area */
    double lo, hi, step;    /* left axis */
    double lo2, hi2, step2; /* right axis (bar+line) */
    const char *err;        /* the first font error */
} chat_canvas;

/* The i-th colour of the series palette. */
int chat_canvas_color(gdImagePtr im, int i);

/* Text at (x, y) = left end of the baseline; angle in radians. Returns the width. */
int chat_canvas_text(chat_canvas *d, double size, double angle, int x, int y, int col,
                     const char *s);
int chat_canvas_text_width(chat_canvas *d, double size, const char *s);
void chat_canvas_text_center(chat_canvas *d, double size, int cx, int y, int col, const char *s);

/* Ticks at 1, 2, 2.5 or 5 times a power of ten, about `want` of them. */
void chat_canvas_nice_axis(double mn, double mx, int want, double *lo, double *hi, double *step);

/* Enough decimals to tell ticks apart (2.5 -> "2.5"), thousands separated. */
const char *chat_canvas_number(apr_pool_t *p, double v, double step);

/* y of v on the left (right = 0) or right axis; x of the i-th category. */
int chat_canvas_py(const chat_canvas *d, double v, int right);
int chat_canvas_px(const chat_canvas *d, int i);

void chat_canvas_value_axes(apr_pool_t *p, chat_canvas *d, int right);
void chat_canvas_category_axis(chat_canvas *d);
int chat_canvas_labels_rotated(chat_canvas *d, int x0, int x1);
void chat_canvas_legend(chat_canvas *d, const char **names, const int *cols, int k);
void chat_canvas_range(const double *v, int n, double *mn, double *mx);
void chat_canvas_plot_area(chat_canvas *d, int right_axis);

#endif
