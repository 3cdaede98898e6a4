/* Connection-capacity client: opens N WebSockets to 127.0.0.1:PORT PATH, has
 * every one echo a message, holds them open while timing a static GET over
 * a fresh connection every 200 ms, then closes them with 1000.
 *
 *   ws_capacity PORT N [PATH] [HOLD_SECONDS] [STATIC_PATH]
 *
 * Prints key=value lines; exits 1 unless every socket opened and echoed.
 * Loopback only; every loop is bounded in count and time. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { CONNECTING, HANDSHAKE, OPEN, ECHOED, FAILED };

typedef struct {
    int fd;
    int state;
    char buf[512];
    size_t have;
    double sent_at;
} conn;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
    int i = (int)(p * (n - 1) + 0.5);
    return n ? v[i] : 0;
}

/* source: 0 = any; k > 0 binds 127.0.0.k so more than one port range of
 * connections can be opened */
static int tcp_connect(int port, int nonblock, int source)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0), one = 1;

    if (fd < 0) {
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (source > 0) {
        struct sockaddr_in s;
        memset(&s, 0, sizeof(s));
        s.sin_family = AF_INET;
        s.sin_addr.s_addr = htonl(INADDR_LOOPBACK + (unsigned)(source - 1));
        if (bind(fd, (struct sockaddr *)&s, sizeof(s)) < 0) {
            close(fd);
            return -1;
        }
    }
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A masked text frame of len < 126 bytes. */
static size_t ws_text(unsigned char *out, const char *text)
{
    size_t n = strlen(text), i;
    unsigned char key[4] = {0x11, 0x22, 0x33, 0x44};

    out[0] = 0x81;
    out[1] = (unsigned char)(0x80 | n);
    memcpy(out + 2, key, 4);
    for (i = 0; i < n; i++) {
        out[6 + i] = (unsigned char)(text[i] ^ key[i % 4]);
    }
    return 6 + n;
}

static double static_get(int port, const char *path)
{
    char req[256], resp[512];
    double t0 = now_ms();
    int fd = tcp_connect(port, 0, 0);
    ssize_t n;
    struct timeval tv = {2, 0};

    if (fd < 0) {
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
             path);
    if (write(fd, req, strlen(req)) < 0) {
        close(fd);
        return -1;
    }
    n = read(fd, resp, sizeof(resp) - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    resp[n] = '\0';
    return strncmp(resp, "HTTP/1.1 200", 12) ? -1 : now_ms() - t0;
}

int main(int argc, char **argv)
{
    int port, n, i, ep, opened = 0, echoed = 0, failed = 0, gets = 0, get_fail = 0;
    const char *path, *static_path;
    double hold, t_start, deadline, *lat, *get_lat, next_get;
    conn *c;
    struct rlimit rl;
    struct epoll_event ev, evs[512];
    static const char req_fmt[] =
        "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    char req[512];

    if (argc < 3) {
        fprintf(stderr, "usage: %s PORT N [PATH] [HOLD_SECONDS] [STATIC_PATH]\n", argv[0]);
        return 2;
    }
    port = atoi(argv[1]);
    n = atoi(argv[2]);
    path = argc > 3 ? argv[3] : "/chat-echo";
    hold = argc > 4 ? atof(argv[4]) : 10;
    static_path = argc > 5 ? argv[5] : "/static.txt";
    if (n < 1 || n > 200000 || port < 1) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);

    c = calloc((size_t)n, sizeof(*c));
    lat = calloc((size_t)n, sizeof(double));
    get_lat = calloc(100000, sizeof(double));
    ep = epoll_create1(0);
    snprintf(req, sizeof(req), req_fmt, path);
    t_start = now_ms();

    /* Open in batches so the listen backlog never overflows. */
    for (i = 0; i < n;) {
        int batch_end = i + 500 < n ? i + 500 : n, k, pending = 0;
        for (k = i; k < batch_end; k++) {
            c[k].fd = tcp_connect(port, 1, 1 + k / 20000);
            if (c[k].fd < 0) {
                c[k].state = FAILED;
                failed++;
                continue;
            }
            pending++;
            c[k].state = CONNECTING;
            ev.events = EPOLLOUT | EPOLLIN;
            ev.data.u32 = (unsigned)k;
            epoll_ctl(ep, EPOLL_CTL_ADD, c[k].fd, &ev);
        }
        deadline = now_ms() + 30000;
        while (pending > 0 && now_ms() < deadline) {
            int m = epoll_wait(ep, evs, 512, 1000), j;
            for (j = 0; j < m; j++) {
                conn *x = &c[evs[j].data.u32];
                if (x->state == CONNECTING && (evs[j].events & EPOLLOUT)) {
                    if (write(x->fd, req, strlen(req)) < 0) {
                        x->state = FAILED;
                        failed++;
                        pending--;
                        continue;
                    }
                    x->state = HANDSHAKE;
                    ev.events = EPOLLIN;
                    ev.data.u32 = evs[j].data.u32;
                    epoll_ctl(ep, EPOLL_CTL_MOD, x->fd, &ev);
                }
                else if (x->state == HANDSHAKE && (evs[j].events & EPOLLIN)) {
                    ssize_t r = read(x->fd, x->buf + x->have, sizeof(x->buf) - 1 - x->have);
                    if (r <= 0) {
                        x->state = FAILED;
                        failed++;
                        pending--;
                        continue;
                    }
                    x->have += (size_t)r;
                    x->buf[x->have] = '\0';
                    if (strstr(x->buf, "\r\n\r\n")) {
                        if (strncmp(x->buf, "HTTP/1.1 101", 12) ||
                            !strstr(x->buf, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")) {
                            x->state = FAILED;
                            failed++;
                        }
                        else {
                            x->state = OPEN;
                            opened++;
                        }
                        x->have = 0;
                        pending--;
                    }
                }
            }
        }
        i = batch_end;
    }
    printf("open_sockets=%d failed=%d open_seconds=%.1f\n", opened, failed,
           (now_ms() - t_start) / 1e3);
    fflush(stdout);

    /* Every socket echoes one message. */
    for (i = 0; i < n; i++) {
        unsigned char f[64];
        char text[32];
        if (c[i].state != OPEN) {
            continue;
        }
        snprintf(text, sizeof(text), "m%d", i);
        c[i].sent_at = now_ms();
        if (write(c[i].fd, f, ws_text(f, text)) < 0) {
            c[i].state = FAILED;
        }
    }
    deadline = now_ms() + 30000;
    while (echoed < opened && now_ms() < deadline) {
        int m = epoll_wait(ep, evs, 512, 1000), j;
        for (j = 0; j < m; j++) {
            conn *x = &c[evs[j].data.u32];
            ssize_t r;
            if (x->state != OPEN) {
                continue;
            }
            r = read(x->fd, x->buf + x->have, sizeof(x->buf) - x->have);
            if (r <= 0) {
                continue;
            }
            x->have += (size_t)r;
            /* server frame: 0x81 len payload ("mNNN") */
            while (x->have >= 2 && x->have >= 2u + (x->buf[1] & 0x7f)) {
                size_t flen = 2u + (x->buf[1] & 0x7f);
                if ((unsigned char)x->buf[0] == 0x81 && x->state == OPEN) {
                    lat[echoed++] = now_ms() - x->sent_at;
                    x->state = ECHOED;
                }
                else if ((unsigned char)x->buf[0] == 0x89) {
                    /* answer a server ping */
                    unsigned char pong[6] = {0x8a, 0x80, 0, 0, 0, 0};
                    if (write(x->fd, pong, 6) < 0) {
                        x->state = FAILED;
                    }
                }
                memmove(x->buf, x->buf + flen, x->have - flen);
                x->have -= flen;
            }
        }
    }
    qsort(lat, (size_t)echoed, sizeof(double), cmp_double);
    printf("echo_delivered=%d/%d echo_latency_ms p50=%.2f p99=%.2f max=%.2f\n", echoed, n,
           pct(lat, echoed, 0.5), pct(lat, echoed, 0.99), echoed ? lat[echoed - 1] : 0);
    fflush(stdout);

    /* Hold them open; time static GETs meanwhile. */
    printf("holding=%.0fs\n", hold);
    fflush(stdout);
    deadline = now_ms() + hold * 1000;
    next_get = now_ms();
    while (now_ms() < deadline) {
        int m, j;
        if (now_ms() >= next_get) {
            double t = static_get(port, static_path);
            if (t < 0) {
                get_fail++;
            }
            else if (gets < 100000) {
                get_lat[gets++] = t;
            }
            next_get += 200;
        }
        m = epoll_wait(ep, evs, 512, 50);
        for (j = 0; j < m; j++) {
            conn *x = &c[evs[j].data.u32];
            char tmp[256];
            ssize_t r = read(x->fd, tmp, sizeof(tmp));
            if (r > 1 && (unsigned char)tmp[0] == 0x89) {
                unsigned char pong[6] = {0x8a, 0x80, 0, 0, 0, 0};
                if (write(x->fd, pong, 6) < 0) {
                    x->state = FAILED;
                }
            }
            else if (r == 0) {
                x->state = FAILED;
                epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
            }
        }
    }
    qsort(get_lat, (size_t)gets, sizeof(double), cmp_double);
    printf("get_count=%d get_failures=%d get_latency_ms p50=%.2f p99=%.2f max=%.2f\n", gets,
           get_fail, pct(get_lat, gets, 0.5), pct(get_lat, gets, 0.99),
           gets ? get_lat[gets - 1] : 0);
    {
        int still = 0;
        for (i = 0; i < n; i++) {
            still += c[i].state == ECHOED;
        }
        printf("still_open_after_hold=%d\n", still);
    }
    for (i = 0; i < n; i++) {
        static const unsigned char bye[8] = {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8};
        if (c[i].fd > 0) {
            if (write(c[i].fd, bye, sizeof(bye)) < 0) {
                /* already gone */
            }
            close(c[i].fd);
        }
    }
    return opened == n && echoed == n && get_fail == 0 ? 0 : 1;
}
