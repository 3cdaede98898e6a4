/* /chat-admin/api/rooms...: rooms, members, messages, reset, debug log.
 * Writes go through the same Lua scripts mod_chat uses (chat_store.c), so a
 * bot post or a delete reaches every connected client like a user's. */
#include <httpd.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_protocol.h>

#include "admin.h"
#include "chat_identity.h"
#include "chat_store.h"
#include "chat_util.h"

static const char *key(admin_req *a, const char *room, const char *what)
{
    return chat_store_key(a->r->pool, a->prefix, room, what);
}

static const char *now_ms(admin_req *a)
{
    return apr_psprintf(a->r->pool, "%" APR_TIME_T_FMT, apr_time_as_msec(apr_time_now()));
}

/* A parsed JSON text from Redis, or an empty array. */
static json_object *parse(const char *text)
{
    json_object *o = text ? json_tokener_parse(text) : NULL;
    return o ? o : json_object_new_array();
}

/* The number of users online in room, their names added to names. */
static int online_users(admin_req *a, const char *room, int *status, json_object *names)
{
    const char *argv[] = {"ZRANGEBYSCORE", key(a, room, "presence"), now_ms(a), "+inf"};
    redisReply *rep = admin_cmd(a, status, 4, argv);
    apr_hash_t *seen;
    size_t i;
    int n = 0;

    if (!rep) {
        return -1;
    }
    seen = apr_hash_make(a->r->pool);
    for (i = 0; i < rep->elements; i++) {
        const char *e = rep->element[i]->str, *nl = strchr(e, '\n');
        apr_size_t len = nl ? (apr_size_t)(nl - e) : strlen(e);
        if (!apr_hash_get(seen, e, (apr_ssize_t)len)) {
            apr_hash_set(seen, apr_pstrmemdup(a->r->pool, e, len), (apr_ssize_t)len, "");
            json_object_array_add(names, json_object_new_string_len(e, (int)len));
            n++;
        }
    }
    freeReplyObject(rep);
    return n;
}

int admin_rooms_list(admin_req *a)
{
    const char *argv[4];
    redisReply *rooms;
    json_object *list = json_object_new_array();
    json_object *out;
    size_t i;
    int status;

    if (a->r->method_number != M_GET) {
        json_object_put(list);
        return admin_error(a, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "use GET");
    }
    argv[0] = "SMEMBERS";
    argv[1] = apr_pstrcat(a->r->pool, a->prefix, "rooms", NULL);
    if (!(rooms = admin_cmd(a, &status, 2, argv))) {
        json_object_put(list);
        return status;
    }
    for (i = 0; i < rooms->elements; i++) {
        const char *name = rooms->element[i]->str;
        json_object *o = json_object_new_object(), *names;
        redisReply *rep;
        int online;

        json_object_object_add(o, "name", json_object_new_string(name));
        argv[0] = "SCARD";
        argv[1] = key(a, name, "members");
        if ((rep = admin_cmd(a, &status, 2, argv))) {
            json_object_object_add(o, "members", json_object_new_int64(rep->integer));
            freeReplyObject(rep);
        }
        names = json_object_new_array();
        if ((online = online_users(a, name, &status, names)) >= 0) {
            json_object_object_add(o, "online", json_object_new_int(online));
            json_object_array_sort(names, admin_by_string);
            json_object_object_add(o, "users", names);
        }
        else {
            json_object_put(names);
        }
        argv[0] = "HMGET";
        argv[1] = key(a, name, "meta");
        argv[2] = "last_ts";
        argv[3] = "seq";
        if ((rep = admin_cmd(a, &status, 4, argv))) {
            json_object_object_add(o, "lastActivity",
                                   rep->element[0]->str
                                       ? json_object_new_int64(apr_atoi64(rep->element[0]->str))
                                       : NULL);
            json_object_object_add(
                o, "seq",
                json_object_new_int64(rep->element[1]->str ? apr_atoi64(rep->element[1]->str) : 0));
            freeReplyObject(rep);
        }
        json_object_array_add(list, o);
    }
    freeReplyObject(rooms);
    if (!a->redis) {
        json_object_put(list);
        return OK; /* an error was sent */
    }
    out = json_object_new_object();
    json_object_object_add(out, "rooms", list);
    return admin_reply(a, HTTP_OK, out);
}

