/* The hand-over channel: see chat_handover_wire.h. */
#include <httpd.h> /* defines _GNU_SOURCE first: struct ucred */
#include <stddef.h>
#include <signal.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <fcntl.h>

#include <ap_listen.h>
#include <ap_mpm.h>
#include <netinet/in.h>
#include <scoreboard.h>

#include "chat_handover_wire.h"

/* An abstract name per child and server: the parent's pid tells servers
 * apart, the child's pid the children. */
static socklen_t wire_addr(struct sockaddr_un *sa, pid_t parent, pid_t child)
{
    int n;

    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "mod_chat-handover/%ld/%ld",
                 (long)parent, (long)child);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

static int scoreboard_has(pid_t pid)
{
    int i, limit = 0;

    if (!ap_scoreboard_image || pid <= 0) {
        return 0;
    }
    ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &limit);
    for (i = 0; i < limit; i++) {
        if (ap_get_scoreboard_process(i)->pid == pid) {
            return 1;
        }
    }
    return 0;
}

/* The peer runs as we do and is the process we expect (want > 0) or one of
 * this server's children. */
static int peer_ok(int fd, pid_t want)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != getuid()) {
        return 0;
    }
    return want > 0 ? cred.pid == want : scoreboard_has(cred.pid);
}

int chat_handover_listen(void)
{
    struct sockaddr_un sa;
    socklen_t len = wire_addr(&sa, getppid(), getpid());
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, 16) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int chat_handover_accept(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            return -1;
        }
        if (peer_ok(fd, 0)) {
            return fd;
        }
        close(fd); /* not one of ours: it must not hand us sessions */
    }
}

int chat_handover_connect(pid_t pid)
{
    struct sockaddr_un sa;
    socklen_t len = wire_addr(&sa, getppid(), pid);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, len) < 0 || !peer_ok(fd, pid)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Wait until fd is ready for events or the deadline passed (0: ready). */
static int wire_wait(int fd, short events, apr_time_t deadline)
{
    for (;;) {
        struct pollfd pfd = {fd, events, 0};
        apr_time_t left = deadline - apr_time_now();
        int n;

        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        n = poll(&pfd, 1, (int)(apr_time_as_msec(left) + 1));
        if (n > 0) {
            return 0;
        }
        if (n < 0 && errno != EINTR) {
            return -1;
        }
    }
}

static int wire_write(int fd, const char *p, apr_size_t len, apr_time_t deadline)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            p += n;
            len -= (apr_size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            return -1;
        }
        if (wire_wait(fd, POLLOUT, deadline) < 0) {
            return -1;
        }
    }
    return 0;
}

