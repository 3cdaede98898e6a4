/* How a WebSocket's bytes move. Two kinds:
 * - raw: a plain TCP socket taken over from the event MPM (our own dup of
 *   the fd); read()/writev() directly, nothing of httpd's is touched again.
 * - filters: the connection stays httpd's (TLS via mod_ssl, prefork, thread
 *   mode); bytes go through c->input_filters/c->output_filters without
 *   blocking. Only the thread that owns the session may call these. */
#ifndef CHAT_TRANSPORT_H
#define CHAT_TRANSPORT_H

#include <sys/uio.h>
#include <httpd.h>
#include <util_filter.h>

typedef struct chat_transport {
    int fd;      /* what to poll */
    int owned;   /* raw: we close fd */
    conn_rec *c; /* filters: the connection */
    apr_bucket_brigade *bb;
    ap_filter_t *core_out;
} chat_transport;

void chat_transport_init_raw(chat_transport *t, int fd);
apr_status_t chat_transport_init_filters(chat_transport *t, conn_rec *c);

/* Non-blocking read: APR_SUCCESS with *len > 0, APR_EAGAIN, APR_EOF or an error. */
apr_status_t chat_transport_read(chat_transport *t, char *buf, apr_size_t *len);

/* Non-blocking write of as much as possible; *written says how much was
 * taken. APR_SUCCESS or an error (the peer is gone). */
apr_status_t chat_transport_writev(chat_transport *t, const struct iovec *iov, int n,
                                   apr_size_t *written);

/* Bytes taken by writev but still held below us (filters mode)? */
int chat_transport_pending(const chat_transport *t);

/* Push held bytes without blocking. */
apr_status_t chat_transport_flush(chat_transport *t);

/* Raw sockets with input left unread: send our FIN now and return 1, so the
 * caller can wait for the peer before close() (which would answer the unread
 * bytes with a reset that may overtake our last frame). 0 otherwise. */
int chat_transport_half_close(chat_transport *t);

void chat_transport_close(chat_transport *t);

#endif
