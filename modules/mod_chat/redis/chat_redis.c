/* hiredis async adapter for the reactor; see chat_redis.h. */
#include <httpd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <apr_strings.h>
#include <http_log.h>
#include <http_main.h>

#include "chat_redis.h"
#include "chat_redis_sync.h"
#include "chat_sentinel.h"
#include "chat_store.h"

APLOG_USE_MODULE(chat);

#define RETRY_INTERVAL apr_time_from_sec(1)

typedef struct pending_cmd pending_cmd;

struct chat_redis {
    chat_pollable pollable; /* first: the reactor polls us */
    chat_reactor *reactor;
    const chat_srv_conf *conf;
    const char *name;
    redisAsyncContext *ac;
    int fd;
    int watched;
    int reading, writing;
    int up;
    int logged_down;
    int closing;
    apr_time_t next_attempt;
    apr_interval_time_t timeout;
    apr_uint32_t pending;      /* commands without a reply yet */
    apr_uint32_t max_pending;  /* ChatRedisMaxPending: more are refused */
    int refusing;              /* logged that the cap was reached */
    apr_time_t last_progress;  /* last reply, or when pending went from 0 */
    pending_cmd *first, *last; /* awaiting replies, in the order sent */
    pending_cmd *last_sent;    /* the last one put on the wire */
    pending_cmd *hold_until;   /* new commands wait for its reply (NOSCRIPT) */
    int subscriber;            /* has (P)SUBSCRIBEd: probed for liveness */
    const char *probe_channel;
    apr_time_t last_rx;  /* bytes last arrived */
    apr_time_t probe_at; /* a probe waits for an answer since, or 0 */
    chat_redis_state_fn on_state;
    void *state_data;
    int watch;         /* ChatRedisSentinel: on a sentinel for +switch-master, or: */
    int asking;        /* on a sentinel to ask for the primary, then there */
    int sentinel_next; /* the sentinel to ask or watch next */
    int tries;         /* sentinels that failed in this round */
    char primary[256];
    int primary_port; /* 0: unknown, ask */
    chat_redis *targets[2];
};

/* A command awaiting its reply (see "Commands in flight" below). */
struct pending_cmd {
    chat_redis *rc;
    chat_redis_reply_fn fn;
    void *data;
    struct pending_cmd *next; /* in the order sent */
    int answered;             /* its reply waits in early for an earlier command */
    redisReply *early;
    const char *script; /* EVALSHA of this script: argv kept to resend as EVAL */
    int resent;
    int argc;
    const char **argv;
    size_t *lens;
    char *held; /* formatted, not sent yet */
    int held_len;
};

static void update_watch(chat_redis *rc)
{
    unsigned int ev = (rc->reading ? EPOLLIN : 0) | (rc->writing ? EPOLLOUT : 0);

    if (!rc->ac) {
        return;
    }
    if (chat_reactor_watch(rc->reactor, &rc->pollable, rc->fd, ev, rc->watched) == APR_SUCCESS) {
        rc->watched = 1;
    }
}

static void ev_add_read(void *p)
{
    chat_redis *rc = p;
    if (!rc->reading) {
        rc->reading = 1;
        update_watch(rc);
    }
}

static void ev_del_read(void *p)
{
    chat_redis *rc = p;
    if (rc->reading) {
        rc->reading = 0;
        update_watch(rc);
    }
}

static void ev_add_write(void *p)
{
    chat_redis *rc = p;
    if (!rc->writing) {
        rc->writing = 1;
        update_watch(rc);
    }
}

static void ev_del_write(void *p)
{
    chat_redis *rc = p;
    if (rc->writing) {
        rc->writing = 0;
        update_watch(rc);
    }
}

static void ev_cleanup(void *p)
{
    chat_redis *rc = p;

    if (rc->watched) {
        chat_reactor_unwatch(rc->reactor, rc->fd);
    }
    rc->watched = rc->reading = rc->writing = 0;
}

