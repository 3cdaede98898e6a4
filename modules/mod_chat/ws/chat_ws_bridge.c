/* The byte bridge of thread mode; see chat_ws_bridge.h. */
#include <httpd.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <http_log.h>
#include <http_main.h>

#include "chat_transport.h"
#include "chat_ws_bridge.h"

APLOG_USE_MODULE(chat);

/* At most this much waits on the bridge in each direction; the socketpair's
 * own buffers are capped alike, so a client that stops reading still fills
 * the session's queue (ChatSendQueueLimit) soon. */
#define BRIDGE_BUF (64 * 1024)

typedef struct bridge_buf {
    char *data;
    apr_size_t off, len; /* bytes data[off..len) wait to be written */
} bridge_buf;

typedef struct bridge {
    chat_transport client; /* the connection's filters */
    int fd;                /* our end of the socketpair */
    bridge_buf up;         /* client -> session */
    bridge_buf down;       /* session -> client */
    int client_eof;        /* the client sent its last byte */
    int shut_wr;           /* ... and the session was told (SHUT_WR) */
    int pair_gone;         /* the session's end takes no more bytes */
    int pair_eof;          /* the session's end sent its last byte */
    int failed;            /* the client is unreachable: end both */
    int progress;          /* this pass moved something */
} bridge;

/* Room for more bytes at the end of b: move what is left to the front. */
static apr_size_t buf_room(bridge_buf *b)
{
    if (b->off == b->len) {
        b->off = b->len = 0;
    }
    else if (b->off > 0 && b->len == BRIDGE_BUF) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
    }
    return BRIDGE_BUF - b->len;
}

static void read_client(bridge *br)
{
    apr_size_t room;

    /* Read until EAGAIN, not just on POLLIN: mod_ssl holds what it decrypted
     * beyond what we asked for, and that never wakes the socket's poll. */
    while (!br->client_eof && !br->pair_gone && (room = buf_room(&br->up)) > 0) {
        apr_size_t len = room;
        apr_status_t rv = chat_transport_read(&br->client, br->up.data + br->up.len, &len);

        if (rv == APR_SUCCESS) {
            br->up.len += len;
            br->progress = 1;
        }
        else if (APR_STATUS_IS_EAGAIN(rv)) {
            return;
        }
        else if (rv == APR_EOF) {
            br->client_eof = br->progress = 1;
        }
        else {
            br->failed = 1; /* a reset: nobody to flush to */
            return;
        }
    }
}

static void write_pair(bridge *br)
{
    while (!br->pair_gone && br->up.off < br->up.len) {
        ssize_t n = send(br->fd, br->up.data + br->up.off, br->up.len - br->up.off, MSG_NOSIGNAL);

        if (n > 0) {
            br->up.off += (apr_size_t)n;
            br->progress = 1;
        }
        else if (n < 0 && errno == EINTR) {
            continue;
        }
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        else {
            /* the session closed its end: what it sent before still comes */
            br->pair_gone = br->progress = 1;
            br->up.off = br->up.len = 0;
        }
    }
    if (br->client_eof && br->up.off == br->up.len && !br->shut_wr && !br->pair_gone) {
        /* the session reads EOF: the peer is gone */
        shutdown(br->fd, SHUT_WR);
        br->shut_wr = br->progress = 1;
    }
}

static void read_pair(bridge *br)
{
    apr_size_t room;

    while (!br->pair_eof && (room = buf_room(&br->down)) > 0) {
        ssize_t n = read(br->fd, br->down.data + br->down.len, room);

        if (n > 0) {
            br->down.len += (apr_size_t)n;
            br->progress = 1;
        }
        else if (n < 0 && errno == EINTR) {
            continue;
        }
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        else {
            /* 0, or ECONNRESET when the session closed with our bytes
             * unread: AF_UNIX delivers everything it sent before that */
            br->pair_eof = br->progress = 1;
        }
    }
}

