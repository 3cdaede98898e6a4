/* chat_ai_sse.c: server-sent events as hostile input (line ends, comments,
 * bounds), fed whole and in random pieces, and streamed answers of both API
 * shapes assembled into the reply the same request gives unstreamed; a
 * seeded random driver edits a valid stream and checks that any split gives
 * the same outcome as the whole, and that nothing breaks. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "chat_ai.h"
#include "chat_ai_settings.h"
#include "check_suites.h"

/* The events seen, joined as "[data]" each. */
typedef struct seen {
    char *all;
    int n, stop_at;
} seen;

static int on_event(void *ctx, const char *data, apr_size_t len)
{
    seen *s = ctx;

    ck_assert_uint_eq(strlen(data), len);
    s->all = apr_pstrcat(test_pool, s->all, "[", data, "]", NULL);
    return ++s->n == s->stop_at;
}

/* Feed text in pieces cut by seed (0: whole); the events, or "ERR". */
static const char *sse_run(const char *text, apr_size_t n, unsigned int seed, apr_size_t max_line,
                           apr_size_t max_total)
{
    chat_ai_sse sse;
    seen s = {"", 0, 0};
    apr_size_t at = 0;
    int rc = 0;

    chat_ai_sse_init(&sse, test_pool, max_line, max_total, on_event, &s);
    while (at < n && !rc) {
        apr_size_t k = seed ? 1 + (apr_size_t)rand_r(&seed) % 7 : n;
        k = k > n - at ? n - at : k;
        rc = chat_ai_sse_feed(&sse, text + at, k);
        at += k;
    }
    if (!rc) {
        rc = chat_ai_sse_finish(&sse);
    }
    return rc ? apr_pstrcat(test_pool, "ERR ", sse.error, NULL) : s.all;
}

START_TEST(sse_lines_and_fields)
{
    static const char text[] = ": keep-alive\r\n"
                               "data: one\r\n\r\n"
                               "event: x\nid: 7\nretry: 10\ndata:two\ndata:  three\n\n"
                               "data\rdata: four\r\r"
                               "\n\n" /* blank lines alone: no event */
                               "datum: not a data line\n\n"
                               "data: last, no blank line";
    const char *want = "[one][two\n three][\nfour][last, no blank line]";
    unsigned int seed;

    ck_assert_str_eq(sse_run(text, sizeof(text) - 1, 0, 1024, 1 << 20), want);
    for (seed = 1; seed < 200; seed++) {
        ck_assert_str_eq(sse_run(text, sizeof(text) - 1, seed, 1024, 1 << 20), want);
    }
}
END_TEST

START_TEST(sse_bounds)
{
    char line[64];

    memset(line, 'x', sizeof(line));
    memcpy(line, "data: ", 6);
    /* a line of 64 bytes against a limit of 32, whole or in pieces */
    ck_assert_str_eq(sse_run(line, sizeof(line), 0, 32, 1 << 20),
                     "ERR a line longer than the limit");
    ck_assert_str_eq(sse_run(line, sizeof(line), 3, 32, 1 << 20),
                     "ERR a line longer than the limit");
    /* an event of many short data lines is bounded too */
    ck_assert_str_eq(
        sse_run("data: 0123456789\ndata: 0123456789\ndata: 0123456789\ndata: 0123456789\n\n", 69, 0,
                32, 1 << 20),
        "ERR an event longer than the limit");
    /* the whole stream */
    ck_assert_str_eq(sse_run("data: a\n\ndata: b\n\n", 18, 0, 32, 10),
                     "ERR a stream larger than the limit");
    ck_assert_str_eq(sse_run("data: a\n\ndata: b\n\n", 18, 0, 32, 18), "[a][b]");
}
END_TEST

