/* One load client for the three servers of bench/compare.sh.
 *
 *   cmp_load PROTO PORTS N ROOMS SENDERS SECONDS RATES [HOLD_S [PREFIX [WINDOW]]]
 *
 * PROTO: chat (mod_chat: GET /chat/ROOM?username=..., JSON messages),
 *        bare (bare_server: GET /ROOM, the text is the message),
 *        sio  (Socket.IO 4: GET /socket.io/?EIO=4&transport=websocket&room=ROOM,
 *              Engine.IO open "0{...}", client "40", events 42["name",...],
 *              pings "2" answered with "3").
 * PORTS: comma list; client i connects to PORTS[i % count] (the two Node processes).
 * Client i is in room i % ROOMS; clients 0 .. SENDERS-1 send (so spread over rooms).
 *
 * 1. Opens N WebSockets, at most WINDOW (default 1000) handshakes in flight, and
 *    prints `connect ... ms=` once every one got its welcome (the join is done).
 * 2. Holds them HOLD_S seconds (default 0) doing nothing but answer pings, after
 *    printing `hold_begin`, so the driver can read the servers' RSS.
 * 3. For each per-sender rate in RATES (comma list; "0": none; "stdin": one rate per
 *    line read from standard input, answering pings meanwhile, until EOF), prints `step_begin`,
 *    has every sender send at that rate for SECONDS (first sends spread evenly),
 *    reads 2 s more, and prints the step's deliveries, losses and latencies.
 *    Stops after the first step with p99 >= 50 ms or any loss (the rate search).
 *
 * Every message carries its send time and step; a delivery is counted for the
 * step it was sent in, timed from send to arrival on this process's monotonic
 * clock (the sender's own copy included). Single-threaded epoll; loopback only. */
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

#define BUF         (64 * 1024)
#define MAX_SAMPLES 50000000L
#define MAX_STEPS   64
#define DRAIN_MS    2000.0

enum { P_CHAT, P_BARE, P_SIO };
enum { S_IDLE, S_CONNECTING, S_HANDSHAKE, S_WELCOME, S_JOINED, S_DEAD };

typedef struct {
    int fd, state;
    unsigned char *buf;
    size_t have;
    double next_send;
} client;

