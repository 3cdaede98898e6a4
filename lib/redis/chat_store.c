/* Key names and Lua scripts of the room store; see chat_store.h. Scripts run
 * atomically in Redis, so a message gets its seq, enters the capped stream
 * and is published in one step, and subscribers see seq order. */
#include <pthread.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <json.h>
#include <openssl/evp.h>

#include "chat_store.h"

const char *chat_store_key(apr_pool_t *p, const char *prefix, const char *room, const char *what)
{
    return apr_pstrcat(p, prefix, "room:", room, ":", what, NULL);
}

const char *chat_store_node_key(apr_pool_t *p, const char *prefix, const char *node)
{
    return apr_pstrcat(p, prefix, "node:", node, NULL);
}

const char *chat_store_nodes_key(apr_pool_t *p, const char *prefix)
{
    return apr_pstrcat(p, prefix, "nodes", NULL);
}

void chat_store_new_epoch(char out[17])
{
    unsigned char rnd[8];
    int i;

    apr_generate_random_bytes(rnd, sizeof(rnd));
    for (i = 0; i < 8; i++) {
        apr_snprintf(out + 2 * i, 3, "%02x", rnd[i]);
    }
}

void chat_store_debug_args(apr_pool_t *p, const char *argv[6], const char *prefix, const char *room,
                           int cap, const char *event, const char *username, const char *node,
                           const char *detail)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "ts", json_object_new_int64(apr_time_as_msec(apr_time_now())));
    json_object_object_add(o, "event", json_object_new_string(event));
    json_object_object_add(o, "username", json_object_new_string(username));
    if (node) {
        json_object_object_add(o, "node", json_object_new_string(node));
    }
    if (detail) {
        json_object_object_add(o, "detail", json_object_new_string(detail));
    }
    argv[0] = "EVAL";
    argv[1] = chat_lua_debug;
    argv[2] = "1";
    argv[3] = chat_store_key(p, prefix, room, "debug");
    argv[4] = apr_pstrdup(p, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
    argv[5] = apr_itoa(p, cap);
    json_object_put(o);
}

void chat_store_post_args(apr_pool_t *p, const char *argv[11], const char *prefix, const char *room,
                          int history_size, const char *body, const char *user)
{
    char *epoch = apr_palloc(p, 17);

    chat_store_new_epoch(epoch);
    argv[0] = "EVAL";
    argv[1] = chat_lua_post;
    argv[2] = "2";
    argv[3] = chat_store_key(p, prefix, room, "meta");
    argv[4] = chat_store_key(p, prefix, room, "log");
    argv[5] = chat_store_channel(p, prefix, room);
    argv[6] = apr_itoa(p, history_size);
    argv[7] = body;
    argv[8] = user;
    argv[9] = epoch;
    argv[10] = apr_psprintf(p, "%" APR_TIME_T_FMT, apr_time_as_msec(apr_time_now()));
}

const char *chat_store_channel(apr_pool_t *p, const char *prefix, const char *room)
{
    return apr_pstrcat(p, prefix, "ch:", room, NULL);
}

