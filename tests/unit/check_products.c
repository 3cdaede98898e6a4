/* The product table (data/products.tsv as shipped) and name resolution:
 * every product of the six exchanges by name and by code, the longest alias
 * wins, contracts pass through, ambiguous aliases ask back; the parser
 * refuses bad rows by line and survives a seeded random driver. */
#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "chat_ai_market.h"
#include "chat_products.h"
#include "check_suites.h"

static chat_products *shipped(void)
{
    static chat_products *t;
    const char *err;

    if (!t) {
        err = chat_products_load(test_pool, CHAT_SRCDIR "/data/products.tsv", &t);
        ck_assert_msg(!err, "%s", err ? err : "");
    }
    return t;
}

static const char *code_of(const char *name)
{
    chat_product_match m;
    chat_products_resolve(shipped(), name, &m);
    ck_assert_msg(m.status == CHAT_PRODUCT_FOUND, "'%s' does not resolve (status %d)", name,
                  m.status);
    return m.code;
}

/* The products issue 14 names, per exchange: none may be missing. */
START_TEST(every_listed_product)
{
    static const char *const listed[] = {
        "SHFE cu al zn pb ni sn au ag rb wr hc ss fu bu ru sp ao br ad op",
        "INE sc lu nr bc ec",
        "DCE c cs a b m y p fb bb jd rr l v pp eg eb pg j jm i lh lg bz",
        "CZCE SR CF CY AP CJ PK WH PM RI LR JR RS OI RM ZC FG SA MA TA PF PX SF SM UR SH PR PL",
        "GFEX si lc ps pt pd",
        "CFFEX IF IH IC IM T TF TS TL",
    };
    apr_size_t i;
    int n = 0;

    for (i = 0; i < sizeof(listed) / sizeof(listed[0]); i++) {
        char *copy = apr_pstrdup(test_pool, listed[i]), *last;
        const char *ex = apr_strtok(copy, " ", &last), *code;
        while ((code = apr_strtok(NULL, " ", &last))) {
            chat_product_match m;
            chat_products_resolve(shipped(), code, &m);
            ck_assert_msg(m.status == CHAT_PRODUCT_FOUND, "%s %s is not in the table", ex, code);
            ck_assert_str_eq(m.code, code);
            ck_assert_str_eq(m.product->exchange, ex);
            n++;
        }
    }
    ck_assert_int_eq(chat_products_count(shipped()), n); /* and nothing unlisted */
}
END_TEST

/* Night sessions by end time, as a broker's table of night-trading products
 * lists them (see the file's header): every other product has none. */
START_TEST(night_sessions)
{
    static const struct {
        const char *night, *codes;
    } table[] = {
        {"21:00-02:30", "au ag sc"},
        {"21:00-01:00", "cu al zn pb sn ni ss ao ad bc"},
        {"21:00-23:00", "ru rb hc bu fu sp br op nr lu p j m y a b jm i l v pp eg c cs rr eb pg "
                        "bz SR CF CY TA MA RM ZC FG OI SA PF PX SH PR PL"},
    };
    apr_size_t i;
    int n = 0, k, with_night = 0;

    for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        char *copy = apr_pstrdup(test_pool, table[i].codes), *last;
        const char *code;
        for (code = apr_strtok(copy, " ", &last); code; code = apr_strtok(NULL, " ", &last)) {
            chat_product_match m;
            chat_products_resolve(shipped(), code, &m);
            ck_assert_int_eq(m.status, CHAT_PRODUCT_FOUND);
            ck_assert_msg(m.product->night && !strcmp(m.product->night, table[i].night),
                          "%s: night %s, not %s", code, m.product->night ? m.product->night : "-",
                          table[i].night);
            n++;
        }
    }
    for (k = 0; k < chat_products_count(shipped()); k++) {
        with_night += chat_products_at(shipped(), k)->night != NULL;
    }
    ck_assert_int_eq(with_night, n);
}
END_TEST

/* Every row: its name, its code in any case, and each alias that is not
 * shared resolve to it; a shared alias asks back with it among the
 * candidates. */