static void on_event(chat_pollable *p, unsigned int events)
{
    chat_redis *rc = (chat_redis *)p;

    if (rc->ac && (events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
        /* any answer or message proves the connection alive */
        rc->last_rx = apr_time_now();
        rc->probe_at = 0;
        redisAsyncHandleRead(rc->ac);
    }
    if (rc->ac && (events & EPOLLOUT)) {
        redisAsyncHandleWrite(rc->ac);
    }
}

/* Commands in flight. Callers get replies in the order they sent commands,
 * and Redis runs them in that order, also when a script is sent again as
 * EVAL after NOSCRIPT (Redis restarted or SCRIPT FLUSH): a reply that comes
 * while an earlier command is being sent again waits (copied) for it, and
 * new commands wait (formatted, unsent) until every command that was on the
 * wire at the first NOSCRIPT has been answered, so they cannot overtake a
 * resent one. Only a command of ours already on the wire that another client
 * reloaded the script for in between can still run ahead of its
 * predecessor's second attempt. */

static void deliver_first(chat_redis *rc, redisReply *reply)
{
    pending_cmd *pc = rc->first;

    rc->first = pc->next;
    if (!rc->first) {
        rc->last = NULL;
    }
    if (rc->last_sent == pc) {
        rc->last_sent = NULL;
    }
    if (rc->pending) {
        rc->pending--;
    }
    if (pc->fn) {
        pc->fn(rc, reply, pc->data);
    }
    if (pc->held) {
        redisFreeCommand(pc->held);
    }
    free(pc->argv);
    free(pc);
}

/* Hand out the replies that waited for an earlier command's. */
static void deliver_waiting(chat_redis *rc)
{
    while (rc->first && rc->first->answered) {
        redisReply *early = rc->first->early;
        deliver_first(rc, early);
        chat_redis_reply_free(early);
    }
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata);

static int send_pc(chat_redis *rc, pending_cmd *pc, int argc, const char **argv, const size_t *lens)
{
    if (!rc->ac || redisAsyncCommandArgv(rc->ac, on_reply, pc, argc, argv, lens) != REDIS_OK) {
        return -1;
    }
    return 0;
}

/* The resent commands are all on the wire: send the ones that waited. */
static void send_held(chat_redis *rc)
{
    pending_cmd *pc;

    for (pc = rc->first; pc; pc = pc->next) {
        if (!pc->held) {
            continue;
        }
        if (!rc->ac ||
            redisAsyncFormattedCommand(rc->ac, on_reply, pc, pc->held, pc->held_len) != REDIS_OK) {
            pc->answered = 1; /* failed: NULL, in its turn */
        }
        else {
            rc->last_sent = pc;
        }
        redisFreeCommand(pc->held);
        pc->held = NULL;
    }
    deliver_waiting(rc);
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    pending_cmd *pc = privdata;
    chat_redis *rc = pc->rc;
    redisReply *reply = r;
    int resent = 0;

    (void)ac;
    rc->last_progress = apr_time_now();
    if (pc->script && !pc->resent && reply && reply->type == REDIS_REPLY_ERROR &&
        !strncmp(reply->str, "NOSCRIPT", 8)) {
        pc->resent = 1;
        pc->argv[0] = "EVAL";
        pc->lens[0] = 4;
        pc->argv[1] = pc->script;
        pc->lens[1] = strlen(pc->script);
        if (!rc->hold_until && pc != rc->last_sent) {
            rc->hold_until = rc->last_sent;
        }
        resent = send_pc(rc, pc, pc->argc, pc->argv, pc->lens) == 0;
    }
    if (pc == rc->hold_until) {
        rc->hold_until = NULL;
        send_held(rc);
    }
    if (resent) {
        return;
    }
    if (chat_redis_transient(reply)) { /* see chat_redis_sync.h */
        if (rc->ac && !(rc->ac->c.flags & REDIS_DISCONNECTING)) {
            if (rc->up || !rc->logged_down) { /* once, not every second of a long load */
                ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, ap_server_conf,
                             "chat: Redis (%s connection) not ready: %s; chat answers "
                             "`unavailable` until it is",
                             rc->name, reply->str);
            }
            rc->logged_down = 1;
            redisAsyncDisconnect(rc->ac);
        }
        reply = NULL; /* as if the connection was lost before the answer */
    }
    if (pc != rc->first) {
        pc->answered = 1;
        pc->early = reply ? chat_redis_reply_copy(reply) : NULL;
        return;
    }
    deliver_first(rc, reply);
    deliver_waiting(rc);
}

/* Keep an EVAL's arguments, as EVALSHA, in one block. */
static int keep_args(pending_cmd *pc, const char *sha, int argc, const char **argv,
                     const size_t *lens)
{
    if (!(pc->argv = chat_redis_args_keep(argc, argv, lens, &pc->lens))) {
        return -1;
    }
    pc->argc = argc;
    pc->script = argv[1];
    pc->argv[0] = "EVALSHA";
    pc->lens[0] = 7;
    pc->argv[1] = sha;
    pc->lens[1] = 40;
    return 0;
}

