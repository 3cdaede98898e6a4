/* The admin page's view of a room: live sessions per user, messages per hour
 * of the last 7 days, and the bulk writes (clear the debug log, remove every
 * member). Sessions and hours are kept by mod_chat (chat_presence.c, the end
 * of chat_lua_post); see chat_store.h for the keys. */
#include <httpd.h>
#include <apr_strings.h>
#include <http_protocol.h>

#include "admin.h"
#include "chat_store.h"

#define HOUR_MS    3600000
#define HOURS_KEPT 168 /* 7 days, as chat_lua_post prunes */

static const char *key(admin_req *a, const char *room, const char *what)
{
    return chat_store_key(a->r->pool, a->prefix, room, what);
}

/* A presence entry "user\nhost:pid:hub:session" as a session object, with
 * the record mod_chat keeps for it (since, seen, node, pid) when there is one. */
static json_object *session_object(admin_req *a, const char *entry, const char *score,
                                   json_object *records)
{
    const char *sid = strchr(entry, '\n') + 1, *cut = strrchr(sid, ':');
    json_object *o = json_object_new_object(), *rec = NULL, *v;
    char *host, *pid, *last;

    json_object_object_add(o, "id", json_object_new_string(sid));
    json_object_object_add(o, "node", json_object_new_string_len(sid, cut ? (int)(cut - sid) : 0));
    host = apr_strtok(apr_pstrdup(a->r->pool, sid), ":", &last);
    pid = apr_strtok(NULL, ":", &last);
    json_object_object_add(o, "host", json_object_new_string(host ? host : ""));
    json_object_object_add(o, "pid", json_object_new_int(pid ? atoi(pid) : 0));
    json_object_object_add(o, "since", NULL);
    json_object_object_add(o, "lastSeen", NULL);
    json_object_object_add(o, "expires", json_object_new_int64(apr_atoi64(score)));
    if (json_object_object_get_ex(records, entry, &rec)) {
        /* the process holding it now (after a handover, not the entry's) */
        if (json_object_object_get_ex(rec, "node", &v)) {
            json_object_object_add(o, "node", json_object_get(v));
        }
        if (json_object_object_get_ex(rec, "pid", &v)) {
            json_object_object_add(o, "pid", json_object_get(v));
        }
        if (json_object_object_get_ex(rec, "since", &v)) {
            json_object_object_add(o, "since", json_object_get(v));
        }
        if (json_object_object_get_ex(rec, "seen", &v)) {
            json_object_object_add(o, "lastSeen", json_object_get(v));
        }
    }
    return o;
}

int admin_by_string(const void *x, const void *y)
{
    return strcmp(json_object_get_string(*(json_object *const *)x),
                  json_object_get_string(*(json_object *const *)y));
}

int admin_by_username(const void *x, const void *y)
{
    json_object *a, *b;

    json_object_object_get_ex(*(json_object *const *)x, "username", &a);
    json_object_object_get_ex(*(json_object *const *)y, "username", &b);
    return strcmp(json_object_get_string(a), json_object_get_string(b));
}

static int session_by_since(const void *x, const void *y)
{
    json_object *a, *b;

    json_object_object_get_ex(*(json_object *const *)x, "since", &a);
    json_object_object_get_ex(*(json_object *const *)y, "since", &b);
    return json_object_get_int64(a) < json_object_get_int64(b)   ? -1
           : json_object_get_int64(a) > json_object_get_int64(b) ? 1
                                                                 : 0;
}

int admin_room_sessions(admin_req *a, const char *room)
{
    const char *argv[5];
    redisReply *live, *rec;
    json_object *records = json_object_new_object(), *users, *out, *list;
    struct json_object_iterator it, end;
    size_t i;
    int status;

    if (a->r->method_number != M_GET) {
        json_object_put(records);
        return admin_error(a, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "use GET");
    }
    argv[0] = "ZRANGEBYSCORE";
    argv[1] = key(a, room, "presence");
    argv[2] = apr_psprintf(a->r->pool, "(%" APR_TIME_T_FMT, apr_time_as_msec(apr_time_now()));
    argv[3] = "+inf";
    argv[4] = "WITHSCORES";
    if (!(live = admin_cmd(a, &status, 5, argv))) {
        json_object_put(records);
        return status;
    }
    argv[0] = "HGETALL";
    argv[1] = key(a, room, "sessions");
    if (!(rec = admin_cmd(a, &status, 2, argv))) {
        freeReplyObject(live);
        json_object_put(records);
        return status;
    }
    for (i = 0; i + 1 < rec->elements; i += 2) {
        json_object *o = json_tokener_parse(rec->element[i + 1]->str);
        if (o) {
            json_object_object_add(records, rec->element[i]->str, o);
        }
    }
    freeReplyObject(rec);
    users = json_object_new_object();
    for (i = 0; i + 1 < live->elements; i += 2) {
        const char *e = live->element[i]->str, *nl = strchr(e, '\n');
        const char *user;
        json_object *sessions;
        if (!nl) {
            continue;
        }
        user = apr_pstrmemdup(a->r->pool, e, (apr_size_t)(nl - e));
        if (!json_object_object_get_ex(users, user, &sessions)) {
            sessions = json_object_new_array();
            json_object_object_add(users, user, sessions);
        }
        json_object_array_add(sessions, session_object(a, e, live->element[i + 1]->str, records));
    }
    freeReplyObject(live);
    json_object_put(records);
    list = json_object_new_array();
    /* json-c keeps insertion order; the page wants names sorted */
    it = json_object_iter_begin(users);
    end = json_object_iter_end(users);
    for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
        json_object *u = json_object_new_object();
        json_object *s = json_object_iter_peek_value(&it);
        json_object_array_sort(s, session_by_since);
        json_object_object_add(u, "username",
                               json_object_new_string(json_object_iter_peek_name(&it)));
        json_object_object_add(u, "sessions", json_object_get(s));
        json_object_array_add(list, u);
    }
    json_object_put(users);
    json_object_array_sort(list, admin_by_username);
    out = json_object_new_object();
    json_object_object_add(out, "room", json_object_new_string(room));
    json_object_object_add(out, "users", list);
    return admin_reply(a, HTTP_OK, out);
}