int chat_handover_send(int fd, int type, const void *buf, apr_size_t len, const int *fds, int nfds,
                       apr_time_t deadline)
{
    unsigned char hdr[12];
    union {
        char buf[CMSG_SPACE(sizeof(int) * CHAT_HANDOVER_MAX_FDS)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov;
    struct msghdr msg;
    ssize_t n;
    int i;

    if (nfds < 0 || nfds > CHAT_HANDOVER_MAX_FDS || len > CHAT_HANDOVER_MAX_MESSAGE) {
        return -1;
    }
    for (i = 0; i < 4; i++) {
        hdr[i] = (unsigned char)((unsigned int)type >> (8 * i));
        hdr[4 + i] = (unsigned char)(len >> (8 * i));
        hdr[8 + i] = (unsigned char)((unsigned int)nfds >> (8 * i));
    }
    /* the descriptors ride on the header's one sendmsg: the reader takes the
     * header alone, so they arrive with it */
    memset(&msg, 0, sizeof(msg));
    iov.iov_base = hdr;
    iov.iov_len = sizeof(hdr);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (nfds) {
        struct cmsghdr *c;
        memset(&ctl, 0, sizeof(ctl));
        msg.msg_control = ctl.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    for (;;) {
        n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0 || (errno != EAGAIN && errno != EINTR)) {
            break;
        }
        if (wire_wait(fd, POLLOUT, deadline) < 0) {
            return -1;
        }
    }
    if (n < 0) {
        return -1;
    }
    if ((apr_size_t)n < sizeof(hdr) &&
        wire_write(fd, (const char *)hdr + n, sizeof(hdr) - (apr_size_t)n, deadline) < 0) {
        return -1;
    }
    return wire_write(fd, buf, len, deadline);
}

static int wire_read(int fd, char *p, apr_size_t len, int *fds, int *nfds, apr_time_t deadline)
{
    while (len > 0) {
        union {
            char buf[CMSG_SPACE(sizeof(int) * CHAT_HANDOVER_MAX_FDS)];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = {p, len};
        struct msghdr msg;
        struct cmsghdr *c;
        ssize_t n;

        memset(&msg, 0, sizeof(msg));
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = fds ? ctl.buf : NULL;
        msg.msg_controllen = fds ? sizeof(ctl.buf) : 0;
        n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n == 0) {
            return -1; /* the peer is gone */
        }
        if (n < 0) {
            if ((errno != EAGAIN && errno != EINTR) || wire_wait(fd, POLLIN, deadline) < 0) {
                return -1;
            }
            continue;
        }
        for (c = fds ? CMSG_FIRSTHDR(&msg) : NULL; c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                int k, got = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                int *in = (int *)CMSG_DATA(c);
                for (k = 0; k < got; k++) {
                    if (*nfds < CHAT_HANDOVER_MAX_FDS) {
                        fds[(*nfds)++] = in[k];
                    }
                    else {
                        close(in[k]);
                    }
                }
            }
        }
        if (msg.msg_flags & MSG_CTRUNC) {
            return -1;
        }
        p += n;
        len -= (apr_size_t)n;
    }
    return 0;
}

int chat_handover_recv(int fd, int *type, char **buf, apr_size_t *len, int *fds, int *nfds,
                       apr_time_t deadline)
{
    unsigned char hdr[12];
    apr_uint32_t t = 0, l = 0, want = 0;
    int i;

    *buf = NULL;
    *len = 0;
    *nfds = 0;
    if (wire_read(fd, (char *)hdr, sizeof(hdr), fds, nfds, deadline) < 0) {
        goto fail;
    }
    for (i = 3; i >= 0; i--) {
        t = (t << 8) | hdr[i];
        l = (l << 8) | hdr[4 + i];
        want = (want << 8) | hdr[8 + i];
    }
    if (l > CHAT_HANDOVER_MAX_MESSAGE || want != (apr_uint32_t)*nfds) {
        goto fail;
    }
    if (!(*buf = malloc(l ? l : 1)) || wire_read(fd, *buf, l, NULL, NULL, deadline) < 0) {
        goto fail;
    }
    *type = (int)t;
    *len = l;
    return 0;
fail:
    free(*buf);
    *buf = NULL;
    for (i = 0; i < *nfds; i++) {
        close(fds[i]);
    }
    *nfds = 0;
    return -1;
}

int chat_handover_candidates(pid_t *out, int max)
{
    int i, limit = 0, n = 0;
    pid_t me = getpid();
    ap_generation_t gen;

    if (!ap_scoreboard_image) {
        return 0;
    }
    gen = ap_scoreboard_image->global->running_generation;
    ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &limit);
    for (i = 0; i < limit && n < max; i++) {
        process_score *ps = ap_get_scoreboard_process(i);
        if (ps->pid > 0 && ps->pid != me && ps->generation == gen && !ps->quiescing &&
            kill(ps->pid, 0) == 0) {
            out[n++] = ps->pid;
        }
    }
    return n;
}

int chat_handover_restarting(void)
{
    int mine = 0;

    return ap_scoreboard_image && ap_mpm_query(AP_MPMQ_GENERATION, &mine) == APR_SUCCESS &&
           ap_scoreboard_image->global->running_generation != mine;
}

int chat_handover_server_open(void)
{
    struct sockaddr_storage sa;
    socklen_t len;
    int fd, rv;

    if (!ap_listeners || !ap_listeners->bind_addr) {
        return 0;
    }
    len = (socklen_t)ap_listeners->bind_addr->salen;
    if (len > sizeof(sa)) {
        return 0;
    }
    memcpy(&sa, &ap_listeners->bind_addr->sa, len);
    /* a wildcard listener answers on loopback */
    if (sa.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&sa;
        if (in->sin_addr.s_addr == htonl(INADDR_ANY)) {
            in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        }
    }
    else if (sa.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;
        if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr)) {
            in6->sin6_addr = in6addr_loopback;
        }
    }
    if ((fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
        return 0;
    }
    rv = connect(fd, (struct sockaddr *)&sa, len);
    if (rv < 0 && errno == EINPROGRESS) {
        struct pollfd pfd = {fd, POLLOUT, 0};
        int err = 0;
        socklen_t elen = sizeof(err);
        rv = poll(&pfd, 1, 500) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 &&
                     err == 0
                 ? 0
                 : -1;
    }
    close(fd);
    return rv == 0;
}