/* Send (or, while resent scripts are on their way, queue) one command; an
 * EVAL of a chat_lua_* script goes as EVALSHA. */
static int send_raw(chat_redis *rc, chat_redis_reply_fn fn, void *data, int argc, const char **argv,
                    const size_t *lens)
{
    pending_cmd *pc = calloc(1, sizeof(*pc));
    const char *sha = argc >= 2 && !strcmp(argv[0], "EVAL") ? chat_store_script_sha(argv[1]) : NULL;
    int rv;

    if (!pc || !rc->ac) {
        free(pc);
        return -1;
    }
    pc->rc = rc;
    pc->fn = fn;
    pc->data = data;
    if (sha) {
        if (keep_args(pc, sha, argc, argv, lens) != 0) {
            free(pc);
            return -1;
        }
        argv = pc->argv;
        lens = pc->lens;
    }
    if (rc->hold_until) {
        pc->held_len = redisFormatCommandArgv(&pc->held, argc, argv, lens);
        rv = pc->held_len < 0 ? -1 : 0;
    }
    else if ((rv = send_pc(rc, pc, argc, argv, lens)) == 0) {
        rc->last_sent = pc;
    }
    if (rv != 0) {
        free(pc->argv);
        free(pc);
        return -1;
    }
    if (rc->last) {
        rc->last->next = pc;
    }
    else {
        rc->first = pc;
    }
    rc->last = pc;
    if (rc->pending++ == 0) {
        rc->last_progress = apr_time_now();
    }
    return 0;
}

static void set_down(chat_redis *rc, const char *why)
{
    int was_up = rc->up;

    rc->ac = NULL;
    /* hiredis failed what it had; what we held was never sent */
    rc->hold_until = rc->last_sent = NULL;
    while (rc->first && (rc->first->held || rc->first->answered)) {
        rc->first->answered = 1;
        deliver_waiting(rc);
    }
    if (rc->closing) {
        return;
    }
    rc->pending = 0;
    if (rc->asking) { /* a sentinel connection ended: answered, or failed */
        rc->asking = 0;
        rc->next_attempt = apr_time_now(); /* the primary, or the next sentinel */
        rc->sentinel_next += !rc->primary_port;
        if (rc->primary_port || ++rc->tries < rc->conf->sentinels->nelts) {
            rc->up = 0;
            return;
        }
        why = why ? why : "no sentinel named a primary";
    }
    else if (rc->conf->sentinels) {
        rc->primary_port = 0; /* ask again where the primary is */
        rc->sentinel_next += rc->watch;
    }
    rc->tries = 0;
    rc->up = 0;
    rc->next_attempt = apr_time_now() + RETRY_INTERVAL;
    if (was_up || !rc->logged_down) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, ap_server_conf,
                     "chat: Redis (%s connection) unavailable: %s; retrying every second", rc->name,
                     why ? why : "connection lost");
        rc->logged_down = 1;
    }
    if (was_up && rc->on_state) {
        rc->on_state(rc, 0, rc->state_data);
    }
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    chat_redis *rc = ac->data;

    if (status != REDIS_OK) {
        set_down(rc, ac->errstr);
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    chat_redis *rc = ac->data;

    (void)status;
    set_down(rc, ac->err ? ac->errstr : NULL);
}

/* AUTH, SELECT or the final PING answered; the PING's answer makes the
 * connection usable: every setup command (script loading included) is on
 * the wire ahead of whatever its users send then. */
static void on_ready(chat_redis *rc, redisReply *reply, void *data)
{
    if (!reply) {
        return; /* set_down already ran */
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, ap_server_conf,
                     "chat: Redis refused the %s connection's setup: %s (check ChatRedisAuth, "
                     "ChatRedisDatabase)",
                     rc->name, reply->str);
        if (rc->ac) {
            redisAsyncDisconnect(rc->ac);
        }
        return;
    }
    if (!data) {
        return; /* AUTH or SELECT: the PING follows */
    }
    rc->up = 1;
    if (rc->logged_down) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, ap_server_conf,
                     "chat: Redis (%s connection) available again", rc->name);
        rc->logged_down = 0;
    }
    if (rc->on_state) {
        rc->on_state(rc, 1, rc->state_data);
    }
}