int admin_room_members(admin_req *a, const char *room)
{
    request_rec *r = a->r;
    const char *argv[4];
    redisReply *rep;
    json_object *out;
    int status;

    if (r->method_number == M_GET) {
        json_object *list = json_object_new_array();
        size_t i;
        argv[0] = "SMEMBERS";
        argv[1] = key(a, room, "members");
        if (!(rep = admin_cmd(a, &status, 2, argv))) {
            json_object_put(list);
            return status;
        }
        for (i = 0; i < rep->elements; i++) {
            json_object_array_add(list, json_object_new_string(rep->element[i]->str));
        }
        freeReplyObject(rep);
        json_object_array_sort(list, admin_by_string);
        out = json_object_new_object();
        json_object_object_add(out, "room", json_object_new_string(room));
        json_object_object_add(out, "members", list);
        return admin_reply(a, HTTP_OK, out);
    }
    if (r->method_number == M_POST) {
        json_object *body = admin_read_json(a, &status), *u;
        const char *user;
        long long added;
        if (!body) {
            return status;
        }
        if (!json_object_object_get_ex(body, "username", &u) ||
            !json_object_is_type(u, json_type_string) ||
            !chat_username_valid(json_object_get_string(u))) {
            json_object_put(body);
            return admin_error(a, HTTP_BAD_REQUEST, "invalid_username",
                               "username: 1-64 characters, no control characters, no "
                               "leading or trailing space");
        }
        user = apr_pstrdup(r->pool, json_object_get_string(u));
        json_object_put(body);
        argv[0] = "SADD";
        argv[1] = key(a, room, "members");
        argv[2] = user;
        if (!(rep = admin_cmd(a, &status, 3, argv))) {
            return status;
        }
        added = rep->integer;
        freeReplyObject(rep);
        argv[1] = apr_pstrcat(r->pool, a->prefix, "rooms", NULL);
        argv[2] = room;
        if ((rep = admin_cmd(a, &status, 3, argv))) {
            freeReplyObject(rep);
        }
        admin_log_write(a, apr_psprintf(r->pool, "member %s %s room %s", user,
                                        added ? "added to" : "already in", room));
        out = json_object_new_object();
        json_object_object_add(out, "room", json_object_new_string(room));
        json_object_object_add(out, "username", json_object_new_string(user));
        json_object_object_add(out, "added", json_object_new_boolean(added > 0));
        return admin_reply(a, added ? HTTP_CREATED : HTTP_OK, out);
    }
    if (r->method_number == M_DELETE) {
        const char *user = chat_query_param(r->pool, r->args, "username");
        json_object *ev;
        const char *all = chat_query_param(r->pool, r->args, "all");
        if (all && !strcmp(all, "1") && !user) {
            return admin_room_members_clear(a, room);
        }
        if (!user || !chat_username_valid(user)) {
            return admin_error(a, HTTP_BAD_REQUEST, "invalid_username",
                               "give ?username= of the member to remove");
        }
        argv[0] = "SREM";
        argv[1] = key(a, room, "members");
        argv[2] = user;
        if (!(rep = admin_cmd(a, &status, 3, argv))) {
            return status;
        }
        if (rep->integer == 0) {
            freeReplyObject(rep);
            return admin_error(a, HTTP_NOT_FOUND, "not_member",
                               apr_psprintf(r->pool, "%s is not a member of %s", user, room));
        }
        freeReplyObject(rep);
        /* the member's open sessions close with 1008 at once */
        ev = json_object_new_object();
        json_object_object_add(ev, "t", json_object_new_string("kick"));
        json_object_object_add(ev, "username", json_object_new_string(user));
        argv[0] = "PUBLISH";
        argv[1] = chat_store_channel(r->pool, a->prefix, room);
        argv[2] = apr_pstrdup(r->pool, json_object_to_json_string(ev));
        json_object_put(ev);
        if ((rep = admin_cmd(a, &status, 3, argv))) {
            freeReplyObject(rep);
        }
        admin_log_write(a, apr_psprintf(r->pool, "member %s removed from room %s", user, room));
        out = json_object_new_object();
        json_object_object_add(out, "room", json_object_new_string(room));
        json_object_object_add(out, "removed", json_object_new_string(user));
        return admin_reply(a, HTTP_OK, out);
    }
    return admin_error(a, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "use GET, POST or DELETE");
}

