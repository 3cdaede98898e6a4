/* The hub: Redis connections, rooms and joins on one reactor (chat_hub.h).
 * Every message carries its seq; a member only gets a seq above the last it
 * has, which makes delivery exactly-once even across a Redis reconnect. */
#include <httpd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>
#include <http_log.h>
#include <http_main.h>

#include "chat_fanout.h"
#include "chat_hub.h"
#include "chat_join.h"
#include "chat_member.h"
#include "chat_presence.h"
#include "chat_store.h"
#include "chat_util.h"

APLOG_USE_MODULE(chat);

/* A user's ChatRateLimit allowance on this hub. malloc'd with its key, and
 * dropped once idle long enough to be full again (chat_hub_tick), so a
 * child that sees many users over its life does not keep one each. */
typedef struct bucket {
    double tokens;
    apr_time_t at;
    apr_interval_time_t refill; /* idle this long = full */
    char user[1];
} bucket;

#define BUCKET_SWEEP apr_time_from_sec(10)

chat_redis *chat_hub_cmd(chat_hub *hub)
{
    return hub->cmd;
}

const char *chat_hub_prefix(chat_hub *hub)
{
    return hub->prefix;
}

void chat_hub_count_post(chat_hub *hub)
{
    hub->posts++;
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
        if (!(b = malloc(sizeof(*b) + strlen(user)))) {
            return 0;
        }
        strcpy(b->user, user);
        b->tokens = burst;
        b->at = now;
        apr_hash_set(hub->buckets, b->user, APR_HASH_KEY_STRING, b);
    }
    b->refill = apr_time_from_sec(1) + (apr_interval_time_t)burst * APR_USEC_PER_SEC / rate;
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

static void rooms_sweep(chat_hub *hub, apr_time_t now);

/* Every tick: held presence that waited long enough goes out. Once a second: rooms empty for
 * ChatRoomLinger let go of their channel; every BUCKET_SWEEP: forget the buckets that are full
 * again. */
static void hub_tick(chat_reactor *r, apr_time_t now, void *data)
{
    chat_hub *hub = data;
    apr_hash_index_t *hi;

    (void)r;
    for (hi = hub->rooms_held ? apr_hash_first(NULL, hub->rooms) : NULL; hi;
         hi = apr_hash_next(hi)) {
        chat_fanout_presence_tick(apr_hash_this_val(hi), now);
    }
    if (now >= hub->next_room_sweep) {
        hub->next_room_sweep = now + apr_time_from_sec(1);
        rooms_sweep(hub, now);
    }
    if (now < hub->next_sweep) {
        return;
    }
    hub->next_sweep = now + BUCKET_SWEEP;
    for (hi = apr_hash_first(NULL, hub->buckets); hi; hi = apr_hash_next(hi)) {
        bucket *b = apr_hash_this_val(hi);
        if (now - b->at >= b->refill) {
            apr_hash_set(hub->buckets, b->user, APR_HASH_KEY_STRING, NULL);
            free(b);
        }
    }
}

static void room_try_joins(chat_room *room);
static void room_remove(chat_member *m);
static void room_free(chat_room *room);