/* SCRIPT EXISTS answered: load what Redis lacks before any command of ours
 * can use it (these go out ahead of them), so EVALSHA meets NOSCRIPT only
 * after a SCRIPT FLUSH. */
static void on_scripts(chat_redis *rc, redisReply *reply, void *data)
{
    const char *sha, *script;
    size_t i;

    (void)data;
    for (i = 0; reply && reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++) {
        if (reply->element[i]->type == REDIS_REPLY_INTEGER && !reply->element[i]->integer &&
            (script = chat_store_script((int)i, &sha))) {
            const char *argv[3] = {"SCRIPT", "LOAD", script};
            send_raw(rc, NULL, NULL, 3, argv, NULL);
        }
    }
}

/* The subscriber's liveness probe. PING is not usable there with hiredis
 * 0.14: in subscribed mode Redis answers ["pong", ""], which hiredis takes for
 * a pattern message ("p...") and drops, so the PING's callback stays queued
 * until the connection is freed (one leak per probe); and a "+PONG" that
 * comes just after the last UNSUBSCRIBE's answer hits an assert. Instead the
 * connection holds a channel nobody publishes to for its whole life and
 * SUBSCRIBEs to it again: Redis answers every SUBSCRIBE, hiredis hands that
 * answer to the channel's own callback, and the connection never leaves
 * subscribed mode. */
static void on_probe(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    (void)reply;
    (void)privdata; /* on_event noted the traffic */
}

static void probe_send(chat_redis *rc)
{
    const char *argv[2] = {"SUBSCRIBE", rc->probe_channel};

    redisAsyncCommandArgv(rc->ac, on_probe, rc, 2, argv, NULL);
}

/* A sentinel named the primary (or could not): connect there next. */
static void on_master(chat_redis *rc, redisReply *reply, void *data)
{
    (void)data;
    if (!reply) {
        return;
    }
    if (chat_sentinel_master_addr(reply, rc->primary, sizeof(rc->primary), &rc->primary_port)) {
        rc->primary_port = 0;
    }
    if (rc->ac) {
        redisAsyncFree(rc->ac); /* set_down goes on */
    }
}

/* ROLE of the sentinels' primary: during a promotion it may still be a
 * replica (or a demoted primary); then ask again. (NOPERM: +role missing.) */
static void on_role(chat_redis *rc, redisReply *reply, void *data)
{
    (void)data;
    if (reply && !chat_sentinel_role_is_master(reply) && rc->ac) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ap_server_conf,
                     "chat: Redis (%s connection): %s:%d is not a master (%s); asking again",
                     rc->name, rc->primary, rc->primary_port,
                     reply->type == REDIS_REPLY_ERROR ? reply->str : "ROLE says replica");
        redisAsyncFree(rc->ac);
    }
}

/* Where to connect: ChatRedis, a sentinel to ask or watch, or the primary it named. */
static const char *endpoint(chat_redis *rc, int *port)
{
    const apr_array_header_t *list = rc->conf->sentinels;
    const chat_redis_addr *a;
    if (!list) {
        return chat_settings_redis_host(rc->conf, port);
    }
    if (rc->primary_port && !rc->watch) {
        *port = rc->primary_port;
        return rc->primary;
    }
    a = &APR_ARRAY_IDX(list, rc->sentinel_next % list->nelts, chat_redis_addr);
    rc->asking = !rc->watch;
    *port = a->port;
    return a->host;
}

/* A sentinel connection's setup: AUTH, then the question or (watcher) PING. */
static void setup_sentinel(chat_redis *rc)
{
    const char *argv[3];
    int n = chat_sentinel_auth_args(rc->conf, argv);

    if (n) {
        send_raw(rc, on_ready, NULL, n, argv, NULL);
    }
    if (rc->asking) {
        argv[0] = "SENTINEL";
        argv[1] = "get-master-addr-by-name";
        argv[2] = rc->conf->sentinel_master;
        send_raw(rc, on_master, NULL, 3, argv, NULL);
        return;
    }
    argv[0] = "PING";
    send_raw(rc, on_ready, rc, 1, argv, NULL);
    if (rc->subscriber) {
        probe_send(rc);
    }
}

