/* lib/source/chat_source: templates, paths, field maps, conversions and
 * filters over documents of three shapes, and a seeded random driver over
 * the template and path parsers (no input crashes them; what they accept
 * expands and walks). */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "chat_source.h"
#include "check_suites.h"

static chat_source *source(const char *rows, const char *const *fields)
{
    chat_source *s = chat_source_make(test_pool, "t", "http://h/x");
    int i;

    s->rows_spec = rows;
    ck_assert_ptr_null(chat_source_parse_path(test_pool, rows, &s->rows));
    for (i = 0; fields && fields[i]; i++) {
        ck_assert_ptr_null(
            chat_source_parse_field(test_pool, fields[i], apr_array_push(s->fields)));
    }
    return s;
}

static const char *rows_text(json_object *rows)
{
    return apr_pstrdup(test_pool, json_object_to_json_string_ext(rows, JSON_C_TO_STRING_PLAIN));
}

START_TEST(test_templates)
{
    apr_table_t *v = apr_table_make(test_pool, 4);

    ck_assert_ptr_null(chat_source_check_template(test_pool, "https://h/q?c={code}&d={date}"));
    ck_assert_ptr_nonnull(strstr(chat_source_check_template(test_pool, "http://h/{cod}"), "{cod}"));
    ck_assert_ptr_nonnull(chat_source_check_template(test_pool, "http://h/{code"));
    ck_assert_ptr_nonnull(chat_source_check_template(test_pool, "http://h/code}"));
    ck_assert_ptr_nonnull(chat_source_check_template(test_pool, "http://h/{{code}}"));
    ck_assert_ptr_nonnull(chat_source_check_template(test_pool, "ftp://h/"));
    ck_assert_ptr_nonnull(chat_source_check_template(test_pool, "http://h/a b"));
    apr_table_set(v, "code", "rb");
    apr_table_set(v, "query", "螺纹 & co");
    ck_assert_str_eq(chat_source_expand(test_pool, "http://h/{code}?q={query}&e={exchange}", v),
                     "http://h/rb?q=%E8%9E%BA%E7%BA%B9%20%26%20co&e=");
}
END_TEST

START_TEST(test_paths_and_fields)
{
    apr_array_header_t *path;
    chat_source_field f;

    ck_assert_ptr_null(chat_source_parse_path(test_pool, "data.list.0", &path));
    ck_assert_int_eq(path->nelts, 3);
    ck_assert_ptr_null(chat_source_parse_path(test_pool, "", &path));
    ck_assert_int_eq(path->nelts, 0);
    ck_assert_ptr_nonnull(chat_source_parse_path(test_pool, "a..b", &path));
    ck_assert_ptr_nonnull(chat_source_parse_path(test_pool, ".a", &path));
    ck_assert_ptr_nonnull(chat_source_parse_path(test_pool, "a[0]", &path));
    ck_assert_ptr_null(chat_source_parse_field(test_pool, "close=data.c", &f));
    ck_assert_int_eq(f.conv, CHAT_SOURCE_AUTO);
    ck_assert_ptr_null(chat_source_parse_field(test_pool, "time=t:unix-ms", &f));
    ck_assert_int_eq(f.conv, CHAT_SOURCE_UNIX_MS);
    ck_assert_ptr_null(chat_source_parse_field(test_pool, "time=d:YYYY-MM-DD HH:mm", &f));
    ck_assert_int_eq(f.conv, CHAT_SOURCE_DATE);
    ck_assert_ptr_nonnull(
        strstr(chat_source_parse_field(test_pool, "time=t:unix-us", &f), "unix-us"));
    ck_assert_ptr_nonnull(chat_source_parse_field(test_pool, "close", &f));
    ck_assert_ptr_nonnull(chat_source_parse_field(test_pool, "close=", &f));
    ck_assert_ptr_nonnull(chat_source_parse_field(test_pool, "c-lose=x", &f));
    ck_assert_ptr_nonnull(chat_source_parse_field(test_pool, "close=a..b", &f));
}
END_TEST

