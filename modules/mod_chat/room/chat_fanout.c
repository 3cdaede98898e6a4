/* Fan-out to a room's members: see chat_fanout.h. */
#include <httpd.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <json-c/json.h>

#include "chat_fanout.h"
#include "chat_member.h"
#include "chat_util.h"

static void fanout_remember(chat_room *room, apr_uint64_t seq, chat_outbuf *b)
{
    chat_recent *r = room->recent;
    unsigned int i;

    if (!r && !(r = room->recent = calloc(1, sizeof(*r)))) {
        return; /* a late joiner reads it from the history instead */
    }
    i = r->next;
    if (r->buf[i]) {
        chat_outbuf_release(r->buf[i]);
    }
    chat_outbuf_retain(b);
    r->buf[i] = b;
    r->seq[i] = seq;
    r->next = (i + 1) % RECENT;
    if (r->n < RECENT) {
        r->n++;
    }
}

void chat_fanout_forget(chat_room *room)
{
    chat_recent *r = room->recent;
    unsigned int i;

    if (!r) {
        return;
    }
    for (i = 0; i < RECENT; i++) {
        chat_outbuf_release(r->buf[i]);
    }
    free(r);
    room->recent = NULL;
}

/* Give m every remembered frame above what it has, oldest first. */
void chat_fanout_send_recent(chat_room *room, chat_member *m)
{
    chat_recent *r = room->recent;
    unsigned int k, start;

    if (!r) {
        return;
    }
    start = (r->next + RECENT - r->n) % RECENT;
    for (k = 0; k < r->n; k++) {
        unsigned int i = (start + k) % RECENT;
        if (r->seq[i] > m->last_seq) {
            chat_ws_session_send(m->s, r->buf[i]);
            m->last_seq = r->seq[i];
        }
    }
}

void chat_fanout_send_messages(chat_member *m, const char *array_json)
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

