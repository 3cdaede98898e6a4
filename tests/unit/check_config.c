/* chat_config_parse_bytes: sizes with K/M/G suffixes and clear refusals. */
#include "chat_util.h"
#include "check_suites.h"

START_TEST(test_sizes)
{
    apr_int64_t v = 0;

    ck_assert_ptr_null(chat_config_parse_bytes(test_pool, "1024", 0, 1LL << 40, &v));
    ck_assert_int_eq(v, 1024);
    ck_assert_ptr_null(chat_config_parse_bytes(test_pool, "64K", 0, 1LL << 40, &v));
    ck_assert_int_eq(v, 65536);
    ck_assert_ptr_null(chat_config_parse_bytes(test_pool, "1M", 0, 1LL << 40, &v));
    ck_assert_int_eq(v, 1048576);
    ck_assert_ptr_null(chat_config_parse_bytes(test_pool, "2g", 0, 1LL << 40, &v));
    ck_assert_int_eq(v, 2LL << 30);
}
END_TEST

START_TEST(test_refusals)
{
    static const char *bad[] = {
        "", "K", "-1", "1.5M", "12KB", "1T", "abc", " 1", "99999999999999999999", "100000000000G"};
    apr_int64_t v = 7;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(chat_config_parse_bytes(test_pool, bad[i], 0, 1LL << 40, &v) != NULL,
                      "'%s' accepted", bad[i]);
    }
    ck_assert_ptr_nonnull(chat_config_parse_bytes(test_pool, "100", 125, 1000, &v));
    ck_assert_ptr_nonnull(chat_config_parse_bytes(test_pool, "2K", 125, 1000, &v));
    ck_assert_int_eq(v, 7); /* untouched on error */
}
END_TEST

START_TEST(test_json_quote)
{
    ck_assert_str_eq(chat_json_quote(test_pool, "a\"b\\c"), "\"a\\\"b\\\\c\"");
    ck_assert_str_eq(chat_json_quote(test_pool, "l1\nl2\t\x01"), "\"l1\\nl2\\t\\u0001\"");
    ck_assert_str_eq(chat_json_quote(test_pool, "κόσμε</script>"), "\"κόσμε</script>\"");
}
END_TEST

Suite *suite_config(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_sizes);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_json_quote);
    suite_add_tcase(s, tc);
    return s;
}
