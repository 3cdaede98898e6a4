/* Abusive-client load for mod_chat (issue 12): plain C, libc + pthreads,
 * loopback only, every phase bounded in time. Run by bench/abuse.sh.
 *
 *   cc -O2 -pthread -o ws_abuse ws_abuse.c
 *   ws_abuse flood PORT ROOM N SECONDS [PING_PAYLOAD QUIET_S DRAIN_S]
 *   ws_abuse close PORT ROOM M idle|shutdown [WATCH_S DRAIN_S TEXT_LEN POSTERS RATE]
 *
 * Every client joins /chat/ROOM?username=NAME (query identity) and waits for
 * its `welcome`; the room's members must already be in Redis (the driver,
 * bench/abuse.py, adds them): flood mode uses f0..f{N-1}, a and b; close mode
 * c0..c{M-1} and poster0..poster{POSTERS-1}.
 *
 * flood: N flooders each write masked ping frames (PING_PAYLOAD bytes of
 *   payload, default 0, so 6 bytes a frame) as fast as their sockets take
 *   them for SECONDS, and never read. Meanwhile members a and b send a chat
 *   message every 100 ms (alternately) and time its arrival at both of them
 *   (the sender's own copy included); they do the same for QUIET_S seconds
 *   (default 3) before the flood, for comparison. SIGUSR1 ends the flood
 *   early (the driver's memory cap). Every 100 ms during the flood each
 *   flooder's receive queue is looked at with MSG_PEEK, which leaves it as
 *   it is (the server sees a client that does not read), for the server's
 *   close frame. After the flood each flooder reads its socket for at most
 *   DRAIN_S seconds (default 5) until a close frame, EOF or a reset.
 *
 * close: M closers join and never read. POSTERS well-behaved members (default
 *   8, each at most RATE messages a second, default 15, within a
 *   per-connection message budget) post chat messages of TEXT_LEN characters
 *   (default 4000, each a 4-byte emoji: 16 KB frames) in batches, until three
 *   batches in a row grew neither a closer's receive queue nor the server's
 *   send queue towards it (/proc/net/tcp), then EXTRA_BATCHES more, which the
 *   server can only keep in its own queues. Then every closer sends a close
 *   frame (1000) and keeps not reading; with `shutdown` it also half-closes
 *   (shutdown(SHUT_WR)), as some clients do. For WATCH_S seconds (default 10)
 *   the server side of each connection is watched in /proc/net/tcp and the
 *   closers' queues are peeked for the server's close; then each closer reads
 *   for at most DRAIN_S seconds.
 *
 * "The server closed the TCP connection" means the server's socket for that
 * connection left ESTABLISHED/CLOSE_WAIT (or vanished) in /proc/net/tcp,
 * polled every 100 ms: that sees a close() even when the client's full
 * receive buffer keeps the server's FIN from arriving.
 *
 * ABUSE_DEBUG=1 in the environment prints each fill batch's queues on stderr.
 *
 * Output: key=value lines on stdout; progress markers `flood_start`,
 * `flood_end`, `filled`, `close_sent` are flushed as they happen so the
 * driver can sample the server's /proc at the right moments. Exit 0 when the
 * run completed (whatever the server did), 1 when the clients could not join,
 * 2 on bad usage. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 5000
#define MEMBER_BUF  (1 << 20)
#define MAX_LAT     100000
/* close mode: batches posted after three in a row that changed no kernel
 * queue, so that the server holds frames for every closer in its own queue:
 * at least (3 + EXTRA_BATCHES) x POSTERS x 16 KB, about 512 KiB by default,
 * far below the default ChatSendQueueLimit of 4 MB */
#define EXTRA_BATCHES 1

static int PORT;
static const char *ROOM;
static volatile sig_atomic_t stop_flood;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* p-quantile of v[0..n) (sorts v); 0 when empty */
static double quantile(double *v, int n, double p)
{
    int i;
    if (n <= 0) {
        return 0;
    }
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    i = (int)(p * n);
    return v[i >= n ? n - 1 : i];
}

/* ------------------------------------------------------------ frames */

/* A masked client frame (FIN set) into out; returns its length. */
static size_t client_frame(unsigned char *out, int opcode, const unsigned char *payload, size_t len)
{
    static const unsigned char key[4] = {0x5a, 0x17, 0xc3, 0x9e};
    size_t h = 0, i;

    out[h++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        out[h++] = (unsigned char)(0x80 | len);
    }
    else if (len < 65536) {
        out[h++] = 0x80 | 126;
        out[h++] = (unsigned char)(len >> 8);
        out[h++] = (unsigned char)len;
    }
    else {
        out[h++] = 0x80 | 127;
        for (i = 0; i < 8; i++) {
            out[h++] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        }
    }
    memcpy(out + h, key, 4);
    h += 4;
    for (i = 0; i < len; i++) {
        out[h + i] = payload[i] ^ key[i % 4];
    }
    return h + len;
}

/* Parse one server frame at p[0..have): 0 if incomplete, else its size. */
static size_t server_frame(const unsigned char *p, size_t have, int *opcode, size_t *off,
                           size_t *len)
{
    size_t h = 2, l, i;

    if (have < 2) {
        return 0;
    }
    l = p[1] & 0x7f;
    if (l == 126) {
        if (have < 4) {
            return 0;
        }
        l = ((size_t)p[2] << 8) | p[3];
        h = 4;
    }
    else if (l == 127) {
        if (have < 10) {
            return 0;
        }
        for (l = 0, i = 0; i < 8; i++) {
            l = (l << 8) | p[2 + i];
        }
        h = 10;
    }
    if (have < h + l) {
        return 0;
    }
    *opcode = p[0] & 0x0f;
    *off = h;
    *len = l;
    return h + l;
}