/* Shared Lua helpers, prepended to the scripts that need them. */
#define LUA_HELPERS                                                                                \
    "local function jarr(t) if #t == 0 then return '[]' end return cjson.encode(t) end\n"          \
    "local function pevent(t, list, user, entry)\n"                                                \
    "  local s = '{\"t\":\"' .. t .. '\",\"n\":' .. #list\n"                                       \
    "  if user then s = s .. ',\"username\":' .. cjson.encode(user) end\n"                         \
    "  if entry then s = s .. ',\"sid\":' .. cjson.encode(string.match(entry, '\\n(.*)$') or '') " \
    "end\n"                                                                                        \
    "  return s .. ',\"users\":' .. jarr(list) .. '}'\n"                                           \
    "end\n"                                                                                        \
    "local function users(key, now)\n"                                                             \
    "  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)\n"                                         \
    "  local seen, list = {}, {}\n"                                                                \
    "  for _, e in ipairs(redis.call('ZRANGE', key, 0, -1)) do\n"                                  \
    "    local u = string.match(e, '^(.-)\\n')\n"                                                  \
    "    if u and not seen[u] then seen[u] = true; list[#list + 1] = u end\n"                      \
    "  end\n"                                                                                      \
    "  table.sort(list)\n"                                                                         \
    "  return list, seen\n"                                                                        \
    "end\n"                                                                                        \
    "local function msgs(entries)\n"                                                               \
    "  local out = {}\n"                                                                           \
    "  for _, e in ipairs(entries) do\n"                                                           \
    "    local f = e[2]\n"                                                                         \
    "    for i = 1, #f, 2 do if f[i] == 'm' then out[#out + 1] = f[i + 1] end end\n"               \
    "  end\n"                                                                                      \
    "  return '[' .. table.concat(out, ',') .. ']'\n"                                              \
    "end\n"                                                                                        \
    "local function page(key, before, limit)\n"                                                    \
    "  local hi = '+'\n"                                                                           \
    "  if before > 0 then hi = '(' .. before .. '-0' end\n"                                        \
    "  local e = redis.call('XREVRANGE', key, hi, '-', 'COUNT', limit + 1)\n"                      \
    "  local more = 0\n"                                                                           \
    "  if #e > limit then more = 1; e[#e] = nil end\n"                                             \
    "  local r = {}\n"                                                                             \
    "  for i = #e, 1, -1 do r[#r + 1] = e[i] end\n"                                                \
    "  return msgs(r), more\n"                                                                     \
    "end\n"

const char chat_lua_join[] = LUA_HELPERS
    "if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then\n"
    "  if redis.call('SCARD', KEYS[1]) == 0 then return {'inactive'} end\n"
    "  return {'denied'}\n"
    "end\n"
    "local meta = redis.call('HMGET', KEYS[2], 'epoch', 'seq')\n"
    "local epoch = meta[1]\n"
    "if not epoch then\n"
    "  epoch = ARGV[8]\n"
    "  redis.call('HSET', KEYS[2], 'epoch', epoch)\n"
    "  redis.call('DEL', KEYS[3])\n"
    "end\n"
    "local ukey = ARGV[10] .. 'user:' .. ARGV[1] .. ':sessions'\n"
    "redis.call('ZREMRANGEBYSCORE', ukey, '-inf', ARGV[4])\n"
    "local limit = tonumber(ARGV[11])\n"
    "if limit > 0 and redis.call('ZCARD', ukey) >= limit then return {'toomany'} end\n"
    "redis.call('ZADD', ukey, ARGV[3], ARGV[2])\n"
    "redis.call('PEXPIREAT', ukey, ARGV[3])\n"
    "local seq = tonumber(meta[2] or '0')\n"
    "local list, before = users(KEYS[4], ARGV[4])\n"
    "redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])\n"
    "if not before[ARGV[1]] then list[#list + 1] = ARGV[1]; table.sort(list) end\n"
    "local history, more = page(KEYS[3], 0, tonumber(ARGV[7]))\n"
    "local mode, replay = 'welcome', '[]'\n"
    "local since = tonumber(ARGV[5])\n"
    "if since >= 0 then\n"
    "  if ARGV[6] ~= epoch or since > seq then mode = 'reset'\n"
    "  elseif since < seq then\n"
    "    local first = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)\n"
    "    local oldest = seq + 1\n"
    "    if first[1] then oldest = tonumber(string.match(first[1][1], '^(%d+)')) end\n"
    "    if oldest > since + 1 then mode = 'reset'\n"
    "    else mode = 'replay'; replay = msgs(redis.call('XRANGE', KEYS[3], (since + 1) .. '-0', "
    "'+')) end\n"
    "  else mode = 'replay' end\n"
    "end\n"
    "if before[ARGV[1]] then redis.call('PUBLISH', ARGV[9], pevent('users', list, nil, ARGV[2]))\n"
    "else redis.call('PUBLISH', ARGV[9], pevent('join', list, ARGV[1], ARGV[2])) end\n"
    "redis.call('HSET', KEYS[5], ARGV[2], ARGV[12])\n"
    "redis.call('PEXPIREAT', KEYS[5], ARGV[3])\n" /* the newest presence: the latest expiry */
    "if tonumber(ARGV[13]) > 0 then\n"
    /* built as text: cjson would print the time through a double */
    "  local d = '{\"ts\":' .. ARGV[4] .. ',\"event\":\"join\",\"username\":' .. "
    "cjson.encode(ARGV[1])\n"
    "  if ARGV[14] then d = d .. ',\"node\":' .. cjson.encode(ARGV[14]) end\n"
    "  if since >= 0 then\n"
    "    d = d .. ',\"detail\":' .. cjson.encode('since ' .. ARGV[5] .. ' (' .. mode .. ')')\n"
    "  end\n"
    "  if redis.call('LPUSH', KEYS[6], d .. '}') > tonumber(ARGV[13]) then\n"
    "    redis.call('LTRIM', KEYS[6], 0, tonumber(ARGV[13]) - 1)\n"
    "  end\n"
    "end\n"
    "return {'ok', seq, epoch, history, more, jarr(list), mode, replay, #list}\n";