static void connect_now(chat_redis *rc)
{
    int port;
    const char *host = endpoint(rc, &port);
    redisAsyncContext *ac = port ? redisAsyncConnect(host, port) : redisAsyncConnectUnix(host);
    const char *argv[3];

    if (!ac || ac->err) {
        char why[128];
        apr_snprintf(why, sizeof(why), "%s", ac ? ac->errstr : "out of memory");
        if (ac) {
            redisAsyncFree(ac);
        }
        rc->ac = NULL;
        rc->up = 1; /* let set_down log and notify as for a lost connection */
        set_down(rc, why);
        return;
    }
    rc->ac = ac;
    rc->fd = ac->c.fd;
    rc->last_rx = apr_time_now();
    rc->probe_at = 0;
    if (port) {
        chat_redis_keepalive(rc->fd, rc->timeout);
    }
    ac->data = rc;
    ac->ev.data = rc;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* hiredis waits for writability to finish the connect */
    ev_add_write(rc);
    if (rc->asking || rc->watch) {
        setup_sentinel(rc);
        return;
    }

    if (rc->conf->redis_password) {
        int n = 0;
        argv[n++] = "AUTH";
        if (rc->conf->redis_user) {
            argv[n++] = rc->conf->redis_user;
        }
        argv[n++] = rc->conf->redis_password;
        send_raw(rc, on_ready, NULL, n, argv, NULL);
    }
    if (rc->conf->redis_db > 0) {
        char db[16];
        apr_snprintf(db, sizeof(db), "%d", rc->conf->redis_db);
        argv[0] = "SELECT";
        argv[1] = db;
        send_raw(rc, on_ready, NULL, 2, argv, NULL);
    }
    if (rc->conf->sentinels) {
        argv[0] = "ROLE";
        send_raw(rc, on_role, NULL, 1, argv, NULL);
        if (!rc->subscriber && chat_sentinel_checks_promotion(rc->conf)) {
            const char *fo[6];
            apr_pool_t *tmp;
            apr_pool_create(&tmp, NULL);
            chat_sentinel_failover_args(tmp, fo, chat_settings_key_prefix(rc->conf));
            send_raw(rc, NULL, NULL, 6, fo, NULL); /* formatted: tmp may go */
            apr_pool_destroy(tmp);
        }
    }
    if (!rc->subscriber) { /* a subscriber runs no scripts, and could not load them */
        const char *exists[2 + 32], *sha;
        int n = 0;
        exists[n++] = "SCRIPT";
        exists[n++] = "EXISTS";
        while (n < (int)(sizeof(exists) / sizeof(exists[0])) && chat_store_script(n - 2, &sha)) {
            exists[n++] = sha;
        }
        send_raw(rc, on_scripts, NULL, n, exists, NULL);
    }
    argv[0] = "PING";
    send_raw(rc, on_ready, rc, 1, argv, NULL);
    if (rc->subscriber) {
        probe_send(rc);
    }
}

static void on_tick(chat_reactor *r, apr_time_t now, void *data)
{
    chat_redis *rc = data;

    (void)r;
    if (rc->closing) {
        return;
    }
    if (!rc->ac) {
        if (now >= rc->next_attempt && !chat_reactor_stopping(rc->reactor)) {
            connect_now(rc);
        }
        return;
    }
    if (rc->pending && now - rc->last_progress > rc->timeout) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, ap_server_conf,
                     "chat: Redis (%s connection) did not answer for %" APR_TIME_T_FMT
                     " s; reconnecting",
                     rc->name, apr_time_sec(rc->timeout));
        /* Fails every waiting command (callbacks get NULL), then on_disconnect. */
        redisAsyncFree(rc->ac);
        return;
    }
    if (!rc->subscriber || !rc->up) {
        return;
    }
    /* quiet for timeout/2: probe; no byte for timeout after it: dead (a
     * half-open connection is found within 2 x ChatRedisTimeout) */
    if (rc->probe_at && now - rc->probe_at > rc->timeout) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, ap_server_conf,
                     "chat: Redis (%s connection) did not answer a liveness probe for "
                     "%" APR_TIME_T_FMT " s; reconnecting",
                     rc->name, apr_time_sec(rc->timeout));
        redisAsyncFree(rc->ac);
    }
    else if (!rc->probe_at && now - rc->last_rx >= rc->timeout / 2) {
        rc->probe_at = now;
        probe_send(rc);
    }
}

