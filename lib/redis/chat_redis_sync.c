/* See chat_redis_sync.h. */
#include "chat_redis_sync.h"

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
