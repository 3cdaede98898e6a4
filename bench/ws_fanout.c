/* Fan-out load client: N chat clients spread over R rooms, each sending text
 * messages at a fixed rate; measures delivered messages per second and the
 * send -> receive latency of every delivery (sender included).
 *
 *   ws_fanout PORT N R RATE SECONDS [ROOM_PREFIX]
 *
 * Client i joins /chat/{ROOM_PREFIX}{i % R}?username=b{i}. Single-threaded
 * epoll; loopback only; bounded in time. Prints key=value lines. */
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
#include <time.h>
#include <unistd.h>

#define BUF         (256 * 1024)
#define MAX_SAMPLES 20000000

typedef struct {
    int fd;
    int state; /* 0 connecting, 1 handshake, 2 waiting welcome, 3 joined, 4 dead */
    unsigned char *buf;
    size_t have;
    double next_send;
} client;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static void send_text(client *c, const char *text)
{
    unsigned char f[512];
    size_t n = strlen(text), i, h = 0;
    static const unsigned char key[4] = {1, 2, 3, 4};

    f[h++] = 0x81;
    if (n < 126) {
        f[h++] = (unsigned char)(0x80 | n);
    }
    else {
        f[h++] = 0x80 | 126;
        f[h++] = (unsigned char)(n >> 8);
        f[h++] = (unsigned char)n;
    }
    memcpy(f + h, key, 4);
    h += 4;
    for (i = 0; i < n; i++) {
        f[h + i] = (unsigned char)(text[i] ^ key[i % 4]);
    }
    if (write(c->fd, f, h + n) < 0 && errno != EAGAIN) {
        c->state = 4;
    }
}

