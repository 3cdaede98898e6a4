/* Handing a WebSocket from httpd's request processing to a reactor. */
#include <httpd.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <apr_atomic.h>
#include <apr_portable.h>
#include <apr_strings.h>
#include <http_connection.h>
#include <http_core.h>
#include <http_log.h>
#include <http_request.h>
#include <util_filter.h>
#include <ap_mpm.h>

#include "chat_reactor.h"
#include "chat_ws_bridge.h"
#include "chat_ws_handshake.h"
#include "chat_ws_upgrade.h"

APLOG_USE_MODULE(chat);

chat_reactor *chat_child_reactor;

/* Detached sockets are the event MPM's (its parent and limits are built for
 * connections no worker holds); other threaded MPMs bridge. */
static int mpm_is_async(void)
{
    int async = 0;

    return ap_mpm_query(AP_MPMQ_IS_ASYNC, &async) == APR_SUCCESS && async;
}

/* Connection filters that only observe bytes: a connection carrying nothing
 * else can be read and written on its socket directly. */
static int filters_transparent(ap_filter_t *f)
{
    static const char *const ok[] = {"core", "core_in", "reqtimeout", "log_input_output", NULL};

    for (; f; f = f->next) {
        int i, found = 0;
        for (i = 0; ok[i]; i++) {
            if (!strcasecmp(f->frec->name, ok[i])) {
                found = 1;
                break;
            }
        }
        if (!found) {
            return 0;
        }
    }
    return 1;
}

/* Bytes of the WebSocket that httpd's input filters already took off the
 * socket must go with it: the core input filter reads greedily and keeps the
 * excess in its own brigade. Read until it has nothing left. Returns 0 when
 * the client keeps sending so much that the socket is better left to the
 * filters (thread mode). */
#define PRE_READ_MAX (4 * 1024 * 1024)

static int take_buffered_input(conn_rec *c, chat_ws_session *s)
{
    apr_bucket_brigade *bb = apr_brigade_create(c->pool, c->bucket_alloc);
    int ok = 1;

    for (;;) {
        apr_off_t len = 0;
        apr_size_t got;
        char *grown;

        if (ap_get_brigade(c->input_filters, bb, AP_MODE_READBYTES, APR_NONBLOCK_READ, 65536) !=
                APR_SUCCESS ||
            apr_brigade_length(bb, 1, &len) != APR_SUCCESS || len <= 0) {
            break;
        }
        if (s->pre_len + (apr_size_t)len > PRE_READ_MAX ||
            !(grown = realloc(s->pre, s->pre_len + (apr_size_t)len))) {
            ok = 0;
            break;
        }
        s->pre = grown;
        got = (apr_size_t)len;
        apr_brigade_flatten(bb, s->pre + s->pre_len, &got);
        s->pre_len += got;
        apr_brigade_cleanup(bb);
    }
    apr_brigade_destroy(bb);
    return ok;
}

/* The session writes the 101 itself, first thing on its socket: with the
 * app's first frames when it answers its open (one write instead of two).
 * 0 when the socket stays with httpd: the caller sends the 101 then. */
static int detach_to_reactor(request_rec *r, chat_ws_session *s)
{
    conn_rec *c = r->connection;
    apr_os_sock_t fd;
    apr_uint64_t id;
    const char *resp;
    apr_size_t len;
    int nfd;

    if (!take_buffered_input(c, s) || apr_os_sock_get(&fd, ap_get_conn_socket(c)) != APR_SUCCESS ||
        (nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
        return 0;
    }
    if (fcntl(nfd, F_SETFL, fcntl(nfd, F_GETFL) | O_NONBLOCK) < 0) {
        close(nfd);
        return 0;
    }
    resp = chat_ws_handshake_response(r, &len);
    if (chat_ws_session_send_raw(s, resp, len) != 0) {
        close(nfd);
        return 0;
    }
    chat_transport_init_raw(&s->tr, nfd);
    id = s->id; /* once adopted, s is the reactor's: it may be gone already */
    if (chat_reactor_adopt(chat_child_reactor, s) != APR_SUCCESS) {
        /* the child is stopping: this thread says 1001 through the filters */
        chat_transport_close(&s->tr);
        chat_ws_session_unqueue(s);
        return 0;
    }
    /* httpd now only closes its own descriptor: no lingering close, no
     * shutdown(), no more output on this request. */
    c->aborted = 1;
    c->keepalive = AP_CONN_CLOSE;
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "chat: session %" APR_UINT64_T_FMT " handed to the child's I/O thread", id);
    return 1;
}

/* Thread mode with a shared reactor (threaded MPMs): this thread keeps the
 * connection and pumps its bytes to the session on the shared reactor, so
 * the session shares the process's hub. 0 when the reactor refused it. */
