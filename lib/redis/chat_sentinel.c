/* See chat_sentinel.h. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "chat_sentinel.h"
#include "chat_store.h"

int chat_sentinel_master_addr(const redisReply *r, char *host, size_t n, int *port)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING ||
        !r->element[0]->len || r->element[0]->len >= n) {
        return -1;
    }
    memcpy(host, r->element[0]->str, r->element[0]->len + 1);
    *port = atoi(r->element[1]->str);
    return *port > 0 && *port < 65536 ? 0 : -1;
}

int chat_sentinel_role_is_master(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
           r->element[0]->type == REDIS_REPLY_STRING && !strcmp(r->element[0]->str, "master");
}

int chat_sentinel_role_replicas(const redisReply *r)
{
    return chat_sentinel_role_is_master(r) && r->elements >= 3 &&
                   r->element[2]->type == REDIS_REPLY_ARRAY
               ? (int)r->element[2]->elements
               : -1;
}

int chat_sentinel_wait_count(const redisReply *role, int wanted)
{
    int have = chat_sentinel_role_replicas(role);

    return have >= 0 && have < wanted ? have : wanted;
}

int chat_sentinel_switch_is_ours(const redisReply *m, const char *master)
{
    size_t n = strlen(master);

    return m && m->type == REDIS_REPLY_ARRAY && m->elements == 3 &&
           m->element[0]->type == REDIS_REPLY_STRING && !strcmp(m->element[0]->str, "message") &&
           m->element[2]->type == REDIS_REPLY_STRING && m->element[2]->len > n &&
           !memcmp(m->element[2]->str, master, n) && m->element[2]->str[n] == ' ';
}

int chat_sentinel_auth_args(const chat_srv_conf *sc, const char *argv[3])
{
    int n = 0;

    if (sc->sentinel_password) {
        argv[n++] = "AUTH";
        if (sc->sentinel_user) {
            argv[n++] = sc->sentinel_user;
        }
        argv[n++] = sc->sentinel_password;
    }
    return n;
}

int chat_sentinel_checks_promotion(const chat_srv_conf *sc)
{
    int timeout;

    return sc->sentinels && !chat_settings_wait_replicas(sc, &timeout);
}

/* Epochs are 16 hex digits: 8 random ones shared by this run, 8 counting rooms. */
const char chat_lua_failover[] =
    "local id = string.match(redis.call('INFO', 'replication'), 'master_replid:(%x+)')\n"
    "if not id then return 0 end\n"
    "local old = redis.call('GET', KEYS[1])\n"
    "if old == id then return 0 end\n"
    "redis.call('SET', KEYS[1], id)\n"
    "if not old then return 0 end\n"
    "local n, cursor, pat = 0, '0', ARGV[1] .. 'room:*:meta'\n"
    "local skip = #ARGV[1] + 6\n"
    "repeat\n"
    "  local r = redis.call('SCAN', cursor, 'MATCH', pat, 'COUNT', 1000)\n"
    "  cursor = r[1]\n"
    "  for _, meta in ipairs(r[2]) do\n"
    "    if redis.call('HEXISTS', meta, 'epoch') == 1 then\n"
    "      n = n + 1\n"
    "      local e = string.sub(ARGV[2], 1, 8) .. string.format('%08x', n)\n"
    "      redis.call('HSET', meta, 'epoch', e)\n"
    "      local seq = tonumber(redis.call('HGET', meta, 'seq') or '0')\n"
    "      redis.call('PUBLISH', ARGV[1] .. 'ch:' .. string.sub(meta, skip, -6),\n"
    "        cjson.encode({t = 'reset', epoch = e, seq = seq}))\n"
    "    end\n"
    "  end\n"
    "until cursor == '0'\n"
    "return n\n";

void chat_sentinel_failover_args(apr_pool_t *p, const char *argv[6], const char *prefix)
{
    char *epoch = apr_palloc(p, 17);

    chat_store_new_epoch(epoch);
    argv[0] = "EVAL";
    argv[1] = chat_lua_failover;
    argv[2] = "1";
    argv[3] = apr_pstrcat(p, prefix, "primary", NULL);
    argv[4] = prefix;
    argv[5] = epoch;
}

/* A held post's publication: every entry after the last published one up to
 * seq, in seq order. WAIT confirmed seq's write, so the earlier ones in the
 * same replication stream are on the replicas too. The first time in a room
 * that is the whole (capped) log: members drop what they already have. */
const char chat_lua_publish_upto[] =
    "local s = tonumber(ARGV[2])\n"
    "local pub = tonumber(redis.call('HGET', KEYS[1], 'pub') or '0')\n"
    "if pub >= s then return 0 end\n"
    "local epoch = redis.call('HGET', KEYS[1], 'epoch')\n"
    "local n = 0\n"
    "for _, e in ipairs(redis.call('XRANGE', KEYS[2], (pub + 1) .. '-0', s .. '-0')) do\n"
    "  local f = e[2]\n"
    "  for i = 1, #f, 2 do if f[i] == 'm' then\n"
    "    redis.call('PUBLISH', ARGV[1], '{\"t\":\"chat\",\"seq\":' .. string.match(e[1], "
    "'^(%d+)') ..\n"
    "      ',\"e\":\"' .. epoch .. '\",\"m\":' .. f[i + 1] .. '}')\n"
    "    n = n + 1\n"
    "  end end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'pub', s)\n"
    "return n\n";

/* WAIT fell short: take the held post back unless a later one published it. */
const char chat_lua_unpost[] = "local pub = tonumber(redis.call('HGET', KEYS[1], 'pub') or '0')\n"
                               "if pub >= tonumber(ARGV[1]) then return 0 end\n"
                               "return redis.call('XDEL', KEYS[2], ARGV[1] .. '-0')\n";

void chat_sentinel_held_args(const char *argv[7], const char *const *post, const char *seq,
                             int confirmed)
{
    argv[0] = "EVAL";
    argv[1] = confirmed ? chat_lua_publish_upto : chat_lua_unpost;
    argv[2] = "2";
    argv[3] = post[3];
    argv[4] = post[4];
    argv[5] = confirmed ? post[5] : seq;
    argv[6] = seq;
}
