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

/* The replicas a primary's ROLE reply lists, -1 when r is not such a reply. */
int chat_sentinel_role_replicas(const redisReply *r);

/* The replicas a post waits for under ChatRedisWaitReplicas wanted: wanted,
 * or the replicas the primary has when fewer (role: its ROLE reply); 0 = none
 * to wait for (a primary left alone after a failover goes on accepting). */
int chat_sentinel_wait_count(const redisReply *role, int wanted);

/* 1 when m is a +switch-master message (NAME OLD-IP OLD-PORT NEW-IP
 * NEW-PORT) about master. */
int chat_sentinel_switch_is_ours(const redisReply *m, const char *master);

/* AUTH to a sentinel (ChatRedisSentinelAuth) in argv: its length, 0 = none. */
int chat_sentinel_auth_args(const chat_srv_conf *sc, const char *argv[3]);

/* Does a connection of sc run chat_lua_failover once it is verified? Under
 * Sentinel without ChatRedisWaitReplicas: a promoted replica may lack posts
 * that clients saw, and would give their seqs to new posts. */
int chat_sentinel_checks_promotion(const chat_srv_conf *sc);

/* KEYS gen; ARGV prefix epoch_base. The first connection to a primary
 * whose replication id differs from the one recorded (a promotion, or a
 * restart) gives every room a new epoch and publishes "reset", so clients
 * drop what the new primary may lack (history_reset) before anyone posts
 * there: no seq is reused silently. It SCANs the room keys once per
 * promotion. -> rooms reset (0: same primary). */
extern const char chat_lua_failover[];
void chat_sentinel_failover_args(apr_pool_t *p, const char *argv[6], const char *prefix);

/* ChatRedisWaitReplicas: a post runs chat_lua_post with the channel
 * CHAT_SENTINEL_HELD (nobody listens there), then WAIT; when enough replicas
 * confirm, chat_lua_publish_upto (KEYS meta log; ARGV channel seq) publishes
 * it and any earlier held one in seq order, else chat_lua_unpost (KEYS meta
 * log; ARGV seq -> 1 taken back, 0 already published) removes it. */
#define CHAT_SENTINEL_HELD ""
extern const char chat_lua_publish_upto[];
extern const char chat_lua_unpost[];
/* Their EVAL arguments (6 for unpost, 7 for publish) from the post's own
 * chat_lua_post arguments (its keys and channel) and the seq it got. */
void chat_sentinel_held_args(const char *argv[7], const char *const *post, const char *seq,
                             int confirmed);

#endif
