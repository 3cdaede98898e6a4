/* chat_ws_frame: the RFC 6455 decoder driven with masked client frames, each
 * stream fed whole, one byte at a time and in uneven chunks (all three must
 * give the same callbacks and result), and the server frame header encoder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_ws_frame.h"
#include "check_suites.h"

#define MIB (1024 * 1024)

/* ---- a growable byte buffer ---------------------------------------------- */

typedef struct {
    unsigned char *p;
    size_t len, cap;
} buf_t;

static void buf_put(buf_t *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) {
            cap *= 2;
        }
        b->p = realloc(b->p, cap);
        ck_assert_ptr_nonnull(b->p);
        b->cap = cap;
    }
    if (n) {
        memcpy(b->p + b->len, d, n);
    }
    b->len += n;
}

static void buf_free(buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* ---- client frames ------------------------------------------------------- */

/* Appends a frame the way a client sends it: masked (unless masked == 0)
 * with a masking key that changes from frame to frame, and the shortest
 * length form. rsv is the 3-bit RSV1..3 field (4 = RSV1, 2 = RSV2, 1 = RSV3).
 * With payload NULL only the header (and key) is written. Returns the header
 * length, key included. */
static size_t put_frame(buf_t *b, int fin, int rsv, int op, int masked, const void *payload,
                        apr_uint64_t n)
{
    static unsigned int seq;
    unsigned char h[14], key[4];
    const unsigned char *src = payload;
    size_t hl = 0, i;

    seq++;
    for (i = 0; i < 4; i++) {
        key[i] = (unsigned char)(0x5b + 37 * seq + 71 * i) | 0x01; /* never zero */
    }
    h[hl++] = (unsigned char)((fin ? 0x80 : 0) | ((rsv & 7) << 4) | (op & 0x0F));
    if (n < 126) {
        h[hl++] = (unsigned char)((masked ? 0x80 : 0) | n);
    }
    else if (n <= 0xFFFF) {
        h[hl++] = (unsigned char)((masked ? 0x80 : 0) | 126);
        h[hl++] = (unsigned char)(n >> 8);
        h[hl++] = (unsigned char)n;
    }
    else {
        h[hl++] = (unsigned char)((masked ? 0x80 : 0) | 127);
        for (i = 0; i < 8; i++) {
            h[hl++] = (unsigned char)(n >> (56 - 8 * i));
        }
    }
    if (masked) {
        memcpy(h + hl, key, 4);
        hl += 4;
    }
    buf_put(b, h, hl);
    if (src) {
        size_t at = b->len;
        buf_put(b, src, (size_t)n);
        for (i = 0; masked && i < n; i++) {
            b->p[at + i] ^= key[i & 3];
        }
    }
    return hl;
}

/* A masked frame with a string literal payload. */
#define FRAME(b, fin, op, lit) put_frame((b), (fin), 0, (op), 1, (lit), sizeof(lit) - 1)

/* A close frame payload: code then reason. */
static size_t close_payload(unsigned char *out, int code, const char *reason, size_t rlen)
{
    out[0] = (unsigned char)(code >> 8);
    out[1] = (unsigned char)code;
    memcpy(out + 2, reason, rlen);
    return 2 + rlen;
}

/* ---- what the callbacks saw --------------------------------------------- */

#define MAX_EVENTS 512

typedef struct {
    char kind; /* 'T' text, 'B' binary, 'P' ping, 'O' pong, 'C' close */
    int code;  /* close code */
    unsigned char *data;
    size_t len;
} event;

typedef struct {
    event ev[MAX_EVENTS];
    int n;
    /* what each callback returns */
    int ret_message, ret_ping, ret_pong, ret_close;
} rec;

static int record(rec *r, char kind, int code, const char *d, apr_size_t n)
{
    event *e;

    ck_assert_msg(r->n < MAX_EVENTS, "too many callbacks");
    e = &r->ev[r->n++];
    e->kind = kind;
    e->code = code;
    e->len = n;
    e->data = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(e->data);
    ck_assert_msg(n == 0 || d != NULL, "callback got NULL data with length %zu", (size_t)n);
    if (n) {
        memcpy(e->data, d, n);
    }
    return 0;
}

static int on_message(void *ctx, int op, const char *d, apr_size_t n)
{
    rec *r = ctx;
    ck_assert_msg(op == CHAT_WS_OP_TEXT || op == CHAT_WS_OP_BINARY, "message opcode %d", op);
    record(r, op == CHAT_WS_OP_TEXT ? 'T' : 'B', 0, d, n);
    return r->ret_message;
}

static int on_ping(void *ctx, const char *d, apr_size_t n)
{
    rec *r = ctx;
    record(r, 'P', 0, d, n);
    return r->ret_ping;
}

static int on_pong(void *ctx, const char *d, apr_size_t n)
{
    rec *r = ctx;
    record(r, 'O', 0, d, n);
    return r->ret_pong;
}

static int on_close(void *ctx, int code, const char *d, apr_size_t n)
{
    rec *r = ctx;
    record(r, 'C', code, d, n);
    return r->ret_close;
}

static const chat_ws_callbacks cbs = {on_message, on_ping, on_pong, on_close};

static void rec_init(rec *r, const rec *cfg)
{
    memset(r, 0, sizeof(*r));
    if (cfg) {
        r->ret_message = cfg->ret_message;
        r->ret_ping = cfg->ret_ping;
        r->ret_pong = cfg->ret_pong;
        r->ret_close = cfg->ret_close;
    }
}

static void rec_free(rec *r)
{
    int i;
    for (i = 0; i < r->n; i++) {
        free(r->ev[i].data);
    }
    r->n = 0;
}

static void rec_same(const rec *a, const rec *b, const char *how)
{
    int i;

    ck_assert_msg(a->n == b->n, "%s: %d callbacks, fed whole: %d", how, b->n, a->n);
    for (i = 0; i < a->n; i++) {
        ck_assert_msg(a->ev[i].kind == b->ev[i].kind && a->ev[i].code == b->ev[i].code &&
                          a->ev[i].len == b->ev[i].len &&
                          !memcmp(a->ev[i].data, b->ev[i].data, a->ev[i].len),
                      "%s: callback %d differs from the whole feed", how, i);
    }
}

/* Assert that event i is kind with exactly the given payload. */
static void ev_is(const rec *r, int i, char kind, const void *data, size_t len)
{
    ck_assert_msg(i < r->n, "callback %d missing (%d seen)", i, r->n);
    ck_assert_msg(r->ev[i].kind == kind, "callback %d is '%c', want '%c'", i, r->ev[i].kind, kind);
    ck_assert_msg(r->ev[i].len == len, "callback %d has %zu bytes, want %zu", i, r->ev[i].len, len);
    ck_assert_msg(!memcmp(r->ev[i].data, data, len), "callback %d payload differs", i);
}

/* ---- feeding ------------------------------------------------------------ */

/* Feeds in[0..n) in chunks: step 0 = whole, 1 = byte by byte, else uneven
 * pseudo-random chunks of 1..step bytes. Stops at the first non-zero result. */
static int feed(const unsigned char *in, size_t n, size_t step, apr_uint64_t max_frame,
                apr_uint64_t max_msg, rec *r)
{
    chat_ws_decoder d;
    unsigned int lcg = 12345;
    size_t at = 0;
    int rc = 0;

    chat_ws_decoder_init(&d, max_frame, max_msg, &cbs, r);
    if (step == 0) {
        rc = chat_ws_decoder_feed(&d, (const char *)in, n);
    }
    while (step && at < n && rc == 0) {
        size_t k = 1;
        if (step > 1) {
            lcg = lcg * 1103515245u + 12345u;
            k = 1 + (lcg >> 8) % step;
        }
        if (k > n - at) {
            k = n - at;
        }
        rc = chat_ws_decoder_feed(&d, (const char *)in + at, k);
        at += k;
    }
    chat_ws_decoder_cleanup(&d);
    return rc;
}

/* Runs a stream whole, byte by byte and in uneven chunks; all three must
 * agree. Returns the result; out holds the callbacks (rec_free it). */
static int run_cfg(const buf_t *in, apr_uint64_t max_frame, apr_uint64_t max_msg, const rec *cfg,
                   rec *out)
{
    static const size_t steps[] = {1, 7, 1000};
    rec *other = malloc(sizeof(rec));
    int rc, rc2;
    size_t i;

    ck_assert_ptr_nonnull(other);
    rec_init(out, cfg);
    rc = feed(in->p, in->len, 0, max_frame, max_msg, out);
    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        char how[64];
        rec_init(other, cfg);
        rc2 = feed(in->p, in->len, steps[i], max_frame, max_msg, other);
        snprintf(how, sizeof(how), "fed in chunks of up to %zu byte(s)", steps[i]);
        ck_assert_msg(rc2 == rc, "%s: result %d, fed whole: %d", how, rc2, rc);
        rec_same(out, other, how);
        rec_free(other);
    }
    free(other);
    return rc;
}

