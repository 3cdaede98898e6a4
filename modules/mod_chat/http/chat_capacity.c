/* ChatThreadSockets: see chat_capacity.h. One counter per child process in
 * anonymous shared memory made by the parent, so every child sees every
 * other's count; a slot belongs to a pid, and a slot whose pid is gone
 * (crashed child) is neither summed nor kept: the next child takes it. */
#include <httpd.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <apr_atomic.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <ap_mpm.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>

#include "chat_capacity.h"
#include "chat_config.h"
#include "chat_ws_handshake.h"
#include "chat_ws_upgrade.h"

APLOG_USE_MODULE(chat);

#define SLOT_CLAIMING 0xffffffffu /* a child is resetting the slot: not summed */

typedef struct {
    volatile apr_uint32_t pid; /* owning process, 0 = free */
    volatile apr_uint32_t count;
} cap_slot;

typedef struct {
    apr_uint32_t cap;
    apr_uint32_t nslots;
    cap_slot slot[]; /* slot 0 is the parent's: for a child that found none free */
} cap_table;

static cap_table *table;
static cap_slot *mine;
static int retry_after = CHAT_DEFAULT_THREAD_RETRY_AFTER;

static int pid_alive(apr_uint32_t pid)
{
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static apr_uint32_t capacity_sum(void)
{
    apr_uint32_t i, n = 0, me = (apr_uint32_t)getpid();

    for (i = 0; i < table->nslots; i++) {
        apr_uint32_t pid = apr_atomic_read32(&table->slot[i].pid);
        if (pid && pid != SLOT_CLAIMING && (pid == me || pid_alive(pid))) {
            n += apr_atomic_read32(&table->slot[i].count);
        }
    }
    return n;
}

static int mpm_value(int query, int fallback)
{
    int v = 0;

    return ap_mpm_query(query, &v) == APR_SUCCESS ? v : fallback;
}

/* Startup advice: MPM settings under which children holding chat sockets
 * are retired (their sockets move, or get 1001 where they cannot) or
 * thread-mode sockets starve the server's other requests. */
static void capacity_warn_mpm(server_rec *s, const chat_srv_conf *sc, int mrw, int cap)
{
    int async = mpm_value(AP_MPMQ_IS_ASYNC, 0);
    int threaded = mpm_value(AP_MPMQ_IS_THREADED, AP_MPMQ_NOT_SUPPORTED) != AP_MPMQ_NOT_SUPPORTED;
    int detached = async && chat_settings_conn_mode(sc) == CHAT_MODE_AUTO;
    int thread_mode = !detached || ap_find_linked_module("mod_ssl.c") != NULL;
    int max_conns = mpm_value(AP_MPMQ_MAX_REQUESTS_DAEMON, 0);
    int max_spare = mpm_value(AP_MPMQ_MAX_SPARE_THREADS, 0);
    int reserve = mrw / 10 > 1 ? mrw / 10 : 1;

    /* what a retired child's sockets go through */
    const char *fate = detached && chat_settings_handover(sc)
                           ? "its plain-TCP WebSockets move to another child (ChatHandover), "
                             "its wss:// ones get 1001 and reconnect"
                           : "the WebSockets it holds get 1001 and reconnect";

    if (detached && max_conns > 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "chat: MaxConnectionsPerChild %d: a child that reached it exits, and %s; "
                     "set MaxConnectionsPerChild 0 on chat servers",
                     max_conns, fate);
    }
    if (threaded && max_spare > 0 && max_spare < mrw) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "chat: MaxSpareThreads %d is below MaxRequestWorkers %d: after a burst the "
                     "parent retires children it sees idle, and %s; set MaxSpareThreads to "
                     "MaxRequestWorkers on chat servers",
                     max_spare, mrw, fate);
    }
    if (thread_mode && mrw > 0 && cap > mrw - reserve) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "chat: ChatThreadSockets %d leaves %d of MaxRequestWorkers %d for other "
                     "requests (fewer than %d): WebSockets that hold a worker thread (%s) can "
                     "starve the server; lower ChatThreadSockets or raise MaxRequestWorkers",
                     cap, mrw - cap > 0 ? mrw - cap : 0, mrw, reserve,
                     detached ? "wss://" : "every WebSocket under this MPM");
    }
}

