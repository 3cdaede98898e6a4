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
/* The admin API's record of m's session (since, last seen, process), JSON:
 * written by the join script, kept by presence refreshes, dropped by
 * chat_presence_leave. */
const char *chat_presence_record(chat_member *m, apr_time_t now, apr_pool_t *p);
/* Remove m's entry (it expires by itself when Redis is away). */
void chat_presence_leave(chat_member *m);

#endif
