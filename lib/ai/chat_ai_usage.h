/* Per-user AI rate limit and token accounting, in Redis so that every
 * process and server counts together: ai:rate:USER:MINUTE counters and the
 * ai:usage:users / ai:usage:rooms hashes the admin stats report. */
#ifndef CHAT_AI_USAGE_H
#define CHAT_AI_USAGE_H

#include <hiredis/hiredis.h>

#include "chat_ai.h"

/* 1 when the user may make one more AI request this minute (and counts it),
 * 0 when over rate (0 = no limit), -1 when Redis failed. */
int chat_ai_rate_take(redisContext *c, const char *prefix, const char *user, int rate);

/* Count one answered request and its tokens for the user and the room (room may be NULL). */
void chat_ai_usage_add(redisContext *c, const char *prefix, const char *user, const char *room,
                       const chat_ai_usage *u);

#endif