/* ARGV[7] (optional): the id a reply answers, found at seq ARGV[8]: its
 * author and an excerpt come from the stored original, never the client. */
const char chat_lua_post[] =
    "local reply = ''\n"
    "if ARGV[7] and ARGV[7] ~= '' then\n"
    "  local o, om = redis.call('XRANGE', KEYS[2], ARGV[8] .. '-0', ARGV[8] .. '-0')[1], nil\n"
    "  for i = 1, o and #o[2] or 0, 2 do if o[2][i] == 'm' then om = o[2][i + 1] end end\n"
    "  local head = '{\"id\":\"' .. ARGV[7] .. '\"'\n"
    "  if not om or string.sub(om, 1, #head) ~= head then return 'not_found' end\n"
    "  local d = cjson.decode(om)\n"
    "  local s = type(d.text) == 'string' and d.text ~= '' and d.text or tostring(d.type)\n"
    "  local i, n = 1, 0\n"
    "  while i <= #s and n < 140 do\n"
    "    local b = string.byte(s, i)\n"
    "    i = i + (b >= 240 and 4 or b >= 224 and 3 or b >= 192 and 2 or 1); n = n + 1\n"
    "  end\n"
    "  if i <= #s then s = string.sub(s, 1, i - 1) .. '\xe2\x80\xa6' end\n"
    "  reply = ',\"reply\":' .. cjson.encode({id = ARGV[7], username = d.username, excerpt = s})\n"
    "end\n"
    "local epoch = redis.call('HGET', KEYS[1], 'epoch')\n"
    "if not epoch then\n"
    "  epoch = ARGV[5]\n"
    "  redis.call('HSET', KEYS[1], 'epoch', epoch)\n"
    "  redis.call('DEL', KEYS[2])\n"
    "end\n"
    "local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)\n"
    "redis.call('HSET', KEYS[1], 'last_ts', ARGV[6])\n"
    "local m = '{\"id\":\"' .. seq .. '\",\"seq\":' .. seq .. ',' .. string.sub(ARGV[3], 2, -2) "
    ".. reply .. '}'\n"
    "redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], seq .. '-0', 'u', ARGV[4], 'm', m)\n"
    "redis.call('PUBLISH', ARGV[1], '{\"t\":\"chat\",\"seq\":' .. seq .. ',\"e\":\"' .. epoch .. "
    "'\",\"m\":' .. m .. '}')\n"
    /* messages per hour for the admin chart: P room:R:hours, field = hour
     * number (ms / 3600000), the last 168 hours kept, gone 8 days after the
     * first post of the last hour with posts */
    "local hk = string.sub(KEYS[1], 1, -5) .. 'hours'\n"
    "local hour = math.floor(tonumber(ARGV[6]) / 3600000)\n"
    "if redis.call('HINCRBY', hk, string.format('%d', hour), 1) == 1 then\n"
    /* the hour's first post: the only one that can grow the hash */
    "  redis.call('PEXPIRE', hk, 691200000)\n"
    "  if redis.call('HLEN', hk) > 168 then\n"
    "    for _, f in ipairs(redis.call('HKEYS', hk)) do\n"
    "      local h = tonumber(f)\n"
    "      if not h or h <= hour - 168 or h > hour + 1 then redis.call('HDEL', hk, f) end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return {seq, epoch, m}\n";

