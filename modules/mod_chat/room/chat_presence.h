/* Presence: each hub refreshes its members' entries every
 * ChatPresenceTTL/3 (a crashed server's expire), closes members removed
 * from a room meanwhile, gives up joins Redis never answered, and writes
 * this process's figures for the admin API's /stats, and per-session
 * records (room:R:sessions) for its room view. */
#ifndef CHAT_PRESENCE_H
#define CHAT_PRESENCE_H

#include "chat_room_types.h"

/* The reactor tick of a hub (data). */
void chat_presence_tick(chat_reactor *r, apr_time_t now, void *data);
/* Record m's session (since, last seen, process) for the admin API once its
 * join is stored; presence refreshes keep it, chat_presence_leave drops it. */
void chat_presence_enter(chat_member *m);
/* Remove m's entry (it expires by itself when Redis is away). */
void chat_presence_leave(chat_member *m);

#endif