int chat_capacity_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    const chat_srv_conf *sc = ap_get_module_config(s->module_config, &chat_module);
    int threads = mpm_value(AP_MPMQ_MAX_THREADS, 1);
    int mrw = mpm_value(AP_MPMQ_MAX_DAEMONS, 0) * (threads > 0 ? threads : 1);
    int share = sc->thread_share >= 0 ? sc->thread_share : CHAT_DEFAULT_THREAD_SHARE;
    int cap = sc->thread_sockets >= 0 ? sc->thread_sockets : mrw * share / 100;
    apr_uint32_t nslots = 2 * (apr_uint32_t)mpm_value(AP_MPMQ_HARD_LIMIT_DAEMONS, 16) + 8;
    apr_shm_t *shm;
    apr_status_t rv;

    (void)plog;
    (void)ptemp;
    table = NULL;
    mine = NULL;
    retry_after =
        sc->thread_retry_after >= 0 ? sc->thread_retry_after : CHAT_DEFAULT_THREAD_RETRY_AFTER;
    /* anonymous: inherited by the children this generation forks */
    rv = apr_shm_create(&shm, sizeof(cap_table) + nslots * sizeof(cap_slot), NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "chat: no shared memory for ChatThreadSockets: thread-mode WebSockets "
                     "are not capped");
    }
    else {
        table = apr_shm_baseaddr_get(shm);
        memset(table, 0, sizeof(cap_table) + nslots * sizeof(cap_slot));
        table->cap = (apr_uint32_t)cap;
        table->nslots = nslots;
        table->slot[0].pid = (apr_uint32_t)getpid();
    }
    /* httpd reads its config twice at startup: advise on the real pass */
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        capacity_warn_mpm(s, sc, mrw, cap);
    }
    return OK;
}

void chat_capacity_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_uint32_t me = (apr_uint32_t)getpid(), i, pass;

    (void)pchild;
    if (!table) {
        return;
    }
    /* first a slot a dead process with our (reused) pid left, then any free one */
    for (pass = 0; pass < 2; pass++) {
        for (i = 1; i < table->nslots; i++) {
            cap_slot *sl = &table->slot[i];
            apr_uint32_t pid = apr_atomic_read32(&sl->pid);
            if (pass == 0 ? pid != me
                          : pid == SLOT_CLAIMING || (pid && pid != me && pid_alive(pid))) {
                continue;
            }
            if (apr_atomic_cas32(&sl->pid, SLOT_CLAIMING, pid) != pid) {
                continue;
            }
            apr_atomic_set32(&sl->count, 0);
            apr_atomic_set32(&sl->pid, me);
            mine = sl;
            return;
        }
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                 "chat: no free ChatThreadSockets counter slot; this child counts in the "
                 "parent's shared one");
}

static apr_status_t capacity_leave(void *data)
{
    apr_atomic_dec32(&((cap_slot *)data)->count);
    return APR_SUCCESS;
}

static int capacity_refuse(request_rec *r, apr_uint32_t open, const char *what)
{
    apr_table_setn(r->err_headers_out, "Retry-After", apr_itoa(r->pool, retry_after));
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "chat: %s: 503 (Retry-After %d): ChatThreadSockets %u reached (%u open "
                  "WebSockets hold a worker thread)",
                  what, retry_after, table->cap, open);
    return HTTP_SERVICE_UNAVAILABLE;
}

int chat_capacity_enter(request_rec *r)
{
    cap_slot *sl;
    apr_uint32_t open;

    if (!table || !chat_ws_is_upgrade(r) || !chat_ws_upgrade_holds_thread(r)) {
        return OK;
    }
    sl = mine ? mine : &table->slot[0];
    /* take a place first, then look: two children racing for the last place
     * may both be refused, never both admitted */
    apr_atomic_inc32(&sl->count);
    if ((open = capacity_sum()) > table->cap) {
        apr_atomic_dec32(&sl->count);
        return capacity_refuse(r, open - 1, "WebSocket refused");
    }
    /* the request pool outlives the socket's thread-mode run */
    apr_pool_cleanup_register(r->pool, sl, capacity_leave, apr_pool_cleanup_null);
    return OK;
}

int chat_capacity_probe(request_rec *r)
{
    apr_uint32_t open;

    if (table && chat_ws_upgrade_holds_thread(r) && (open = capacity_sum()) >= table->cap) {
        return capacity_refuse(r, open, "capacity probe says full");
    }
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    return HTTP_NO_CONTENT;
}

int chat_thread_sockets(apr_uint32_t *open, apr_uint32_t *cap)
{
    if (!table) {
        *open = *cap = 0;
        return 0;
    }
    *open = capacity_sum();
    *cap = table->cap;
    return 1;
}