/* The same two bars in three shapes map to the same rows. */
START_TEST(test_three_shapes)
{
    static const char *const a[] = {"time=t:unix-ms", "close=c", "code=$key", NULL};
    static const char *const b[] = {"time=date:YYYY-MM-DD", "close=px.close:number", NULL};
    static const char *const c[] = {"time=0:YYYYMMDD", "close=1", NULL};
    const char *err = NULL, *want = "[{\"time\":\"2026-11-20\",\"close\":3520.5},"
                                    "{\"time\":\"2026-11-23\",\"close\":3531}]";
    json_object *rows;
    const char *doc_b = "{\"result\":{\"bars\":[{\"date\":\"2026-11-20\",\"px\":{\"close\":"
                        "\"3,520.5\"}},{\"date\":\"2026-11-23\",\"px\":{\"close\":\"3531\"}}]}}";
    const char *doc_c = "{\"k\":[[\"20261120\",\"3520.5\"],[\"20261123\",3531]]}";

    /* 2026-11-20 00:00 Beijing = 2026-11-19 16:00 UTC */
    rows = chat_source_rows(test_pool, source("data", a),
                            "{\"data\":[{\"t\":1795104000000,\"c\":3520.5},"
                            "{\"t\":1795363200000,\"c\":\"3531\"}]}",
                            0, &err);
    ck_assert_ptr_nonnull(rows);
    ck_assert_str_eq(rows_text(rows), "[{\"time\":\"2026-11-20\",\"close\":3520.5,\"code\":\"0\"},"
                                      "{\"time\":\"2026-11-23\",\"close\":3531,\"code\":\"1\"}]");
    json_object_put(rows);
    rows = chat_source_rows(test_pool, source("result.bars", b), doc_b, 0, &err);
    ck_assert_str_eq(rows_text(rows), want);
    json_object_put(rows);
    rows = chat_source_rows(test_pool, source("k", c), doc_c, 0, &err);
    ck_assert_str_eq(rows_text(rows), want);
    json_object_put(rows);
    /* intraday times keep the minute */
    rows = chat_source_rows(test_pool, source("", a), "[{\"t\":1795136400000,\"c\":1}]", 0, &err);
    ck_assert_str_eq(
        json_object_get_string(json_object_object_get(json_object_array_get_idx(rows, 0), "time")),
        "2026-11-20 09:00");
    json_object_put(rows);
}
END_TEST

START_TEST(test_object_of_rows_and_filters)
{
    static const char *const f[] = {"code=$key", "chg=pct", "oi=oi", "ex=ex", NULL};
    chat_source *s = source("", f);
    const char *err = NULL;
    json_object *rows;

    ck_assert_ptr_null(
        chat_source_parse_filter(test_pool, "oi", ">", "1000", apr_array_push(s->filters)));
    ck_assert_ptr_null(
        chat_source_parse_filter(test_pool, "ex", "in", "SHFE,INE", apr_array_push(s->filters)));
    rows = chat_source_rows(test_pool, s,
                            "{\"rb\":{\"pct\":\"1.2%\",\"oi\":5000,\"ex\":\"SHFE\"},"
                            "\"sc\":{\"pct\":-2,\"oi\":900,\"ex\":\"INE\"},"
                            "\"m\":{\"pct\":0.5,\"oi\":8000,\"ex\":\"DCE\"},"
                            "\"lu\":{\"pct\":0.1,\"oi\":3000,\"ex\":\"INE\"}}",
                            0, &err);
    ck_assert_str_eq(rows_text(rows), "[{\"code\":\"rb\",\"chg\":1.2,\"oi\":5000,\"ex\":\"SHFE\"},"
                                      "{\"code\":\"lu\",\"chg\":0.1,\"oi\":3000,\"ex\":\"INE\"}]");
    json_object_put(rows);
    ck_assert_ptr_nonnull(
        chat_source_parse_filter(test_pool, "oi", ">", "many", apr_array_push(s->filters)));
    ck_assert_ptr_nonnull(
        chat_source_parse_filter(test_pool, "oi", "~", "1", apr_array_push(s->filters)));
    /* a bare array is the rows even where a path was given */
    rows = chat_source_rows(test_pool, source("data", NULL), "[{\"a\":1},{\"a\":2}]", 0, &err);
    ck_assert_int_eq((int)json_object_array_length(rows), 2);
    json_object_put(rows);
    /* a single object is one row */
    rows = chat_source_rows(test_pool, source("", NULL), "{\"code\":\"rb\",\"price\":1}", 0, &err);
    ck_assert_int_eq((int)json_object_array_length(rows), 1);
    json_object_put(rows);
}
END_TEST

