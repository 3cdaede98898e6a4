/* chat_ai: the model picked by the time of day (DeepSeek's Beijing-time
 * rule) with an explicit clock, the request bodies of both API shapes, and
 * the commodity table of the market tools. */
#include <string.h>

#include <apr_strings.h>

#include "chat_ai.h"
#include "chat_ai_market.h"
#include "chat_products.h"
#include "chat_ai_tools.h"
#include "check_suites.h"

/* 2026-11-24 00:00:00 Beijing time = 2026-11-23T16:00:00Z */
#define BEIJING_MIDNIGHT (apr_time_from_sec(1795449600))

static chat_ai_provider deepseek(void)
{
    chat_ai_provider p = {"deepseek", CHAT_AI_OPENAI, "http://x/v1", "k", "deepseek-chat",
                          NULL,       NULL,           8 * 3600,      0,   NULL};
    chat_ai_window *w;

    p.windows = apr_array_make(test_pool, 1, sizeof(chat_ai_window));
    w = apr_array_push(p.windows);
    ck_assert_ptr_null(chat_ai_parse_window(test_pool, "00:30-08:30", &w->from, &w->to));
    w->model = "deepseek-reasoner";
    return p;
}

START_TEST(beijing_rule)
{
    static const struct {
        int minute; /* of the Beijing day */
        const char *model;
    } rows[] = {
        {0, "deepseek-chat"},
        {29, "deepseek-chat"},
        {30, "deepseek-reasoner"},
        {31, "deepseek-reasoner"},
        {8 * 60, "deepseek-reasoner"},
        {8 * 60 + 29, "deepseek-reasoner"},
        {8 * 60 + 30, "deepseek-chat"},
        {12 * 60, "deepseek-chat"},
        {23 * 60 + 59, "deepseek-chat"},
    };
    chat_ai_provider p = deepseek();
    apr_size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        apr_time_t t = BEIJING_MIDNIGHT + apr_time_from_sec(rows[i].minute * 60 + 59);
        ck_assert_str_eq(chat_ai_pick_model(&p, t), rows[i].model);
        /* the next day at the same minute: same answer */
        ck_assert_str_eq(chat_ai_pick_model(&p, t + apr_time_from_sec(86400)), rows[i].model);
    }
    /* 00:31 Beijing is 16:31 UTC the day before: a UTC clock would get it wrong */
    p.tz_offset = 0;
    ck_assert_str_eq(chat_ai_pick_model(&p, BEIJING_MIDNIGHT + apr_time_from_sec(31 * 60)),
                     "deepseek-chat");
}
END_TEST

/* No ChatAIModelWindow: a provider named deepseek gets the off-peak rule by
 * Beijing time anyway; a configured window replaces it; others get none. */
