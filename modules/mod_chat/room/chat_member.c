/* One chat connection: see chat_member.h. */
#include <httpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <http_config.h>
#include <http_log.h>
#include <http_main.h>
#include <json-c/json.h>

#include "chat_identity.h"
#include "chat_member.h"
#include "chat_store.h"
#include "chat_util.h"

APLOG_USE_MODULE(chat);

/* Debug-log writes a connection may cause: one a second, ten at once. A
 * client cannot turn its errors into a stream of Redis writes. */
#define DEBUG_RATE  1.0
#define DEBUG_BURST 10.0

/* Refill a token bucket of rate per second up to burst; 1 when cost fits. */
static int bucket_take(double *tokens, apr_time_t *at, double rate, double burst, double cost)
{
    apr_time_t now = apr_time_now();

    *tokens += (double)(now - *at) * rate / APR_USEC_PER_SEC;
    if (*tokens > burst) {
        *tokens = burst;
    }
    *at = now;
    if (*tokens < cost) {
        return 0;
    }
    *tokens -= cost;
    return 1;
}

/* username, room and epoch hint in one block at m->username; 0, or -1 when
 * out of memory. */
static int member_names(chat_member *m, const char *username, const char *room, const char *hint)
{
    apr_size_t ul = strlen(username) + 1, rl = strlen(room) + 1, hl = strlen(hint) + 1;
    char *block = malloc(ul + rl + hl);

    if (!block) {
        return -1;
    }
    memcpy(block, username, ul);
    memcpy(block + ul, room, rl);
    memcpy(block + ul + rl, hint, hl);
    m->username = block;
    m->room_name = block + ul;
    m->epoch_hint = block + ul + rl;
    return 0;
}

/* The location's limits, one shared copy per distinct value. */
static const chat_room_limits *member_limits(const chat_dir_conf *dc)
{
    chat_room_limits lim;

    memset(&lim, 0, sizeof(lim));
    chat_settings_room_limits(dc, &lim);
    return chat_ws_intern(&lim, sizeof(lim));
}

chat_member *chat_member_create(request_rec *r, const char *room, const char *username)
{
    chat_member *m = calloc(1, sizeof(*m));
    const char *since, *epoch;
    char hint[sizeof(m->epoch)] = "";

    if (!m) {
        return NULL;
    }
    since = chat_query_param(r->pool, r->args, "since");
    epoch = chat_query_param(r->pool, r->args, "epoch");
    if (since && apr_isdigit(*since)) {
        m->has_since = 1;
        m->since = (apr_uint64_t)apr_atoi64(since);
        apr_cpystrn(hint, epoch ? epoch : "", sizeof(hint));
    }
    m->sc = ap_get_module_config(r->server->module_config, &chat_module);
    m->lim = member_limits(ap_get_module_config(r->per_dir_config, &chat_module));
    if (!m->lim || member_names(m, username, room, hint) != 0) {
        free(m);
        return NULL;
    }
    m->budget = m->lim->budget_burst;
    m->budget_at = m->debug_at = m->strikes_at = apr_time_now();
    m->debug_tokens = DEBUG_BURST;
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
    while (m->early && m->early->head) {
        chat_early_msg *e = m->early->head;
        m->early->head = e->next;
        free(e);
    }
    free(m->early);
    free(m->username); /* with room_name and epoch_hint */
    free(m->entry);
    free(m->marker);
    free(m);
}

chat_outbuf *chat_member_frame(const char *type, const char *payload_json)
{
    apr_size_t len = strlen(type) + strlen(payload_json) + 32;
    char *text = malloc(len);
    chat_outbuf *b;

    if (!text) {
        return NULL;
    }
    len =
        (apr_size_t)apr_snprintf(text, len, "{\"type\":\"%s\",\"payload\":%s}", type, payload_json);
    b = chat_outbuf_frame(CHAT_WS_OP_TEXT, text, len);
    free(text);
    return b;
}

void chat_member_send(chat_member *m, const char *type, const char *payload_json)
{
    chat_outbuf *b;

    if (!m->s || m->s->state != CHAT_WS_OPEN || !(b = chat_member_frame(type, payload_json))) {
        return;
    }
    chat_ws_session_send(m->s, b);
    chat_outbuf_release(b);
}

/* One event in the room's debug log (chat_lua_debug), readable through the
 * admin API; LogLevel chat:debug puts it in the error log too. */
