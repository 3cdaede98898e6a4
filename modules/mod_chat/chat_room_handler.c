/* The `chat` handler at /chat/{room}: room name checks, the client page for
 * plain GETs, and the WebSocket join (room logic arrives with the rooms
 * work; until then a join is refused with 501). */
#include <httpd.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include "chat_room_handler.h"
#include "chat_ws_handshake.h"

APLOG_USE_MODULE(chat);

int chat_room_name_valid(const char *name)
{
    apr_size_t i, n = strlen(name);

    if (n < 1 || n > 64 || !strcmp(name, "upload") || !strcmp(name, "ai")) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char c = name[i];
        if (!(apr_isalnum(c) || c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

int chat_room_handler(request_rec *r)
{
    const char *room;

    if (!r->handler || strcmp(r->handler, "chat")) {
        return DECLINED;
    }
    room = strrchr(r->uri, '/');
    room = room ? room + 1 : r->uri;
    if (!chat_room_name_valid(room)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "chat: invalid room name in %s", r->uri);
        return HTTP_BAD_REQUEST;
    }
    if (!chat_ws_is_upgrade(r)) {
        if (r->method_number != M_GET) {
            return HTTP_METHOD_NOT_ALLOWED;
        }
        ap_internal_redirect_handler("/index.html", r);
        return OK;
    }
    return HTTP_NOT_IMPLEMENTED;
}
