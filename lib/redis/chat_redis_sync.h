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

/* A deep copy of r in malloc'd memory (hiredis frees a reply when an async
 * callback returns), NULL when out of memory; chat_redis_reply_free frees it. */
redisReply *chat_redis_reply_copy(const redisReply *r);
void chat_redis_reply_free(redisReply *r);

/* TCP keepalive and TCP_USER_TIMEOUT on a Redis socket, from ChatRedisTimeout. */
void chat_redis_keepalive(int fd, apr_interval_time_t timeout);

/* argv and lens in one malloc'd block (free() the result; *lens_out points
 * into it): the arguments from the third on are copied, the first two (a
 * command and a script, static) are kept as pointers. */
const char **chat_redis_args_keep(int argc, const char **argv, const size_t *lens,
                                  size_t **lens_out);

/* LOADING (reading its data at startup), BUSY (a script runs too long),
 * MASTERDOWN (a replica without its primary), READONLY (a demoted primary,
 * under Sentinel): nothing ran, and it passes. The reactor's connections
 * treat it as Redis being away: the connection goes down (and, under
 * Sentinel, asks for the primary again) and comes up once its setup PING is
 * answered, so joins and posts get `unavailable` meanwhile. */
int chat_redis_transient(const redisReply *reply);

#endif
