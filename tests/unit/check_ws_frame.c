/* chat_ws_frame: the RFC 6455 decoder, driven with client frames fed whole
 * and one byte at a time, and the server frame header encoder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_ws_frame.h"
#include "check_suites.h"

/* What the callbacks saw, as a log like "M1:hello|P:x|C1000:bye|". */
typedef struct {
    char log[8192];
    int stop_on_message;
    apr_size_t last_len;
} rec;

static void add(rec *r, const char *s)
{
    strncat(r->log, s, sizeof(r->log) - strlen(r->log) - 1);
}

static void add_data(rec *r, const char *tag, const char *d, apr_size_t n)
{
    char buf[64];

    add(r, tag);
    if (n <= 32) {
        strncat(r->log, d, n);
    }
    else {
        snprintf(buf, sizeof(buf), "<%zu bytes>", (size_t)n);
        add(r, buf);
    }
    add(r, "|");
}

static int on_message(void *ctx, int op, const char *d, apr_size_t n)
{
    rec *r = ctx;
    add_data(r, op == CHAT_WS_OP_TEXT ? "T:" : "B:", d, n);
    r->last_len = n;
    return r->stop_on_message;
}

static int on_ping(void *ctx, const char *d, apr_size_t n)
{
    add_data(ctx, "P:", d, n);
    return 0;
}

static int on_pong(void *ctx, const char *d, apr_size_t n)
{
    add_data(ctx, "O:", d, n);
    return 0;
}

static int on_close(void *ctx, int code, const char *d, apr_size_t n)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "C%d:", code);
    add_data(ctx, buf, d, n);
    return 1;
}

static const chat_ws_callbacks cbs = {on_message, on_ping, on_pong, on_close};

/* A masked client frame. */
static size_t frame(unsigned char *out, int fin, int rsv, int op, int masked, const char *p,
                    apr_uint64_t n)
{
    static const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t h = 0, i;

    out[h++] = (unsigned char)((fin ? 0x80 : 0) | (rsv << 4) | op);
    if (n < 126) {
        out[h++] = (unsigned char)((masked ? 0x80 : 0) | n);
    }
    else if (n <= 0xFFFF) {
        out[h++] = (unsigned char)((masked ? 0x80 : 0) | 126);
        out[h++] = (unsigned char)(n >> 8);
        out[h++] = (unsigned char)n;
    }
    else {
        out[h++] = (unsigned char)((masked ? 0x80 : 0) | 127);
        for (i = 0; i < 8; i++) {
            out[h++] = (unsigned char)(n >> (56 - 8 * i));
        }
    }
    if (masked) {
        memcpy(out + h, key, 4);
        h += 4;
    }
    for (i = 0; p && i < n; i++) {
        out[h + i] = (unsigned char)(p[i] ^ (masked ? key[i % 4] : 0));
    }
    return h + (p ? n : 0);
}

/* Feed whole and byte by byte; both must agree. Returns the result code. */
static int run(const unsigned char *buf, size_t n, apr_uint64_t max_frame, apr_uint64_t max_msg,
               rec *out)
{
    chat_ws_decoder d1, d2;
    rec r2;
    int rc1, rc2 = 0;
    size_t i;

    memset(out, 0, sizeof(*out));
    memset(&r2, 0, sizeof(r2));
    chat_ws_decoder_init(&d1, max_frame, max_msg, &cbs, out);
    chat_ws_decoder_init(&d2, max_frame, max_msg, &cbs, &r2);
    rc1 = chat_ws_decoder_feed(&d1, (const char *)buf, n);
    for (i = 0; i < n && rc2 == 0; i++) {
        rc2 = chat_ws_decoder_feed(&d2, (const char *)buf + i, 1);
    }
    ck_assert_int_eq(rc1, rc2);
    ck_assert_str_eq(out->log, r2.log);
    chat_ws_decoder_cleanup(&d1);
    chat_ws_decoder_cleanup(&d2);
    return rc1;
}

#define BIG (1 << 20)