static int proto, n, rooms, senders, nports, ports[16], ep;
static const char *prefix = "cmp";
static client *cl;
static long joined, dead;
static float *lat;
static long samples;
static long delivered[MAX_STEPS], errors, send_short;
static int cur_step = -1, stdin_ready;
#define STDIN_TAG 0xFFFFFFFFu

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int cmpf(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static void client_kill(client *c)
{
    if (c->state != S_DEAD) {
        c->state = S_DEAD;
        dead++;
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    }
}

/* One masked frame (opcode op) to c; a short write counts as a failure. */
static void client_send(client *c, int op, const char *text, size_t len)
{
    unsigned char f[1024];
    size_t i, h = 0;
    static const unsigned char key[4] = {0x11, 0x22, 0x33, 0x44};
    ssize_t w;

    if (len > sizeof(f) - 8) {
        return;
    }
    f[h++] = (unsigned char)(0x80 | op);
    if (len < 126) {
        f[h++] = (unsigned char)(0x80 | len);
    }
    else {
        f[h++] = 0x80 | 126;
        f[h++] = (unsigned char)(len >> 8);
        f[h++] = (unsigned char)len;
    }
    memcpy(f + h, key, 4);
    h += 4;
    for (i = 0; i < len; i++) {
        f[h + i] = (unsigned char)(text[i] ^ key[i & 3]);
    }
    w = write(c->fd, f, h + len);
    if (w != (ssize_t)(h + len)) {
        send_short++;
        if (w < 0 && errno != EAGAIN) {
            client_kill(c);
        }
    }
}

static void client_connect(int i)
{
    struct sockaddr_in a;
    struct epoll_event ev;
    int one = 1;
    client *c = &cl[i];

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)ports[i % nports]);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->state = S_CONNECTING;
    if (c->fd < 0 ||
        (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS)) {
        c->state = S_DEAD;
        dead++;
        return;
    }
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u32 = (unsigned)i;
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void client_upgrade(int i)
{
    client *c = &cl[i];
    struct epoll_event ev;
    char req[512], path[160];
    int len;

    if (proto == P_CHAT) {
        snprintf(path, sizeof(path), "/chat/%s%d?username=%su%d", prefix, i % rooms, prefix, i);
    }
    else if (proto == P_BARE) {
        snprintf(path, sizeof(path), "/%d", i % rooms);
    }
    else {
        snprintf(path, sizeof(path), "/socket.io/?EIO=4&transport=websocket&room=%s%d", prefix,
                 i % rooms);
    }
    len = snprintf(req, sizeof(req),
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n",
                   path);
    if (write(c->fd, req, (size_t)len) != len) {
        client_kill(c);
        return;
    }
    c->state = S_HANDSHAKE;
    ev.events = EPOLLIN;
    ev.data.u32 = (unsigned)i;
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* A text message from the server. */
static void client_text(client *c, char *msg, size_t len)
{
    char *t = NULL;

    if (proto == P_SIO) {
        if (len == 1 && msg[0] == '2') {
            client_send(c, 0x1, "3", 1); /* Engine.IO pong */
            return;
        }
        if (msg[0] == '0') {
            client_send(c, 0x1, "40", 2); /* Socket.IO connect to "/" */
            return;
        }
        if (!strncmp(msg, "42[\"welcome\"", 12)) {
            goto welcome;
        }
        if (!strncmp(msg, "42[\"chat\",\"t=", 13)) {
            t = msg + 11;
        }
    }
    else if (proto == P_BARE) {
        if (!strcmp(msg, "welcome")) {
            goto welcome;
        }
        if (!strncmp(msg, "t=", 2)) {
            t = msg;
        }
    }
    else {
        if (!strncmp(msg, "{\"type\":\"welcome\"", 17)) {
            goto welcome;
        }
        if (!strncmp(msg, "{\"type\":\"chat\"", 14)) {
            t = strstr(msg, "\"text\":\"t=");
            t = t ? t + 8 : NULL;
        }
        else if (!strncmp(msg, "{\"type\":\"error\"", 15)) {
            errors++;
        }
    }
    if (t) {
        char *s = strstr(t, " s=");
        int step = s ? atoi(s + 3) : -1;
        if (step >= 0 && step < MAX_STEPS) {
            delivered[step]++;
        }
        if (step == cur_step && samples < MAX_SAMPLES) {
            lat[samples++] = (float)(now_ms() - atof(t + 2));
        }
    }
    return;
welcome:
    if (c->state == S_WELCOME) {
        c->state = S_JOINED;
        joined++;
    }
}

static void client_read(int i)
{
    client *c = &cl[i];
    ssize_t r = read(c->fd, c->buf + c->have, BUF - c->have);

    if (r <= 0) {
        if (r == 0 || errno != EAGAIN) {
            client_kill(c);
        }
        return;
    }
    c->have += (size_t)r;
    if (c->state == S_HANDSHAKE) {
        unsigned char *e = memmem(c->buf, c->have, "\r\n\r\n", 4);
        if (!e) {
            return;
        }
        if (memcmp(c->buf, "HTTP/1.1 101", 12)) {
            client_kill(c);
            return;
        }
        e += 4;
        c->have -= (size_t)(e - c->buf);
        memmove(c->buf, e, c->have);
        c->state = S_WELCOME;
    }
    for (;;) {
        unsigned char *p = c->buf;
        size_t h = 2, len, k;
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
            for (len = 0, k = 0; k < 8; k++) {
                len = (len << 8) | p[2 + k];
            }
            h = 10;
        }
        if (h + len >= BUF) {
            client_kill(c); /* larger than this client reads: not a bench message */
            return;
        }
        if (c->have < h + len) {
            break;
        }
        if ((p[0] & 0x0f) == 0x9) {
            client_send(c, 0xA, "", 0);
        }
        else if ((p[0] & 0x0f) == 0x1) {
            char *msg = (char *)p + h, save = msg[len];
            msg[len] = '\0';
            client_text(c, msg, len);
            msg[len] = save;
        }
        else if ((p[0] & 0x0f) == 0x8) {
            client_kill(c);
            return;
        }
        memmove(c->buf, c->buf + h + len, c->have - h - len);
        c->have -= h + len;
    }
}