int main(int argc, char **argv)
{
    int port, n, rooms, i, ep, joined = 0;
    double rate, seconds, t_end, interval, join_deadline;
    int phase = 0; /* 0 joining, 1 measuring, 2 draining */
    const char *prefix;
    client *cl;
    float *lat;
    long samples = 0, sent = 0, delivered = 0, errors = 0;
    struct rlimit rl;
    struct epoll_event ev, evs[1024];
    char req[512];

    if (argc < 6) {
        fprintf(stderr, "usage: %s PORT N ROOMS RATE SECONDS [ROOM_PREFIX]\n", argv[0]);
        return 2;
    }
    port = atoi(argv[1]);
    n = atoi(argv[2]);
    rooms = atoi(argv[3]);
    rate = atof(argv[4]);
    seconds = atof(argv[5]);
    prefix = argc > 6 ? argv[6] : "fan";
    if (n < 1 || n > 20000 || rooms < 1 || rate <= 0 || seconds <= 0 || seconds > 600) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    cl = calloc((size_t)n, sizeof(*cl));
    lat = malloc(sizeof(float) * MAX_SAMPLES);
    ep = epoll_create1(0);

    for (i = 0; i < n; i++) {
        struct sockaddr_in a;
        int one = 1;
        cl[i].buf = malloc(BUF);
        cl[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        setsockopt(cl[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_port = htons((unsigned short)port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(cl[i].fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
            cl[i].state = 4;
            continue;
        }
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.u32 = (unsigned)i;
        epoll_ctl(ep, EPOLL_CTL_ADD, cl[i].fd, &ev);
    }

    interval = 1000.0 / rate;
    join_deadline = now_ms() + 30000;
    t_end = 0;
    for (;;) {
        double now = now_ms();
        int m, j;

        if (phase == 0) {
            if (joined == n) {
                /* everyone is in: measure, spreading the first sends evenly */
                phase = 1;
                t_end = now + seconds * 1000;
                for (i = 0; i < n; i++) {
                    cl[i].next_send = now + interval * i / n;
                }
                printf("joined=%d\n", joined);
                fflush(stdout);
            }
            else if (now > join_deadline) {
                break;
            }
        }
        else if (phase == 1) {
            if (now >= t_end) {
                phase = 2; /* stop sending; let what is in flight arrive */
            }
            for (i = 0; phase == 1 && i < n; i++) {
                if (cl[i].state == 3 && now >= cl[i].next_send) {
                    char text[160];
                    snprintf(
                        text, sizeof(text),
                        "{\"type\":\"chat\",\"payload\":{\"type\":\"text\",\"text\":\"t=%.3f\"}}",
                        now);
                    send_text(&cl[i], text);
                    sent++;
                    cl[i].next_send += interval;
                }
            }
        }
        else if (now >= t_end + 3000) {
            break;
        }
        m = epoll_wait(ep, evs, 1024, 1);
        for (j = 0; j < m; j++) {
            client *c = &cl[evs[j].data.u32];
            ssize_t r;
            if (c->state == 0 && (evs[j].events & EPOLLOUT)) {
                int k = (int)evs[j].data.u32;
                snprintf(req, sizeof(req),
                         "GET /chat/%s%d?username=b%d HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n\r\n",
                         prefix, k % rooms, k);
                if (write(c->fd, req, strlen(req)) < 0) {
                    c->state = 4;
                    continue;
                }
                c->state = 1;
                ev.events = EPOLLIN;
                ev.data.u32 = evs[j].data.u32;
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                continue;
            }
            if (!(evs[j].events & EPOLLIN) || c->state == 4) {
                continue;
            }
            r = read(c->fd, c->buf + c->have, BUF - c->have);
            if (r <= 0) {
                if (r == 0 || errno != EAGAIN) {
                    c->state = 4;
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                }
                continue;
            }
            c->have += (size_t)r;
            if (c->state == 1) {
                unsigned char *e = memmem(c->buf, c->have, "\r\n\r\n", 4);
                if (!e) {
                    continue;
                }
                if (memcmp(c->buf, "HTTP/1.1 101", 12)) {
                    c->state = 4;
                    continue;
                }
                e += 4;
                c->have -= (size_t)(e - c->buf);
                memmove(c->buf, e, c->have);
                c->state = 2;
            }
            /* server frames */
            for (;;) {
                size_t h = 2, len;
                unsigned char *p = c->buf;
                if (c->have < 2) {
                    break;
                }
                len = p[1] & 0x7f;
                if (len == 126) {
                    if (c->have < 4) {
                        break;
                    }
                    len = ((size_t)p[2] << 8) | p[3];
                    h = 4;
                }
                else if (len == 127) {
                    if (c->have < 10) {
                        break;
                    }
                    len = 0;
                    for (i = 0; i < 8; i++) {
                        len = (len << 8) | p[2 + i];
                    }
                    h = 10;
                }
                if (c->have < h + len) {
                    break;
                }
                if ((p[0] & 0x0f) == 0x9) {
                    unsigned char pong[6] = {0x8a, 0x80, 0, 0, 0, 0};
                    if (write(c->fd, pong, 6) < 0) {
                        c->state = 4;
                    }
                }
                else if ((p[0] & 0x0f) == 0x1) {
                    char *msg = (char *)p + h, save = msg[len];
                    msg[len] = '\0';
                    if (c->state == 2 && strstr(msg, "\"type\":\"welcome\"")) {
                        c->state = 3;
                        joined++;
                    }
                    else if (!strncmp(msg, "{\"type\":\"chat\"", 14)) {
                        char *t = strstr(msg, "\"text\":\"t=");
                        if (t) {
                            double sent_at = atof(t + 10);
                            delivered++;
                            if (samples < MAX_SAMPLES) {
                                lat[samples++] = (float)(now_ms() - sent_at);
                            }
                        }
                    }
                    else if (!strncmp(msg, "{\"type\":\"error\"", 15)) {
                        errors++;
                    }
                    msg[len] = save;
                }
                memmove(c->buf, c->buf + h + len, c->have - h - len);
                c->have -= h + len;
            }
        }
    }
    if (joined < n) {
        printf("joined=%d of %d: not all clients could join\n", joined, n);
        return 1;
    }
    qsort(lat, (size_t)samples, sizeof(float), cmp);
    {
        double dur = seconds, members = (double)n / rooms;
        printf("sent=%ld sent_per_s=%.0f delivered=%ld expected=%.0f delivered_per_s=%.0f "
               "errors=%ld\n",
               sent, sent / dur, delivered, sent * members, delivered / dur, errors);
        printf("latency_ms p50=%.2f p99=%.2f max=%.2f\n", samples ? lat[(long)(samples * 0.5)] : 0,
               samples ? lat[(long)(samples * 0.99)] : 0, samples ? lat[samples - 1] : 0);
    }
    return 0;
}
