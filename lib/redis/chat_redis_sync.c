/* See chat_redis_sync.h. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <apr_atomic.h>

#include "chat_redis_sync.h"
#include <apr_strings.h>

#include "chat_sentinel.h"
#include "chat_store.h"

/* Connect to host:port (port 0: a unix socket) and AUTH/SELECT as configured. */
static redisContext *open_at(const chat_srv_conf *sc, const char *host, int port, struct timeval tv,
                             const char **err)
{
    redisContext *c;
    redisReply *rep = NULL;

    c = port ? redisConnectWithTimeout(host, port, tv) : redisConnectUnixWithTimeout(host, tv);
    if (!c || c->err) {
        *err = c ? "cannot connect to Redis" : "out of memory";
        if (c) {
            redisFree(c);
        }
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (sc->redis_password) {
        rep = sc->redis_user ? redisCommand(c, "AUTH %s %s", sc->redis_user, sc->redis_password)
                             : redisCommand(c, "AUTH %s", sc->redis_password);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            *err = "Redis refused ChatRedisAuth";
            goto fail;
        }
        freeReplyObject(rep);
    }
    if (sc->redis_db > 0) {
        rep = redisCommand(c, "SELECT %d", sc->redis_db);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            *err = "Redis refused ChatRedisDatabase";
            goto fail;
        }
        freeReplyObject(rep);
    }
    return c;
fail:
    if (rep) {
        freeReplyObject(rep);
    }
    redisFree(c);
    return NULL;
}

/* One sentinel's primary, connected and verified with ROLE; NULL with *err. */
static redisContext *open_via(const chat_srv_conf *sc, const chat_redis_addr *s, struct timeval tv,
                              const char **err)
{
    redisContext *c = redisConnectWithTimeout(s->host, s->port, tv);
    redisReply *rep = NULL;
    char host[256];
    int port = 0, ok;

    if (!c || c->err) {
        *err = "cannot connect to a sentinel";
        goto done;
    }
    redisSetTimeout(c, tv);
    if (sc->sentinel_password) {
        rep = sc->sentinel_user
                  ? redisCommand(c, "AUTH %s %s", sc->sentinel_user, sc->sentinel_password)
                  : redisCommand(c, "AUTH %s", sc->sentinel_password);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            *err = "a sentinel refused ChatRedisSentinelAuth";
            goto done;
        }
        freeReplyObject(rep);
    }
    rep = redisCommand(c, "SENTINEL get-master-addr-by-name %s", sc->sentinel_master);
    ok = chat_sentinel_master_addr(rep, host, sizeof(host), &port) == 0;
    redisFree(c);
    c = NULL;
    if (!ok) {
        *err = "a sentinel does not know the master name of ChatRedisSentinel";
        goto done;
    }
    freeReplyObject(rep);
    if (!(c = open_at(sc, host, port, tv, err))) {
        return NULL;
    }
    rep = redisCommand(c, "ROLE");
    if (!chat_sentinel_role_is_master(rep)) {
        *err = "the sentinels' primary is not a master (failover under way)";
        redisFree(c);
        c = NULL;
    }
done:
    if (rep) {
        freeReplyObject(rep);
    }
    if (c && c->err) {
        redisFree(c);
        c = NULL;
    }
    return c;
}

/* Run chat_lua_failover once on a verified primary (see chat_sentinel.h). */
static void check_promotion(redisContext *c, const chat_srv_conf *sc)
{
    apr_pool_t *p;
    const char *argv[6];
    redisReply *r;

    apr_pool_create(&p, NULL);
    chat_sentinel_failover_args(p, argv, chat_settings_key_prefix(sc));
    if ((r = redisCommandArgv(c, 6, argv, NULL))) {
        freeReplyObject(r);
    }
    apr_pool_destroy(p);
}

/* ChatRedisWaitReplicas of the connections opened here: the blocking posts
 * (AI answers, jobs, the admin API) wait as a member's post does. One value
 * per process: the directive is meant for the whole server. */
static volatile int wait_n, wait_ms;

