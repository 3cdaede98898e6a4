/* AI rate limit and token accounting: see chat_ai_usage.h. */
#include <apr_strings.h>
#include <apr_time.h>

#include "chat_ai_usage.h"

int chat_ai_rate_take(redisContext *c, const char *prefix, const char *user, int rate)
{
    char key[512];
    redisReply *r;
    long long n;

    if (rate <= 0) {
        return 1;
    }
    apr_snprintf(key, sizeof(key), "%sai:rate:%s:%" APR_TIME_T_FMT, prefix, user,
                 apr_time_sec(apr_time_now()) / 60);
    /* created with its expiry first, so a lost reply never leaves a key without one */
    if ((r = redisCommand(c, "SET %s 0 EX 120 NX", key))) {
        freeReplyObject(r);
    }
    r = redisCommand(c, "INCR %s", key);
    if (!r || r->type != REDIS_REPLY_INTEGER) {
        if (r) {
            freeReplyObject(r);
        }
        return -1;
    }
    n = r->integer;
    freeReplyObject(r);
    return n <= rate;
}

void chat_ai_usage_add(redisContext *c, const char *prefix, const char *user, const char *room,
                       const chat_ai_usage *u)
{
    long long tokens = (long long)(u->prompt + u->completion);
    char k1[256], k2[256];
    redisReply *r;
    int i;

    apr_snprintf(k1, sizeof(k1), "%sai:usage:users", prefix);
    apr_snprintf(k2, sizeof(k2), "%sai:usage:rooms", prefix);
    redisAppendCommand(c, "HINCRBY %s %s:tokens %lld", k1, user, tokens);
    redisAppendCommand(c, "HINCRBY %s %s:requests 1", k1, user);
    if (room) {
        redisAppendCommand(c, "HINCRBY %s %s:tokens %lld", k2, room, tokens);
        redisAppendCommand(c, "HINCRBY %s %s:requests 1", k2, room);
    }
    for (i = 0; i < (room ? 4 : 2); i++) {
        if (redisGetReply(c, (void **)&r) == REDIS_OK && r) {
            freeReplyObject(r);
        }
    }
}
