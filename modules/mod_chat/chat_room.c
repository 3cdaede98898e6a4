/* Rooms, members and fan-out on a reactor; see chat_room.h.
 *
 * Join: the hub subscribes to the room's channel first and only then runs
 * the join script, so no message falls between the history a client gets
 * and the live ones. Every message carries its seq; a member only gets a
 * seq above the last it has, which makes delivery exactly-once even across
 * a Redis reconnect (missed messages are read back from the stream). */
#include <httpd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_main.h>
#include <json-c/json.h>

#include "chat_identity.h"
#include "chat_redis.h"
#include "chat_room.h"
#include "chat_store.h"
#include "chat_util.h"

APLOG_USE_MODULE(chat);

/* Recent chat frames a room keeps for members whose join reply arrives after
 * live messages that followed it. */
#define RECENT 256

struct chat_room {
    chat_hub *hub;
    char *name;
    char *channel;
    chat_member *members; /* joining and joined */
    int count;
    int sub_state; /* 0 = not subscribed, 1 = asked, 2 = confirmed */
    int needs_catchup;
    apr_uint64_t recent_seq[RECENT];
    chat_outbuf *recent_buf[RECENT];
    unsigned int recent_next;
    unsigned int recent_n;
};

typedef struct bucket {
    double tokens;
    apr_time_t at;
} bucket;

struct chat_hub {
    chat_reactor *reactor;
    const chat_srv_conf *sc;
    const char *prefix;
    chat_redis *cmd;
    chat_redis *sub;
    apr_hash_t *rooms;    /* name -> room */
    apr_hash_t *channels; /* channel -> room */
    apr_hash_t *buckets;  /* user -> bucket */
    apr_pool_t *pool;
    char node[96];
    apr_interval_time_t presence_ttl;
    apr_time_t next_presence;
    apr_time_t last_stats;
    apr_uint64_t posts; /* since last_stats */
};

void chat_hub_count_post(chat_hub *hub)
{
    hub->posts++;
}

/* This process's figures for the admin API's /stats, expiring with it. */
static void hub_write_stats(chat_hub *hub, apr_time_t now, apr_pool_t *p)
{
    apr_hash_index_t *hi;
    int sessions = 0;
    double secs = hub->last_stats ? (double)(now - hub->last_stats) / APR_USEC_PER_SEC : 0;
    const char *argv[16];
    const char *key = apr_pstrcat(p, hub->prefix, "node:", hub->node, NULL);

    for (hi = apr_hash_first(p, hub->rooms); hi; hi = apr_hash_next(hi)) {
        sessions += ((chat_room *)apr_hash_this_val(hi))->count;
    }
    argv[0] = "HSET";
    argv[1] = key;
    argv[2] = "pid";
    argv[3] = apr_itoa(p, (int)getpid());
    argv[4] = "sessions";
    argv[5] = apr_itoa(p, sessions);
    argv[6] = "rooms";
    argv[7] = apr_itoa(p, (int)apr_hash_count(hub->rooms));
    argv[8] = "messages_per_s";
    argv[9] = apr_psprintf(p, "%.2f", secs > 0 ? hub->posts / secs : 0.0);
    argv[10] = "updated";
    argv[11] = apr_psprintf(p, "%" APR_TIME_T_FMT, apr_time_as_msec(now));
    chat_redis_command(hub->cmd, NULL, NULL, 12, argv, NULL);
    argv[0] = "PEXPIRE";
    argv[2] = apr_psprintf(p, "%" APR_TIME_T_FMT, apr_time_as_msec(hub->presence_ttl));
    chat_redis_command(hub->cmd, NULL, NULL, 3, argv, NULL);
    hub->posts = 0;
    hub->last_stats = now;
}

/* Members are shared with in-flight Redis commands: freed when the last
 * holder lets go. */
#define member_hold    chat_member_hold
#define member_release chat_member_release

/* ---------------------------------------------------------------- sending */

void chat_member_send(chat_member *m, const char *type, const char *payload_json)
{
    char *frame;
    apr_size_t len;

    if (!m->s || m->s->state != CHAT_WS_OPEN) {
        return;
    }
    len = strlen(type) + strlen(payload_json) + 32;
    frame = malloc(len);
    if (!frame) {
        return;
    }
    len = (apr_size_t)apr_snprintf(frame, len, "{\"type\":\"%s\",\"payload\":%s}", type,
                                   payload_json);
    chat_ws_session_send_text(m->s, frame, len);
    free(frame);
}

/* One event in the room's debug log (chat_lua_debug), readable through the
 * admin API; LogLevel chat:debug puts it in the error log too. */
