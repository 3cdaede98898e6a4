/* Turning an accepted upgrade request into a session on a reactor. */
#ifndef CHAT_WS_UPGRADE_H
#define CHAT_WS_UPGRADE_H

#include <httpd.h>
#include "chat_ws_session.h"

/* The child's shared reactor (threaded MPMs: event, worker), or NULL
 * (prefork, where each process holds one socket on a private reactor). */
extern chat_reactor *chat_child_reactor;

/* Check the handshake, answer 101 and run app on the socket: handed to the
 * child's reactor when the connection is plain TCP under the event MPM (the
 * worker thread returns at once); else, with a shared reactor, the session
 * runs there while this thread pumps the connection's bytes to it
 * (chat_ws_bridge.h); else (prefork) on this thread until the socket closes. Returns the handler's
 * status (an HTTP error for a refused handshake). app_data is the engine's from here on: where the
 * session never starts, app->on_close is still called so the app can free it. */
int chat_ws_upgrade(request_rec *r, const chat_ws_app *app, void *app_data);

/* Whether a WebSocket upgraded from r would run on r's worker thread for its
 * whole life (thread mode: TLS, prefork, worker, ChatConnectionMode thread)
 * rather than be handed to the child's reactor. Also true for a plain GET on
 * the same connection, which is what the client's capacity probe is. */
int chat_ws_upgrade_holds_thread(request_rec *r);

/* Upgrades of this process on their way to a session's place (a hand-over
 * waits for them: they are sessions to move too). */
int chat_ws_upgrade_pending(void);

#endif
