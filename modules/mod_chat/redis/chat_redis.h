/* Non-blocking Redis connections (hiredis async) driven by a reactor's epoll
 * loop, so no socket of the chat waits on Redis. Each connection reconnects
 * by itself every second while Redis is away and resets a connection whose
 * replies stop coming for ChatRedisTimeout. A subscriber connection, which
 * may wait for messages forever, is probed when quiet, so a half-open one is
 * reset within 2 x ChatRedisTimeout. Under ChatRedisSentinel each
 * connection asks a sentinel for the primary (itself non-blocking, on the
 * same loop), checks ROLE, and reconnects on -READONLY, on a lost
 * connection and on +switch-master. On the reactor's thread only. */
#ifndef CHAT_REDIS_H
#define CHAT_REDIS_H

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "chat_config.h"
#include "chat_reactor.h"

typedef struct chat_redis chat_redis;

/* up = 1 once the connection answers (after AUTH/SELECT), 0 when it is lost. */
typedef void (*chat_redis_state_fn)(chat_redis *rc, int up, void *data);

/* Reply callback: reply is NULL when the connection failed before the
 * answer came (the command may or may not have run). */
typedef void (*chat_redis_reply_fn)(chat_redis *rc, redisReply *reply, void *data);

chat_redis *chat_redis_create(chat_reactor *r, const chat_srv_conf *sc, const char *name,
                              chat_redis_state_fn on_state, void *data);
void chat_redis_destroy(chat_redis *rc);
/* Drop the connection now and connect again (under ChatRedisSentinel: to the
 * primary the sentinels name then), as after a lost connection. */
void chat_redis_reconnect(chat_redis *rc);
/* Under ChatRedisSentinel, a connection to one sentinel (the next one when
 * it fails) subscribed to +switch-master: when the sentinels move our
 * master, a and b reconnect. NULL without ChatRedisSentinel. */
chat_redis *chat_redis_watch(chat_reactor *r, const chat_srv_conf *sc, chat_redis *a,
                             chat_redis *b);
int chat_redis_is_up(const chat_redis *rc);
/* Commands sent and not answered yet. */
int chat_redis_pending(const chat_redis *rc);

/* Send a command; returns 0, or -1 when the connection is down or already
 * has ChatRedisMaxPending commands awaiting replies (fn is then not called). */
int chat_redis_command(chat_redis *rc, chat_redis_reply_fn fn, void *data, int argc,
                       const char **argv, const size_t *lens);

/* Subscriber use: fn is called for every reply of the (P)SUBSCRIBE. */
int chat_redis_subscribe(chat_redis *rc, redisCallbackFn *fn, void *data, int argc,
                         const char **argv, const size_t *lens);

#endif