START_TEST(deepseek_default_window)
{
    static const struct {
        int minute; /* of the Beijing day */
        const char *model;
    } rows[] = {
        {0, "deepseek-chat"},           {29, "deepseek-chat"},
        {30, "deepseek-reasoner"},      {8 * 60 + 29, "deepseek-reasoner"},
        {8 * 60 + 30, "deepseek-chat"}, {23 * 60 + 59, "deepseek-chat"},
    };
    chat_ai_provider p = deepseek();
    chat_ai_window *w;
    apr_size_t i;

    p.windows = NULL;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        apr_time_t t = BEIJING_MIDNIGHT + apr_time_from_sec(rows[i].minute * 60);
        ck_assert_str_eq(chat_ai_pick_model(&p, t), rows[i].model);
        ck_assert_str_eq(chat_ai_pick_model(&p, t + apr_time_from_sec(59)), rows[i].model);
    }
    /* the window is in the provider's zone: with UTC, 00:31 Beijing is 16:31 */
    p.tz_offset = 0;
    ck_assert_str_eq(chat_ai_pick_model(&p, BEIJING_MIDNIGHT + apr_time_from_sec(31 * 60)),
                     "deepseek-chat");
    ck_assert_str_eq(
        chat_ai_pick_model(&p, BEIJING_MIDNIGHT - apr_time_from_sec(16 * 3600 - 31 * 60)),
        "deepseek-reasoner"); /* 00:31 UTC */
    p.tz_offset = 8 * 3600;

    /* "ChatAIModelWindow deepseek off": an empty list, no window */
    p.windows = apr_array_make(test_pool, 1, sizeof(chat_ai_window));
    ck_assert_str_eq(chat_ai_pick_model(&p, BEIJING_MIDNIGHT + apr_time_from_sec(60 * 60)),
                     "deepseek-chat");
    /* a configured window overrides the default entirely */
    w = apr_array_push(p.windows);
    ck_assert_ptr_null(chat_ai_parse_window(test_pool, "12:00-13:00", &w->from, &w->to));
    w->model = "deepseek-x";
    ck_assert_str_eq(chat_ai_pick_model(&p, BEIJING_MIDNIGHT + apr_time_from_sec(60 * 60)),
                     "deepseek-chat");
    ck_assert_str_eq(chat_ai_pick_model(&p, BEIJING_MIDNIGHT + apr_time_from_sec(12 * 3600)),
                     "deepseek-x");

    /* other names, or the Gemini shape, have no default window */
    p.windows = NULL;
    p.name = "kimi";
    ck_assert_str_eq(chat_ai_pick_model(&p, BEIJING_MIDNIGHT + apr_time_from_sec(60 * 60)),
                     "deepseek-chat");
    p.name = "deepseek";
    p.kind = CHAT_AI_GEMINI;
    ck_assert_str_eq(chat_ai_pick_model(&p, BEIJING_MIDNIGHT + apr_time_from_sec(60 * 60)),
                     "deepseek-chat");
}
END_TEST

START_TEST(window_across_midnight)
{
    chat_ai_provider p = deepseek();
    chat_ai_window *w = &APR_ARRAY_IDX(p.windows, 0, chat_ai_window);

    ck_assert_ptr_null(chat_ai_parse_window(test_pool, "22:00-06:00", &w->from, &w->to));
    ck_assert_str_eq(chat_ai_pick_model(&p, BEIJING_MIDNIGHT - apr_time_from_sec(3600)),
                     "deepseek-reasoner"); /* 23:00 */
    ck_assert_str_eq(chat_ai_pick_model(&p, BEIJING_MIDNIGHT + apr_time_from_sec(6 * 3600 - 1)),
                     "deepseek-reasoner"); /* 05:59:59 */
    ck_assert_str_eq(chat_ai_pick_model(&p, BEIJING_MIDNIGHT + apr_time_from_sec(6 * 3600)),
                     "deepseek-chat"); /* 06:00: the end is outside */
    p.windows = NULL;                  /* the default window: 00:00 is outside it */
    ck_assert_str_eq(chat_ai_pick_model(&p, BEIJING_MIDNIGHT), "deepseek-chat");
}
END_TEST

START_TEST(window_parse_errors)
{
    static const char *bad[] = {"",      "8-9",          "24:00-01:00",  "00:60-01:00",
                                "01:00", "01:00-02:00x", "1:00-2:00:00", "-1:00-02:00"};
    apr_size_t i;
    int a, b;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_ptr_nonnull(chat_ai_parse_window(test_pool, bad[i], &a, &b));
    }
    ck_assert_ptr_null(chat_ai_parse_window(test_pool, "9:05-17:30", &a, &b));
    ck_assert_int_eq(a, 9 * 60 + 5);
    ck_assert_int_eq(b, 17 * 60 + 30);
}
END_TEST

static json_object *conversation(void)
{
    return json_tokener_parse("[{\"role\":\"user\",\"text\":\"alice: hi\"},"
                              "{\"role\":\"assistant\",\"text\":\"hello\"},"
                              "{\"role\":\"user\",\"text\":\"what is this?\","
                              "\"image_mime\":\"image/png\",\"image_b64\":\"iVBORw0K\"}]");
}

/* The declarations of every tool, as if each kind had a source. */
static json_object *all_tools(void)
{
    chat_ai_tools t;
    int i;

    memset(&t, 0, sizeof(t));
    for (i = 0; i < CHAT_AI_TOOL_KINDS; i++) {
        t.src[i] = chat_source_make(test_pool, "s", "http://h/");
    }
    return chat_ai_tools_declare(&t);
}