void chat_member_debug(chat_member *m, const char *event, const char *detail)
{
    int cap = chat_settings_debug_cap(m->sc);
    const char *argv[6];
    apr_pool_t *p;

    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ap_server_conf, "chat: room %s: %s %s%s%s",
                 m->room_name, event, m->username, detail ? ": " : "", detail ? detail : "");
    if (!cap || !m->hub || !chat_redis_is_up(m->hub->cmd) ||
        !bucket_take(&m->debug_tokens, &m->debug_at, DEBUG_RATE, DEBUG_BURST, 1.0)) {
        return;
    }
    apr_pool_create(&p, NULL);
    chat_store_debug_args(p, argv, m->hub->prefix, m->room_name, cap, event, m->username,
                          m->hub->node, detail);
    chat_redis_command(m->hub->cmd, NULL, NULL, 6, argv, NULL);
    apr_pool_destroy(p);
}

void chat_member_error(chat_member *m, const char *code, const char *message)
{
    apr_pool_t *p;

    apr_pool_create(&p, NULL);
    chat_member_send(m, "error",
                     apr_psprintf(p, "{\"message\":%s,\"code\":%s}", chat_json_quote(p, message),
                                  chat_json_quote(p, code)));
    chat_member_debug(m, "error", apr_pstrcat(p, code, ": ", message, NULL));
    apr_pool_destroy(p);
}

void chat_member_refuse(chat_member *m, const char *message)
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

int chat_member_budget_take(chat_member *m, double cost)
{
    double rate = m->lim->budget_rate, burst = m->lim->budget_burst;
    apr_time_t now;

    if (rate <= 0 || bucket_take(&m->budget, &m->budget_at, rate, burst, cost)) {
        return 1;
    }
    /* refusals decay at the budget's rate since the last one: a client that
     * keeps sending while out of budget piles them up past the burst and is
     * closed, one that was refused now and then is not */
    now = m->budget_at;
    m->strikes -= (double)(now - m->strikes_at) * rate / APR_USEC_PER_SEC;
    m->strikes = (m->strikes < 0 ? 0 : m->strikes) + 1;
    m->strikes_at = now;
    if (m->strikes > burst) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, ap_server_conf,
                     "chat: %s in room %s: ChatMessageBudget (%d per second, burst %d) kept "
                     "exceeded: closing with 1008",
                     m->username, m->room_name, m->lim->budget_rate, m->lim->budget_burst);
        chat_member_debug(m, "closed", "ChatMessageBudget kept exceeded");
        if (m->s) {
            chat_ws_session_close(m->s, CHAT_WS_CLOSE_POLICY, "message budget exceeded");
        }
        return 0;
    }
    if (now - m->refused_at >= apr_time_from_sec(1)) { /* one error a second is enough */
        m->refused_at = now;
        chat_member_error(m, "rate_limited", "too many messages: slow down");
    }
    return 0;
}

/* ---- live hand-over ----------------------------------------------------- */

int chat_member_movable(const chat_member *m)
{
    return m->joined && !m->catching_up && m->room && !m->parked;
}

void chat_member_save(const chat_member *m, chat_wire *w)
{
    apr_time_t now = apr_time_now();

    chat_wire_put_str(w, m->username);
    chat_wire_put_str(w, m->room_name);
    chat_wire_put_str(w, m->entry);
    chat_wire_put_str(w, m->epoch);
    chat_wire_put_u64(w, m->last_seq);
    chat_wire_put_f64(w, m->budget);
    chat_wire_put_f64(w, m->strikes);
    chat_wire_put_i64(w, now - m->budget_at);
    chat_wire_put_i64(w, now - m->strikes_at);
    chat_wire_put_i64(w, now - m->refused_at);
    chat_wire_put_i64(w, now - m->opened_at);
}

/* a time age ago, in this process; never in the future */
static apr_time_t member_since(apr_time_t now, apr_int64_t age)
{
    return age > 0 && age < now ? now - age : now;
}

