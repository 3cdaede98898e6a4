/* WebSocket session state machine; see chat_ws_session.h. */
#include <httpd.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <apr_atomic.h>
#include <apr_strings.h>
#include <sys/epoll.h>
#include <http_log.h>
#include <http_main.h>

#include "chat_ws_session.h"

APLOG_USE_MODULE(chat);

/* Bytes read from one socket per turn before others get theirs. */
#define READ_BUDGET (256 * 1024)
#define READ_CHUNK  16384
#define WRITE_IOV   16
/* Pongs that may wait unwritten before the newest replaces the last. */
#define PONGS_WAITING 16

/* Queue items are made and freed once per member per message: on a
 * reactor's thread they come from a small per-thread free list instead of
 * malloc (chat_ws_session_cache_begin/end bracket a reactor's run). */
#define ITEM_CACHE_MAX 4096

static __thread chat_outq_item *item_cache;
static __thread int item_cached;
static __thread int item_caching;

static chat_outq_item *item_new(void)
{
    chat_outq_item *it = item_cache;

    if (!it) {
        return malloc(sizeof(*it));
    }
    item_cache = it->next;
    item_cached--;
    return it;
}

static void item_free(chat_outq_item *it)
{
    if (!item_caching || item_cached >= ITEM_CACHE_MAX) {
        free(it);
        return;
    }
    it->next = item_cache;
    item_cache = it;
    item_cached++;
}

void chat_ws_session_cache_begin(void)
{
    item_caching = 1;
}

void chat_ws_session_cache_end(void)
{
    chat_outq_item *it;

    item_caching = 0;
    while ((it = item_cache) != NULL) {
        item_cache = it->next;
        free(it);
    }
    item_cached = 0;
}

chat_outbuf *chat_outbuf_frame(int opcode, const char *payload, apr_size_t len)
{
    unsigned char hdr[10];
    apr_size_t hlen = chat_ws_frame_header(hdr, 1, opcode, len);
    chat_outbuf *b = malloc(sizeof(*b) + hlen + len);

    if (!b) {
        return NULL;
    }
    b->refs = 1;
    b->len = hlen + len;
    memcpy(b->data, hdr, hlen);
    if (len) {
        memcpy(b->data + hlen, payload, len);
    }
    return b;
}

void chat_outbuf_retain(chat_outbuf *b)
{
    apr_atomic_inc32(&b->refs);
}

void chat_outbuf_release(chat_outbuf *b)
{
    if (b && !apr_atomic_dec32(&b->refs)) {
        free(b);
    }
}

static int cb_message(void *ctx, int opcode, const char *data, apr_size_t len);
static int cb_ping(void *ctx, const char *data, apr_size_t len);
static int cb_pong(void *ctx, const char *data, apr_size_t len);
static int cb_close(void *ctx, int code, const char *reason, apr_size_t len);

static const chat_ws_callbacks decoder_callbacks = {cb_message, cb_ping, cb_pong, cb_close};

typedef struct interned {
    struct interned *next;
    apr_size_t len;
    char v[];
} interned;

static pthread_mutex_t intern_lock = PTHREAD_MUTEX_INITIALIZER;
static interned *intern_all;

/* When the module is unloaded: nothing uses the values any more (sessions
 * end before the child does), and the list's root goes with the module. */
static void __attribute__((destructor)) intern_free_all(void)
{
    while (intern_all) {
        interned *it = intern_all;
        intern_all = it->next;
        free(it);
    }
}

const void *chat_ws_intern(const void *v, apr_size_t len)
{
    interned *it;

    pthread_mutex_lock(&intern_lock);
    for (it = intern_all; it; it = it->next) {
        if (it->len == len && !memcmp(it->v, v, len)) {
            break;
        }
    }
    if (!it && (it = malloc(sizeof(*it) + len)) != NULL) {
        it->next = intern_all;
        it->len = len;
        memcpy(it->v, v, len);
        intern_all = it;
    }
    pthread_mutex_unlock(&intern_lock);
    return it ? it->v : NULL;
}