static int run(const buf_t *in, apr_uint64_t max_frame, apr_uint64_t max_msg, rec *out)
{
    return run_cfg(in, max_frame, max_msg, NULL, out);
}

/* Result of feeding only the first k bytes of a stream (whole and byte by
 * byte): shows an error is found without waiting for later bytes. */
static int prefix(const buf_t *in, size_t k, apr_uint64_t max_frame, apr_uint64_t max_msg)
{
    rec *r = malloc(sizeof(rec));
    int rc, rc2;

    ck_assert_ptr_nonnull(r);
    ck_assert(k <= in->len);
    rec_init(r, NULL);
    rc = feed(in->p, k, 0, max_frame, max_msg, r);
    rec_free(r);
    rc2 = feed(in->p, k, 1, max_frame, max_msg, r);
    rec_free(r);
    free(r);
    ck_assert_int_eq(rc, rc2);
    return rc;
}

/* The stream must fail with code and no callback at all. */
static void expect_error(const buf_t *in, apr_uint64_t max_frame, apr_uint64_t max_msg, int code,
                         const char *what)
{
    rec *r = malloc(sizeof(rec));
    int rc;

    ck_assert_ptr_nonnull(r);
    rc = run(in, max_frame, max_msg, r);
    ck_assert_msg(rc == code, "%s: got %d, want %d", what, rc, code);
    ck_assert_msg(r->n == 0, "%s: %d callback(s) before the error", what, r->n);
    rec_free(r);
    free(r);
}

static rec *new_rec(void)
{
    rec *r = calloc(1, sizeof(rec));
    ck_assert_ptr_nonnull(r);
    return r;
}

/* ---- sizes and length forms --------------------------------------------- */

static unsigned char *pattern(size_t n, int text)
{
    unsigned char *p = malloc(n ? n : 1);
    size_t i;

    ck_assert_ptr_nonnull(p);
    for (i = 0; i < n; i++) {
        p[i] = text ? (unsigned char)('a' + i % 26) : (unsigned char)(i * 7 + 3);
    }
    return p;
}

static const apr_uint64_t sizes[] = {0, 1, 125, 126, 65535, 65536, MIB};

START_TEST(test_payload_sizes)
{
    size_t i;
    int text;

    for (text = 0; text <= 1; text++) {
        for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            size_t n = (size_t)sizes[i];
            unsigned char *p = pattern(n, text);
            int op = text ? CHAT_WS_OP_TEXT : CHAT_WS_OP_BINARY;
            size_t want_hl = n < 126 ? 6 : n <= 0xFFFF ? 8 : 14;
            buf_t b = {0};
            rec *r = new_rec();

            ck_assert_uint_eq(put_frame(&b, 1, 0, op, 1, p, n), want_hl);
            /* the length field really is the 7, 16 or 64-bit form */
            ck_assert_uint_eq(b.p[1] & 0x7F, n < 126 ? n : n <= 0xFFFF ? 126 : 127);
            ck_assert_int_eq(run(&b, MIB, MIB, r), 0);
            ck_assert_int_eq(r->n, 1);
            ev_is(r, 0, text ? 'T' : 'B', p, n);
            rec_free(r);

            /* exactly at the limits is fine, one byte under them is not */
            ck_assert_int_eq(run(&b, n, n, r), 0);
            ck_assert_int_eq(r->n, 1);
            rec_free(r);
            if (n > 0) {
                expect_error(&b, n - 1, MIB, CHAT_WS_CLOSE_TOO_BIG, "frame over max_frame");
                expect_error(&b, MIB, n - 1, CHAT_WS_CLOSE_TOO_BIG, "frame over max_message");
            }
            free(r);
            free(p);
            buf_free(&b);
        }
    }
}
END_TEST

/* Every size in one stream, alternating text and binary: the decoder must
 * reset between frames of different length forms. */
START_TEST(test_sizes_back_to_back)
{
    size_t i, count = sizeof(sizes) / sizeof(sizes[0]);
    unsigned char *p[sizeof(sizes) / sizeof(sizes[0])];
    buf_t b = {0};
    rec *r = new_rec();

    for (i = 0; i < count; i++) {
        p[i] = pattern((size_t)sizes[i], (int)(i & 1));
        put_frame(&b, 1, 0, (i & 1) ? CHAT_WS_OP_TEXT : CHAT_WS_OP_BINARY, 1, p[i], sizes[i]);
    }
    ck_assert_int_eq(run(&b, MIB, MIB, r), 0);
    ck_assert_int_eq(r->n, (int)count);
    for (i = 0; i < count; i++) {
        ev_is(r, (int)i, (i & 1) ? 'T' : 'B', p[i], (size_t)sizes[i]);
        free(p[i]);
    }
    rec_free(r);
    free(r);
    buf_free(&b);
}
END_TEST

/* ---- fragmentation ------------------------------------------------------- */

START_TEST(test_fragmented_text_with_ping)
{
    buf_t b = {0};
    rec *r = new_rec();

    FRAME(&b, 0, CHAT_WS_OP_TEXT, "Hel");
    FRAME(&b, 1, CHAT_WS_OP_PING, "p1");
    FRAME(&b, 0, CHAT_WS_OP_CONT, "lo, ");
    FRAME(&b, 1, CHAT_WS_OP_PONG, "q");
    FRAME(&b, 1, CHAT_WS_OP_PING, "");
    FRAME(&b, 1, CHAT_WS_OP_CONT, "world");
    FRAME(&b, 1, CHAT_WS_OP_TEXT, "next");
    ck_assert_int_eq(run(&b, MIB, MIB, r), 0);
    ck_assert_int_eq(r->n, 5);
    ev_is(r, 0, 'P', "p1", 2); /* the ping is answered before the message ends */
    ev_is(r, 1, 'O', "q", 1);
    ev_is(r, 2, 'P', "", 0);
    ev_is(r, 3, 'T', "Hello, world", 12);
    ev_is(r, 4, 'T', "next", 4);
    rec_free(r);
    free(r);
    buf_free(&b);
}
END_TEST