chat_member *chat_member_load(const chat_srv_conf *sc, const chat_dir_conf *dc, chat_wire_reader *r,
                              const char *marker)
{
    char user[64 * 4 + 1], room[64 + 1]; /* chat_username_valid, chat_room_name_valid */
    char entry[64 * 4 + 1 + 96 + 24];    /* user, node (chat_hub's), session id */
    apr_time_t now = apr_time_now();
    chat_member *m = calloc(1, sizeof(*m));

    if (!m) {
        return NULL;
    }
    chat_wire_get_str(r, user, sizeof(user));
    chat_wire_get_str(r, room, sizeof(room));
    chat_wire_get_str(r, entry, sizeof(entry));
    chat_wire_get_str(r, m->epoch, sizeof(m->epoch));
    m->last_seq = chat_wire_get_u64(r);
    m->budget = chat_wire_get_f64(r);
    m->strikes = chat_wire_get_f64(r);
    m->budget_at = member_since(now, chat_wire_get_i64(r));
    m->strikes_at = member_since(now, chat_wire_get_i64(r));
    m->refused_at = member_since(now, chat_wire_get_i64(r));
    m->opened_at = member_since(now, chat_wire_get_i64(r));
    m->refs = 1;
    if (r->failed || !chat_username_valid(user) || !chat_room_name_valid(room) ||
        strncmp(entry, user, strlen(user)) || entry[strlen(user)] != '\n' ||
        !(m->lim = member_limits(dc)) || member_names(m, user, room, "") != 0 ||
        !(m->entry = strdup(entry)) || chat_member_set_marker(m, marker) != 0) {
        chat_member_release(m);
        return NULL;
    }
    m->sc = sc;
    /* what the old limits left, within the new ones */
    if (!(m->budget >= 0 && m->budget <= m->lim->budget_burst)) {
        m->budget = m->lim->budget_burst;
    }
    if (!(m->strikes >= 0 && m->strikes <= m->lim->budget_burst + 1)) {
        m->strikes = 0;
    }
    m->parked = 1;
    m->debug_tokens = DEBUG_BURST;
    m->debug_at = now;
    return m;
}

void chat_member_disown(chat_member *m)
{
    m->present = 0;
}

int chat_member_set_marker(chat_member *m, const char *marker)
{
    free(m->marker);
    m->marker = NULL;
    if (marker && !(m->marker = strdup(marker))) {
        return -1;
    }
    return 0;
}

void chat_member_set_entry(chat_member *m, const char *node, apr_uint64_t session_id)
{
    int len = snprintf(NULL, 0, "%s\n%s:%" APR_UINT64_T_FMT, m->username, node, session_id);

    free(m->entry);
    if (len < 0 || !(m->entry = malloc((apr_size_t)len + 1))) {
        m->entry = NULL;
        return;
    }
    snprintf(m->entry, (apr_size_t)len + 1, "%s\n%s:%" APR_UINT64_T_FMT, m->username, node,
             session_id);
}

/* A client may send before its welcome (its first frame with the upgrade
 * request); a few messages wait for the join, more are refused. */
#define EARLY_MAX_COUNT 8
#define EARLY_MAX_BYTES (64 * 1024)

int chat_member_hold_early(chat_member *m, const char *data, apr_size_t len,
                           void (*fn)(chat_member *m, const char *data, apr_size_t len))
{
    chat_early *q = m->early;
    chat_early_msg *e;

    if (!q && !(q = m->early = calloc(1, sizeof(*q)))) {
        return 0;
    }
    if (q->count >= EARLY_MAX_COUNT || q->bytes + len > EARLY_MAX_BYTES ||
        !(e = malloc(sizeof(*e) + len))) {
        return 0;
    }
    e->next = NULL;
    e->len = len;
    memcpy(e->data, data, len);
    if (q->tail) {
        q->tail->next = e;
    }
    else {
        q->head = e;
    }
    q->tail = e;
    q->count++;
    q->bytes += len;
    q->fn = fn;
    return 1;
}

void chat_member_replay_early(chat_member *m)
{
    chat_early *q = m->early;
    chat_early_msg *e;

    if (!q) {
        return;
    }
    /* a message may close the session (its budget): the rest is dropped then */
    while ((e = q->head) != NULL && m->s && m->s->state == CHAT_WS_OPEN) {
        q->head = e->next;
        if (!q->head) {
            q->tail = NULL;
        }
        q->count--;
        q->bytes -= e->len;
        q->fn(m, e->data, e->len);
        free(e);
    }
    if (!q->head) {
        free(q); /* all handled: the member holds no queue any more */
        m->early = NULL;
    }
}
