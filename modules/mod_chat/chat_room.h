/* Chat rooms on a reactor: each reactor has a hub with two Redis connections
 * (commands, subscriptions), the rooms that have members on this reactor,
 * and fans out what Redis publishes to those members, in seq order, once
 * per connection. */
#ifndef CHAT_ROOM_H
#define CHAT_ROOM_H

#include <httpd.h>

#include "chat_config.h"
#include "chat_ws_session.h"

typedef struct chat_hub chat_hub;
typedef struct chat_room chat_room;

/* One chat connection (the session's app_data). Made by the handler on the
 * request's thread, then only touched on the session's reactor thread. */
typedef struct chat_member {
    chat_ws_session *s;
    chat_hub *hub;
    chat_room *room;
    struct chat_member *prev, *next; /* in room->members */
    int refs;                        /* the session's and in-flight commands' */
    int join_sent;                   /* the join script was sent */
    int present;                     /* our presence entry exists in Redis */
    apr_time_t opened_at;            /* when the session started */

    char *username;
    char *room_name;
    char entry[192]; /* presence entry "user\nnode:session" */
    const chat_srv_conf *sc;
    chat_room_limits lim;

    int joined;    /* welcome sent: live events flow */
    int has_since; /* ?since= given */
    apr_uint64_t since;
    char epoch_hint[40];
    char epoch[40];
    apr_uint64_t last_seq; /* highest seq this client has */
} chat_member;

/* The handler's part: a member for this request (one reference, the
 * session's), or NULL (no memory). Commands in flight hold one more. */
chat_member *chat_member_create(request_rec *r, const char *room, const char *username);
void chat_member_hold(chat_member *m);
void chat_member_release(chat_member *m);

/* The app that runs chat rooms over a session. */
extern const chat_ws_app chat_room_app;

/* Send {"type":type,"payload":payload_json} to one member. */
void chat_member_send(chat_member *m, const char *type, const char *payload_json);
void chat_member_error(chat_member *m, const char *code, const char *message);
/* Record event in the room's debug log (admin API) and at LogLevel chat:debug. */
void chat_room_debug(chat_member *m, const char *event, const char *detail);

/* Used by the protocol handlers (chat_protocol.c). */
struct chat_redis *chat_hub_cmd(chat_hub *hub);
const char *chat_hub_prefix(chat_hub *hub);
int chat_hub_rate_take(chat_hub *hub, const char *user, int rate, int burst);
void chat_hub_count_post(chat_hub *hub);
void chat_room_publish(chat_member *m, const char *payload);

/* Client -> server message dispatch (chat_protocol.c). */
void chat_protocol_handle(chat_member *m, const char *data, apr_size_t len);

#endif
