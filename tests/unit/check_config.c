/* chat_config_parse_bytes: sizes with K/M/G suffixes and clear refusals;
 * chat_json_quote. */
#include "chat_util.h"
#include "check_suites.h"

#define TB (APR_INT64_C(1) << 40)

static void accepts(const char *arg, apr_int64_t min, apr_int64_t max, apr_int64_t want)
{
    apr_int64_t v = -12345;
    const char *err = chat_config_parse_bytes(test_pool, arg, min, max, &v);

    ck_assert_msg(err == NULL, "'%s' refused: %s", arg, err ? err : "");
    ck_assert_msg(v == want, "'%s' gave %" APR_INT64_T_FMT ", want %" APR_INT64_T_FMT, arg, v,
                  want);
}

static void refuses(const char *arg, apr_int64_t min, apr_int64_t max)
{
    apr_int64_t v = -12345;
    const char *err = chat_config_parse_bytes(test_pool, arg, min, max, &v);

    ck_assert_msg(err != NULL, "'%s' accepted as %" APR_INT64_T_FMT, arg, v);
    ck_assert_msg(*err != '\0', "'%s': empty error message", arg);
    ck_assert_msg(v == -12345, "'%s': output written on error", arg);
}

START_TEST(test_sizes)
{
    accepts("1024", 0, TB, 1024);
    accepts("0", 0, TB, 0);
    accepts("007", 0, TB, 7);
    accepts("64K", 0, TB, 65536);
    accepts("64k", 0, TB, 65536);
    accepts("1M", 0, TB, 1048576);
    accepts("3m", 0, TB, 3 * 1048576);
    accepts("2g", 0, TB, APR_INT64_C(2) << 30);
    accepts("1G", 0, TB, APR_INT64_C(1) << 30);
    accepts("0K", 0, TB, 0);
}
END_TEST

START_TEST(test_bad_syntax)
{
    static const char *bad[] = {"",    "K",    "M",   "-1",  "-1K", "+1",   "1.5M", "12KB",
                                "1T",  "1B",   "1KK", "abc", " 1",  "1 ",   "1 K",  "0x10",
                                "1e3", "10\t", "k1",  "G",   "1,0", "1_000"};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        refuses(bad[i], 0, TB);
    }
}
END_TEST

START_TEST(test_range)
{
    /* bounds are inclusive */
    accepts("125", 125, 1000, 125);
    accepts("1000", 125, 1000, 1000);
    refuses("124", 125, 1000);
    refuses("1001", 125, 1000);
    refuses("0", 125, 1000);
    refuses("1K", 125, 1000);
    /* the suffix counts when checking the range */
    accepts("1G", 125, APR_INT64_C(1) << 30, APR_INT64_C(1) << 30);
    refuses("1025M", 125, APR_INT64_C(1) << 30);
    refuses("1073741825", 125, APR_INT64_C(1) << 30);
    accepts("64K", 65536, APR_INT64_C(1) << 30, 65536);
    refuses("63K", 65536, APR_INT64_C(1) << 30);
}
END_TEST

START_TEST(test_overflow)
{
    /* far beyond any limit: refused, not wrapped */
    refuses("99999999999999999999", 0, TB);
    refuses("99999999999999999999K", 0, TB);
    refuses("100000000000G", 0, TB);
    refuses("9007199254740993G", 0, TB);       /* v * 2^30 wraps around 64 bits */
    refuses("17179869184G", 0, APR_INT64_MAX); /* 2^64: wraps to 0 */
    refuses("8589934592G", 0, APR_INT64_MAX);  /* 2^63 */
    accepts("8589934591G", 0, APR_INT64_MAX, APR_INT64_C(8589934591) << 30);
    accepts("9223372036854775807", 0, APR_INT64_MAX, APR_INT64_MAX);
}
END_TEST

/* Numbers that do not fit in 64 bits must be refused even when the caller's
 * maximum is the largest 64-bit value (no saturation to INT64_MAX). */
START_TEST(test_overflow_unbounded)
{
    refuses("9223372036854775808", 0, APR_INT64_MAX);
    refuses("99999999999999999999", 0, APR_INT64_MAX);
}
END_TEST

START_TEST(test_json_quote)
{
    ck_assert_str_eq(chat_json_quote(test_pool, ""), "\"\"");
    ck_assert_str_eq(chat_json_quote(test_pool, "a\"b\\c"), "\"a\\\"b\\\\c\"");
    ck_assert_str_eq(chat_json_quote(test_pool, "l1\nl2\t\x01\r"), "\"l1\\nl2\\t\\u0001\\r\"");
    ck_assert_str_eq(chat_json_quote(test_pool, "\x1f"), "\"\\u001f\"");
    ck_assert_str_eq(chat_json_quote(test_pool, "κόσμε</script>"), "\"κόσμε</script>\"");
}
END_TEST

Suite *suite_config(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("parse_bytes");
    TCase *tj = tcase_create("json");

    tcase_add_test(tc, test_sizes);
    tcase_add_test(tc, test_bad_syntax);
    tcase_add_test(tc, test_range);
    tcase_add_test(tc, test_overflow);
    tcase_add_test(tc, test_overflow_unbounded);
    suite_add_tcase(s, tc);
    tcase_add_test(tj, test_json_quote);
    suite_add_tcase(s, tj);
    return s;
}