START_TEST(every_row_by_name_and_code)
{
    int i, j, k;

    for (i = 0; i < chat_products_count(shipped()); i++) {
        const chat_product *pr = chat_products_at(shipped(), i);
        char *upper = apr_pstrdup(test_pool, pr->code), *lower = apr_pstrdup(test_pool, pr->code);
        for (k = 0; upper[k]; k++) {
            upper[k] = (char)apr_toupper(upper[k]);
            lower[k] = (char)apr_tolower(lower[k]);
        }
        ck_assert_str_eq(code_of(pr->name), pr->code);
        ck_assert_str_eq(code_of(pr->code), pr->code);
        ck_assert_str_eq(code_of(upper), pr->code);
        ck_assert_str_eq(code_of(lower), pr->code);
        ck_assert_msg(pr->multiplier > 0 && pr->day && *pr->unit && *pr->quote, "%s", pr->code);
        for (j = 1; j < pr->names->nelts; j++) {
            const char *alias = APR_ARRAY_IDX(pr->names, j, const char *);
            chat_product_match m;
            chat_products_resolve(shipped(), alias, &m);
            if (m.status == CHAT_PRODUCT_AMBIGUOUS) {
                int seen = 0;
                for (k = 0; k < m.ncandidates; k++) {
                    seen |= m.candidates[k] == pr;
                }
                ck_assert_msg(seen, "%s: '%s' asks back without it", pr->code, alias);
            }
            else {
                ck_assert_msg(m.status == CHAT_PRODUCT_FOUND && m.product == pr, "%s: '%s'",
                              pr->code, alias);
            }
        }
    }
}
END_TEST

START_TEST(longest_alias_wins)
{
    static const struct {
        const char *text, *code;
    } rows[] = {
        {"低硫燃料油", "lu"}, {"玉米淀粉", "cs"}, {"燃料油", "fu"},
        {"玉米", "c"},        {"低硫", "lu"},     {"螺纹", "rb"},
        {"沪铜", "cu"},       {"原油", "sc"},     {"胶", "ru"},
        {"20号胶", "nr"},     {"合成胶", "br"},   {"氧化铝", "ao"},
        {"铝", "al"},         {"pta", "TA"},      {" 螺纹钢 ", "rb"},
        {"螺纹钢期货", "rb"}, /* no exact name: the longest inside */
    };
    apr_size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        ck_assert_str_eq(code_of(rows[i].text), rows[i].code);
    }
}
END_TEST

START_TEST(contracts_pass_through)
{
    static const struct {
        const char *in, *product;
    } rows[] = {{"rb2505", "rb"}, {"SC2506", "sc"}, {"SR505", "SR"}, {"IF2506", "IF"},
                {"XX", NULL},     {"zz2601", NULL}, {"rb888", "rb"}};
    chat_product_match m;
    apr_size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        chat_products_resolve(shipped(), rows[i].in, &m);
        ck_assert_int_eq(m.status, CHAT_PRODUCT_PASS);
        ck_assert_str_eq(m.code, rows[i].in);
        if (rows[i].product) {
            ck_assert_str_eq(m.product->code, rows[i].product);
        }
        else {
            ck_assert_ptr_null(m.product);
        }
    }
    chat_products_resolve(shipped(), "比特币", &m);
    ck_assert_int_eq(m.status, CHAT_PRODUCT_UNKNOWN);
    chat_products_resolve(shipped(), "abc123", &m);
    ck_assert_int_eq(m.status, CHAT_PRODUCT_UNKNOWN);
    chat_products_resolve(shipped(), "rb25051", &m);
    ck_assert_int_eq(m.status, CHAT_PRODUCT_UNKNOWN);
    chat_products_resolve(shipped(), "", &m);
    ck_assert_int_eq(m.status, CHAT_PRODUCT_UNKNOWN);
    chat_products_resolve(NULL, "rb2505", &m); /* no table: codes still pass */
    ck_assert_int_eq(m.status, CHAT_PRODUCT_PASS);
    chat_products_resolve(shipped(), " rb2505\t", &m); /* blanks around: the code alone */
    ck_assert_str_eq(m.code, "rb2505");
}
END_TEST

