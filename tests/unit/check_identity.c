/* User names and HMAC tokens. */
#include <string.h>

#include <apr_strings.h>
#include <apr_time.h>

#include "chat_identity.h"
#include "check_suites.h"

#define SECRET "0123456789abcdef0123"

START_TEST(test_usernames)
{
    static const char *good[] = {"alice", "Bob Smith", "张三", "a", "x_y-z.1@desk"};
    static const char *bad[] = {"",      " alice",    "alice ", "a\tb", "a\nb",
                                "a\x7f", "\xc2\x85x", "\xff",   NULL};
    char longname[70];
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ck_assert_msg(chat_username_valid(good[i]), "'%s' refused", good[i]);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(!chat_username_valid(bad[i]), "bad %zu accepted", i);
    }
    memset(longname, 'n', 64);
    longname[64] = '\0';
    ck_assert(chat_username_valid(longname));
    longname[64] = 'n';
    longname[65] = '\0';
    ck_assert(!chat_username_valid(longname));
    /* 64 characters of 3 bytes each are fine: characters, not bytes */
    {
        char cjk[64 * 3 + 1] = "";
        for (i = 0; i < 64; i++) {
            strcat(cjk, "张");
        }
        ck_assert(chat_username_valid(cjk));
    }
}
END_TEST

START_TEST(test_tokens)
{
    apr_time_t now = apr_time_from_sec(1700000000);
    const char *why = NULL;
    const char *t = chat_token_mint(test_pool, "alice", now + apr_time_from_sec(60), SECRET);
    char *tampered;

    ck_assert_str_eq(chat_token_verify(test_pool, t, SECRET, now, &why), "alice");
    ck_assert_ptr_null(chat_token_verify(test_pool, t, SECRET "x", now, &why));
    ck_assert_str_eq(why, "token signature does not match");
    ck_assert_ptr_null(chat_token_verify(test_pool, t, SECRET, now + apr_time_from_sec(61), &why));
    ck_assert_str_eq(why, "token expired");
    tampered = apr_pstrdup(test_pool, t);
    tampered[2] = tampered[2] == 'A' ? 'B' : 'A';
    ck_assert_ptr_null(chat_token_verify(test_pool, tampered, SECRET, now, &why));
    ck_assert_ptr_null(chat_token_verify(test_pool, "nodot", SECRET, now, &why));
    ck_assert_ptr_null(chat_token_verify(test_pool, "a.b.c", SECRET, now, &why));
    ck_assert_ptr_null(chat_token_verify(test_pool, NULL, SECRET, now, &why));
}
END_TEST

START_TEST(test_query_param)
{
    ck_assert_str_eq(chat_query_param(test_pool, "a=1&username=al%20ice&b=2", "username"),
                     "al ice");
    ck_assert_str_eq(chat_query_param(test_pool, "username=bob+x", "username"), "bob x");
    ck_assert_ptr_null(chat_query_param(test_pool, "xusername=a", "username"));
    ck_assert_ptr_null(chat_query_param(test_pool, NULL, "username"));
    ck_assert_str_eq(chat_query_param(test_pool, "since=12&epoch=ab", "epoch"), "ab");
}
END_TEST

Suite *suite_identity(void)
{
    Suite *s = suite_create("identity");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_usernames);
    tcase_add_test(tc, test_tokens);
    tcase_add_test(tc, test_query_param);
    suite_add_tcase(s, tc);
    return s;
}
