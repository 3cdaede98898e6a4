/* Connection-capacity client for mod_chat (plain C, libc only, one thread, epoll).
 *
 *   cc -O2 -o ws_capacity ws_capacity.c
 *   ws_capacity [options] PORT N
 *
 * Opens N WebSockets to 127.0.0.1:PORT PATH (RFC 6455 handshake: random key,
 * 101 and Sec-WebSocket-Accept checked), then
 *   1. sends one small masked text message on every socket at once and counts
 *      the echoes that come back within --echo-timeout (burst latency), and
 *      times --rtt-samples single round trips one at a time (idle latency);
 *   2. holds every socket open for --hold seconds, answering server pings with
 *      pongs, while
 *   3. a static GET (--static) over a fresh TCP connection is timed every
 *      --get-interval ms;
 * then closes every socket with close 1000 and waits for the server's close.
 *
 * Prints key=value lines. Exits 0 only if every socket opened, echoed, stayed
 * open through the hold and closed cleanly, and every GET answered 200; 1 if
 * not; 2 on bad usage or too low a file-descriptor limit.
 *
 * Traffic goes to 127.0.0.1 only (sources 127.0.0.1..127.0.0.K with
 * --sources K); every phase has a time cap and N is capped at 200,000. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define MAX_SOCKETS 200000
#define BUFSZ       512 /* a handshake response, or a few small frames */
#define MAX_GETS    100000

enum { ST_NEW, ST_CONNECTING, ST_HANDSHAKE, ST_OPEN, ST_CLOSING, ST_DONE, ST_FAILED };

typedef struct {
    int fd;
    unsigned char state;
    unsigned char awaiting_echo; /* a text message is out and not yet back */
    unsigned char late_pending;  /* the echo after the hold is out */
    unsigned char server_closed; /* the server sent close first */
    unsigned char clean_close;   /* our close 1000 was answered with close 1000 */
    unsigned short have;
    unsigned short close_code;
    unsigned int seq; /* messages sent on this socket */
    double sent_at;
    char key[25];    /* Sec-WebSocket-Key sent */
    char accept[29]; /* expected Sec-WebSocket-Accept */
    unsigned char buf[BUFSZ];
} conn;

static conn *C;
static int N, EP, PORT;
static const char *PATH = "/chat-echo";

/* Figures. */
static int opened, echoed, echoed_late, rtt_pending_index = -1;
static long pings_answered, unexpected_frames, protocol_errors, write_errors;
static long eof_while_open, server_close_codes[5000];
static long fail_connect, fail_status, fail_accept, fail_eof, fail_timeout;
static char first_error[160];
static double *echo_lat, rtt_last;

/* ---------------------------------------------------------------- time */

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

static double pct(const double *sorted, int n, double p)
{
    return n ? sorted[(int)(p * (n - 1) + 0.5)] : 0;
}

static void note_error(const char *what, int err)
{
    if (!first_error[0]) {
        snprintf(first_error, sizeof(first_error), "%s%s%s", what, err ? ": " : "",
                 err ? strerror(err) : "");
    }
}

/* ------------------------------------------------------ random, SHA-1, base64 */

static uint64_t rng_state;