static void poll_once(int timeout_ms)
{
    struct epoll_event evs[1024];
    int m = epoll_wait(ep, evs, 1024, timeout_ms), j;

    for (j = 0; j < m; j++) {
        int i = (int)evs[j].data.u32;
        if (evs[j].data.u32 == STDIN_TAG) {
            stdin_ready = 1;
            continue;
        }
        if (cl[i].state == S_DEAD) {
            continue;
        }
        if (cl[i].state == S_CONNECTING) {
            if (evs[j].events & (EPOLLERR | EPOLLHUP)) {
                client_kill(&cl[i]);
            }
            else if (evs[j].events & EPOLLOUT) {
                client_upgrade(i);
            }
            continue;
        }
        if (evs[j].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
            client_read(i);
        }
    }
}

/* Returns 1 when the step passed: p99 < 50 ms, nothing lost, no error. */
static int run_step(int step, double rate, double seconds)
{
    double t0 = now_ms(), t_end = t0 + seconds * 1000, interval = 1000.0 / rate, c0 = cpu_s();
    long sent = 0, expected = 0, e0 = errors, s0 = send_short, lost;
    int i, members_of[1024] = {0};
    char text[256];

    for (i = 0; i < n; i++) {
        if (cl[i].state == S_JOINED && i % rooms < 1024) {
            members_of[i % rooms]++;
        }
    }
    cur_step = step;
    samples = 0;
    for (i = 0; i < senders; i++) {
        cl[i].next_send = t0 + interval * i / senders;
    }
    printf("step_begin rate=%g\n", rate);
    fflush(stdout);
    for (;;) {
        double now = now_ms();
        if (now >= t_end) {
            break;
        }
        for (i = 0; i < senders; i++) {
            client *c = &cl[i];
            while (c->state == S_JOINED && now >= c->next_send) {
                int len;
                if (proto == P_CHAT) {
                    len = snprintf(text, sizeof(text),
                                   "{\"type\":\"chat\",\"payload\":{\"type\":\"text\","
                                   "\"text\":\"t=%.3f s=%d\"}}",
                                   now, step);
                }
                else if (proto == P_SIO) {
                    len = snprintf(text, sizeof(text), "42[\"chat\",\"t=%.3f s=%d\"]", now, step);
                }
                else {
                    len = snprintf(text, sizeof(text), "t=%.3f s=%d", now, step);
                }
                client_send(c, 0x1, text, (size_t)len);
                sent++;
                expected += members_of[i % rooms];
                c->next_send += interval;
            }
        }
        poll_once(1);
    }
    /* the tail: what was sent arrives (or is lost) */
    while (now_ms() < t_end + DRAIN_MS) {
        poll_once(10);
    }
    qsort(lat, (size_t)samples, sizeof(float), cmpf);
    lost = expected - delivered[step];
    printf("step rate=%g senders=%d seconds=%g sent=%ld expected=%ld delivered=%ld lost=%ld "
           "errors=%ld send_short=%ld deliveries_per_s=%.0f p50_ms=%.2f p99_ms=%.2f "
           "max_ms=%.2f client_cpu_pct=%.0f dead=%ld\n",
           rate, senders, seconds, sent, expected, delivered[step], lost, errors - e0,
           send_short - s0, delivered[step] / seconds, samples ? lat[(long)(samples * 0.5)] : 0.0,
           samples ? lat[(long)(samples * 0.99)] : 0.0, samples ? lat[samples - 1] : 0.0,
           100 * (cpu_s() - c0) / ((now_ms() - t0) / 1000), dead);
    fflush(stdout);
    return samples && lat[(long)(samples * 0.99)] < 50 && lost == 0 && errors == e0 && !dead;
}

