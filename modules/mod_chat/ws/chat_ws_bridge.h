/* Thread mode over the shared reactor: the request's thread keeps its
 * connection (and the connection's filters, e.g. mod_ssl's TLS) and only
 * pumps bytes between those filters and one end of a socketpair; the other
 * end is a raw session on the process's shared reactor, so every thread-mode
 * socket of the process shares its hub (one set of Redis connections, one
 * fan-out). No connection's filters are touched from another thread. */
#ifndef CHAT_WS_BRIDGE_H
#define CHAT_WS_BRIDGE_H

#include <httpd.h>

#include "chat_reactor.h"

/* Hand s to shared over a socketpair and pump bytes on this thread until
 * both sides are done. APR_SUCCESS: the session was the reactor's (it may be
 * gone by now) and the connection is over. Anything else (the reactor is
 * shutting down: APR_EOF; no socketpair): nothing happened, the caller keeps
 * s and the connection. */
apr_status_t chat_ws_bridge_run(conn_rec *c, chat_ws_session *s, chat_reactor *shared);

#endif