START_TEST(test_sizes)
{
    static const apr_uint64_t sizes[] = {0, 1, 125, 126, 65535, 65536, BIG};
    unsigned char *buf = malloc(BIG + 16);
    char *payload = malloc(BIG);
    rec r;
    size_t i;

    memset(payload, 'a', BIG);
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = frame(buf, 1, 0, CHAT_WS_OP_BINARY, 1, payload, sizes[i]);
        if (sizes[i] <= 65536) {
            ck_assert_int_eq(run(buf, n, BIG, BIG, &r), 0);
        }
        else {
            chat_ws_decoder d;
            memset(&r, 0, sizeof(r));
            chat_ws_decoder_init(&d, BIG, BIG, &cbs, &r);
            ck_assert_int_eq(chat_ws_decoder_feed(&d, (const char *)buf, n), 0);
            chat_ws_decoder_cleanup(&d);
        }
        ck_assert_uint_eq(r.last_len, sizes[i]);
    }
    free(buf);
    free(payload);
}
END_TEST

START_TEST(test_fragments_with_ping)
{
    unsigned char buf[256];
    size_t n = 0;
    rec r;

    n += frame(buf + n, 0, 0, CHAT_WS_OP_TEXT, 1, "Hel", 3);
    n += frame(buf + n, 1, 0, CHAT_WS_OP_PING, 1, "p", 1);
    n += frame(buf + n, 0, 0, CHAT_WS_OP_CONT, 1, "lo", 2);
    n += frame(buf + n, 1, 0, CHAT_WS_OP_PONG, 1, "q", 1);
    n += frame(buf + n, 1, 0, CHAT_WS_OP_CONT, 1, "!", 1);
    ck_assert_int_eq(run(buf, n, BIG, BIG, &r), 0);
    ck_assert_str_eq(r.log, "P:p|O:q|T:Hello!|");
}
END_TEST

static int one(int fin, int rsv, int op, int masked, const char *p, size_t len, rec *r)
{
    unsigned char buf[512];
    return run(buf, frame(buf, fin, rsv, op, masked, p, len), BIG, BIG, r);
}

START_TEST(test_protocol_errors)
{
    unsigned char buf[512];
    rec r;
    size_t n;
    int op;

    ck_assert_int_eq(one(1, 0, CHAT_WS_OP_TEXT, 0, "hi", 2, &r), 1002);
    ck_assert_int_eq(one(1, 1, CHAT_WS_OP_TEXT, 1, "hi", 2, &r), 1002);
    ck_assert_int_eq(one(1, 2, CHAT_WS_OP_TEXT, 1, "hi", 2, &r), 1002);
    ck_assert_int_eq(one(1, 4, CHAT_WS_OP_TEXT, 1, "hi", 2, &r), 1002);
    for (op = 3; op <= 7; op++) {
        ck_assert_int_eq(one(1, 0, op, 1, "", 0, &r), 1002);
    }
    for (op = 11; op <= 15; op++) {
        ck_assert_int_eq(one(1, 0, op, 1, "", 0, &r), 1002);
    }
    memset(buf, 'x', 200);
    ck_assert_int_eq(one(1, 0, CHAT_WS_OP_PING, 1, (char *)buf, 126, &r), 1002);
    ck_assert_int_eq(one(0, 0, CHAT_WS_OP_PING, 1, "x", 1, &r), 1002);
    ck_assert_int_eq(one(1, 0, CHAT_WS_OP_CONT, 1, "x", 1, &r), 1002);
    n = frame(buf, 0, 0, CHAT_WS_OP_TEXT, 1, "a", 1);
    n += frame(buf + n, 1, 0, CHAT_WS_OP_TEXT, 1, "b", 1);
    ck_assert_int_eq(run(buf, n, BIG, BIG, &r), 1002);
    /* 64-bit length with the top bit set: refused from the header */
    n = frame(buf, 1, 0, CHAT_WS_OP_BINARY, 1, NULL, 1);
    buf[1] = 0x80 | 127;
    memset(buf + 2, 0, 8);
    buf[2] = 0x80;
    memset(buf + 10, 0, 4);
    ck_assert_int_eq(run(buf, 14, BIG, BIG, &r), 1002);
}
END_TEST

