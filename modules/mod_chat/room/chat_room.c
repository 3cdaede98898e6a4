/* The chat room app on a session (chat_room.h): sessions open into the
 * hub's rooms, their text frames go to the protocol, and closing leaves. */
#include <httpd.h>

#include "chat_hub.h"
#include "chat_protocol.h"
#include "chat_room.h"

static void room_on_open(chat_ws_session *s)
{
    chat_hub_enter(s->app_data, s);
}

static void room_on_message(chat_ws_session *s, int opcode, const char *data, apr_size_t len)
{
    chat_member *m = s->app_data;

    if (opcode != CHAT_WS_OP_TEXT) {
        if (chat_member_budget_take(m, 1.0)) { /* a bad message costs what a post does */
            chat_member_error(m, "malformed", "messages are JSON text frames");
        }
        return;
    }
    chat_protocol_handle(m, data, len);
}

static void room_on_close(chat_ws_session *s)
{
    chat_member *m = s->app_data;

    chat_hub_leave(m);
    m->s = NULL;
    m->joined = 0;
    chat_member_release(m);
}

/* The engine closes m for a limit: the room's debug log says which. */
static void room_on_limit(chat_ws_session *s, const char *why)
{
    chat_member_debug(s->app_data, "closed", why);
}

const chat_ws_app chat_room_app = {
    "chat", room_on_open, room_on_message, room_on_close, room_on_limit, CHAT_ROOM_MAX_MESSAGE,
    1 /* the welcome */};
