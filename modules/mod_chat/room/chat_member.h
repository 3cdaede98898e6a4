/* One chat connection on a reactor: made by the handler, then sent frames,
 * errors and refusals, and its events written to the room's debug log. */
#ifndef CHAT_MEMBER_H
#define CHAT_MEMBER_H

#include <httpd.h>

#include "chat_room_types.h"
#include "chat_wire.h"

/* The handler's part: a member for this request (one reference, the
 * session's), or NULL (no memory). Commands in flight hold one more. */
chat_member *chat_member_create(request_rec *r, const char *room, const char *username);
void chat_member_hold(chat_member *m);
void chat_member_release(chat_member *m);

/* Send {"type":type,"payload":payload_json} to one member. */
void chat_member_send(chat_member *m, const char *type, const char *payload_json);
/* The same frame, encoded once for many members (one reference, the
 * caller's: chat_outbuf_release it); NULL when out of memory. */
chat_outbuf *chat_member_frame(const char *type, const char *payload_json);
void chat_member_error(chat_member *m, const char *code, const char *message);
/* auth_failed with message, then close 1008. */
void chat_member_refuse(chat_member *m, const char *message);
/* Spend cost units of m's ChatMessageBudget: 1 when it may go on; else 0,
 * with an `error` rate_limited (at most one a second), and close 1008 once
 * m kept sending while out of budget for more than a burst's worth. */
int chat_member_budget_take(chat_member *m, double cost);
/* Live hand-over. movable: joined and not reading back an outage. save
 * appends who m is and what it may still spend to w; load makes a parked
 * member of it under the taking process's own settings (sc, dc), waiting
 * for marker; NULL on a malformed record. disown: m's presence entry is the
 * other process's (nothing leaves presence when m goes). */
int chat_member_movable(const chat_member *m);
void chat_member_save(const chat_member *m, chat_wire *w);
chat_member *chat_member_load(const chat_srv_conf *sc, const chat_dir_conf *dc, chat_wire_reader *r,
                              const char *marker);
void chat_member_disown(chat_member *m);
/* Set (a copy) or clear (NULL) the hand-over marker m waits for: 0, or -1
 * when out of memory (m then waits for none). */
int chat_member_set_marker(chat_member *m, const char *marker);
/* m's presence entry "user\nnode:session"; left NULL when out of memory. */
void chat_member_set_entry(chat_member *m, const char *node, apr_uint64_t session_id);

/* Keep a message m sent before its welcome (one sent with the upgrade
 * request, say), to be given to fn once it is welcomed: 1, or 0 when m
 * already holds as many as it may. */
int chat_member_hold_early(chat_member *m, const char *data, apr_size_t len,
                           void (*fn)(chat_member *m, const char *data, apr_size_t len));
/* m was welcomed: hand it what it sent before, in order. */
void chat_member_replay_early(chat_member *m);
/* Record event in the room's debug log (admin API) and at LogLevel chat:debug. */
void chat_member_debug(chat_member *m, const char *event, const char *detail);

#endif