static uint32_t rnd(void)
{
    /* xorshift64*: keys and masks need not be cryptographic here */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static uint32_t rol(uint32_t x, int k)
{
    return (x << k) | (x >> (32 - k));
}

/* SHA-1 (FIPS 180-4) of a message shorter than 119 bytes: two blocks at most. */
static void sha1_short(const unsigned char *msg, size_t len, unsigned char out[20])
{
    unsigned char block[128];
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    size_t total = len + 9 <= 64 ? 64 : 128, off, i;
    uint64_t bits = (uint64_t)len * 8;

    memset(block, 0, sizeof(block));
    memcpy(block, msg, len);
    block[len] = 0x80;
    for (i = 0; i < 8; i++) {
        block[total - 1 - i] = (unsigned char)(bits >> (8 * i));
    }
    for (off = 0; off < total; off += 64) {
        uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f, k, t;
        for (i = 0; i < 16; i++) {
            const unsigned char *p = block + off + 4 * i;
            w[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        }
        for (i = 16; i < 80; i++) {
            w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        }
        for (i = 0; i < 80; i++) {
            if (i < 20) {
                f = (b & c) | (~b & d);
                k = 0x5A827999;
            }
            else if (i < 40) {
                f = b ^ c ^ d;
                k = 0x6ED9EBA1;
            }
            else if (i < 60) {
                f = (b & c) | (b & d) | (c & d);
                k = 0x8F1BBCDC;
            }
            else {
                f = b ^ c ^ d;
                k = 0xCA62C1D6;
            }
            t = rol(a, 5) + f + e + k + w[i];
            e = d;
            d = c;
            c = rol(b, 30);
            b = a;
            a = t;
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
        h[4] += e;
    }
    for (i = 0; i < 5; i++) {
        out[4 * i] = (unsigned char)(h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(h[i] >> 8);
        out[4 * i + 3] = (unsigned char)h[i];
    }
}

static void base64(const unsigned char *in, size_t len, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;

    for (i = 0; i + 2 < len; i += 3) {
        *out++ = tab[in[i] >> 2];
        *out++ = tab[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
        *out++ = tab[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
        *out++ = tab[in[i + 2] & 63];
    }
    if (len - i == 1) {
        *out++ = tab[in[i] >> 2];
        *out++ = tab[(in[i] & 3) << 4];
        *out++ = '=';
        *out++ = '=';
    }
    else if (len - i == 2) {
        *out++ = tab[in[i] >> 2];
        *out++ = tab[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
        *out++ = tab[(in[i + 1] & 15) << 2];
        *out++ = '=';
    }
    *out = '\0';
}

/* A fresh Sec-WebSocket-Key into key[25] and its expected accept into accept[29]. */
static void make_key(char *key, char *accept)
{
    unsigned char raw[16], digest[20], cat[64];
    int i;

    for (i = 0; i < 16; i += 4) {
        uint32_t r = rnd();
        memcpy(raw + i, &r, 4);
    }
    base64(raw, 16, key);
    memcpy(cat, key, 24);
    memcpy(cat + 24, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", 36);
    sha1_short(cat, 60, digest);
    base64(digest, 20, accept);
}

/* ------------------------------------------------------------ sockets */

static int tcp_connect(int port, int nonblock, int source, int *err)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0), one = 1;

    *err = 0;
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (source > 0) {
        struct sockaddr_in s;
        memset(&s, 0, sizeof(s));
        s.sin_family = AF_INET;
        s.sin_addr.s_addr = htonl(INADDR_LOOPBACK + (unsigned)(source - 1));
        /* let connect() pick the port against the full 4-tuple */
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&s, sizeof(s)) < 0) {
            *err = errno;
            close(fd);
            return -1;
        }
    }
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
        *err = errno;
        close(fd);
        return -1;
    }
    return fd;
}

/* A masked client frame (payload < 126 bytes). Returns 0 if fully written. */
static int send_frame(conn *x, unsigned opcode, const unsigned char *payload, size_t len)
{
    unsigned char f[2 + 4 + 125];
    uint32_t mask = rnd();
    unsigned char *key = f + 2;
    size_t i;

    if (len > 125) {
        return -1;
    }
    f[0] = (unsigned char)(0x80 | opcode);
    f[1] = (unsigned char)(0x80 | len);
    memcpy(key, &mask, 4);
    for (i = 0; i < len; i++) {
        f[6 + i] = payload[i] ^ key[i % 4];
    }
    if (write(x->fd, f, 6 + len) != (ssize_t)(6 + len)) {
        write_errors++;
        note_error("write", errno);
        return -1;
    }
    return 0;
}

static void finish(conn *x, int state)
{
    if (x->fd >= 0) {
        close(x->fd); /* also removes it from the epoll set */
        x->fd = -1;
    }
    x->state = (unsigned char)state;
}

static int msg_text(conn *x, char *out, size_t size)
{
    return snprintf(out, size, "m%ld-%u", (long)(x - C), x->seq);
}

static int send_message(conn *x)
{
    char text[40];
    int len;

    x->seq++;
    len = msg_text(x, text, sizeof(text));
    x->awaiting_echo = 1;
    x->sent_at = now_ms();
    if (send_frame(x, 0x1, (unsigned char *)text, (size_t)len) < 0) {
        x->awaiting_echo = 0;
        finish(x, ST_FAILED);
        return -1;
    }
    return 0;
}

/* Handles whole frames in x->buf; the server's frames are never masked. */
static void process_frames(conn *x)
{
    while (x->have >= 2 && x->fd >= 0) {
        unsigned char *b = x->buf;
        size_t hdr = 2, len = b[1] & 0x7f;
        unsigned opcode = b[0] & 0x0f;

        if (b[1] & 0x80) {
            protocol_errors++;
            note_error("masked frame from the server", 0);
            finish(x, ST_FAILED);
            return;
        }
        if (len == 126) {
            if (x->have < 4) {
                return;
            }
            len = (size_t)b[2] << 8 | b[3];
            hdr = 4;
        }
        else if (len == 127) {
            hdr = 10; /* no frame of this benchmark is that long */
            len = BUFSZ;
        }
        if (hdr + len > BUFSZ - 1) { /* a whole frame must fit the buffer */
            protocol_errors++;
            note_error("unexpectedly long frame from the server", 0);
            finish(x, ST_FAILED);
            return;
        }
        if (x->have < hdr + len) {
            return;
        }
        {
            unsigned char *p = b + hdr;
            if (opcode == 0x1 && x->awaiting_echo) {
                char text[40];
                int tl = msg_text(x, text, sizeof(text));
                if ((size_t)tl == len && !memcmp(p, text, len)) {
                    double t = now_ms() - x->sent_at;
                    x->awaiting_echo = 0;
                    if (x->seq == 1) {
                        echo_lat[echoed++] = t;
                    }
                    else if (x->late_pending) {
                        x->late_pending = 0;
                        echoed_late++;
                    }
                    else if (rtt_pending_index == (int)(x - C)) {
                        rtt_last = t;
                        rtt_pending_index = -1;
                    }
                }
                else {
                    unexpected_frames++;
                }
            }
            else if (opcode == 0x9) {
                if (send_frame(x, 0xA, p, len) == 0) {
                    pings_answered++;
                }
            }
            else if (opcode == 0xA) {
                /* unsolicited pong: ignore */
            }
            else if (opcode == 0x8) {
                unsigned code = len >= 2 ? (unsigned)p[0] << 8 | p[1] : 1005;
                x->close_code = (unsigned short)code;
                if (x->state == ST_CLOSING) {
                    x->clean_close = code == 1000;
                }
                else {
                    unsigned char reply[2] = {p[0], p[1]};
                    x->server_closed = 1;
                    server_close_codes[code < 5000 ? code : 0]++;
                    send_frame(x, 0x8, reply, len >= 2 ? 2 : 0);
                }
                finish(x, ST_DONE);
                return;
            }
            else {
                unexpected_frames++;
            }
        }
        memmove(b, b + hdr + len, x->have - hdr - len);
        x->have = (unsigned short)(x->have - hdr - len);
    }
}

static void handshake_input(conn *x)
{
    char *end, *h;
    size_t head;

    x->buf[x->have] = '\0';
    end = strstr((char *)x->buf, "\r\n\r\n");
    if (!end) {
        if (x->have >= BUFSZ - 1) {
            fail_status++;
            note_error("handshake response too long", 0);
            finish(x, ST_FAILED);
        }
        return;
    }
    if (strncmp((char *)x->buf, "HTTP/1.1 101 ", 13)) {
        char line[80];
        fail_status++;
        snprintf(line, sizeof(line), "handshake answered %.*s",
                 (int)strcspn((char *)x->buf, "\r\n"), (char *)x->buf);
        note_error(line, 0);
        finish(x, ST_FAILED);
        return;
    }
    for (h = (char *)x->buf; h && h < end; h = strstr(h, "\r\n")) {
        h += 2;
        if (!strncasecmp(h, "Sec-WebSocket-Accept:", 21)) {
            h += 21;
            h += strspn(h, " \t");
            break;
        }
    }
    if (!h || h >= end || strncmp(h, x->accept, 28) || (h[28] != '\r' && h[28] != ' ')) {
        fail_accept++;
        note_error("wrong or missing Sec-WebSocket-Accept", 0);
        finish(x, ST_FAILED);
        return;
    }
    x->state = ST_OPEN;
    opened++;
    head = (size_t)(end + 4 - (char *)x->buf);
    memmove(x->buf, x->buf + head, x->have - head);
    x->have = (unsigned short)(x->have - head);
    process_frames(x);
}

static void on_event(conn *x, uint32_t events)
{
    if (x->fd < 0) {
        return;
    }
    if (x->state == ST_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof(err);
        struct epoll_event ev;
        char request[512];
        ssize_t rl;
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            return;
        }
        rl = snprintf(request, sizeof(request),
                      "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n",
                      PATH, PORT, x->key);
        getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err || write(x->fd, request, (size_t)rl) != rl) {
            fail_connect++;
            note_error("connect", err ? err : errno);
            finish(x, ST_FAILED);
            return;
        }
        x->state = ST_HANDSHAKE;
        ev.events = EPOLLIN;
        ev.data.u32 = (uint32_t)(x - C);
        epoll_ctl(EP, EPOLL_CTL_MOD, x->fd, &ev);
        return;
    }
    for (;;) {
        ssize_t r = read(x->fd, x->buf + x->have, BUFSZ - 1 - x->have);
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }
        if (r <= 0) {
            if (x->state == ST_HANDSHAKE) {
                fail_eof++;
                note_error("connection closed during the handshake", r < 0 ? errno : 0);
            }
            else if (x->state == ST_OPEN) {
                eof_while_open++;
                note_error("connection closed without a close frame", r < 0 ? errno : 0);
            }
            finish(x, x->state == ST_CLOSING ? ST_DONE : ST_FAILED);
            return;
        }
        x->have = (unsigned short)(x->have + r);
        if (x->state == ST_HANDSHAKE) {
            handshake_input(x);
        }
        else {
            process_frames(x);
        }
        if (x->fd < 0 || x->have >= BUFSZ - 1) {
            return;
        }
    }
}

