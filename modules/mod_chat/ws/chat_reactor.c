/* The I/O loop; see chat_reactor.h. Linux epoll and eventfd: the loop must
 * hold tens of thousands of sockets per child at no per-socket thread. */
#include <httpd.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <apr_atomic.h>
#include <apr_thread_mutex.h>
#include <ap_mpm.h>
#include <http_log.h>
#include <http_main.h>

#include "chat_reactor.h"

APLOG_USE_MODULE(chat);

#define MAX_EVENTS 256
#define TICK_MS    250

typedef struct chat_tick_hook {
    struct chat_tick_hook *next;
    chat_reactor_tick_fn fn;
    void *data;
} chat_tick_hook;

typedef struct chat_task {
    struct chat_task *next;
    chat_reactor_fn fn;
    void *arg;
} chat_task;

struct chat_reactor {
    int epfd;
    int evfd;
    int private_loop;

    apr_thread_mutex_t *lock; /* guards inbox, tasks, shutdown_req */
    chat_ws_session *inbox;
    chat_task *tasks_head, *tasks_tail;
    int shutdown_req;
    int held; /* a hand-over runs: the MPM's stop waits for it */

    /* reactor thread only */
    int shutting_down;
    apr_time_t shutdown_deadline;
    chat_ws_session *sessions; /* doubly linked list */
    apr_uint32_t nsessions;
    chat_ws_session *ready;
    chat_ws_session *flush_due; /* sessions with frames queued this turn */
    chat_ws_session *graveyard;
    apr_time_t next_tick;

    chat_tick_hook *tick_hooks;
    chat_reactor_linger_fn linger;
    void *linger_data;
    void *app_data;
    apr_pool_t *pool;

    apr_thread_t *thread;
    chat_reactor *reg_next; /* registry for chat_reactor_shutdown_all */
};

static apr_uint32_t sessions_open;

/* ChatReconnectSpread in ms, and this process's seed for the hints. */
static apr_uint32_t reconnect_spread_ms;
static apr_uint64_t reconnect_seed;

/* A private loop of a non-threaded MPM while it sits in epoll_wait: the one
 * moment a signal handler may use its sessions (prefork's SIGTERM handler
 * exits the process without returning to us). */
static chat_reactor *volatile idle_private_loop;

/* Every live reactor of this process, so the child_stopping hook can reach
 * them. Created at module load in the parent, before any thread exists. */
static apr_thread_mutex_t *registry_lock;
static chat_reactor *registry;

apr_status_t chat_reactor_child_init(apr_pool_t *pchild)
{
    return apr_thread_mutex_create(&registry_lock, APR_THREAD_MUTEX_DEFAULT, pchild);
}

void chat_reactor_set_reconnect_spread(int seconds)
{
    reconnect_spread_ms = (apr_uint32_t)seconds * 1000;
    reconnect_seed = ((apr_uint64_t)getpid() << 32) ^ (apr_uint64_t)apr_time_now();
}

/* 1001 from a stopping server, with a reconnect delay in [0, spread] per
 * session, so that clients do not all come back in the same second. No
 * stdio: prefork's SIGTERM handler runs this. (chat_reactor.h) */
void chat_reactor_close_going_away(chat_ws_session *s)
{
    static const char prefix[] = "server shutting down; retry-after-ms=";
    char reason[sizeof(prefix) + 12], digits[12];
    apr_uint64_t x = reconnect_seed + s->id * APR_UINT64_C(0x9E3779B97F4A7C15);
    apr_uint32_t ms;
    size_t len = sizeof(prefix) - 1;
    int n = 0;

    /* splitmix64: neighbouring ids give unrelated delays */
    x = (x ^ (x >> 30)) * APR_UINT64_C(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)) * APR_UINT64_C(0x94D049BB133111EB);
    x ^= x >> 31;
    ms = (apr_uint32_t)(x % ((apr_uint64_t)reconnect_spread_ms + 1));
    memcpy(reason, prefix, len);
    do {
        digits[n++] = (char)('0' + ms % 10);
        ms /= 10;
    } while (ms);
    while (n) {
        reason[len++] = digits[--n];
    }
    reason[len] = '\0';
    chat_ws_session_close(s, CHAT_WS_CLOSE_GOING_AWAY, reason);
}

static apr_status_t reactor_cleanup(void *data)
{
    chat_reactor *r = data;
    chat_reactor **pp;

    apr_thread_mutex_lock(registry_lock);
    for (pp = &registry; *pp; pp = &(*pp)->reg_next) {
        if (*pp == r) {
            *pp = r->reg_next;
            break;
        }
    }
    apr_thread_mutex_unlock(registry_lock);
    if (r->epfd >= 0) {
        close(r->epfd);
    }
    if (r->evfd >= 0) {
        close(r->evfd);
    }
    return APR_SUCCESS;
}

