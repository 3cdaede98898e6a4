/* Bare epoll WebSocket broadcast server: the benchmark's upper bound.
 *
 *   bare_server PORT
 *
 * One thread, one epoll loop, no storage, no JSON. GET /ROOM upgrades (no
 * Sec-WebSocket-Accept check by the client, so none is computed: this is the
 * cost floor, not a WebSocket implementation); the socket gets a text frame
 * "welcome" and joins room ROOM (a number below MAX_ROOMS). Every text frame a
 * client sends is written, unmasked, to every member of its room (sender
 * included) with one write() per member. A member whose socket does not take
 * the whole frame is dropped (a loss the load client counts).
 *
 *   bare_server PORT coalesce
 *
 * The same, but frames are appended to each member's buffer and every member
 * written once per loop turn (one write carrying all of the turn's frames),
 * as mod_chat's reactor does: the floor for a server that coalesces. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_ROOMS 1024
#define IN_BUF    1024

typedef struct member {
    int fd;
    int room; /* -1 until upgraded */
    int slot; /* index in its room's array */
    size_t have;
    unsigned char *out; /* coalesce: this turn's frames, written at its end */
    size_t out_len, out_cap;
    struct member *dirty_next;
    int dirty;
    unsigned char in[IN_BUF];
} member;

typedef struct {
    int *fds;
    int n, cap;
} room;

static room rooms[MAX_ROOMS];
static member **by_fd;
static int max_fd, coalesce;
static member *dirty;

static void room_add(member *m, int r)
{
    room *rm = &rooms[r];
    if (rm->n == rm->cap) {
        rm->cap = rm->cap ? rm->cap * 2 : 64;
        rm->fds = realloc(rm->fds, sizeof(int) * (size_t)rm->cap);
    }
    m->room = r;
    m->slot = rm->n;
    rm->fds[rm->n++] = m->fd;
}

static void member_drop(int ep, member *m)
{
    if (m->dirty) {
        member **pp;
        for (pp = &dirty; *pp; pp = &(*pp)->dirty_next) {
            if (*pp == m) {
                *pp = m->dirty_next;
                break;
            }
        }
    }
    free(m->out);
    if (m->room >= 0) {
        room *rm = &rooms[m->room];
        int last = rm->fds[--rm->n];
        rm->fds[m->slot] = last;
        by_fd[last]->slot = m->slot;
    }
    epoll_ctl(ep, EPOLL_CTL_DEL, m->fd, NULL);
    close(m->fd);
    by_fd[m->fd] = NULL;
    free(m);
}

static void room_send(int ep, int r, const unsigned char *f, size_t len)
{
    room *rm = &rooms[r];
    int i;
    for (i = 0; i < rm->n; i++) {
        int fd = rm->fds[i];
        if (coalesce) {
            member *m = by_fd[fd];
            if (m->out_len + len > m->out_cap) {
                unsigned char *o = realloc(m->out, m->out_len + len + 4096);
                if (!o) {
                    member_drop(ep, m);
                    i--;
                    continue;
                }
                m->out = o;
                m->out_cap = m->out_len + len + 4096;
            }
            memcpy(m->out + m->out_len, f, len);
            m->out_len += len;
            if (!m->dirty) {
                m->dirty = 1;
                m->dirty_next = dirty;
                dirty = m;
            }
            continue;
        }
        if (write(fd, f, len) != (ssize_t)len) {
            member_drop(ep, by_fd[fd]);
            i--; /* the last member moved into slot i */
        }
    }
}

