/* A configured source's rows over HTTP: the template expanded, the document
 * taken from the process cache or fetched (the source's headers, timeout and
 * CHAT_SOURCE_MAX_BYTES), then mapped. Every failure is one sentence for the
 * user naming the source. Blocking: AI threads and the scheduler only. */
#ifndef CHAT_SOURCE_FETCH_H
#define CHAT_SOURCE_FETCH_H

#include "chat_source.h"

/* The rows (caller puts), or NULL with *err. vars fill the placeholders. */
json_object *chat_source_fetch(apr_pool_t *p, const chat_source *src, apr_table_t *vars,
                               int max_rows, const char **err);

#endif
