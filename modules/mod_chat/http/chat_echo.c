/* The chat-echo handler: a plain RFC 6455 echo endpoint for testing proxies,
 * clients and the engine itself. Off unless a <Location> sets the handler. */
#include <httpd.h>
#include <http_protocol.h>

#include "chat_capacity.h"
#include "chat_echo.h"
#include "chat_ws_upgrade.h"

static void echo_message(chat_ws_session *s, int opcode, const char *data, apr_size_t len)
{
    chat_outbuf *b = chat_outbuf_frame(opcode, data, len);

    if (b) {
        chat_ws_session_send(s, b);
        chat_outbuf_release(b);
    }
}

const chat_ws_app chat_echo_app = {"echo", NULL, echo_message, NULL, NULL, 0, 0};

int chat_echo_handler(request_rec *r)
{
    int status;

    if (!r->handler || strcmp(r->handler, "chat-echo")) {
        return DECLINED;
    }
    if ((status = chat_capacity_enter(r)) != OK) {
        return status;
    }
    return chat_ws_upgrade(r, &chat_echo_app, NULL);
}
