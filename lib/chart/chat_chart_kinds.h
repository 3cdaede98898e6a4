/* The kinds drawn outside chat_chart.c and what their mappings share with
 * it (private to lib/chart). A draw function reads d->c and paints d->im; a
 * map function fills its kind's fields of c from the items array of the data
 * with the mapping m (field=value pairs): NULL, or an error message. */
#ifndef CHAT_CHART_KINDS_H
#define CHAT_CHART_KINDS_H

#include <apr_tables.h>
#include <json.h>

#include "chat_chart_canvas.h"

/* Column field of every item as a number ("3,520.5", "-0.85%" accepted). */
const char *chat_chart_column(apr_pool_t *p, json_object *items, const char *field, double **out);

/* scatter, and scatter_color (color=FIELD color_unit=CAPTION) */
void chat_chart_scatter_draw(apr_pool_t *p, chat_canvas *d);
const char *chat_chart_scatter_map_color(apr_pool_t *p, chat_chart *c, json_object *items,
                                         apr_table_t *m);

/* pie: value=FIELD (% change) buckets=E1,E2,... */
void chat_chart_pie_draw(apr_pool_t *p, chat_canvas *d);
const char *chat_chart_pie_map(apr_pool_t *p, chat_chart *c, json_object *items, apr_table_t *m);

/* cross_section: value=FIELD, or price=FIELD settle=FIELD (change vs settlement) */
void chat_chart_cross_draw(apr_pool_t *p, chat_canvas *d);
const char *chat_chart_cross_map(apr_pool_t *p, chat_chart *c, json_object *items, apr_table_t *m);

#endif