apr_status_t chat_reactor_create(apr_pool_t *parent, int private_loop, chat_reactor **out)
{
    chat_reactor *r;
    struct epoll_event ev;
    apr_allocator_t *allocator;
    apr_pool_t *p;
    apr_status_t rv;

    /* The reactor's thread allocates on its own: a pool with its own
     * allocator, so it never races the thread that made it. */
    if ((rv = apr_allocator_create(&allocator)) != APR_SUCCESS) {
        return rv;
    }
    apr_allocator_max_free_set(allocator, 4096 * 64);
    if ((rv = apr_pool_create_ex(&p, parent, NULL, allocator)) != APR_SUCCESS) {
        apr_allocator_destroy(allocator);
        return rv;
    }
    apr_allocator_owner_set(allocator, p);
    r = apr_pcalloc(p, sizeof(*r));
    r->pool = p;
    r->private_loop = private_loop;
    r->epfd = r->evfd = -1;
    apr_pool_cleanup_register(p, r, reactor_cleanup, apr_pool_cleanup_null);
    if (!registry_lock) {
        apr_pool_destroy(p);
        return APR_EINIT;
    }
    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    r->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = NULL; /* the wakeup fd */
    if (r->epfd < 0 || r->evfd < 0 || epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->evfd, &ev) < 0) {
        rv = APR_FROM_OS_ERROR(errno);
        apr_pool_destroy(p);
        return rv;
    }
    if ((rv = apr_thread_mutex_create(&r->lock, APR_THREAD_MUTEX_DEFAULT, p)) != APR_SUCCESS) {
        apr_pool_destroy(p);
        return rv;
    }
    apr_thread_mutex_lock(registry_lock);
    r->reg_next = registry;
    registry = r;
    apr_thread_mutex_unlock(registry_lock);
    *out = r;
    return APR_SUCCESS;
}

static int reactor_held(chat_reactor *r);

/* Only the first item into an empty inbox wakes the loop: it reads the
 * eventfd before it takes the inbox, so later ones are taken with it. */
static void wake(chat_reactor *r)
{
    uint64_t one = 1;
    ssize_t n = write(r->evfd, &one, sizeof(one));

    (void)n; /* EAGAIN means a wakeup is already pending */
}

static void reactor_update(chat_ws_session *s);
static void reactor_drop(chat_ws_session *s);
static void reactor_defer(chat_ws_session *s);

/* What a session calls back into (chat_ws_session.h). */
static const chat_ws_owner reactor_owner = {reactor_update, reactor_drop, reactor_defer};

apr_status_t chat_reactor_adopt(chat_reactor *r, chat_ws_session *s)
{
    int idle;

    apr_thread_mutex_lock(r->lock);
    if (r->shutdown_req) {
        /* the loop may be past its last look at the inbox: a session left
         * there would hold its socket until the process ends */
        apr_thread_mutex_unlock(r->lock);
        return APR_EOF;
    }
    s->reactor = r;
    s->owner = &reactor_owner;
    s->released = 0; /* a hand-over that failed gives it back */
    s->next = r->inbox;
    r->inbox = s;
    idle = !s->next && !r->tasks_head;
    apr_thread_mutex_unlock(r->lock);
    if (idle) {
        wake(r); /* else the wake of the first in the inbox is due */
    }
    return APR_SUCCESS;
}

apr_status_t chat_reactor_post(chat_reactor *r, chat_reactor_fn fn, void *arg)
{
    chat_task *t = malloc(sizeof(*t));
    int idle;

    if (!t) {
        return APR_ENOMEM;
    }
    t->fn = fn;
    t->arg = arg;
    t->next = NULL;
    apr_thread_mutex_lock(r->lock);
    idle = !r->tasks_head && !r->inbox;
    if (r->tasks_tail) {
        r->tasks_tail->next = t;
    }
    else {
        r->tasks_head = t;
    }
    r->tasks_tail = t;
    apr_thread_mutex_unlock(r->lock);
    if (idle) {
        wake(r);
    }
    return APR_SUCCESS;
}

void chat_reactor_shutdown(chat_reactor *r)
{
    apr_thread_mutex_lock(r->lock);
    r->shutdown_req = 1;
    apr_thread_mutex_unlock(r->lock);
    wake(r);
}

