/* The hub of a reactor: two Redis connections (commands, subscriptions),
 * the rooms that have members here, and joining them. A join subscribes to
 * the room's channel first and only then runs the join script, so no
 * message falls between the history a client gets and the live ones; after
 * a Redis outage the hub resubscribes and reads back what it missed. */
#ifndef CHAT_HUB_H
#define CHAT_HUB_H

#include "chat_room_types.h"

/* A member's session opened / closed (the room app's on_open, on_close). */
void chat_hub_enter(chat_member *m, chat_ws_session *s);
void chat_hub_leave(chat_member *m);

/* Live hand-over (handover/; the marker: chat_fanout.h): a member that
 * moves leaves its room here with its presence entry untouched, and the
 * taking process waits until its parked members' rooms are subscribed. */
void chat_hub_step_out(chat_member *m);
int chat_hub_ready(const chat_member *m);

/* Used by the protocol handlers (chat_protocol.c). */
chat_redis *chat_hub_cmd(chat_hub *hub);
const char *chat_hub_prefix(chat_hub *hub);
int chat_hub_rate_take(chat_hub *hub, const char *user, int rate, int burst);
void chat_hub_count_post(chat_hub *hub);
/* PUBLISH payload on m's room channel (an error to m when Redis is away). */
void chat_room_publish(chat_member *m, const char *payload);

#endif