int admin_room_hours(admin_req *a, const char *room)
{
    apr_int64_t now_hour = apr_time_as_msec(apr_time_now()) / HOUR_MS, h;
    const char *argv[2 + HOURS_KEPT];
    json_object *out, *buckets;
    redisReply *rep;
    long long total = 0;
    int status, k;

    if (a->r->method_number != M_GET) {
        return admin_error(a, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "use GET");
    }
    argv[0] = "HMGET";
    argv[1] = key(a, room, "hours");
    for (k = 0; k < HOURS_KEPT; k++) {
        h = now_hour - (HOURS_KEPT - 1) + k;
        argv[2 + k] = apr_psprintf(a->r->pool, "%" APR_INT64_T_FMT, h);
    }
    if (!(rep = admin_cmd(a, &status, 2 + HOURS_KEPT, argv))) {
        return status;
    }
    buckets = json_object_new_array();
    for (k = 0; k < HOURS_KEPT && k < (int)rep->elements; k++) {
        json_object *b = json_object_new_object();
        long long n = rep->element[k]->str ? apr_atoi64(rep->element[k]->str) : 0;
        h = now_hour - (HOURS_KEPT - 1) + k;
        json_object_object_add(b, "start", json_object_new_int64(h * HOUR_MS));
        json_object_object_add(b, "count", json_object_new_int64(n));
        json_object_array_add(buckets, b);
        total += n;
    }
    freeReplyObject(rep);
    out = json_object_new_object();
    json_object_object_add(out, "room", json_object_new_string(room));
    json_object_object_add(out, "hourMs", json_object_new_int(HOUR_MS));
    json_object_object_add(out, "total", json_object_new_int64(total));
    json_object_object_add(out, "buckets", buckets);
    return admin_reply(a, HTTP_OK, out);
}

int admin_room_log_clear(admin_req *a, const char *room)
{
    const char *argv[2] = {"DEL", key(a, room, "debug")};
    redisReply *rep;
    json_object *out;
    int status;

    if (!(rep = admin_cmd(a, &status, 2, argv))) {
        return status;
    }
    freeReplyObject(rep);
    admin_log_write(a, apr_psprintf(a->r->pool, "debug log of room %s cleared", room));
    out = json_object_new_object();
    json_object_object_add(out, "room", json_object_new_string(room));
    json_object_object_add(out, "cleared", json_object_new_boolean(1));
    return admin_reply(a, HTTP_OK, out);
}

int admin_room_members_clear(admin_req *a, const char *room)
{
    const char *argv[3];
    redisReply *rep;
    json_object *out, *removed = json_object_new_array();
    size_t i;
    int status;

    argv[0] = "SMEMBERS";
    argv[1] = key(a, room, "members");
    if (!(rep = admin_cmd(a, &status, 2, argv))) {
        json_object_put(removed);
        return status;
    }
    for (i = 0; i < rep->elements; i++) {
        json_object_array_add(removed, json_object_new_string(rep->element[i]->str));
    }
    freeReplyObject(rep);
    argv[0] = "DEL";
    if (!(rep = admin_cmd(a, &status, 2, argv))) {
        json_object_put(removed);
        return status;
    }
    freeReplyObject(rep);
    /* every removed member's open sessions close with 1008 at once */
    for (i = 0; i < json_object_array_length(removed); i++) {
        json_object *ev = json_object_new_object();
        json_object_object_add(ev, "t", json_object_new_string("kick"));
        json_object_object_add(ev, "username",
                               json_object_get(json_object_array_get_idx(removed, i)));
        argv[0] = "PUBLISH";
        argv[1] = chat_store_channel(a->r->pool, a->prefix, room);
        argv[2] = apr_pstrdup(a->r->pool, json_object_to_json_string(ev));
        json_object_put(ev);
        if ((rep = admin_cmd(a, &status, 3, argv))) {
            freeReplyObject(rep);
        }
    }
    json_object_array_sort(removed, admin_by_string);
    admin_log_write(a, apr_psprintf(a->r->pool, "all %d members removed from room %s",
                                    (int)json_object_array_length(removed), room));
    out = json_object_new_object();
    json_object_object_add(out, "room", json_object_new_string(room));
    json_object_object_add(out, "removed", removed);
    return admin_reply(a, HTTP_OK, out);
}