START_TEST(test_fragmented_binary_with_ping)
{
    static const unsigned char a[] = {0x00, 0xff, 0x80}, c[] = {0xfe, 0x00};
    static const unsigned char whole[] = {0x00, 0xff, 0x80, 0xfe, 0x00};
    buf_t b = {0};
    rec *r = new_rec();

    put_frame(&b, 0, 0, CHAT_WS_OP_BINARY, 1, a, sizeof(a));
    put_frame(&b, 0, 0, CHAT_WS_OP_CONT, 1, "", 0); /* empty fragment */
    FRAME(&b, 1, CHAT_WS_OP_PING, "\xff\x00z");     /* ping payload is not text */
    put_frame(&b, 1, 0, CHAT_WS_OP_CONT, 1, c, sizeof(c));
    FRAME(&b, 1, CHAT_WS_OP_BINARY, "\x01");
    ck_assert_int_eq(run(&b, MIB, MIB, r), 0);
    ck_assert_int_eq(r->n, 3);
    ev_is(r, 0, 'P', "\xff\x00z", 3);
    ev_is(r, 1, 'B', whole, sizeof(whole));
    ev_is(r, 2, 'B', "\x01", 1);
    rec_free(r);
    free(r);
    buf_free(&b);
}
END_TEST

START_TEST(test_many_fragments)
{
    char want[300];
    buf_t b = {0};
    rec *r = new_rec();
    int i;

    for (i = 0; i < 300; i++) {
        want[i] = (char)('A' + i % 26);
        put_frame(&b, i == 299, 0, i == 0 ? CHAT_WS_OP_TEXT : CHAT_WS_OP_CONT, 1, want + i, 1);
        if (i % 50 == 49 && i < 299) {
            put_frame(&b, 1, 0, CHAT_WS_OP_PING, 1, want + i, 1);
        }
    }
    ck_assert_int_eq(run(&b, MIB, 300, r), 0);
    ck_assert_int_eq(r->n, 6);
    for (i = 0; i < 5; i++) {
        ev_is(r, i, 'P', want + 50 * i + 49, 1);
    }
    ev_is(r, 5, 'T', want, 300);
    rec_free(r);
    free(r);
    buf_free(&b);
}
END_TEST

/* Big fragmented messages between small ones: the reassembly buffer grows,
 * may be dropped, and must never mix up messages. */
START_TEST(test_large_then_small_messages)
{
    unsigned char *big = pattern(60000, 0);
    buf_t b = {0};
    rec *r = new_rec();

    put_frame(&b, 0, 0, CHAT_WS_OP_BINARY, 1, big, 20000);
    put_frame(&b, 0, 0, CHAT_WS_OP_CONT, 1, big + 20000, 20000);
    put_frame(&b, 1, 0, CHAT_WS_OP_CONT, 1, big + 40000, 20000);
    FRAME(&b, 1, CHAT_WS_OP_TEXT, "x");
    put_frame(&b, 0, 0, CHAT_WS_OP_BINARY, 1, big + 1, 30000);
    FRAME(&b, 1, CHAT_WS_OP_PING, "mid");
    put_frame(&b, 1, 0, CHAT_WS_OP_CONT, 1, big + 30001, 29999);
    FRAME(&b, 1, CHAT_WS_OP_TEXT, "");
    ck_assert_int_eq(run(&b, MIB, 60000, r), 0);
    ck_assert_int_eq(r->n, 5);
    ev_is(r, 0, 'B', big, 60000);
    ev_is(r, 1, 'T', "x", 1);
    ev_is(r, 2, 'P', "mid", 3);
    ev_is(r, 3, 'B', big + 1, 59999);
    ev_is(r, 4, 'T', "", 0);
    rec_free(r);
    free(r);
    free(big);
    buf_free(&b);
}
END_TEST

START_TEST(test_empty_messages)
{
    buf_t b = {0};
    rec *r = new_rec();

    FRAME(&b, 1, CHAT_WS_OP_TEXT, "");
    FRAME(&b, 0, CHAT_WS_OP_BINARY, "");
    FRAME(&b, 1, CHAT_WS_OP_CONT, "");
    FRAME(&b, 0, CHAT_WS_OP_TEXT, "");
    FRAME(&b, 0, CHAT_WS_OP_CONT, "");
    FRAME(&b, 1, CHAT_WS_OP_CONT, "");
    ck_assert_int_eq(run(&b, MIB, MIB, r), 0);
    ck_assert_int_eq(r->n, 3);
    ev_is(r, 0, 'T', "", 0);
    ev_is(r, 1, 'B', "", 0);
    ev_is(r, 2, 'T', "", 0);
    rec_free(r);
    free(r);
    buf_free(&b);
}
END_TEST

START_TEST(test_control_payloads)
{
    unsigned char p125[125];
    buf_t b = {0};
    rec *r = new_rec();
    int i;

    for (i = 0; i < 125; i++) {
        p125[i] = (unsigned char)(255 - i);
    }
    put_frame(&b, 1, 0, CHAT_WS_OP_PING, 1, p125, 125);
    put_frame(&b, 1, 0, CHAT_WS_OP_PONG, 1, p125 + 1, 124);
    FRAME(&b, 1, CHAT_WS_OP_PONG, "");
    ck_assert_int_eq(run(&b, MIB, MIB, r), 0);
    ck_assert_int_eq(r->n, 3);
    ev_is(r, 0, 'P', p125, 125);
    ev_is(r, 1, 'O', p125 + 1, 124);
    ev_is(r, 2, 'O', "", 0);
    rec_free(r);
    /* a control frame of 125 bytes is fine even with max_frame at 125 */
    ck_assert_int_eq(run(&b, 125, 125, r), 0);
    ck_assert_int_eq(r->n, 3);
    rec_free(r);
    free(r);
    buf_free(&b);
}
END_TEST

/* An idle socket's decoder holds no control-frame buffer: one only while a
 * control frame's payload is split over reads, none after it or for a whole
 * one. */
START_TEST(test_control_buffer_only_while_split)
{
    static const unsigned char payload[] = "ping payload";
    buf_t b = {0};
    rec r;
    chat_ws_decoder d;
    apr_size_t half;

    rec_init(&r, NULL);
    put_frame(&b, 1, 0, CHAT_WS_OP_PING, 1, payload, sizeof(payload) - 1);
    half = b.len - 5;
    chat_ws_decoder_init(&d, MIB, MIB, &cbs, &r);
    ck_assert_int_eq(chat_ws_decoder_feed(&d, (const char *)b.p, half), 0);
    ck_assert_ptr_nonnull(d.ctl);
    ck_assert_int_eq(chat_ws_decoder_feed(&d, (const char *)b.p + half, b.len - half), 0);
    ck_assert_ptr_null(d.ctl);
    ck_assert_int_eq(chat_ws_decoder_feed(&d, (const char *)b.p, b.len), 0);
    ck_assert_ptr_null(d.ctl);
    ck_assert_int_eq(r.n, 2);
    ev_is(&r, 0, 'P', payload, sizeof(payload) - 1);
    ev_is(&r, 1, 'P', payload, sizeof(payload) - 1);
    chat_ws_decoder_cleanup(&d);
    rec_free(&r);
    buf_free(&b);
}
END_TEST

/* ---- protocol errors (1002) ---------------------------------------------- */

START_TEST(test_unmasked)
{
    buf_t b = {0};

    put_frame(&b, 1, 0, CHAT_WS_OP_TEXT, 0, "hi", 2);
    expect_error(&b, MIB, MIB, 1002, "unmasked text");
    ck_assert_int_eq(prefix(&b, 2, MIB, MIB), 1002); /* known from the 2nd byte */
    buf_free(&b);

    put_frame(&b, 1, 0, CHAT_WS_OP_PING, 0, "", 0);
    expect_error(&b, MIB, MIB, 1002, "unmasked ping");
    buf_free(&b);

    put_frame(&b, 1, 0, CHAT_WS_OP_BINARY, 0, "", 0);
    expect_error(&b, MIB, MIB, 1002, "unmasked empty binary");
    buf_free(&b);

    FRAME(&b, 0, CHAT_WS_OP_TEXT, "a");
    put_frame(&b, 1, 0, CHAT_WS_OP_CONT, 0, "b", 1);
    expect_error(&b, MIB, MIB, 1002, "unmasked continuation");
    buf_free(&b);
}
END_TEST

