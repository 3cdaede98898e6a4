/* Delivery to the members of a room on this reactor: chat messages in seq
 * order, once per member, encoded once for all; other room events; and the
 * last RECENT chat frames, for members whose join reply comes after them. */
#ifndef CHAT_FANOUT_H
#define CHAT_FANOUT_H

#include "chat_room_types.h"

/* A "chat" publication as chat_lua_post wrote it. */
void chat_fanout_chat(chat_room *room, const char *payload, apr_size_t len);
/* Any other publication (join, leave, users, delete, signal, reset, kick). */
void chat_fanout_event(chat_room *room, const char *payload);
/* Give m every remembered frame above what it has, oldest first. */
void chat_fanout_send_recent(chat_room *room, chat_member *m);
void chat_fanout_forget(chat_room *room);
/* A JSON array of stored messages, those above m's last seq sent as chat. */
void chat_fanout_send_messages(chat_member *m, const char *array_json);

#endif