/* Streaming reader for the drain: skips payloads without holding them, keeps
 * a close frame's code. */
typedef struct {
    unsigned char hdr[14];
    size_t hdr_have, hdr_need;
    uint64_t left; /* payload bytes still to skip or collect */
    int opcode;
    unsigned char cbuf[125];
    size_t chave;
    int close_code; /* 0 none yet, 1005 close without a code */
    long frames, pongs;
} drain_parser;

/* Feed bytes; returns 1 once a close frame is complete. */
static int drain_feed(drain_parser *d, const unsigned char *p, size_t n)
{
    while (n > 0) {
        if (d->left == 0 && d->hdr_have < (d->hdr_need ? d->hdr_need : 2)) {
            d->hdr[d->hdr_have++] = *p++;
            n--;
            if (d->hdr_have == 2) {
                size_t l = d->hdr[1] & 0x7f;
                d->hdr_need = l == 126 ? 4 : l == 127 ? 10 : 2;
            }
            if (d->hdr_have == d->hdr_need) {
                uint64_t l = d->hdr[1] & 0x7f;
                size_t i;
                if (l == 126) {
                    l = ((uint64_t)d->hdr[2] << 8) | d->hdr[3];
                }
                else if (l == 127) {
                    for (l = 0, i = 0; i < 8; i++) {
                        l = (l << 8) | d->hdr[2 + i];
                    }
                }
                d->opcode = d->hdr[0] & 0x0f;
                d->left = l;
                d->chave = 0;
                d->frames++;
                d->pongs += d->opcode == 0xA;
                d->hdr_have = d->hdr_need = 0;
                if (l == 0 && d->opcode == 0x8) {
                    d->close_code = 1005;
                    return 1;
                }
            }
            continue;
        }
        {
            size_t take = n < d->left ? n : (size_t)d->left;
            if (d->opcode == 0x8 && d->chave + take <= sizeof(d->cbuf)) {
                memcpy(d->cbuf + d->chave, p, take);
                d->chave += take;
            }
            p += take;
            n -= take;
            d->left -= take;
            if (d->left == 0 && d->opcode == 0x8) {
                d->close_code = d->chave >= 2 ? (d->cbuf[0] << 8 | d->cbuf[1]) : 1005;
                return 1;
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------ joining */

typedef struct {
    int fd;
    int local_port;
    unsigned char *buf; /* members and posters: bytes read, not yet parsed */
    size_t have;
    /* bytes read past the welcome during the join, fed to the parsers first */
    unsigned char *left;
    size_t left_len;
    /* server side of the connection, from /proc/net/tcp */
    double server_closed_at; /* 0: still open */
    unsigned long srv_txq, cli_rxq, srv_txq_prev, cli_rxq_prev;
    /* the receive queue looked at with MSG_PEEK, i.e. without reading */
    drain_parser pp;
    size_t peeked;
    double close_seen_at; /* the server's close frame is in our receive queue */
    /* flooders */
    unsigned long long bytes_sent;
    double write_error_at;
    size_t ring_off;
    /* drain */
    drain_parser dp;
    int drain_done; /* 1 close frame, 2 EOF, 3 reset/error */
    double close_frame_at;
} client;

/* Connect, upgrade, wait for the welcome (blocking, 10 s cap each). Bytes
 * read past the welcome frame go to c->buf when it is set (members), else
 * to c->left. The socket is left non-blocking. */
static int ws_join(client *c, const char *user)
{
    struct sockaddr_in a;
    struct timeval tv = {10, 0};
    char req[512];
    static unsigned char *buf;
    const size_t cap = 1 << 20;
    size_t have = 0;
    int one = 1, upgraded = 0, peek_off = 0;
    socklen_t alen = sizeof(a);

    if (!buf) {
        buf = malloc(cap);
    }
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0) {
        return -1;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)PORT);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        return -1;
    }
    getsockname(c->fd, (struct sockaddr *)&a, &alen);
    c->local_port = ntohs(a.sin_port);
    snprintf(req, sizeof(req),
             "GET /chat/%s?username=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Upgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n",
             ROOM, user);
    if (write(c->fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        return -1;
    }
    for (;;) {
        ssize_t r = read(c->fd, buf + have, cap - have);
        if (r <= 0) {
            return -1;
        }
        have += (size_t)r;
        if (!upgraded) {
            unsigned char *e = memmem(buf, have, "\r\n\r\n", 4);
            if (!e) {
                continue;
            }
            if (memcmp(buf, "HTTP/1.1 101", 12)) {
                return -1;
            }
            e += 4;
            have -= (size_t)(e - buf);
            memmove(buf, e, have);
            upgraded = 1;
        }
        for (;;) {
            int op;
            size_t off, len, fl = server_frame(buf, have, &op, &off, &len);
            int welcome;
            if (!fl) {
                break;
            }
            if (op == 0x8) {
                return -1; /* auth_failed and 1008: not a member */
            }
            welcome = op == 0x1 && memmem(buf + off, len, "\"type\":\"welcome\"", 16) != NULL;
            memmove(buf, buf + fl, have - fl);
            have -= fl;
            if (welcome) {
                if (c->buf) {
                    memcpy(c->buf, buf, have);
                    c->have = have;
                }
                else if (have) {
                    c->left = malloc(have);
                    memcpy(c->left, buf, have);
                    c->left_len = have;
                }
                drain_feed(&c->pp, c->left, c->left_len);
                fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
                /* MSG_PEEK from an offset that advances (Linux 6.10+ for
                 * TCP); without it peek_queue() looks at the whole queue */
                if (setsockopt(c->fd, SOL_SOCKET, SO_PEEK_OFF, &peek_off, sizeof(peek_off))) {
                    c->peeked = (size_t)-1;
                }
                return 0;
            }
        }
        if (have == cap) {
            return -1;
        }
    }
}

/* Looks for the server's close frame in c's receive queue without reading
 * it (MSG_PEEK: the queue, and so what the server sees, stays the same). */
static void peek_queue(client *c, double t0)
{
    static unsigned char *buf;
    const size_t cap = 16 << 20;
    int avail = 0;
    ssize_t r;

    if (c->close_seen_at || ioctl(c->fd, FIONREAD, &avail) < 0 || avail <= 0) {
        return;
    }
    if (!buf) {
        buf = malloc(cap);
    }
    if (c->peeked != (size_t)-1) {
        /* SO_PEEK_OFF: only the bytes not looked at yet */
        if ((size_t)avail <= c->peeked) {
            return;
        }
        r = recv(c->fd, buf, (size_t)avail - c->peeked < cap ? (size_t)avail - c->peeked : cap,
                 MSG_PEEK | MSG_DONTWAIT);
        if (r > 0) {
            c->peeked += (size_t)r;
            if (drain_feed(&c->pp, buf, (size_t)r)) {
                c->close_seen_at = now_s() - t0;
            }
        }
        return;
    }
    /* the whole queue again, from a parser that has seen only the join's
     * leftover (cheap enough: the queue of a client that never reads stays
     * at its initial window, about 128 KiB) */
    r = recv(c->fd, buf, (size_t)avail < cap ? (size_t)avail : cap, MSG_PEEK | MSG_DONTWAIT);
    if (r > 0) {
        drain_parser fresh;
        memset(&fresh, 0, sizeof(fresh));
        drain_feed(&fresh, c->left, c->left_len);
        if (drain_feed(&fresh, buf, (size_t)r)) {
            c->close_seen_at = now_s() - t0;
        }
        c->pp = fresh;
    }
}

/* ------------------------------------------------------------ /proc/net/tcp */

/* Reads the server side of every client's connection: the socket whose local
 * port is PORT and remote port the client's. Updates srv_txq (bytes the
 * server's kernel holds unacknowledged) and server_closed_at; with the client
 * side, cli_rxq (bytes waiting in the client's receive queue). */
static void scan_tcp(client *cl, int n, double t0)
{
    static int *by_port;
    static unsigned char *seen;
    FILE *f = fopen("/proc/net/tcp", "r");
    char line[512];
    int i;

    if (!by_port) {
        by_port = calloc(65536, sizeof(int));
        seen = calloc(65536, 1);
    }
    if (!f) {
        return;
    }
    memset(by_port, 0, 65536 * sizeof(int));
    memset(seen, 0, 65536);
    for (i = 0; i < n; i++) {
        by_port[cl[i].local_port] = i + 1;
    }
    if (!fgets(line, sizeof(line), f)) { /* header */
        fclose(f);
        return;
    }
    while (fgets(line, sizeof(line), f)) {
        unsigned int la, lp, ra, rp, st;
        unsigned long txq, rxq;
        if (sscanf(line, " %*d: %x:%x %x:%x %x %lx:%lx", &la, &lp, &ra, &rp, &st, &txq, &rxq) !=
            7) {
            continue;
        }
        if ((int)lp == PORT && rp < 65536 && by_port[rp]) {
            client *c = &cl[by_port[rp] - 1];
            /* 01 ESTABLISHED, 08 CLOSE_WAIT (the client half-closed): the
             * server still holds the socket */
            if (st == 0x01 || st == 0x08) {
                seen[rp] = 1;
                c->srv_txq = txq;
            }
        }
        else if ((int)rp == PORT && lp < 65536 && by_port[lp]) {
            cl[by_port[lp] - 1].cli_rxq = rxq;
        }
    }
    fclose(f);
    for (i = 0; i < n; i++) {
        if (!seen[cl[i].local_port] && !cl[i].server_closed_at) {
            cl[i].server_closed_at = now_s() - t0;
        }
    }
}

/* ------------------------------------------------------------ drain */

/* Each client reads what is in its socket until a close frame, EOF or a
 * reset, for at most `seconds`. */
static void drain(client *cl, int n, double seconds, double t0)
{
    int ep = epoll_create1(0), i, left = 0;
    double deadline = now_s() + seconds;
    static unsigned char buf[1 << 18];
    struct epoll_event ev, evs[256];

    for (i = 0; i < n; i++) {
        /* the bytes the join read past the welcome come first */
        if (!cl[i].drain_done && drain_feed(&cl[i].dp, cl[i].left, cl[i].left_len)) {
            cl[i].drain_done = 1;
            cl[i].close_frame_at = now_s() - t0;
        }
        if (cl[i].drain_done) {
            continue;
        }
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u32 = (unsigned)i;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, cl[i].fd, &ev) == 0) {
            left++;
        }
    }
    while (left > 0 && now_s() < deadline) {
        int m = epoll_wait(ep, evs, 256, 100), j;
        for (j = 0; j < m; j++) {
            client *c = &cl[evs[j].data.u32];
            int k;
            if (c->drain_done) {
                continue;
            }
            for (k = 0; k < 16 && !c->drain_done; k++) {
                ssize_t r = read(c->fd, buf, sizeof(buf));
                if (r > 0) {
                    if (drain_feed(&c->dp, buf, (size_t)r)) {
                        c->drain_done = 1;
                        c->close_frame_at = now_s() - t0;
                    }
                    continue;
                }
                if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
                    break;
                }
                c->drain_done = r == 0 ? 2 : 3;
            }
            if (c->drain_done) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                left--;
            }
        }
    }
    close(ep);
}

