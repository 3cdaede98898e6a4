/* Live hand-over between children: see chat_handover.h. The protocol, on
 * one Unix-domain connection from the leaving child (L) to the taking one (T):
 *
 *   T: HELLO    version, how many sessions it holds, whether it is stopping
 *   L: PREPARE  the marker, then who each session is (app, server, URI,
 *               address, member)
 *   T: READY    which it parked, once their rooms are subscribed
 *   L: STATE*   each cut session's state, its socket by SCM_RIGHTS
 *   L: END
 *   T: ACK      how many it loaded
 *   L: COMMIT   they are T's: L closes its descriptors without a word
 *
 * Until COMMIT a session is L's: if anything fails before, T drops what it
 * parked without touching the socket and L closes the session with 1001. */
#include <httpd.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ap_mpm.h>
#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_main.h>
#include <http_protocol.h>
#include <http_request.h>

#include "chat_handover.h"
#include "chat_handover_move.h"
#include "chat_handover_wire.h"
#include "chat_ws_upgrade.h"

APLOG_USE_MODULE(chat);

#define WIRE_VERSION 1
#define STEP_TIMEOUT apr_time_from_sec(10) /* one message or one task */
#define CUT_TIMEOUT  apr_time_from_sec(3)  /* markers coming back through Redis */
#define MAX_TARGETS  64

static chat_reactor *child_reactor;
static const chat_srv_conf *child_sc;
static int listen_fd = -1;
static apr_thread_t *taker, *leaver;
static apr_pool_t *leaver_pool; /* made on the main thread, used by one thread creation */
static volatile int leaving_started;
/* sessions promised to this child (READY sent) and not yet in its loop: its
 * own leaving waits for them, then moves them on */
static apr_uint32_t taking;
static apr_uint32_t handovers;

void chat_handover_app(const chat_ws_app *app)
{
    chat_handover_move_app(app);
}

/* ---- batches and tasks ---------------------------------------------------- */