redisContext *chat_redis_sync_open(const chat_srv_conf *sc, const char **err)
{
    static apr_uint32_t turn; /* spreads first questions over the sentinels */
    struct timeval tv;
    int port, i, n, first;
    const char *host = chat_settings_redis_host(sc, &port);
    redisContext *c = NULL;

    tv.tv_sec = apr_time_sec(chat_settings_redis_timeout(sc));
    tv.tv_usec = 0;
    wait_n = chat_settings_wait_replicas(sc, &first);
    wait_ms = first;
    if (!sc->sentinels) {
        return open_at(sc, host, port, tv, err);
    }
    /* ask each sentinel in turn: one may be down or not know the promotion yet */
    n = sc->sentinels->nelts;
    first = (int)(apr_atomic_inc32(&turn) % (apr_uint32_t)n);
    for (i = 0; i < n && !c; i++) {
        c = open_via(sc, &APR_ARRAY_IDX(sc->sentinels, (first + i) % n, chat_redis_addr), tv, err);
    }
    if (c && chat_sentinel_checks_promotion(sc)) {
        check_promotion(c, sc);
    }
    return c;
}

static redisReply *run(redisContext *c, int argc, const char **argv, const size_t *lens);

/* chat_lua_post under ChatRedisWaitReplicas (see chat_sentinel.h): NULL,
 * as for a Redis failure, when the replicas did not confirm it in time. */