START_TEST(sse_callback_stops)
{
    chat_ai_sse sse;
    seen s = {"", 0, 2};

    chat_ai_sse_init(&sse, test_pool, 64, 1024, on_event, &s);
    ck_assert_int_eq(chat_ai_sse_feed(&sse, "data: a\n\ndata: b\n\ndata: c\n\n", 27), -1);
    ck_assert_str_eq(s.all, "[a][b]");
    ck_assert_int_eq(chat_ai_sse_feed(&sse, "data: d\n\n", 9), -1); /* stays stopped */
}
END_TEST

/* ---- streamed answers ---------------------------------------------------- */

typedef struct progress {
    int calls;
    const char *last;
    int grew; /* every call longer than the one before */
} progress;

static void on_progress(void *ctx, const char *text)
{
    progress *pr = ctx;

    if (pr->last && strlen(text) <= strlen(pr->last)) {
        pr->grew = 0;
    }
    pr->last = apr_pstrdup(test_pool, text);
    pr->calls++;
}

/* The assembled reply as JSON text (or "ERR why"), fed in pieces cut by seed. */
static const char *stream_run(chat_ai_kind kind, const char *text, apr_size_t n, unsigned int seed,
                              progress *pr)
{
    chat_ai_stream st;
    json_object *reply;
    apr_size_t at = 0;
    const char *out;

    chat_ai_stream_init(&st, test_pool, kind, 1 << 20, pr ? on_progress : NULL, pr);
    while (at < n) {
        apr_size_t k = seed ? 1 + (apr_size_t)rand_r(&seed) % 13 : n;
        k = k > n - at ? n - at : k;
        if (chat_ai_stream_feed(&st, text + at, k)) {
            break;
        }
        at += k;
    }
    reply = chat_ai_stream_reply(&st);
    if (!reply) {
        return apr_pstrcat(test_pool, "ERR ", st.error, NULL);
    }
    out = apr_pstrdup(test_pool, json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN));
    json_object_put(reply);
    return out;
}

/* As tests/fake_ai.py and DeepSeek send it: a role chunk, text pieces, a
 * tool call whose arguments come in pieces, usage on the last chunk. */
static const char openai_stream[] =
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
    "\"content\":\"\"}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Let \"}}]}\n\n"
    ": keep-alive\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"me look\"}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\","
    "\"type\":\"function\",\"function\":{\"name\":\"get_quote\",\"arguments\":\"\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
    "{\"arguments\":\"{\\\"code\\\":\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
    "{\"arguments\":\"\\\"rb\\\"}\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}],"
    "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":5}}\n\n"
    "data: [DONE]\n\n";

static const char openai_want[] =
    "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Let me look\","
    "\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_quote\","
    "\"arguments\":\"{\\\"code\\\":\\\"rb\\\"}\"}}]}}],"
    "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":5}}";

/* Gemini's alt=sse: CRLF lines, each event a whole response. */
static const char gemini_stream[] =
    "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"黄金\"}]}}],"
    "\"usageMetadata\":{\"promptTokenCount\":3}}\r\n\r\n"
    "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"thinking\","
    "\"thought\":true},{\"text\":\"价格\"}]}}]}\r\n\r\n"
    "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":"
    "{\"name\":\"get_quote\",\"args\":{\"code\":\"au\"}}}]},\"finishReason\":\"STOP\"}],"
    "\"usageMetadata\":{\"promptTokenCount\":3,\"candidatesTokenCount\":4}}\r\n\r\n";

static const char gemini_want[] =
    "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"黄金价格\"},"
    "{\"functionCall\":{\"name\":\"get_quote\",\"args\":{\"code\":\"au\"}}}]}}],"
    "\"usageMetadata\":{\"promptTokenCount\":3,\"candidatesTokenCount\":4}}";

START_TEST(openai_stream_assembles)
{
    progress pr = {0, NULL, 1};
    unsigned int seed;

    ck_assert_str_eq(stream_run(CHAT_AI_OPENAI, openai_stream, sizeof(openai_stream) - 1, 0, &pr),
                     openai_want);
    ck_assert_int_eq(pr.calls, 2);
    ck_assert(pr.grew);
    ck_assert_str_eq(pr.last, "Let me look");
    for (seed = 1; seed < 300; seed++) {
        ck_assert_str_eq(
            stream_run(CHAT_AI_OPENAI, openai_stream, sizeof(openai_stream) - 1, seed, NULL),
            openai_want);
    }
}
END_TEST