START_TEST(test_rsv_bits)
{
    static const int rsv[] = {4, 2, 1, 7}; /* RSV1, RSV2, RSV3, all */
    static const int ops[] = {CHAT_WS_OP_TEXT, CHAT_WS_OP_BINARY, CHAT_WS_OP_PING,
                              CHAT_WS_OP_CLOSE};
    size_t i, j;

    for (i = 0; i < sizeof(rsv) / sizeof(rsv[0]); i++) {
        for (j = 0; j < sizeof(ops) / sizeof(ops[0]); j++) {
            buf_t b = {0};
            char what[64];
            put_frame(&b, 1, rsv[i], ops[j], 1, "", 0);
            snprintf(what, sizeof(what), "rsv %d on opcode %d", rsv[i], ops[j]);
            expect_error(&b, MIB, MIB, 1002, what);
            ck_assert_int_eq(prefix(&b, 2, MIB, MIB), 1002);
            buf_free(&b);
        }
    }
    {
        buf_t b = {0};
        FRAME(&b, 0, CHAT_WS_OP_TEXT, "a");
        put_frame(&b, 1, 4, CHAT_WS_OP_CONT, 1, "b", 1);
        expect_error(&b, MIB, MIB, 1002, "RSV1 on a continuation");
        buf_free(&b);
    }
}
END_TEST

START_TEST(test_reserved_opcodes)
{
    int op, fin;

    for (op = 3; op <= 15; op++) {
        if (op >= 8 && op <= 10) {
            continue;
        }
        for (fin = 0; fin <= 1; fin++) {
            buf_t b = {0};
            char what[64];
            put_frame(&b, fin, 0, op, 1, "x", 1);
            snprintf(what, sizeof(what), "opcode %d fin %d", op, fin);
            expect_error(&b, MIB, MIB, 1002, what);
            ck_assert_int_eq(prefix(&b, 2, MIB, MIB), 1002);
            buf_free(&b);
        }
    }
    /* also in the middle of a fragmented message */
    {
        buf_t b = {0};
        FRAME(&b, 0, CHAT_WS_OP_TEXT, "a");
        FRAME(&b, 1, 0xB, "");
        expect_error(&b, MIB, MIB, 1002, "opcode 11 inside a message");
        buf_free(&b);
    }
}
END_TEST

START_TEST(test_control_too_long)
{
    static const int ops[] = {CHAT_WS_OP_PING, CHAT_WS_OP_PONG, CHAT_WS_OP_CLOSE};
    unsigned char p[65536];
    size_t i;

    memset(p, 'x', sizeof(p));
    close_payload(p, 1000, "", 0);
    for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        buf_t b = {0};
        put_frame(&b, 1, 0, ops[i], 1, p, 126);
        expect_error(&b, MIB, MIB, 1002, "control frame of 126 bytes");
        ck_assert_int_eq(prefix(&b, 2, MIB, MIB), 1002);
        buf_free(&b);
        put_frame(&b, 1, 0, ops[i], 1, p, 65536); /* 64-bit length form */
        expect_error(&b, MIB, MIB, 1002, "control frame of 65536 bytes");
        buf_free(&b);
    }
}
END_TEST

START_TEST(test_fragmented_control)
{
    static const int ops[] = {CHAT_WS_OP_PING, CHAT_WS_OP_PONG, CHAT_WS_OP_CLOSE};
    size_t i;

    for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        buf_t b = {0};
        put_frame(&b, 0, 0, ops[i], 1, "\x03\xe8", 2);
        put_frame(&b, 1, 0, CHAT_WS_OP_CONT, 1, "x", 1);
        expect_error(&b, MIB, MIB, 1002, "fragmented control frame");
        ck_assert_int_eq(prefix(&b, 2, MIB, MIB), 1002);
        buf_free(&b);
    }
}
END_TEST

START_TEST(test_continuation_without_start)
{
    buf_t b = {0};
    rec *r = new_rec();

    FRAME(&b, 1, CHAT_WS_OP_CONT, "x");
    expect_error(&b, MIB, MIB, 1002, "lone final continuation");
    ck_assert_int_eq(prefix(&b, 2, MIB, MIB), 1002);
    buf_free(&b);

    FRAME(&b, 0, CHAT_WS_OP_CONT, "x");
    expect_error(&b, MIB, MIB, 1002, "lone continuation");
    buf_free(&b);

    /* after a complete message there is nothing to continue */
    FRAME(&b, 1, CHAT_WS_OP_TEXT, "done");
    FRAME(&b, 1, CHAT_WS_OP_CONT, "more");
    ck_assert_int_eq(run(&b, MIB, MIB, r), 1002);
    ck_assert_int_eq(r->n, 1);
    ev_is(r, 0, 'T', "done", 4);
    rec_free(r);
    free(r);
    buf_free(&b);
}
END_TEST

START_TEST(test_new_message_while_fragmented)
{
    static const int first[] = {CHAT_WS_OP_TEXT, CHAT_WS_OP_TEXT, CHAT_WS_OP_BINARY,
                                CHAT_WS_OP_BINARY};
    static const int second[] = {CHAT_WS_OP_TEXT, CHAT_WS_OP_BINARY, CHAT_WS_OP_TEXT,
                                 CHAT_WS_OP_BINARY};
    size_t i;

    for (i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
        buf_t b = {0};
        size_t n1;
        put_frame(&b, 0, 0, first[i], 1, "a", 1);
        FRAME(&b, 1, CHAT_WS_OP_PING, "");
        n1 = b.len;
        put_frame(&b, 1, 0, second[i], 1, "b", 1);
        {
            rec *r = new_rec();
            ck_assert_int_eq(run(&b, MIB, MIB, r), 1002);
            ck_assert_int_eq(r->n, 1); /* only the ping */
            ck_assert_int_eq(r->ev[0].kind, 'P');
            rec_free(r);
            free(r);
        }
        ck_assert_int_eq(prefix(&b, n1 + 2, MIB, MIB), 1002);
        buf_free(&b);
    }
}
END_TEST

START_TEST(test_length_top_bit)
{
    static const unsigned char hdr[] = {0x82, 0x80 | 127, 0x80, 0,    0,    0,    0,
                                        0,    0,          0x05, 0x11, 0x22, 0x33, 0x44};
    static const unsigned char hdr_max[] = {0x82, 0x80 | 127, 0x7f, 0xff, 0xff, 0xff, 0xff,
                                            0xff, 0xff,       0xff, 0x11, 0x22, 0x33, 0x44};
    buf_t b = {0};

    buf_put(&b, hdr, sizeof(hdr));
    expect_error(&b, APR_UINT64_MAX, APR_UINT64_MAX, 1002, "64-bit length with the top bit");
    expect_error(&b, MIB, MIB, 1002, "64-bit length with the top bit, small limits");
    buf_put(&b, "abcde", 5);
    expect_error(&b, MIB, MIB, 1002, "64-bit length with the top bit and payload");
    buf_free(&b);
    /* the largest legal length is merely too big */
    buf_put(&b, hdr_max, sizeof(hdr_max));
    expect_error(&b, MIB, MIB, 1009, "2^63-1 byte frame");
    buf_free(&b);
}
END_TEST

/* ---- size limits (1009) -------------------------------------------------- */