static void poll_once(int timeout_ms)
{
    struct epoll_event evs[1024];
    int m = epoll_wait(EP, evs, 1024, timeout_ms), j;

    for (j = 0; j < m; j++) {
        on_event(&C[evs[j].data.u32], evs[j].events);
    }
}

/* ------------------------------------------------------------ static GET */

/* Milliseconds for a whole GET over a fresh connection, or -1 (reason noted). */
static double static_get(int port, const char *path, char *why, size_t why_size)
{
    char req[256], resp[4096];
    double t0 = now_ms();
    int err, fd = tcp_connect(port, 0, 0, &err);
    size_t got = 0;
    struct timeval tv = {2, 0};

    if (fd < 0) {
        snprintf(why, why_size, "connect: %s", strerror(err));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
             path);
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        snprintf(why, why_size, "write: %s", strerror(errno));
        close(fd);
        return -1;
    }
    for (;;) { /* to the end of the response: the server closes */
        ssize_t r = read(fd, resp + (got < 64 ? got : 64), sizeof(resp) - 64);
        if (r == 0) {
            break;
        }
        if (r < 0) {
            snprintf(why, why_size, "read: %s",
                     errno == EAGAIN ? "no answer in 2 s" : strerror(errno));
            close(fd);
            return -1;
        }
        got += (size_t)r; /* only the first 64 bytes are kept */
    }
    close(fd);
    resp[got < 64 ? got : 64] = '\0';
    if (strncmp(resp, "HTTP/1.1 200 ", 13)) {
        snprintf(why, why_size, "answered %.*s", (int)strcspn(resp, "\r\n"), resp);
        return -1;
    }
    return now_ms() - t0;
}