/* Tallies of a drain: close codes, cut, still open. */
static void report_drain(const char *who, client *cl, int n)
{
    int codes[16] = {0}, code_of[16] = {0}, ncodes = 0, cut = 0, reset = 0, open = 0, i, k;
    long pongs = 0;

    for (i = 0; i < n; i++) {
        pongs += cl[i].dp.pongs;
        if (cl[i].drain_done == 1) {
            for (k = 0; k < ncodes && code_of[k] != cl[i].dp.close_code; k++) {
            }
            if (k == ncodes && ncodes < 16) {
                code_of[ncodes++] = cl[i].dp.close_code;
            }
            if (k < 16) {
                codes[k]++;
            }
        }
        else if (cl[i].drain_done == 2) {
            cut++;
        }
        else if (cl[i].drain_done == 3) {
            reset++;
        }
        else {
            open++;
        }
    }
    printf("%s_after_drain close_frame=%d cut_without_close=%d (eof=%d reset=%d) "
           "no_close_yet=%d pongs_read=%ld",
           who, n - cut - reset - open, cut + reset, cut, reset, open, pongs);
    for (k = 0; k < ncodes; k++) {
        printf(" close_code_%d=%d", code_of[k], codes[k]);
    }
    printf("\n");
}

static void report_server_closes(const char *who, client *cl, int n, const char *since)
{
    double *t = malloc(sizeof(double) * (size_t)(n + 1));
    int k = 0, i;

    for (i = 0; i < n; i++) {
        if (cl[i].server_closed_at) {
            t[k++] = cl[i].server_closed_at;
        }
    }
    printf("%s_tcp_closed_by_server=%d/%d", who, k, n);
    if (k) {
        double mn = quantile(t, k, 0);
        printf(" seconds_after_%s min=%.1f p50=%.1f max=%.1f", since, mn, quantile(t, k, 0.5),
               t[k - 1]);
    }
    printf("\n");
    free(t);
}