START_TEST(test_frame_too_big)
{
    unsigned char *p = pattern(70000, 1);
    buf_t b = {0};
    size_t hl;

    hl = put_frame(&b, 1, 0, CHAT_WS_OP_BINARY, 1, p, 1025);
    expect_error(&b, 1024, MIB, 1009, "1025-byte frame, max 1024");
    ck_assert_int_eq(prefix(&b, hl, 1024, MIB), 1009); /* from the header alone */
    buf_free(&b);

    hl = put_frame(&b, 1, 0, CHAT_WS_OP_TEXT, 1, p, 65536);
    expect_error(&b, 65535, MIB, 1009, "65536-byte frame, max 65535");
    ck_assert_int_eq(prefix(&b, hl, 65535, MIB), 1009);
    buf_free(&b);

    /* a non-final fragment is a frame too */
    hl = put_frame(&b, 0, 0, CHAT_WS_OP_TEXT, 1, p, 200);
    expect_error(&b, 199, MIB, 1009, "200-byte fragment, max 199");
    buf_free(&b);
    free(p);
}
END_TEST

START_TEST(test_message_too_big)
{
    unsigned char *p = pattern(3000, 1);
    buf_t b = {0};
    rec *r = new_rec();
    size_t before_last;

    put_frame(&b, 0, 0, CHAT_WS_OP_TEXT, 1, p, 1000);
    FRAME(&b, 1, CHAT_WS_OP_PING, "in");
    put_frame(&b, 0, 0, CHAT_WS_OP_CONT, 1, p + 1000, 1000);
    before_last = b.len;
    put_frame(&b, 1, 0, CHAT_WS_OP_CONT, 1, p + 2000, 1000);

    ck_assert_int_eq(run(&b, 1024, 3000, r), 0);
    ck_assert_int_eq(r->n, 2);
    ev_is(r, 1, 'T', p, 3000);
    rec_free(r);

    ck_assert_int_eq(run(&b, 1024, 2999, r), 1009);
    ck_assert_int_eq(r->n, 1); /* the ping, no message */
    ck_assert_int_eq(r->ev[0].kind, 'P');
    rec_free(r);
    /* refused at the last fragment's header, before its payload */
    ck_assert_int_eq(prefix(&b, before_last + 8, 1024, 2999), 1009);

    /* binary too */
    buf_free(&b);
    put_frame(&b, 0, 0, CHAT_WS_OP_BINARY, 1, p, 1000);
    put_frame(&b, 1, 0, CHAT_WS_OP_CONT, 1, p, 1000);
    expect_error(&b, 1000, 1999, 1009, "2000-byte binary message, max 1999");
    buf_free(&b);

    /* the limit is per message, not per connection */
    put_frame(&b, 1, 0, CHAT_WS_OP_TEXT, 1, p, 1000);
    put_frame(&b, 0, 0, CHAT_WS_OP_TEXT, 1, p, 500);
    put_frame(&b, 1, 0, CHAT_WS_OP_CONT, 1, p + 500, 500);
    ck_assert_int_eq(run(&b, 1000, 1000, r), 0);
    ck_assert_int_eq(r->n, 2);
    ev_is(r, 1, 'T', p, 1000);
    rec_free(r);

    free(r);
    free(p);
    buf_free(&b);
}
END_TEST

/* ---- UTF-8 in text messages (1007) ---------------------------------------- */

START_TEST(test_invalid_utf8_one_frame)
{
    static const struct {
        const char *s;
        size_t len;
        size_t bad_at; /* index of the first byte that proves it */
    } cases[] = {
        {"abc\xff"
         "def",
         7, 3},
        {"\xc0\xaf", 2, 0},         /* overlong '/' */
        {"ok \xe0\x80\xaf", 6, 4},  /* overlong, 3 bytes */
        {"\xed\xa0\x80 x", 5, 1},   /* U+D800 */
        {"\xf4\x90\x80\x80", 4, 1}, /* > U+10FFFF */
        {"\xce\xba\x80", 3, 2},     /* stray continuation */
        {"\xe2\x82"
         "A and more",
         12, 2},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        buf_t b = {0};
        size_t hl = put_frame(&b, 1, 0, CHAT_WS_OP_TEXT, 1, cases[i].s, cases[i].len);
        char what[64];
        snprintf(what, sizeof(what), "bad UTF-8 case %zu", i);
        expect_error(&b, MIB, MIB, 1007, what);
        /* found as soon as the bad byte is in, not at the end of the frame */
        ck_assert_msg(prefix(&b, hl + cases[i].bad_at + 1, MIB, MIB) == 1007, "%s early", what);
        ck_assert_msg(prefix(&b, hl + cases[i].bad_at, MIB, MIB) == 0, "%s too early", what);
        buf_free(&b);
    }
}
END_TEST

START_TEST(test_invalid_utf8_across_fragments)
{
    buf_t b = {0};
    rec *r = new_rec();

    /* none of these streams has a final fragment: found before it arrives */
    FRAME(&b, 0, CHAT_WS_OP_TEXT, "ab\xe2");
    FRAME(&b, 0, CHAT_WS_OP_CONT, "\x28xyz");
    expect_error(&b, MIB, MIB, 1007, "E2 then 28 across fragments");
    buf_free(&b);

    FRAME(&b, 0, CHAT_WS_OP_TEXT, "\xf0\x9f");
    FRAME(&b, 0, CHAT_WS_OP_CONT, "\x98");
    FRAME(&b, 0, CHAT_WS_OP_CONT, "A");
    expect_error(&b, MIB, MIB, 1007, "4-byte sequence cut by ASCII across fragments");
    buf_free(&b);

    FRAME(&b, 0, CHAT_WS_OP_TEXT, "\xed");
    FRAME(&b, 0, CHAT_WS_OP_CONT, "\xa0\x80");
    expect_error(&b, MIB, MIB, 1007, "surrogate split across fragments");
    buf_free(&b);

    FRAME(&b, 0, CHAT_WS_OP_TEXT, "\xe0");
    FRAME(&b, 0, CHAT_WS_OP_CONT, "\x9f\xbf");
    expect_error(&b, MIB, MIB, 1007, "overlong split across fragments");
    buf_free(&b);

    /* a ping in between does not reset or feed the text state */
    FRAME(&b, 0, CHAT_WS_OP_TEXT, "ok");
    FRAME(&b, 1, CHAT_WS_OP_PING, "\xe2\x82");
    FRAME(&b, 0, CHAT_WS_OP_CONT, "\xac");
    ck_assert_int_eq(run(&b, MIB, MIB, r), 1007);
    ck_assert_int_eq(r->n, 1);
    ck_assert_int_eq(r->ev[0].kind, 'P');
    rec_free(r);
    free(r);
    buf_free(&b);
}
END_TEST

START_TEST(test_valid_utf8_across_fragments)
{
    static const char kosme[] = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 \xf0\x9f\x98\x80";
    size_t n = sizeof(kosme) - 1, cut;
    buf_t b = {0};
    rec *r = new_rec();

    /* U+1F600 one byte per fragment, a binary-looking ping in the middle */
    FRAME(&b, 0, CHAT_WS_OP_TEXT, "\xf0");
    FRAME(&b, 0, CHAT_WS_OP_CONT, "\x9f");
    FRAME(&b, 1, CHAT_WS_OP_PING, "\xff");
    FRAME(&b, 0, CHAT_WS_OP_CONT, "\x98");
    FRAME(&b, 1, CHAT_WS_OP_CONT, "\x80");
    ck_assert_int_eq(run(&b, MIB, MIB, r), 0);
    ck_assert_int_eq(r->n, 2);
    ev_is(r, 0, 'P', "\xff", 1);
    ev_is(r, 1, 'T', "\xf0\x9f\x98\x80", 4);
    rec_free(r);
    buf_free(&b);

    /* every cut of a multibyte string into two fragments */
    for (cut = 0; cut <= n; cut++) {
        put_frame(&b, 0, 0, CHAT_WS_OP_TEXT, 1, kosme, cut);
        put_frame(&b, 1, 0, CHAT_WS_OP_CONT, 1, kosme + cut, n - cut);
        ck_assert_msg(run(&b, MIB, MIB, r) == 0, "cut at %zu", cut);
        ck_assert_int_eq(r->n, 1);
        ev_is(r, 0, 'T', kosme, n);
        rec_free(r);
        buf_free(&b);
    }
    free(r);
}
END_TEST

