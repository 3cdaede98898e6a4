/* AI in the room (gemini_chat / deepseek_chat): see chat_ai_room.c. */
#ifndef CHAT_AI_ROOM_H
#define CHAT_AI_ROOM_H

#include <hiredis/hiredis.h>

#include "chat_ai_tools.h"
#include "chat_protocol.h"

/* Start the per-process AI thread pool (when a provider is configured). */
void chat_ai_room_child_init(apr_pool_t *pchild, server_rec *s);

/* The bot that answers NAME_chat messages (chat_protocol_set_bot): each
 * question is queued on the pool, never answered on the reactor's thread. */
extern const chat_protocol_bot chat_ai_room_bot;

/* Each tool call of an answer into the room's debug log (event "ai_tool",
 * the bot's name as user) and at LogLevel chat:debug. Blocking (c). */
void chat_ai_room_log_tools(apr_pool_t *p, redisContext *c, const chat_srv_conf *sc,
                            const char *room, const char *bot, const chat_ai_tools *kit);

#endif