/* ------------------------------------------------------------ flood mode */

static client *FL;
static int NFL;
static unsigned char *RING;
static size_t RING_LEN, PING_LEN;
static double FLOOD_T0, FLOOD_END;
static volatile int flood_done, drain_running;

static void on_usr1(int sig)
{
    (void)sig;
    stop_flood = 1;
}

static void *drain_thread(void *arg)
{
    drain(FL, NFL, *(double *)arg, FLOOD_T0);
    drain_running = 0;
    return NULL;
}

/* The flooders: write pings while the socket takes them; never read. */
static void *flood_thread(void *arg)
{
    int ep = epoll_create1(0), i;
    struct epoll_event ev, evs[256];
    double deadline = *(double *)arg;

    for (i = 0; i < NFL; i++) {
        ev.events = EPOLLOUT | EPOLLRDHUP;
        ev.data.u32 = (unsigned)i;
        epoll_ctl(ep, EPOLL_CTL_ADD, FL[i].fd, &ev);
    }
    /* the flood lasts its time even once every flooder is cut: the members
     * keep measuring the server for as long as the run says */
    while (!stop_flood && now_s() < deadline) {
        int m = epoll_wait(ep, evs, 256, 50), j;
        for (j = 0; j < m; j++) {
            client *c = &FL[evs[j].data.u32];
            if (evs[j].events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
                c->write_error_at = now_s() - FLOOD_T0;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                continue;
            }
            if (evs[j].events & EPOLLOUT) {
                /* RING holds whole frames: continuing from ring_off keeps
                 * frame boundaries across partial writes */
                ssize_t w = send(c->fd, RING + c->ring_off, RING_LEN - c->ring_off,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w > 0) {
                    c->bytes_sent += (unsigned long long)w;
                    c->ring_off = (c->ring_off + (size_t)w) % RING_LEN;
                }
                else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                    c->write_error_at = now_s() - FLOOD_T0;
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                }
            }
        }
    }
    FLOOD_END = now_s();
    flood_done = 1;
    close(ep);
    return NULL;
}

/* Members a and b: a chat message every 100 ms, alternately, tagged with the
 * phase and the send time; every arrival (both members) is timed. */
typedef struct {
    long sent, delivered, errors;
    char codes[256]; /* the `error` replies' codes, in order of first sight */
    long code_n[8];
    double lat[MAX_LAT];
    int nlat;
} member_stats;

static member_stats PHASE[2]; /* 0 quiet, 1 flood */