START_TEST(test_text_ends_mid_sequence)
{
    buf_t b = {0};
    size_t n;

    FRAME(&b, 1, CHAT_WS_OP_TEXT, "a\xe2\x82");
    expect_error(&b, MIB, MIB, 1007, "final frame ends inside a 3-byte sequence");
    buf_free(&b);

    FRAME(&b, 1, CHAT_WS_OP_TEXT, "\xf0\x9f\x98");
    expect_error(&b, MIB, MIB, 1007, "final frame ends inside a 4-byte sequence");
    buf_free(&b);

    FRAME(&b, 0, CHAT_WS_OP_TEXT, "\xc3");
    n = b.len;
    FRAME(&b, 1, CHAT_WS_OP_CONT, "");
    /* the open sequence alone is fine until the message ends */
    ck_assert_int_eq(prefix(&b, n, MIB, MIB), 0);
    expect_error(&b, MIB, MIB, 1007, "empty final fragment after an open sequence");
    buf_free(&b);
}
END_TEST

START_TEST(test_binary_not_validated)
{
    buf_t b = {0};
    rec *r = new_rec();

    FRAME(&b, 1, CHAT_WS_OP_BINARY, "\xff\xfe\xc0\xed\xa0\x80\xe2");
    ck_assert_int_eq(run(&b, MIB, MIB, r), 0);
    ck_assert_int_eq(r->n, 1);
    ev_is(r, 0, 'B', "\xff\xfe\xc0\xed\xa0\x80\xe2", 7);
    rec_free(r);
    free(r);
    buf_free(&b);
}
END_TEST

/* ---- close frames ------------------------------------------------------- */

START_TEST(test_close_empty)
{
    buf_t b = {0};
    rec *r = new_rec();
    rec cfg = {0};

    FRAME(&b, 1, CHAT_WS_OP_CLOSE, "");
    ck_assert_int_eq(run(&b, MIB, MIB, r), 0);
    ck_assert_int_eq(r->n, 1);
    ev_is(r, 0, 'C', "", 0);
    ck_assert_int_eq(r->ev[0].code, 1005);
    rec_free(r);

    cfg.ret_close = 1;
    ck_assert_int_eq(run_cfg(&b, MIB, MIB, &cfg, r), 1);
    ck_assert_int_eq(r->n, 1);
    rec_free(r);
    free(r);
    buf_free(&b);
}
END_TEST

START_TEST(test_close_one_byte)
{
    buf_t b = {0};
    rec *r = new_rec();

    FRAME(&b, 1, CHAT_WS_OP_CLOSE, "\x03");
    expect_error(&b, MIB, MIB, 1002, "close with a 1-byte payload");
    buf_free(&b);

    /* no second code byte may come from an earlier control frame */
    FRAME(&b, 1, CHAT_WS_OP_PING, "\x03\xe8");
    FRAME(&b, 1, CHAT_WS_OP_CLOSE, "\x03");
    ck_assert_int_eq(run(&b, MIB, MIB, r), 1002);
    ck_assert_int_eq(r->n, 1);
    ev_is(r, 0, 'P', "\x03\xe8", 2);
    rec_free(r);
    free(r);
    buf_free(&b);
}
END_TEST

START_TEST(test_close_invalid_codes)
{
    static const int codes[] = {0,    1,    999,  1004, 1005, 1006, 1015,
                                1016, 2000, 2999, 5000, 9999, 65535};
    unsigned char p[32];
    size_t i;

    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        buf_t b = {0};
        char what[64];
        snprintf(what, sizeof(what), "close code %d", codes[i]);
        put_frame(&b, 1, 0, CHAT_WS_OP_CLOSE, 1, p, close_payload(p, codes[i], "", 0));
        expect_error(&b, MIB, MIB, 1002, what);
        buf_free(&b);
        put_frame(&b, 1, 0, CHAT_WS_OP_CLOSE, 1, p, close_payload(p, codes[i], "why", 3));
        expect_error(&b, MIB, MIB, 1002, what);
        buf_free(&b);
    }
}
END_TEST

START_TEST(test_close_valid_codes)
{
    static const int codes[] = {1000, 1001, 1002, 1003, 1007, 1008,
                                1011, 1014, 3000, 3999, 4000, 4999};
    static const char reason[] = "bye \xc3\xa9\xf0\x9f\x98\x80";
    unsigned char p[128];
    char longr[124];
    buf_t b = {0};
    rec *r = new_rec();
    size_t i;

    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        put_frame(&b, 1, 0, CHAT_WS_OP_CLOSE, 1, p,
                  close_payload(p, codes[i], reason, sizeof(reason) - 1));
        ck_assert_int_eq(run(&b, MIB, MIB, r), 0);
        ck_assert_int_eq(r->n, 1);
        ev_is(r, 0, 'C', reason, sizeof(reason) - 1);
        ck_assert_int_eq(r->ev[0].code, codes[i]);
        rec_free(r);
        buf_free(&b);

        put_frame(&b, 1, 0, CHAT_WS_OP_CLOSE, 1, p, close_payload(p, codes[i], "", 0));
        ck_assert_int_eq(run(&b, MIB, MIB, r), 0);
        ck_assert_int_eq(r->n, 1);
        ev_is(r, 0, 'C', "", 0);
        ck_assert_int_eq(r->ev[0].code, codes[i]);
        rec_free(r);
        buf_free(&b);
    }
    /* the longest reason: 123 bytes */
    memset(longr, 'r', 123);
    put_frame(&b, 1, 0, CHAT_WS_OP_CLOSE, 1, p, close_payload(p, 4321, longr, 123));
    ck_assert_int_eq(run(&b, MIB, MIB, r), 0);
    ev_is(r, 0, 'C', longr, 123);
    ck_assert_int_eq(r->ev[0].code, 4321);
    rec_free(r);
    free(r);
    buf_free(&b);
}
END_TEST

START_TEST(test_close_bad_reason)
{
    static const char *reasons[] = {"\xff", "ok\xe2\x82", "\xc0\x80", "\xed\xa0\x80"};
    unsigned char p[32];
    size_t i;

    for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        buf_t b = {0};
        put_frame(&b, 1, 0, CHAT_WS_OP_CLOSE, 1, p,
                  close_payload(p, 1000, reasons[i], strlen(reasons[i])));
        expect_error(&b, MIB, MIB, 1007, "close reason not UTF-8");
        buf_free(&b);
    }
}
END_TEST

START_TEST(test_close_inside_message)
{
    unsigned char p[8];
    buf_t b = {0};
    rec *r = new_rec();

    FRAME(&b, 0, CHAT_WS_OP_TEXT, "half");
    put_frame(&b, 1, 0, CHAT_WS_OP_CLOSE, 1, p, close_payload(p, 1001, "x", 1));
    ck_assert_int_eq(run(&b, MIB, MIB, r), 0);
    ck_assert_int_eq(r->n, 1);
    ev_is(r, 0, 'C', "x", 1);
    ck_assert_int_eq(r->ev[0].code, 1001);
    rec_free(r);
    free(r);
    buf_free(&b);
}
END_TEST

