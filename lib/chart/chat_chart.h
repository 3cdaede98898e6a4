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

/* Debian's fonts-noto-cjk; ChatChartFont overrides it for jobs. */
#define CHAT_CHART_DEFAULT_FONT "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
#define CHAT_CHART_DEFAULT_W    800
#define CHAT_CHART_DEFAULT_H    500

/* Once per process before threads render: libgd sets its FreeType cache up
 * lazily, which two threads drawing their first text at once would race.
 * The cache is freed when p is (register it after the threads' stop). */
void chat_chart_setup(apr_pool_t *p);
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

/* A rendered PNG into dir (ChatUploadDir) under 16 random hex digits + ".png",
 * written to a temporary name and renamed so no reader sees half a file,
 * world-readable like an upload; *url is url_base (NULL: /chat/files) + "/"
 * + the name. NULL, or why not. */
const char *chat_chart_save(apr_pool_t *p, const void *png, int size, const char *dir,
                            const char *url_base, const char **url);

#endif