static chat_handover_batch *batch_create(void)
{
    apr_allocator_t *alloc;
    apr_pool_t *p;
    chat_handover_batch *b;

    /* this thread's own allocator: it never races another thread's pool */
    if (apr_allocator_create(&alloc) != APR_SUCCESS) {
        return NULL;
    }
    if (apr_pool_create_ex(&p, NULL, NULL, alloc) != APR_SUCCESS) {
        apr_allocator_destroy(alloc);
        return NULL;
    }
    apr_allocator_owner_set(alloc, p);
    b = apr_pcalloc(p, sizeof(*b));
    b->pool = p;
    chat_wire_init(&b->prepare);
    if (apr_thread_mutex_create(&b->lock, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS ||
        apr_thread_cond_create(&b->cond, p) != APR_SUCCESS) {
        apr_pool_destroy(p);
        return NULL;
    }
    return b;
}

static void batch_destroy(chat_handover_batch *b)
{
    int i;

    for (i = 0; i < b->n; i++) {
        chat_wire_free(&b->items[i].record);
    }
    free(b->items);
    chat_wire_free(&b->prepare);
    apr_pool_destroy(b->pool);
}

/* Run fn on the reactor's thread and wait for it. -1 when it did not run in
 * time: the batch may still be used by it later and must not be freed. */
static int batch_call(chat_handover_batch *b, chat_reactor_fn fn)
{
    apr_time_t until = apr_time_now() + STEP_TIMEOUT;
    apr_uint64_t seen;
    int done;

    apr_thread_mutex_lock(b->lock);
    seen = b->signals;
    apr_thread_mutex_unlock(b->lock);
    if (chat_reactor_post(child_reactor, fn, b) != APR_SUCCESS) {
        return -1;
    }
    apr_thread_mutex_lock(b->lock);
    while (b->signals == seen && apr_time_now() < until) {
        apr_thread_cond_timedwait(b->cond, b->lock, until - apr_time_now());
    }
    done = b->signals != seen;
    apr_thread_mutex_unlock(b->lock);
    return done ? 0 : -1;
}

static int send_u32s(int fd, int type, const apr_uint32_t *v, int n)
{
    chat_wire w;
    int i, rv;

    chat_wire_init(&w);
    for (i = 0; i < n; i++) {
        chat_wire_put_u32(&w, v[i]);
    }
    rv = w.failed
             ? -1
             : chat_handover_send(fd, type, w.buf, w.len, NULL, 0, apr_time_now() + STEP_TIMEOUT);
    chat_wire_free(&w);
    return rv;
}

/* A message of the type wanted, without descriptors: its payload (free it). */
static char *recv_plain(int fd, int want, apr_size_t *len, apr_time_t deadline)
{
    int fds[CHAT_HANDOVER_MAX_FDS], nfds, type, i;
    char *buf;

    if (chat_handover_recv(fd, &type, &buf, len, fds, &nfds, deadline) < 0) {
        return NULL;
    }
    for (i = 0; i < nfds; i++) {
        close(fds[i]);
    }
    if (type != want || nfds) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- the leaving child ----------------------------------------------------- */

/* The least loaded live child that answers, connected; -1 when none did
 * before the deadline (a restart waits for the new generation). */
static int leaver_connect(pid_t *to, apr_time_t until)
{
    for (;;) {
        pid_t pids[MAX_TARGETS];
        int n = chat_handover_candidates(pids, MAX_TARGETS), i, best = -1;
        apr_uint32_t best_load = UINT_MAX;

        for (i = 0; i < n; i++) {
            apr_size_t len;
            char *hello;
            int fd = chat_handover_connect(pids[i]);
            chat_wire_reader rd;
            apr_uint32_t version, load, stopping;

            if (fd < 0) {
                continue; /* not listening yet (a child still starting), or gone */
            }
            hello = recv_plain(fd, CHAT_HANDOVER_HELLO, &len, apr_time_now() + STEP_TIMEOUT);
            chat_wire_reader_init(&rd, hello, hello ? len : 0);
            version = chat_wire_get_u32(&rd);
            load = chat_wire_get_u32(&rd);
            stopping = chat_wire_get_u32(&rd);
            free(hello);
            if (rd.failed || version != WIRE_VERSION || stopping || load >= best_load) {
                close(fd);
                continue;
            }
            if (best >= 0) {
                close(best);
            }
            best = fd;
            best_load = load;
            *to = pids[i];
        }
        if (best >= 0) {
            return best;
        }
        /* a child of the new generation, or the one replacing us, starts
         * soon, unless the whole server is stopping */
        if (apr_time_now() >= until || !chat_handover_server_open()) {
            return -1;
        }
        apr_sleep(apr_time_from_msec(100));
    }
}

/* STATE messages for the cut sessions, CHAT_HANDOVER_MAX_FDS a message. */
static int leaver_send_state(int fd, chat_handover_batch *b, int *sent)
{
    int i = 0;

    *sent = 0;
    while (i < b->n) {
        int fds[CHAT_HANDOVER_MAX_FDS], nfds = 0, rv;
        chat_wire w, body;

        chat_wire_init(&body);
        for (; i < b->n && nfds < CHAT_HANDOVER_MAX_FDS; i++) {
            chat_handover_item *it = &b->items[i];
            if (it->state != CHAT_ITEM_CUT) {
                continue;
            }
            chat_wire_put_u32(&body, it->idx);
            chat_wire_put_bytes(&body, it->record.buf, it->record.len);
            fds[nfds++] = it->fd;
        }
        if (!nfds) {
            chat_wire_free(&body);
            break;
        }
        chat_wire_init(&w);
        chat_wire_put_u32(&w, (apr_uint32_t)nfds);
        chat_wire_put_raw(&w, body.buf, body.len);
        rv = w.failed || body.failed ? -1
                                     : chat_handover_send(fd, CHAT_HANDOVER_STATE, w.buf, w.len,
                                                          fds, nfds, apr_time_now() + STEP_TIMEOUT);
        chat_wire_free(&w);
        chat_wire_free(&body);
        if (rv < 0) {
            return -1;
        }
        *sent += nfds;
    }
    return chat_handover_send(fd, CHAT_HANDOVER_END, "", 0, NULL, 0, apr_time_now() + STEP_TIMEOUT);
}

/* Which items the taker parked (READY): the others stay here. */
static int leaver_ready(chat_handover_batch *b, const char *buf, apr_size_t len)
{
    chat_wire_reader rd;
    apr_uint32_t k, i;
    char *parked = calloc((apr_size_t)b->n + 1, 1);

    if (!parked) {
        return -1;
    }
    chat_wire_reader_init(&rd, buf, len);
    k = chat_wire_get_u32(&rd);
    for (i = 0; i < k && !rd.failed; i++) {
        apr_uint32_t idx = chat_wire_get_u32(&rd);
        if (idx < (apr_uint32_t)b->n) {
            parked[idx] = 1;
        }
    }
    for (i = 0; i < (apr_uint32_t)b->n; i++) {
        if (!parked[i]) {
            b->items[i].state = CHAT_ITEM_GONE;
        }
    }
    free(parked);
    return rd.failed ? -1 : 0;
}

/* Hand the reactor's sessions over; returns how many moved, or -1 with
 * *why set when none did, -2 when none did but nothing changed here (the
 * taker refused: it may be stopping too) and another child may take them.
 * The batch is left to leak when a task timed out. */
static int leaver_run(chat_reactor *r, pid_t *to, apr_time_t until, int *waiting, const char **why)
{
    chat_handover_batch *b = NULL;
    int fd, moved = -1, sent = 0, cut = 0, i, retry = 0;
    char *buf = NULL;
    apr_size_t len;

    *waiting = 0;
    if (!chat_reactor_session_count(r)) {
        return 0; /* nothing to hand over: no need to wait for a taker */
    }
    if ((fd = leaver_connect(to, until)) < 0) {
        *why = "no live child to take them";
        return -1;
    }
    if (!(b = batch_create())) {
        *why = "out of memory";
        goto out;
    }
    apr_snprintf(b->marker, sizeof(b->marker), "%ld.%u", (long)getpid(), ++handovers);
    if (batch_call(b, chat_handover_move_snapshot) < 0) {
        *why = "the I/O thread did not answer";
        b = NULL;
        goto out;
    }
    *waiting = b->waiting;
    if (!b->n) {
        moved = 0;
        goto out;
    }
    if (chat_handover_send(fd, CHAT_HANDOVER_PREPARE, b->prepare.buf, b->prepare.len, NULL, 0,
                           apr_time_now() + STEP_TIMEOUT) < 0 ||
        !(buf = recv_plain(fd, CHAT_HANDOVER_READY, &len, apr_time_now() + 2 * STEP_TIMEOUT)) ||
        leaver_ready(b, buf, len) < 0) {
        *why = "the taking child did not get ready";
        retry = 1; /* nothing was cut: another child may take them */
        goto out;
    }
    free(buf);
    buf = NULL;
    if (batch_call(b, chat_handover_move_cut) < 0) {
        *why = "the I/O thread did not answer";
        b = NULL;
        goto out;
    }
    /* members move when their room's marker comes back from Redis */
    apr_thread_mutex_lock(b->lock);
    {
        apr_time_t until = apr_time_now() + CUT_TIMEOUT;
        while (b->marked > 0 && apr_time_now() < until) {
            apr_thread_cond_timedwait(b->cond, b->lock, until - apr_time_now());
        }
    }
    i = b->marked;
    apr_thread_mutex_unlock(b->lock);
    if (i > 0 && batch_call(b, chat_handover_move_abandon) < 0) {
        *why = "the I/O thread did not answer";
        b = NULL;
        goto out;
    }
    for (i = 0; i < b->n; i++) {
        cut += b->items[i].state == CHAT_ITEM_CUT;
    }
    if (leaver_send_state(fd, b, &sent) < 0 ||
        !(buf = recv_plain(fd, CHAT_HANDOVER_ACK, &len, apr_time_now() + STEP_TIMEOUT)) ||
        chat_handover_send(fd, CHAT_HANDOVER_COMMIT, "", 0, NULL, 0,
                           apr_time_now() + STEP_TIMEOUT) < 0) {
        *why = "the taking child stopped answering";
        goto out;
    }
    moved = cut;
    if (batch_call(b, chat_handover_move_done) < 0) {
        b = NULL;
    }
out:
    free(buf);
    if (moved < 0 && b && batch_call(b, chat_handover_move_fail) < 0) {
        b = NULL;
    }
    if (b) {
        batch_destroy(b);
    }
    if (fd >= 0) {
        close(fd);
    }
    return moved < 0 && retry ? -2 : moved;
}

static void *APR_THREAD_FUNC leaver_main(apr_thread_t *thd, void *data)
{
    chat_reactor *r = data;
    apr_time_t start = apr_time_now();
    apr_time_t until = start + chat_settings_handover_wait(child_sc);
    const char *why = NULL;
    int moved = 0, rounds = 0, n, waiting;
    pid_t to = 0;

    /* Rounds until one finds nothing to move: sessions still joining, or
     * adopted since the last snapshot (upgrades the workers were finishing,
     * sessions this child was taking itself), go in the next one. */
    for (;;) {
        n = leaver_run(r, &to, until, &waiting, &why);
        if (n > 0) {
            moved += n;
        }
        if (n == -2 && apr_time_now() < until) {
            apr_sleep(apr_time_from_msec(100)); /* its replacement starts soon */
            continue;
        }
        if (n < 0 ||
            !(waiting || n > 0 || chat_ws_upgrade_pending() || apr_atomic_read32(&taking)) ||
            ++rounds >= 50 || apr_time_now() >= until) {
            break;
        }
        /* members still joining, or a worker still upgrading one */
        apr_sleep(apr_time_from_msec(waiting ? 50 : 20));
    }
    if (n >= 0 && moved > 0) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, ap_server_conf,
                     "chat: handed %d WebSocket(s) to child %ld in %" APR_TIME_T_FMT " ms", moved,
                     (long)to, apr_time_as_msec(apr_time_now() - start));
    }
    else if (n >= 0) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ap_server_conf,
                     "chat: no WebSockets to hand over");
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, ap_server_conf,
                     "chat: %d WebSocket(s) handed over, the rest not (%s): closing them with "
                     "1001",
                     moved, why);
    }
    /* what stayed gets 1001 now */
    chat_reactor_hold(r, 0);
    chat_reactor_shutdown(r);
    apr_thread_exit(thd, APR_SUCCESS);
    return NULL;
}