int main(int argc, char **argv)
{
    double seconds, hold, t0, deadline;
    int window, i, next = 0, steps = 0;
    double rates[MAX_STEPS];
    struct rlimit rl;
    char *p, *save;

    if (argc < 8) {
        fprintf(stderr,
                "usage: %s chat|bare|sio PORT[,PORT...] N ROOMS SENDERS SECONDS RATE[,RATE...] "
                "[HOLD_S [PREFIX [WINDOW]]]\n",
                argv[0]);
        return 2;
    }
    proto = !strcmp(argv[1], "chat") ? P_CHAT : !strcmp(argv[1], "bare") ? P_BARE : P_SIO;
    for (p = strtok_r(argv[2], ",", &save); p && nports < 16; p = strtok_r(NULL, ",", &save)) {
        ports[nports++] = atoi(p);
    }
    n = atoi(argv[3]);
    rooms = atoi(argv[4]);
    senders = atoi(argv[5]);
    seconds = atof(argv[6]);
    int from_stdin = !strcmp(argv[7], "stdin");
    for (p = strtok_r(argv[7], ",", &save); p && steps < MAX_STEPS;
         p = strtok_r(NULL, ",", &save)) {
        if (atof(p) > 0) {
            rates[steps++] = atof(p);
        }
    }
    hold = argc > 8 ? atof(argv[8]) : 0;
    prefix = argc > 9 ? argv[9] : prefix;
    window = argc > 10 ? atoi(argv[10]) : 1000;
    if (!nports || n < 1 || n > 100000 || rooms < 1 || senders < 0 || senders > n || seconds <= 0 ||
        seconds > 600 || hold < 0 || hold > 600 || window < 1) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)n + 16) {
        fprintf(stderr, "open-file limit %lu < N + 16\n", (unsigned long)rl.rlim_cur);
        return 2;
    }
    cl = calloc((size_t)n, sizeof(*cl));
    lat = malloc(sizeof(float) * MAX_SAMPLES);
    ep = epoll_create1(0);
    for (i = 0; i < n; i++) {
        cl[i].buf = malloc(BUF);
    }

    /* 1. connect and join, WINDOW at a time */
    t0 = now_ms();
    deadline = t0 + 60000;
    while (joined + dead < n && now_ms() < deadline) {
        while (next < n && next - joined - dead < window) {
            client_connect(next++);
        }
        poll_once(5);
    }
    printf("connect n=%d joined=%ld failed=%ld ms=%.0f window=%d client_cpu_s=%.2f\n", n, joined,
           n - joined, now_ms() - t0, window, cpu_s());
    fflush(stdout);
    if (joined < n) {
        return 1;
    }

    /* 2. idle hold */
    if (hold > 0) {
        printf("hold_begin\n");
        fflush(stdout);
        deadline = now_ms() + hold * 1000;
        while (now_ms() < deadline) {
            poll_once(50);
        }
        printf("hold_end dead=%ld\n", dead);
        fflush(stdout);
    }

    /* 3. rate steps until one fails */
    for (i = 0; i < steps; i++) {
        if (!run_step(i, rates[i], seconds)) {
            break;
        }
    }
    if (from_stdin) {
        /* driven step by step (bench/compare.py interleaves the servers) */
        struct epoll_event ev;
        char line[64];
        ev.events = EPOLLIN;
        ev.data.u32 = STDIN_TAG;
        epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
        for (i = 0; i < MAX_STEPS;) {
            while (!stdin_ready) {
                poll_once(100);
            }
            stdin_ready = 0;
            if (!fgets(line, sizeof(line), stdin)) {
                break;
            }
            if (atof(line) > 0) {
                run_step(i++, atof(line), seconds);
            }
        }
    }
    return 0;
}
