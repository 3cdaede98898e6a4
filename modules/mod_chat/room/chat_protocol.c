/* Client -> server messages of the chat protocol (SPEC "WebSocket protocol"):
 * validate, then store or forward through Redis. Replies that only concern
 * the sender (errors, history pages) go straight back; everything else
 * returns through the room's channel so every server sees the same order. */
#include <httpd.h>
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <json-c/json.h>

#include "chat_hub.h"
#include "chat_identity.h"
#include "chat_member.h"
#include "chat_protocol.h"
#include "chat_sentinel.h"
#include "chat_store.h"
#include "chat_util.h"

#define FILENAME_MAX_LEN 255
#define URL_MAX_LEN      2048

static const char *get_str(json_object *o, const char *key)
{
    json_object *v;

    return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static int get_int(json_object *o, const char *key, apr_int64_t *out)
{
    json_object *v;

    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int)) {
        return 0;
    }
    *out = json_object_get_int64(v);
    return 1;
}

static apr_size_t utf8_chars(const char *s)
{
    apr_size_t n = 0;

    for (; *s; s++) {
        if (((unsigned char)*s & 0xC0) != 0x80) {
            n++;
        }
    }
    return n;
}

/* Only this server's paths and http(s) URLs may become src/href in a page. */
/* Media a message may point at: this location's uploads (ChatUploadURL) or
 * a ChatMediaAllow prefix; never another site, a script URL or a way out of
 * the prefix. */
static int url_safe(const chat_member *m, const char *u)
{
    apr_size_t n;
    int i;

    const char *c;

    if (!u || !*u || strlen(u) > URL_MAX_LEN || strstr(u, "..") || strchr(u, '\\')) {
        return 0;
    }
    for (c = u; *c; c++) {
        /* browsers drop tabs and newlines and decode %2e, %2f, %5c: each
         * could make a way out of the prefix */
        if ((unsigned char)*c <= 0x20 || *c == 0x7f ||
            (*c == '%' && (!strncasecmp(c, "%2e", 3) || !strncasecmp(c, "%2f", 3) ||
                           !strncasecmp(c, "%5c", 3)))) {
            return 0;
        }
    }
    n = strlen(m->lim->upload_url);
    if (!strncmp(u, m->lim->upload_url, n) && u[n] == '/' && u[n + 1] && u[n + 1] != '/') {
        return 1;
    }
    for (i = 0; m->lim->media_allow && i < m->lim->media_allow->nelts; i++) {
        const char *prefix = APR_ARRAY_IDX(m->lim->media_allow, i, const char *);
        if (!strncasecmp(u, prefix, strlen(prefix)) && u[strlen(prefix)]) {
            return 1;
        }
    }
    return 0;
}

static int blank(const char *s)
{
    for (; *s; s++) {
        if (!apr_isspace(*s)) {
            return 0;
        }
    }
    return 1;
}

/* A message id or seq as the store writes them: 1 to 19 digits. */
static int id_valid(const char *id)
{
    const char *c;

    for (c = id; c && apr_isdigit(*c); c++) {
    }
    return id && *id && !*c && c - id <= 19;
}

/* An id field of payload as a string: NULL when absent (or null), "" when
 * present but no number or string. */