int chat_handover_begin(chat_reactor *r)
{
    if (!child_sc || !chat_settings_handover(child_sc) || r != child_reactor || leaving_started) {
        return -1;
    }
    leaving_started = 1;
    chat_reactor_hold(r, 1);
    if (!leaver_pool ||
        apr_thread_create(&leaver, NULL, leaver_main, r, leaver_pool) != APR_SUCCESS) {
        leaver = NULL;
        chat_reactor_hold(r, 0);
        return -1;
    }
    return 0;
}

/* ---- the taking child ------------------------------------------------------ */

/* This process's settings for a session that came to server host:port at
 * uri: the location's configuration merged as for a request to it. */
static int taker_settings(apr_pool_t *p, const char *host, apr_uint32_t port, const char *uri,
                          chat_handover_item *it)
{
    server_rec *s, *found = ap_server_conf;
    conn_rec *c;
    request_rec *r;

    for (s = ap_server_conf; s; s = s->next) {
        if (s->server_hostname && !strcasecmp(s->server_hostname, host) && s->port == port) {
            found = s;
            break;
        }
    }
    c = apr_pcalloc(p, sizeof(*c));
    c->pool = p;
    c->base_server = found;
    c->conn_config = ap_create_conn_config(p);
    c->notes = apr_table_make(p, 1);
    c->bucket_alloc = apr_bucket_alloc_create(p);
    c->client_ip = c->local_ip = "127.0.0.1";
    if (apr_sockaddr_info_get(&c->client_addr, "127.0.0.1", APR_INET, 0, 0, p) != APR_SUCCESS) {
        return -1;
    }
    c->local_addr = c->client_addr;
    r = ap_create_request(c);
    r->method = "GET";
    r->method_number = M_GET;
    r->protocol = "HTTP/1.1";
    r->proto_num = HTTP_VERSION(1, 1);
    r->hostname = found->server_hostname;
    r->uri = apr_pstrdup(p, uri);
    if (ap_location_walk(r) != OK) {
        return -1;
    }
    it->server = found;
    it->uri = r->uri;
    it->sc = ap_get_module_config(found->module_config, &chat_module);
    it->dc = ap_get_module_config(r->per_dir_config, &chat_module);
    chat_settings_ws_limits(it->dc, it->app->max_message, &it->lim);
    return 0;
}

