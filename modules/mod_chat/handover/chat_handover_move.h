/* The part of a live hand-over that touches sessions: on a reactor's thread
 * only, run as chat_reactor_post() tasks by the hand-over threads
 * (chat_handover.c), which wait for them.
 *
 * Leaving process: snapshot (which sessions may move, and who they are:
 * the PREPARE record), cut (a room's members move at their marker on the
 * room's channel, other sessions at once; each cut session leaves the loop
 * with its state saved and its socket kept open), then done (the taker has
 * them: free them quietly) or fail (they stay: close 1001 with a hint).
 *
 * Taking process: park (a session and member for each, in their rooms,
 * queueing frames from the marker on), ready (every room subscribed), load
 * (the cut state and the socket), then activate (into the loop) or discard
 * (the leaver keeps them: nothing of theirs is touched). */
#ifndef CHAT_HANDOVER_MOVE_H
#define CHAT_HANDOVER_MOVE_H

#include <apr_hash.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>

#include "chat_reactor.h"
#include "chat_settings.h"
#include "chat_wire.h"

enum {
    CHAT_ITEM_LISTED = 0, /* leaver: in the PREPARE; taker: not parked */
    CHAT_ITEM_MARKED,     /* leaver: waits for its room's marker */
    CHAT_ITEM_CUT,        /* leaver: out of the loop, state in record */
    CHAT_ITEM_GONE,       /* leaver: closed before its cut, or could not move */
    CHAT_ITEM_PARKED,     /* taker: parked */
    CHAT_ITEM_LOADED      /* taker: state and socket in */
};

typedef struct chat_handover_item {
    apr_uint32_t idx;
    int state; /* CHAT_ITEM_* */
    chat_ws_session *s;
    int fd; /* leaver: the cut socket; taker: the received one (-1: none) */

    /* leaver */
    apr_uint64_t sid;
    chat_wire record; /* the state at the cut */

    /* taker, from the PREPARE (bytes inside the batch's buffer) */
    const chat_ws_app *app;
    const chat_srv_conf *sc;
    const chat_dir_conf *dc;
    server_rec *server;
    const char *uri;
    chat_ws_limits lim;
    char remote_ip[48];
    const char *member;
    apr_size_t member_len;
    const char *state_rec; /* from a STATE message */
    apr_size_t state_len;
} chat_handover_item;

typedef struct chat_handover_batch {
    char marker[48]; /* this hand-over's marker on every room's channel */
    chat_handover_item *items;
    int n;
    apr_hash_t *by_sid; /* leaver: session id -> item */
    chat_wire prepare;  /* leaver: the PREPARE record */
    int marked;         /* leaver: items waiting for a marker (under lock) */
    int waiting;        /* leaver: sessions that may move soon (still joining) */
    int ready;          /* taker: every parked room is subscribed */
    apr_pool_t *pool;

    apr_thread_mutex_t *lock; /* guards signals and marked */
    apr_thread_cond_t *cond;
    apr_uint64_t signals; /* tasks done: the hand-over thread waits for a change */
} chat_handover_batch;

/* The apps whose sessions can move (mod_chat.c names them). */
void chat_handover_move_app(const chat_ws_app *app);
const chat_ws_app *chat_handover_app_named(const char *name);

/* Tasks (arg: the batch). */
void chat_handover_move_snapshot(chat_reactor *r, void *batch);
void chat_handover_move_cut(chat_reactor *r, void *batch);
void chat_handover_move_abandon(chat_reactor *r, void *batch);
void chat_handover_move_done(chat_reactor *r, void *batch);
void chat_handover_move_fail(chat_reactor *r, void *batch);
void chat_handover_move_park(chat_reactor *r, void *batch);
void chat_handover_move_check(chat_reactor *r, void *batch);
void chat_handover_move_load(chat_reactor *r, void *batch);
void chat_handover_move_activate(chat_reactor *r, void *batch);
void chat_handover_move_discard(chat_reactor *r, void *batch);

#endif