/* An AI answer takes the place of its "thinking…" message: same id, a new
 * seq (so every client and reconnect sees it), the placeholder removed. */
const char chat_lua_replace[] =
    "local epoch = redis.call('HGET', KEYS[1], 'epoch')\n"
    "if not epoch then return 'gone' end\n"
    "local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)\n"
    "local m = '{\"id\":\"' .. ARGV[3] .. '\",\"seq\":' .. seq .. ',' .. string.sub(ARGV[4], 2)\n"
    "redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], seq .. '-0', 'u', ARGV[5], 'm', m)\n"
    "redis.call('XDEL', KEYS[2], ARGV[3] .. '-0')\n"
    "redis.call('PUBLISH', ARGV[1], '{\"t\":\"chat\",\"seq\":' .. seq .. ',\"e\":\"' .. epoch .. "
    "'\",\"m\":' .. m .. '}')\n"
    "return seq\n";

/* Newest first; the JSON of each message is matched (plain, ASCII case
 * folded) before it is decoded, unless the query has characters JSON may
 * escape. */
const char chat_lua_search[] =
    "if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then return {'denied'} end\n"
    "local rate = tonumber(ARGV[4])\n"
    "if rate > 0 then\n"
    "  local n = redis.call('INCR', KEYS[3])\n"
    "  if n == 1 then redis.call('PEXPIRE', KEYS[3], 60000) end\n"
    "  if n > rate then return {'limited', redis.call('PTTL', KEYS[3])} end\n"
    "end\n"
    "local q, limit, out, more, hi = ARGV[2], tonumber(ARGV[3]), {}, 0, '+'\n"
    "local scan, read, partial = tonumber(ARGV[5]), 0, 0\n"
    "local pre = not string.find(q, '[%c\"\\\\/\\128-\\255]')\n"
    "while more == 0 do\n"
    "  if read >= scan then partial = 1 break end\n"
    "  local e = redis.call('XREVRANGE', KEYS[1], hi, '-', 'COUNT', math.min(200, scan - read))\n"
    "  read = read + #e\n"
    "  for _, x in ipairs(e) do\n"
    "    local f = x[2]\n"
    "    for i = 1, #f, 2 do\n"
    "      local m = f[i + 1]\n"
    "      if f[i] == 'm' and (not pre or string.find(string.lower(m), q, 1, true)) then\n"
    "        local ok, d = pcall(cjson.decode, m)\n"
    "        if ok and type(d) == 'table' and type(d.text) == 'string' and\n"
    "           string.find(string.lower(d.text), q, 1, true) then\n"
    "          if #out >= limit then more = 1 else out[#out + 1] = m end\n"
    "        end\n"
    "      end\n"
    "    end\n"
    "    if more == 1 then break end\n"
    "  end\n"
    "  if #e == 0 or (#e < 200 and read < scan) then break end\n"
    "  hi = '(' .. e[#e][1]\n"
    "end\n"
    "return {'ok', '[' .. table.concat(out, ',') .. ']', more, partial}\n";

const char chat_lua_history[] =
    LUA_HELPERS "local m, more = page(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))\n"
                "return {m, more}\n";

const char chat_lua_delete[] =
    "local e = redis.call('XRANGE', KEYS[1], ARGV[1] .. '-0', ARGV[1] .. '-0')\n"
    "if not e[1] then return 'notfound' end\n"
    "local f, owner = e[1][2], nil\n"
    "for i = 1, #f, 2 do if f[i] == 'u' then owner = f[i + 1] end end\n"
    "if ARGV[2] ~= '' and owner ~= ARGV[2] then return 'forbidden' end\n"
    "redis.call('XDEL', KEYS[1], ARGV[1] .. '-0')\n"
    "redis.call('PUBLISH', ARGV[3], cjson.encode({t = 'delete', id = ARGV[1]}))\n"
    "return 'ok'\n";

