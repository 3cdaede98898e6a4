/* The chat room app: what runs on a WebSocket at /chat/{room} (see
 * chat_hub.c for rooms over Redis, chat_protocol.c for client messages). */
#ifndef CHAT_ROOM_H
#define CHAT_ROOM_H

#include "chat_member.h"

/* The app that runs chat rooms over a session. */
extern const chat_ws_app chat_room_app;

#endif
