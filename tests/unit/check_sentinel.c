/* chat_sentinel: what the sentinels answer, as both kinds of connection read
 * it; a malformed answer names no primary. */
#include <stdlib.h>
#include <string.h>

#include "chat_sentinel.h"
#include "check_suites.h"

static redisReply *str(const char *s)
{
    redisReply *r = calloc(1, sizeof(*r));
    r->type = REDIS_REPLY_STRING;
    r->str = strdup(s);
    r->len = strlen(s);
    return r;
}

static redisReply *arr(int n, redisReply *a, redisReply *b, redisReply *c)
{
    redisReply *r = calloc(1, sizeof(*r));
    r->type = REDIS_REPLY_ARRAY;
    r->elements = (size_t)n;
    r->element = calloc(3, sizeof(*r->element));
    r->element[0] = a;
    r->element[1] = b;
    r->element[2] = c;
    return r;
}

START_TEST(test_master_addr)
{
    redisReply *r = arr(2, str("10.0.0.2"), str("6380"), NULL);
    char host[16];
    int port = 0;

    ck_assert_int_eq(chat_sentinel_master_addr(r, host, sizeof(host), &port), 0);
    ck_assert_str_eq(host, "10.0.0.2");
    ck_assert_int_eq(port, 6380);
    freeReplyObject(r);
    r = arr(2, str("10.0.0.2"), str("0"), NULL); /* no port */
    ck_assert_int_eq(chat_sentinel_master_addr(r, host, sizeof(host), &port), -1);
    freeReplyObject(r);
    r = arr(2, str("a-very-long-host-name"), str("6379"), NULL); /* does not fit */
    ck_assert_int_eq(chat_sentinel_master_addr(r, host, sizeof(host), &port), -1);
    freeReplyObject(r);
    r = arr(1, str("10.0.0.2"), NULL, NULL);
    ck_assert_int_eq(chat_sentinel_master_addr(r, host, sizeof(host), &port), -1);
    freeReplyObject(r);
    ck_assert_int_eq(chat_sentinel_master_addr(NULL, host, sizeof(host), &port), -1);
}
END_TEST

START_TEST(test_role_and_switch)
{
    redisReply *r = arr(1, str("master"), NULL, NULL);

    ck_assert(chat_sentinel_role_is_master(r));
    freeReplyObject(r);
    r = arr(1, str("slave"), NULL, NULL);
    ck_assert(!chat_sentinel_role_is_master(r));
    freeReplyObject(r);
    r = arr(3, str("message"), str("+switch-master"), str("chat 10.0.0.1 6379 10.0.0.2 6379"));
    ck_assert(chat_sentinel_switch_is_ours(r, "chat"));
    ck_assert(!chat_sentinel_switch_is_ours(r, "cha")); /* a prefix is another master */
    ck_assert(!chat_sentinel_switch_is_ours(r, "other"));
    freeReplyObject(r);
    r = arr(3, str("subscribe"), str("+switch-master"), str("chat x"));
    ck_assert(!chat_sentinel_switch_is_ours(r, "chat"));
    freeReplyObject(r);
}
END_TEST

static redisReply *integer(long long v)
{
    redisReply *r = calloc(1, sizeof(*r));
    r->type = REDIS_REPLY_INTEGER;
    r->integer = v;
    return r;
}

/* ROLE {"master", offset, {replica...}}: WAIT asks for min(wanted, replicas);
 * anything else (a replica's ROLE, an error, nothing) keeps wanted. */
START_TEST(test_wait_count)
{
    redisReply *none = arr(0, NULL, NULL, NULL), *two = arr(2, str("a"), str("b"), NULL);
    redisReply *r = arr(3, str("master"), integer(42), none), *err;

    ck_assert_int_eq(chat_sentinel_role_replicas(r), 0);
    ck_assert_int_eq(chat_sentinel_wait_count(r, 1), 0); /* alone after a failover */
    freeReplyObject(r);
    r = arr(3, str("master"), integer(42), two);
    ck_assert_int_eq(chat_sentinel_wait_count(r, 1), 1);
    ck_assert_int_eq(chat_sentinel_wait_count(r, 3), 2);
    freeReplyObject(r);
    r = arr(3, str("slave"), str("10.0.0.1"), integer(6379));
    ck_assert_int_eq(chat_sentinel_role_replicas(r), -1);
    ck_assert_int_eq(chat_sentinel_wait_count(r, 2), 2);
    freeReplyObject(r);
    err = str("NOPERM this user has no permissions to run the 'role' command");
    err->type = REDIS_REPLY_ERROR;
    ck_assert_int_eq(chat_sentinel_wait_count(err, 1), 1);
    freeReplyObject(err);
    ck_assert_int_eq(chat_sentinel_wait_count(NULL, 1), 1);
}
END_TEST

Suite *suite_sentinel(void)
{
    Suite *s = suite_create("sentinel");
    TCase *tc = tcase_create("answers");

    tcase_add_test(tc, test_master_addr);
    tcase_add_test(tc, test_role_and_switch);
    tcase_add_test(tc, test_wait_count);
    suite_add_tcase(s, tc);
    return s;
}
