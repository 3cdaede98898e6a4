/* Redis Sentinel, as both the blocking and the reactor's connections use it:
 * the primary's address from a sentinel's answer, the ROLE check, and the
 * failover script that makes a promotion visible to clients. */
#ifndef CHAT_SENTINEL_H
#define CHAT_SENTINEL_H

#include <apr_pools.h>
#include <hiredis/hiredis.h>

#include "chat_settings.h"

/* The answer to SENTINEL get-master-addr-by-name: 0 with host (NUL-ended,
 * at most n - 1 bytes) and port, -1 when it names no primary. */
int chat_sentinel_master_addr(const redisReply *r, char *host, size_t n, int *port);

/* 1 when a ROLE answer says "master". */
int chat_sentinel_role_is_master(const redisReply *r);

/* 1 when m is a +switch-master message (NAME OLD-IP OLD-PORT NEW-IP
 * NEW-PORT) about master. */
int chat_sentinel_switch_is_ours(const redisReply *m, const char *master);

/* Does a connection of sc run chat_lua_failover once it is verified? Under
 * Sentinel without ChatRedisWaitReplicas: a promoted replica may lack posts
 * that clients saw, and would give their seqs to new posts. */
int chat_sentinel_checks_promotion(const chat_srv_conf *sc);

/* KEYS gen rooms; ARGV prefix epoch_base. The first connection to a primary
 * whose replication id differs from the one recorded (a promotion, or a
 * restart) gives every room a new epoch and publishes "reset", so clients
 * drop what the new primary may lack (history_reset) before anyone posts
 * there: no seq is reused silently. -> rooms reset (0: same primary). */
extern const char chat_lua_failover[];
void chat_sentinel_failover_args(apr_pool_t *p, const char *argv[7], const char *prefix);

#endif
