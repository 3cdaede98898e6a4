/* Sessions in a live hand-over: see chat_handover_move.h. */
#include <httpd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <apr_strings.h>
#include <http_log.h>
#include <http_main.h>

#include "chat_handover_move.h"
#include "chat_fanout.h"
#include "chat_hub.h"
#include "chat_member.h"
#include "chat_presence.h"
#include "chat_room.h"

APLOG_USE_MODULE(chat);

#define MAX_APPS 4

static const chat_ws_app *apps[MAX_APPS];

/* The leaving process's batch while its cuts run (reactor thread only):
 * the hub's cut callback finds its items here. */
static chat_handover_batch *leaving;

void chat_handover_move_app(const chat_ws_app *app)
{
    int i;

    for (i = 0; i < MAX_APPS; i++) {
        if (!apps[i] || apps[i] == app) {
            apps[i] = app;
            return;
        }
    }
}

const chat_ws_app *chat_handover_app_named(const char *name)
{
    int i;

    for (i = 0; i < MAX_APPS && apps[i]; i++) {
        if (!strcmp(apps[i]->name, name)) {
            return apps[i];
        }
    }
    return NULL;
}

static int app_movable(const chat_ws_app *app)
{
    int i;

    for (i = 0; i < MAX_APPS && apps[i]; i++) {
        if (apps[i] == app) {
            return 1;
        }
    }
    return 0;
}

/* Only a TCP socket of our own can go to another process: not a connection
 * whose filters hold state (TLS), not the pair end of a bridged one. */
