/* draw_chart in the room: see chat_ai_chart.c. */
#ifndef CHAT_AI_CHART_H
#define CHAT_AI_CHART_H

#include <httpd.h>
#include <hiredis/hiredis.h>

#include "chat_ai_draw.h"
#include "chat_config.h"

typedef struct chat_ai_chart {
    apr_pool_t *p;
    server_rec *s;
    const chat_srv_conf *sc;
    redisContext *c; /* the AI thread's own connection */
    const char *room, *bot;
    int history_size;
    apr_array_header_t *urls; /* const char *: each posted chart's URL; may be NULL */
    chat_ai_draw draw;
} chat_ai_chart;

/* Offer draw_chart in call, for a question in x->room (fields above set),
 * when ac has data for it: its declaration joins *tools (made when NULL; the
 * caller puts it), call's tool function becomes draw_chart's and passes other
 * names to the one call had, and the instructions say how to show a chart. */
void chat_ai_chart_offer(chat_ai_chart *x, const chat_ai_conf *ac, json_object **tools,
                         chat_ai_call *call);

#endif