static void member_send(client *m, int phase, long seq)
{
    char text[200];
    unsigned char f[256];
    size_t n;
    snprintf(text, sizeof(text),
             "{\"type\":\"chat\",\"payload\":{\"type\":\"text\",\"text\":\"p=%d s=%ld t=%.6f\"}}",
             phase, seq, now_s());
    n = client_frame(f, 0x1, (const unsigned char *)text, strlen(text));
    if (send(m->fd, f, n, MSG_NOSIGNAL) != (ssize_t)n) {
        PHASE[phase].errors++;
    }
}

/* Counts an `error` reply's code in s (up to 8 distinct codes). */
static void note_code(member_stats *s, const unsigned char *msg, size_t len)
{
    char code[40] = "?", *c = memmem(msg, len, "\"code\":\"", 8), *p, *q;
    int k = 0;

    if (c) {
        size_t n = 0;
        c += 8;
        while (n < sizeof(code) - 1 && c + n < (char *)msg + len && c[n] != '"') {
            n++;
        }
        memcpy(code, c, n);
        code[n] = 0;
    }
    for (p = s->codes; *p; p = q + 1, k++) {
        q = strchr(p, ' ');
        if ((size_t)(q - p) == strlen(code) && !strncmp(p, code, (size_t)(q - p))) {
            s->code_n[k]++;
            return;
        }
    }
    if (k < 8 && strlen(s->codes) + strlen(code) + 2 < sizeof(s->codes)) {
        strcat(s->codes, code);
        strcat(s->codes, " ");
        s->code_n[k] = 1;
    }
}

/* Reads what is there, answers pings; returns chat messages seen and counts
 * `error` replies in *errors (their codes in `stats` when given). Members
 * time their own messages (p=...). */
static long member_read_codes(client *m, long *errors, member_stats *stats)
{
    long chats = 0;

    for (;;) {
        ssize_t r = read(m->fd, m->buf + m->have, MEMBER_BUF - m->have);
        if (r <= 0) {
            break;
        }
        m->have += (size_t)r;
    }
    for (;;) {
        int op;
        size_t off, len, fl = server_frame(m->buf, m->have, &op, &off, &len);
        if (!fl) {
            break;
        }
        if (op == 0x9) {
            unsigned char pong[131];
            size_t pl = client_frame(pong, 0xA, m->buf + off, len);
            if (send(m->fd, pong, pl, MSG_NOSIGNAL) < 0) {
                (*errors)++;
            }
        }
        else if (op == 0x1 && memmem(m->buf + off, len, "\"type\":\"chat\"", 13)) {
            char *t = memmem(m->buf + off, len, "\"text\":\"p=", 10);
            chats++;
            if (t) {
                int phase = t[10] == '1';
                char *ts = memmem(t, len - (size_t)(t - (char *)m->buf - off), " t=", 3);
                if (ts) {
                    member_stats *s = &PHASE[phase];
                    s->delivered++;
                    if (s->nlat < MAX_LAT) {
                        s->lat[s->nlat++] = (now_s() - atof(ts + 3)) * 1e3;
                    }
                }
            }
        }
        else if (op == 0x1 && memmem(m->buf + off, len, "\"type\":\"error\"", 14)) {
            (*errors)++;
            if (stats) {
                note_code(stats, m->buf + off, len);
            }
        }
        memmove(m->buf, m->buf + fl, m->have - fl);
        m->have -= fl;
    }
    return chats;
}

static long member_read(client *m, long *errors)
{
    return member_read_codes(m, errors, NULL);
}

/* Runs the members until `until`, sending while now < send_until (0: not
 * at all). watch: 1 also follows the flooders (server side in /proc/net/tcp,
 * close frames by MSG_PEEK) every 100 ms; 2 the server side only. */
static void members_run(client *mb, int phase, double send_until, double until, double settle_after,
                        long *seq, double *next, int watch)
{
    int ep = epoll_create1(0), i;
    struct epoll_event ev, evs[4];
    double next_scan = 0;

    for (i = 0; i < 2; i++) {
        ev.events = EPOLLIN;
        ev.data.u32 = (unsigned)i;
        epoll_ctl(ep, EPOLL_CTL_ADD, mb[i].fd, &ev);
        /* what came with the welcome */
        member_read_codes(&mb[i], &PHASE[phase].errors, &PHASE[phase]);
    }
    for (;;) {
        double now = now_s();
        int m, j, wait_ms;
        if (now >= until) {
            break;
        }
        if (phase == 1 && flood_done && send_until > 0) {
            break; /* the flood ended early (the driver's memory cap) */
        }
        if (send_until == 0 && now >= settle_after && !drain_running &&
            PHASE[phase].delivered >= 2 * PHASE[phase].sent) {
            break; /* after the flood: everything arrived, the drain is over */
        }
        if (now < send_until && now >= *next) {
            member_send(&mb[*seq % 2], phase, *seq);
            PHASE[phase].sent++;
            (*seq)++;
            *next += 0.1;
        }
        if (watch && now >= next_scan) {
            scan_tcp(FL, NFL, FLOOD_T0);
            for (i = 0; watch == 1 && i < NFL; i++) {
                peek_queue(&FL[i], FLOOD_T0);
            }
            next_scan = now + 0.1;
        }
        wait_ms = (int)((*next - now_s()) * 1e3);
        if (wait_ms < 1) {
            wait_ms = 1;
        }
        if (wait_ms > 20) {
            wait_ms = 20;
        }
        m = epoll_wait(ep, evs, 4, wait_ms);
        for (j = 0; j < m; j++) {
            member_read_codes(&mb[evs[j].data.u32], &PHASE[phase].errors, &PHASE[phase]);
        }
    }
    close(ep);
}