chat_ws_session *chat_ws_session_create(const chat_ws_limits *lim, const chat_ws_app *app,
                                        void *app_data)
{
    static apr_uint32_t next_id;
    const chat_ws_limits *shared = chat_ws_intern(lim, sizeof(*lim));
    chat_ws_session *s;

    if (!shared || !(s = calloc(1, sizeof(*s)))) {
        return NULL;
    }
    s->pollable.kind = CHAT_POLL_SESSION;
    s->id = apr_atomic_inc32(&next_id) + 1;
    s->lim = shared;
    s->remote_ip = "-";
    s->app = app;
    s->app_data = app_data;
    s->tr.fd = -1;
    s->last_rx = s->last_ping = s->ctl_at = apr_time_now();
    s->ctl_tokens = lim->ctl_burst;
    chat_ws_decoder_init(&s->dec, lim->max_frame, lim->max_message, &decoder_callbacks, s);
    return s;
}

static void queue_clear(chat_ws_session *s)
{
    s->pong = NULL;
    s->pongs_waiting = 0;
    chat_outq_item *it = s->q_head;

    while (it) {
        chat_outq_item *next = it->next;
        chat_outbuf_release(it->buf);
        item_free(it);
        it = next;
    }
    s->q_head = s->q_tail = NULL;
    s->q_bytes = 0;
}

void chat_ws_session_free(chat_ws_session *s)
{
    queue_clear(s);
    chat_ws_decoder_cleanup(&s->dec);
    free(s->pre);
    free(s->uri);
    free(s);
}

int chat_ws_session_origin(chat_ws_session *s, server_rec *server, const char *uri,
                           const char *remote_ip)
{
    apr_size_t ul = strlen(uri) + 1, il = strlen(remote_ip) + 1;
    char *block = malloc(ul + il);

    if (!block) {
        return -1;
    }
    memcpy(block, uri, ul);
    memcpy(block + ul, remote_ip, il);
    free(s->uri);
    s->server = server;
    s->uri = block;
    s->remote_ip = block + ul;
    return 0;
}

static chat_outq_item *enqueue(chat_ws_session *s, chat_outbuf *b)
{
    chat_outq_item *it = item_new();

    if (!it) {
        return NULL;
    }
    chat_outbuf_retain(b);
    it->buf = b;
    it->off = 0;
    it->next = NULL;
    if (s->q_tail) {
        s->q_tail->next = it;
    }
    else {
        s->q_head = it;
    }
    s->q_tail = it;
    s->q_bytes += b->len;
    return it;
}

/* Write what the transport takes now; drop a FLUSHING session once all is out. */
static void flush_output(chat_ws_session *s)
{
    struct iovec iov[WRITE_IOV];
    apr_status_t rv;

    if (s->state == CHAT_WS_DEAD || s->parked) {
        return; /* parked: the socket is not ours yet */
    }
    s->holding = 0;
    if ((rv = chat_transport_flush(&s->tr)) != APR_SUCCESS) {
        chat_ws_session_abort(s);
        return;
    }
    while (s->q_head && !chat_transport_pending(&s->tr)) {
        chat_outq_item *it = s->q_head;
        apr_size_t written = 0;
        int n = 0;

        for (; it && n < WRITE_IOV; it = it->next, n++) {
            iov[n].iov_base = it->buf->data + it->off;
            iov[n].iov_len = it->buf->len - it->off;
        }
        rv = chat_transport_writev(&s->tr, iov, n, &written);
        if (rv != APR_SUCCESS) {
            chat_ws_session_abort(s);
            return;
        }
        if (written == 0) {
            break;
        }
        s->q_bytes -= written;
        s->pong = NULL; /* bytes went out: the client reads, pongs queue anew */
        s->pongs_waiting = 0;
        while (written > 0) {
            it = s->q_head;
            if (written < it->buf->len - it->off) {
                it->off += written;
                break;
            }
            written -= it->buf->len - it->off;
            s->q_head = it->next;
            if (!s->q_head) {
                s->q_tail = NULL;
            }
            chat_outbuf_release(it->buf);
            item_free(it);
        }
    }
    if (s->state == CHAT_WS_FLUSHING && !s->q_head && !chat_transport_pending(&s->tr) &&
        !s->lingering) {
        if (!chat_transport_half_close(&s->tr)) {
            chat_ws_session_abort(s);
            return;
        }
        /* the peer's bytes are unread (a flooder): it gets our close and a FIN
         * now; the socket goes when the peer closes or at the deadline */
        s->lingering = 1;
    }
    s->owner->update(s);
}

