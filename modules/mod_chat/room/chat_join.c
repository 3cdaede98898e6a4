/* Joining a room and catching up after an outage: see chat_join.h. */
#include <httpd.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <http_log.h>
#include <http_main.h>
#include <json-c/json.h>

#include "chat_fanout.h"
#include "chat_join.h"
#include "chat_member.h"
#include "chat_presence.h"
#include "chat_store.h"
#include "chat_util.h"

APLOG_USE_MODULE(chat);

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
            chat_presence_leave(m); /* closed while the join was in flight */
        }
        chat_member_release(m);
        return;
    }
    if (!reply || reply->type == REDIS_REPLY_ERROR || !status) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, ap_server_conf,
                     "chat: join of %s to room %s failed: %s", m->username, m->room_name,
                     reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "no reply");
        chat_member_error(m, "unavailable", "chat storage unavailable, try again");
        chat_ws_session_close(m->s, CHAT_WS_CLOSE_INTERNAL, "storage unavailable");
        chat_member_release(m);
        return;
    }
    if (!strcmp(status, "toomany")) {
        char msg[64];
        apr_snprintf(msg, sizeof(msg), "at most %d connections per user", m->lim->max_conns);
        chat_member_error(m, "too_many_connections", msg);
        chat_ws_session_close(m->s, CHAT_WS_CLOSE_POLICY, "too many connections");
        chat_member_release(m);
        return;
    }
    if (!strcmp(status, "inactive") || !strcmp(status, "denied")) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, ap_server_conf, "chat: %s refused in room %s: %s",
                     m->username, m->room_name,
                     *status == 'i' ? "room is not active" : "not a member");
        chat_member_debug(m, "refused", *status == 'i' ? "room is not active" : "not a member");
        chat_member_refuse(m, *status == 'i' ? "this room is not active"
                                             : "you are not a member of this room");
        chat_member_release(m);
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
        int count = (int)reply_int(reply, 8);

        if (!epoch || !history || !users || !mode || !replay) {
            chat_member_error(m, "internal", "unexpected reply from storage");
            chat_ws_session_close(m->s, CHAT_WS_CLOSE_INTERNAL, "storage error");
            apr_pool_destroy(p);
            chat_member_release(m);
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
                         chat_json_quote(p, m->room_name), history, more ? "true" : "false", count,
                         seq, chat_json_quote(p, epoch)));
        /* the joiner's own list now, not whenever its join event comes back */
        chat_member_send(m, "user_list_update",
                         apr_psprintf(p, "{\"users\":%s,\"userCount\":%d}", users, count));
        if (!strcmp(mode, "replay")) {
            m->last_seq = m->since;
            chat_fanout_send_messages(m, replay);
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
        chat_fanout_presence_welcomed(m); /* older news is in its welcome */
        m->joined = 1;
        if (m->room) {
            chat_fanout_send_recent(m->room, m);
        }
        /* the script wrote the debug log's entry; this is httpd's log line */
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ap_server_conf, "chat: room %s: join %s (%s)",
                     m->room_name, m->username, mode);
        chat_member_replay_early(m); /* what it sent before the welcome */
    }
    apr_pool_destroy(p);
    chat_member_release(m);
}

void chat_join_run(chat_member *m)
{
    chat_hub *hub = m->hub;
    apr_pool_t *p;
    const char *argv[23];
    char epoch[17];
    apr_time_t now = apr_time_now();

    apr_pool_create(&p, NULL);
    chat_store_new_epoch(epoch);
    argv[0] = "EVAL";
    argv[1] = chat_lua_join;
    argv[2] = "6";
    argv[3] = chat_store_key(p, hub->prefix, m->room_name, "members");
    argv[4] = chat_store_key(p, hub->prefix, m->room_name, "meta");
    argv[5] = chat_store_key(p, hub->prefix, m->room_name, "log");
    argv[6] = chat_store_key(p, hub->prefix, m->room_name, "presence");
    argv[7] = chat_store_key(p, hub->prefix, m->room_name, "sessions");
    argv[8] = chat_store_key(p, hub->prefix, m->room_name, "debug");
    argv[9] = m->username;
    argv[10] = m->entry;
    argv[11] = apr_psprintf(p, "%" APR_TIME_T_FMT, apr_time_as_msec(now + hub->presence_ttl));
    argv[12] = apr_psprintf(p, "%" APR_TIME_T_FMT, apr_time_as_msec(now));
    argv[13] = m->has_since ? apr_psprintf(p, "%" APR_UINT64_T_FMT, m->since) : "-1";
    argv[14] = m->epoch_hint;
    argv[15] = "20";
    argv[16] = epoch;
    argv[17] = chat_store_channel(p, hub->prefix, m->room_name);
    argv[18] = hub->prefix;
    argv[19] = apr_itoa(p, m->lim->max_conns);
    argv[20] = chat_presence_record(m, now, p); /* the admin page's, in the same round trip */
    argv[21] = apr_itoa(p, chat_settings_debug_cap(m->sc)); /* and the debug log's "join" */
    argv[22] = hub->node;
    chat_member_hold(m);
    if (chat_redis_command(hub->cmd, on_join_reply, m, 23, argv, NULL) != 0) {
        chat_member_release(m);
        chat_member_error(m, "unavailable", "chat storage unavailable, try again");
        chat_ws_session_close(m->s, CHAT_WS_CLOSE_INTERNAL, "storage unavailable");
    }
    apr_pool_destroy(p);
}