START_TEST(ambiguous_asks_back)
{
    static const struct {
        const char *alias;
        int n;
    } rows[] = {{"大豆", 2}, {"小麦", 2}, {"稻谷", 3}, {"股指", 4}, {"国债", 4}};
    chat_product_match m;
    const char *q;
    apr_size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        chat_products_resolve(shipped(), rows[i].alias, &m);
        ck_assert_int_eq(m.status, CHAT_PRODUCT_AMBIGUOUS);
        ck_assert_int_eq(m.ncandidates, rows[i].n);
        ck_assert_ptr_null(m.code);
    }
    chat_products_resolve(shipped(), "大豆", &m);
    q = chat_products_question(test_pool, &m);
    ck_assert_str_eq(q, "'大豆' could be 黄大豆1号 (a, DCE), 黄大豆2号 (b, DCE). Which one is "
                        "meant?");
    /* in free text too: 今天大豆怎么样 names no one product */
    chat_products_find(shipped(), "今天大豆怎么样", &m);
    ck_assert_int_eq(m.status, CHAT_PRODUCT_AMBIGUOUS);
}
END_TEST

START_TEST(find_in_text)
{
    chat_product_match m;

    chat_products_find(shipped(), "低硫燃料油最近10天最高价", &m);
    ck_assert_str_eq(m.code, "lu");
    ck_assert_str_eq(m.matched, "低硫燃料油");
    chat_products_find(shipped(), "玉米淀粉和什么有关", &m);
    ck_assert_str_eq(m.code, "cs");
    chat_products_find(shipped(), "看看 rb2505 的走势", &m);
    ck_assert_int_eq(m.status, CHAT_PRODUCT_PASS);
    ck_assert_str_eq(m.code, "rb2505");
    chat_products_find(shipped(), "IF 今天涨了吗", &m);
    ck_assert_str_eq(m.code, "IF");
    chat_products_find(shipped(), "what if it rains", &m); /* English "if" */
    ck_assert_int_eq(m.status, CHAT_PRODUCT_UNKNOWN);
    chat_products_find(shipped(), "SR505涨了", &m);
    ck_assert_str_eq(m.code, "SR505");
}
END_TEST

/* The market tools' entry points read the table in force. */
START_TEST(market_names_use_the_table)
{
    const char *name = NULL;

    chat_products_use(shipped());
    ck_assert_str_eq(chat_ai_market_code("低硫燃料油"), "lu");
    ck_assert_str_eq(chat_ai_market_code("rb2505"), "rb2505");
    ck_assert_str_eq(chat_ai_market_code(" SC2506"), "SC2506");
    ck_assert_ptr_null(chat_ai_market_code("大豆"));
    ck_assert_str_eq(chat_ai_market_find("玉米淀粉最近10天", &name), "cs");
    ck_assert_str_eq(name, "玉米淀粉");
    ck_assert_ptr_null(chat_ai_market_find("大豆最近10天", &name));
}
END_TEST

static const char *parse(const char *text)
{
    chat_products *t;
    return chat_products_parse(test_pool, text, strlen(text), &t);
}

#define ROW(code, ex, rest) code "\t" ex "\t" rest
#define OK_REST             "名\t-\t10\t10吨/手\t元/吨\t09:00-10:15,13:30-15:00\t21:00-02:30"

