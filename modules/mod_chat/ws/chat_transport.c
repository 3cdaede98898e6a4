/* Byte transport for WebSocket sessions; see chat_transport.h. */
#include <httpd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <errno.h>
#include <unistd.h>

#include <apr_buckets.h>
#include <apr_portable.h>
#include <http_core.h>
#include <http_connection.h>
#include <util_filter.h>

#include "chat_transport.h"

/* The filters mode hands the output chain at most this much at a time and
 * only when nothing is held, so the core output filter never reaches its
 * FlushMaxThreshold and never blocks. */
#define FILTER_WRITE_MAX 32768

void chat_transport_init_raw(chat_transport *t, int fd)
{
    memset(t, 0, sizeof(*t));
    t->fd = fd;
    t->owned = 1;
}

apr_status_t chat_transport_init_filters(chat_transport *t, conn_rec *c)
{
    apr_os_sock_t fd;
    ap_filter_t *f;
    apr_status_t rv;

    memset(t, 0, sizeof(*t));
    rv = apr_os_sock_get(&fd, ap_get_conn_socket(c));
    if (rv != APR_SUCCESS) {
        return rv;
    }
    t->fd = fd;
    t->c = c;
    t->bb = apr_brigade_create(c->pool, c->bucket_alloc);
    for (f = c->output_filters; f->next; f = f->next) {
    }
    t->core_out = f;
    /* mod_ssl's coalescing filter would sit on small frames until a FLUSH,
     * and a FLUSH makes the core block: drop it, it only batches writes. */
    for (f = c->output_filters; f; f = f->next) {
        if (!strcasecmp(f->frec->name, "ssl/tls coalescing filter")) {
            ap_remove_output_filter(f);
            break;
        }
    }
    /* The request is over; a WebSocket may be idle for hours. */
    for (f = c->input_filters; f; f = f->next) {
        if (!strcasecmp(f->frec->name, "reqtimeout")) {
            ap_remove_input_filter(f);
            break;
        }
    }
    return APR_SUCCESS;
}

apr_status_t chat_transport_read(chat_transport *t, char *buf, apr_size_t *len)
{
    apr_status_t rv;

    if (!t->c) {
        ssize_t n;
        do {
            n = read(t->fd, buf, *len);
        } while (n < 0 && errno == EINTR);
        if (n > 0) {
            *len = (apr_size_t)n;
            return APR_SUCCESS;
        }
        *len = 0;
        if (n == 0) {
            return APR_EOF;
        }
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? APR_EAGAIN : APR_FROM_OS_ERROR(errno);
    }

    apr_brigade_cleanup(t->bb);
    rv = ap_get_brigade(t->c->input_filters, t->bb, AP_MODE_READBYTES, APR_NONBLOCK_READ, *len);
    if (rv == APR_SUCCESS) {
        apr_size_t got = *len;
        int eos = !APR_BRIGADE_EMPTY(t->bb) && APR_BUCKET_IS_EOS(APR_BRIGADE_LAST(t->bb));
        rv = apr_brigade_flatten(t->bb, buf, &got);
        apr_brigade_cleanup(t->bb);
        if (rv != APR_SUCCESS) {
            *len = 0;
            return rv;
        }
        *len = got;
        if (got > 0) {
            return APR_SUCCESS;
        }
        return eos ? APR_EOF : APR_EAGAIN;
    }
    *len = 0;
    apr_brigade_cleanup(t->bb);
    return rv;
}

apr_status_t chat_transport_writev(chat_transport *t, const struct iovec *iov, int n,
                                   apr_size_t *written)
{
    apr_size_t total = 0;
    apr_status_t rv;
    int i;

    *written = 0;
    if (!t->c) {
        ssize_t w;
        do {
            w = writev(t->fd, iov, n);
        } while (w < 0 && errno == EINTR);
        if (w >= 0) {
            *written = (apr_size_t)w;
            return APR_SUCCESS;
        }
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? APR_SUCCESS : APR_FROM_OS_ERROR(errno);
    }

    if (t->c->aborted) {
        return APR_ECONNABORTED;
    }
    if (t->c->data_in_output_filters) {
        return APR_SUCCESS;
    }
    apr_brigade_cleanup(t->bb);
    for (i = 0; i < n && total < FILTER_WRITE_MAX; i++) {
        apr_size_t len = iov[i].iov_len;
        if (total + len > FILTER_WRITE_MAX) {
            len = FILTER_WRITE_MAX - total;
        }
        /* heap copy: the core may set it aside after we return */
        APR_BRIGADE_INSERT_TAIL(
            t->bb, apr_bucket_heap_create(iov[i].iov_base, len, NULL, t->c->bucket_alloc));
        total += len;
    }
    rv = ap_pass_brigade(t->c->output_filters, t->bb);
    apr_brigade_cleanup(t->bb);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *written = total;
    return chat_transport_flush(t);
}

int chat_transport_pending(const chat_transport *t)
{
    return t->c ? t->c->data_in_output_filters : 0;
}

apr_status_t chat_transport_flush(chat_transport *t)
{
    apr_status_t rv;

    if (!t->c || !t->c->data_in_output_filters) {
        return APR_SUCCESS;
    }
    /* The core output filter called with no brigade writes what it holds
     * without blocking, as the event MPM does in write completion. */
    rv = t->core_out->frec->filter_func.out_func(t->core_out, NULL);
    return APR_STATUS_IS_EAGAIN(rv) ? APR_SUCCESS : rv;
}

int chat_transport_half_close(chat_transport *t)
{
    int unread = 0;

    if (!t->owned || t->fd < 0 || ioctl(t->fd, FIONREAD, &unread) < 0 || unread <= 0) {
        return 0;
    }
    return shutdown(t->fd, SHUT_WR) == 0;
}

void chat_transport_close(chat_transport *t)
{
    if (!t->c) {
        if (t->owned && t->fd >= 0) {
            close(t->fd);
        }
        t->fd = -1;
        return;
    }
    /* httpd closes the socket when the handler returns; make it skip the
     * lingering close and any further output on this request. */
    t->c->aborted = 1;
}
