/* One open WebSocket: the decoder, the close handshake, pings and idle
 * timeout, and a queue of outgoing frames. A session belongs to exactly one
 * reactor (chat_reactor.h) and is only ever touched on that reactor's thread;
 * other threads reach it through chat_reactor_post(). */
#ifndef CHAT_WS_SESSION_H
#define CHAT_WS_SESSION_H

#include <httpd.h>

#include "chat_config.h"
#include "chat_transport.h"
#include "chat_wire.h"
#include "chat_ws_frame.h"

typedef struct chat_ws_session chat_ws_session;
typedef struct chat_reactor chat_reactor;

/* The session's owner (its reactor), as the session sees it: told when the
 * events to poll for change and when the session is done with. Function
 * pointers, so that a session knows nothing of the reactor that runs it. */
typedef struct chat_ws_owner {
    void (*update)(chat_ws_session *s); /* re-derive the events from state and queue */
    void (*drop)(chat_ws_session *s);   /* no more I/O: out of the poll set */
    /* NULL: chat_ws_session_send writes at once. Else it queues and calls
     * this once; the owner calls chat_ws_session_flush before it next waits,
     * so all frames of one loop turn leave in one writev per socket. */
    void (*defer)(chat_ws_session *s);
} chat_ws_owner;

/* What runs on top of the socket (echo, a chat room). All calls happen on the
 * session's reactor thread. */
typedef struct chat_ws_app {
    const char *name;
    void (*on_open)(chat_ws_session *s);
    void (*on_message)(chat_ws_session *s, int opcode, const char *data, apr_size_t len);
    /* Last call: the session is going away; free what app_data holds. */
    void (*on_close)(chat_ws_session *s);
    /* The engine is closing the session for a limit (1008, named in why);
     * optional, for the app's own log. */
    void (*on_limit)(chat_ws_session *s, const char *why);
    /* Largest frame and message the app needs when the location sets none
     * (0: the engine's default, 1 MiB). */
    apr_uint64_t max_message;
    /* 1: the app's first frames follow its open shortly (a room's welcome):
     * a detached session's 101 waits for them, at most one reactor tick, so
     * they leave in one write. */
    int answers_open;
} chat_ws_app;

/* An encoded frame, shareable between sessions (a broadcast is encoded once).
 * The count is atomic because frames are made on one thread and sent on
 * another. */
typedef struct chat_outbuf {
    apr_uint32_t refs;
    apr_size_t len;
    char data[1];
} chat_outbuf;

chat_outbuf *chat_outbuf_frame(int opcode, const char *payload, apr_size_t len);
void chat_outbuf_retain(chat_outbuf *b);
void chat_outbuf_release(chat_outbuf *b);

typedef struct chat_outq_item {
    struct chat_outq_item *next;
    chat_outbuf *buf;
    apr_size_t off;
} chat_outq_item;

typedef enum {
    CHAT_WS_OPEN = 0,
    CHAT_WS_CLOSING,  /* our close frame is queued; waiting for the peer's */
    CHAT_WS_FLUSHING, /* nothing more to read; drop once the queue is out */
    CHAT_WS_DEAD      /* removed from the reactor, freed at the end of the turn */
} chat_ws_state;

/* Anything a reactor polls starts with this: sessions take the reactor's
 * own path, other kinds (Redis connections) get on_event. */
typedef struct chat_pollable {
    int kind; /* CHAT_POLL_SESSION or CHAT_POLL_OTHER */
    void (*on_event)(struct chat_pollable *p, unsigned int events);
} chat_pollable;

#define CHAT_POLL_SESSION 1
#define CHAT_POLL_OTHER   2

struct chat_ws_session {
    chat_pollable pollable; /* first: the reactor's epoll data points here */

    /* reactor bookkeeping */
    chat_ws_session *prev, *next;
    chat_ws_session *ready_next;
    int in_ready;
    unsigned int poll_events; /* EPOLL* bits the reactor watches now */
    chat_reactor *reactor;
    const chat_ws_owner *owner;
    chat_ws_session *flush_next; /* the owner's list of sessions to flush */
    int flush_due;
    int released; /* chat_reactor_release: its events of the turn are stale */

    apr_uint64_t id;
    chat_transport tr;
    chat_ws_decoder dec;
    const chat_ws_limits *lim; /* shared (chat_ws_intern) */
    chat_ws_state state;
    int close_sent;
    int lingering; /* FLUSHING, all sent, FIN sent: waiting for the peer to go */

    const chat_ws_app *app;
    void *app_data;