static void sub_state(chat_redis *rc, int up, void *data)
{
    chat_hub *hub = data;
    apr_hash_index_t *hi;

    (void)rc;
    for (hi = apr_hash_first(NULL, hub->rooms); hi; hi = apr_hash_next(hi)) {
        chat_room *room = apr_hash_this_val(hi);
        chat_member *m;
        room->sub_state = CHAT_SUB_NONE; /* a new connection has no subscriptions */
        if (!room->count) {
            room_free(room); /* nobody to resubscribe for */
            continue;
        }
        if (!up) {
            room->needs_catchup = 1;
            chat_fanout_presence_flush(room);
            chat_fanout_forget(room); /* all delivered; may be of an epoch that goes */
            for (m = room->members; m; m = m->next) {
                if (m->parked && m->marker) {
                    /* its marker is lost with the connection: it reads back
                     * by seq, as everyone here does */
                    chat_member_set_marker(m, NULL);
                    m->joined = 1;
                    m->parked = 0;
                    chat_member_replay_early(m);
                }
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
        if (room->needs_catchup && room->sub_state == CHAT_SUB_ON) {
            chat_join_catchup(room);
        }
    }
}

/* The reactor is going away: its sessions are gone, close Redis (waiting
 * commands get NULL replies and let go of their members). */
static apr_status_t hub_cleanup(void *data)
{
    chat_hub *hub = data;
    apr_hash_index_t *hi;

    chat_redis_destroy(hub->cmd);
    chat_redis_destroy(hub->sub);
    if (hub->watch) {
        chat_redis_destroy(hub->watch);
    }
    for (hi = apr_hash_first(NULL, hub->buckets); hi; hi = apr_hash_next(hi)) {
        free(apr_hash_this_val(hi));
    }
    for (hi = apr_hash_first(NULL, hub->rooms); hi; hi = apr_hash_next(hi)) {
        room_free(apr_hash_this_val(hi)); /* lingering empty rooms */
    }
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
    hub->prefix = chat_settings_key_prefix(sc);
    hub->rooms = apr_hash_make(p);
    hub->channels = apr_hash_make(p);
    hub->buckets = apr_hash_make(p);
    hub->presence_ttl = chat_settings_presence_ttl(sc);
    gethostname(host, sizeof(host) - 1);
    apr_snprintf(hub->node, sizeof(hub->node), "%s:%d:%pp", host, (int)getpid(), (void *)hub);
    apr_hash_set(hubs, apr_pmemdup(p, &sc, sizeof(sc)), sizeof(sc), hub);
    hub->cmd = chat_redis_create(r, sc, "command", cmd_state, hub);
    hub->sub = chat_redis_create(r, sc, "subscriber", sub_state, hub);
    hub->watch = chat_redis_watch(r, sc, hub->cmd, hub->sub);
    apr_pool_cleanup_register(p, hub, hub_cleanup, apr_pool_cleanup_null);
    chat_reactor_add_tick(r, chat_presence_tick, hub);
    chat_reactor_add_tick(r, hub_tick, hub);
    hub->next_presence = apr_time_now() + hub->presence_ttl / 3;
    return hub;
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

/* Out of the hub and gone (its members are gone already). */
static void room_free(chat_room *room)
{
    chat_hub *hub = room->hub;

    apr_hash_set(hub->rooms, room->name, APR_HASH_KEY_STRING, NULL);
    apr_hash_set(hub->channels, room->channel, APR_HASH_KEY_STRING, NULL);
    chat_fanout_presence_flush(room);
    chat_fanout_forget(room);
    free(room->name);
    free(room->channel);
    free(room);
}

/* Rooms empty for ChatRoomLinger (a leave-then-join costs no UNSUBSCRIBE/
 * SUBSCRIBE pair meanwhile): unsubscribe, the room going when Redis
 * confirms (on_pubsub); or go now when not subscribed at all. */
static void rooms_sweep(chat_hub *hub, apr_time_t now)
{
    apr_interval_time_t linger = apr_time_from_sec(
        hub->sc->room_linger >= 0 ? hub->sc->room_linger : CHAT_DEFAULT_ROOM_LINGER);
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(NULL, hub->rooms); hi; hi = apr_hash_next(hi)) {
        chat_room *room = apr_hash_this_val(hi);
        if (room->count || now - room->empty_since < linger) {
            continue;
        }
        if (room->sub_state == CHAT_SUB_NONE) {
            room_free(room);
        }
        else if (room->sub_state == CHAT_SUB_ON && chat_redis_is_up(hub->sub)) {
            const char *argv[2] = {"UNSUBSCRIBE", room->channel};
            if (chat_redis_subscribe(hub->sub, on_pubsub, hub, 2, argv, NULL) == 0) {
                room->sub_state = CHAT_SUB_LEAVING;
            }
        }
    }
}

static void room_try_joins(chat_room *room)
{
    chat_hub *hub = room->hub;
    chat_member *m;

    if (!chat_redis_is_up(hub->sub) || !chat_redis_is_up(hub->cmd)) {
        return;
    }
    if (room->sub_state == CHAT_SUB_NONE) {
        const char *argv[2] = {"SUBSCRIBE", room->channel};
        if (chat_redis_subscribe(hub->sub, on_pubsub, hub, 2, argv, NULL) == 0) {
            room->sub_state = CHAT_SUB_ASKED;
        }
        return;
    }
    if (room->sub_state != CHAT_SUB_ON) {
        return; /* subscribing, or waiting for the UNSUBSCRIBE's answer */
    }
    for (m = room->members; m; m = m->next) {
        if (!m->join_sent && m->s && m->s->state == CHAT_WS_OPEN) {
            m->join_sent = 1;
            chat_join_run(m);
        }
    }
}

/* ---- live hand-over (the marker itself: chat_fanout.c) ------------------ */

void chat_hub_step_out(chat_member *m)
{
    if (m->room) {
        room_remove(m);
    }
    m->joined = 0;
}

int chat_hub_ready(const chat_member *m)
{
    return m->room && m->room->sub_state == CHAT_SUB_ON && chat_redis_is_up(m->hub->cmd);
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
    if (!strcmp(kind, "unsubscribe")) {
        if (room->sub_state == CHAT_SUB_LEAVING) {
            room->sub_state = CHAT_SUB_NONE;
            if (!room->count) {
                room_free(room);
            }
            else {
                room_try_joins(room); /* someone came meanwhile: subscribe anew */
            }
        }
        return;
    }
    if (!strcmp(kind, "subscribe")) {
        room->sub_state = CHAT_SUB_ON;
        room_try_joins(room);
        if (room->needs_catchup) {
            chat_join_catchup(room);
        }
        return;
    }
    if (strcmp(kind, "message") || r->element[2]->type != REDIS_REPLY_STRING) {
        return;
    }
    if (chat_fanout_marker(room, r->element[2]->str)) {
        return; /* a hand-over's cut, not a message */
    }
    if (!strncmp(r->element[2]->str, "{\"t\":\"chat\",\"seq\":", 18)) {
        chat_fanout_chat(room, r->element[2]->str, r->element[2]->len);
    }
    else {
        chat_fanout_event(room, r->element[2]->str);
    }
}

/* m's session opened on s's reactor: find the hub and room, then join. */
void chat_hub_enter(chat_member *m, chat_ws_session *s)
{
    chat_room *room;

    m->s = s;
    m->hub = hub_for(s->reactor, m->sc);
    if (m->parked) {
        /* handed over: its presence entry (the leaving process's name for it)
         * and its join stay as they were; events flow from its marker on */
        m->join_sent = 1;
        m->present = 1;
    }
    else {
        m->opened_at = apr_time_now();
        /* "user\nnode:session"; NULL when out of memory */
        chat_member_set_entry(m, m->hub->node, s->id);
    }
    room = m->entry ? room_get(m->hub, m->room_name) : NULL;
    if (!room) {
        chat_ws_session_close(s, CHAT_WS_CLOSE_INTERNAL, "out of memory");
        return;
    }
    m->room = room;
    room->empty_since = 0;
    m->next = room->members;
    if (room->members) {
        room->members->prev = m;
    }
    room->members = m;
    room->count++;
    room_try_joins(room);
}

/* m's session closed: out of presence and its room (an empty room lingers,
 * see rooms_sweep). */
void chat_hub_leave(chat_member *m)
{
    chat_room *room = m->room;

    if (!room) {
        return;
    }
    if (m->joined) {
        chat_member_debug(m, "leave", NULL);
    }
    if (m->present) {
        chat_presence_leave(m);
    }
    room_remove(m);
}

/* m out of its room's member list (an empty room lingers, see rooms_sweep). */
static void room_remove(chat_member *m)
{
    chat_room *room = m->room;

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
    if (!room->count) {
        room->empty_since = apr_time_now(); /* rooms_sweep lets it go later */
    }
}

void chat_room_publish(chat_member *m, const char *payload)
{
    apr_pool_t *p;
    const char *argv[3];

    apr_pool_create(&p, NULL);
    argv[0] = "PUBLISH";
    argv[1] = chat_store_channel(p, m->hub->prefix, m->room_name);
    argv[2] = payload;
    if (chat_redis_command(m->hub->cmd, NULL, NULL, 3, argv, NULL) != 0) {
        chat_member_error(m, "unavailable", "chat storage unavailable; not delivered");
    }
    apr_pool_destroy(p);
}
