/* Live hand-over of detached WebSockets (docs/ARCHITECTURE.md, "Restarts
 * and stops"). Every child of the event MPM listens for sessions from its
 * siblings (a thread blocked in accept); a child that retires or restarts
 * gracefully passes its plain-TCP sessions to the least loaded live child
 * of the current generation, which serves them on without a close, a
 * welcome, a gap or a duplicate. When nobody takes them they get 1001. */
#ifndef CHAT_HANDOVER_H
#define CHAT_HANDOVER_H

#include <httpd.h>

#include "chat_reactor.h"
#include "chat_settings.h"

/* A kind of session that can move (apps without state of their own, and
 * the chat room app). From register_hooks. */
void chat_handover_app(const chat_ws_app *app);

/* child_init: start taking sessions onto r. */
apr_status_t chat_handover_child_init(apr_pool_t *pchild, chat_reactor *r, const chat_srv_conf *sc);

/* child_stopping, graceful: hand r's sessions over on a thread of its own,
 * then shut r down (1001 for what stayed). 0 when that began; -1 when the
 * caller shuts r down itself (hand-over off, or no thread). */
int chat_handover_begin(chat_reactor *r);

/* The child is exiting: wait for a hand-over in progress, stop taking. */
void chat_handover_child_exit(void);

#endif