void chat_room_debug(chat_member *m, const char *event, const char *detail)
{
    int cap = m->sc->debug_log_size >= 0 ? m->sc->debug_log_size : CHAT_DEFAULT_DEBUG_LOG;
    json_object *o;
    const char *argv[6];
    apr_pool_t *p;

    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ap_server_conf, "chat: room %s: %s %s%s%s",
                 m->room_name, event, m->username, detail ? ": " : "", detail ? detail : "");
    if (!cap || !m->hub || !chat_redis_is_up(m->hub->cmd)) {
        return;
    }
    apr_pool_create(&p, NULL);
    o = json_object_new_object();
    json_object_object_add(o, "ts", json_object_new_int64(apr_time_as_msec(apr_time_now())));
    json_object_object_add(o, "event", json_object_new_string(event));
    json_object_object_add(o, "username", json_object_new_string(m->username));
    json_object_object_add(o, "node", json_object_new_string(m->hub->node));
    if (detail) {
        json_object_object_add(o, "detail", json_object_new_string(detail));
    }
    argv[0] = "EVAL";
    argv[1] = chat_lua_debug;
    argv[2] = "1";
    argv[3] = chat_store_key(p, m->hub->prefix, m->room_name, "debug");
    argv[4] = apr_pstrdup(p, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
    argv[5] = apr_itoa(p, cap);
    chat_redis_command(m->hub->cmd, NULL, NULL, 6, argv, NULL);
    json_object_put(o);
    apr_pool_destroy(p);
}

void chat_member_error(chat_member *m, const char *code, const char *message)
{
    apr_pool_t *p;

    apr_pool_create(&p, NULL);
    chat_member_send(m, "error",
                     apr_psprintf(p, "{\"message\":%s,\"code\":%s}", chat_json_quote(p, message),
                                  chat_json_quote(p, code)));
    chat_room_debug(m, "error", apr_pstrcat(p, code, ": ", message, NULL));
    apr_pool_destroy(p);
}

static void member_refuse(chat_member *m, const char *message)
{
    apr_pool_t *p;

    apr_pool_create(&p, NULL);
    chat_member_send(m, "auth_failed",
                     apr_psprintf(p, "{\"message\":%s}", chat_json_quote(p, message)));
    apr_pool_destroy(p);
    if (m->s) {
        chat_ws_session_close(m->s, CHAT_WS_CLOSE_POLICY, message);
    }
}

/* -------------------------------------------------------------- the hub */

chat_redis *chat_hub_cmd(chat_hub *hub)
{
    return hub->cmd;
}

const char *chat_hub_prefix(chat_hub *hub)
{
    return hub->prefix;
}

int chat_hub_rate_take(chat_hub *hub, const char *user, int rate, int burst)
{
    bucket *b;
    apr_time_t now = apr_time_now();

    if (rate <= 0) {
        return 1;
    }
    b = apr_hash_get(hub->buckets, user, APR_HASH_KEY_STRING);
    if (!b) {
        b = apr_palloc(hub->pool, sizeof(*b));
        b->tokens = burst;
        b->at = now;
        apr_hash_set(hub->buckets, apr_pstrdup(hub->pool, user), APR_HASH_KEY_STRING, b);
    }
    b->tokens += (double)(now - b->at) * rate / APR_USEC_PER_SEC;
    if (b->tokens > burst) {
        b->tokens = burst;
    }
    b->at = now;
    if (b->tokens < 1.0) {
        return 0;
    }
    b->tokens -= 1.0;
    return 1;
}

static void room_try_joins(chat_room *room);
static void room_catchup(chat_room *room);

static void sub_state(chat_redis *rc, int up, void *data)
{
    chat_hub *hub = data;
    apr_hash_index_t *hi;

    (void)rc;
    for (hi = apr_hash_first(NULL, hub->rooms); hi; hi = apr_hash_next(hi)) {
        chat_room *room = apr_hash_this_val(hi);
        chat_member *m;
        room->sub_state = 0;
        if (!up) {
            room->needs_catchup = 1;
            for (m = room->members; m; m = m->next) {
                if (m->joined) {
                    chat_member_error(m, "unavailable",
                                      "chat storage unavailable; reconnecting, messages are "
                                      "not lost");
                }
            }
        }
        else {
            room_try_joins(room);
        }
    }
}

static void cmd_state(chat_redis *rc, int up, void *data)
{
    chat_hub *hub = data;
    apr_hash_index_t *hi;

    (void)rc;
    if (!up) {
        return;
    }
    for (hi = apr_hash_first(NULL, hub->rooms); hi; hi = apr_hash_next(hi)) {
        chat_room *room = apr_hash_this_val(hi);
        room_try_joins(room);
        if (room->needs_catchup && room->sub_state == 2) {
            room_catchup(room);
        }
    }
}

static void presence_tick(chat_reactor *r, apr_time_t now, void *data);

/* The reactor is going away: its sessions are gone, close Redis (waiting
 * commands get NULL replies and let go of their members). */
static apr_status_t hub_cleanup(void *data)
{
    chat_hub *hub = data;

    chat_redis_destroy(hub->cmd);
    chat_redis_destroy(hub->sub);
    return APR_SUCCESS;
}

/* Keep an ending reactor alive while our Redis commands are answered. */
static int hub_busy(void *data)
{
    apr_hash_t *hubs = data;
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(NULL, hubs); hi; hi = apr_hash_next(hi)) {
        chat_hub *hub = apr_hash_this_val(hi);
        if (chat_redis_pending(hub->cmd) > 0) {
            return 1;
        }
    }
    return 0;
}