/* Items from a PREPARE (they point into buf). */
static int taker_prepare(chat_handover_batch *b, const char *buf, apr_size_t len)
{
    chat_wire_reader rd;
    apr_uint32_t n, i;

    chat_wire_reader_init(&rd, buf, len);
    if (chat_wire_get_u32(&rd) != WIRE_VERSION ||
        chat_wire_get_str(&rd, b->marker, sizeof(b->marker)) < 0) {
        return -1;
    }
    n = chat_wire_get_u32(&rd);
    if (rd.failed || n > len / 8 || !(b->items = calloc(n ? n : 1, sizeof(*b->items)))) {
        return -1;
    }
    for (i = 0; i < n && !rd.failed; i++) {
        chat_handover_item *it = &b->items[i];
        char app[32], host[256], uri[2048];
        apr_uint32_t port;

        it->fd = -1;
        it->idx = chat_wire_get_u32(&rd);
        chat_wire_get_str(&rd, app, sizeof(app));
        chat_wire_get_str(&rd, host, sizeof(host));
        port = chat_wire_get_u32(&rd);
        chat_wire_get_str(&rd, uri, sizeof(uri));
        chat_wire_get_str(&rd, it->remote_ip, sizeof(it->remote_ip));
        it->member = chat_wire_get_bytes(&rd, len, &it->member_len);
        if (rd.failed || it->idx != i) {
            break;
        }
        it->app = chat_handover_app_named(app);
        if (it->app && taker_settings(b->pool, host, port, uri, it) < 0) {
            it->app = NULL; /* nothing here for it: it stays with the leaver */
        }
    }
    b->n = (int)i;
    return rd.failed ? -1 : 0;
}

