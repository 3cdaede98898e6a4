/* Fetching a configured source: see chat_source_fetch.h. */
#include <apr_strings.h>

#include "chat_fetch.h"
#include "chat_source_cache.h"
#include "chat_source_fetch.h"

json_object *chat_source_fetch(apr_pool_t *p, const chat_source *src, apr_table_t *vars,
                               int max_rows, const char **err)
{
    const char *url = chat_source_expand(p, src->url, vars), *body;
    int timeout = src->timeout > 0 ? src->timeout : CHAT_SOURCE_DEFAULT_TIMEOUT;
    int ttl = src->cache >= 0 ? src->cache : CHAT_SOURCE_DEFAULT_CACHE;
    apr_time_t now = apr_time_now();
    chat_fetch_reply r;
    json_object *rows;

    if (ttl > 0 && (body = chat_source_cache_get(p, url, now))) {
        return chat_source_rows(p, src, body, max_rows, err);
    }
    chat_fetch_request(p, url, src->headers, NULL, apr_time_from_sec(timeout),
                       CHAT_SOURCE_MAX_BYTES, &r);
    if (r.timed_out) {
        *err =
            apr_psprintf(p, "the data source '%s' did not answer within %d s", src->name, timeout);
        return NULL;
    }
    if (r.too_large) {
        *err = apr_psprintf(p, "the data source '%s' sent more than %d MB", src->name,
                            CHAT_SOURCE_MAX_BYTES >> 20);
        return NULL;
    }
    if (r.error) {
        *err =
            apr_psprintf(p, "the data source '%s' could not be reached (%s)", src->name, r.error);
        return NULL;
    }
    if (r.status != 200) {
        *err = apr_psprintf(p, "the data source '%s' answered HTTP %d", src->name, r.status);
        return NULL;
    }
    rows = chat_source_rows(p, src, r.body, max_rows, err);
    if (rows && ttl > 0) {
        chat_source_cache_put(url, r.body, r.len, now + apr_time_from_sec(ttl));
    }
    return rows;
}