    chat_outq_item *q_head, *q_tail;
    apr_size_t q_bytes;
    chat_outq_item *pong; /* the last pong queued since bytes last went out */
    int pongs_waiting;    /* pongs queued since bytes last went out */
    int holding;          /* the 101 waits for the app's first frames (answers_open) */

    double ctl_tokens; /* control-frame budget (ChatControlFrameRate) */
    apr_time_t ctl_at;

    apr_time_t last_rx; /* the last complete frame from the client */
    apr_time_t last_ping;
    apr_time_t deadline; /* CLOSING/FLUSHING: drop after this */

    /* bytes httpd had already read past the handshake */
    char *pre;
    apr_size_t pre_len;

    conn_rec *c;           /* filters transport only */
    const char *remote_ip; /* in uri's block, "-" before chat_ws_session_origin */

    /* live hand-over (handover/) */
    server_rec *server; /* where the request came: another process finds its */
    char *uri;          /* own settings for the session there (malloc'd) */
    int opened;         /* the app's on_open ran (a handed-over session's ran at parking) */
    int parked;         /* handed over, not yet ours: frames queue, nothing is written */
    /* 1: tr is our end of a socketpair whose other end a request thread
     * pumps to its connection (chat_ws_bridge.h), not the client's socket:
     * such a session cannot be passed to another process. */
    int bridged;
};

/* A session over a transport; the caller hands it to a reactor next. */
chat_ws_session *chat_ws_session_create(const chat_ws_limits *lim, const chat_ws_app *app,
                                        void *app_data);
void chat_ws_session_free(chat_ws_session *s);
/* Where the session came from: its server, request URI and client address
 * (one block). 0, or -1 when out of memory. */
int chat_ws_session_origin(chat_ws_session *s, server_rec *server, const char *uri,
                           const char *remote_ip);

/* Values made from the configuration that many sessions share (limits): the
 * one copy of v's len bytes, kept for the child's life, or NULL when out of
 * memory. Their number is bounded by the configuration's locations. Any
 * thread; v must have no padding bytes (they are compared). */
const void *chat_ws_intern(const void *v, apr_size_t len);

/* A reactor's thread keeps freed queue items for its next frames between
 * these two calls (at the start and the end of its run). */
void chat_ws_session_cache_begin(void);
void chat_ws_session_cache_end(void);

/* Queue a frame (takes a reference). Returns 0, or -1 when the session is
 * closing or its queue went over ChatSendQueueLimit (it is then closed with
 * 1008). */
int chat_ws_session_send(chat_ws_session *s, chat_outbuf *b);
/* Write what is queued (the owner's deferred flush; chat_ws_owner). */
void chat_ws_session_flush(chat_ws_session *s);
int chat_ws_session_send_text(chat_ws_session *s, const char *text, apr_size_t len);
/* Before a detached session is adopted: bytes that go first (the 101). */
int chat_ws_session_send_raw(chat_ws_session *s, const char *data, apr_size_t len);
/* Take back what was queued and never written (the adoption failed). */
void chat_ws_session_unqueue(chat_ws_session *s);

/* Start the close handshake (no-op if already closing). */
void chat_ws_session_close(chat_ws_session *s, int code, const char *reason);

/* The EPOLL* events the session needs now: input only while it still reads,
 * output while bytes wait. */
unsigned int chat_ws_session_events(const chat_ws_session *s);

/* Live hand-over to another process (handover/). save appends what changes
 * while a session runs (timers, budgets, unsent and half-read bytes) to w;
 * load sets it on a parked session of the receiving process, whose fd then
 * is the socket: the unsent bytes go before anything queued while parked,
 * and the half-read ones are fed first when the session starts. */
void chat_ws_session_save(const chat_ws_session *s, chat_wire *w);
int chat_ws_session_load(chat_ws_session *s, chat_wire_reader *r, int fd);
/* On the receiving reactor's thread: a parked session's app opens (enters
 * its room) before the socket is ours. */
void chat_ws_session_open_parked(chat_ws_session *s);

/* Reactor entry points. */
void chat_ws_session_start(chat_ws_session *s);
void chat_ws_session_readable(chat_ws_session *s, int *more);
void chat_ws_session_writable(chat_ws_session *s);
void chat_ws_session_tick(chat_ws_session *s, apr_time_t now);
/* The peer vanished or the reactor is going away: no more I/O. The app's
 * on_close runs at the end of the reactor's current turn. */
void chat_ws_session_abort(chat_ws_session *s);

#endif