/* After a Redis outage: read back what was published while we were away,
 * then the live messages that came meanwhile (a live one delivered first
 * would make the missed ones look old and drop them). */
/* The seq of a stored message array's first (i = 0) or last (i = -1) entry. */
static apr_uint64_t messages_seq(json_object *arr, int i)
{
    json_object *seq;
    size_t n = json_object_array_length(arr);

    if (!n || !json_object_object_get_ex(json_object_array_get_idx(arr, i < 0 ? n - 1 : (size_t)i),
                                         "seq", &seq)) {
        return 0;
    }
    return (apr_uint64_t)json_object_get_int64(seq);
}

/* Does the newest page (msgs, oldest first) start after what m has + 1? */
static int catchup_gap(chat_member *m, const char *msgs)
{
    json_object *arr = json_tokener_parse(msgs);
    int gap =
        arr && json_object_is_type(arr, json_type_array) && messages_seq(arr, 0) > m->last_seq + 1;

    json_object_put(arr);
    return gap;
}

/* history_reset with the newest page: m's view starts again from there. */
static void catchup_reset(chat_member *m, const char *msgs)
{
    json_object *arr = json_tokener_parse(msgs);
    apr_uint64_t newest = arr ? messages_seq(arr, -1) : 0;
    apr_pool_t *p;

    json_object_put(arr);
    apr_pool_create(&p, NULL);
    chat_member_send(m, "history_reset",
                     apr_psprintf(p, "{\"epoch\":%s,\"seq\":%" APR_UINT64_T_FMT ",\"history\":%s}",
                                  chat_json_quote(p, m->epoch), newest, msgs));
    apr_pool_destroy(p);
    chat_member_debug(m, "reset", "missed more than one catch-up page");
    if (newest > m->last_seq) {
        m->last_seq = newest;
    }
}

static void on_catchup_reply(chat_redis *rc, redisReply *reply, void *data)
{
    chat_member *m = data;
    const char *msgs = reply_str(reply, 0);

    (void)rc;
    if (!reply && m->room) {
        m->catching_up = 0;         /* the retry marks it again */
        m->room->needs_catchup = 1; /* Redis lost again: read back when it returns */
    }
    else if (m->catching_up) {
        m->catching_up = 0;
        if (m->s && m->joined && msgs && reply_int(reply, 1) && catchup_gap(m, msgs)) {
            /* more was missed than one page holds: say so (the client reloads,
             * as after a long reconnect) rather than leave a silent hole */
            catchup_reset(m, msgs);
        }
        else if (m->s && m->joined && msgs) {
            chat_fanout_send_messages(m, msgs);
        }
        if (m->s && m->joined && m->room) {
            chat_fanout_send_recent(m->room, m);
        }
    }
    chat_member_release(m);
}

/* The room's epoch, read ahead of its catch-up: members that missed a reset
 * or a failover while the subscriber was away start their view again (the
 * catch-up page then comes in full) instead of keeping a silent gap. */
static void on_catchup_epoch(chat_redis *rc, redisReply *reply, void *data)
{
    char *name = data, ev[96];
    chat_hub *hub = *(chat_hub **)name;
    chat_room *room = apr_hash_get(hub->rooms, name + sizeof(hub), APR_HASH_KEY_STRING);
    chat_member *m;

    (void)rc;
    for (m = room ? room->members : NULL;
         m && reply && reply->type == REDIS_REPLY_STRING && reply->len < 40; m = m->next) {
        if (m->joined && strcmp(m->epoch, reply->str)) {
            apr_snprintf(ev, sizeof(ev), "{\"epoch\":\"%s\",\"seq\":0,\"history\":[]}", reply->str);
            chat_member_send(m, "history_reset", ev);
            apr_cpystrn(m->epoch, reply->str, sizeof(m->epoch));
            m->last_seq = 0;
        }
    }
    free(name);
}

void chat_join_catchup(chat_room *room)
{
    chat_hub *hub = room->hub;
    chat_member *m;
    apr_pool_t *p;
    char *held = malloc(sizeof(hub) + strlen(room->name) + 1);

    room->needs_catchup = 0;
    apr_pool_create(&p, NULL);
    if (held) {
        const char *argv[3] = {"HGET", chat_store_key(p, hub->prefix, room->name, "meta"), "epoch"};
        memcpy(held, &hub, sizeof(hub));
        strcpy(held + sizeof(hub), room->name);
        if (chat_redis_command(hub->cmd, on_catchup_epoch, held, 3, argv, NULL) != 0) {
            free(held);
        }
    }
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
        chat_member_hold(m);
        m->catching_up = 1;
        if (chat_redis_command(hub->cmd, on_catchup_reply, m, 6, argv, NULL) != 0) {
            m->catching_up = 0;
            chat_member_release(m);
            room->needs_catchup = 1;
        }
    }
    apr_pool_destroy(p);
}