static void report_members(const char *phase, member_stats *s)
{
    char *p, *q;
    int k = 0;

    printf("members_%s sent=%ld delivered=%ld/%ld errors=%ld latency_ms p50=%.2f p99=%.2f "
           "max=%.2f",
           phase, s->sent, s->delivered, 2 * s->sent, s->errors, quantile(s->lat, s->nlat, 0.5),
           quantile(s->lat, s->nlat, 0.99), quantile(s->lat, s->nlat, 1.0));
    for (p = s->codes; *p; p = q + 1, k++) {
        q = strchr(p, ' ');
        printf(" error_%.*s=%ld", (int)(q - p), p, s->code_n[k]);
    }
    printf("\n");
}

static void report_times(const char *label, double *t, int k)
{
    if (k) {
        printf(" %s p50=%.1f max=%.1f", label, quantile(t, k, 0.5), quantile(t, k, 1.0));
    }
}

static int flood_mode(int n, double seconds, int payload, double quiet, double drain_s)
{
    client mb[2];
    pthread_t th;
    double deadline, next, t_quiet;
    long seq = 0;
    unsigned char pl[125];
    int i;
    char name[32];

    memset(mb, 0, sizeof(mb));
    FL = calloc((size_t)n, sizeof(client));
    NFL = n;
    for (i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "f%d", i);
        if (ws_join(&FL[i], name) < 0) {
            printf("join_failed=%s\n", name);
            return 1;
        }
    }
    for (i = 0; i < 2; i++) {
        mb[i].buf = malloc(MEMBER_BUF);
        if (ws_join(&mb[i], i ? "b" : "a") < 0) {
            printf("join_failed=%s\n", i ? "b" : "a");
            return 1;
        }
    }
    printf("joined flooders=%d members=2 peek=%s\n", n,
           FL[0].peeked == (size_t)-1 ? "whole-queue" : "SO_PEEK_OFF");
    fflush(stdout);

    /* a ring of whole ping frames */
    memset(pl, 'p', sizeof(pl));
    PING_LEN = client_frame(RING = malloc(256), 0x9, pl, (size_t)payload);
    free(RING);
    RING_LEN = PING_LEN * (65536 / PING_LEN);
    RING = malloc(RING_LEN);
    for (i = 0; (size_t)i < RING_LEN / PING_LEN; i++) {
        client_frame(RING + (size_t)i * PING_LEN, 0x9, pl, (size_t)payload);
    }

    /* quiet: the members alone */
    t_quiet = now_s();
    next = t_quiet;
    members_run(mb, 0, t_quiet + quiet, t_quiet + quiet + 1.0, 0, &seq, &next, 0);

    /* the flood */
    FLOOD_T0 = now_s();
    deadline = FLOOD_T0 + seconds;
    printf("flood_start ping_frame_bytes=%zu\n", PING_LEN);
    fflush(stdout);
    pthread_create(&th, NULL, flood_thread, &deadline);
    next = FLOOD_T0;
    members_run(mb, 1, deadline, deadline + 1, 0, &seq, &next, 1);
    pthread_join(th, NULL);
    printf("flood_end seconds=%.1f%s\n", FLOOD_END - FLOOD_T0,
           stop_flood ? " stopped_early_by_driver=yes" : "");
    fflush(stdout);

    /* the flooders read what is in their sockets (a thread, at most drain_s)
     * while the server side is still watched for drain_s and the members'
     * last messages arrive (for up to 10 s: late, not lost) */
    {
        double t = now_s();
        drain_running = 1;
        pthread_create(&th, NULL, drain_thread, &drain_s);
        members_run(mb, 1, 0, t + (drain_s > 10 ? drain_s : 10), t + drain_s, &seq, &next, 2);
        pthread_join(th, NULL);
        scan_tcp(FL, n, FLOOD_T0);
    }

    {
        unsigned long long total = 0;
        double *per = malloc(sizeof(double) * (size_t)n);
        double *closed = malloc(sizeof(double) * (size_t)n),
               *seen = malloc(sizeof(double) * (size_t)n);
        int k = 0, ks = 0, late = 0, werr = 0;
        for (i = 0; i < n; i++) {
            client *c = &FL[i];
            double t = 0;
            total += c->bytes_sent;
            per[i] = (double)(c->bytes_sent / PING_LEN);
            werr += c->write_error_at > 0;
            if (c->close_seen_at) {
                seen[ks++] = c->close_seen_at;
                t = c->close_seen_at;
            }
            if (c->server_closed_at && (!t || c->server_closed_at < t)) {
                t = c->server_closed_at;
            }
            if (!t && c->drain_done == 1) {
                t = c->close_frame_at; /* found only by reading after the flood */
                late++;
            }
            if (t) {
                closed[k++] = t;
            }
        }
        printf("flooders pings_written=%llu mib_written=%.1f pings_written_per_s=%.0f "
               "per_flooder_pings min=%.0f p50=%.0f max=%.0f writes_ended_by_hup_or_error=%d\n",
               total / PING_LEN, total / 1048576.0, (total / PING_LEN) / (FLOOD_END - FLOOD_T0),
               quantile(per, n, 0), quantile(per, n, 0.5), quantile(per, n, 1.0), werr);
        printf("flooders_closed_by_server=%d/%d", k, n);
        report_times("seconds_after_flood_start", closed, k);
        if (late) {
            printf(" (%d of them found only by the drain, timed when read)", late);
        }
        printf("\nflooders_close_frame_seen_during_flood=%d/%d", ks, n);
        report_times("seconds_after_flood_start", seen, ks);
        printf("\n");
        report_server_closes("flooders", FL, n, "flood_start");
        report_drain("flooders", FL, n);
        free(per);
        free(closed);
        free(seen);
    }
    report_members("quiet", &PHASE[0]);
    report_members("flood", &PHASE[1]);
    for (i = 0; i < n; i++) {
        close(FL[i].fd);
    }
    close(mb[0].fd);
    close(mb[1].fd);
    return 0;
}

