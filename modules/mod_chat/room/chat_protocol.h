/* Client -> server messages of a joined member (SPEC's wire protocol):
 * chat, delete, history, call signaling, and NAME_chat questions to a bot. */
#ifndef CHAT_PROTOCOL_H
#define CHAT_PROTOCOL_H

#include "chat_room_types.h"

/* One text frame from m (held until m is welcomed if it is not yet). */
void chat_protocol_handle(chat_member *m, const char *data, apr_size_t len);

/* Who answers NAME_chat messages: set once at startup by the layer above
 * (the AI, ai/chat_ai_room.c), so rooms know nothing of it. Without one,
 * such messages get ai_unavailable. Both run on the reactor's thread and
 * must not block. */
typedef struct chat_protocol_bot {
    /* 1 when bot NAME answers on this server */
    int (*known)(const chat_srv_conf *sc, const char *name);
    /* queue a question; NULL, or why it cannot be asked */
    const char *(*ask)(const chat_srv_conf *sc, const char *name, const char *room,
                       const char *user, const char *text, int history_size);
    /* the bot an "@word" at the start of a chat text names (word is len
     * bytes, without the @), or NULL: then it is an ordinary message */
    const char *(*alias)(const chat_srv_conf *sc, const char *word, apr_size_t len);
} chat_protocol_bot;

void chat_protocol_set_bot(const chat_protocol_bot *bot);

#endif