START_TEST(test_limits)
{
    unsigned char buf[8192];
    char payload[4096];
    rec r;
    size_t n;

    memset(payload, 'y', sizeof(payload));
    n = frame(buf, 1, 0, CHAT_WS_OP_BINARY, 1, payload, 1024);
    ck_assert_int_eq(run(buf, n, 1024, 4096, &r), 0);
    n = frame(buf, 1, 0, CHAT_WS_OP_BINARY, 1, payload, 1025);
    ck_assert_int_eq(run(buf, 14, 1024, 4096, &r), 1009); /* header alone */
    n = frame(buf, 0, 0, CHAT_WS_OP_BINARY, 1, payload, 1000);
    n += frame(buf + n, 0, 0, CHAT_WS_OP_CONT, 1, payload, 1000);
    n += frame(buf + n, 1, 0, CHAT_WS_OP_CONT, 1, payload, 1000);
    ck_assert_int_eq(run(buf, n, 1024, 2999, &r), 1009);
    ck_assert_str_eq(r.log, "");
}
END_TEST

START_TEST(test_utf8_across_fragments)
{
    unsigned char buf[256];
    rec r;
    size_t n;

    /* € = e2 82 ac split over three frames: fine */
    n = frame(buf, 0, 0, CHAT_WS_OP_TEXT, 1, "\xe2", 1);
    n += frame(buf + n, 0, 0, CHAT_WS_OP_CONT, 1, "\x82", 1);
    n += frame(buf + n, 1, 0, CHAT_WS_OP_CONT, 1, "\xac", 1);
    ck_assert_int_eq(run(buf, n, BIG, BIG, &r), 0);
    ck_assert_str_eq(r.log, "T:\xe2\x82\xac|");
    /* bad byte in the second fragment: refused before any final frame */
    n = frame(buf, 0, 0, CHAT_WS_OP_TEXT, 1, "\xe2", 1);
    n += frame(buf + n, 0, 0, CHAT_WS_OP_CONT, 1, "A", 1);
    ck_assert_int_eq(run(buf, n, BIG, BIG, &r), 1007);
    /* ends mid-sequence */
    n = frame(buf, 1, 0, CHAT_WS_OP_TEXT, 1, "a\xe2\x82", 3);
    ck_assert_int_eq(run(buf, n, BIG, BIG, &r), 1007);
    /* binary is not checked */
    n = frame(buf, 1, 0, CHAT_WS_OP_BINARY, 1, "\xff\xfe", 2);
    ck_assert_int_eq(run(buf, n, BIG, BIG, &r), 0);
}
END_TEST

START_TEST(test_close_frames)
{
    static const int invalid[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535};
    static const int valid[] = {1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999};
    char p[8];
    rec r;
    size_t i;

    ck_assert_int_eq(one(1, 0, CHAT_WS_OP_CLOSE, 1, "", 0, &r), 1);
    ck_assert_str_eq(r.log, "C1005:|");
    ck_assert_int_eq(one(1, 0, CHAT_WS_OP_CLOSE, 1, "\x03", 1, &r), 1002);
    for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        p[0] = (char)(invalid[i] >> 8);
        p[1] = (char)invalid[i];
        ck_assert_int_eq(one(1, 0, CHAT_WS_OP_CLOSE, 1, p, 2, &r), 1002);
    }
    for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        char want[32];
        p[0] = (char)(valid[i] >> 8);
        p[1] = (char)valid[i];
        memcpy(p + 2, "bye", 3);
        ck_assert_int_eq(one(1, 0, CHAT_WS_OP_CLOSE, 1, p, 5, &r), 1);
        snprintf(want, sizeof(want), "C%d:bye|", valid[i]);
        ck_assert_str_eq(r.log, want);
    }
    p[0] = 0x03;
    p[1] = (char)0xe8;
    p[2] = (char)0xff;
    ck_assert_int_eq(one(1, 0, CHAT_WS_OP_CLOSE, 1, p, 3, &r), 1007);
}
END_TEST