/* ------------------------------------------------------------ main */

static void usage(const char *me)
{
    fprintf(stderr,
            "usage: %s [options] PORT N\n"
            "  --path P           WebSocket path (default /chat-echo)\n"
            "  --static P         static path timed during the hold (default /static.txt)\n"
            "  --hold S           seconds to hold the sockets open (default 10, max 3600)\n"
            "  --sources K        spread sockets over 127.0.0.1..127.0.0.K\n"
            "                     (default: one address per 10,000 sockets)\n"
            "  --window W         handshakes in flight at once (default 1000)\n"
            "  --open-timeout S   cap on opening all sockets (default 60)\n"
            "  --echo-timeout S   cap on the echo burst (default 30)\n"
            "  --close-timeout S  cap on the close handshake (default 10)\n"
            "  --get-interval MS  static GET period (default 200)\n"
            "  --rtt-samples K    single round trips timed one at a time (default 200)\n"
            "  --slow-http K      during the hold (from 2 s in), K slow HTTP clients that\n"
            "                     send a request line, wait 4 s, then the headers: they\n"
            "                     hold worker threads, so the MPM starts more children and\n"
            "                     later retires some (default 0; needs a hold of 8 s+)\n",
            me);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"path", 1, 0, 'p'},
                                         {"static", 1, 0, 's'},
                                         {"hold", 1, 0, 'h'},
                                         {"sources", 1, 0, 'S'},
                                         {"window", 1, 0, 'w'},
                                         {"open-timeout", 1, 0, 'o'},
                                         {"echo-timeout", 1, 0, 'e'},
                                         {"close-timeout", 1, 0, 'c'},
                                         {"get-interval", 1, 0, 'g'},
                                         {"rtt-samples", 1, 0, 'r'},
                                         {"slow-http", 1, 0, 'H'},
                                         {"help", 0, 0, '?'},
                                         {0, 0, 0, 0}};
    const char *static_path = "/static.txt";
    double hold = 10, open_timeout = 60, echo_timeout = 30, close_timeout = 10;
    double get_interval = 200, t0, deadline, next_get, *get_lat, base[10], *rtt;
    int port, sources = 0, window = 1000, rtt_samples = 200, opt, i, next, inflight, nbase = 0;
    int gets = 0, get_fail = 0, still_open = 0, closing = 0, clean = 0, sent = 0, nrtt = 0;
    int slow_n = 0, slow_stage = 0, slow_answered = 0, *slow_fd = NULL;
    double hold_start, get_max = 0, get_max_at = 0;
    long server_closed = 0;
    char get_why[160] = "";
    struct rlimit rl;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            PATH = optarg;
            break;
        case 's':
            static_path = optarg;
            break;
        case 'h':
            hold = atof(optarg);
            break;
        case 'S':
            sources = atoi(optarg);
            break;
        case 'w':
            window = atoi(optarg);
            break;
        case 'o':
            open_timeout = atof(optarg);
            break;
        case 'e':
            echo_timeout = atof(optarg);
            break;
        case 'c':
            close_timeout = atof(optarg);
            break;
        case 'g':
            get_interval = atof(optarg);
            break;
        case 'r':
            rtt_samples = atoi(optarg);
            break;
        case 'H':
            slow_n = atoi(optarg);
            break;
        default:
            usage(argv[0]);
            return 2;
        }
    }
    if (argc - optind != 2) {
        usage(argv[0]);
        return 2;
    }
    port = PORT = atoi(argv[optind]);
    N = atoi(argv[optind + 1]);
    if (port < 1 || port > 65535 || N < 1 || N > MAX_SOCKETS || sources < 0 || sources > 254 ||
        window < 1 || hold < 0 || hold > 3600 || open_timeout <= 0 || open_timeout > 600 ||
        echo_timeout <= 0 || echo_timeout > 600 || close_timeout <= 0 || close_timeout > 600 ||
        get_interval < 10 || rtt_samples < 0 || slow_n < 0 || slow_n > 1000 || strlen(PATH) > 200 ||
        strlen(static_path) > 200) {
        usage(argv[0]);
        return 2;
    }
    if (sources == 0) {
        sources = 1 + (N - 1) / 10000;
    }
    rtt_samples = rtt_samples < N ? rtt_samples : N;

    /* One descriptor per socket, plus stdio, epoll and the GET's. */
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    printf("fd_limit=%llu sources=%d\n", (unsigned long long)rl.rlim_cur, sources);
    if (rl.rlim_cur < (rlim_t)N + 16 + (rlim_t)slow_n) {
        fprintf(stderr,
                "ws_capacity: %d sockets need %d descriptors; this process may have "
                "%llu (hard limit): raise it or open fewer\n",
                N + slow_n, N + 16 + slow_n, (unsigned long long)rl.rlim_cur);
        return 2;
    }

    rng_state = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid() ^
                (uint64_t)(now_ms() * 1000);
    C = calloc((size_t)N, sizeof(*C));
    echo_lat = calloc((size_t)N, sizeof(double));
    rtt = calloc((size_t)rtt_samples + 1, sizeof(double));
    get_lat = calloc(MAX_GETS, sizeof(double));
    EP = epoll_create1(0);
    if (!C || !echo_lat || !rtt || !get_lat || EP < 0) {
        fprintf(stderr, "ws_capacity: out of memory\n");
        return 2;
    }
    for (i = 0; i < N; i++) {
        C[i].fd = -1;
    }

    /* 0. The static GET with no WebSocket open, for comparison. */
    for (i = 0; i < 10; i++) {
        char why[160];
        double t = static_get(port, static_path, why, sizeof(why));
        if (t >= 0) {
            base[nbase++] = t;
        }
    }
    qsort(base, (size_t)nbase, sizeof(double), cmp_double);
    printf("get_baseline_ms count=%d/10 p50=%.2f max=%.2f\n", nbase, pct(base, nbase, 0.5),
           nbase ? base[nbase - 1] : 0);
    fflush(stdout);

    /* 1. Open: at most `window` handshakes in flight, so the listen backlog
     *    never overflows. */
    t0 = now_ms();
    deadline = t0 + open_timeout * 1000;
    next = 0;
    inflight = 0;
    while ((next < N || inflight > 0) && now_ms() < deadline) {
        while (next < N && inflight < window) {
            conn *x = &C[next];
            int err;
            struct epoll_event ev;

            x->fd = tcp_connect(port, 1, sources > 1 ? 1 + next % sources : 0, &err);
            next++;
            if (x->fd < 0) {
                fail_connect++;
                note_error("connect", err);
                x->state = ST_FAILED;
                continue;
            }
            make_key(x->key, x->accept);
            x->state = ST_CONNECTING;
            ev.events = EPOLLOUT | EPOLLIN;
            ev.data.u32 = (uint32_t)(x - C);
            epoll_ctl(EP, EPOLL_CTL_ADD, x->fd, &ev);
            inflight++;
        }
        {
            struct epoll_event evs[1024];
            int m = epoll_wait(EP, evs, 1024, 100), j;
            for (j = 0; j < m; j++) {
                conn *x = &C[evs[j].data.u32];
                int before = x->state;
                on_event(x, evs[j].events);
                if ((before == ST_CONNECTING || before == ST_HANDSHAKE) &&
                    x->state != ST_CONNECTING && x->state != ST_HANDSHAKE) {
                    inflight--;
                }
            }
        }
    }
    for (i = 0; i < N; i++) {
        if (C[i].state == ST_CONNECTING || C[i].state == ST_HANDSHAKE || C[i].state == ST_NEW) {
            fail_timeout++;
            note_error("not open before --open-timeout", 0);
            finish(&C[i], ST_FAILED);
        }
    }
    printf("open_sockets=%d failed=%d open_seconds=%.1f\n", opened, N - opened,
           (now_ms() - t0) / 1e3);
    printf("open_failures connect=%ld status=%ld bad_accept=%ld eof=%ld timeout=%ld\n",
           fail_connect, fail_status, fail_accept, fail_eof, fail_timeout);
    fflush(stdout);

    /* 2. Echo burst: one message on every socket, then wait for them all. */
    t0 = now_ms();
    for (i = 0; i < N; i++) {
        if (C[i].state == ST_OPEN && send_message(&C[i]) == 0) {
            sent++;
        }
    }
    deadline = now_ms() + echo_timeout * 1000;
    while (echoed < sent && now_ms() < deadline) {
        poll_once(100);
    }
    qsort(echo_lat, (size_t)echoed, sizeof(double), cmp_double);
    printf("echo_delivered=%d/%d echo_latency_ms p50=%.2f p99=%.2f max=%.2f burst_ms=%.1f\n",
           echoed, N, pct(echo_lat, echoed, 0.5), pct(echo_lat, echoed, 0.99),
           echoed ? echo_lat[echoed - 1] : 0, now_ms() - t0);
    fflush(stdout);

    /* Single round trips, one at a time, on sockets spread over the set
     * (10 s at most in all). */
    deadline = now_ms() + 10000;
    for (i = 0; i < rtt_samples && now_ms() < deadline; i++) {
        conn *x = &C[(long)i * N / rtt_samples];
        double until;
        if (x->state != ST_OPEN || x->awaiting_echo) {
            continue;
        }
        rtt_pending_index = (int)(x - C);
        if (send_message(x) < 0) {
            rtt_pending_index = -1;
            continue;
        }
        until = now_ms() + 1000;
        while (rtt_pending_index >= 0 && now_ms() < until) {
            poll_once(10);
        }
        if (rtt_pending_index < 0) {
            rtt[nrtt++] = rtt_last;
        }
        rtt_pending_index = -1;
    }
    qsort(rtt, (size_t)nrtt, sizeof(double), cmp_double);
    printf("echo_rtt_ms count=%d/%d p50=%.2f p99=%.2f max=%.2f\n", nrtt, rtt_samples,
           pct(rtt, nrtt, 0.5), pct(rtt, nrtt, 0.99), nrtt ? rtt[nrtt - 1] : 0);

    /* 3. Hold, answering pings, timing the static GET. */
    printf("holding=%.0fs\n", hold);
    fflush(stdout);
    hold_start = now_ms();
    deadline = hold_start + hold * 1000;
    next_get = now_ms();
    slow_fd = calloc((size_t)slow_n + 1, sizeof(int));
    while (now_ms() < deadline) {
        double wait;
        if (slow_n && slow_stage == 0 && now_ms() >= hold_start + 2000) {
            static const char half[] = "GET /static.txt HTTP/1.1\r\n";
            for (i = 0; i < slow_n; i++) {
                int err;
                struct timeval tv = {2, 0};
                slow_fd[i] = tcp_connect(port, 0, 0, &err);
                if (slow_fd[i] >= 0) {
                    setsockopt(slow_fd[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                    if (write(slow_fd[i], half, sizeof(half) - 1) < 0) {
                        /* counted as not answered below */
                    }
                }
            }
            slow_stage = 1;
        }
        if (slow_n && slow_stage == 1 && now_ms() >= hold_start + 6000) {
            static const char rest[] = "Host: 127.0.0.1\r\nConnection: close\r\n\r\n";
            for (i = 0; i < slow_n; i++) {
                if (slow_fd[i] >= 0 && write(slow_fd[i], rest, sizeof(rest) - 1) > 0) {
                    char head[16];
                    ssize_t r = read(slow_fd[i], head, sizeof(head));
                    slow_answered += r >= 12 && !memcmp(head, "HTTP/1.1 200", 12);
                }
                if (slow_fd[i] >= 0) {
                    close(slow_fd[i]);
                }
            }
            slow_stage = 2;
        }
        if (now_ms() >= next_get) {
            char why[160];
            double t = static_get(port, static_path, why, sizeof(why));
            if (t < 0) {
                get_fail++;
                if (!get_why[0]) {
                    snprintf(get_why, sizeof(get_why), "%s", why);
                }
            }
            else if (gets < MAX_GETS) {
                if (t > get_max) {
                    get_max = t;
                    get_max_at = (now_ms() - hold_start) / 1e3;
                }
                get_lat[gets++] = t;
            }
            next_get += get_interval;
            if (next_get < now_ms()) {
                next_get = now_ms() + get_interval;
            }
        }
        wait = next_get - now_ms();
        poll_once(wait < 1 ? 1 : wait > 50 ? 50 : (int)wait);
    }
    qsort(get_lat, (size_t)gets, sizeof(double), cmp_double);
    printf("get_count=%d get_failures=%d get_latency_ms p50=%.2f p99=%.2f max=%.2f "
           "(max at %.1f s into the hold)\n",
           gets, get_fail, pct(get_lat, gets, 0.5), pct(get_lat, gets, 0.99),
           gets ? get_lat[gets - 1] : 0, get_max_at);
    if (get_why[0]) {
        printf("get_first_failure=\"%s\"\n", get_why);
    }
    if (slow_n) {
        printf("slow_http clients=%d answered=%d%s\n", slow_n, slow_answered,
               slow_stage < 2 ? " (hold too short)" : "");
    }
    free(slow_fd);
    for (i = 0; i < N; i++) {
        still_open += C[i].state == ST_OPEN;
    }
    for (i = 0; i < 5000; i++) {
        server_closed += server_close_codes[i];
    }
    printf("still_open_after_hold=%d pings_answered=%ld server_closed=%ld eof_while_open=%ld "
           "unexpected_frames=%ld protocol_errors=%ld write_errors=%ld\n",
           still_open, pings_answered, server_closed, eof_while_open, unexpected_frames,
           protocol_errors, write_errors);
    for (i = 0; i < 5000; i++) {
        if (server_close_codes[i]) {
            printf("server_close_code_%d=%ld\n", i, server_close_codes[i]);
        }
    }
    fflush(stdout);

    /* Every socket still open still receives: one more echo on each. */
    {
        int sent_late = 0;
        double late_t0 = now_ms(), late_deadline;
        for (i = 0; i < N; i++) {
            if (C[i].state == ST_OPEN && !C[i].awaiting_echo && send_message(&C[i]) == 0) {
                C[i].late_pending = 1;
                sent_late++;
            }
        }
        late_deadline = now_ms() + echo_timeout * 1000;
        while (echoed_late < sent_late && now_ms() < late_deadline) {
            poll_once(100);
        }
        printf("echo_after_hold=%d/%d burst_ms=%.1f\n", echoed_late, still_open,
               now_ms() - late_t0);
        fflush(stdout);
    }

    /* 4. Close 1000 on every socket; wait for the server's close. */
    t0 = now_ms();
    for (i = 0; i < N; i++) {
        static const unsigned char normal[2] = {0x03, 0xe8};
        if (C[i].state == ST_OPEN) {
            C[i].state = ST_CLOSING;
            if (send_frame(&C[i], 0x8, normal, 2) == 0) {
                closing++;
            }
            else {
                finish(&C[i], ST_FAILED);
            }
        }
    }
    deadline = now_ms() + close_timeout * 1000;
    for (;;) {
        int left = 0;
        for (i = 0; i < N; i++) {
            left += C[i].state == ST_CLOSING;
        }
        if (!left || now_ms() >= deadline) {
            break;
        }
        poll_once(100);
    }
    for (i = 0; i < N; i++) {
        clean += C[i].clean_close;
        finish(&C[i], C[i].state);
    }
    printf("closed_clean=%d/%d close_seconds=%.2f\n", clean, closing, (now_ms() - t0) / 1e3);
    if (first_error[0]) {
        printf("first_error=\"%s\"\n", first_error);
    }
    fflush(stdout);
    close(EP);
    free(C);
    free(echo_lat);
    free(rtt);
    free(get_lat);
    return opened == N && echoed == N && still_open == N && clean == N && get_fail == 0 &&
                   (hold == 0 || gets > 0) && slow_answered == slow_n
               ? 0
               : 1;
}