static int get_int_arg(admin_req *a, const char *name, apr_int64_t *out, apr_int64_t lo,
                       apr_int64_t hi)
{
    const char *v = chat_query_param(a->r->pool, a->r->args, name);
    char *end;

    if (!v || !*v) {
        return 1;
    }
    *out = apr_strtoi64(v, &end, 10);
    return !*end && *out >= lo && *out <= hi;
}

static int read_messages(admin_req *a, const char *room)
{
    apr_int64_t before = 0, limit = 20;
    const char *argv[6];
    redisReply *rep;
    json_object *out;
    int status;

    if (!get_int_arg(a, "beforeSeq", &before, 0, APR_INT64_MAX) ||
        !get_int_arg(a, "limit", &limit, 1, 100)) {
        return admin_error(a, HTTP_BAD_REQUEST, "invalid_parameter",
                           "beforeSeq must be a whole number, limit 1 to 100");
    }
    argv[0] = "EVAL";
    argv[1] = chat_lua_history;
    argv[2] = "1";
    argv[3] = key(a, room, "log");
    argv[4] = apr_psprintf(a->r->pool, "%" APR_INT64_T_FMT, before);
    argv[5] = apr_psprintf(a->r->pool, "%" APR_INT64_T_FMT, limit);
    if (!(rep = admin_cmd(a, &status, 6, argv))) {
        return status;
    }
    out = json_object_new_object();
    json_object_object_add(out, "messages", parse(rep->element[0]->str));
    json_object_object_add(out, "hasMore", json_object_new_boolean(rep->element[1]->integer));
    freeReplyObject(rep);
    return admin_reply(a, HTTP_OK, out);
}

static int post_message(admin_req *a, const char *room)
{
    request_rec *r = a->r;
    json_object *body = NULL, *t, *u, *msg;
    const char *text, *user = "system", *argv[11];
    redisReply *rep;
    int status;

    if (!(body = admin_read_json(a, &status))) {
        return status;
    }
    if (!json_object_object_get_ex(body, "text", &t) || !json_object_is_type(t, json_type_string) ||
        !*json_object_get_string(t)) {
        json_object_put(body);
        return admin_error(a, HTTP_BAD_REQUEST, "missing_field", "text is required");
    }
    text = apr_pstrdup(r->pool, json_object_get_string(t));
    if (json_object_object_get_ex(body, "username", &u)) {
        if (!json_object_is_type(u, json_type_string) ||
            !chat_username_valid(json_object_get_string(u))) {
            json_object_put(body);
            return admin_error(a, HTTP_BAD_REQUEST, "invalid_username", "invalid username");
        }
        user = apr_pstrdup(r->pool, json_object_get_string(u));
    }
    json_object_put(body);
    msg = json_object_new_object();
    json_object_object_add(msg, "username", json_object_new_string(user));
    json_object_object_add(msg, "timestamp",
                           json_object_new_int64(apr_time_as_msec(apr_time_now())));
    json_object_object_add(msg, "type",
                           json_object_new_string(strcmp(user, "system") ? "text" : "system"));
    json_object_object_add(msg, "text", json_object_new_string(text));
    chat_store_post_args(
        r->pool, argv, a->prefix, room, CHAT_DEFAULT_HISTORY_SIZE,
        apr_pstrdup(r->pool, json_object_to_json_string_ext(
                                 msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)),
        strcmp(user, "system") ? user : CHAT_STORE_OWNER_BOT);
    json_object_put(msg);
    if (!(rep = admin_cmd(a, &status, 11, argv))) {
        return status;
    }
    msg = json_tokener_parse(rep->element[2]->str);
    freeReplyObject(rep);
    admin_log_write(a, apr_psprintf(r->pool, "posted as %s in room %s", user, room));
    return admin_reply(a, HTTP_CREATED, msg ? msg : json_object_new_object());
}

