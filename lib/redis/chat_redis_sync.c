/* See chat_redis_sync.h. */
#include <stdlib.h>
#include <string.h>

#include "chat_redis_sync.h"
#include "chat_store.h"

redisContext *chat_redis_sync_open(const chat_srv_conf *sc, const char **err)
{
    struct timeval tv;
    int port;
    const char *host = chat_settings_redis_host(sc, &port);
    redisContext *c;
    redisReply *rep = NULL;

    tv.tv_sec = apr_time_sec(chat_settings_redis_timeout(sc));
    tv.tv_usec = 0;
    c = port ? redisConnectWithTimeout(host, port, tv) : redisConnectUnixWithTimeout(host, tv);
    if (!c || c->err) {
        *err = c ? "cannot connect to Redis" : "out of memory";
        if (c) {
            redisFree(c);
        }
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (sc->redis_password) {
        rep = sc->redis_user ? redisCommand(c, "AUTH %s %s", sc->redis_user, sc->redis_password)
                             : redisCommand(c, "AUTH %s", sc->redis_password);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            *err = "Redis refused ChatRedisAuth";
            goto fail;
        }
        freeReplyObject(rep);
    }
    if (sc->redis_db > 0) {
        rep = redisCommand(c, "SELECT %d", sc->redis_db);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            *err = "Redis refused ChatRedisDatabase";
            goto fail;
        }
        freeReplyObject(rep);
    }
    return c;
fail:
    if (rep) {
        freeReplyObject(rep);
    }
    redisFree(c);
    return NULL;
}

redisReply *chat_redis_sync_command(redisContext *c, int argc, const char **argv,
                                    const size_t *lens)
{
    const char *sha = argc >= 2 && !strcmp(argv[0], "EVAL") ? chat_store_script_sha(argv[1]) : NULL;
    const char **v;
    size_t *l;
    redisReply *rep;
    int i;

    if (!sha) {
        return redisCommandArgv(c, argc, argv, lens);
    }
    v = malloc(argc * (sizeof(*v) + sizeof(*l)));
    if (!v) {
        return NULL;
    }
    l = (size_t *)(v + argc);
    for (i = 0; i < argc; i++) {
        v[i] = argv[i];
        l[i] = lens ? lens[i] : strlen(argv[i]);
    }
    v[0] = "EVALSHA";
    l[0] = 7;
    v[1] = sha;
    l[1] = 40;
    rep = redisCommandArgv(c, argc, v, l);
    free(v);
    if (rep && rep->type == REDIS_REPLY_ERROR && !strncmp(rep->str, "NOSCRIPT", 8)) {
        freeReplyObject(rep);
        rep = redisCommandArgv(c, argc, argv, lens);
    }
    return rep;
}

void chat_redis_sync_debug(redisContext *c, apr_pool_t *p, const chat_srv_conf *sc,
                           const char *room, const char *event, const char *username,
                           const char *detail)
{
    int cap = chat_settings_debug_cap(sc);
    const char *argv[6];
    redisReply *r;

    if (!cap) {
        return;
    }
    chat_store_debug_args(p, argv, chat_settings_key_prefix(sc), room, cap, event, username, NULL,
                          detail);
    if ((r = chat_redis_sync_command(c, 6, argv, NULL))) {
        freeReplyObject(r);
    }
}