static void send_control(chat_ws_session *s, int opcode, const char *payload, apr_size_t len)
{
    chat_outbuf *b = chat_outbuf_frame(opcode, payload, len);

    if (b) {
        enqueue(s, b);
        chat_outbuf_release(b);
    }
}

/* A limit was crossed: say which in the error log and to the app, close 1008. */
static void close_for_limit(chat_ws_session *s, const char *why, const char *reason)
{
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, ap_server_conf,
                 "chat: session %" APR_UINT64_T_FMT " (%s): %s: closing with 1008", s->id,
                 s->remote_ip, why);
    if (s->app->on_limit) {
        s->app->on_limit(s, why);
    }
    chat_ws_session_close(s, CHAT_WS_CLOSE_POLICY, reason);
    if (s->state == CHAT_WS_CLOSING) {
        /* no close handshake awaited from an abuser: reading on would only
         * spend CPU on its flood */
        s->state = CHAT_WS_FLUSHING;
        flush_output(s);
    }
}

/* Answer a ping. Pongs count against ChatSendQueueLimit, and while nothing
 * can be written at most PONGS_WAITING of them queue up in order; past that
 * the last one takes the newest payload (RFC 6455 5.5.3 lets a pong answer
 * only the most recent ping), so a client that pings and never reads costs
 * a few frames, not a queue. */
static void send_pong(chat_ws_session *s, const char *payload, apr_size_t len)
{
    chat_outbuf *b = chat_outbuf_frame(CHAT_WS_OP_PONG, payload, len);

    if (!b) {
        return;
    }
    if (s->pong && s->pongs_waiting >= PONGS_WAITING) {
        s->q_bytes = s->q_bytes - s->pong->buf->len + b->len;
        chat_outbuf_release(s->pong->buf);
        s->pong->buf = b;
        return;
    }
    if (s->q_bytes + b->len > s->lim->sendq_limit) {
        chat_outbuf_release(b);
        close_for_limit(s, "ChatSendQueueLimit (pongs the client does not read)",
                        "send queue full");
        return;
    }
    if ((s->pong = enqueue(s, b)) != NULL) {
        s->pongs_waiting++;
    }
    chat_outbuf_release(b);
}

/* Pings and pongs from the client spend one token each (ChatControlFrameRate). */
static int control_budget_take(chat_ws_session *s)
{
    apr_time_t now;

    if (s->lim->ctl_rate <= 0) {
        return 1;
    }
    now = apr_time_now();
    s->ctl_tokens += (double)(now - s->ctl_at) * s->lim->ctl_rate / APR_USEC_PER_SEC;
    if (s->ctl_tokens > s->lim->ctl_burst) {
        s->ctl_tokens = s->lim->ctl_burst;
    }
    s->ctl_at = now;
    if (s->ctl_tokens < 1.0) {
        return 0;
    }
    s->ctl_tokens -= 1.0;
    return 1;
}

static void send_close_frame(chat_ws_session *s, int code, const char *reason)
{
    char payload[125];
    apr_size_t len = 0;

    if (s->close_sent) {
        return;
    }
    s->close_sent = 1;
    if (code != CHAT_WS_CLOSE_NO_STATUS) {
        apr_size_t rlen = reason ? strlen(reason) : 0;
        if (rlen > sizeof(payload) - 2) {
            rlen = sizeof(payload) - 2;
        }
        payload[0] = (char)(code >> 8);
        payload[1] = (char)(code & 0xFF);
        if (rlen) {
            memcpy(payload + 2, reason, rlen);
        }
        len = 2 + rlen;
    }
    send_control(s, CHAT_WS_OP_CLOSE, payload, len);
}

