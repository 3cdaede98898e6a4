/* chat_utf8: RFC 3629 validity, fed whole and one byte at a time. */
#include <string.h>

#include "chat_utf8.h"
#include "check_suites.h"

static int bytewise(const char *s, size_t n)
{
    chat_utf8_state st;
    size_t i;

    chat_utf8_reset(&st);
    for (i = 0; i < n; i++) {
        if (!chat_utf8_feed(&st, (const unsigned char *)s + i, 1)) {
            return 0;
        }
    }
    return chat_utf8_complete(&st);
}

static const struct {
    const char *bytes;
    size_t len;
    int valid;
} cases[] = {
    {"", 0, 1},
    {"hello", 5, 1},
    {"\xc2\x80", 2, 1},         /* U+0080 */
    {"\xdf\xbf", 2, 1},         /* U+07FF */
    {"\xe0\xa0\x80", 3, 1},     /* U+0800 */
    {"\xef\xbf\xbf", 3, 1},     /* U+FFFF */
    {"\xed\x9f\xbf", 3, 1},     /* U+D7FF */
    {"\xee\x80\x80", 3, 1},     /* U+E000 */
    {"\xf0\x90\x80\x80", 4, 1}, /* U+10000 */
    {"\xf4\x8f\xbf\xbf", 4, 1}, /* U+10FFFF */
    {"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 11, 1},
    {"\x80", 1, 0}, /* lone continuation */
    {"\xbf", 1, 0},
    {"\xc0\x80", 2, 0},     /* overlong NUL */
    {"\xc1\xbf", 2, 0},     /* overlong */
    {"\xe0\x80\x80", 3, 0}, /* overlong 3-byte */
    {"\xe0\x9f\xbf", 3, 0},
    {"\xf0\x80\x80\x80", 4, 0}, /* overlong 4-byte */
    {"\xf0\x8f\xbf\xbf", 4, 0},
    {"\xed\xa0\x80", 3, 0},     /* U+D800 surrogate */
    {"\xed\xbf\xbf", 3, 0},     /* U+DFFF */
    {"\xf4\x90\x80\x80", 4, 0}, /* > U+10FFFF */
    {"\xf5\x80\x80\x80", 4, 0},
    {"\xfe", 1, 0},
    {"\xff", 1, 0},
    {"\xc2", 1, 0}, /* truncated */
    {"\xe2\x82", 2, 0},
    {"\xf0\x9d\x84", 3, 0},
    {"a\xc2"
     "b",
     3, 0}, /* lead byte then ASCII */
};

START_TEST(test_table)
{
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(chat_utf8_valid(cases[i].bytes, cases[i].len) == cases[i].valid,
                      "case %zu whole", i);
        ck_assert_msg(bytewise(cases[i].bytes, cases[i].len) == cases[i].valid, "case %zu bytewise",
                      i);
    }
}
END_TEST

START_TEST(test_fails_at_first_bad_byte)
{
    chat_utf8_state st;

    chat_utf8_reset(&st);
    ck_assert(chat_utf8_feed(&st, (const unsigned char *)"ok\xe2\x82", 4));
    ck_assert(!chat_utf8_complete(&st));
    ck_assert(!chat_utf8_feed(&st, (const unsigned char *)"A", 1));
}
END_TEST

Suite *suite_utf8(void)
{
    Suite *s = suite_create("utf8");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_table);
    tcase_add_test(tc, test_fails_at_first_bad_byte);
    suite_add_tcase(s, tc);
    return s;
}