/* STATE: records and sockets onto the parked items. */
static void taker_state(chat_handover_batch *b, const char *buf, apr_size_t len, int *fds, int nfds)
{
    chat_wire_reader rd;
    apr_uint32_t k, i;

    chat_wire_reader_init(&rd, buf, len);
    k = chat_wire_get_u32(&rd);
    for (i = 0; i < k && (int)i < nfds && !rd.failed; i++) {
        apr_uint32_t idx = chat_wire_get_u32(&rd);
        apr_size_t n;
        const char *rec = chat_wire_get_bytes(&rd, len, &n);
        chat_handover_item *it = idx < (apr_uint32_t)b->n ? &b->items[idx] : NULL;

        if (rd.failed || !it || it->state != CHAT_ITEM_PARKED || it->fd >= 0) {
            continue;
        }
        it->state_rec = rec;
        it->state_len = n;
        it->fd = fds[i];
        fds[i] = -1;
    }
    for (i = 0; (int)i < nfds; i++) {
        if (fds[i] >= 0) {
            close(fds[i]); /* not for a session parked here */
        }
    }
}

/* This child is stopping: it takes no sessions (they would have to move on
 * at once, or get 1001 here instead of from the leaver). */
static int taker_stopping(void)
{
    int state = AP_MPMQ_RUNNING;

    return leaving_started ||
           (ap_mpm_query(AP_MPMQ_MPM_STATE, &state) == APR_SUCCESS && state == AP_MPMQ_STOPPING);
}