void chat_fanout_chat(chat_room *room, const char *payload, apr_size_t len)
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
    chat_fanout_presence_flush(room);
    fanout_remember(room, seq, b);
    for (m = room->members; m; m = m->next) {
        if (!m->joined || m->catching_up) {
            continue; /* gets it from the recent frames after its catch-up */
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

/* skip_sid: a session (its presence entry's part after the newline) that
 * had the news already. */
static int deliverable(const chat_member *m, const char *skip_sid, const char *only_user)
{
    const char *sid = skip_sid && m->entry ? strchr(m->entry, '\n') : NULL;

    return m->joined && !(sid && !strcmp(sid + 1, skip_sid)) &&
           !(only_user && strcmp(m->username, only_user)) && m->s && m->s->state == CHAT_WS_OPEN;
}

static void deliver_to_joined(chat_room *room, const char *type, const char *payload,
                              const char *skip_sid, const char *only_user)
{
    chat_outbuf *b = NULL; /* encoded once, shared: a join's list goes to every member */
    chat_member *m;

    for (m = room->members; m; m = m->next) {
        if (!deliverable(m, skip_sid, only_user)) {
            continue;
        }
        if (!b && !(b = chat_member_frame(type, payload))) {
            return;
        }
        chat_ws_session_send(m->s, b);
    }
    chat_outbuf_release(b);
}

/* ---- presence held for the tick (ChatPresenceBatch) --------------------- */

/* A burst of joins would cost every member one write and one whole user list
 * per join (quadratic in the room's size), and a steady stream of joins one
 * write per member per join. Presence frames wait instead: for the hub's next
 * tick, and at least ChatPresenceBatch (1 s) after the room's last presence
 * write; they leave as one write per member with the newest list only.
 * Anything else the room delivers and a hand-over marker flush them first, so
 * every member sees the room's events in the order Redis published them; only
 * the intermediate lists are dropped. A member welcomed while frames are held
 * skips those (its welcome is newer): each frame carries the room's count. */
#define HELD_MAX 64 /* join/leave frames held per room; one more flushes first */

/* Held compactly and encoded at the flush: a room holds up to a second of
 * joins, and a frame (buffer, header, type, payload) is three times the name. */
typedef struct held_frame {
    struct held_frame *next;
    apr_uint64_t seq; /* the room's presence count: members welcomed later skip it */
    const char *skip; /* the joiner's sid (in text): it had the news with its welcome */
    int n;            /* userCount */
    char kind;        /* 'j'oin, 'l'eave, 'u'sers */
    char text[];      /* the name (a JSON string) or the list (a JSON array), then skip */
} held_frame;

typedef struct chat_presence_held {
    held_frame *first, **last; /* joins and leaves, oldest first */
    held_frame *list;          /* the newest user list */
    int count;
} chat_presence_held;

static held_frame *held_make(int kind, const char *json, apr_size_t len, int n,
                             const char *skip_sid, apr_size_t skip_len)
{
    held_frame *f = malloc(sizeof(*f) + len + 1 + (skip_sid ? skip_len + 1 : 0));

    if (f) {
        f->next = NULL;
        f->n = n;
        f->kind = (char)kind;
        memcpy(f->text, json, len);
        f->text[len] = '\0';
        f->skip = NULL;
        if (skip_sid) {
            char *sk = f->text + len + 1;
            memcpy(sk, skip_sid, skip_len);
            sk[skip_len] = '\0';
            f->skip = sk;
        }
    }
    return f;
}

/* Send held frame f (encoded on first use into *b) to m, if m is to have it:
 * 1 when sent. */
static int held_send(chat_member *m, const held_frame *f, chat_outbuf **b)
{
    if (m->presence_from >= f->seq || !deliverable(m, f->skip, NULL)) {
        return 0;
    }
    if (!*b) {
        const char *type = f->kind == 'u'   ? "user_list_update"
                           : f->kind == 'j' ? "user_join"
                                            : "user_leave";
        apr_size_t size = strlen(f->text) + 48;
        char *payload = malloc(size);
        if (!payload) {
            return 0;
        }
        snprintf(payload, size,
                 f->kind == 'u' ? "{\"users\":%s,\"userCount\":%d}"
                                : "{\"username\":%s,\"userCount\":%d}",
                 f->text, f->n);
        *b = chat_member_frame(type, payload);
        free(payload);
        if (!*b) {
            return 0;
        }
    }
    chat_ws_session_send(m->s, *b);
    return 1;
}

void chat_fanout_presence_flush(chat_room *room)
{
    chat_presence_held *h = room->held;
    chat_outbuf *b[HELD_MAX + 1] = {NULL};
    held_frame *f, *next;
    chat_member *m;
    int i, sent = 0;

    if (!h) {
        return;
    }
    room->held = NULL;
    room->hub->rooms_held--;
    for (m = room->members; m; m = m->next) {
        for (f = h->first, i = 0; f; f = f->next, i++) {
            sent |= held_send(m, f, &b[i]);
        }
        if (h->list) {
            sent |= held_send(m, h->list, &b[HELD_MAX]);
        }
    }
    if (sent) {
        /* news nobody was to have (a joiner's own) starts no interval */
        room->presence_at = apr_time_now();
    }
    for (f = h->first, i = 0; f; f = next, i++) {
        next = f->next;
        chat_outbuf_release(b[i]);
        free(f);
    }
    chat_outbuf_release(b[HELD_MAX]);
    free(h->list);
    free(h);
}

/* Hold one presence event (kind 'u': the room's user list, replacing the one
 * held); 0 when held, -1 when it must go now (batching off, or no memory). */
static int presence_hold(chat_room *room, int kind, const char *json, apr_size_t len, int n,
                         const char *skip_sid, apr_size_t skip_len)
{
    chat_presence_held *h = room->held;
    held_frame *f;

    if (!chat_settings_presence_batch(room->hub->sc)) {
        return -1;
    }
    if (h && kind != 'u' && h->count == HELD_MAX) {
        chat_fanout_presence_flush(room);
        h = NULL;
    }
    if (!h) {
        if (!(h = calloc(1, sizeof(*h)))) {
            return -1;
        }
        h->last = &h->first;
        room->held = h;
        room->hub->rooms_held++;
    }
    if (!(f = held_make(kind, json, len, n, skip_sid, skip_len))) {
        chat_fanout_presence_flush(room); /* what is held goes first */
        return -1;
    }
    f->seq = ++room->presence_seq;
    if (kind == 'u') {
        free(h->list); /* only the newest list goes */
        h->list = f;
    }
    else {
        *h->last = f;
        h->last = &f->next;
        h->count++;
    }
    return 0;
}

void chat_fanout_presence_tick(chat_room *room, apr_time_t now)
{
    if (room->held && now - room->presence_at >= chat_settings_presence_interval(room->hub->sc)) {
        chat_fanout_presence_flush(room);
    }
}

void chat_fanout_presence_welcomed(chat_member *m)
{
    m->presence_from = m->room ? m->room->presence_seq : 0;
}

/* A presence event (chat_store.h): its fields as raw JSON slices of the
 * payload, or NULL when absent. */
typedef struct presence_ev {
    int kind; /* 'j'oin, 'l'eave, 'u'sers */
    int n;
    const char *user; /* a JSON string, quotes included */
    apr_size_t user_len;
    const char *sid; /* the joiner's session: between the quotes */
    apr_size_t sid_len;
    const char *users; /* a JSON array */
    apr_size_t users_len;
} presence_ev;

/* Past the JSON string that starts at p (its opening quote); NULL if it
 * does not end. */
static const char *json_string_end(const char *p)
{
    for (p++; *p; p++) {
        if (*p == '\\') {
            if (!*++p) {
                return NULL;
            }
        }
        else if (*p == '"') {
            return p + 1;
        }
    }
    return NULL;
}

/* The fixed shape the scripts publish; 0 for anything else. */
static int presence_parse(const char *payload, apr_size_t len, presence_ev *ev)
{
    static const char *const kinds[] = {"join\"", "leave\"", "users\""};
    const char *p = payload + 6, *q;
    char *end;
    int i;

    if (len < 8 || strncmp(payload, "{\"t\":\"", 6) || payload[len - 1] != '}') {
        return 0;
    }
    for (i = 0; i < 3 && strncmp(p, kinds[i], strlen(kinds[i])); i++) {
    }
    if (i == 3 || strncmp(p += strlen(kinds[i]), ",\"n\":", 5)) {
        return 0;
    }
    memset(ev, 0, sizeof(*ev));
    ev->kind = "jlu"[i];
    ev->n = (int)strtol(p + 5, &end, 10);
    p = end;
    if (!strncmp(p, ",\"username\":\"", 13)) {
        ev->user = p + 12;
        if (!(p = json_string_end(ev->user))) {
            return 0;
        }
        ev->user_len = (apr_size_t)(p - ev->user);
    }
    if (!strncmp(p, ",\"sid\":\"", 8)) {
        if (!(q = json_string_end(p + 7))) {
            return 0;
        }
        ev->sid = p + 8;
        ev->sid_len = (apr_size_t)(q - 1 - ev->sid);
        p = q;
    }
    if (strncmp(p, ",\"users\":[", 10)) {
        return 0;
    }
    ev->users = p + 9;
    ev->users_len = (apr_size_t)(payload + len - 1 - ev->users);
    return 1;
}

/* Held for the tick, or delivered now when presence is not batched. */
static void presence_event(chat_room *room, const presence_ev *ev, apr_pool_t *pool)
{
    const char *sid = ev->sid ? apr_pstrndup(pool, ev->sid, ev->sid_len) : NULL;
    const char *joiner = ev->kind == 'j' ? sid : NULL;

    if (ev->user && ev->kind != 'u' &&
        presence_hold(room, ev->kind, ev->user, ev->user_len, ev->n, joiner, ev->sid_len) != 0) {
        deliver_to_joined(room, ev->kind == 'j' ? "user_join" : "user_leave",
                          apr_psprintf(pool, "{\"username\":%.*s,\"userCount\":%d}",
                                       (int)ev->user_len, ev->user, ev->n),
                          joiner, NULL);
    }
    /* the joiner had its list with the welcome */
    if (presence_hold(room, 'u', ev->users, ev->users_len, ev->n, sid, ev->sid_len) != 0) {
        deliver_to_joined(room, "user_list_update",
                          apr_psprintf(pool, "{\"users\":%.*s,\"userCount\":%d}",
                                       (int)ev->users_len, ev->users, ev->n),
                          sid, NULL);
    }
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;

    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

void chat_fanout_event(chat_room *room, const char *payload)
{
    json_object *ev, *users = NULL, *p = NULL;
    const char *t;
    apr_pool_t *pool;
    presence_ev pe;

    if (presence_parse(payload, strlen(payload), &pe)) {
        /* every join of every room on every process: no JSON parser */
        apr_pool_create(&pool, NULL);
        presence_event(room, &pe, pool);
        apr_pool_destroy(pool);
        return;
    }
    ev = json_tokener_parse(payload);
    if (!ev || !(t = jstr(ev, "t"))) {
        json_object_put(ev);
        return;
    }
    apr_pool_create(&pool, NULL);
    json_object_object_get_ex(ev, "users", &users);
    if (!strcmp(t, "join") || !strcmp(t, "leave") || !strcmp(t, "users")) {
        /* another shape than the scripts' (a process of an older version) */
        presence_ev pe;
        const char *user = jstr(ev, "username"), *entry = jstr(ev, "entry");
        const char *list = users
                               ? json_object_to_json_string_ext(
                                     users, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                               : "[]";
        memset(&pe, 0, sizeof(pe));
        pe.kind = *t;
        pe.n = users && json_object_is_type(users, json_type_array)
                   ? (int)json_object_array_length(users)
                   : 0;
        if (user) {
            pe.user = chat_json_quote(pool, user);
            pe.user_len = strlen(pe.user);
        }
        if (entry && (pe.sid = strchr(entry, '\n')) != NULL) {
            pe.sid++;
            pe.sid_len = strlen(pe.sid);
        }
        pe.users = list;
        pe.users_len = strlen(list);
        presence_event(room, &pe, pool);
        json_object_put(ev);
        apr_pool_destroy(pool);
        return;
    }
    chat_fanout_presence_flush(room); /* held presence goes before any other event */
    if (!strcmp(t, "ai_partial") && jstr(ev, "id") && jstr(ev, "text")) {
        /* a streamed AI answer so far: not stored, not sequenced */
        deliver_to_joined(room, "ai_partial",
                          apr_psprintf(pool, "{\"id\":%s,\"text\":%s}",
                                       chat_json_quote(pool, jstr(ev, "id")),
                                       chat_json_quote(pool, jstr(ev, "text"))),
                          NULL, NULL);
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
        chat_fanout_forget(room);
        for (m = room->members; m; m = m->next) {
            apr_cpystrn(m->epoch, jstr(ev, "epoch"), sizeof(m->epoch));
            /* after a failover seq may count again from a lower one */
            m->last_seq = seq ? (apr_uint64_t)json_object_get_int64(seq) : 0;
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
                chat_member_refuse(m, "you were removed from this room");
            }
        }
    }
    apr_pool_destroy(pool);
    json_object_put(ev);
}

/* ---- live hand-over: the cut on a room's channel ------------------------ */

/* A hand-over marker: the leaving and the taking process see it at the same
 * place among the room's messages, so what came before it is the leaving
 * process's to deliver and what comes after, the taking one's. */
#define MARKER_HEAD "{\"t\":\"handover\",\"id\":\""

static chat_fanout_cut_fn fanout_cut;

void chat_fanout_set_cut(chat_fanout_cut_fn fn)
{
    fanout_cut = fn;
}

int chat_fanout_marker(chat_room *room, const char *payload)
{
    const char *rest = payload + sizeof(MARKER_HEAD) - 1;
    const char *q;
    char id[CHAT_MARKER_MAX];
    chat_member *m, *next;

    if (strncmp(payload, MARKER_HEAD, sizeof(MARKER_HEAD) - 1)) {
        return 0;
    }
    q = strchr(rest, '"');
    if (!q || (apr_size_t)(q - rest) >= sizeof(id)) {
        return 1;
    }
    memcpy(id, rest, (apr_size_t)(q - rest));
    id[q - rest] = '\0';
    chat_fanout_presence_flush(room); /* the leaving members' last, not the taker's */
    for (m = room->members; m; m = next) {
        next = m->next; /* a cut takes m out of the list */
        if (!m->marker || strcmp(m->marker, id)) {
            continue;
        }
        chat_member_set_marker(m, NULL);
        if (m->parked) {
            m->joined = 1; /* taking process: from here on, m's */
            m->parked = 0;
            /* what the client sent once its socket was here, before this
             * process saw the marker: in the order it came */
            chat_member_replay_early(m);
        }
        else if (fanout_cut) {
            fanout_cut(m); /* leaving process: m goes now */
        }
    }
    return 1;
}

int chat_fanout_mark(chat_member *m, const char *marker)
{
    apr_pool_t *p;
    const char *argv[3];
    int rv;

    if (!m->room || !chat_redis_is_up(m->hub->cmd) || !chat_redis_is_up(m->hub->sub) ||
        m->room->sub_state != CHAT_SUB_ON) {
        return -1;
    }
    apr_pool_create(&p, NULL);
    argv[0] = "PUBLISH";
    argv[1] = m->room->channel;
    argv[2] = apr_pstrcat(p, MARKER_HEAD, marker, "\"}", NULL);
    rv = chat_redis_command(m->hub->cmd, NULL, NULL, 3, argv, NULL);
    apr_pool_destroy(p);
    return rv;
}