const char chat_lua_leave[] =
    LUA_HELPERS "redis.call('ZREM', KEYS[1], ARGV[1])\n"
                "redis.call('HDEL', KEYS[2], ARGV[1])\n"
                "redis.call('ZREM', ARGV[5] .. 'user:' .. ARGV[4] .. ':sessions', ARGV[1])\n"
                "local list, seen = users(KEYS[1], ARGV[2])\n"
                "if seen[ARGV[4]] then redis.call('PUBLISH', ARGV[3], pevent('users', list))\n"
                "else redis.call('PUBLISH', ARGV[3], pevent('leave', list, ARGV[4])) end\n"
                "return jarr(list)\n";

const char chat_lua_presence[] = LUA_HELPERS
    "local _, old = users(KEYS[1], '-inf')\n"
    "for i = 5, #ARGV, 2 do\n"
    "  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[i])\n"
    "  local ukey = ARGV[4] .. 'user:' .. string.match(ARGV[i], '^(.-)\\n') .. ':sessions'\n"
    "  redis.call('ZADD', ukey, ARGV[2], ARGV[i])\n"
    "  redis.call('PEXPIREAT', ukey, ARGV[2])\n"
    "  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])\n"
    "end\n"
    /* the admin page's records: expiring with the newest presence, pruned of
     * entries no longer present (so bounded by the room's live sessions) */
    "if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[2]) - tonumber(ARGV[1]) then\n"
    "  redis.call('PEXPIREAT', KEYS[3], ARGV[2])\n"
    "end\n"
    "for _, f in ipairs(redis.call('HKEYS', KEYS[3])) do\n"
    "  local s = redis.call('ZSCORE', KEYS[1], f)\n"
    "  if not s or tonumber(s) <= tonumber(ARGV[1]) then redis.call('HDEL', KEYS[3], f) end\n"
    "end\n"
    "local list, seen = users(KEYS[1], ARGV[1])\n"
    "local gone = {}\n"
    "for u, _ in pairs(old) do if not seen[u] then gone[#gone + 1] = u end end\n"
    "if #gone > 0 then\n"
    "  for _, u in ipairs(gone) do\n"
    "    redis.call('PUBLISH', ARGV[3], pevent('leave', list, u))\n"
    "  end\n"
    "end\n"
    "local removed = {}\n"
    "for i = 5, #ARGV, 2 do\n"
    "  local u = string.match(ARGV[i], '^(.-)\\n')\n"
    "  if redis.call('SISMEMBER', KEYS[2], u) == 0 then removed[#removed + 1] = u end\n"
    "end\n"
    "return removed\n";

const char chat_lua_debug[] = "redis.call('LPUSH', KEYS[1], ARGV[1])\n"
                              "redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)\n"
                              "return 1\n";

const char chat_lua_reset[] =
    "local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')\n"
    "redis.call('HSET', KEYS[1], 'epoch', ARGV[2])\n"
    "redis.call('DEL', KEYS[2])\n"
    "redis.call('PUBLISH', ARGV[1], cjson.encode({t = 'reset', epoch = ARGV[2], seq = seq}))\n"
    "return seq\n";

static const char *const scripts[] = {
    chat_lua_join,  chat_lua_post,     chat_lua_history, chat_lua_replace, chat_lua_delete,
    chat_lua_leave, chat_lua_presence, chat_lua_reset,   chat_lua_debug,   chat_lua_search};
#define NSCRIPTS (int)(sizeof(scripts) / sizeof(scripts[0]))
static char shas[NSCRIPTS][41];
static pthread_once_t shas_once = PTHREAD_ONCE_INIT;

static void shas_compute(void)
{
    int i, k;

    for (i = 0; i < NSCRIPTS; i++) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        EVP_Digest(scripts[i], strlen(scripts[i]), md, &n, EVP_sha1(), NULL);
        for (k = 0; k < (int)n && k < 20; k++) {
            apr_snprintf(shas[i] + 2 * k, 3, "%02x", md[k]);
        }
    }
}

const char *chat_store_script_sha(const char *script)
{
    int i;

    pthread_once(&shas_once, shas_compute);
    for (i = 0; i < NSCRIPTS; i++) {
        if (script == scripts[i]) {
            return shas[i];
        }
    }
    return NULL;
}

const char *chat_store_script(int i, const char **sha)
{
    if (i < 0 || i >= NSCRIPTS) {
        return NULL;
    }
    pthread_once(&shas_once, shas_compute);
    *sha = shas[i];
    return scripts[i];
}
