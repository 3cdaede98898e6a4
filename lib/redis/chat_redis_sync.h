/* A blocking Redis connection for request threads that need one answer (an
 * upload's membership check, the admin API, /server-status): connect with
 * ChatRedisTimeout, AUTH and SELECT as configured. */
#ifndef CHAT_REDIS_SYNC_H
#define CHAT_REDIS_SYNC_H

#include <hiredis/hiredis.h>

#include "chat_settings.h"

/* NULL with *err set (a static or hiredis string) when Redis cannot be used. */
redisContext *chat_redis_sync_open(const chat_srv_conf *sc, const char **err);

/* redisCommandArgv for every blocking caller: an EVAL of a chat_lua_* script
 * goes as EVALSHA, and as EVAL with the text only if Redis answers NOSCRIPT. */
redisReply *chat_redis_sync_command(redisContext *c, int argc, const char **argv,
                                    const size_t *lens);

/* One event into a room's debug log over c (chat_store_debug_args) when
 * ChatDebugLogSize keeps any; best effort, a failure is ignored. */
void chat_redis_sync_debug(redisContext *c, apr_pool_t *p, const chat_srv_conf *sc,
                           const char *room, const char *event, const char *username,
                           const char *detail);

#endif
