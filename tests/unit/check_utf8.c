/* chat_utf8: RFC 3629 validity, fed whole, one byte at a time and split in
 * two at every point, refused at the first byte that proves a string bad;
 * and checked exhaustively against an independent code-point decoder. */
#include <stdio.h>
#include <string.h>

#include "chat_utf8.h"
#include "check_suites.h"

#define VALID     (-1) /* valid UTF-8 */
#define TRUNCATED (-2) /* every byte accepted, but the text ends mid-sequence */

static const struct {
    const char *bytes;
    size_t len;
    int bad_at; /* VALID, TRUNCATED or the index of the first impossible byte */
} cases[] = {
    /* valid */
    {"", 0, VALID},
    {"hello", 5, VALID},
    {"\x00", 1, VALID},             /* U+0000 */
    {"\x7f", 1, VALID},             /* U+007F */
    {"\xc2\x80", 2, VALID},         /* U+0080 */
    {"\xdf\xbf", 2, VALID},         /* U+07FF */
    {"\xe0\xa0\x80", 3, VALID},     /* U+0800 */
    {"\xed\x9f\xbf", 3, VALID},     /* U+D7FF */
    {"\xee\x80\x80", 3, VALID},     /* U+E000 */
    {"\xef\xb7\x90", 3, VALID},     /* U+FDD0 (noncharacters are valid UTF-8) */
    {"\xef\xbf\xbd", 3, VALID},     /* U+FFFD */
    {"\xef\xbf\xbe", 3, VALID},     /* U+FFFE */
    {"\xef\xbf\xbf", 3, VALID},     /* U+FFFF */
    {"\xf0\x90\x80\x80", 4, VALID}, /* U+10000 */
    {"\xf1\x80\x80\x80", 4, VALID}, /* U+40000 */
    {"\xf3\xbf\xbf\xbf", 4, VALID}, /* U+FFFFF */
    {"\xf4\x80\x80\x80", 4, VALID}, /* U+100000 */
    {"\xf4\x8f\xbf\xbf", 4, VALID}, /* U+10FFFF */
    {"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 11, VALID}, /* kosme */
    {"a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z", 11, VALID},
    /* lone and stray continuation bytes */
    {"\x80", 1, 0},
    {"\xbf", 1, 0},
    {"a\x80", 2, 1},
    {"\x80\xbf\x80", 3, 0},
    {"\xc2\x80\x80", 3, 2},
    /* overlong forms */
    {"\xc0\x80", 2, 0}, /* U+0000 in 2 bytes */
    {"\xc0\xaf", 2, 0}, /* '/' */
    {"\xc1\xbf", 2, 0}, /* U+007F */
    {"\xe0\x80\x80", 3, 1},
    {"\xe0\x80\xaf", 3, 1},
    {"\xe0\x9f\xbf", 3, 1}, /* U+07FF in 3 bytes */
    {"\xf0\x80\x80\x80", 4, 1},
    {"\xf0\x80\x80\xaf", 4, 1},
    {"\xf0\x8f\xbf\xbf", 4, 1}, /* U+FFFF in 4 bytes */
    {"\xf8\x80\x80\x80\xaf", 5, 0},
    {"\xfc\x80\x80\x80\x80\xaf", 6, 0},
    /* UTF-16 surrogates */
    {"\xed\xa0\x80", 3, 1},             /* U+D800 */
    {"\xed\xad\xbf", 3, 1},             /* U+DB7F */
    {"\xed\xae\x80", 3, 1},             /* U+DB80 */
    {"\xed\xaf\xbf", 3, 1},             /* U+DBFF */
    {"\xed\xb0\x80", 3, 1},             /* U+DC00 */
    {"\xed\xbe\x80", 3, 1},             /* U+DF80 */
    {"\xed\xbf\xbf", 3, 1},             /* U+DFFF */
    {"\xed\xa0\x80\xed\xb0\x80", 6, 1}, /* a surrogate pair (CESU-8) */
    {"ab\xed\xa0", 4, 3},
    /* above U+10FFFF */
    {"\xf4\x90\x80\x80", 4, 1}, /* U+110000 */
    {"\xf4\xbf\xbf\xbf", 4, 1},
    {"\xf5\x80\x80\x80", 4, 0},
    {"\xf7\xbf\xbf\xbf", 4, 0}, /* U+1FFFFF */
    {"\xf8\x88\x80\x80\x80", 5, 0},
    {"\xfc\x84\x80\x80\x80\x80", 6, 0},
    /* bytes that never appear */
    {"\xfe", 1, 0},
    {"\xff", 1, 0},
    {"\xfe\xfe\xff\xff", 4, 0},
    {"ok\xff", 3, 2},
    /* truncated sequences */
    {"\xc2", 1, TRUNCATED},
    {"\xdf", 1, TRUNCATED},
    {"\xe0", 1, TRUNCATED},
    {"\xe0\xa0", 2, TRUNCATED},
    {"\xe2\x82", 2, TRUNCATED},
    {"\xed\x9f", 2, TRUNCATED},
    {"\xf0", 1, TRUNCATED},
    {"\xf0\x9d\x84", 3, TRUNCATED},
    {"\xf4\x8f\xbf", 3, TRUNCATED},
    {"abc\xf0\x9f\x98", 6, TRUNCATED},
    /* a sequence cut short by another character */
    {"a\xc2"
     "b",
     3, 2},
    {"\xe2\x82"
     "A",
     3, 2},
    {"\xf0\x9d\x84"
     "A",
     4, 3},
    {"\xc2\xc2\x80", 3, 1},
    {"\xe2\xe2\x82\xac", 4, 1},
    {"\xf0\x9f\xf0\x9f\x98\x80", 6, 2},
    {"\xe2\x82\x00", 3, 2},
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

START_TEST(test_table_whole)
{
    size_t i;

    for (i = 0; i < NCASES; i++) {
        ck_assert_msg(chat_utf8_valid(cases[i].bytes, cases[i].len) == (cases[i].bad_at == VALID),
                      "case %zu whole", i);
    }
}
END_TEST

/* One byte per feed: feed fails exactly at bad_at, never before. */
START_TEST(test_table_bytewise)
{
    size_t i, k;

    for (i = 0; i < NCASES; i++) {
        chat_utf8_state st;
        int failed_at = -1;

        chat_utf8_reset(&st);
        for (k = 0; k < cases[i].len; k++) {
            if (!chat_utf8_feed(&st, (const unsigned char *)cases[i].bytes + k, 1)) {
                failed_at = (int)k;
                break;
            }
        }
        if (cases[i].bad_at >= 0) {
            ck_assert_msg(failed_at == cases[i].bad_at, "case %zu: refused at byte %d, want %d", i,
                          failed_at, cases[i].bad_at);
        }
        else {
            ck_assert_msg(failed_at == -1, "case %zu: refused at byte %d", i, failed_at);
            ck_assert_msg(chat_utf8_complete(&st) == (cases[i].bad_at == VALID),
                          "case %zu: complete() wrong", i);
        }
    }
}
END_TEST

/* Every split into two feeds gives the whole answer. */
START_TEST(test_table_split)
{
    size_t i, cut;

    for (i = 0; i < NCASES; i++) {
        for (cut = 0; cut <= cases[i].len; cut++) {
            const unsigned char *p = (const unsigned char *)cases[i].bytes;
            chat_utf8_state st;
            int ok;

            chat_utf8_reset(&st);
            ok = chat_utf8_feed(&st, p, cut);
            if (ok) {
                ok = chat_utf8_feed(&st, p + cut, cases[i].len - cut) && chat_utf8_complete(&st);
            }
            else {
                /* an error in the first part must lie in the first part */
                ck_assert_msg(cases[i].bad_at >= 0 && (size_t)cases[i].bad_at < cut,
                              "case %zu cut %zu: refused too early", i, cut);
            }
            ck_assert_msg(ok == (cases[i].bad_at == VALID), "case %zu cut at %zu", i, cut);
        }
    }
}
END_TEST

START_TEST(test_every_single_byte)
{
    int c;

    for (c = 0; c < 256; c++) {
        unsigned char b = (unsigned char)c;
        chat_utf8_state st;
        int feed_ok, want_feed = c < 0x80 || (c >= 0xC2 && c <= 0xF4);

        chat_utf8_reset(&st);
        feed_ok = chat_utf8_feed(&st, &b, 1);
        ck_assert_msg(feed_ok == want_feed, "byte %02x as a lead byte", c);
        ck_assert_msg(chat_utf8_valid((const char *)&b, 1) == (c < 0x80), "byte %02x alone", c);
        if (feed_ok) {
            ck_assert_msg(chat_utf8_complete(&st) == (c < 0x80), "byte %02x complete", c);
        }
    }
}
END_TEST

START_TEST(test_state_after_reset)
{
    chat_utf8_state st;

    chat_utf8_reset(&st);
    ck_assert(chat_utf8_complete(&st));
    ck_assert(chat_utf8_feed(&st, (const unsigned char *)"ok\xf0", 3));
    ck_assert(!chat_utf8_complete(&st));
    ck_assert(chat_utf8_feed(&st, (const unsigned char *)"\x9f", 1));
    ck_assert(!chat_utf8_complete(&st));
    ck_assert(chat_utf8_feed(&st, (const unsigned char *)"\x98", 1));
    ck_assert(!chat_utf8_complete(&st));
    ck_assert(chat_utf8_feed(&st, (const unsigned char *)"\x80", 1));
    ck_assert(chat_utf8_complete(&st));
    /* a lead byte owed continuations; reset forgets them */
    ck_assert(chat_utf8_feed(&st, (const unsigned char *)"\xe0", 1));
    chat_utf8_reset(&st);
    ck_assert(chat_utf8_complete(&st));
    ck_assert(chat_utf8_feed(&st, (const unsigned char *)"A", 1));
    /* the E0 range restriction must not leak into the next sequence */
    chat_utf8_reset(&st);
    ck_assert(chat_utf8_feed(&st, (const unsigned char *)"\xe0\xa0\x80\xe1\x80\x80", 6));
    ck_assert(chat_utf8_feed(&st, (const unsigned char *)"\xf4\x8f\xbf\xbf\xf1\x90\x80\x80", 8));
    ck_assert(chat_utf8_complete(&st));
    /* zero-length feeds change nothing */
    ck_assert(chat_utf8_feed(&st, (const unsigned char *)"", 0));
    ck_assert(chat_utf8_complete(&st));
}
END_TEST

/* ---- against an independent decoder -------------------------------------- */

/* RFC 3629 by code points: decode each sequence, then refuse overlong
 * forms, surrogates and anything above U+10FFFF. */
static int ref_valid(const unsigned char *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned int c = p[i], cp, k, len;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
        }
        else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
        }
        else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
        }
        else {
            return 0;
        }
        if (i + len > n) {
            return 0;
        }
        for (k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) {
            return 0;
        }
        if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
            return 0;
        }
        i += len;
    }
    return 1;
}