static chat_hub *hub_for(chat_reactor *r, const chat_srv_conf *sc)
{
    apr_hash_t *hubs = chat_reactor_data(r);
    chat_hub *hub;
    apr_pool_t *p;
    char host[64] = "host";

    if (!hubs) {
        hubs = apr_hash_make(chat_reactor_pool(r));
        chat_reactor_set_data(r, hubs);
        chat_reactor_set_linger(r, hub_busy, hubs);
    }
    hub = apr_hash_get(hubs, &sc, sizeof(sc));
    if (hub) {
        return hub;
    }
    apr_pool_create(&p, chat_reactor_pool(r));
    hub = apr_pcalloc(p, sizeof(*hub));
    hub->pool = p;
    hub->reactor = r;
    hub->sc = sc;
    hub->prefix = chat_config_key_prefix(sc);
    hub->rooms = apr_hash_make(p);
    hub->channels = apr_hash_make(p);
    hub->buckets = apr_hash_make(p);
    hub->presence_ttl = chat_config_presence_ttl(sc);
    gethostname(host, sizeof(host) - 1);
    apr_snprintf(hub->node, sizeof(hub->node), "%s:%d:%pp", host, (int)getpid(), (void *)hub);
    apr_hash_set(hubs, apr_pmemdup(p, &sc, sizeof(sc)), sizeof(sc), hub);
    hub->cmd = chat_redis_create(r, sc, "command", cmd_state, hub);
    hub->sub = chat_redis_create(r, sc, "subscriber", sub_state, hub);
    apr_pool_cleanup_register(p, hub, hub_cleanup, apr_pool_cleanup_null);
    chat_reactor_add_tick(r, presence_tick, hub);
    hub->next_presence = apr_time_now() + hub->presence_ttl / 3;
    return hub;
}

/* ------------------------------------------------------------- rooms */

static void room_remember(chat_room *room, apr_uint64_t seq, chat_outbuf *b)
{
    unsigned int i = room->recent_next;

    if (room->recent_buf[i]) {
        chat_outbuf_release(room->recent_buf[i]);
    }
    chat_outbuf_retain(b);
    room->recent_buf[i] = b;
    room->recent_seq[i] = seq;
    room->recent_next = (i + 1) % RECENT;
    if (room->recent_n < RECENT) {
        room->recent_n++;
    }
}

static void room_forget(chat_room *room)
{
    unsigned int i;

    for (i = 0; i < RECENT; i++) {
        chat_outbuf_release(room->recent_buf[i]);
        room->recent_buf[i] = NULL;
    }
    room->recent_n = room->recent_next = 0;
}

/* Give m every remembered frame above what it has, oldest first. */
static void room_send_recent(chat_room *room, chat_member *m)
{
    unsigned int k, start = (room->recent_next + RECENT - room->recent_n) % RECENT;

    for (k = 0; k < room->recent_n; k++) {
        unsigned int i = (start + k) % RECENT;
        if (room->recent_seq[i] > m->last_seq) {
            chat_ws_session_send(m->s, room->recent_buf[i]);
            m->last_seq = room->recent_seq[i];
        }
    }
}

static chat_room *room_get(chat_hub *hub, const char *name)
{
    chat_room *room = apr_hash_get(hub->rooms, name, APR_HASH_KEY_STRING);

    if (room) {
        return room;
    }
    room = calloc(1, sizeof(*room));
    if (!room) {
        return NULL;
    }
    room->hub = hub;
    room->name = strdup(name);
    room->channel = malloc(strlen(hub->prefix) + strlen(name) + 4);
    if (!room->name || !room->channel) {
        free(room->name);
        free(room->channel);
        free(room);
        return NULL;
    }
    sprintf(room->channel, "%sch:%s", hub->prefix, name);
    apr_hash_set(hub->rooms, room->name, APR_HASH_KEY_STRING, room);
    apr_hash_set(hub->channels, room->channel, APR_HASH_KEY_STRING, room);
    return room;
}

static void on_pubsub(redisAsyncContext *ac, void *reply, void *privdata);

static void room_drop_if_empty(chat_room *room)
{
    chat_hub *hub = room->hub;

    if (room->count > 0) {
        return;
    }
    if (room->sub_state && chat_redis_is_up(hub->sub)) {
        const char *argv[2] = {"UNSUBSCRIBE", room->channel};
        chat_redis_subscribe(hub->sub, on_pubsub, hub, 2, argv, NULL);
    }
    apr_hash_set(hub->rooms, room->name, APR_HASH_KEY_STRING, NULL);
    apr_hash_set(hub->channels, room->channel, APR_HASH_KEY_STRING, NULL);
    room_forget(room);
    free(room->name);
    free(room->channel);
    free(room);
}

/* ------------------------------------------------------------- joining */

static int count_json_array(const char *json)
{
    json_object *o = json_tokener_parse(json);
    int n = 0;

    if (o && json_object_is_type(o, json_type_array)) {
        n = (int)json_object_array_length(o);
    }
    json_object_put(o);
    return n;
}

