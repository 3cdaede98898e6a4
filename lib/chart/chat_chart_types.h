/* What a chart is (kind, size, data): the struct the renderer, its kinds and
 * the canvas share; see chat_chart.h for the functions. */
#ifndef CHAT_CHART_TYPES_H
#define CHAT_CHART_TYPES_H

#include <apr_tables.h>

typedef enum {
    CHAT_CHART_LINE = 1,
    CHAT_CHART_BAR_LINE,
    CHAT_CHART_CANDLE,
    CHAT_CHART_TREEMAP,
    CHAT_CHART_SCATTER,
    CHAT_CHART_PIE,          /* products bucketed by % change: counts and names */
    CHAT_CHART_CROSS,        /* cross-section: % change vs settlement, sorted */
    CHAT_CHART_SCATTER_COLOR /* scatter with a third field as a colour scale */
} chat_chart_kind;

typedef struct chat_chart_series {
    const char *name;
    double *v; /* n values */
} chat_chart_series;

typedef struct chat_chart {
    chat_chart_kind kind;
    const char *title;
    const char *y_unit, *y2_unit, *x_unit; /* axis captions, may be NULL */
    int width, height;
    const char *font;                  /* path of a TTF/OTF/TTC font with CJK glyphs */
    int n;                             /* points, bars, candles or items */
    const char **labels;               /* n: x labels, or item names (treemap, scatter) */
    apr_array_header_t *series;        /* chat_chart_series: line (1+); bar+line: [bars, line] */
    double *open, *high, *low, *close; /* candle */
    double *value, *weight;            /* treemap, pie, cross-section: % change; treemap: area */
    double *x, *y;                     /* scatter */
    double *color;                     /* scatter_color: the third field */
    const char *color_unit;            /* scatter_color: its caption over the colour bar */
    const double *edges;               /* pie: bucket edges in %, ascending; NULL = -3,-1,0,1,3 */
    int nedges;
} chat_chart;

#endif
