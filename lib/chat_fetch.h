/* Outgoing HTTP over libcurl for AI providers, market data and image
 * fetches: one easy handle per call, a whole-call timeout, a cap on the
 * response size, and an abort when the process is stopping so a child never
 * waits out a slow provider on shutdown. Blocking: call it from a request
 * thread or the AI thread pool, never from the reactor. */
#ifndef CHAT_FETCH_H
#define CHAT_FETCH_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

typedef struct chat_fetch_reply {
    int status;       /* HTTP status, 0 when no answer came */
    const char *body; /* NUL-terminated copy */
    apr_size_t len;
    const char *content_type; /* NULL when none */
    const char *error;        /* transport error (timeout, refused, too large) or NULL */
    int timed_out;
    int too_large;
} chat_fetch_reply;

/* Once per process, before threads: curl_global_init. */
void chat_fetch_global_init(void);

/* Every call in flight gives up (shutdown). */
void chat_fetch_abort_all(void);

/* POST body (JSON) to url with extra "Name: value" headers; GET when body is
 * NULL. Never fails to fill *out. */
void chat_fetch_request(apr_pool_t *p, const char *url, const apr_array_header_t *headers,
                        const char *body, apr_interval_time_t timeout, apr_size_t max_bytes,
                        chat_fetch_reply *out);

/* A streamed answer (server-sent events): a 200's body goes to fn piece by
 * piece as it arrives instead of into out->body (other statuses are kept as
 * above, for their error text); max_bytes still bounds the whole. fn returns
 * non-zero to stop the transfer (out->error is then set). */
typedef int (*chat_fetch_data_fn)(void *ctx, const char *data, apr_size_t len);
void chat_fetch_stream(apr_pool_t *p, const char *url, const apr_array_header_t *headers,
                       const char *body, apr_interval_time_t timeout, apr_size_t max_bytes,
                       chat_fetch_data_fn fn, void *ctx, chat_fetch_reply *out);

#endif