static void send_messages_as_chat(chat_member *m, const char *array_json)
{
    json_object *arr = json_tokener_parse(array_json);
    size_t i, n;

    if (!arr || !json_object_is_type(arr, json_type_array)) {
        json_object_put(arr);
        return;
    }
    n = json_object_array_length(arr);
    for (i = 0; i < n; i++) {
        json_object *msg = json_object_array_get_idx(arr, i), *seq;
        apr_uint64_t s = 0;
        if (json_object_object_get_ex(msg, "seq", &seq)) {
            s = (apr_uint64_t)json_object_get_int64(seq);
        }
        if (s > m->last_seq) {
            chat_member_send(m, "chat",
                             json_object_to_json_string_ext(
                                 msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
            m->last_seq = s;
        }
    }
    json_object_put(arr);
}

static const char *reply_str(redisReply *r, size_t i)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements) {
        return NULL;
    }
    r = r->element[i];
    return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ? r->str : NULL;
}

static long long reply_int(redisReply *r, size_t i)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements) {
        return 0;
    }
    r = r->element[i];
    if (r->type == REDIS_REPLY_INTEGER) {
        return r->integer;
    }
    return r->type == REDIS_REPLY_STRING ? apr_atoi64(r->str) : 0;
}

static void leave_presence(chat_member *m);

static void on_join_reply(chat_redis *rc, redisReply *reply, void *data)
{
    chat_member *m = data;
    const char *status = reply_str(reply, 0);
    apr_pool_t *p;

    (void)rc;
    if (status && !strcmp(status, "ok")) {
        m->present = 1; /* the script added our presence entry */
    }
    if (!m->s) {
        if (m->present) {
            leave_presence(m); /* closed while the join was in flight */
        }
        member_release(m);
        return;
    }
    if (!reply || reply->type == REDIS_REPLY_ERROR || !status) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, ap_server_conf,
                     "chat: join of %s to room %s failed: %s", m->username, m->room_name,
                     reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "no reply");
        chat_member_error(m, "unavailable", "chat storage unavailable, try again");
        chat_ws_session_close(m->s, CHAT_WS_CLOSE_INTERNAL, "storage unavailable");
        member_release(m);
        return;
    }
    if (!strcmp(status, "toomany")) {
        chat_member_error(
            m, "too_many_connections",
            apr_psprintf(m->hub->pool, "at most %d connections per user", m->lim.max_conns));
        chat_ws_session_close(m->s, CHAT_WS_CLOSE_POLICY, "too many connections");
        member_release(m);
        return;
    }
    if (!strcmp(status, "inactive") || !strcmp(status, "denied")) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, ap_server_conf, "chat: %s refused in room %s: %s",
                     m->username, m->room_name,
                     *status == 'i' ? "room is not active" : "not a member");
        chat_room_debug(m, "refused", *status == 'i' ? "room is not active" : "not a member");
        member_refuse(m, *status == 'i' ? "this room is not active"
                                        : "you are not a member of this room");
        member_release(m);
        return;
    }
    apr_pool_create(&p, NULL);
    {
        apr_uint64_t seq = (apr_uint64_t)reply_int(reply, 1);
        const char *epoch = reply_str(reply, 2);
        const char *history = reply_str(reply, 3);
        long long more = reply_int(reply, 4);
        const char *users = reply_str(reply, 5);
        const char *mode = reply_str(reply, 6);
        const char *replay = reply_str(reply, 7);

        if (!epoch || !history || !users || !mode || !replay) {
            chat_member_error(m, "internal", "unexpected reply from storage");
            chat_ws_session_close(m->s, CHAT_WS_CLOSE_INTERNAL, "storage error");
            apr_pool_destroy(p);
            member_release(m);
            return;
        }
        apr_cpystrn(m->epoch, epoch, sizeof(m->epoch));
        chat_member_send(
            m, "welcome",
            apr_psprintf(p,
                         "{\"sessionId\":\"%s:%" APR_UINT64_T_FMT "\",\"username\":%s,"
                         "\"room\":%s,\"history\":%s,\"hasMoreHistory\":%s,\"userCount\":%d,"
                         "\"seq\":%" APR_UINT64_T_FMT ",\"epoch\":%s}",
                         m->hub->node, m->s->id, chat_json_quote(p, m->username),
                         chat_json_quote(p, m->room_name), history, more ? "true" : "false",
                         count_json_array(users), seq, chat_json_quote(p, epoch)));
        /* the joiner's own list now, not whenever its join event comes back */
        chat_member_send(
            m, "user_list_update",
            apr_psprintf(p, "{\"users\":%s,\"userCount\":%d}", users, count_json_array(users)));
        if (!strcmp(mode, "replay")) {
            m->last_seq = m->since;
            send_messages_as_chat(m, replay);
        }
        else if (!strcmp(mode, "reset")) {
            chat_member_send(
                m, "history_reset",
                apr_psprintf(p, "{\"epoch\":%s,\"seq\":%" APR_UINT64_T_FMT ",\"history\":%s}",
                             chat_json_quote(p, epoch), seq, history));
        }
        if (m->last_seq < seq) {
            m->last_seq = seq;
        }
        m->joined = 1;
        if (m->room) {
            room_send_recent(m->room, m);
        }
        chat_room_debug(m, "join",
                        m->has_since
                            ? apr_psprintf(p, "since %" APR_UINT64_T_FMT " (%s)", m->since, mode)
                            : NULL);
    }
    apr_pool_destroy(p);
    member_release(m);
}