static redisReply *post_held(redisContext *c, int argc, const char **argv, const size_t *lens)
{
    const char *held[13], *next[7];
    size_t l[13];
    redisReply *rep, *w, *r;
    char seq[32];
    int i, ok, n;

    for (i = 0; i < argc; i++) {
        held[i] = argv[i];
        l[i] = lens ? lens[i] : strlen(argv[i]);
    }
    held[5] = CHAT_SENTINEL_HELD;
    l[5] = strlen(CHAT_SENTINEL_HELD);
    rep = run(c, argc, held, l);
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
        rep->element[0]->type != REDIS_REPLY_INTEGER) {
        return rep; /* an error: the caller's to see */
    }
    apr_snprintf(seq, sizeof(seq), "%" APR_INT64_T_FMT, (apr_int64_t)rep->element[0]->integer);
    w = redisCommand(c, "ROLE"); /* a primary left alone has no replica to wait for */
    n = chat_sentinel_wait_count(w, wait_n);
    if (w) {
        freeReplyObject(w);
    }
    w = n ? redisCommand(c, "WAIT %d %d", n, wait_ms) : NULL;
    ok = !n || (w && w->type == REDIS_REPLY_INTEGER && w->integer >= n);
    if (w) {
        freeReplyObject(w);
    }
    chat_sentinel_held_args(next, argv, seq, ok);
    r = redisCommandArgv(c, ok ? 7 : 6, next, NULL);
    /* published by a later post after all: as good as confirmed */
    ok = ok || (r && r->type == REDIS_REPLY_INTEGER && r->integer == 0);
    if (r) {
        freeReplyObject(r);
    }
    if (!ok) {
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

redisReply *chat_redis_sync_command(redisContext *c, int argc, const char **argv,
                                    const size_t *lens)
{
    if ((argc == 11 || argc == 13) && argv[1] == chat_lua_post && wait_n > 0) {
        return post_held(c, argc, argv, lens);
    }
    return run(c, argc, argv, lens);
}

static redisReply *run(redisContext *c, int argc, const char **argv, const size_t *lens)
{
    const char *sha = argc >= 2 && !strcmp(argv[0], "EVAL") ? chat_store_script_sha(argv[1]) : NULL;
    const char **v;
    size_t *l;
    redisReply *rep;
    int i;

    if (!sha) {
        return redisCommandArgv(c, argc, argv, lens);
    }
    v = malloc(argc * (sizeof(*v) + sizeof(*l)));
    if (!v) {
        return NULL;
    }
    l = (size_t *)(v + argc);
    for (i = 0; i < argc; i++) {
        v[i] = argv[i];
        l[i] = lens ? lens[i] : strlen(argv[i]);
    }
    v[0] = "EVALSHA";
    l[0] = 7;
    v[1] = sha;
    l[1] = 40;
    rep = redisCommandArgv(c, argc, v, l);
    free(v);
    if (rep && rep->type == REDIS_REPLY_ERROR && !strncmp(rep->str, "NOSCRIPT", 8)) {
        freeReplyObject(rep);
        rep = redisCommandArgv(c, argc, argv, lens);
    }
    return rep;
}

void chat_redis_sync_debug(redisContext *c, apr_pool_t *p, const chat_srv_conf *sc,
                           const char *room, const char *event, const char *username,
                           const char *detail)
{
    int cap = chat_settings_debug_cap(sc);
    const char *argv[6];
    redisReply *r;

    if (!cap) {
        return;
    }
    chat_store_debug_args(p, argv, chat_settings_key_prefix(sc), room, cap, event, username, NULL,
                          detail);
    if ((r = chat_redis_sync_command(c, 6, argv, NULL))) {
        freeReplyObject(r);
    }
}

void chat_redis_reply_free(redisReply *r)
{
    size_t i;

    if (!r) {
        return;
    }
    for (i = 0; i < r->elements; i++) {
        chat_redis_reply_free(r->element[i]);
    }
    free(r->element);
    free(r->str);
    free(r);
}

redisReply *chat_redis_reply_copy(const redisReply *r)
{
    redisReply *c = calloc(1, sizeof(*c));
    size_t i;

    if (!c) {
        return NULL;
    }
    c->type = r->type;
    c->integer = r->integer;
    if (r->str) {
        if (!(c->str = malloc(r->len + 1))) {
            free(c);
            return NULL;
        }
        memcpy(c->str, r->str, r->len + 1);
        c->len = r->len;
    }
    if (r->elements) {
        if (!(c->element = calloc(r->elements, sizeof(*c->element)))) {
            chat_redis_reply_free(c);
            return NULL;
        }
        c->elements = r->elements;
        for (i = 0; i < r->elements; i++) {
            if (!(c->element[i] = chat_redis_reply_copy(r->element[i]))) {
                chat_redis_reply_free(c);
                return NULL;
            }
        }
    }
    return c;
}

/* Kernel keepalive finds a peer that vanished while the connection is idle,
 * TCP_USER_TIMEOUT one that stops acknowledging what we send; the probe and
 * the pending-reply check find a peer that acknowledges but never answers. */
void chat_redis_keepalive(int fd, apr_interval_time_t timeout)
{
    int on = 1, idle = (int)apr_time_sec(timeout), intvl = idle / 3 > 0 ? idle / 3 : 1, cnt = 3;
    unsigned int user_ms = (unsigned int)apr_time_as_msec(2 * timeout);

    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_ms, sizeof(user_ms));
}

const char **chat_redis_args_keep(int argc, const char **argv, const size_t *lens,
                                  size_t **lens_out)
{
    size_t total = 0, *l;
    const char **v;
    char *at;
    int i;

    for (i = 2; i < argc; i++) {
        total += lens ? lens[i] : strlen(argv[i]);
    }
    if (!(v = malloc(argc * (sizeof(*v) + sizeof(*l)) + total))) {
        return NULL;
    }
    l = (size_t *)(v + argc);
    at = (char *)(l + argc);
    for (i = 0; i < argc; i++) {
        l[i] = lens ? lens[i] : strlen(argv[i]);
        v[i] = argv[i];
        if (i >= 2) {
            memcpy(at, argv[i], l[i]);
            v[i] = at;
            at += l[i];
        }
    }
    *lens_out = l;
    return v;
}

int chat_redis_transient(const redisReply *reply)
{
    return reply && reply->type == REDIS_REPLY_ERROR &&
           (!strncmp(reply->str, "LOADING", 7) || !strncmp(reply->str, "BUSY", 4) ||
            !strncmp(reply->str, "MASTERDOWN", 10) || !strncmp(reply->str, "READONLY", 8));
}