void chat_reactor_shutdown_all(void)
{
    chat_reactor *r;

    if (!registry_lock) {
        return;
    }
    apr_thread_mutex_lock(registry_lock);
    for (r = registry; r; r = r->reg_next) {
        if (!reactor_held(r)) { /* a hand-over shuts it down when done */
            chat_reactor_shutdown(r);
        }
    }
    apr_thread_mutex_unlock(registry_lock);
}

static void reactor_update(chat_ws_session *s)
{
    chat_reactor *r = s->reactor;
    unsigned int want = chat_ws_session_events(s);
    struct epoll_event ev;

    if (s->state == CHAT_WS_DEAD || want == s->poll_events) {
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = want; /* EPOLLERR and EPOLLHUP are always reported */
    ev.data.ptr = &s->pollable;
    if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, s->tr.fd, &ev) == 0) {
        s->poll_events = want;
    }
}

/* A fan-out queues one frame per member per message; each socket gets all
 * of a turn's frames in one writev before the loop waits again: the writes
 * (most of the CPU, bench/compare.sh) shrink as the load grows. */
static void reactor_defer(chat_ws_session *s)
{
    chat_reactor *r = s->reactor;

    s->flush_next = r->flush_due;
    r->flush_due = s;
}

static void reactor_flush_due(chat_reactor *r)
{
    chat_ws_session *s;

    while ((s = r->flush_due) != NULL) {
        r->flush_due = s->flush_next;
        chat_ws_session_flush(s); /* may queue for others: they join the list */
    }
}

/* Out of the ready list, the flush list, the poll set and the session list. */
static void reactor_unlink(chat_reactor *r, chat_ws_session *s)
{
    if (s->flush_due) {
        chat_ws_session **pp;
        for (pp = &r->flush_due; *pp; pp = &(*pp)->flush_next) {
            if (*pp == s) {
                *pp = s->flush_next;
                break;
            }
        }
        s->flush_due = 0; /* what is queued goes with s (a hand-over) or is dropped */
    }
    if (s->in_ready) {
        chat_ws_session **pp;
        for (pp = &r->ready; *pp; pp = &(*pp)->ready_next) {
            if (*pp == s) {
                *pp = s->ready_next;
                break;
            }
        }
        s->in_ready = 0;
    }
    if (s->tr.fd >= 0) {
        epoll_ctl(r->epfd, EPOLL_CTL_DEL, s->tr.fd, NULL);
    }
    if (s->prev) {
        s->prev->next = s->next;
    }
    else {
        r->sessions = s->next;
    }
    if (s->next) {
        s->next->prev = s->prev;
    }
    s->prev = s->next = NULL;
    r->nsessions--;
    apr_atomic_dec32(&sessions_open);
}

static void reactor_drop(chat_ws_session *s)
{
    chat_reactor *r = s->reactor;

    reactor_unlink(r, s);
    chat_transport_close(&s->tr);
    s->next = r->graveyard;
    r->graveyard = s;
}

void chat_reactor_each(chat_reactor *r, void (*fn)(chat_ws_session *s, void *arg), void *arg)
{
    chat_ws_session *s, *next;

    for (s = r->sessions; s; s = next) {
        next = s->next;
        fn(s, arg);
    }
}

void chat_reactor_release(chat_reactor *r, chat_ws_session *s)
{
    reactor_unlink(r, s);
    s->poll_events = 0;
    /* epoll may have returned its readiness in this same turn: reading it
     * now would take the client's next message from the process it moves to */
    s->released = 1;
}

void chat_reactor_hold(chat_reactor *r, int on)
{
    apr_thread_mutex_lock(r->lock);
    r->held = on;
    apr_thread_mutex_unlock(r->lock);
}

static int reactor_held(chat_reactor *r)
{
    int held;

    apr_thread_mutex_lock(r->lock);
    held = r->held;
    apr_thread_mutex_unlock(r->lock);
    return held;
}

apr_status_t chat_reactor_watch(chat_reactor *r, chat_pollable *p, int fd, unsigned int events,
                                int modify)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = p;
    if (epoll_ctl(r->epfd, modify ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    return APR_SUCCESS;
}

void chat_reactor_unwatch(chat_reactor *r, int fd)
{
    epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, NULL);
}

void chat_reactor_add_tick(chat_reactor *r, chat_reactor_tick_fn fn, void *data)
{
    chat_tick_hook *h = apr_palloc(r->pool, sizeof(*h));

    h->fn = fn;
    h->data = data;
    h->next = r->tick_hooks;
    r->tick_hooks = h;
}

