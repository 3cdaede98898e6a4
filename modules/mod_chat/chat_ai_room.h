/* AI in the room (gemini_chat / deepseek_chat): see chat_ai_room.c. */
#ifndef CHAT_AI_ROOM_H
#define CHAT_AI_ROOM_H

#include "chat_ai_config.h"
#include "chat_config.h"

/* Start the per-process AI thread pool (when a provider is configured). */
void chat_ai_room_child_init(apr_pool_t *pchild, server_rec *s);

/* Queue a question; NULL, or why it cannot be asked. Never blocks. */
const char *chat_ai_room_ask(const chat_srv_conf *sc, const chat_ai_conf *ac,
                             const chat_ai_provider *prov, const char *room, const char *user,
                             const char *text, int history_size);

#endif
