/* The `chat` handler at /chat/{room}: the page, ?info, the WebSocket join. */
#ifndef CHAT_ROOM_HANDLER_H
#define CHAT_ROOM_HANDLER_H

#include <httpd.h>

int chat_room_handler(request_rec *r);

#endif