START_TEST(test_errors_are_sentences)
{
    static const char *const f[] = {"close=c:number", NULL};
    const char *err = NULL;

    ck_assert_ptr_null(chat_source_rows(test_pool, source("data", f), "<html>", 0, &err));
    ck_assert_str_eq(err, "the data source 't' did not answer JSON");
    ck_assert_ptr_null(chat_source_rows(test_pool, source("data", f), "{\"x\":1}", 0, &err));
    ck_assert_str_eq(err, "the data source 't' sent no rows at 'data'");
    ck_assert_ptr_null(
        chat_source_rows(test_pool, source("data", f), "{\"data\":[{\"d\":1}]}", 0, &err));
    ck_assert_str_eq(err, "the data source 't' sent a row (1) without 'c' (field close)");
    ck_assert_ptr_null(
        chat_source_rows(test_pool, source("data", f), "{\"data\":[{\"c\":\"n/a\"}]}", 0, &err));
    ck_assert_ptr_nonnull(strstr(err, "'n/a' in row 1, not a number"));
}
END_TEST

/* Seeded random templates and paths: the parsers never crash, and what they
 * accept expands without a brace left / walks any document. */
START_TEST(test_random_parsers)
{
    static const char alphabet[] = "{}.:$ab0_/?=&%codeatxqury[]\" \x01\xe8";
    unsigned int seed = 20261130;
    int round;

    for (round = 0; round < 20000; round++) {
        char buf[40];
        int len = (int)(rand_r(&seed) % 32), i;
        const char *err;
        apr_array_header_t *path;
        chat_source_field f;
        apr_pool_t *p;

        apr_pool_create(&p, test_pool);
        for (i = 0; i < len; i++) {
            buf[i] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
        }
        buf[len] = '\0';
        err = chat_source_check_template(p, apr_pstrcat(p, "http://h/", buf, NULL));
        if (!err) {
            const char *out = chat_source_expand(p, apr_pstrcat(p, "http://h/", buf, NULL), NULL);
            ck_assert_ptr_null(strchr(out, '{'));
            ck_assert_ptr_null(strchr(out, '}'));
        }
        if (!chat_source_parse_path(p, buf, &path)) {
            chat_source *s = chat_source_make(p, "r", "http://h/");
            const char *e2 = NULL;
            json_object *rows;
            s->rows = path;
            rows = chat_source_rows(p, s, "{\"a\":[{\"b\":1}],\"0\":{\"c\":2}}", 0, &e2);
            ck_assert(rows != NULL || e2 != NULL);
            json_object_put(rows);
        }
        if (!chat_source_parse_field(p, buf, &f)) {
            ck_assert_ptr_nonnull(f.name);
            ck_assert_int_gt(f.path->nelts, 0);
        }
        apr_pool_destroy(p);
    }
}
END_TEST

Suite *suite_source(void)
{
    Suite *s = suite_create("source");
    TCase *tc = tcase_create("source");

    tcase_add_test(tc, test_templates);
    tcase_add_test(tc, test_paths_and_fields);
    tcase_add_test(tc, test_three_shapes);
    tcase_add_test(tc, test_object_of_rows_and_filters);
    tcase_add_test(tc, test_errors_are_sentences);
    tcase_add_test(tc, test_random_parsers);
    suite_add_tcase(s, tc);
    return s;
}