START_TEST(parser_refuses_by_line)
{
    static const struct {
        const char *text, *err;
    } rows[] = {
        {"# only a comment\n", "no products"},
        {"\n" ROW("rb", "SHFE", OK_REST) "\n" ROW("RB", "SHFE", OK_REST),
         "line 3: code 'RB' is listed twice"},
        {ROW("rbx", "SHFE", OK_REST), "line 1: code 'rbx' is not 1-2 letters"},
        {ROW("r1", "SHFE", OK_REST), "line 1: code 'r1' is not 1-2 letters"},
        {ROW("rb", "LME", OK_REST), "line 1: exchange 'LME' is not SHFE, INE, DCE, CZCE, GFEX "
                                    "or CFFEX"},
        {"rb\tSHFE\t名", "line 1: 9 fields separated by TAB expected"},
        {ROW("rb", "SHFE", OK_REST "\textra"), "line 1: 9 fields separated by TAB expected"},
        {"rb\tSHFE\t名\ta,,b\t10\tu\tq\t09:00-10:00\t-", "line 1: an empty alias"},
        {"rb\tSHFE\t名\t-\t0\tu\tq\t09:00-10:00\t-",
         "line 1: multiplier '0' is not a positive number"},
        {"rb\tSHFE\t名\t-\t10\tu\tq\t15:00-09:00\t-",
         "line 1: day sessions '15:00-09:00' are not HH:MM-HH:MM,..."},
        {"rb\tSHFE\t名\t-\t10\tu\tq\t09:00-10:00\t21:00-24:00",
         "line 1: night sessions '21:00-24:00' are not HH:MM-HH:MM,... or -"},
        {"rb\tSHFE\t\xff\t-\t10\tu\tq\t09:00-10:00\t-",
         "line 1: the name is empty, too long, not UTF-8 or has a comma"},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *err = parse(rows[i].text);
        ck_assert_msg(err && !strcmp(err, rows[i].err), "row %u: %s", (unsigned)i,
                      err ? err : "(accepted)");
    }
    ck_assert_ptr_null(parse(ROW("rb", "SHFE", OK_REST) "\r\n\n  \n# c\n"));
}
END_TEST

/* Random edits of the shipped file: every outcome is a table whose rows are
 * valid, or an error naming a line; never a crash (ASan/valgrind builds
 * check the bytes). */
START_TEST(parser_random_driver)
{
    static const char alphabet[] = "\t\n\r,#-:0123456789abRB名胶\xff";
    unsigned int seed = 20261130;
    char *orig;
    apr_size_t len;
    int round;

    orig = check_read_file(CHAT_SRCDIR "/data/products.tsv", &len);
    for (round = 0; round < 2000; round++) {
        apr_pool_t *p;
        char *buf;
        apr_size_t n;
        chat_products *t = NULL;
        const char *err;

        apr_pool_create(&p, test_pool);
        buf = apr_pmemdup(p, orig, len + 1);
        n = check_mutate(buf, len, alphabet, &seed);
        err = chat_products_parse(p, buf, n, &t);
        if (!err) {
            int i;
            for (i = 0; i < chat_products_count(t); i++) {
                const chat_product *pr = chat_products_at(t, i);
                chat_product_match m;
                ck_assert(pr->code && pr->name && pr->multiplier > 0);
                chat_products_resolve(t, pr->name, &m);
                ck_assert(m.status == CHAT_PRODUCT_FOUND || m.status == CHAT_PRODUCT_AMBIGUOUS);
            }
        }
        else {
            ck_assert_msg(!strncmp(err, "line ", 5) || !strcmp(err, "no products") ||
                              !strcmp(err, "a NUL byte in the file"),
                          "%s", err);
        }
        apr_pool_destroy(p);
    }
}
END_TEST

START_TEST(load_names_the_file)
{
    chat_products *t;
    const char *err = chat_products_load(test_pool, "/nonexistent/products.tsv", &t);

    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/products.tsv: "));
}
END_TEST

Suite *suite_products(void)
{
    Suite *s = suite_create("products");
    TCase *tc = tcase_create("products");

    tcase_add_test(tc, every_listed_product);
    tcase_add_test(tc, night_sessions);
    tcase_add_test(tc, every_row_by_name_and_code);
    tcase_add_test(tc, longest_alias_wins);
    tcase_add_test(tc, contracts_pass_through);
    tcase_add_test(tc, ambiguous_asks_back);
    tcase_add_test(tc, find_in_text);
    tcase_add_test(tc, market_names_use_the_table);
    tcase_add_test(tc, parser_refuses_by_line);
    tcase_add_test(tc, parser_random_driver);
    tcase_add_test(tc, load_names_the_file);
    suite_add_tcase(s, tc);
    return s;
}