static int delete_message(admin_req *a, const char *room, const char *id)
{
    const char *argv[7], *c;
    redisReply *rep;
    json_object *out;
    int status;

    for (c = id; *c && apr_isdigit(*c); c++) {
    }
    if (!*id || *c || strlen(id) > 19) {
        return admin_error(a, HTTP_NOT_FOUND, "not_found", "no such message");
    }
    argv[0] = "EVAL";
    argv[1] = chat_lua_delete;
    argv[2] = "1";
    argv[3] = key(a, room, "log");
    argv[4] = id;
    argv[5] = ""; /* the admin may delete anyone's message */
    argv[6] = chat_store_channel(a->r->pool, a->prefix, room);
    if (!(rep = admin_cmd(a, &status, 7, argv))) {
        return status;
    }
    if (rep->str && !strcmp(rep->str, "notfound")) {
        freeReplyObject(rep);
        return admin_error(a, HTTP_NOT_FOUND, "not_found", "no such message");
    }
    freeReplyObject(rep);
    admin_log_write(a, apr_psprintf(a->r->pool, "message %s deleted in room %s", id, room));
    out = json_object_new_object();
    json_object_object_add(out, "deleted", json_object_new_string(id));
    return admin_reply(a, HTTP_OK, out);
}

int admin_room_messages(admin_req *a, const char *room, const char *id)
{
    int m = a->r->method_number;

    if (id) {
        return m == M_DELETE
                   ? delete_message(a, room, id)
                   : admin_error(a, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "use DELETE");
    }
    if (m == M_GET) {
        return read_messages(a, room);
    }
    if (m == M_POST) {
        return post_message(a, room);
    }
    return admin_error(a, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "use GET or POST");
}

int admin_room_reset(admin_req *a, const char *room)
{
    const char *argv[7];
    char epoch[17];
    redisReply *rep;
    json_object *out;
    int status;

    if (a->r->method_number != M_POST) {
        return admin_error(a, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "use POST");
    }
    chat_store_new_epoch(epoch);
    argv[0] = "EVAL";
    argv[1] = chat_lua_reset;
    argv[2] = "2";
    argv[3] = key(a, room, "meta");
    argv[4] = key(a, room, "log");
    argv[5] = chat_store_channel(a->r->pool, a->prefix, room);
    argv[6] = epoch;
    if (!(rep = admin_cmd(a, &status, 7, argv))) {
        return status;
    }
    out = json_object_new_object();
    json_object_object_add(out, "room", json_object_new_string(room));
    json_object_object_add(out, "epoch", json_object_new_string(epoch));
    json_object_object_add(out, "seq", json_object_new_int64(rep->integer));
    freeReplyObject(rep);
    admin_log_write(a, apr_psprintf(a->r->pool, "room %s reset (epoch %s)", room, epoch));
    return admin_reply(a, HTTP_OK, out);
}

int admin_room_log(admin_req *a, const char *room)
{
    apr_int64_t limit = 100;
    const char *argv[4];
    redisReply *rep;
    json_object *out, *list;
    size_t i;
    int status;

    if (a->r->method_number == M_DELETE) {
        return admin_room_log_clear(a, room);
    }
    if (a->r->method_number != M_GET) {
        return admin_error(a, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "use GET or DELETE");
    }
    if (!get_int_arg(a, "limit", &limit, 1, 100000)) {
        return admin_error(a, HTTP_BAD_REQUEST, "invalid_parameter", "limit: 1 to 100000");
    }
    argv[0] = "LRANGE";
    argv[1] = key(a, room, "debug");
    argv[2] = "0";
    argv[3] = apr_psprintf(a->r->pool, "%" APR_INT64_T_FMT, limit - 1);
    if (!(rep = admin_cmd(a, &status, 4, argv))) {
        return status;
    }
    list = json_object_new_array();
    for (i = 0; i < rep->elements; i++) {
        json_object *e = json_tokener_parse(rep->element[i]->str);
        if (e) {
            json_object_array_add(list, e);
        }
    }
    freeReplyObject(rep);
    out = json_object_new_object();
    json_object_object_add(out, "room", json_object_new_string(room));
    json_object_object_add(out, "entries", list);
    return admin_reply(a, HTTP_OK, out);
}