int chat_ws_session_send(chat_ws_session *s, chat_outbuf *b)
{
    if (s->state != CHAT_WS_OPEN) {
        return -1;
    }
    if (s->q_bytes + b->len > s->lim->sendq_limit) {
        close_for_limit(s, "ChatSendQueueLimit (the client does not read)", "send queue full");
        return -1;
    }
    enqueue(s, b);
    if (s->owner && s->owner->defer) {
        if (!s->flush_due) {
            s->flush_due = 1;
            s->owner->defer(s);
        }
        return 0;
    }
    flush_output(s);
    return 0;
}

int chat_ws_session_send_raw(chat_ws_session *s, const char *data, apr_size_t len)
{
    chat_outbuf *b = malloc(sizeof(*b) + len);

    if (!b) {
        return -1;
    }
    b->refs = 1;
    b->len = len;
    memcpy(b->data, data, len);
    if (!enqueue(s, b)) {
        chat_outbuf_release(b);
        return -1;
    }
    chat_outbuf_release(b);
    s->holding = s->app->answers_open;
    return 0;
}

void chat_ws_session_unqueue(chat_ws_session *s)
{
    queue_clear(s);
    s->holding = 0;
}

void chat_ws_session_flush(chat_ws_session *s)
{
    s->flush_due = 0;
    flush_output(s);
}

int chat_ws_session_send_text(chat_ws_session *s, const char *text, apr_size_t len)
{
    chat_outbuf *b = chat_outbuf_frame(CHAT_WS_OP_TEXT, text, len);
    int rv;

    if (!b) {
        return -1;
    }
    rv = chat_ws_session_send(s, b);
    chat_outbuf_release(b);
    return rv;
}

void chat_ws_session_close(chat_ws_session *s, int code, const char *reason)
{
    if (s->state != CHAT_WS_OPEN) {
        return;
    }
    send_close_frame(s, code, reason);
    s->state = CHAT_WS_CLOSING;
    s->deadline = apr_time_now() + s->lim->close_timeout;
    flush_output(s);
}

/* A protocol violation: say why in the close frame and stop reading. */
static void fail(chat_ws_session *s, int code, const char *why)
{
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ap_server_conf,
                 "chat: session %" APR_UINT64_T_FMT " (%s): closing %d: %s", s->id, s->remote_ip,
                 code, why);
    send_close_frame(s, code, why);
    s->state = CHAT_WS_FLUSHING;
    s->deadline = apr_time_now() + s->lim->close_timeout;
}

static int cb_message(void *ctx, int opcode, const char *data, apr_size_t len)
{
    chat_ws_session *s = ctx;

    if (s->state == CHAT_WS_OPEN && s->app->on_message) {
        s->app->on_message(s, opcode, data, len);
    }
    return s->state >= CHAT_WS_FLUSHING;
}

static int cb_ping(void *ctx, const char *data, apr_size_t len)
{
    chat_ws_session *s = ctx;

    if (s->state != CHAT_WS_OPEN) {
        return 0;
    }
    if (!control_budget_take(s)) {
        close_for_limit(s, "ChatControlFrameRate (ping flood)", "too many control frames");
        return 1; /* stop feeding: nothing more is read */
    }
    send_pong(s, data, len);
    return s->state >= CHAT_WS_FLUSHING;
}

static int cb_pong(void *ctx, const char *data, apr_size_t len)
{
    chat_ws_session *s = ctx;

    (void)data;
    (void)len;
    if (s->state == CHAT_WS_OPEN && !control_budget_take(s)) {
        close_for_limit(s, "ChatControlFrameRate (pong flood)", "too many control frames");
        return 1;
    }
    return 0;
}