void chat_reactor_set_linger(chat_reactor *r, chat_reactor_linger_fn fn, void *data)
{
    r->linger = fn;
    r->linger_data = data;
}

void *chat_reactor_data(chat_reactor *r)
{
    return r->app_data;
}

void chat_reactor_set_data(chat_reactor *r, void *data)
{
    r->app_data = data;
}

apr_pool_t *chat_reactor_pool(chat_reactor *r)
{
    return r->pool;
}

int chat_reactor_is_private(chat_reactor *r)
{
    return r->private_loop;
}

int chat_reactor_stopping(chat_reactor *r)
{
    return r->shutting_down;
}

apr_uint32_t chat_reactor_session_count(chat_reactor *r)
{
    return r->nsessions;
}

apr_uint32_t chat_sessions_open(void)
{
    return apr_atomic_read32(&sessions_open);
}

static void take_inbox(chat_reactor *r)
{
    chat_ws_session *in, *s;
    chat_task *tasks;
    int shutdown_req;

    apr_thread_mutex_lock(r->lock);
    in = r->inbox;
    r->inbox = NULL;
    tasks = r->tasks_head;
    r->tasks_head = r->tasks_tail = NULL;
    shutdown_req = r->shutdown_req;
    apr_thread_mutex_unlock(r->lock);

    while ((s = in) != NULL) {
        struct epoll_event ev;

        in = s->next;
        s->prev = NULL;
        s->next = r->sessions;
        if (r->sessions) {
            r->sessions->prev = s;
        }
        r->sessions = s;
        r->nsessions++;
        apr_atomic_inc32(&sessions_open);
        memset(&ev, 0, sizeof(ev));
        ev.events = s->poll_events = EPOLLIN | EPOLLRDHUP;
        ev.data.ptr = &s->pollable;
        if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, s->tr.fd, &ev) < 0) {
            ap_log_error(APLOG_MARK, APLOG_ERR, APR_FROM_OS_ERROR(errno), ap_server_conf,
                         "chat: cannot watch socket of session %" APR_UINT64_T_FMT, s->id);
            chat_ws_session_abort(s);
            continue;
        }
        chat_ws_session_start(s);
        if (r->shutting_down) {
            chat_reactor_close_going_away(s);
        }
    }
    while (tasks) {
        chat_task *t = tasks;
        tasks = t->next;
        t->fn(r, t->arg);
        free(t);
    }
    if (shutdown_req && !r->shutting_down) {
        chat_ws_session *next;
        apr_interval_time_t wait = 0;

        r->shutting_down = 1;
        for (s = r->sessions; s; s = next) {
            next = s->next;
            if (s->lim->close_timeout > wait) {
                wait = s->lim->close_timeout;
            }
            chat_reactor_close_going_away(s);
        }
        /* Give clients a moment to answer our close, but never hold up a
         * stopping child for long. */
        r->shutdown_deadline =
            apr_time_now() + (wait < apr_time_from_sec(2) ? wait : apr_time_from_sec(2));
    }
}

static void bury(chat_reactor *r)
{
    while (r->graveyard) {
        chat_ws_session *s = r->graveyard;
        r->graveyard = s->next;
        if (s->app->on_close) {
            s->app->on_close(s); /* may queue work for other sessions */
        }
        chat_ws_session_free(s);
    }
}

static int mpm_stopping(void)
{
    int state = AP_MPMQ_RUNNING;

    return ap_mpm_query(AP_MPMQ_MPM_STATE, &state) == APR_SUCCESS && state == AP_MPMQ_STOPPING;
}

void chat_reactor_stop_from_signal(void)
{
    chat_reactor *r = idle_private_loop;
    chat_ws_session *s;

    if (!r) {
        return;
    }
    idle_private_loop = NULL;
    for (s = r->sessions; s; s = s->next) {
        chat_reactor_close_going_away(s);
    }
}