START_TEST(gemini_stream_assembles)
{
    progress pr = {0, NULL, 1};
    unsigned int seed;

    ck_assert_str_eq(stream_run(CHAT_AI_GEMINI, gemini_stream, sizeof(gemini_stream) - 1, 0, &pr),
                     gemini_want);
    ck_assert_int_eq(pr.calls, 2);
    ck_assert_str_eq(pr.last, "黄金价格");
    for (seed = 1; seed < 300; seed++) {
        ck_assert_str_eq(
            stream_run(CHAT_AI_GEMINI, gemini_stream, sizeof(gemini_stream) - 1, seed, NULL),
            gemini_want);
    }
}
END_TEST

START_TEST(stream_errors)
{
    /* nothing at all, not JSON, an error event, a call without index */
    ck_assert_str_eq(stream_run(CHAT_AI_OPENAI, "", 0, 0, NULL), "ERR an empty stream");
    ck_assert_str_eq(stream_run(CHAT_AI_OPENAI, "data: {oops\n\n", 13, 0, NULL),
                     "ERR an event that is not a JSON object");
    ck_assert_str_eq(stream_run(CHAT_AI_GEMINI,
                                "data: {\"error\":{\"code\":429,\"message\":\"quota\"}}\n\n", 49, 0,
                                NULL),
                     "ERR error in the stream: quota");
    ck_assert_str_eq(
        stream_run(CHAT_AI_OPENAI,
                   "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":99}]}}]}\n\n", 61, 0,
                   NULL),
        "ERR a tool call without a valid index");
    /* after [DONE] nothing counts */
    ck_assert_str_eq(
        stream_run(CHAT_AI_OPENAI,
                   "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: [DONE]\n\n"
                   "data: {oops\n\n",
                   75, 0, NULL),
        "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"a\"}}]}");
}
END_TEST

/* Edited streams: whatever the edit, the answer (or the refusal) does not
 * depend on how the bytes were cut. */
START_TEST(stream_random_edits)
{
    static const char alphabet[] = "data: {}[]\":,\n\r\\0a[DONE]";
    unsigned int seed = 20261130;
    int round, kind;

    for (kind = 0; kind < 2; kind++) {
        const char *src = kind ? gemini_stream : openai_stream;
        apr_size_t len = strlen(src);
        for (round = 0; round < 400; round++) {
            char *buf = apr_pstrmemdup(test_pool, src, len);
            apr_size_t n = check_mutate(buf, len, alphabet, &seed);
            chat_ai_kind k = kind ? CHAT_AI_GEMINI : CHAT_AI_OPENAI;
            const char *whole = stream_run(k, buf, n, 0, NULL);
            ck_assert_str_eq(stream_run(k, buf, n, 1 + (unsigned int)round, NULL), whole);
        }
    }
}
END_TEST

/* The request asks for a stream only when the call has a progress callback
 * and the provider is not ChatAIStream off. */
START_TEST(stream_in_the_request)
{
    chat_ai_provider prov = {"deepseek", CHAT_AI_OPENAI, "http://x", "k", "deepseek-chat",
                             NULL,       NULL,           0,          0,   NULL};
    chat_ai_call call;
    json_object *body, *v;

    memset(&call, 0, sizeof(call));
    call.prov = &prov;
    body = chat_ai_request_body(&call, "deepseek-chat");
    ck_assert(json_object_object_get_ex(body, "stream", &v) && !json_object_get_boolean(v));
    ck_assert(!json_object_object_get_ex(body, "stream_options", &v));
    json_object_put(body);
    call.progress = on_progress;
    body = chat_ai_request_body(&call, "deepseek-chat");
    ck_assert(json_object_object_get_ex(body, "stream", &v) && json_object_get_boolean(v));
    ck_assert(json_object_object_get_ex(body, "stream_options", &v));
    json_object_put(body);
    prov.no_stream = 1;
    ck_assert(!chat_ai_call_streams(&call));
}
END_TEST