/* ------------------------------------------------------------ close mode */

/* The fill text: TEXT_LEN characters, each a 4-byte UTF-8 emoji, so a message
 * within ChatMaxTextLength (characters) carries 4 x as many bytes. */
static size_t fill_frame(unsigned char **out, int text_len)
{
    static const char emoji[] = "\xf0\x9f\x93\x88"; /* U+1F4C8 chart increasing */
    size_t cap = (size_t)text_len * 4 + 128, n;
    char *text = malloc(cap);
    int i;

    n = (size_t)sprintf(text, "{\"type\":\"chat\",\"payload\":{\"type\":\"text\",\"text\":\"");
    for (i = 0; i < text_len; i++) {
        memcpy(text + n, emoji, 4);
        n += 4;
    }
    n += (size_t)sprintf(text + n, "\"}}");
    *out = malloc(n + 16);
    n = client_frame(*out, 0x1, (unsigned char *)text, n);
    free(text);
    return n;
}

static int close_mode(int m, int shut, double watch, double drain_s, int text_len, int nposters,
                      double poster_rate)
{
    client *cl = calloc((size_t)m, sizeof(client)), *po = calloc((size_t)nposters, sizeof(client));
    char name[32];
    unsigned char *frame;
    size_t flen;
    int i, batches = 0, full_rounds = 0, closed_in_fill = 0, stalled = 0;
    long posted = 0, copies = 0, refused = 0;
    double t0, fill_deadline, next_batch;

    for (i = 0; i < m; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        if (ws_join(&cl[i], name) < 0) {
            printf("join_failed=%s\n", name);
            return 1;
        }
    }
    for (i = 0; i < nposters; i++) {
        snprintf(name, sizeof(name), "poster%d", i);
        po[i].buf = malloc(MEMBER_BUF);
        if (ws_join(&po[i], name) < 0) {
            printf("join_failed=%s\n", name);
            return 1;
        }
    }
    printf("joined closers=%d posters=%d\n", m, nposters);
    fflush(stdout);
    flen = fill_frame(&frame, text_len);

    /* fill: every poster posts one message per batch (each at most
     * poster_rate a second, within a per-connection message budget); poster0
     * counts the copies that come back (every poster reads everything, so
     * none of them is a slow reader); then the queues are looked at */
    t0 = now_s();
    fill_deadline = t0 + 60;
    next_batch = t0;
    while (now_s() < fill_deadline) {
        long want = nposters, got = 0, errs = 0, dummy = 0;
        double wait_until;
        int grew = 0;
        if (now_s() < next_batch) {
            sleep_s(next_batch - now_s());
        }
        next_batch = now_s() + 1.0 / poster_rate;
        for (i = 0; i < nposters; i++) {
            if (send(po[i].fd, frame, flen, MSG_NOSIGNAL) == (ssize_t)flen) {
                posted++;
            }
            else {
                want--; /* a poster's own socket is full: skip it this batch */
            }
        }
        wait_until = now_s() + 10;
        while (got + errs < want && now_s() < wait_until) {
            got += member_read(&po[0], &errs);
            for (i = 1; i < nposters; i++) {
                member_read(&po[i], &errs);
            }
            if (got + errs < want) {
                sleep_s(0.001);
            }
        }
        (void)dummy;
        copies += got;
        refused += errs;
        stalled += got + errs < want;
        batches++;
        scan_tcp(cl, m, t0);
        closed_in_fill = 0;
        for (i = 0; i < m; i++) {
            if (cl[i].server_closed_at) {
                closed_in_fill++;
                continue;
            }
            if (cl[i].srv_txq != cl[i].srv_txq_prev || cl[i].cli_rxq != cl[i].cli_rxq_prev ||
                cl[i].cli_rxq == 0) {
                grew++;
            }
            cl[i].srv_txq_prev = cl[i].srv_txq;
            cl[i].cli_rxq_prev = cl[i].cli_rxq;
        }
        if (getenv("ABUSE_DEBUG")) {
            fprintf(stderr,
                    "batch %d posted=%ld copies=%ld refused=%ld grew=%d closed=%d "
                    "c0 rxq=%lu txq=%lu\n",
                    batches, posted, copies, refused, grew, closed_in_fill, cl[0].cli_rxq,
                    cl[0].srv_txq);
        }
        if (grew == 0) {
            /* every kernel buffer is full (three batches in a row changed
             * nothing); EXTRA_BATCHES more stay in the server's own queues */
            if (++full_rounds >= 3 + EXTRA_BATCHES) {
                break;
            }
        }
        else {
            full_rounds = 0; /* the send buffers grow in steps: not yet */
        }
    }
    {
        double *rx = malloc(sizeof(double) * (size_t)m), *tx = malloc(sizeof(double) * (size_t)m);
        for (i = 0; i < m; i++) {
            rx[i] = cl[i].cli_rxq / 1024.0;
            tx[i] = cl[i].srv_txq / 1024.0;
        }
        printf("fill messages=%ld copies_back=%ld refused=%ld frame_bytes=%zu batches=%d "
               "seconds=%.1f buffers_full=%s client_recv_queue_kib p50=%.0f max=%.0f "
               "server_send_queue_kib p50=%.0f max=%.0f server_closed_during_fill=%d\n",
               posted, copies, refused, flen, batches, now_s() - t0,
               full_rounds >= 3 + EXTRA_BATCHES ? "yes" : "no", quantile(rx, m, 0.5),
               quantile(rx, m, 1.0), quantile(tx, m, 0.5), quantile(tx, m, 1.0), closed_in_fill);
        free(rx);
        free(tx);
    }
    printf("filled\n");
    fflush(stdout);
    sleep_s(1.0); /* the driver samples the idle server meanwhile */

    /* every closer: close 1000, then never read */
    {
        unsigned char cf[32], code[2] = {0x03, 0xe8};
        size_t cl_len = client_frame(cf, 0x8, code, 2);
        int sent = 0;
        t0 = now_s();
        for (i = 0; i < m; i++) {
            if (send(cl[i].fd, cf, cl_len, MSG_NOSIGNAL) == (ssize_t)cl_len) {
                sent++;
            }
            if (shut) {
                shutdown(cl[i].fd, SHUT_WR);
            }
        }
        printf("close_sent=%d after_close=%s\n", sent, shut ? "shutdown" : "idle");
        fflush(stdout);
    }
    /* the server side for `watch` seconds (the posters keep reading) */
    {
        double until = t0 + watch;
        long errs = 0;
        while (now_s() < until) {
            int open = 0;
            sleep_s(0.1);
            for (i = 0; i < nposters; i++) {
                member_read(&po[i], &errs);
            }
            scan_tcp(cl, m, t0);
            for (i = 0; i < m; i++) {
                if (!cl[i].server_closed_at) {
                    open++;
                }
                peek_queue(&cl[i], t0);
            }
            if (!open) {
                break;
            }
        }
        printf("watch_seconds=%.1f\n", now_s() - t0);
    }
    report_server_closes("closers", cl, m, "close_sent");
    {
        double *seen = malloc(sizeof(double) * (size_t)m);
        int ks = 0;
        for (i = 0; i < m; i++) {
            if (cl[i].close_seen_at) {
                seen[ks++] = cl[i].close_seen_at;
            }
        }
        printf("closers_close_frame_seen_while_watching=%d/%d", ks, m);
        report_times("seconds_after_close_sent", seen, ks);
        printf("\n");
        free(seen);
    }
    drain(cl, m, drain_s, t0);
    report_drain("closers", cl, m);
    for (i = 0; i < m; i++) {
        close(cl[i].fd);
    }
    for (i = 0; i < nposters; i++) {
        close(po[i].fd);
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct rlimit rl;

    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGUSR1, on_usr1);
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (argc >= 6 && !strcmp(argv[1], "flood")) {
        int n = atoi(argv[4]), payload = argc > 6 ? atoi(argv[6]) : 0;
        double seconds = atof(argv[5]), quiet = argc > 7 ? atof(argv[7]) : 3,
               drain_s = argc > 8 ? atof(argv[8]) : 5;
        PORT = atoi(argv[2]);
        ROOM = argv[3];
        if (n < 1 || n > MAX_CLIENTS || seconds <= 0 || seconds > 600 || payload < 0 ||
            payload > 125 || quiet < 0 || quiet > 60 || drain_s < 0 || drain_s > 60) {
            fprintf(stderr, "bad arguments\n");
            return 2;
        }
        return flood_mode(n, seconds, payload, quiet, drain_s);
    }
    if (argc >= 6 && !strcmp(argv[1], "close")) {
        int m = atoi(argv[4]), shut = !strcmp(argv[5], "shutdown"),
            text_len = argc > 8 ? atoi(argv[8]) : 4000, posters = argc > 9 ? atoi(argv[9]) : 8;
        double watch = argc > 6 ? atof(argv[6]) : 10, drain_s = argc > 7 ? atof(argv[7]) : 5,
               rate = argc > 10 ? atof(argv[10]) : 15;
        PORT = atoi(argv[2]);
        ROOM = argv[3];
        if (m < 1 || m > MAX_CLIENTS || (!shut && strcmp(argv[5], "idle")) || watch <= 0 ||
            watch > 600 || drain_s < 0 || drain_s > 60 || text_len < 1 || text_len > 1000000 ||
            posters < 1 || posters > 100 || rate <= 0 || rate > 1000) {
            fprintf(stderr, "bad arguments\n");
            return 2;
        }
        return close_mode(m, shut, watch, drain_s, text_len, posters, rate);
    }
    fprintf(stderr,
            "usage: %s flood PORT ROOM N SECONDS [PING_PAYLOAD QUIET_S DRAIN_S]\n"
            "       %s close PORT ROOM M idle|shutdown [WATCH_S DRAIN_S TEXT_LEN POSTERS RATE]\n",
            argv[0], argv[0]);
    return 2;
}
