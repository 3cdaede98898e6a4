/* chat_wire: the flat records a live hand-over carries between processes.
 * Round trips, every truncation refused, and a seeded random driver: no
 * input may read past its end, crash or loop. */
#include <stdlib.h>
#include <string.h>

#include "chat_wire.h"
#include "check_suites.h"

static void put_sample(chat_wire *w)
{
    chat_wire_put_u32(w, 0xDEADBEEFu);
    chat_wire_put_u64(w, APR_UINT64_C(0x0123456789ABCDEF));
    chat_wire_put_i64(w, -42);
    chat_wire_put_f64(w, 2.5);
    chat_wire_put_str(w, "room-1");
    chat_wire_put_bytes(w, "a\0b", 3);
    chat_wire_put_str(w, NULL);
}

/* 0 when the whole sample reads back; -1 when the reader failed. */
static int get_sample(chat_wire_reader *r)
{
    char s[16];
    apr_size_t n;
    const char *b;

    if (chat_wire_get_u32(r) != 0xDEADBEEFu ||
        chat_wire_get_u64(r) != APR_UINT64_C(0x0123456789ABCDEF) || chat_wire_get_i64(r) != -42 ||
        chat_wire_get_f64(r) != 2.5 || chat_wire_get_str(r, s, sizeof(s)) < 0 ||
        strcmp(s, "room-1")) {
        return -1;
    }
    b = chat_wire_get_bytes(r, 16, &n);
    if (!b || n != 3 || memcmp(b, "a\0b", 3)) {
        return -1;
    }
    if (chat_wire_get_str(r, s, sizeof(s)) < 0 || s[0]) {
        return -1;
    }
    return r->failed ? -1 : 0;
}

START_TEST(test_round_trip)
{
    chat_wire w;
    chat_wire_reader r;

    chat_wire_init(&w);
    put_sample(&w);
    ck_assert(!w.failed);
    chat_wire_reader_init(&r, w.buf, w.len);
    ck_assert_int_eq(get_sample(&r), 0);
    ck_assert_uint_eq(r.left, 0);
    chat_wire_free(&w);
}
END_TEST

START_TEST(test_every_truncation_fails)
{
    chat_wire w;
    apr_size_t cut;

    chat_wire_init(&w);
    put_sample(&w);
    for (cut = 0; cut < w.len; cut++) {
        chat_wire_reader r;
        char *copy = malloc(cut ? cut : 1); /* exactly cut bytes: ASan sees any overread */
        memcpy(copy, w.buf, cut);
        chat_wire_reader_init(&r, copy, cut);
        ck_assert_msg(get_sample(&r) < 0, "a record cut at %zu read back whole", cut);
        ck_assert(r.failed);
        free(copy);
    }
    chat_wire_free(&w);
}
END_TEST

START_TEST(test_strings_checked)
{
    chat_wire w;
    chat_wire_reader r;
    char small[4];

    chat_wire_init(&w);
    chat_wire_put_str(&w, "toolong");
    chat_wire_put_bytes(&w, "a\0", 2);
    chat_wire_reader_init(&r, w.buf, w.len);
    ck_assert_int_eq(chat_wire_get_str(&r, small, sizeof(small)), -1); /* does not fit */
    ck_assert_str_eq(small, "");
    ck_assert(r.failed); /* and stays failed */
    chat_wire_reader_init(&r, w.buf + 4 + 7, w.len - 4 - 7);
    ck_assert_int_eq(chat_wire_get_str(&r, small, sizeof(small)), -1); /* holds a NUL */
    chat_wire_free(&w);
}
END_TEST

/* Seeded random records: whatever the bytes, every read stays inside them. */
START_TEST(test_random_records)
{
    unsigned int seed = 20261130;
    int round;

    for (round = 0; round < 20000; round++) {
        apr_size_t len = (apr_size_t)(rand_r(&seed) % 64), i;
        unsigned char *buf = malloc(len ? len : 1);
        chat_wire_reader r;
        char s[8];
        int k;

        for (i = 0; i < len; i++) {
            /* small values make plausible lengths */
            buf[i] = (unsigned char)(rand_r(&seed) % 4 ? rand_r(&seed) % 8 : rand_r(&seed));
        }
        chat_wire_reader_init(&r, buf, len);
        for (k = 0; k < 12 && !r.failed; k++) {
            apr_size_t n;
            switch (rand_r(&seed) % 5) {
            case 0:
                chat_wire_get_u32(&r);
                break;
            case 1:
                chat_wire_get_u64(&r);
                break;
            case 2:
                chat_wire_get_f64(&r);
                break;
            case 3:
                if (chat_wire_get_bytes(&r, 32, &n)) {
                    ck_assert_uint_le(n, 32);
                }
                break;
            default:
                chat_wire_get_str(&r, s, sizeof(s));
                ck_assert_uint_lt(strlen(s), sizeof(s));
            }
            ck_assert_uint_le(r.left, len);
        }
        free(buf);
    }
}
END_TEST

Suite *suite_wire(void)
{
    Suite *s = suite_create("wire");
    TCase *tc = tcase_create("records");

    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_every_truncation_fails);
    tcase_add_test(tc, test_strings_checked);
    tcase_add_test(tc, test_random_records);
    suite_add_tcase(s, tc);
    return s;
}