/* One leaving child's sessions. */
static void taker_run(int fd)
{
    chat_handover_batch *b = batch_create();
    apr_uint32_t hello[3] = {WIRE_VERSION, chat_sessions_open(), 0};
    char *prepare = NULL, *buf;
    char **states = NULL;
    int nstates = 0, i, ok = 0, promised = 0;
    apr_size_t len;
    apr_time_t until;

    hello[2] = (apr_uint32_t)taker_stopping();
    if (!b || send_u32s(fd, CHAT_HANDOVER_HELLO, hello, 3) < 0 || hello[2] ||
        !(prepare = recv_plain(fd, CHAT_HANDOVER_PREPARE, &len, apr_time_now() + STEP_TIMEOUT)) ||
        taker_prepare(b, prepare, len) < 0 || batch_call(b, chat_handover_move_park) < 0) {
        goto out;
    }
    /* the leaver cuts at its markers only once every room listens here */
    until = apr_time_now() + STEP_TIMEOUT;
    while (batch_call(b, chat_handover_move_check) == 0 && !b->ready && apr_time_now() < until) {
        apr_sleep(apr_time_from_msec(20));
    }
    {
        apr_uint32_t *parked = malloc(sizeof(*parked) * ((apr_size_t)b->n + 1));
        int k = 0;
        for (i = 0; parked && b->ready && i < b->n; i++) {
            if (b->items[i].state == CHAT_ITEM_PARKED) {
                parked[++k] = (apr_uint32_t)i;
            }
        }
        if (parked) {
            parked[0] = (apr_uint32_t)k;
        }
        if (!parked || taker_stopping()) {
            free(parked);
            goto drop;
        }
        apr_atomic_inc32(&taking);
        promised = 1;
        if (send_u32s(fd, CHAT_HANDOVER_READY, parked, k + 1) < 0) {
            free(parked);
            goto drop;
        }
        free(parked);
    }
    for (;;) {
        int fds[CHAT_HANDOVER_MAX_FDS], nfds, type;
        char **grown;

        if (chat_handover_recv(fd, &type, &buf, &len, fds, &nfds, apr_time_now() + STEP_TIMEOUT) <
            0) {
            goto drop;
        }
        if (type == CHAT_HANDOVER_END) {
            free(buf);
            break;
        }
        if (type != CHAT_HANDOVER_STATE ||
            !(grown = realloc(states, sizeof(*states) * (apr_size_t)(nstates + 1)))) {
            free(buf);
            for (i = 0; i < nfds; i++) {
                close(fds[i]);
            }
            goto drop;
        }
        states = grown;
        states[nstates++] = buf;
        taker_state(b, buf, len, fds, nfds);
    }
    if (batch_call(b, chat_handover_move_load) < 0) {
        b = NULL;
        goto out;
    }
    {
        apr_uint32_t loaded = 0;
        for (i = 0; i < b->n; i++) {
            loaded += b->items[i].state == CHAT_ITEM_LOADED;
        }
        if (send_u32s(fd, CHAT_HANDOVER_ACK, &loaded, 1) < 0 ||
            !(buf = recv_plain(fd, CHAT_HANDOVER_COMMIT, &len, apr_time_now() + STEP_TIMEOUT))) {
            goto drop;
        }
        free(buf);
    }
    ok = 1;
    if (batch_call(b, chat_handover_move_activate) < 0) {
        b = NULL;
    }
    goto out;
drop:
    /* not ours: drop what was parked without touching a socket */
    if (b && batch_call(b, chat_handover_move_discard) < 0) {
        b = NULL;
    }
out:
    if (promised) {
        apr_atomic_dec32(&taking);
    }
    if (!ok && b) {
        for (i = 0; i < b->n; i++) {
            if (b->items[i].fd >= 0) {
                close(b->items[i].fd);
                b->items[i].fd = -1;
            }
        }
    }
    if (b) {
        batch_destroy(b);
        for (i = 0; i < nstates; i++) {
            free(states[i]);
        }
        free(states);
        free(prepare);
    }
}

static void *APR_THREAD_FUNC taker_main(apr_thread_t *thd, void *data)
{
    int fd;

    (void)data;
    while ((fd = chat_handover_accept(listen_fd)) >= 0) {
        taker_run(fd);
        close(fd);
    }
    apr_thread_exit(thd, APR_SUCCESS);
    return NULL;
}

apr_status_t chat_handover_child_init(apr_pool_t *pchild, chat_reactor *r, const chat_srv_conf *sc)
{
    apr_status_t rv;

    child_reactor = r;
    child_sc = sc;
    if (!chat_settings_handover(sc)) {
        return APR_SUCCESS;
    }
    /* the leaving thread is started from the child_stopping hook, on a thread
     * that must not allocate from pools other threads use */
    if ((rv = apr_pool_create(&leaver_pool, pchild)) != APR_SUCCESS) {
        return rv;
    }
    if ((listen_fd = chat_handover_listen()) < 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    if ((rv = apr_thread_create(&taker, NULL, taker_main, NULL, pchild)) != APR_SUCCESS) {
        close(listen_fd);
        listen_fd = -1;
        taker = NULL;
    }
    return rv;
}

void chat_handover_child_exit(void)
{
    apr_status_t rv;

    if (leaver) {
        apr_thread_join(&rv, leaver); /* it ends by shutting the reactor down */
        leaver = NULL;
    }
    if (taker) {
        shutdown(listen_fd, SHUT_RDWR); /* accept() returns: the thread ends */
        apr_thread_join(&rv, taker);
        taker = NULL;
    }
    if (listen_fd >= 0) {
        close(listen_fd);
        listen_fd = -1;
    }
}
