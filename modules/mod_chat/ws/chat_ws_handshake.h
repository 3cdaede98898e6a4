/* The HTTP side of RFC 6455: checking an upgrade request and answering 101. */
#ifndef CHAT_WS_HANDSHAKE_H
#define CHAT_WS_HANDSHAKE_H

#include <httpd.h>
#include "chat_config.h"

/* Does the request ask for a WebSocket upgrade at all (Upgrade: websocket
 * and Connection: upgrade tokens, any case, any order)? */
int chat_ws_is_upgrade(request_rec *r);

/* Checks a WebSocket upgrade request. Returns OK, or the HTTP status to refuse
 * it with (headers such as Allow or Sec-WebSocket-Version already set, and the
 * reason logged). */
int chat_ws_handshake_check(request_rec *r, const chat_dir_conf *dc);

/* Sends the 101 response and flushes it. */
apr_status_t chat_ws_handshake_accept(request_rec *r);
/* The same 101 as bytes, for a socket leaving httpd's filters (a detached
 * session writes it itself, with its first frames). */
const char *chat_ws_handshake_response(request_rec *r, apr_size_t *len);

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)); 29 bytes incl. NUL. */
void chat_ws_accept_key(const char *key, char out[29]);

/* Does the header value hold token (case-insensitive, comma separated)? */
int chat_http_has_token(const char *value, const char *token);

#endif