static void member_run_join(chat_member *m)
{
    chat_hub *hub = m->hub;
    apr_pool_t *p;
    const char *argv[18];
    char epoch[17];

    apr_pool_create(&p, NULL);
    chat_store_new_epoch(epoch);
    argv[0] = "EVAL";
    argv[1] = chat_lua_join;
    argv[2] = "4";
    argv[3] = chat_store_key(p, hub->prefix, m->room_name, "members");
    argv[4] = chat_store_key(p, hub->prefix, m->room_name, "meta");
    argv[5] = chat_store_key(p, hub->prefix, m->room_name, "log");
    argv[6] = chat_store_key(p, hub->prefix, m->room_name, "presence");
    argv[7] = m->username;
    argv[8] = m->entry;
    argv[9] =
        apr_psprintf(p, "%" APR_TIME_T_FMT, apr_time_as_msec(apr_time_now() + hub->presence_ttl));
    argv[10] = apr_psprintf(p, "%" APR_TIME_T_FMT, apr_time_as_msec(apr_time_now()));
    argv[11] = m->has_since ? apr_psprintf(p, "%" APR_UINT64_T_FMT, m->since) : "-1";
    argv[12] = m->epoch_hint;
    argv[13] = "20";
    argv[14] = epoch;
    argv[15] = chat_store_channel(p, hub->prefix, m->room_name);
    argv[16] = hub->prefix;
    argv[17] = apr_itoa(p, m->lim.max_conns);
    member_hold(m);
    if (chat_redis_command(hub->cmd, on_join_reply, m, 18, argv, NULL) != 0) {
        member_release(m);
        chat_member_error(m, "unavailable", "chat storage unavailable, try again");
        chat_ws_session_close(m->s, CHAT_WS_CLOSE_INTERNAL, "storage unavailable");
    }
    apr_pool_destroy(p);
}

static void room_try_joins(chat_room *room)
{
    chat_hub *hub = room->hub;
    chat_member *m;

    if (!chat_redis_is_up(hub->sub) || !chat_redis_is_up(hub->cmd)) {
        return;
    }
    if (room->sub_state == 0) {
        const char *argv[2] = {"SUBSCRIBE", room->channel};
        if (chat_redis_subscribe(hub->sub, on_pubsub, hub, 2, argv, NULL) == 0) {
            room->sub_state = 1;
        }
        return;
    }
    if (room->sub_state != 2) {
        return;
    }
    for (m = room->members; m; m = m->next) {
        if (!m->join_sent && m->s && m->s->state == CHAT_WS_OPEN) {
            m->join_sent = 1;
            member_run_join(m);
        }
    }
}

/* After a Redis outage: read back what was published while we were away. */
static void on_catchup_reply(chat_redis *rc, redisReply *reply, void *data)
{
    chat_member *m = data;
    const char *msgs = reply_str(reply, 0);

    (void)rc;
    if (m->s && m->joined && msgs) {
        send_messages_as_chat(m, msgs);
    }
    member_release(m);
}

static void room_catchup(chat_room *room)
{
    chat_hub *hub = room->hub;
    chat_member *m;
    apr_pool_t *p;

    room->needs_catchup = 0;
    apr_pool_create(&p, NULL);
    for (m = room->members; m; m = m->next) {
        const char *argv[6];
        if (!m->joined) {
            continue;
        }
        /* messages above last_seq, oldest first: a page ending before
         * last_seq + 101 is enough for any outage we can bridge here */
        argv[0] = "EVAL";
        argv[1] = chat_lua_history;
        argv[2] = "1";
        argv[3] = chat_store_key(p, hub->prefix, room->name, "log");
        argv[4] = "0";
        argv[5] = "100";
        member_hold(m);
        if (chat_redis_command(hub->cmd, on_catchup_reply, m, 6, argv, NULL) != 0) {
            member_release(m);
            room->needs_catchup = 1;
        }
    }
    apr_pool_destroy(p);
}

/* ------------------------------------------------------------- pub/sub */

static chat_outbuf *chat_frame_for(const char *m_json, apr_size_t len)
{
    static const char head[] = "{\"type\":\"chat\",\"payload\":";
    apr_size_t hl = sizeof(head) - 1;
    char *text = malloc(hl + len + 1);
    chat_outbuf *b;

    if (!text) {
        return NULL;
    }
    memcpy(text, head, hl);
    memcpy(text + hl, m_json, len);
    text[hl + len] = '}';
    b = chat_outbuf_frame(CHAT_WS_OP_TEXT, text, hl + len + 1);
    free(text);
    return b;
}