START_TEST(openai_body)
{
    chat_ai_provider p = deepseek();
    json_object *msgs = conversation(), *tools = all_tools();
    chat_ai_call c = {&p, "be brief", msgs, tools, NULL, NULL, 0, 0, 0, NULL, NULL};
    json_object *b = chat_ai_request_body(&c, "deepseek-chat");
    const char *s =
        json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

    ck_assert_ptr_nonnull(strstr(s, "\"model\":\"deepseek-chat\""));
    ck_assert_ptr_nonnull(strstr(s, "{\"role\":\"system\",\"content\":\"be brief\"}"));
    ck_assert_ptr_nonnull(strstr(s, "{\"role\":\"assistant\",\"content\":\"hello\"}"));
    ck_assert_ptr_nonnull(strstr(
        s, "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0K\"}}"));
    ck_assert_ptr_nonnull(strstr(s, "{\"type\":\"function\",\"function\":{\"name\":\"get_price\""));
    ck_assert_ptr_nonnull(strstr(s, "\"stream\":false"));
    json_object_put(b);
    json_object_put(msgs);
    json_object_put(tools);
}
END_TEST

START_TEST(gemini_body)
{
    chat_ai_provider p = deepseek();
    json_object *msgs = conversation(), *tools = all_tools();
    chat_ai_call c = {&p, "be brief", msgs, tools, NULL, NULL, 0, 0, 0, NULL, NULL};
    json_object *b;
    const char *s;

    p.kind = CHAT_AI_GEMINI;
    b = chat_ai_request_body(&c, "gemini-2.5-flash");
    s = json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    ck_assert_ptr_null(strstr(s, "\"model\":")); /* Gemini names the model in the URL */
    ck_assert_ptr_nonnull(strstr(s, "{\"role\":\"model\",\"parts\":[{\"text\":\"hello\"}]}"));
    ck_assert_ptr_nonnull(
        strstr(s, "{\"inline_data\":{\"mime_type\":\"image/png\",\"data\":\"iVBORw0K\"}}"));
    ck_assert_ptr_nonnull(strstr(s, "\"systemInstruction\":{\"parts\":[{\"text\":\"be brief\"}]}"));
    ck_assert_ptr_nonnull(
        strstr(s, "\"tools\":[{\"functionDeclarations\":[{\"name\":\"get_price\""));
    json_object_put(b);
    json_object_put(msgs);
    json_object_put(tools);
}
END_TEST

START_TEST(commodity_names)
{
    const char *name = NULL;

    /* the shipped table (tests/unit/check_products.c tests it row by row) */
    ck_assert_ptr_null(chat_products_use_file(test_pool, CHAT_SRCDIR "/data/products.tsv"));
    ck_assert_str_eq(chat_ai_market_code("螺纹钢"), "rb");
    ck_assert_str_eq(chat_ai_market_code("黄金"), "au");
    ck_assert_str_eq(chat_ai_market_code("原油"), "sc");
    ck_assert_str_eq(chat_ai_market_code("RB"), "rb");
    ck_assert_str_eq(chat_ai_market_code("ta"), "TA");
    ck_assert_ptr_null(chat_ai_market_code("比特币"));
    ck_assert_ptr_null(chat_ai_market_code(NULL));
    /* the longest name in the text wins: 螺纹钢 over 螺纹 */
    ck_assert_str_eq(chat_ai_market_find("螺纹钢最近10天的最高价是多少？", &name), "rb");
    ck_assert_str_eq(name, "螺纹钢");
    ck_assert_ptr_null(chat_ai_market_find("今天天气如何", NULL));
}
END_TEST

Suite *suite_ai(void)
{
    Suite *s = suite_create("ai");
    TCase *tc = tcase_create("ai");

    tcase_add_test(tc, beijing_rule);
    tcase_add_test(tc, deepseek_default_window);
    tcase_add_test(tc, window_across_midnight);
    tcase_add_test(tc, window_parse_errors);
    tcase_add_test(tc, openai_body);
    tcase_add_test(tc, gemini_body);
    tcase_add_test(tc, commodity_names);
    suite_add_tcase(s, tc);
    return s;
}