static const char *alias_of(const chat_ai_conf *ac, const char *alias)
{
    const chat_ai_provider *pr = chat_ai_provider_by_alias(ac, alias, strlen(alias));
    return pr ? pr->name : "-";
}

/* Name and first letter by default, unless two names share the letter; a
 * ChatAIAlias line replaces the defaults and wins over another's default. */
START_TEST(aliases)
{
    static chat_ai_provider ds, db, gm, km;
    chat_ai_conf ac;
    apr_array_header_t *al;

    ds.name = "deepseek";
    db.name = "doubao";
    gm.name = "gemini";
    km.name = "kimi";
    memset(&ac, 0, sizeof(ac));
    ac.providers = apr_array_make(test_pool, 4, sizeof(chat_ai_provider *));
    APR_ARRAY_PUSH(ac.providers, chat_ai_provider *) = &ds;
    APR_ARRAY_PUSH(ac.providers, chat_ai_provider *) = &gm;
    APR_ARRAY_PUSH(ac.providers, chat_ai_provider *) = &km;
    ck_assert_str_eq(alias_of(&ac, "d"), "deepseek");
    ck_assert_str_eq(alias_of(&ac, "DeepSeek"), "deepseek");
    ck_assert_str_eq(alias_of(&ac, "g"), "gemini");
    ck_assert_str_eq(alias_of(&ac, "k"), "kimi");
    ck_assert_str_eq(alias_of(&ac, "kim"), "-");
    ck_assert_str_eq(alias_of(&ac, "zz"), "-");
    ck_assert_str_eq(chat_ai_provider_by_alias(&ac, "dx", 1)->name, "deepseek"); /* len counts */
    APR_ARRAY_PUSH(ac.providers, chat_ai_provider *) = &db;
    ck_assert_str_eq(alias_of(&ac, "d"), "-"); /* deepseek and doubao: neither */
    ck_assert_str_eq(alias_of(&ac, "doubao"), "doubao");
    al = chat_ai_provider_aliases(test_pool, &ac, &ds);
    ck_assert_int_eq(al->nelts, 1);
    km.aliases = apr_array_make(test_pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(km.aliases, const char *) = "moon";
    APR_ARRAY_PUSH(km.aliases, const char *) = "g";
    ck_assert_str_eq(alias_of(&ac, "k"), "-");
    ck_assert_str_eq(alias_of(&ac, "kimi"), "-");
    ck_assert_str_eq(alias_of(&ac, "MOON"), "kimi");
    ck_assert_str_eq(alias_of(&ac, "g"), "kimi"); /* an explicit alias wins */
    ck_assert_str_eq(alias_of(&ac, "gemini"), "gemini");
    al = chat_ai_provider_aliases(test_pool, &ac, &gm);
    ck_assert_int_eq(al->nelts, 1); /* "g" is kimi's now */
    ck_assert_str_eq(APR_ARRAY_IDX(al, 0, const char *), "gemini");
    km.aliases = NULL;
}
END_TEST

Suite *suite_ai_sse(void)
{
    Suite *s = suite_create("ai_sse");
    TCase *tc = tcase_create("ai_sse");

    tcase_add_test(tc, sse_lines_and_fields);
    tcase_add_test(tc, sse_bounds);
    tcase_add_test(tc, sse_callback_stops);
    tcase_add_test(tc, openai_stream_assembles);
    tcase_add_test(tc, gemini_stream_assembles);
    tcase_add_test(tc, stream_errors);
    tcase_add_test(tc, stream_random_edits);
    tcase_add_test(tc, stream_in_the_request);
    tcase_add_test(tc, aliases);
    suite_add_tcase(s, tc);
    return s;
}
