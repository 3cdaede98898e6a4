/* Redis high-availability directives: ChatRedisSentinel (discover the primary
 * through Redis Sentinel), ChatRedisSentinelAuth, ChatRedisWaitReplicas
 * (acknowledge a post only once replicas have it). Checked when the config
 * is read, so `apachectl configtest` names a bad or ambiguous one. */
#ifndef CHAT_REDIS_CONFIG_H
#define CHAT_REDIS_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "chat_settings.h"

const char *chat_redis_config_sentinel(cmd_parms *cmd, void *dummy, const char *args);
/* ChatRedisAuth; cmd->info must be mod_chat's module, as for the others. */
const char *chat_redis_config_auth(cmd_parms *cmd, void *dummy, const char *a1, const char *a2);
const char *chat_redis_config_sentinel_auth(cmd_parms *cmd, void *dummy, const char *a1,
                                            const char *a2);
const char *chat_redis_config_wait(cmd_parms *cmd, void *dummy, const char *a1, const char *a2);

/* The server's sentinel and WAIT settings from base and add (add's win;
 * a ChatRedis in add drops base's sentinels). */
void chat_redis_config_merge(chat_srv_conf *sc, const chat_srv_conf *base,
                             const chat_srv_conf *add);

/* Refuses ChatRedis where ChatRedisSentinel is set for the same server. */
const char *chat_redis_config_plain_ok(cmd_parms *cmd, const chat_srv_conf *sc);

/* Spliced into mod_chat's command table, where chat_module is known: it
 * rides in cmd->info. */
#define CHAT_REDIS_HA_COMMANDS                                                                     \
    AP_INIT_RAW_ARGS("ChatRedisSentinel", chat_redis_config_sentinel, &chat_module, RSRC_CONF,     \
                     "MASTER host:port [host:port ...]: find the Redis primary through these "     \
                     "sentinels (instead of ChatRedis)"),                                          \
        AP_INIT_TAKE12("ChatRedisSentinelAuth", chat_redis_config_sentinel_auth, &chat_module,     \
                       RSRC_CONF, "Sentinel password, or ACL user and password"),                  \
        AP_INIT_TAKE12("ChatRedisWaitReplicas", chat_redis_config_wait, &chat_module, RSRC_CONF,   \
                       "N [timeout-ms]: a post is acknowledged only once N replicas have it "      \
                       "(WAIT; default 0 = off, timeout 1000)")

#endif
