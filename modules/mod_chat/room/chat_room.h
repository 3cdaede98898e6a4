/* The chat room app: what runs on a WebSocket at /chat/{room} (see
 * chat_hub.c for rooms over Redis, chat_protocol.c for client messages). */
#ifndef CHAT_ROOM_H
#define CHAT_ROOM_H

#include "chat_member.h"

/* The frame and message size a chat client needs (a 4000-character text in
 * JSON, a call's SDP), unless ChatMaxFrameSize/ChatMaxMessageSize say
 * otherwise: 10,000 slow clients cannot pin gigabytes of reassembly. */
#define CHAT_ROOM_MAX_MESSAGE (64 * 1024)

/* The app that runs chat rooms over a session. */
extern const chat_ws_app chat_room_app;

#endif