/* Every string of 1, 2 and 3 bytes (16.8 million). */
START_TEST(test_exhaustive_up_to_3_bytes)
{
    unsigned int a, b, c;
    unsigned char s[3];

    for (a = 0; a < 256; a++) {
        s[0] = (unsigned char)a;
        ck_assert_msg(chat_utf8_valid((char *)s, 1) == ref_valid(s, 1), "%02x", a);
        for (b = 0; b < 256; b++) {
            s[1] = (unsigned char)b;
            ck_assert_msg(chat_utf8_valid((char *)s, 2) == ref_valid(s, 2), "%02x %02x", a, b);
            for (c = 0; c < 256; c++) {
                s[2] = (unsigned char)c;
                if (chat_utf8_valid((char *)s, 3) != ref_valid(s, 3)) {
                    ck_abort_msg("%02x %02x %02x: got %d", a, b, c, chat_utf8_valid((char *)s, 3));
                }
            }
        }
    }
}
END_TEST

/* 4-byte strings: every first two bytes, the interesting last two. */
START_TEST(test_exhaustive_4_bytes)
{
    static const unsigned char tail[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f,
                                         0xa0, 0xbf, 0xc0, 0xc2, 0xe0, 0xf0, 0xff};
    unsigned int a, b, c, d;
    unsigned char s[4];

    for (a = 0; a < 256; a++) {
        for (b = 0; b < 256; b++) {
            for (c = 0; c < sizeof(tail); c++) {
                for (d = 0; d < sizeof(tail); d++) {
                    s[0] = (unsigned char)a;
                    s[1] = (unsigned char)b;
                    s[2] = tail[c];
                    s[3] = tail[d];
                    if (chat_utf8_valid((char *)s, 4) != ref_valid(s, 4)) {
                        ck_abort_msg("%02x %02x %02x %02x", s[0], s[1], s[2], s[3]);
                    }
                }
            }
        }
    }
    /* and every code point as a sequence */
    for (a = 0x10000; a <= 0x10FFFF; a++) {
        s[0] = (unsigned char)(0xF0 | (a >> 18));
        s[1] = (unsigned char)(0x80 | ((a >> 12) & 0x3F));
        s[2] = (unsigned char)(0x80 | ((a >> 6) & 0x3F));
        s[3] = (unsigned char)(0x80 | (a & 0x3F));
        if (!chat_utf8_valid((char *)s, 4)) {
            ck_abort_msg("U+%X refused", a);
        }
    }
}
END_TEST