START_TEST(test_close_code_rule)
{
    int c;

    for (c = 0; c <= 65535; c++) {
        int want = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
        ck_assert_msg(chat_ws_close_code_valid(c) == want, "close code %d", c);
    }
    ck_assert(!chat_ws_close_code_valid(-1));
    ck_assert(!chat_ws_close_code_valid(-64536)); /* 1000 - 65536 */
    ck_assert(!chat_ws_close_code_valid(65536 + 1000));
}
END_TEST

/* ---- after an error or a callback's stop ---------------------------------- */

START_TEST(test_failure_is_sticky)
{
    buf_t bad[3] = {{0}}, good = {0};
    static const int code[3] = {1002, 1007, 1009};
    int i;

    put_frame(&bad[0], 1, 0, CHAT_WS_OP_TEXT, 0, "x", 1);
    FRAME(&bad[1], 1, CHAT_WS_OP_TEXT, "\xff");
    FRAME(&bad[2], 1, CHAT_WS_OP_BINARY, "0123456789");
    FRAME(&good, 1, CHAT_WS_OP_TEXT, "fine");
    FRAME(&good, 1, CHAT_WS_OP_PING, "p");
    for (i = 0; i < 3; i++) {
        chat_ws_decoder d;
        rec *r = new_rec();
        size_t k;

        chat_ws_decoder_init(&d, 8, 8, &cbs, r);
        ck_assert_int_eq(chat_ws_decoder_feed(&d, (const char *)bad[i].p, bad[i].len), code[i]);
        ck_assert_ptr_nonnull(d.error);
        ck_assert_int_eq(chat_ws_decoder_feed(&d, (const char *)good.p, good.len), code[i]);
        for (k = 0; k < good.len; k++) {
            ck_assert_int_eq(chat_ws_decoder_feed(&d, (const char *)good.p + k, 1), code[i]);
        }
        ck_assert_int_eq(chat_ws_decoder_feed(&d, "", 0), code[i]);
        ck_assert_int_eq(r->n, 0);
        chat_ws_decoder_cleanup(&d);
        free(r);
        buf_free(&bad[i]);
    }
    buf_free(&good);
}
END_TEST

START_TEST(test_callback_stops_feeding)
{
    unsigned char p[8];
    buf_t b = {0};
    rec *r = new_rec();
    rec cfg = {0};

    FRAME(&b, 1, CHAT_WS_OP_TEXT, "a");
    FRAME(&b, 1, CHAT_WS_OP_PING, "p");
    FRAME(&b, 1, CHAT_WS_OP_BINARY, "b");
    FRAME(&b, 1, CHAT_WS_OP_PONG, "o");
    put_frame(&b, 1, 0, CHAT_WS_OP_CLOSE, 1, p, close_payload(p, 1000, "", 0));
    FRAME(&b, 1, CHAT_WS_OP_TEXT, "after close");

    cfg.ret_message = 7;
    ck_assert_int_eq(run_cfg(&b, MIB, MIB, &cfg, r), 7);
    ck_assert_int_eq(r->n, 1);
    ev_is(r, 0, 'T', "a", 1);
    rec_free(r);

    memset(&cfg, 0, sizeof(cfg));
    cfg.ret_ping = 5;
    ck_assert_int_eq(run_cfg(&b, MIB, MIB, &cfg, r), 5);
    ck_assert_int_eq(r->n, 2);
    ev_is(r, 1, 'P', "p", 1);
    rec_free(r);

    memset(&cfg, 0, sizeof(cfg));
    cfg.ret_pong = -3;
    ck_assert_int_eq(run_cfg(&b, MIB, MIB, &cfg, r), -3);
    ck_assert_int_eq(r->n, 4);
    ev_is(r, 3, 'O', "o", 1);
    rec_free(r);

    memset(&cfg, 0, sizeof(cfg));
    cfg.ret_close = 1;
    ck_assert_int_eq(run_cfg(&b, MIB, MIB, &cfg, r), 1);
    ck_assert_int_eq(r->n, 5);
    ck_assert_int_eq(r->ev[4].kind, 'C');
    ck_assert_int_eq(r->ev[4].code, 1000);
    rec_free(r);

    /* nothing stops: everything is delivered */
    ck_assert_int_eq(run(&b, MIB, MIB, r), 0);
    ck_assert_int_eq(r->n, 6);
    ev_is(r, 5, 'T', "after close", 11);
    rec_free(r);
    free(r);
    buf_free(&b);
}
END_TEST

/* ---- server frame headers ------------------------------------------------ */

static void header_is(int fin, int op, apr_uint64_t len, const unsigned char *want, size_t wlen)
{
    unsigned char h[16];

    memset(h, 0xAA, sizeof(h));
    ck_assert_uint_eq(chat_ws_frame_header(h, fin, op, len), wlen);
    ck_assert_msg(!memcmp(h, want, wlen), "header for length %llu", (unsigned long long)len);
    ck_assert_msg(h[10] == 0xAA, "header for length %llu writes past 10 bytes",
                  (unsigned long long)len);
}

START_TEST(test_header_encoding)
{
    static const unsigned char h0[] = {0x81, 0x00};
    static const unsigned char h125[] = {0x89, 0x7d};
    static const unsigned char h126[] = {0x82, 0x7e, 0x00, 0x7e};
    static const unsigned char h127[] = {0x81, 0x7e, 0x00, 0x7f};
    static const unsigned char h65535[] = {0x82, 0x7e, 0xff, 0xff};
    static const unsigned char h65536[] = {0x81, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00};
    static const unsigned char h4g[] = {0x82, 0x7f, 0, 0, 0, 0x01, 0, 0, 0, 0};
    static const unsigned char hbig[] = {0x82, 0x7f, 0x7f, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0xfe};
    static const unsigned char hcont[] = {0x00, 0x05};
    static const unsigned char hclose[] = {0x88, 0x02};
    static const unsigned char hpong[] = {0x8a, 0x00};
    static const unsigned char hfrag[] = {0x01, 0x7e, 0x01, 0x00};

    header_is(1, CHAT_WS_OP_TEXT, 0, h0, 2);
    header_is(1, CHAT_WS_OP_PING, 125, h125, 2);
    header_is(1, CHAT_WS_OP_BINARY, 126, h126, 4);
    header_is(1, CHAT_WS_OP_TEXT, 127, h127, 4);
    header_is(1, CHAT_WS_OP_BINARY, 65535, h65535, 4);
    header_is(1, CHAT_WS_OP_TEXT, 65536, h65536, 10);
    header_is(1, CHAT_WS_OP_BINARY, APR_UINT64_C(1) << 32, h4g, 10);
    header_is(1, CHAT_WS_OP_BINARY, APR_UINT64_C(0x7ffffffffffffffe), hbig, 10);
    header_is(0, CHAT_WS_OP_CONT, 5, hcont, 2);
    header_is(1, CHAT_WS_OP_CLOSE, 2, hclose, 2);
    header_is(1, CHAT_WS_OP_PONG, 0, hpong, 2);
    header_is(0, CHAT_WS_OP_TEXT, 256, hfrag, 4);
}
END_TEST

/* A frame built from chat_ws_frame_header, then masked as a client would,
 * decodes to the same payload: encoder and decoder agree on every form. */
