/* Presence and per-process figures: see chat_presence.h. */
#include <httpd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>

#include "chat_member.h"
#include "chat_presence.h"
#include "chat_store.h"
#include "chat_util.h"

/* This process's figures for the admin API's /stats and /server-status,
 * expiring with it, and its entry in the registry of such hashes (readers
 * must not need KEYS, which ACL users may lack). */
static void presence_write_stats(chat_hub *hub, apr_time_t now, apr_pool_t *p)
{
    apr_hash_index_t *hi;
    int sessions = 0;
    double secs = hub->last_stats ? (double)(now - hub->last_stats) / APR_USEC_PER_SEC : 0;
    const char *argv[16];
    const char *key = chat_store_node_key(p, hub->prefix, hub->node);
    const char *nodes = chat_store_nodes_key(p, hub->prefix);

    for (hi = apr_hash_first(p, hub->rooms); hi; hi = apr_hash_next(hi)) {
        sessions += ((chat_room *)apr_hash_this_val(hi))->count;
    }
    argv[0] = "HSET";
    argv[1] = key;
    argv[2] = "pid";
    argv[3] = apr_itoa(p, (int)getpid());
    argv[4] = "sessions";
    argv[5] = apr_itoa(p, sessions);
    argv[6] = "rooms";
    argv[7] = apr_itoa(p, (int)apr_hash_count(hub->rooms));
    argv[8] = "messages_per_s";
    argv[9] = apr_psprintf(p, "%.2f", secs > 0 ? hub->posts / secs : 0.0);
    argv[10] = "updated";
    argv[11] = apr_psprintf(p, "%" APR_TIME_T_FMT, apr_time_as_msec(now));
    chat_redis_command(hub->cmd, NULL, NULL, 12, argv, NULL);
    argv[0] = "PEXPIRE";
    argv[2] = apr_psprintf(p, "%" APR_TIME_T_FMT, apr_time_as_msec(hub->presence_ttl));
    chat_redis_command(hub->cmd, NULL, NULL, 3, argv, NULL);
    argv[0] = "ZADD";
    argv[1] = nodes;
    argv[2] = apr_psprintf(p, "%" APR_TIME_T_FMT, apr_time_as_msec(now + hub->presence_ttl));
    argv[3] = hub->node;
    chat_redis_command(hub->cmd, NULL, NULL, 4, argv, NULL);
    argv[0] = "ZREMRANGEBYSCORE"; /* processes gone without a word */
    argv[2] = "-inf";
    argv[3] = apr_psprintf(p, "(%" APR_TIME_T_FMT, apr_time_as_msec(now));
    chat_redis_command(hub->cmd, NULL, NULL, 4, argv, NULL);
    hub->posts = 0;
    hub->last_stats = now;
}

/* The admin page's record of m's session: since when, last seen, and which
 * process holds it when that is not the one its entry names (after a
 * hand-over); the admin API reads the process from the entry otherwise. */
const char *chat_presence_record(chat_member *m, apr_time_t now, apr_pool_t *p)
{
    const char *sid = strchr(m->entry, '\n');
    apr_size_t n = strlen(m->hub->node);

    if (sid && !strncmp(sid + 1, m->hub->node, n) && sid[1 + n] == ':') {
        return apr_psprintf(p, "{\"since\":%" APR_TIME_T_FMT ",\"seen\":%" APR_TIME_T_FMT "}",
                            apr_time_as_msec(m->opened_at), apr_time_as_msec(now));
    }
    return apr_psprintf(
        p, "{\"since\":%" APR_TIME_T_FMT ",\"seen\":%" APR_TIME_T_FMT ",\"node\":%s,\"pid\":%d}",
        apr_time_as_msec(m->opened_at), apr_time_as_msec(now), chat_json_quote(p, m->hub->node),
        (int)getpid());
}

typedef struct presence_ctx {
    chat_hub *hub;
    char room[72];
} presence_ctx;

static presence_ctx *presence_ctx_make(chat_hub *hub, chat_room *room)
{
    presence_ctx *c = malloc(sizeof(*c));

    if (c) {
        c->hub = hub;
        apr_cpystrn(c->room, room->name, sizeof(c->room));
    }
    return c;
}

/* Members removed from a room by any means (admin API or Redis itself) are
 * closed here at the latest; the admin API's kick event does it at once. */
static void on_presence_reply(chat_redis *rc, redisReply *reply, void *data)
{
    presence_ctx *c = data;
    chat_room *room;
    size_t i;

    (void)rc;
    if (!c) {
        return;
    }
    room = apr_hash_get(c->hub->rooms, c->room, APR_HASH_KEY_STRING);
    for (i = 0; room && reply && reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++) {
        chat_member *m, *next;
        if (reply->element[i]->type != REDIS_REPLY_STRING) {
            continue;
        }
        for (m = room->members; m; m = next) {
            next = m->next;
            if (m->joined && !strcmp(m->username, reply->element[i]->str)) {
                chat_member_refuse(m, "you were removed from this room");
            }
        }
    }
    free(c);
}

