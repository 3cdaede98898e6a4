/* The server-wide cap on WebSockets that hold a worker thread (wss://,
 * prefork, worker, ChatConnectionMode thread): ChatThreadSockets. Counted in
 * shared memory made in post_config, one slot per child process, summed on
 * read, so a crashed child's sockets stop counting with it. */
#ifndef CHAT_CAPACITY_H
#define CHAT_CAPACITY_H

#include <httpd.h>

/* Parent, post_config: the cap from ChatThreadSockets or the share of
 * MaxRequestWorkers, the shared counters, and (on the real start, once) a
 * warning naming MPM settings that retire or starve chat sockets. */
int chat_capacity_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                              server_rec *s);

/* Child, child_init: take this process's slot of the counters. */
void chat_capacity_child_init(apr_pool_t *pchild, server_rec *s);

/* Before an upgrade: OK when r's socket will not hold a thread or got a
 * place under the cap (given back when r->pool goes), else 503 with
 * Retry-After, logged at info. */
int chat_capacity_enter(request_rec *r);

/* GET ?capacity: 204 while a WebSocket from this connection would be
 * accepted, 503 with Retry-After while the cap is reached. */
int chat_capacity_probe(request_rec *r);

/* Thread-mode sockets open in the whole server and the cap (0/0 before
 * post_config made the counters); the optional function of lib/chat_settings.h. */
int chat_thread_sockets(apr_uint32_t *open, apr_uint32_t *cap);

#endif
