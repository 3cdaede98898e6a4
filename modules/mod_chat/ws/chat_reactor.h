/* An I/O loop owning WebSocket sessions (epoll + eventfd). Under the event
 * MPM each child runs one shared reactor on its own thread, so an idle
 * socket costs no worker thread. In thread mode (prefork, TLS) the request's
 * worker runs a private reactor holding just its own session. */
#ifndef CHAT_REACTOR_H
#define CHAT_REACTOR_H

#include <apr_thread_proc.h>
#include <httpd.h>

#include "chat_ws_session.h"

typedef void (*chat_reactor_fn)(chat_reactor *r, void *arg);
typedef void (*chat_reactor_tick_fn)(chat_reactor *r, apr_time_t now, void *data);
typedef int (*chat_reactor_linger_fn)(void *data);

/* Per-process setup, from the child_init hook. */
apr_status_t chat_reactor_child_init(apr_pool_t *pchild);

/* ChatReconnectSpread (seconds), from child_init: every 1001 a stopping
 * server sends says "server shutting down; retry-after-ms=N", N random in
 * [0, spread * 1000], the client's delay before it reconnects. */
void chat_reactor_set_reconnect_spread(int seconds);

/* private: 1 for a thread-mode reactor that ends with its last session. */
apr_status_t chat_reactor_create(apr_pool_t *p, int private_loop, chat_reactor **out);

/* Start the shared reactor's thread. */
apr_status_t chat_reactor_start_thread(chat_reactor *r, apr_pool_t *p);

/* Run the loop on the calling thread until it ends. */
void chat_reactor_run(chat_reactor *r);

/* Hand a session over (any thread). APR_EOF once the reactor began to shut
 * down: the caller keeps the session (and closes it with 1001 itself). */
apr_status_t chat_reactor_adopt(chat_reactor *r, chat_ws_session *s);

/* Run fn(r, arg) on the reactor's thread (any thread). */
apr_status_t chat_reactor_post(chat_reactor *r, chat_reactor_fn fn, void *arg);

/* Start s's close with 1001 and a jittered reconnect hint in the reason
 * ("server shutting down; retry-after-ms=N", ChatReconnectSpread). */
void chat_reactor_close_going_away(chat_ws_session *s);

/* Close every session with 1001 and end the loop once they are gone or
 * their close timeout passed (any thread, also from the child_stopping hook).
 * shutdown_all leaves a held reactor (a hand-over shuts it down when done). */
void chat_reactor_shutdown(chat_reactor *r);
void chat_reactor_shutdown_all(void);

/* From a non-threaded MPM's stop signal: send 1001 on the process's own
 * session if its loop is idle in epoll_wait (the only safe moment). */
void chat_reactor_stop_from_signal(void);

/* Wait for a shared reactor's thread to end (after chat_reactor_shutdown). */
void chat_reactor_join(chat_reactor *r);

/* On the reactor's thread: poll fd for p (events are EPOLL* bits; modify
 * = 1 changes an existing watch), stop polling it, run fn every tick
 * (250 ms), and one pointer for the layer above (rooms). */
apr_status_t chat_reactor_watch(chat_reactor *r, chat_pollable *p, int fd, unsigned int events,
                                int modify);
void chat_reactor_unwatch(chat_reactor *r, int fd);
void chat_reactor_add_tick(chat_reactor *r, chat_reactor_tick_fn fn, void *data);
/* fn returns true while work of ended sessions is still in flight: an ending
 * loop (private, or shutting down) keeps running for it, 2 s at most. */
void chat_reactor_set_linger(chat_reactor *r, chat_reactor_linger_fn fn, void *data);
void *chat_reactor_data(chat_reactor *r);
void chat_reactor_set_data(chat_reactor *r, void *data);
apr_pool_t *chat_reactor_pool(chat_reactor *r);
int chat_reactor_is_private(chat_reactor *r);
int chat_reactor_stopping(chat_reactor *r);

/* Live hand-over (handover/), on the reactor's thread: run fn on every
 * session; take s out of the loop without closing its socket or telling its
 * app (the caller owns it now). hold: while a hand-over runs, the MPM's stop
 * does not close the sessions (any thread). */
void chat_reactor_each(chat_reactor *r, void (*fn)(chat_ws_session *s, void *arg), void *arg);
void chat_reactor_release(chat_reactor *r, chat_ws_session *s);
void chat_reactor_hold(chat_reactor *r, int on);

/* Figures for stats and mod_status. */
apr_uint32_t chat_reactor_session_count(chat_reactor *r);
apr_uint32_t chat_sessions_open(void);

#endif