void chat_reactor_run(chat_reactor *r)
{
    struct epoll_event events[MAX_EVENTS];
    int threaded_mpm = AP_MPMQ_NOT_SUPPORTED;
    apr_time_t linger_until = 0;
    chat_ws_session *s_left;

    ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded_mpm);
    threaded_mpm = threaded_mpm != AP_MPMQ_NOT_SUPPORTED;
    chat_ws_session_cache_begin();

    r->next_tick = apr_time_now() + apr_time_from_msec(TICK_MS);
    for (;;) {
        apr_time_t now;
        int i, n, timeout;
        chat_ws_session *s, *ready;

        take_inbox(r);
        if (r->nsessions == 0 && (r->shutting_down || r->private_loop)) {
            /* let the layers above finish what the last sessions started
             * (a presence update on their way out), but not for long */
            if (!r->linger || !r->linger(r->linger_data)) {
                break;
            }
            if (!linger_until) {
                linger_until = apr_time_now() + apr_time_from_sec(2);
            }
            else if (apr_time_now() >= linger_until) {
                break;
            }
        }
        if (r->shutting_down && r->nsessions > 0 && apr_time_now() >= r->shutdown_deadline) {
            break;
        }

        reactor_flush_due(r);
        timeout = r->ready ? 0 : TICK_MS;
        if (r->private_loop && !threaded_mpm) {
            idle_private_loop = r;
        }
        n = epoll_wait(r->epfd, events, MAX_EVENTS, timeout);
        idle_private_loop = NULL;
        if (n < 0) {
            if (errno != EINTR) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, APR_FROM_OS_ERROR(errno), ap_server_conf,
                             "chat: epoll_wait failed");
                break;
            }
            n = 0;
        }
        for (i = 0; i < n; i++) {
            chat_pollable *p = events[i].data.ptr;
            if (!p) {
                uint64_t v;
                ssize_t rd = read(r->evfd, &v, sizeof(v));
                (void)rd;
                continue;
            }
            if (p->kind != CHAT_POLL_SESSION) {
                p->on_event(p, events[i].events);
                continue;
            }
            s = (chat_ws_session *)p;
            if (s->state == CHAT_WS_DEAD || s->released) {
                continue;
            }
            if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
                int more = 0;
                if (s->state < CHAT_WS_FLUSHING) {
                    chat_ws_session_readable(s, &more);
                }
                else if (events[i].events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
                    chat_ws_session_abort(s); /* flushing and the peer is gone */
                }
                if (more && !s->in_ready && s->state != CHAT_WS_DEAD) {
                    s->in_ready = 1;
                    s->ready_next = r->ready;
                    r->ready = s;
                }
            }
            if ((events[i].events & EPOLLOUT) && s->state != CHAT_WS_DEAD) {
                chat_ws_session_writable(s);
            }
        }
        /* Sessions that used their read budget get another turn. */
        ready = r->ready;
        r->ready = NULL;
        while ((s = ready) != NULL) {
            int more = 0;
            ready = s->ready_next;
            s->in_ready = 0;
            if (s->state < CHAT_WS_FLUSHING && !s->released) {
                chat_ws_session_readable(s, &more);
            }
            if (more && s->state != CHAT_WS_DEAD) {
                s->in_ready = 1;
                s->ready_next = r->ready;
                r->ready = s;
            }
        }

        now = apr_time_now();
        if (now >= r->next_tick) {
            chat_ws_session *next;
            r->next_tick = now + apr_time_from_msec(TICK_MS);
            if (!r->shutting_down && mpm_stopping() && !reactor_held(r)) {
                chat_reactor_shutdown(r);
            }
            for (s = r->sessions; s; s = next) {
                next = s->next;
                chat_ws_session_tick(s, now);
            }
            {
                chat_tick_hook *h;
                for (h = r->tick_hooks; h; h = h->next) {
                    h->fn(r, now, h->data);
                }
            }
        }
        bury(r);
    }
    /* Whatever is left did not answer in time. */
    while (r->sessions) {
        chat_ws_session_abort(r->sessions);
    }
    bury(r);
    /* No more adoptions; a session that came in after the last look (only
     * when the loop ended on an error) is let go. */
    apr_thread_mutex_lock(r->lock);
    r->shutdown_req = 1;
    s_left = r->inbox;
    r->inbox = NULL;
    apr_thread_mutex_unlock(r->lock);
    while (s_left) {
        chat_ws_session *s = s_left;
        s_left = s->next;
        chat_transport_close(&s->tr);
        if (s->app->on_close) {
            s->app->on_close(s);
        }
        chat_ws_session_free(s);
    }
    chat_ws_session_cache_end();
}

static void *APR_THREAD_FUNC reactor_thread(apr_thread_t *thd, void *data)
{
    chat_reactor_run(data);
    apr_thread_exit(thd, APR_SUCCESS);
    return NULL;
}

apr_status_t chat_reactor_start_thread(chat_reactor *r, apr_pool_t *p)
{
    return apr_thread_create(&r->thread, NULL, reactor_thread, r, p);
}

void chat_reactor_join(chat_reactor *r)
{
    apr_status_t rv;

    if (r->thread) {
        apr_thread_join(&rv, r->thread);
        r->thread = NULL;
    }
}