void chat_presence_tick(chat_reactor *r, apr_time_t now, void *data)
{
    chat_hub *hub = data;
    apr_hash_index_t *hi;
    apr_pool_t *p, *rp;

    (void)r;
    /* joins still waiting for Redis after ChatRedisTimeout give up */
    for (hi = apr_hash_first(NULL, hub->rooms); hi; hi = apr_hash_next(hi)) {
        chat_room *room = apr_hash_this_val(hi);
        chat_member *m;
        for (m = room->members; m; m = m->next) {
            if (!m->join_sent && m->s && m->s->state == CHAT_WS_OPEN &&
                now - m->opened_at > chat_settings_redis_timeout(hub->sc)) {
                chat_member_error(m, "unavailable", "chat storage unavailable, try again");
                chat_ws_session_close(m->s, CHAT_WS_CLOSE_INTERNAL, "storage unavailable");
            }
        }
    }
    if (now < hub->next_presence || !chat_redis_is_up(hub->cmd)) {
        return;
    }
    hub->next_presence = now + hub->presence_ttl / 3;
    apr_pool_create(&p, NULL);
    presence_write_stats(hub, now, p);
    apr_pool_create(&rp, p);
    for (hi = apr_hash_first(p, hub->rooms); hi; hi = apr_hash_next(hi)) {
        chat_room *room = apr_hash_this_val(hi);
        apr_array_header_t *argv;
        presence_ctx *ctx;
        chat_member *m;

        if (!room->count) {
            continue; /* lingering empty room: nobody to refresh */
        }
        argv = apr_array_make(rp, 9 + 2 * room->count, sizeof(const char *));

        APR_ARRAY_PUSH(argv, const char *) = "EVAL";
        APR_ARRAY_PUSH(argv, const char *) = chat_lua_presence;
        APR_ARRAY_PUSH(argv, const char *) = "3";
        APR_ARRAY_PUSH(argv, const char *) =
            chat_store_key(rp, hub->prefix, room->name, "presence");
        APR_ARRAY_PUSH(argv, const char *) = chat_store_key(rp, hub->prefix, room->name, "members");
        APR_ARRAY_PUSH(argv, const char *) =
            chat_store_key(rp, hub->prefix, room->name, "sessions");
        APR_ARRAY_PUSH(argv, const char *) =
            apr_psprintf(rp, "%" APR_TIME_T_FMT, apr_time_as_msec(now));
        APR_ARRAY_PUSH(argv, const char *) =
            apr_psprintf(rp, "%" APR_TIME_T_FMT, apr_time_as_msec(now + hub->presence_ttl));
        APR_ARRAY_PUSH(argv, const char *) = room->channel;
        APR_ARRAY_PUSH(argv, const char *) = hub->prefix;
        for (m = room->members; m; m = m->next) {
            if (m->joined) {
                APR_ARRAY_PUSH(argv, const char *) = m->entry;
                APR_ARRAY_PUSH(argv, const char *) = chat_presence_record(m, now, rp);
            }
        }
        /* the reply names local users removed from the room meanwhile */
        ctx = presence_ctx_make(hub, room);
        if (chat_redis_command(hub->cmd, on_presence_reply, ctx, argv->nelts,
                               (const char **)argv->elts, NULL) != 0) {
            free(ctx);
        }
        apr_pool_clear(rp); /* one room's arguments at a time, not every room's */
    }
    apr_pool_destroy(rp);
    apr_pool_destroy(p);
}

void chat_presence_leave(chat_member *m)
{
    chat_hub *hub = m->hub;
    apr_pool_t *p;
    const char *argv[10];

    if (!chat_redis_is_up(hub->cmd)) {
        return; /* the entry expires by itself */
    }
    apr_pool_create(&p, NULL);
    argv[0] = "EVAL";
    argv[1] = chat_lua_leave;
    argv[2] = "2";
    argv[3] = chat_store_key(p, hub->prefix, m->room_name, "presence");
    argv[4] = chat_store_key(p, hub->prefix, m->room_name, "sessions");
    argv[5] = m->entry;
    argv[6] = apr_psprintf(p, "%" APR_TIME_T_FMT, apr_time_as_msec(apr_time_now()));
    argv[7] = chat_store_channel(p, hub->prefix, m->room_name);
    argv[8] = m->username;
    argv[9] = hub->prefix;
    chat_redis_command(hub->cmd, NULL, NULL, 10, argv, NULL);
    apr_pool_destroy(p);
}