static void write_client(bridge *br)
{
    if (chat_transport_flush(&br->client) != APR_SUCCESS) {
        br->failed = 1;
        return;
    }
    while (br->down.off < br->down.len && !chat_transport_pending(&br->client)) {
        struct iovec iov;
        apr_size_t written = 0;

        iov.iov_base = br->down.data + br->down.off;
        iov.iov_len = br->down.len - br->down.off;
        if (chat_transport_writev(&br->client, &iov, 1, &written) != APR_SUCCESS) {
            br->failed = 1;
            return;
        }
        if (written == 0) {
            return;
        }
        br->down.off += written;
        br->progress = 1;
    }
}

/* Wait for what the bridge can do next. 0 when there is nothing left to
 * wait for (or the connection's socket was closed under us). */
static int wait_events(bridge *br)
{
    struct pollfd pfd[2];
    int i;

    memset(pfd, 0, sizeof(pfd));
    pfd[0].fd = br->client.fd;
    pfd[1].fd = br->fd;
    /* read only from a side whose bytes can be written on */
    if (!br->client_eof && !br->pair_gone && br->up.len < BRIDGE_BUF) {
        pfd[0].events |= POLLIN;
    }
    if (chat_transport_pending(&br->client)) {
        pfd[0].events |= POLLOUT;
    }
    if (!br->pair_eof && br->down.len < BRIDGE_BUF) {
        pfd[1].events |= POLLIN;
    }
    if (!br->pair_gone && br->up.off < br->up.len) {
        pfd[1].events |= POLLOUT;
    }
    for (i = 0; i < 2; i++) {
        if (!pfd[i].events) {
            pfd[i].fd = -1; /* a half-closed side must not wake us with POLLHUP */
        }
    }
    if (pfd[0].fd < 0 && pfd[1].fd < 0) {
        return 0;
    }
    while (poll(pfd, 2, -1) < 0) {
        if (errno != EINTR) {
            return 0;
        }
    }
    /* httpd closed the connection's socket (a stopping event MPM) */
    return !(pfd[0].revents & POLLNVAL);
}

static void pump(bridge *br)
{
    for (;;) {
        br->progress = 0;
        read_client(br);
        write_pair(br);
        read_pair(br);
        write_client(br);
        if (br->failed) {
            return;
        }
        if (br->pair_eof && br->down.off == br->down.len && !chat_transport_pending(&br->client)) {
            return; /* the session is over and the client has it all */
        }
        if (!br->progress && !wait_events(br)) {
            return;
        }
    }
}

apr_status_t chat_ws_bridge_run(conn_rec *c, chat_ws_session *s, chat_reactor *shared)
{
    int sv[2], sndbuf = BRIDGE_BUF;
    apr_uint64_t id = s->id;
    bridge br;
    apr_status_t rv;

    memset(&br, 0, sizeof(br));
    if ((rv = chat_transport_init_filters(&br.client, c)) != APR_SUCCESS) {
        return rv;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    chat_transport_init_raw(&s->tr, sv[0]);
    s->bridged = 1;
    if ((rv = chat_reactor_adopt(shared, s)) != APR_SUCCESS) {
        close(sv[0]);
        close(sv[1]);
        s->tr.fd = -1;
        s->bridged = 0;
        return rv;
    }
    /* s is the reactor's now; this thread only has the connection */
    ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c,
                  "chat: session %" APR_UINT64_T_FMT " bridged to the child's I/O thread", id);
    br.fd = sv[1];
    br.up.data = apr_palloc(c->pool, BRIDGE_BUF);
    br.down.data = apr_palloc(c->pool, BRIDGE_BUF);
    pump(&br);
    /* closing our end tells the session (if still there) the client is gone */
    close(sv[1]);
    ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c,
                  "chat: bridge of session %" APR_UINT64_T_FMT " ended (%s)", id,
                  br.failed ? "client gone" : "session closed");
    return APR_SUCCESS;
}