static void deliver_chat(chat_room *room, const char *payload, apr_size_t len)
{
    /* '{"t":"chat","seq":N,"e":"EPOCH","m":{...}}' as chat_lua_post wrote it */
    const char *p = payload + sizeof("{\"t\":\"chat\",\"seq\":") - 1;
    char *end, epoch[40];
    apr_uint64_t seq = apr_strtoi64(p, &end, 10);
    const char *e, *q, *m_json;
    chat_outbuf *b;
    chat_member *m;

    if (strncmp(end, ",\"e\":\"", 6) || payload[len - 1] != '}') {
        return;
    }
    e = end + 6;
    q = strchr(e, '"');
    if (!q || (apr_size_t)(q - e) >= sizeof(epoch) || strncmp(q, "\",\"m\":", 6)) {
        return;
    }
    memcpy(epoch, e, (apr_size_t)(q - e));
    epoch[q - e] = '\0';
    m_json = q + 6;
    b = chat_frame_for(m_json, (apr_size_t)(payload + len - 1 - m_json));
    if (!b) {
        return;
    }
    room_remember(room, seq, b);
    for (m = room->members; m; m = m->next) {
        if (!m->joined) {
            continue;
        }
        if (strcmp(m->epoch, epoch)) {
            /* Redis lost or reset the room since this member joined */
            apr_pool_t *tmp;
            apr_pool_create(&tmp, NULL);
            chat_member_send(
                m, "history_reset",
                apr_psprintf(tmp, "{\"epoch\":%s,\"seq\":%" APR_UINT64_T_FMT ",\"history\":[]}",
                             chat_json_quote(tmp, epoch), seq - 1));
            apr_pool_destroy(tmp);
            apr_cpystrn(m->epoch, epoch, sizeof(m->epoch));
            m->last_seq = 0;
        }
        if (m->last_seq < seq) {
            chat_ws_session_send(m->s, b);
            m->last_seq = seq;
        }
    }
    chat_outbuf_release(b);
}

static void deliver_to_joined(chat_room *room, const char *type, const char *payload,
                              const char *skip_entry, const char *only_user)
{
    chat_member *m;

    for (m = room->members; m; m = m->next) {
        if (!m->joined || (skip_entry && !strcmp(m->entry, skip_entry)) ||
            (only_user && strcmp(m->username, only_user))) {
            continue;
        }
        chat_member_send(m, type, payload);
    }
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;

    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static void deliver_event(chat_room *room, const char *payload)
{
    json_object *ev = json_tokener_parse(payload), *users = NULL, *p = NULL;
    const char *t;
    apr_pool_t *pool;

    if (!ev || !(t = jstr(ev, "t"))) {
        json_object_put(ev);
        return;
    }
    apr_pool_create(&pool, NULL);
    json_object_object_get_ex(ev, "users", &users);
    if (!strcmp(t, "join") || !strcmp(t, "leave") || !strcmp(t, "users")) {
        int n = users && json_object_is_type(users, json_type_array)
                    ? (int)json_object_array_length(users)
                    : 0;
        const char *user = jstr(ev, "username");
        if (user && !strcmp(t, "join")) {
            deliver_to_joined(room, "user_join",
                              apr_psprintf(pool, "{\"username\":%s,\"userCount\":%d}",
                                           chat_json_quote(pool, user), n),
                              jstr(ev, "entry"), NULL);
        }
        else if (user && !strcmp(t, "leave")) {
            deliver_to_joined(room, "user_leave",
                              apr_psprintf(pool, "{\"username\":%s,\"userCount\":%d}",
                                           chat_json_quote(pool, user), n),
                              NULL, NULL);
        }
        deliver_to_joined(
            room, "user_list_update",
            apr_psprintf(pool, "{\"users\":%s,\"userCount\":%d}",
                         users ? json_object_to_json_string_ext(
                                     users, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                               : "[]",
                         n),
            jstr(ev, "entry"), NULL); /* the joiner had its list with the welcome */
    }
    else if (!strcmp(t, "delete") && jstr(ev, "id")) {
        deliver_to_joined(
            room, "delete",
            apr_psprintf(pool, "{\"messageId\":%s}", chat_json_quote(pool, jstr(ev, "id"))), NULL,
            NULL);
    }
    else if (!strcmp(t, "signal") && jstr(ev, "type") && jstr(ev, "target") &&
             json_object_object_get_ex(ev, "p", &p)) {
        deliver_to_joined(room, jstr(ev, "type"),
                          json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE),
                          NULL, jstr(ev, "target"));
    }
    else if (!strcmp(t, "reset") && jstr(ev, "epoch")) {
        json_object *seq = NULL;
        chat_member *m;
        json_object_object_get_ex(ev, "seq", &seq);
        room_forget(room);
        for (m = room->members; m; m = m->next) {
            apr_cpystrn(m->epoch, jstr(ev, "epoch"), sizeof(m->epoch));
        }
        deliver_to_joined(room, "history_reset",
                          apr_psprintf(pool,
                                       "{\"epoch\":%s,\"seq\":%" APR_INT64_T_FMT ",\"history\":[]}",
                                       chat_json_quote(pool, jstr(ev, "epoch")),
                                       seq ? (apr_int64_t)json_object_get_int64(seq) : 0),
                          NULL, NULL);
    }
    else if (!strcmp(t, "kick") && jstr(ev, "username")) {
        chat_member *m, *next;
        for (m = room->members; m; m = next) {
            next = m->next;
            if (!strcmp(m->username, jstr(ev, "username"))) {
                member_refuse(m, "you were removed from this room");
            }
        }
    }
    apr_pool_destroy(pool);
    json_object_put(ev);
}

static void on_pubsub(redisAsyncContext *ac, void *reply, void *privdata)
{
    chat_hub *hub = privdata;
    redisReply *r = reply;
    const char *kind, *channel;
    chat_room *room;

    (void)ac;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING) {
        return;
    }
    kind = r->element[0]->str;
    channel = r->element[1]->str;
    room = apr_hash_get(hub->channels, channel, APR_HASH_KEY_STRING);
    if (!room) {
        return;
    }
    if (!strcmp(kind, "subscribe")) {
        room->sub_state = 2;
        room_try_joins(room);
        if (room->needs_catchup) {
            room_catchup(room);
        }
        return;
    }
    if (strcmp(kind, "message") || r->element[2]->type != REDIS_REPLY_STRING) {
        return;
    }
    if (!strncmp(r->element[2]->str, "{\"t\":\"chat\",\"seq\":", 18)) {
        deliver_chat(room, r->element[2]->str, r->element[2]->len);
    }
    else {
        deliver_event(room, r->element[2]->str);
    }
}