START_TEST(test_close_code_rule)
{
    int c;

    for (c = 0; c < 65536; c++) {
        int want = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
        ck_assert_int_eq(chat_ws_close_code_valid(c), want);
    }
}
END_TEST

START_TEST(test_failure_is_sticky_and_callbacks_stop)
{
    unsigned char buf[64];
    chat_ws_decoder d;
    rec r;
    size_t n;

    memset(&r, 0, sizeof(r));
    chat_ws_decoder_init(&d, BIG, BIG, &cbs, &r);
    n = frame(buf, 1, 0, CHAT_WS_OP_TEXT, 0, "x", 1);
    ck_assert_int_eq(chat_ws_decoder_feed(&d, (const char *)buf, n), 1002);
    n = frame(buf, 1, 0, CHAT_WS_OP_TEXT, 1, "x", 1);
    ck_assert_int_eq(chat_ws_decoder_feed(&d, (const char *)buf, n), 1002);
    chat_ws_decoder_cleanup(&d);

    memset(&r, 0, sizeof(r));
    r.stop_on_message = 7;
    chat_ws_decoder_init(&d, BIG, BIG, &cbs, &r);
    n = frame(buf, 1, 0, CHAT_WS_OP_TEXT, 1, "a", 1);
    n += frame(buf + n, 1, 0, CHAT_WS_OP_TEXT, 1, "b", 1);
    ck_assert_int_eq(chat_ws_decoder_feed(&d, (const char *)buf, n), 7);
    ck_assert_str_eq(r.log, "T:a|");
    chat_ws_decoder_cleanup(&d);
}
END_TEST

START_TEST(test_header_encoding)
{
    unsigned char h[10];
    static const unsigned char h126[] = {0x81, 126, 0x00, 0x7e};
    static const unsigned char h65535[] = {0x82, 126, 0xff, 0xff};
    static const unsigned char h65536[] = {0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0};
    static const unsigned char h4g[] = {0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0};

    ck_assert_uint_eq(chat_ws_frame_header(h, 1, CHAT_WS_OP_TEXT, 0), 2);
    ck_assert(h[0] == 0x81 && h[1] == 0);
    ck_assert_uint_eq(chat_ws_frame_header(h, 1, CHAT_WS_OP_PING, 125), 2);
    ck_assert(h[0] == 0x89 && h[1] == 125);
    ck_assert_uint_eq(chat_ws_frame_header(h, 1, CHAT_WS_OP_TEXT, 126), 4);
    ck_assert(!memcmp(h, h126, 4));
    ck_assert_uint_eq(chat_ws_frame_header(h, 1, CHAT_WS_OP_BINARY, 65535), 4);
    ck_assert(!memcmp(h, h65535, 4));
    ck_assert_uint_eq(chat_ws_frame_header(h, 1, CHAT_WS_OP_TEXT, 65536), 10);
    ck_assert(!memcmp(h, h65536, 10));
    ck_assert_uint_eq(chat_ws_frame_header(h, 1, CHAT_WS_OP_BINARY, APR_UINT64_C(1) << 32), 10);
    ck_assert(!memcmp(h, h4g, 10));
    ck_assert_uint_eq(chat_ws_frame_header(h, 0, CHAT_WS_OP_TEXT, 1), 2);
    ck_assert(h[0] == 0x01);
}
END_TEST

Suite *suite_ws_frame(void)
{
    Suite *s = suite_create("ws_frame");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_sizes);
    tcase_add_test(tc, test_fragments_with_ping);
    tcase_add_test(tc, test_protocol_errors);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_utf8_across_fragments);
    tcase_add_test(tc, test_close_frames);
    tcase_add_test(tc, test_close_code_rule);
    tcase_add_test(tc, test_failure_is_sticky_and_callbacks_stop);
    tcase_add_test(tc, test_header_encoding);
    suite_add_tcase(s, tc);
    return s;
}