static int socket_movable(const chat_ws_session *s)
{
    int domain = 0;
    socklen_t len = sizeof(domain);

    return s->tr.owned && !s->tr.c && s->tr.fd >= 0 &&
           getsockopt(s->tr.fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
           (domain == AF_INET || domain == AF_INET6);
}

static int session_movable(const chat_ws_session *s)
{
    if (s->state != CHAT_WS_OPEN || s->parked || s->bridged || !s->opened || s->pre_len ||
        !s->server || !s->uri || !app_movable(s->app) || !socket_movable(s)) {
        return 0;
    }
    return s->app != &chat_room_app || chat_member_movable(s->app_data);
}

static void batch_signal(chat_handover_batch *b)
{
    apr_thread_mutex_lock(b->lock);
    b->signals++;
    apr_thread_cond_broadcast(b->cond);
    apr_thread_mutex_unlock(b->lock);
}

/* ---- the leaving process ------------------------------------------------- */

typedef struct snapshot_ctx {
    chat_handover_batch *b;
    int cap;
} snapshot_ctx;

static void snapshot_one(chat_ws_session *s, void *arg)
{
    snapshot_ctx *ctx = arg;
    chat_handover_batch *b = ctx->b;
    chat_handover_item *it;
    chat_wire member;

    if (!session_movable(s)) {
        /* a member whose join is in flight can go in the next round */
        if (s->state == CHAT_WS_OPEN && app_movable(s->app) && socket_movable(s) &&
            s->app == &chat_room_app && !((chat_member *)s->app_data)->joined) {
            b->waiting++;
        }
        return;
    }
    if (b->n == ctx->cap) {
        int cap = ctx->cap ? ctx->cap * 2 : 256;
        chat_handover_item *grown = realloc(b->items, sizeof(*grown) * (apr_size_t)cap);
        if (!grown) {
            return;
        }
        b->items = grown;
        ctx->cap = cap;
    }
    it = &b->items[b->n];
    memset(it, 0, sizeof(*it));
    it->idx = (apr_uint32_t)b->n;
    it->sid = s->id;
    it->fd = -1;
    chat_wire_init(&it->record);
    chat_wire_init(&member);
    if (s->app == &chat_room_app) {
        chat_member_save(s->app_data, &member);
    }
    chat_wire_put_u32(&b->prepare, it->idx);
    chat_wire_put_str(&b->prepare, s->app->name);
    chat_wire_put_str(&b->prepare, s->server->server_hostname);
    chat_wire_put_u32(&b->prepare, s->server->port);
    chat_wire_put_str(&b->prepare, s->uri);
    chat_wire_put_str(&b->prepare, s->remote_ip);
    chat_wire_put_bytes(&b->prepare, member.buf, member.len);
    chat_wire_free(&member);
    b->n++;
}

void chat_handover_move_snapshot(chat_reactor *r, void *arg)
{
    chat_handover_batch *b = arg;
    snapshot_ctx ctx = {b, 0};
    chat_wire head;
    int i;

    chat_wire_init(&b->prepare);
    chat_reactor_each(r, snapshot_one, &ctx);
    /* the count goes first: the record is built in one pass */
    chat_wire_init(&head);
    chat_wire_put_u32(&head, 1); /* version */
    chat_wire_put_str(&head, b->marker);
    chat_wire_put_u32(&head, (apr_uint32_t)b->n);
    chat_wire_put_raw(&head, b->prepare.buf, b->prepare.len);
    chat_wire_free(&b->prepare);
    b->prepare = head;
    b->by_sid = apr_hash_make(b->pool);
    for (i = 0; i < b->n; i++) {
        apr_hash_set(b->by_sid, &b->items[i].sid, sizeof(apr_uint64_t), &b->items[i]);
    }
    batch_signal(b);
}

/* Out of the loop with its state: the socket stays open for the taker. */
static void item_cut(chat_handover_batch *b, chat_handover_item *it, chat_ws_session *s)
{
    chat_ws_session_save(s, &it->record);
    if (it->record.failed) {
        it->state = CHAT_ITEM_GONE;
        return;
    }
    chat_reactor_release(s->reactor, s);
    if (s->app == &chat_room_app) {
        chat_hub_step_out(s->app_data);
    }
    it->s = s;
    it->fd = s->tr.fd;
    it->state = CHAT_ITEM_CUT;
    (void)b;
}

/* The hub saw our marker on m's room: m moves now. */
static void leaving_cut(chat_member *m)
{
    chat_handover_batch *b = leaving;
    chat_handover_item *it;

    if (!b || !m->s) {
        return;
    }
    it = apr_hash_get(b->by_sid, &m->s->id, sizeof(apr_uint64_t));
    if (!it || it->state != CHAT_ITEM_MARKED) {
        return;
    }
    if (m->s->state == CHAT_WS_OPEN) {
        item_cut(b, it, m->s);
    }
    else {
        it->state = CHAT_ITEM_GONE; /* it closed meanwhile: it stays to finish */
    }
    apr_thread_mutex_lock(b->lock);
    if (--b->marked == 0) {
        apr_thread_cond_broadcast(b->cond);
    }
    apr_thread_mutex_unlock(b->lock);
}

typedef struct cut_ctx {
    chat_handover_batch *b;
    apr_hash_t *rooms; /* rooms whose marker went out */
    apr_pool_t *p;
} cut_ctx;

static void cut_one(chat_ws_session *s, void *arg)
{
    cut_ctx *ctx = arg;
    chat_handover_item *it = apr_hash_get(ctx->b->by_sid, &s->id, sizeof(apr_uint64_t));
    chat_member *m;

    if (!it || it->state != CHAT_ITEM_LISTED) {
        return; /* not listed, or the taker could not park it */
    }
    if (!session_movable(s)) {
        it->state = CHAT_ITEM_GONE;
        return;
    }
    if (s->app != &chat_room_app) {
        item_cut(ctx->b, it, s); /* nothing to wait for */
        return;
    }
    m = s->app_data;
    /* the room's marker goes out once; members move when it comes back */
    if (!apr_hash_get(ctx->rooms, &m->room, sizeof(m->room))) {
        if (chat_fanout_mark(m, ctx->b->marker) != 0) {
            it->state = CHAT_ITEM_GONE;
            return;
        }
        apr_hash_set(ctx->rooms, apr_pmemdup(ctx->p, &m->room, sizeof(m->room)), sizeof(m->room),
                     m);
    }
    if (chat_member_set_marker(m, ctx->b->marker) != 0) {
        it->state = CHAT_ITEM_GONE; /* stays here */
        return;
    }
    it->state = CHAT_ITEM_MARKED;
    apr_thread_mutex_lock(ctx->b->lock);
    ctx->b->marked++;
    apr_thread_mutex_unlock(ctx->b->lock);
}

void chat_handover_move_cut(chat_reactor *r, void *arg)
{
    chat_handover_batch *b = arg;
    cut_ctx ctx;

    apr_pool_create(&ctx.p, NULL);
    ctx.b = b;
    ctx.rooms = apr_hash_make(ctx.p);
    leaving = b;
    chat_fanout_set_cut(leaving_cut);
    chat_reactor_each(r, cut_one, &ctx);
    apr_pool_destroy(ctx.p);
    /* items listed but no longer among the sessions closed meanwhile */
    {
        int i;
        for (i = 0; i < b->n; i++) {
            if (b->items[i].state == CHAT_ITEM_LISTED) {
                b->items[i].state = CHAT_ITEM_GONE;
            }
        }
    }
    batch_signal(b);
}

/* Markers that did not come back in time: those members stay. */
void chat_handover_move_abandon(chat_reactor *r, void *arg)
{
    chat_handover_batch *b = arg;
    int i;

    (void)r;
    for (i = 0; i < b->n; i++) {
        chat_handover_item *it = &b->items[i];
        if (it->state != CHAT_ITEM_MARKED) {
            continue;
        }
        it->state = CHAT_ITEM_GONE;
    }
    /* their marks are cleared so a late marker cuts nobody */
    leaving = NULL;
    chat_fanout_set_cut(NULL);
    apr_thread_mutex_lock(b->lock);
    b->marked = 0;
    apr_thread_mutex_unlock(b->lock);
    batch_signal(b);
}

void chat_handover_move_done(chat_reactor *r, void *arg)
{
    chat_handover_batch *b = arg;
    int i;

    (void)r;
    leaving = NULL;
    chat_fanout_set_cut(NULL);
    for (i = 0; i < b->n; i++) {
        chat_handover_item *it = &b->items[i];
        if (it->state != CHAT_ITEM_CUT) {
            continue;
        }
        /* the taker has the socket (its own descriptor) and the presence
         * entry: close ours without a word, leave nothing */
        if (it->s->app == &chat_room_app) {
            chat_member_disown(it->s->app_data);
        }
        chat_transport_close(&it->s->tr);
        it->s->state = CHAT_WS_DEAD;
        if (it->s->app->on_close) {
            it->s->app->on_close(it->s);
        }
        chat_ws_session_free(it->s);
        it->s = NULL;
        it->state = CHAT_ITEM_GONE;
    }
    batch_signal(b);
}

void chat_handover_move_fail(chat_reactor *r, void *arg)
{
    chat_handover_batch *b = arg;
    int i;

    leaving = NULL;
    chat_fanout_set_cut(NULL);
    for (i = 0; i < b->n; i++) {
        chat_handover_item *it = &b->items[i];
        if (it->state != CHAT_ITEM_CUT) {
            continue;
        }
        /* back into the loop, to be closed with the rest; out of presence
         * now, as its room no longer lists it */
        if (it->s->app == &chat_room_app) {
            chat_member *m = it->s->app_data;
            if (m->present) {
                chat_presence_leave(m);
            }
            chat_member_disown(m);
        }
        if (chat_reactor_adopt(r, it->s) != APR_SUCCESS) {
            chat_transport_close(&it->s->tr);
            it->s->state = CHAT_WS_DEAD;
            if (it->s->app->on_close) {
                it->s->app->on_close(it->s);
            }
            chat_ws_session_free(it->s);
        }
        it->s = NULL;
        it->state = CHAT_ITEM_GONE;
    }
    batch_signal(b);
}

/* ---- the taking process -------------------------------------------------- */

static void parked_update(chat_ws_session *s)
{
    (void)s;
}

static void parked_drop(chat_ws_session *s)
{
    (void)s; /* closed while parked: dropped at activation */
}

/* Until the socket is ours, a parked session queues and polls nothing. */
static const chat_ws_owner parked_owner = {parked_update, parked_drop, NULL};

void chat_handover_move_park(chat_reactor *r, void *arg)
{
    chat_handover_batch *b = arg;
    int i;

    for (i = 0; i < b->n; i++) {
        chat_handover_item *it = &b->items[i];
        void *app_data = NULL;
        chat_ws_session *s;

        if (!it->app) {
            continue; /* no settings for it here */
        }
        if (it->app == &chat_room_app) {
            chat_wire_reader rd;
            chat_wire_reader_init(&rd, it->member, it->member_len);
            if (!(app_data = chat_member_load(it->sc, it->dc, &rd, b->marker))) {
                continue;
            }
        }
        if (!(s = chat_ws_session_create(&it->lim, it->app, app_data)) ||
            chat_ws_session_origin(s, it->server, it->uri, it->remote_ip) != 0) {
            /* it->server: so that it can move on again */
            if (s) {
                chat_ws_session_free(s);
            }
            if (app_data) {
                chat_member_release(app_data);
            }
            continue;
        }
        s->reactor = r;
        s->owner = &parked_owner;
        chat_ws_session_open_parked(s);
        it->s = s;
        it->state = CHAT_ITEM_PARKED;
    }
    batch_signal(b);
}

void chat_handover_move_check(chat_reactor *r, void *arg)
{
    chat_handover_batch *b = arg;
    int i, ready = 1;

    (void)r;
    for (i = 0; i < b->n && ready; i++) {
        chat_handover_item *it = &b->items[i];
        if (it->state == CHAT_ITEM_PARKED && it->app == &chat_room_app &&
            it->s->state == CHAT_WS_OPEN) {
            ready = chat_hub_ready(it->s->app_data);
        }
    }
    b->ready = ready;
    batch_signal(b);
}

void chat_handover_move_load(chat_reactor *r, void *arg)
{
    chat_handover_batch *b = arg;
    int i;

    (void)r;
    for (i = 0; i < b->n; i++) {
        chat_handover_item *it = &b->items[i];
        chat_wire_reader rd;

        if (it->state != CHAT_ITEM_PARKED || it->fd < 0 || !it->state_rec) {
            continue;
        }
        chat_wire_reader_init(&rd, it->state_rec, it->state_len);
        if (chat_ws_session_load(it->s, &rd, it->fd) == 0) {
            it->fd = -1; /* the session's now */
            it->state = CHAT_ITEM_LOADED;
        }
    }
    batch_signal(b);
}

static void parked_free(chat_handover_item *it)
{
    chat_ws_session *s = it->s;

    if (s->app == &chat_room_app) {
        chat_member_disown(s->app_data); /* the presence entry is the leaver's */
    }
    chat_transport_close(&s->tr);
    s->state = CHAT_WS_DEAD;
    if (s->app->on_close) {
        s->app->on_close(s);
    }
    chat_ws_session_free(s);
    it->s = NULL;
    it->state = CHAT_ITEM_LISTED;
}

void chat_handover_move_activate(chat_reactor *r, void *arg)
{
    chat_handover_batch *b = arg;
    int i, n = 0;

    for (i = 0; i < b->n; i++) {
        chat_handover_item *it = &b->items[i];
        if (it->state == CHAT_ITEM_PARKED) {
            parked_free(it); /* the leaver did not cut it: it stays there */
            continue;
        }
        if (it->state != CHAT_ITEM_LOADED) {
            continue;
        }
        if (it->s->state == CHAT_WS_DEAD) {
            parked_free(it); /* given up while parked: nothing to run */
            continue;
        }
        it->s->parked = 0;
        if (chat_reactor_adopt(r, it->s) != APR_SUCCESS) {
            /* this process's loop ended after it took them: 1001 now, as
             * much as the socket takes without waiting */
            chat_reactor_close_going_away(it->s);
            parked_free(it);
            continue;
        }
        it->s = NULL;
        it->state = CHAT_ITEM_LISTED;
        n++;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, ap_server_conf,
                 "chat: took %d WebSocket(s) handed over by another process", n);
    batch_signal(b);
}

void chat_handover_move_discard(chat_reactor *r, void *arg)
{
    chat_handover_batch *b = arg;
    int i;

    (void)r;
    for (i = 0; i < b->n; i++) {
        chat_handover_item *it = &b->items[i];
        if (it->state == CHAT_ITEM_PARKED || it->state == CHAT_ITEM_LOADED) {
            parked_free(it);
        }
        if (it->fd >= 0) {
            close(it->fd);
            it->fd = -1;
        }
    }
    batch_signal(b);
}