static int bridge_to_reactor(request_rec *r, chat_ws_session *s)
{
    conn_rec *c = r->connection;

    c->keepalive = AP_CONN_CLOSE;
    /* what the filters already hold (mod_ssl decrypts greedily) would never
     * wake the socket's poll: the session starts with it */
    if (!s->pre_len) {
        take_buffered_input(c, s);
    }
    if (chat_ws_bridge_run(c, s, chat_child_reactor) != APR_SUCCESS) {
        return 0;
    }
    /* keep httpd from writing a response after the 101 */
    c->aborted = 1;
    return 1;
}

static void discard(chat_ws_session *s);

static int run_on_this_thread(request_rec *r, chat_ws_session *s)
{
    conn_rec *c = r->connection;
    chat_reactor *reactor;
    apr_status_t rv;

    c->keepalive = AP_CONN_CLOSE;
    /* what the filters already hold (mod_ssl decrypts greedily) would never
     * wake the socket's poll: the session starts with it */
    if (!s->pre_len) {
        take_buffered_input(c, s);
    }
    if ((rv = chat_transport_init_filters(&s->tr, c)) != APR_SUCCESS ||
        (rv = chat_reactor_create(r->pool, 1, &reactor)) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "chat: cannot set up the WebSocket");
        discard(s);
        c->aborted = 1;
        return OK;
    }
    s->c = c;
    if (chat_reactor_adopt(reactor, s) != APR_SUCCESS) {
        /* the child began to stop between the loop's creation and now */
        discard(s);
        c->aborted = 1;
        return OK;
    }
    chat_reactor_run(reactor);
    /* The close handshake is done (or timed out); keep httpd from writing a
     * response after the 101. */
    c->aborted = 1;
    return OK;
}

/* A session that never started: let the app free its state. */
static void discard(chat_ws_session *s)
{
    if (s->app->on_close) {
        s->app->on_close(s);
    }
    chat_ws_session_free(s);
}

/* Upgrades between the handler and their session's place: a hand-over of
 * this child's sessions waits for them (chat_ws_upgrade_pending). */
static apr_uint32_t upgrading;

/* The handshake, and detaching when the socket allows: *out is NULL when
 * that settled it (refused, failed or detached), else the session that runs
 * on this thread (bridged, or prefork's own loop). */
static int upgrade_begin(request_rec *r, const chat_ws_app *app, void *app_data,
                         chat_ws_session **out)
{
    chat_dir_conf *dc = ap_get_module_config(r->per_dir_config, &chat_module);
    chat_srv_conf *sc = ap_get_module_config(r->server->module_config, &chat_module);
    chat_ws_limits lim;
    chat_ws_session *s;
    int status;

    *out = NULL;
    chat_settings_ws_limits(dc, app->max_message, &lim);
    s = chat_ws_session_create(&lim, app, app_data);
    if (!s) {
        if (app->on_close) {
            chat_ws_session stub;
            memset(&stub, 0, sizeof(stub));
            stub.app = app;
            stub.app_data = app_data;
            app->on_close(&stub);
        }
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if ((status = chat_ws_handshake_check(r, dc)) != OK) {
        discard(s);
        return status;
    }
    if (chat_ws_session_origin(s, r->server, r->uri ? r->uri : "/",
                               r->useragent_ip ? r->useragent_ip : "-") != 0) {
        discard(s);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (chat_child_reactor && mpm_is_async() && chat_settings_conn_mode(sc) == CHAT_MODE_AUTO &&
        filters_transparent(r->connection->input_filters) &&
        filters_transparent(r->connection->output_filters) && detach_to_reactor(r, s)) {
        return OK;
    }
    if (chat_ws_handshake_accept(r) != APR_SUCCESS) {
        discard(s);
        return OK;
    }
    *out = s;
    return OK;
}

int chat_ws_upgrade(request_rec *r, const chat_ws_app *app, void *app_data)
{
    chat_ws_session *s;
    int status;

    apr_atomic_inc32(&upgrading);
    status = upgrade_begin(r, app, app_data, &s);
    apr_atomic_dec32(&upgrading);
    if (!s) {
        return status;
    }
    if (!chat_child_reactor) {
        return run_on_this_thread(r, s); /* prefork: one socket per process */
    }
    if (bridge_to_reactor(r, s)) {
        return OK;
    }
    /* the child is stopping: this thread says 1001 itself */
    return run_on_this_thread(r, s);
}

int chat_ws_upgrade_pending(void)
{
    return apr_atomic_read32(&upgrading) > 0;
}

int chat_ws_upgrade_holds_thread(request_rec *r)
{
    chat_srv_conf *sc = ap_get_module_config(r->server->module_config, &chat_module);

    /* the same test chat_ws_upgrade() makes before detaching */
    return !(chat_child_reactor && chat_settings_conn_mode(sc) == CHAT_MODE_AUTO &&
             filters_transparent(r->connection->input_filters) &&
             filters_transparent(r->connection->output_filters));
}