static chat_redis *redis_make(chat_reactor *r, const chat_srv_conf *sc, const char *name,
                              chat_redis_state_fn on_state, void *data, int watch)
{
    /* Lives as long as the reactor: its tick hook points here. */
    chat_redis *rc = apr_pcalloc(chat_reactor_pool(r), sizeof(*rc));

    rc->pollable.kind = CHAT_POLL_OTHER;
    rc->pollable.on_event = on_event;
    rc->reactor = r;
    rc->conf = sc;
    rc->name = name;
    rc->fd = -1;
    rc->watch = watch;
    rc->sentinel_next = sc->sentinels ? (int)(getpid() % sc->sentinels->nelts) : 0;
    rc->timeout = chat_settings_redis_timeout(sc);
    rc->max_pending = (apr_uint32_t)chat_settings_redis_max_pending(sc);
    rc->probe_channel =
        apr_pstrcat(chat_reactor_pool(r), chat_settings_key_prefix(sc), "alive", NULL);
    rc->on_state = on_state;
    rc->state_data = data;
    chat_reactor_add_tick(r, on_tick, rc);
    connect_now(rc);
    return rc;
}

chat_redis *chat_redis_create(chat_reactor *r, const chat_srv_conf *sc, const char *name,
                              chat_redis_state_fn on_state, void *data)
{
    return redis_make(r, sc, name, on_state, data, 0);
}

void chat_redis_reconnect(chat_redis *rc)
{
    if (rc && rc->ac && rc->up) {
        redisAsyncFree(rc->ac); /* on_disconnect: set_down, the usual outage path */
        rc->next_attempt = apr_time_now();
    }
}

/* +switch-master on the watched sentinel: our connections go to the new primary. */
static void on_switch(redisAsyncContext *ac, void *r, void *privdata)
{
    chat_redis *rc = privdata;
    redisReply *m = r;

    (void)ac;
    if (chat_sentinel_switch_is_ours(m, rc->conf->sentinel_master)) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, ap_server_conf,
                     "chat: the sentinels moved the Redis primary (%s); reconnecting",
                     m->element[2]->str);
        chat_redis_reconnect(rc->targets[0]);
        chat_redis_reconnect(rc->targets[1]);
    }
}

static void watch_state(chat_redis *rc, int up, void *data)
{
    const char *argv[2] = {"SUBSCRIBE", "+switch-master"};

    (void)data;
    if (up) {
        chat_redis_subscribe(rc, on_switch, rc, 2, argv, NULL);
    }
}

chat_redis *chat_redis_watch(chat_reactor *r, const chat_srv_conf *sc, chat_redis *a, chat_redis *b)
{
    chat_redis *rc;

    if (!sc->sentinels) {
        return NULL;
    }
    rc = redis_make(r, sc, "sentinel", watch_state, NULL, 1);
    rc->targets[0] = a;
    rc->targets[1] = b;
    return rc;
}

void chat_redis_destroy(chat_redis *rc)
{
    rc->closing = 1;
    rc->on_state = NULL;
    if (rc->ac) {
        redisAsyncFree(rc->ac);
    }
}

int chat_redis_pending(const chat_redis *rc)
{
    return rc->ac ? (int)rc->pending : 0;
}

int chat_redis_is_up(const chat_redis *rc)
{
    return rc->up;
}

int chat_redis_command(chat_redis *rc, chat_redis_reply_fn fn, void *data, int argc,
                       const char **argv, const size_t *lens)
{
    if (!rc->up) {
        return -1;
    }
    /* a Redis that falls behind must not make us queue without bound */
    if (rc->pending >= rc->max_pending) {
        if (!rc->refusing) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ap_server_conf,
                         "chat: Redis (%s connection) has %u commands awaiting replies "
                         "(ChatRedisMaxPending); refusing new ones until it catches up",
                         rc->name, (unsigned)rc->pending);
            rc->refusing = 1;
        }
        return -1;
    }
    rc->refusing = 0;
    return send_raw(rc, fn, data, argc, argv, lens);
}

int chat_redis_subscribe(chat_redis *rc, redisCallbackFn *fn, void *data, int argc,
                         const char **argv, const size_t *lens)
{
    if (!rc->up || !rc->ac) {
        return -1;
    }
    if (!rc->subscriber) {
        rc->subscriber = 1;
        probe_send(rc);
    }
    return redisAsyncCommandArgv(rc->ac, fn, data, argc, argv, lens) == REDIS_OK ? 0 : -1;
}