START_TEST(test_header_roundtrip)
{
    static const apr_uint64_t lens[] = {0, 125, 126, 65535, 65536};
    size_t i;

    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        unsigned char h[14];
        unsigned char *p = pattern((size_t)lens[i], 0);
        size_t hl = chat_ws_frame_header(h, 1, CHAT_WS_OP_BINARY, lens[i]), k;
        buf_t b = {0};
        rec *r = new_rec();

        h[1] |= 0x80;
        memcpy(h + hl, "\x01\x02\x03\x04", 4);
        buf_put(&b, h, hl + 4);
        buf_put(&b, p, (size_t)lens[i]);
        for (k = 0; k < lens[i]; k++) {
            b.p[hl + 4 + k] ^= (unsigned char)(1 + (k & 3));
        }
        ck_assert_int_eq(run(&b, MIB, MIB, r), 0);
        ck_assert_int_eq(r->n, 1);
        ev_is(r, 0, 'B', p, (size_t)lens[i]);
        rec_free(r);
        free(r);
        free(p);
        buf_free(&b);
    }
}
END_TEST

/* ---- carrying a half-read stream to another decoder (live hand-over) ------ */

/* Cut a stream at every byte: decoder A reads up to the cut, a fresh B gets
 * A's unread bytes and the rest. A's callbacks then B's must be the stream's,
 * fed whole to one decoder. */
static void carry_at_every_cut(const buf_t *b, const char *what)
{
    rec whole, ra, rb;
    chat_ws_decoder d;
    size_t cut;

    rec_init(&whole, NULL);
    chat_ws_decoder_init(&d, MIB, MIB, &cbs, &whole);
    ck_assert_int_eq(chat_ws_decoder_feed(&d, (const char *)b->p, b->len), 0);
    chat_ws_decoder_cleanup(&d);
    for (cut = 0; cut <= b->len; cut++) {
        chat_ws_decoder a, nb;
        apr_size_t ulen = 0;
        char *unread;
        int i;

        rec_init(&ra, NULL);
        rec_init(&rb, NULL);
        chat_ws_decoder_init(&a, MIB, MIB, &cbs, &ra);
        ck_assert_int_eq(chat_ws_decoder_feed(&a, (const char *)b->p, cut), 0);
        unread = chat_ws_decoder_unread(&a, &ulen);
        ck_assert_msg(ulen == 0 || unread, "%s: no bytes at cut %zu", what, cut);
        chat_ws_decoder_init(&nb, MIB, MIB, &cbs, &rb);
        ck_assert_int_eq(chat_ws_decoder_feed(&nb, unread ? unread : "", ulen), 0);
        ck_assert_int_eq(chat_ws_decoder_feed(&nb, (const char *)b->p + cut, b->len - cut), 0);
        ck_assert_msg(ra.n + rb.n == whole.n, "%s: cut %zu: %d + %d callbacks, whole %d", what, cut,
                      ra.n, rb.n, whole.n);
        for (i = 0; i < rb.n; i++) {
            ra.ev[ra.n + i] = rb.ev[i];
        }
        ra.n += rb.n;
        rb.n = 0;
        rec_same(&whole, &ra, what);
        rec_free(&ra);
        free(unread);
        chat_ws_decoder_cleanup(&a);
        chat_ws_decoder_cleanup(&nb);
    }
    rec_free(&whole);
}

START_TEST(test_unread_carries_every_cut)
{
    buf_t b = {0};
    unsigned char big[300];
    size_t i;

    for (i = 0; i < sizeof(big); i++) {
        big[i] = (unsigned char)('a' + i % 26);
    }
    FRAME(&b, 1, CHAT_WS_OP_TEXT, "hello");
    FRAME(&b, 0, CHAT_WS_OP_TEXT, "fr\xc3");
    FRAME(&b, 1, CHAT_WS_OP_PING, "pp");
    FRAME(&b, 0, CHAT_WS_OP_CONT, "\xa9gm");
    FRAME(&b, 1, CHAT_WS_OP_CONT, "ent");
    put_frame(&b, 1, 0, CHAT_WS_OP_BINARY, 1, big, sizeof(big));
    FRAME(&b, 0, CHAT_WS_OP_BINARY, "");
    FRAME(&b, 1, CHAT_WS_OP_CONT, "x");
    FRAME(&b, 1, CHAT_WS_OP_PONG, "");
    carry_at_every_cut(&b, "mixed stream");
    buf_free(&b);
}
END_TEST

/* The receiving decoder checks the carried bytes against its own limits. */
START_TEST(test_unread_checked_by_new_limits)
{
    buf_t b = {0};
    chat_ws_decoder a, nb;
    rec ra, rb;
    apr_size_t ulen;
    char *unread;

    FRAME(&b, 0, CHAT_WS_OP_TEXT, "0123456789");
    rec_init(&ra, NULL);
    rec_init(&rb, NULL);
    chat_ws_decoder_init(&a, MIB, MIB, &cbs, &ra);
    ck_assert_int_eq(chat_ws_decoder_feed(&a, (const char *)b.p, b.len), 0);
    unread = chat_ws_decoder_unread(&a, &ulen);
    ck_assert_ptr_nonnull(unread);
    chat_ws_decoder_init(&nb, MIB, 8, &cbs, &rb);
    ck_assert_int_eq(chat_ws_decoder_feed(&nb, unread, ulen), CHAT_WS_CLOSE_TOO_BIG);
    free(unread);
    chat_ws_decoder_cleanup(&a);
    chat_ws_decoder_cleanup(&nb);
    buf_free(&b);
}
END_TEST

Suite *suite_ws_frame(void)
{
    Suite *s = suite_create("ws_frame");
    TCase *tc = tcase_create("decoder");
    TCase *te = tcase_create("encoder");

    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_payload_sizes);
    tcase_add_test(tc, test_sizes_back_to_back);
    tcase_add_test(tc, test_fragmented_text_with_ping);
    tcase_add_test(tc, test_fragmented_binary_with_ping);
    tcase_add_test(tc, test_many_fragments);
    tcase_add_test(tc, test_large_then_small_messages);
    tcase_add_test(tc, test_empty_messages);
    tcase_add_test(tc, test_control_payloads);
    tcase_add_test(tc, test_control_buffer_only_while_split);
    tcase_add_test(tc, test_unmasked);
    tcase_add_test(tc, test_rsv_bits);
    tcase_add_test(tc, test_reserved_opcodes);
    tcase_add_test(tc, test_control_too_long);
    tcase_add_test(tc, test_fragmented_control);
    tcase_add_test(tc, test_continuation_without_start);
    tcase_add_test(tc, test_new_message_while_fragmented);
    tcase_add_test(tc, test_length_top_bit);
    tcase_add_test(tc, test_frame_too_big);
    tcase_add_test(tc, test_message_too_big);
    tcase_add_test(tc, test_invalid_utf8_one_frame);
    tcase_add_test(tc, test_invalid_utf8_across_fragments);
    tcase_add_test(tc, test_valid_utf8_across_fragments);
    tcase_add_test(tc, test_text_ends_mid_sequence);
    tcase_add_test(tc, test_binary_not_validated);
    tcase_add_test(tc, test_close_empty);
    tcase_add_test(tc, test_close_one_byte);
    tcase_add_test(tc, test_close_invalid_codes);
    tcase_add_test(tc, test_close_valid_codes);
    tcase_add_test(tc, test_close_bad_reason);
    tcase_add_test(tc, test_close_inside_message);
    tcase_add_test(tc, test_close_code_rule);
    tcase_add_test(tc, test_failure_is_sticky);
    tcase_add_test(tc, test_callback_stops_feeding);
    tcase_add_test(tc, test_unread_carries_every_cut);
    tcase_add_test(tc, test_unread_checked_by_new_limits);
    suite_add_tcase(s, tc);

    tcase_add_test(te, test_header_encoding);
    tcase_add_test(te, test_header_roundtrip);
    suite_add_tcase(s, te);
    return s;
}