/* Parses the client's frames; returns -1 to drop it. */
static int member_frames(int ep, member *m)
{
    for (;;) {
        unsigned char *p = m->in, out[4 + IN_BUF];
        size_t len = p[1] & 0x7f, h = 6, i, oh = 2;
        if (m->have < 2) {
            return 0;
        }
        if (len == 126) {
            if (m->have < 4) {
                return 0;
            }
            len = ((size_t)p[2] << 8) | p[3];
            h = 8;
        }
        else if (len == 127 || !(p[1] & 0x80)) {
            return -1;
        }
        if (h + len > IN_BUF) {
            return -1;
        }
        if (m->have < h + len) {
            return 0;
        }
        if ((p[0] & 0x0f) == 0x8) {
            return -1;
        }
        if ((p[0] & 0x0f) == 0x1) {
            out[0] = 0x81;
            if (len < 126) {
                out[1] = (unsigned char)len;
            }
            else {
                out[1] = 126;
                out[2] = (unsigned char)(len >> 8);
                out[3] = (unsigned char)len;
                oh = 4;
            }
            for (i = 0; i < len; i++) {
                out[oh + i] = p[h + i] ^ p[h - 4 + (i & 3)];
            }
            room_send(ep, m->room, out, oh + len);
            if (!by_fd[m->fd]) {
                return 1; /* dropped itself while sending */
            }
        }
        memmove(m->in, m->in + h + len, m->have - h - len);
        m->have -= h + len;
    }
}

static int member_handshake(member *m)
{
    static const char resp[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                               "Connection: Upgrade\r\n"
                               "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
                               "\x81\x07welcome";
    unsigned char *e = memmem(m->in, m->have, "\r\n\r\n", 4);
    int r;
    if (!e) {
        return m->have == IN_BUF ? -1 : 0;
    }
    if (memcmp(m->in, "GET /", 5)) {
        return -1;
    }
    r = atoi((char *)m->in + 5);
    if (r < 0 || r >= MAX_ROOMS) {
        return -1;
    }
    if (write(m->fd, resp, sizeof(resp) - 1) != (ssize_t)(sizeof(resp) - 1)) {
        return -1;
    }
    room_add(m, r);
    e += 4;
    m->have -= (size_t)(e - m->in);
    memmove(m->in, e, m->have);
    return 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_in a;
    struct epoll_event ev, evs[512];
    struct rlimit rl;
    int ls, ep, one = 1;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s PORT [coalesce]\n", argv[0]);
        return 2;
    }
    coalesce = argc == 3 && !strcmp(argv[2], "coalesce");
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    max_fd = (int)rl.rlim_cur;
    by_fd = calloc((size_t)max_fd, sizeof(*by_fd));
    ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)atoi(argv[1]));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 4096)) {
        perror("listen");
        return 1;
    }
    ep = epoll_create1(0);
    ev.events = EPOLLIN;
    ev.data.fd = ls;
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    printf("listening %s\n", argv[1]);
    fflush(stdout);
    for (;;) {
        int n = epoll_wait(ep, evs, 512, -1), j;
        for (j = 0; j < n; j++) {
            int fd = evs[j].data.fd;
            member *m;
            ssize_t r;
            if (fd == ls) {
                int c;
                while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (c >= max_fd) {
                        close(c);
                        continue;
                    }
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    m = calloc(1, sizeof(*m));
                    m->fd = c;
                    m->room = -1;
                    by_fd[c] = m;
                    ev.events = EPOLLIN;
                    ev.data.fd = c;
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                }
                continue;
            }
            m = by_fd[fd];
            if (!m) {
                continue;
            }
            r = read(fd, m->in + m->have, IN_BUF - m->have);
            if (r <= 0) {
                if (r == 0 || errno != EAGAIN) {
                    member_drop(ep, m);
                }
                continue;
            }
            m->have += (size_t)r;
            if ((m->room < 0 && member_handshake(m) < 0) ||
                (m->room >= 0 && member_frames(ep, m) < 0)) {
                member_drop(ep, m);
            }
        }
        while (dirty) { /* coalesce: one write per member per turn */
            member *m = dirty;
            dirty = m->dirty_next;
            m->dirty = 0;
            if (write(m->fd, m->out, m->out_len) != (ssize_t)m->out_len) {
                member_drop(ep, m);
                continue;
            }
            m->out_len = 0;
        }
    }
}
