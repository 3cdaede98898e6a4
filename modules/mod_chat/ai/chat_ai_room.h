/* AI in the room (gemini_chat / deepseek_chat): see chat_ai_room.c. */
#ifndef CHAT_AI_ROOM_H
#define CHAT_AI_ROOM_H

#include "chat_protocol.h"

/* Start the per-process AI thread pool (when a provider is configured). */
void chat_ai_room_child_init(apr_pool_t *pchild, server_rec *s);

/* The bot that answers NAME_chat messages (chat_protocol_set_bot): each
 * question is queued on the pool, never answered on the reactor's thread. */
extern const chat_protocol_bot chat_ai_room_bot;

#endif
