/* Joining a room: the join script (membership, presence, history page, seq
 * and the join event in one Redis round trip) and its reply, the welcome;
 * and after a Redis outage, reading back what the room's members missed.
 * On the hub's reactor thread. */
#ifndef CHAT_JOIN_H
#define CHAT_JOIN_H

#include "chat_room_types.h"

/* Send m's join script (its room is subscribed); the reply welcomes m. */
void chat_join_run(chat_member *m);

/* The subscriber is back after an outage: each joined member of room gets
 * what was published meanwhile, then the live frames held since. */
void chat_join_catchup(chat_room *room);

#endif