/* ------------------------------------------------------------- presence */

static void ignore_reply(chat_redis *rc, redisReply *reply, void *data)
{
    (void)rc;
    (void)reply;
    (void)data;
}

typedef struct presence_ctx {
    chat_hub *hub;
    char room[72];
} presence_ctx;

static presence_ctx *presence_ctx_make(chat_hub *hub, chat_room *room)
{
    presence_ctx *c = malloc(sizeof(*c));

    if (c) {
        c->hub = hub;
        apr_cpystrn(c->room, room->name, sizeof(c->room));
    }
    return c;
}

/* Members removed from a room by any means (admin API or Redis itself) are
 * closed here at the latest; the admin API's kick event does it at once. */
static void on_presence_reply(chat_redis *rc, redisReply *reply, void *data)
{
    presence_ctx *c = data;
    chat_room *room;
    size_t i;

    (void)rc;
    if (!c) {
        return;
    }
    room = apr_hash_get(c->hub->rooms, c->room, APR_HASH_KEY_STRING);
    for (i = 0; room && reply && reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++) {
        chat_member *m, *next;
        if (reply->element[i]->type != REDIS_REPLY_STRING) {
            continue;
        }
        for (m = room->members; m; m = next) {
            next = m->next;
            if (m->joined && !strcmp(m->username, reply->element[i]->str)) {
                member_refuse(m, "you were removed from this room");
            }
        }
    }
    free(c);
}

static void presence_tick(chat_reactor *r, apr_time_t now, void *data)
{
    chat_hub *hub = data;
    apr_hash_index_t *hi;
    apr_pool_t *p;

    (void)r;
    /* joins still waiting for Redis after ChatRedisTimeout give up */
    for (hi = apr_hash_first(NULL, hub->rooms); hi; hi = apr_hash_next(hi)) {
        chat_room *room = apr_hash_this_val(hi);
        chat_member *m;
        for (m = room->members; m; m = m->next) {
            if (!m->join_sent && m->s && m->s->state == CHAT_WS_OPEN &&
                now - m->opened_at > chat_config_redis_timeout(hub->sc)) {
                chat_member_error(m, "unavailable", "chat storage unavailable, try again");
                chat_ws_session_close(m->s, CHAT_WS_CLOSE_INTERNAL, "storage unavailable");
            }
        }
    }
    if (now < hub->next_presence || !chat_redis_is_up(hub->cmd)) {
        return;
    }
    hub->next_presence = now + hub->presence_ttl / 3;
    apr_pool_create(&p, NULL);
    hub_write_stats(hub, now, p);
    for (hi = apr_hash_first(p, hub->rooms); hi; hi = apr_hash_next(hi)) {
        chat_room *room = apr_hash_this_val(hi);
        apr_array_header_t *argv = apr_array_make(p, 8 + room->count, sizeof(const char *));
        presence_ctx *ctx;
        chat_member *m;

        APR_ARRAY_PUSH(argv, const char *) = "EVAL";
        APR_ARRAY_PUSH(argv, const char *) = chat_lua_presence;
        APR_ARRAY_PUSH(argv, const char *) = "2";
        APR_ARRAY_PUSH(argv, const char *) = chat_store_key(p, hub->prefix, room->name, "presence");
        APR_ARRAY_PUSH(argv, const char *) = chat_store_key(p, hub->prefix, room->name, "members");
        APR_ARRAY_PUSH(argv, const char *) =
            apr_psprintf(p, "%" APR_TIME_T_FMT, apr_time_as_msec(now));
        APR_ARRAY_PUSH(argv, const char *) =
            apr_psprintf(p, "%" APR_TIME_T_FMT, apr_time_as_msec(now + hub->presence_ttl));
        APR_ARRAY_PUSH(argv, const char *) = room->channel;
        APR_ARRAY_PUSH(argv, const char *) = hub->prefix;
        for (m = room->members; m; m = m->next) {
            if (m->joined) {
                APR_ARRAY_PUSH(argv, const char *) = m->entry;
            }
        }
        /* the reply names local users removed from the room meanwhile */
        ctx = presence_ctx_make(hub, room);
        if (chat_redis_command(hub->cmd, on_presence_reply, ctx, argv->nelts,
                               (const char **)argv->elts, NULL) != 0) {
            free(ctx);
        }
    }
    apr_pool_destroy(p);
}

