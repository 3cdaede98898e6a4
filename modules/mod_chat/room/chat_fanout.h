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
/* Deliver the presence frames the room holds (ChatPresenceBatch): by this
 * file before any other room event, and at a hand-over marker. */
void chat_fanout_presence_flush(chat_room *room);
/* The hub's tick: flush when the room's last presence write is old enough. */
void chat_fanout_presence_tick(chat_room *room, apr_time_t now);
/* m is welcomed now: what its room holds is older news to it. */
void chat_fanout_presence_welcomed(chat_member *m);
/* A JSON array of stored messages, those above m's last seq sent as chat. */
void chat_fanout_send_messages(chat_member *m, const char *array_json);

/* Live hand-over of sockets between processes (handover/). The leaving
 * process publishes a marker on each room's channel (chat_fanout_mark) after
 * setting it on the members that move; when its own subscriber sees the
 * marker, each of them is cut (the cut callback) and leaves the room with
 * chat_hub_step_out, presence untouched. The taking process has parked
 * members (chat_member_load) in the room already subscribed (chat_hub_ready)
 * and delivers to them from the same marker on. chat_fanout_marker: 1 when
 * payload is a marker (handled), 0 for any other publication. */
typedef void (*chat_fanout_cut_fn)(chat_member *m);
void chat_fanout_set_cut(chat_fanout_cut_fn fn);
int chat_fanout_mark(chat_member *m, const char *marker);
int chat_fanout_marker(chat_room *room, const char *payload);

#endif