static int cb_close(void *ctx, int code, const char *reason, apr_size_t len)
{
    chat_ws_session *s = ctx;

    (void)reason;
    (void)len;
    /* Echo the peer's code (RFC 6455 5.5.1) unless we closed first. */
    send_close_frame(s, code, NULL);
    s->state = CHAT_WS_FLUSHING;
    s->deadline = apr_time_now() + s->lim->close_timeout;
    return 1;
}

static void feed(chat_ws_session *s, const char *buf, apr_size_t len)
{
    apr_uint64_t frames = s->dec.frames;
    int rc = chat_ws_decoder_feed(&s->dec, buf, len);

    if (s->dec.frames != frames) {
        s->last_rx = apr_time_now(); /* complete frames, not bytes, keep it alive */
    }
    if (rc >= 1000 && s->dec.failed) {
        fail(s, rc, s->dec.error);
    }
}

void chat_ws_session_start(chat_ws_session *s)
{
    if (!s->opened && s->app->on_open) {
        s->opened = 1;
        s->app->on_open(s);
    }
    s->opened = 1;
    if (s->pre_len && s->state < CHAT_WS_FLUSHING) {
        feed(s, s->pre, s->pre_len);
    }
    free(s->pre); /* fed: the decoder holds what it needs */
    s->pre = NULL;
    s->pre_len = 0;
    if (!s->holding) {
        flush_output(s); /* else the 101 leaves with the welcome, or at the tick */
    }
}

void chat_ws_session_readable(chat_ws_session *s, int *more)
{
    char buf[READ_CHUNK];
    apr_size_t total = 0;

    *more = 0;
    while (s->state < CHAT_WS_FLUSHING) {
        apr_size_t len = sizeof(buf);
        apr_status_t rv = chat_transport_read(&s->tr, buf, &len);

        if (rv == APR_SUCCESS) {
            feed(s, buf, len);
            total += len;
            if (total >= READ_BUDGET) {
                *more = 1;
                break;
            }
            continue;
        }
        if (APR_STATUS_IS_EAGAIN(rv)) {
            break;
        }
        /* EOF or a reset: the peer is gone, nobody to send a close to. */
        chat_ws_session_abort(s);
        return;
    }
    flush_output(s);
}

unsigned int chat_ws_session_events(const chat_ws_session *s)
{
    unsigned int ev = 0;

    if (s->state < CHAT_WS_FLUSHING) {
        ev |= EPOLLIN | EPOLLRDHUP;
    }
    else if (s->lingering) {
        ev |= EPOLLRDHUP; /* only the peer going; unread input must not wake the loop */
    }
    if (s->q_head || chat_transport_pending(&s->tr)) {
        ev |= EPOLLOUT;
    }
    return ev;
}

void chat_ws_session_writable(chat_ws_session *s)
{
    flush_output(s);
}

void chat_ws_session_tick(chat_ws_session *s, apr_time_t now)
{
    if (s->holding) {
        flush_output(s); /* the app's first frames did not come within a tick */
    }
    switch (s->state) {
    case CHAT_WS_OPEN:
        if (s->lim->idle_timeout && now - s->last_rx >= s->lim->idle_timeout) {
            chat_ws_session_close(s, CHAT_WS_CLOSE_GOING_AWAY, "idle timeout");
        }
        else if (s->lim->ping_interval && now - s->last_rx >= s->lim->ping_interval &&
                 now - s->last_ping >= s->lim->ping_interval) {
            s->last_ping = now;
            send_control(s, CHAT_WS_OP_PING, "", 0);
            flush_output(s);
        }
        break;
    case CHAT_WS_CLOSING:
    case CHAT_WS_FLUSHING:
        if (now >= s->deadline) {
            chat_ws_session_abort(s);
        }
        break;
    default:
        break;
    }
}

void chat_ws_session_abort(chat_ws_session *s)
{
    if (s->state == CHAT_WS_DEAD) {
        return;
    }
    /* The app hears of it at the end of the reactor's turn (chat_reactor.c
     * bury()): a write error in the middle of a broadcast must not free the
     * member the broadcast is iterating over. */
    s->state = CHAT_WS_DEAD;
    s->owner->drop(s);
}

