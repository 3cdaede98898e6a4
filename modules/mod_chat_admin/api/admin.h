/* Shared pieces of mod_chat_admin: the request context every endpoint gets,
 * JSON replies, request bodies, and the Redis connection of a request. */
#ifndef ADMIN_H
#define ADMIN_H

#include <httpd.h>
#include <hiredis/hiredis.h>
#include <json-c/json.h>

#include "admin_config.h"

typedef struct admin_req {
    request_rec *r;
    const chat_srv_conf *chat; /* mod_chat's settings of this server */
    const char *prefix;        /* Redis key prefix */
    redisContext *redis;       /* opened on first use, closed with the request */
    apr_size_t max_body;
} admin_req;

/* Reply with JSON (takes the object's reference). Returns OK. */
int admin_reply(admin_req *a, int status, json_object *body);
/* {"error": message, "code": code} with status; logged at info. Returns OK. */
int admin_error(admin_req *a, int status, const char *code, const char *message);

/* The request body parsed as a JSON object, or NULL after replying with
 * 400/413/415 (*status set to OK then). */
json_object *admin_read_json(admin_req *a, int *status);

/* Redis for this request, or NULL after replying 503. */
redisContext *admin_redis(admin_req *a, int *status);
/* A command; NULL (and 503 sent) when Redis fails. Free with freeReplyObject. */
redisReply *admin_cmd(admin_req *a, int *status, int argc, const char **argv);

/* Every write is logged: who (remote address), what. */
void admin_log_write(admin_req *a, const char *what);

/* Endpoints: each returns the handler status. */
int admin_rooms_list(admin_req *a);
int admin_room_members(admin_req *a, const char *room);
int admin_room_messages(admin_req *a, const char *room, const char *id);
int admin_room_reset(admin_req *a, const char *room);
int admin_room_log(admin_req *a, const char *room);
/* admin_room_view.c: the room view of the admin page */
int admin_room_sessions(admin_req *a, const char *room);
int admin_room_hours(admin_req *a, const char *room);
int admin_room_log_clear(admin_req *a, const char *room);
int admin_room_members_clear(admin_req *a, const char *room);
/* qsort comparators of json_object* arrays: strings; objects by "username" */
int admin_by_string(const void *x, const void *y);
int admin_by_username(const void *x, const void *y);
int admin_tokens(admin_req *a);
int admin_stats(admin_req *a);
int admin_jobs(admin_req *a, const char *name, const char *action);

#endif