/* Random mixes of good characters and junk, fed in random pieces. */
START_TEST(test_random_strings)
{
    static const char *pieces[] = {"a",
                                   "\xc3\xa9",
                                   "\xe2\x82\xac",
                                   "\xf0\x9f\x98\x80",
                                   "\xf4\x8f\xbf\xbf",
                                   "\xed\x9f\xbf",
                                   "\xee\x80\x80",
                                   "\x00"};
    unsigned int seed = 42;
    int round;

    for (round = 0; round < 50000; round++) {
        unsigned char s[64];
        size_t n = 0, at;
        chat_utf8_state st;
        int ok = 1;

        while (n < 40) {
            seed = seed * 1103515245u + 12345u;
            if ((seed >> 16) % 8 == 0) {
                s[n++] = (unsigned char)(seed >> 8); /* a random byte */
            }
            else {
                const char *pc = pieces[(seed >> 20) % 8];
                size_t pl = pc[0] ? strlen(pc) : 1;
                memcpy(s + n, pc, pl);
                n += pl;
            }
        }
        ck_assert_int_eq(chat_utf8_valid((char *)s, n), ref_valid(s, n));
        chat_utf8_reset(&st);
        for (at = 0; at < n && ok;) {
            size_t k;
            seed = seed * 1103515245u + 12345u;
            k = 1 + (seed >> 16) % 5;
            if (k > n - at) {
                k = n - at;
            }
            ok = chat_utf8_feed(&st, s + at, k);
            at += k;
        }
        ok = ok && chat_utf8_complete(&st);
        ck_assert_int_eq(ok, ref_valid(s, n));
    }
}
END_TEST

Suite *suite_utf8(void)
{
    Suite *s = suite_create("utf8");
    TCase *tc = tcase_create("table");
    TCase *tx = tcase_create("exhaustive");

    tcase_add_test(tc, test_table_whole);
    tcase_add_test(tc, test_table_bytewise);
    tcase_add_test(tc, test_table_split);
    tcase_add_test(tc, test_every_single_byte);
    tcase_add_test(tc, test_state_after_reset);
    suite_add_tcase(s, tc);

    tcase_set_timeout(tx, 300);
    tcase_add_test(tx, test_exhaustive_up_to_3_bytes);
    tcase_add_test(tx, test_exhaustive_4_bytes);
    tcase_add_test(tx, test_random_strings);
    suite_add_tcase(s, tx);
    return s;
}