/* ---- live hand-over ----------------------------------------------------- */

/* The most a record may carry back: a full send queue and a half-read
 * message with its frame headers. */
#define CARRY_MAX (64 * 1024 * 1024)

void chat_ws_session_save(const chat_ws_session *s, chat_wire *w)
{
    apr_time_t now = apr_time_now();
    const chat_outq_item *it;
    apr_size_t unread_len = 0;
    char *unread = chat_ws_decoder_unread(&s->dec, &unread_len);

    chat_wire_put_f64(w, s->ctl_tokens);
    chat_wire_put_i64(w, now - s->ctl_at);
    chat_wire_put_i64(w, now - s->last_rx);
    chat_wire_put_i64(w, now - s->last_ping);
    chat_wire_put_u32(w, (apr_uint32_t)(s->q_bytes));
    for (it = s->q_head; it; it = it->next) {
        chat_wire_put_bytes(w, it->buf->data + it->off, it->buf->len - it->off);
    }
    chat_wire_put_bytes(w, "", 0); /* the end of the queue */
    chat_wire_put_bytes(w, unread, unread_len);
    free(unread);
}

/* age as a time in this process, never in the future */
static apr_time_t session_since(apr_time_t now, apr_int64_t age)
{
    return age > 0 && age < now ? now - age : now;
}

int chat_ws_session_load(chat_ws_session *s, chat_wire_reader *r, int fd)
{
    apr_time_t now = apr_time_now();
    chat_outq_item *first = NULL, *last = NULL, **tail = &first;
    apr_size_t n, total = 0;
    const char *bytes;

    s->ctl_tokens = chat_wire_get_f64(r);
    if (!(s->ctl_tokens >= 0 && s->ctl_tokens <= s->lim->ctl_burst)) {
        s->ctl_tokens = s->lim->ctl_burst; /* NaN, or a budget the new limits do not give */
    }
    s->ctl_at = session_since(now, chat_wire_get_i64(r));
    s->last_rx = session_since(now, chat_wire_get_i64(r));
    s->last_ping = session_since(now, chat_wire_get_i64(r));
    chat_wire_get_u32(r); /* the queue's size, for the record's reader */
    while ((bytes = chat_wire_get_bytes(r, CARRY_MAX, &n)) && n > 0) {
        chat_outbuf *b = malloc(sizeof(*b) + n);
        chat_outq_item *it = malloc(sizeof(*it));
        total += n;
        if (!b || !it || total > CARRY_MAX) {
            free(b);
            free(it);
            r->failed = 1;
            break;
        }
        b->refs = 1; /* raw bytes of frames already encoded: sent as they are */
        b->len = n;
        memcpy(b->data, bytes, n);
        it->buf = b;
        it->off = 0;
        it->next = NULL;
        *tail = last = it;
        tail = &it->next;
    }
    bytes = chat_wire_get_bytes(r, CARRY_MAX, &n);
    if (r->failed) {
        while (first) {
            chat_outq_item *next = first->next;
            chat_outbuf_release(first->buf);
            free(first);
            first = next;
        }
        return -1;
    }
    /* the unsent bytes go before what queued here while parked */
    if (first) {
        last->next = s->q_head;
        if (!s->q_head) {
            s->q_tail = last;
        }
        s->q_head = first;
        s->q_bytes += total;
    }
    if (n) {
        char *pre = malloc(n);
        if (!pre) {
            return -1;
        }
        memcpy(pre, bytes, n);
        free(s->pre);
        s->pre = pre;
        s->pre_len = n;
    }
    chat_transport_init_raw(&s->tr, fd);
    return 0;
}

void chat_ws_session_open_parked(chat_ws_session *s)
{
    s->parked = 1;
    if (!s->opened && s->app->on_open) {
        s->opened = 1;
        s->app->on_open(s);
    }
    s->opened = 1;
}