/* ------------------------------------------------------------- members */

chat_member *chat_member_create(request_rec *r, const char *room, const char *username)
{
    chat_member *m = calloc(1, sizeof(*m));
    const char *since, *epoch;

    if (!m) {
        return NULL;
    }
    m->username = strdup(username);
    m->room_name = strdup(room);
    if (!m->username || !m->room_name) {
        free(m->username);
        free(m->room_name);
        free(m);
        return NULL;
    }
    m->sc = ap_get_module_config(r->server->module_config, &chat_module);
    chat_config_room_limits(ap_get_module_config(r->per_dir_config, &chat_module), &m->lim);
    since = chat_query_param(r->pool, r->args, "since");
    epoch = chat_query_param(r->pool, r->args, "epoch");
    if (since && apr_isdigit(*since)) {
        m->has_since = 1;
        m->since = (apr_uint64_t)apr_atoi64(since);
        apr_cpystrn(m->epoch_hint, epoch ? epoch : "", sizeof(m->epoch_hint));
    }
    m->refs = 1;
    return m;
}

/* The session holds one reference, each in-flight command one more. */
void chat_member_hold(chat_member *m)
{
    m->refs++;
}

void chat_member_release(chat_member *m)
{
    if (--m->refs > 0) {
        return;
    }
    free(m->username);
    free(m->room_name);
    free(m);
}

static void room_on_open(chat_ws_session *s)
{
    chat_member *m = s->app_data;
    chat_room *room;

    m->s = s;
    m->opened_at = apr_time_now();
    m->hub = hub_for(s->reactor, m->sc);
    apr_snprintf(m->entry, sizeof(m->entry), "%s\n%s:%" APR_UINT64_T_FMT, m->username, m->hub->node,
                 s->id);
    room = room_get(m->hub, m->room_name);
    if (!room) {
        chat_ws_session_close(s, CHAT_WS_CLOSE_INTERNAL, "out of memory");
        return;
    }
    m->room = room;
    m->next = room->members;
    if (room->members) {
        room->members->prev = m;
    }
    room->members = m;
    room->count++;
    room_try_joins(room);
}

static void room_on_message(chat_ws_session *s, int opcode, const char *data, apr_size_t len)
{
    chat_member *m = s->app_data;

    if (opcode != CHAT_WS_OP_TEXT) {
        chat_member_error(m, "malformed", "messages are JSON text frames");
        return;
    }
    chat_protocol_handle(m, data, len);
}

static void leave_presence(chat_member *m)
{
    chat_hub *hub = m->hub;
    apr_pool_t *p;
    const char *argv[9];

    if (!chat_redis_is_up(hub->cmd)) {
        return; /* the entry expires by itself */
    }
    apr_pool_create(&p, NULL);
    argv[0] = "EVAL";
    argv[1] = chat_lua_leave;
    argv[2] = "1";
    argv[3] = chat_store_key(p, hub->prefix, m->room_name, "presence");
    argv[4] = m->entry;
    argv[5] = apr_psprintf(p, "%" APR_TIME_T_FMT, apr_time_as_msec(apr_time_now()));
    argv[6] = chat_store_channel(p, hub->prefix, m->room_name);
    argv[7] = m->username;
    argv[8] = hub->prefix;
    chat_redis_command(hub->cmd, ignore_reply, NULL, 9, argv, NULL);
    apr_pool_destroy(p);
}

static void room_on_close(chat_ws_session *s)
{
    chat_member *m = s->app_data;
    chat_room *room = m->room;

    if (room) {
        if (m->joined) {
            chat_room_debug(m, "leave", NULL);
        }
        if (m->present) {
            leave_presence(m);
        }
        if (m->prev) {
            m->prev->next = m->next;
        }
        else {
            room->members = m->next;
        }
        if (m->next) {
            m->next->prev = m->prev;
        }
        room->count--;
        m->room = NULL;
        room_drop_if_empty(room);
    }
    m->s = NULL;
    m->joined = 0;
    member_release(m);
}

const chat_ws_app chat_room_app = {"chat", room_on_open, room_on_message, room_on_close};

void chat_room_publish(chat_member *m, const char *payload)
{
    apr_pool_t *p;
    const char *argv[3];

    apr_pool_create(&p, NULL);
    argv[0] = "PUBLISH";
    argv[1] = chat_store_channel(p, m->hub->prefix, m->room_name);
    argv[2] = payload;
    if (chat_redis_command(m->hub->cmd, ignore_reply, NULL, 3, argv, NULL) != 0) {
        chat_member_error(m, "unavailable", "chat storage unavailable; not delivered");
    }
    apr_pool_destroy(p);
}