static const char *id_field(json_object *payload, const char *key, apr_pool_t *p)
{
    json_object *v;
    apr_int64_t n;

    if (!json_object_object_get_ex(payload, key, &v) || !v) {
        return NULL;
    }
    if (get_int(payload, key, &n)) {
        return n > 0 ? apr_psprintf(p, "%" APR_INT64_T_FMT, n) : "";
    }
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

/* replyTo (and the original's seq, when not its id: an AI answer) for the
 * post script ("" = no reply); 0 after answering a bad one. */
static int reply_args(chat_member *m, json_object *payload, apr_pool_t *p, const char **id,
                      const char **seq)
{
    *id = id_field(payload, "replyTo", p);
    *seq = id_field(payload, "replySeq", p);
    if (!*id && !*seq) {
        *id = *seq = "";
        return 1;
    }
    if (!*seq) {
        *seq = *id;
    }
    if (!id_valid(*id) || !id_valid(*seq)) {
        chat_member_error(m, "invalid", "replyTo must be a message id (digits)");
        return 0;
    }
    return 1;
}

static void on_post_reply(chat_redis *rc, redisReply *reply, void *data)
{
    chat_member *m = data;

    (void)rc;
    if (m->s && reply && reply->type == REDIS_REPLY_STRING && !strcmp(reply->str, "not_found")) {
        chat_member_error(m, "not_found", "the message replied to is not in the room's history");
    }
    else if (m->s && (!reply || reply->type == REDIS_REPLY_ERROR)) {
        chat_member_error(m, "not_stored",
                          reply ? "message not stored: storage error"
                                : "message not stored: chat storage unavailable");
    }
    chat_member_release(m);
}

/* ChatRedisWaitReplicas: a post stored unpublished, then WAIT, then published
 * or taken back (chat_sentinel.h); one malloc'd block for the whole chain. */
typedef struct held_post {
    chat_member *m;
    int step; /* 0: stored?, 4: ROLE answered, 1: WAIT answered, 2: published or taken back */
    int replicas;
    int timeout;
    const char *post[13];
    char seq[32];
} held_post;

static void on_held(chat_redis *rc, redisReply *reply, void *data)
{
    held_post *h = data;
    const char *argv[7], *why = NULL;
    char n[16], ms[16];
    int ok;

    if (h->step == 0 && !(reply && reply->type == REDIS_REPLY_ARRAY && reply->elements &&
                          reply->element[0]->type == REDIS_REPLY_INTEGER)) {
        on_post_reply(rc, reply, h->m); /* not stored: as without WAIT */
        free(h);
        return;
    }
    if (!reply || (reply->type == REDIS_REPLY_ERROR && h->step != 4)) {
        why = "message not confirmed: chat storage unavailable, try again";
    }
    else if (h->step == 0) {
        /* how many replicas the primary has: a primary left alone after a
         * failover has none to wait for (a ROLE refused: wait for them all) */
        apr_snprintf(h->seq, sizeof(h->seq), "%" APR_INT64_T_FMT,
                     (apr_int64_t)reply->element[0]->integer);
        argv[0] = "ROLE";
        h->step = 4;
        if (chat_redis_command(rc, on_held, h, 1, argv, NULL) == 0) {
            return;
        }
        why = "message not confirmed: chat storage unavailable, try again";
    }
    else if (h->step == 4 && !(h->replicas = chat_sentinel_wait_count(reply, h->replicas))) {
        chat_sentinel_held_args(argv, h->post, h->seq, 1);
        h->step = 3;
        if (chat_redis_command(rc, on_held, h, 7, argv, NULL) == 0) {
            return;
        }
        why = "message not confirmed: chat storage unavailable, try again";
    }
    else if (h->step == 4) {
        apr_snprintf(n, sizeof(n), "%d", h->replicas);
        apr_snprintf(ms, sizeof(ms), "%d", h->timeout);
        argv[0] = "WAIT";
        argv[1] = n;
        argv[2] = ms;
        h->step = 1;
        if (chat_redis_command(rc, on_held, h, 3, argv, NULL) == 0) {
            return;
        }
        why = "message not confirmed: chat storage unavailable, try again";
    }
    else if (h->step == 1) {
        ok = reply->type == REDIS_REPLY_INTEGER && reply->integer >= h->replicas;
        chat_sentinel_held_args(argv, h->post, h->seq, ok);
        h->step = ok ? 3 : 2;
        if (chat_redis_command(rc, on_held, h, ok ? 7 : 6, argv, NULL) == 0) {
            return;
        }
        why = ok ? NULL : "message not confirmed by the Redis replicas in time, try again";
    }
    else if (h->step == 2 && reply->type == REDIS_REPLY_INTEGER && reply->integer == 1) {
        why = "message not confirmed by the Redis replicas in time, try again"; /* taken back */
    }
    if (why && h->m->s) {
        chat_member_error(h->m, "unavailable", why);
    }
    chat_member_release(h->m);
    free(h);
}

/* Send a post (all: its chat_lua_post arguments) held back until replicas
 * confirm it; m is held by the caller, released at the end of the chain;
 * -1 when it could not be sent. */
static int post_held(chat_member *m, const char **all, int replicas, int timeout)
{
    apr_size_t len[13], total = 0;
    const char *channel;
    held_post *h;
    char *at;
    int i;

    for (i = 3; i < 13; i++) {
        total += (len[i] = strlen(all[i]) + 1);
    }
    if (!(h = calloc(1, sizeof(*h) + total))) {
        return -1;
    }
    at = (char *)(h + 1);
    for (i = 0; i < 13; i++) {
        h->post[i] = all[i];
        if (i >= 3) {
            h->post[i] = memcpy(at, all[i], len[i]);
            at += len[i];
        }
    }
    h->m = m;
    h->replicas = replicas;
    h->timeout = timeout;
    channel = h->post[5]; /* (copied) for the publication */
    h->post[5] = CHAT_SENTINEL_HELD;
    if (chat_redis_command(chat_hub_cmd(m->hub), on_held, h, 13, h->post, NULL) != 0) {
        free(h);
        return -1;
    }
    h->post[5] = channel;
    return 0;
}

static int bot_by_alias(chat_member *m, const char *text, apr_pool_t *p);

static void handle_chat(chat_member *m, json_object *payload, apr_pool_t *p)
{
    const char *kind = get_str(payload, "type");
    json_object *body;
    const char *argv[10], *reply_id, *reply_seq;
    char epoch[17];
    apr_int64_t size = 0;

    if (!kind) {
        kind = "text";
    }
    if (!reply_args(m, payload, p, &reply_id, &reply_seq)) {
        return;
    }
    body = json_object_new_object();
    json_object_object_add(body, "username", json_object_new_string(m->username));
    json_object_object_add(body, "timestamp",
                           json_object_new_int64(apr_time_as_msec(apr_time_now())));
    json_object_object_add(body, "type", json_object_new_string(kind));
    if (!strcmp(kind, "text")) {
        const char *text = get_str(payload, "text");
        if (text && *text == '@' && bot_by_alias(m, text, p)) {
            goto out; /* "@d question": asked as deepseek_chat */
        }
        if (!text || blank(text)) {
            chat_member_error(m, "invalid", "a text message needs non-empty text");
            goto out;
        }
        if (utf8_chars(text) > (apr_size_t)m->lim->max_text) {
            chat_member_error(m, "too_long",
                              apr_psprintf(p, "text longer than %d characters", m->lim->max_text));
            goto out;
        }
        json_object_object_add(body, "text", json_object_new_string(text));
    }
    else if (!strcmp(kind, "image") || !strcmp(kind, "audio")) {
        const char *key = *kind == 'i' ? "imageUrl" : "audioUrl";
        const char *url = get_str(payload, key);
        const char *filename = get_str(payload, "filename");
        const char *caption = get_str(payload, "caption");
        if (!url_safe(m, url)) {
            chat_member_error(
                m, "invalid",
                apr_psprintf(p,
                             "%s must be one of this server's uploads (%s/...) or under a "
                             "ChatMediaAllow prefix",
                             key, m->lim->upload_url));
            goto out;
        }
        if (filename && strlen(filename) > FILENAME_MAX_LEN) {
            chat_member_error(m, "invalid", "filename too long");
            goto out;
        }
        if (caption && utf8_chars(caption) > (apr_size_t)m->lim->max_text) {
            chat_member_error(m, "too_long", "caption too long");
            goto out;
        }
        json_object_object_add(body, "text", json_object_new_string(caption ? caption : ""));
        json_object_object_add(body, key, json_object_new_string(url));
        if (filename) {
            json_object_object_add(body, "filename", json_object_new_string(filename));
        }
        if (get_int(payload, "size", &size) && size >= 0) {
            json_object_object_add(body, "size", json_object_new_int64(size));
        }
        if (caption && *kind == 'i') {
            json_object_object_add(body, "caption", json_object_new_string(caption));
        }
    }
    else {
        chat_member_error(m, "invalid", "chat type must be text, image or audio");
        goto out;
    }

    /* only valid messages spend the sender's allowance */
    if (!chat_hub_rate_take(m->hub, m->username, m->lim->rate, m->lim->burst)) {
        chat_member_error(
            m, "rate_limited",
            apr_psprintf(p, "too many messages: at most %d per second", m->lim->rate));
        goto out;
    }
    chat_store_new_epoch(epoch);
    argv[0] = "EVAL";
    argv[1] = chat_lua_post;
    argv[2] = "2";
    argv[3] = chat_store_key(p, chat_hub_prefix(m->hub), m->room_name, "meta");
    argv[4] = chat_store_key(p, chat_hub_prefix(m->hub), m->room_name, "log");
    argv[5] = chat_store_channel(p, chat_hub_prefix(m->hub), m->room_name);
    argv[6] = apr_itoa(p, m->lim->history_size);
    argv[7] = apr_pstrdup(p, json_object_to_json_string_ext(
                                 body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    argv[8] = m->username;
    argv[9] = epoch;
    {
        const char *all[13];
        int timeout, replicas = chat_settings_wait_replicas(m->hub->sc, &timeout), rv;
        memcpy(all, argv, sizeof(argv));
        all[10] = apr_psprintf(p, "%" APR_TIME_T_FMT, apr_time_as_msec(apr_time_now()));
        all[11] = reply_id;
        all[12] = reply_seq;
        chat_hub_count_post(m->hub);
        chat_member_hold(m);
        rv = replicas ? post_held(m, all, replicas, timeout)
                      : chat_redis_command(chat_hub_cmd(m->hub), on_post_reply, m, 13, all, NULL);
        if (rv != 0) {
            chat_member_release(m);
            chat_member_error(m, "unavailable",
                              "message not stored: chat storage unavailable, try again");
        }
    }
out:
    json_object_put(body);
}

static void on_delete_reply(chat_redis *rc, redisReply *reply, void *data)
{
    chat_member *m = data;

    (void)rc;
    if (m->s) {
        if (!reply || reply->type == REDIS_REPLY_ERROR) {
            chat_member_error(m, "unavailable", "not deleted: chat storage unavailable");
        }
        else if (reply->type == REDIS_REPLY_STATUS || reply->type == REDIS_REPLY_STRING) {
            if (!strcmp(reply->str, "notfound")) {
                chat_member_error(m, "not_found", "no such message");
            }
            else if (!strcmp(reply->str, "forbidden")) {
                chat_member_error(m, "forbidden", "you can only delete your own messages");
            }
            else {
                chat_member_debug(m, "delete", NULL);
            }
        }
    }
    chat_member_release(m);
}

static void handle_delete(chat_member *m, json_object *payload, apr_pool_t *p)
{
    const char *id = get_str(payload, "messageId");
    apr_int64_t num;
    const char *argv[7];

    if (!id && get_int(payload, "messageId", &num) && num > 0) {
        id = apr_psprintf(p, "%" APR_INT64_T_FMT, num);
    }
    if (!id_valid(id)) {
        chat_member_error(m, "not_found", "no such message");
        return;
    }
    argv[0] = "EVAL";
    argv[1] = chat_lua_delete;
    argv[2] = "1";
    argv[3] = chat_store_key(p, chat_hub_prefix(m->hub), m->room_name, "log");
    argv[4] = id;
    argv[5] = m->username;
    argv[6] = chat_store_channel(p, chat_hub_prefix(m->hub), m->room_name);
    chat_member_hold(m);
    if (chat_redis_command(chat_hub_cmd(m->hub), on_delete_reply, m, 7, argv, NULL) != 0) {
        chat_member_release(m);
        chat_member_error(m, "unavailable", "not deleted: chat storage unavailable");
    }
}

static void on_history_reply(chat_redis *rc, redisReply *reply, void *data)
{
    chat_member *m = data;

    (void)rc;
    if (m->s) {
        if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
            reply->element[0]->type == REDIS_REPLY_STRING) {
            apr_pool_t *p;
            apr_pool_create(&p, NULL);
            chat_member_send(m, "history",
                             apr_psprintf(p, "{\"messages\":%s,\"hasMore\":%s}",
                                          reply->element[0]->str,
                                          reply->element[1]->integer ? "true" : "false"));
            apr_pool_destroy(p);
        }
        else {
            chat_member_error(m, "unavailable", "history unavailable: chat storage error");
        }
    }
    chat_member_release(m);
}

static void handle_history(chat_member *m, json_object *payload, apr_pool_t *p)
{
    apr_int64_t before = 0, limit = 20;
    const char *argv[6];

    if (get_int(payload, "beforeSeq", &before) && before < 0) {
        before = 0;
    }
    if (get_int(payload, "limit", &limit)) {
        if (limit < 1) {
            limit = 1;
        }
        if (limit > 100) {
            limit = 100;
        }
    }
    argv[0] = "EVAL";
    argv[1] = chat_lua_history;
    argv[2] = "1";
    argv[3] = chat_store_key(p, chat_hub_prefix(m->hub), m->room_name, "log");
    argv[4] = apr_psprintf(p, "%" APR_INT64_T_FMT, before);
    argv[5] = apr_psprintf(p, "%" APR_INT64_T_FMT, limit);
    chat_member_hold(m);
    if (chat_redis_command(chat_hub_cmd(m->hub), on_history_reply, m, 6, argv, NULL) != 0) {
        chat_member_release(m);
        chat_member_error(m, "unavailable", "history unavailable: chat storage unavailable");
    }
}

#define SEARCH_MAX_QUERY   100 /* characters */
#define SEARCH_MAX_RESULTS 50

/* The search script's answer, to a member whose socket is still open. */
static void search_answer(chat_member *m, const redisReply *reply)
{
    redisReply **e = reply && reply->type == REDIS_REPLY_ARRAY ? reply->element : NULL;
    const char *kind =
        e && reply->elements >= 1 && e[0]->type == REDIS_REPLY_STRING ? e[0]->str : "";
    apr_pool_t *p;

    if (!strcmp(kind, "denied")) {
        chat_member_error(m, "forbidden", "only members of this room may search it");
        return;
    }
    apr_pool_create(&p, NULL);
    if (!strcmp(kind, "ok") && reply->elements == 4 && e[1]->type == REDIS_REPLY_STRING &&
        e[2]->type == REDIS_REPLY_INTEGER && e[3]->type == REDIS_REPLY_INTEGER) {
        /* partial: the scan stopped at ChatSearchScan messages, older ones unread */
        chat_member_send(m, "search_results",
                         apr_psprintf(p, "{\"messages\":%s,\"hasMore\":%s,\"partial\":%s}",
                                      e[1]->str, e[2]->integer ? "true" : "false",
                                      e[3]->integer ? "true" : "false"));
    }
    else if (!strcmp(kind, "limited") && reply->elements == 2 &&
             e[1]->type == REDIS_REPLY_INTEGER) {
        chat_member_error(m, "rate_limited",
                          apr_psprintf(p,
                                       "too many searches: at most %d a minute (ChatSearchRate); "
                                       "try again in %lld s",
                                       m->lim->search_rate, (e[1]->integer + 999) / 1000));
    }
    else {
        chat_member_error(m, "unavailable", "search unavailable: chat storage error");
    }
    apr_pool_destroy(p);
}

static void on_search_reply(chat_redis *rc, redisReply *reply, void *data)
{
    chat_member *m = data;

    (void)rc;
    if (m->s) {
        search_answer(m, reply);
    }
    chat_member_release(m);
}

/* search {query, limit?}: the room's kept history, newest first. The
 * script checks membership and the user's per-minute allowance in Redis, so
 * every server counts against one limit. */
static void handle_search(chat_member *m, json_object *payload, apr_pool_t *p)
{
    const char *query = get_str(payload, "query");
    apr_int64_t limit = 20;
    const char *argv[11];
    char *folded, *q;

    if (!query || blank(query) || utf8_chars(query) > SEARCH_MAX_QUERY) {
        chat_member_error(
            m, "invalid",
            apr_psprintf(p, "a search needs a query of 1 to %d characters", SEARCH_MAX_QUERY));
        return;
    }
    if (get_int(payload, "limit", &limit) && (limit < 1 || limit > SEARCH_MAX_RESULTS)) {
        chat_member_error(m, "invalid",
                          apr_psprintf(p, "limit must be 1 to %d", SEARCH_MAX_RESULTS));
        return;
    }
    for (q = folded = apr_pstrdup(p, query); *q; q++) {
        *q = (char)apr_tolower(*q); /* ASCII only, as the script folds */
    }
    argv[0] = "EVAL";
    argv[1] = chat_lua_search;
    argv[2] = "3";
    argv[3] = chat_store_key(p, chat_hub_prefix(m->hub), m->room_name, "log");
    argv[4] = chat_store_key(p, chat_hub_prefix(m->hub), m->room_name, "members");
    argv[5] = apr_pstrcat(p, chat_hub_prefix(m->hub), "user:", m->username, ":searches", NULL);
    argv[6] = m->username;
    argv[7] = folded;
    argv[8] = apr_psprintf(p, "%" APR_INT64_T_FMT, limit);
    argv[9] = apr_itoa(p, m->lim->search_rate);
    argv[10] = apr_itoa(p, m->lim->search_scan);
    chat_member_hold(m);
    if (chat_redis_command(chat_hub_cmd(m->hub), on_search_reply, m, 11, argv, NULL) != 0) {
        chat_member_release(m);
        chat_member_error(m, "unavailable", "search unavailable: chat storage unavailable");
    }
}

/* WebRTC signaling: forwarded to every session of target in the room, on any
 * server, with from added; never stored. */
static void handle_signal(chat_member *m, const char *type, json_object *payload)
{
    const char *target = get_str(payload, "target");
    json_object *ev, *copy = NULL;

    if (!target || !chat_username_valid(target)) {
        chat_member_error(m, "invalid", "signaling needs a target user name");
        return;
    }
    json_object_deep_copy(payload, &copy, NULL);
    json_object_object_add(copy, "from", json_object_new_string(m->username));
    ev = json_object_new_object();
    json_object_object_add(ev, "t", json_object_new_string("signal"));
    json_object_object_add(ev, "type", json_object_new_string(type));
    json_object_object_add(ev, "target", json_object_new_string(target));
    json_object_object_add(ev, "p", copy);
    chat_room_publish(m, json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(ev);
}

static const chat_protocol_bot *bot;

void chat_protocol_set_bot(const chat_protocol_bot *b)
{
    bot = b;
}

/* Ask bot NAME the question; text (the question, or all of "@d question")
 * is what the room stores as the user's message. */
static void ask_bot(chat_member *m, const char *name, const char *question, const char *text,
                    apr_pool_t *p)
{
    const char *err;

    if (!bot || !bot->known(m->sc, name)) {
        chat_member_error(
            m, "ai_unavailable",
            apr_psprintf(p, "AI is not configured on this server (no ChatAIProvider %s)", name));
        return;
    }
    if (!question || blank(question)) {
        chat_member_error(m, "invalid", "an AI question needs non-empty text");
        return;
    }
    if (utf8_chars(text) > (apr_size_t)m->lim->max_text) {
        chat_member_error(m, "too_long",
                          apr_psprintf(p, "text longer than %d characters", m->lim->max_text));
        return;
    }
    if ((err = bot->ask(m->sc, name, m->room_name, m->username, text, m->lim->history_size))) {
        chat_member_error(m, "ai_unavailable", err);
    }
}

/* NAME_chat {text}: ask bot NAME in the room (gemini_chat, deepseek_chat). */
static void handle_bot(chat_member *m, const char *name, json_object *payload, apr_pool_t *p)
{
    ask_bot(m, name, get_str(payload, "text"), get_str(payload, "text"), p);
}

/* What a message costs of its connection's ChatMessageBudget: reading
 * history and deleting cost Redis more than a post; a signal is published to
 * every server, so its size counts; a bad message costs what a post does. */
#define COST_CHAT      1.0
#define COST_DELETE    2.0
#define COST_HISTORY   5.0
#define COST_SEARCH    5.0
#define COST_BOT       5.0
#define COST_HEARTBEAT 0.2
#define COST_BAD       1.0

/* "@alias question" (text starts with '@'): 1 when alias names a bot, which
 * is then asked as NAME_chat would; 0 for any other "@word" (a mention). */
static int bot_by_alias(chat_member *m, const char *text, apr_pool_t *p)
{
    apr_size_t n = 1;
    const char *name;

    while (text[n] && !apr_isspace(text[n])) {
        n++;
    }
    if (n == 1 || !text[n] || !bot || !bot->alias || !(name = bot->alias(m->sc, text + 1, n - 1))) {
        return 0;
    }
    /* a question costs what NAME_chat does; the post's share is taken */
    if (chat_member_budget_take(m, COST_BOT - COST_CHAT)) {
        ask_bot(m, name, text + n, text, p);
    }
    return 1;
}

static double signal_cost(apr_size_t len)
{
    return 1.0 + (double)len / 1024;
}

void chat_protocol_handle(chat_member *m, const char *data, apr_size_t len)
{
    json_tokener *tok;
    json_object *msg, *payload = NULL;
    const char *type;
    apr_pool_t *p;

    if (!m->joined) {
        if (chat_member_hold_early(m, data, len, chat_protocol_handle)) {
            return; /* handled after the welcome */
        }
        if (chat_member_budget_take(m, COST_BAD)) {
            chat_member_error(m, "not_joined", "wait for the welcome message before sending");
        }
        return;
    }
    tok = json_tokener_new();
    msg = json_tokener_parse_ex(tok, data, (int)len);
    if (!msg || json_tokener_get_error(tok) != json_tokener_success ||
        tok->char_offset != (int)len) {
        json_tokener_free(tok);
        json_object_put(msg);
        if (chat_member_budget_take(m, COST_BAD)) {
            chat_member_error(m, "malformed", "not a JSON message");
        }
        return;
    }
    json_tokener_free(tok);
    if (!json_object_is_type(msg, json_type_object) || !(type = get_str(msg, "type"))) {
        json_object_put(msg);
        if (chat_member_budget_take(m, COST_BAD)) {
            chat_member_error(m, "malformed", "a message is {\"type\": ..., \"payload\": {...}}");
        }
        return;
    }
    json_object_object_get_ex(msg, "payload", &payload);
    if (payload && !json_object_is_type(payload, json_type_object)) {
        json_object_put(msg);
        if (chat_member_budget_take(m, COST_BAD)) {
            chat_member_error(m, "malformed", "payload must be an object");
        }
        return;
    }
    apr_pool_create(&p, NULL);
    if (!payload) {
        payload = json_object_new_object();
        json_object_object_add(msg, "payload", payload);
    }
    if (!strcmp(type, "chat")) {
        if (chat_member_budget_take(m, COST_CHAT)) {
            handle_chat(m, payload, p);
        }
    }
    else if (!strcmp(type, "delete")) {
        if (chat_member_budget_take(m, COST_DELETE)) {
            handle_delete(m, payload, p);
        }
    }
    else if (!strcmp(type, "history")) {
        if (chat_member_budget_take(m, COST_HISTORY)) {
            handle_history(m, payload, p);
        }
    }
    else if (!strcmp(type, "search")) {
        if (chat_member_budget_take(m, COST_SEARCH)) {
            handle_search(m, payload, p);
        }
    }
    else if (!strcmp(type, "heartbeat")) {
        /* receiving it already refreshed the idle timer */
        chat_member_budget_take(m, COST_HEARTBEAT);
    }
    else if (!strcmp(type, "offer") || !strcmp(type, "answer") || !strcmp(type, "candidate") ||
             !strcmp(type, "call_end")) {
        if (len > m->lim->max_signal) {
            /* published to every server: keep it far below Redis's pub/sub
             * output-buffer limits */
            if (chat_member_budget_take(m, COST_BAD)) {
                chat_member_error(m, "too_large",
                                  apr_psprintf(p,
                                               "signaling message larger than %" APR_SIZE_T_FMT
                                               " bytes (ChatMaxSignalSize)",
                                               m->lim->max_signal));
            }
        }
        else if (chat_member_budget_take(m, signal_cost(len))) {
            handle_signal(m, type, payload);
        }
    }
    else if (strlen(type) > 5 && !strcmp(type + strlen(type) - 5, "_chat")) {
        if (chat_member_budget_take(m, COST_BOT)) {
            handle_bot(m, apr_pstrndup(p, type, strlen(type) - 5), payload, p);
        }
    }
    else if (chat_member_budget_take(m, COST_BAD)) {
        chat_member_error(m, "unknown_type", apr_psprintf(p, "unknown message type '%s'", type));
    }
    apr_pool_destroy(p);
    json_object_put(msg);
}
