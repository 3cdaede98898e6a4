/* Market charts drawn with libgd to PNG, readable on a phone: line (several
 * series, legend), bar + line on two y axes, candlestick (red up, green down:
 * the Chinese convention), treemap of % change, scatter of change against
 * open-interest change (also coloured by a third field), the distribution
 * pie of today's change and the sorted cross-section of change against
 * settlement. Title, axes with ticks and units, x labels rotated
 * when crowded, CJK text through a TrueType/OpenType font. Pure code (no
 * httpd): the scheduler, the unit tests and bench/ share it. */
#ifndef CHAT_CHART_H
#define CHAT_CHART_H

#include <apr_pools.h>

#include "chat_chart_types.h"

/* "line", "bar_line", "candle", "treemap", "scatter", "pie", "cross_section",
 * "scatter_color" -> kind, 0 if unknown. */
chat_chart_kind chat_chart_kind_parse(const char *name);

/* The PNG (allocated from p). NULL, or an error message. */
const char *chat_chart_render(apr_pool_t *p, const chat_chart *c, void **png, int *size);

/* Fill c (kind, size, font and title already set) from a JSON document with
 * the field mapping "items=data.list label=name value=pct ..." (see
 * docs/directives.md#charts). NULL, or an error message. */
const char *chat_chart_from_json(apr_pool_t *p, chat_chart *c, const char *json,
                                 const char *mapping);

#endif
