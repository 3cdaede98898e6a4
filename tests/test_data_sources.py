"""Data sources by configuration (issue 14): tests/fake_data.py serves the same
market data and news in three JSON shapes (rows under different paths, numbers
as strings, unix-ms vs. YYYY-MM-DD vs. YYYYMMDD times, objects of rows, rows as
arrays). Three servers, each configured for one shape with ChatData* only, give
the AI's tools the same answers and a chart job the same PNG; a failing source
ends with a clear sentence; configtest names bad templates and field maps."""
import io
import json

import pytest
import requests
from PIL import Image

from chatclient import Chat, unique_room
from fake_data import FakeData
from harness import ADMIN_SECRET, Httpd, wait_for

SHAPES = ("a", "b", "c")


def shape_conf(shape, data, keyfile):
    u = data.url
    return {
        "a": f"""
ChatDataSource a_quote {u}/a/quote?symbol={{code}}
ChatDataRows a_quote data
ChatDataField a_quote code=symbol price=last change=chg_pct
ChatDataSource a_hist {u}/a/kline?symbol={{code}}&n={{days}}
ChatDataRows a_hist data.list
ChatDataField a_hist time=t:unix-ms open=o high=h low=l close=c volume=v
ChatDataSource a_min {u}/a/minute?symbol={{code}}
ChatDataRows a_min data.list
ChatDataField a_min time=t:unix-ms open=o high=h low=l close=c volume=v
ChatDataSource a_board {u}/a/board
ChatDataRows a_board data
ChatDataField a_board code=symbol name=name change=chg_pct oi=oi exchange=ex
ChatDataSource a_news {u}/a/news?kw={{query}}&size={{limit}}
ChatDataRows a_news data.news
ChatDataField a_news id=nid title=title url=url time=ts:unix-ms
ChatDataTimeout a_quote 1
ChatAITool quote a_quote
ChatAITool history a_hist
ChatAITool intraday a_min
ChatAITool board a_board
ChatAITool news a_news
""",
        "b": f"""
ChatDataSource b_quote {u}/b/v2/quotes/{{code}}
ChatDataHeader b_quote "X-Api-Key: file:{keyfile}"
ChatDataRows b_quote result.quote
ChatDataField b_quote code=code price=price change=change
ChatDataCache b_quote 60
ChatDataSource b_hist {u}/b/v2/history?code={{code}}&limit={{days}}
ChatDataHeader b_hist "X-Api-Key: file:{keyfile}"
ChatDataRows b_hist result.bars
ChatDataField b_hist time=date:YYYY-MM-DD open=open:number high=high:number low=low:number
ChatDataField b_hist close=close:number volume=volume:number
ChatDataSource b_board {u}/b/v2/board
ChatDataHeader b_board "X-Api-Key: file:{keyfile}"
ChatDataRows b_board result.items
ChatDataField b_board code=code name=name change=change oi=oi exchange=exchange
ChatDataSource b_news {u}/b/v2/news?q={{query}}
ChatDataHeader b_news "X-Api-Key: file:{keyfile}"
ChatDataRows b_news result.news
ChatDataField b_news id=id title=headline url=link time=published:YYYY-MM-DD
ChatAITool quote b_quote
ChatAITool history b_hist
ChatAITool board b_board
ChatAITool news b_news
""",
        "c": f"""
ChatDataSource c_quote {u}/c/snapshot
ChatDataField c_quote code=$key price=p change=pct
ChatDataSource c_hist {u}/c/k/{{code}}.json?days={{days}}
ChatDataRows c_hist k
ChatDataField c_hist time=0:YYYYMMDD open=1 high=2 low=3 close=4 volume=5
ChatDataSource c_board {u}/c/snapshot
ChatDataField c_board code=$key name=cn change=pct oi=oi exchange=ex
ChatDataSource c_news {u}/c/news.json?q={{query}}
ChatDataField c_news id=$key title=t url=u time=d:YYYYMMDD
ChatAITool quote c_quote
ChatAITool history c_hist
ChatAITool board c_board
ChatAITool news c_news
""",
    }[shape] + f"""
ChatDataFilter {shape}_board oi > 100000
ChatDataFilter {shape}_board exchange in SHFE,INE
"""


@pytest.fixture(scope="module")
def data():
    d = FakeData().start()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def room(redis_server):
    name = unique_room("data")
    for prefix in ["chat:"] + [f"chat:{shape}:" for shape in SHAPES]:
        redis_server.client().sadd(f"{prefix}room:{name}:members", "alice")
    return name


@pytest.fixture(scope="module")
def servers(redis_server, fake_ai, data, room):
    out = {}
    for shape in SHAPES:
        h = Httpd(redis_server, name=f"data-{shape}")
        (h.dir / "conf" / "data.key").write_text("data-key\n")
        # a prefix each: a run-now request must reach this server's scheduler
        h.reconfigure(f"""
ChatKeyPrefix chat:{shape}:
ChatAIProvider deepseek openai {fake_ai.openai_base}
ChatAIKey deepseek test-key
ChatAIModel deepseek deepseek-chat
ChatAIRateLimit 1000
ChatJobTimeZone UTC
{shape_conf(shape, data, h.dir / "conf" / "data.key")}
ChatJob kline "0 0 1 1 *" chart {room} candle source:{shape}_hist \\
"label=time code=rb days=10 y_unit=元/吨" "螺纹钢 rb 日K线"
ChatJob digest "0 0 1 1 *" news {room} source:{shape}_news "query=螺纹钢 limit=5" "要闻"
""")
        out[shape] = h.start()
    yield out
    for h in out.values():
        h.close()


@pytest.fixture(autouse=True)
def clean(fake_ai, data):
    fake_ai.reset()
    data.reset()


CALLS = [
    {"name": "get_price", "arguments": {"commodity": "螺纹钢"}},
    {"name": "get_history", "arguments": {"commodity": "rb", "days": 5}},
    {"name": "get_stats", "arguments": {"commodity": "螺纹钢", "days": 10}},
    {"name": "get_stats", "arguments": {"commodity": "rb", "days": 10, "field": "volume"}},
    {"name": "get_cross_section", "arguments": {}},
    {"name": "search_news", "arguments": {"query": "螺纹钢"}},
]


def explain_with_tools(h, fake_ai, room, calls, text="见数据"):
    """explain, the model calling tools in one round: (reply, {tool_call_id: result})."""
    fake_ai.script([{"kind": "openai", "tool_calls": calls}, {"kind": "openai", "text": text}])
    r = requests.post(h.url("/chat/ai/explain?username=alice"), timeout=30,
                      json={"text": "螺纹钢怎么样", "roomName": room})
    assert r.status_code == 200, r.text
    first, second = fake_ai.requests(kind="openai")
    results = [json.loads(m["content"]) for m in second["body"]["messages"]
               if m["role"] == "tool"]
    return r, first, results


def without_source(o):
    return {k: v for k, v in o.items() if k != "source"}


def test_three_shapes_give_the_same_tool_answers(servers, fake_ai, data, room):
    answers = {}
    for shape, h in servers.items():
        fake_ai.reset()
        r, first, results = explain_with_tools(h, fake_ai, room, CALLS)
        assert r.status_code == 200 and r.json()["explanation"] == "见数据", r.text
        assert [t["function"]["name"] for t in first["body"]["tools"]] == [
            "get_price", "get_history", "get_stats", "get_cross_section", "search_news",
            "market_query", "draw_chart"]
        assert len(results) == len(CALLS)
        assert all(res["source"].startswith(shape + "_") for res in results)
        answers[shape] = [without_source(res) for res in results]
    assert answers["a"] == answers["b"] == answers["c"]
    price, hist, stats, volume, board, news = answers["a"]
    assert price == {"code": "rb", "price": 3520.5, "change": 1.2}
    assert [b["time"] for b in hist["rows"]] == [
        "2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"]
    assert hist["interval"] == "daily" and hist["rows"][-1]["close"] == 3520.5
    assert stats["days"] == 10 and stats["from"] == "2026-11-16" and stats["to"] == "2026-11-27"
    assert stats["highest"] == stats["columns"]["high"]["high"] >= stats["lowest"]
    assert stats["last_close"] == 3520.5 and set(stats["columns"]) == {
        "open", "high", "low", "close", "volume"}
    assert volume["columns"] == {"volume": {
        "high": 109000, "low": 100000, "mean": 104500, "first": 109000, "last": 100000,
        "change": -9000, "change_pct": -8.2569}}
    # filtered (oi > 100000, SHFE or INE) and sorted by change
    assert [(p["code"], p["change"]) for p in board["rows"]] == [
        ("rb", 1.2), ("lu", 0.8), ("au", -0.45)]
    assert [n["id"] for n in news["rows"]] == ["n1", "n3"]
    assert news["rows"][0]["time"] == "2026-11-27"
    # what each source was asked: placeholders filled and URL-encoded, keys sent
    assert sorted(r["query"]["n"] for r in data.requests("/a/kline")) == ["10", "10", "5"]
    assert {r["query"]["symbol"] for r in data.requests("/a/kline")} == {"rb"}
    assert sorted(r["query"]["days"] for r in data.requests("/c/k/rb.json")) == ["10", "10", "5"]
    (news_b,) = data.requests("/b/v2/news")
    assert news_b["query"] == {"q": "螺纹钢"} and news_b["headers"]["x-api-key"] == "data-key"
    assert all(r["headers"].get("x-api-key") == "data-key" for r in data.requests("/b/"))


def test_intraday_history_where_the_source_has_it(servers, fake_ai, room):
    _, _, (res,) = explain_with_tools(servers["a"], fake_ai, room, [
        {"name": "get_history", "arguments": {"commodity": "rb", "interval": "intraday"}}])
    assert res["interval"] == "intraday" and res["source"] == "a_min"
    assert [b["time"] for b in res["rows"]][:2] == ["2026-11-27 09:00", "2026-11-27 09:05"]
    # a source without intraday bars answers daily ones
    fake_ai.reset()
    _, _, (res,) = explain_with_tools(servers["c"], fake_ai, room, [
        {"name": "get_history", "arguments": {"commodity": "rb", "interval": "intraday"}}])
    assert res["interval"] == "daily" and res["source"] == "c_hist"


def test_the_cache_keeps_a_document_for_its_ttl(servers, fake_ai, data, room):
    # gold: not asked for by any other test, so not cached yet
    _, _, results = explain_with_tools(servers["b"], fake_ai, room, [
        {"name": "get_price", "arguments": {"commodity": "黄金"}},
        {"name": "get_price", "arguments": {"commodity": "au"}}])
    assert results[0] == results[1] and results[0]["price"] == 612.34
    # ChatDataCache b_quote 60: both calls of one answer (one process) fetch once
    assert len(data.requests("/b/v2/quotes/au")) == 1


def test_three_shapes_draw_the_same_chart(servers, room):
    pngs = {}
    for shape, h in servers.items():
        w = Chat(h.port, room, "alice")
        r = requests.post(h.url("/chat-admin/api/jobs/kline/run"), timeout=10,
                          headers={"Authorization": f"Bearer {ADMIN_SECRET}"})
        assert r.status_code == 202
        msg = w.expect("chat", timeout=20)
        assert msg["type"] == "image" and msg["caption"] == "螺纹钢 rb 日K线"
        png = requests.get(h.url(msg["imageUrl"]), timeout=5)
        assert png.status_code == 200 and png.headers["Content-Type"] == "image/png"
        pngs[shape] = png.content
        w.close()
    assert Image.open(io.BytesIO(pngs["a"])).size == (800, 500)
    assert pngs["a"] == pngs["b"] == pngs["c"]


def draw_in_room(h, fake_ai, room, args):
    """deepseek_chat calling draw_chart with args: the bot's message about it
    (an image, or a notice), and the tool's result as the model got it."""
    fake_ai.reset()
    fake_ai.script([{"kind": "openai", "tool_call": {"name": "draw_chart", "arguments": args}},
                    {"kind": "openai", "text": "见图"}])
    a = Chat(h.port, room, "alice")
    a.send("deepseek_chat", text="画图")
    _, _, msg, answer = a.chats(4, timeout=20)
    a.close()
    assert answer["text"] == "见图"
    first, second = fake_ai.requests(kind="openai")
    (decl,) = [t["function"] for t in first["body"]["tools"]
               if t["function"]["name"] == "draw_chart"]
    return msg, json.loads(second["body"]["messages"][-1]["content"]), decl


ALL_KINDS = ["line", "bar_line", "candle", "pie", "cross_section", "treemap", "scatter",
             "scatter_color"]


def test_three_shapes_give_draw_chart_the_same_png(servers, fake_ai, data, room):
    """draw_chart reads the history and board sources ChatAITool names: the
    same candles and the same pie, byte for byte, whatever the shape."""
    pngs = {}
    for shape, h in servers.items():
        for args, caption in [
                ({"kind": "candle", "commodity": "螺纹钢", "days": 10}, "螺纹钢 rb 日K线（近10个交易日）"),
                ({"kind": "pie"}, "今日涨跌分布"),
                ({"kind": "cross_section"}, "各品种涨跌幅（相对结算价）")]:
            msg, result, decl = draw_in_room(h, fake_ai, room, args)
            assert decl["parameters"]["properties"]["kind"]["enum"] == ALL_KINDS
            assert msg["type"] == "image" and msg["caption"] == caption, msg
            assert "posted in the room" in result["posted"]
            png = requests.get(h.url(msg["imageUrl"]), timeout=5)
            assert png.status_code == 200 and png.headers["Content-Type"] == "image/png"
            pngs[shape, args["kind"]] = png.content
    assert Image.open(io.BytesIO(pngs["a", "candle"])).size == (800, 500)
    for kind in ("candle", "pie", "cross_section"):
        assert pngs["a", kind] == pngs["b", kind] == pngs["c", kind], kind
    assert pngs["a", "candle"] != pngs["a", "pie"]
    # each source asked with its own placeholders
    assert [r["query"] for r in data.requests("/a/kline")] == [{"symbol": "rb", "n": "10"}]
    assert [r["query"] for r in data.requests("/b/v2/history")] == [{"code": "rb", "limit": "10"}]
    assert [r["query"] for r in data.requests("/c/k/rb.json")] == [{"days": "10"}]
    # no ChatDataCache on the boards: each market chart fetches
    assert len(data.requests("/a/board")) == len(data.requests("/b/v2/board")) == 2


def test_a_failing_board_source_is_the_chart_notice(servers, fake_ai, data, room):
    data.fail("/a/board", "500")
    msg, result, _ = draw_in_room(servers["a"], fake_ai, room, {"kind": "pie"})
    sentence = "the data source 'a_board' answered HTTP 500"
    assert msg["type"] == "text" and msg["error"] is True and msg["username"] == "deepseek"
    assert msg["text"] == "⚠️ Chart not drawn: " + sentence
    assert result == {"error": sentence}
    # a board without the fields a kind needs: refused, naming the field
    msg, result, _ = draw_in_room(servers["b"], fake_ai, room, {"kind": "scatter"})
    assert msg["text"] == ("⚠️ Chart not drawn: the data source 'b_board' has no field "
                           "'oi_change' (a scatter chart needs change oi_change)")


def test_draw_chart_offers_what_has_a_source_within_the_row_limit(redis_server, fake_ai, data,
                                                                  room):
    """A board and no history source: only the market's kinds, no commodity;
    a board of more rows than ChatAIToolRows is refused, not cut."""
    h = Httpd(redis_server, name="data-board-only")
    board = "\n".join(line for line in shape_conf("a", data, "unused").splitlines()
                      if "a_board" in line)
    h.reconfigure(f"""
ChatAIProvider deepseek openai {fake_ai.openai_base}
ChatAIKey deepseek test-key
ChatAIRateLimit 1000
{board}
ChatAIToolRows 2
""")
    h.start()
    try:
        msg, result, decl = draw_in_room(h, fake_ai, room, {"kind": "candle", "commodity": "rb",
                                                             "days": 2})
        assert decl["parameters"]["properties"]["kind"]["enum"] == ALL_KINDS[3:]
        assert set(decl["parameters"]["properties"]) == {"kind", "title"}
        assert msg["text"] == ("⚠️ Chart not drawn: no history source is configured "
                               "(ChatAITool history)")
        msg, result, _ = draw_in_room(h, fake_ai, room, {"kind": "pie"})
        assert result == {"error": "the data source 'a_board' has 3 rows, a chart takes at most 2"}
        assert msg["text"] == "⚠️ Chart not drawn: " + result["error"]
        assert not data.requests("/a/kline")
    finally:
        h.close()


def admin(h, method, path):
    return requests.request(method, h.url(f"/chat-admin/api{path}"), timeout=10,
                            headers={"Authorization": f"Bearer {ADMIN_SECRET}"})


def run_job(h, name):
    """Run-now, then the run's record once it is written."""
    before = len(admin(h, "GET", f"/jobs/{name}").json()["runs"])
    assert admin(h, "POST", f"/jobs/{name}/run").status_code == 202
    wait_for(lambda: len(admin(h, "GET", f"/jobs/{name}").json()["runs"]) > before, 20,
             f"a run of {name}")
    return admin(h, "GET", f"/jobs/{name}").json()["runs"][0]


def test_news_jobs_read_sources_too(servers, data, redis_server, room):
    for shape, h in servers.items():
        w = Chat(h.port, room, "alice")
        assert run_job(h, "digest")["summary"] == "posted 2 new items"
        text = w.expect("chat", timeout=10)["text"]
        w.close()
        assert text == ("**要闻**\n\n- [螺纹钢库存连续三周下降](https://news.example/1)"
                        "\n- [螺纹钢期货夜盘走强](https://news.example/3)"), shape
    assert data.requests("/a/news")[0]["query"] == {"kw": "螺纹钢", "size": "5"}


def test_a_failing_source_fails_the_chart_job_with_its_sentence(servers, data):
    data.fail("/b/v2/history", "500")
    run = run_job(servers["b"], "kline")
    assert run["outcome"] == "error"
    assert run["error"] == "the data source 'b_hist' answered HTTP 500"
    data.fail("/c/k/", "badjson")
    run = run_job(servers["c"], "kline")
    assert run["error"] == "the data source 'c_hist' did not answer JSON"


@pytest.mark.parametrize("mode, sentence", [
    ("500", "the data source 'a_quote' answered HTTP 500."),
    ("timeout", "the data source 'a_quote' did not answer within 1 s."),
    ("badjson", "the data source 'a_quote' did not answer JSON."),
    ("missing", "the data source 'a_quote' sent a row (1) without 'symbol' (field code)."),
])
def test_a_failing_source_ends_with_a_clear_message(servers, fake_ai, data, room, mode,
                                                    sentence):
    data.fail("/a/quote", mode)
    fake_ai.script([{"kind": "openai", "tool_call": {"name": "get_price",
                                                     "arguments": {"commodity": "rb"}}},
                    {"kind": "openai", "text": "行情如下"}])
    a = Chat(servers["a"].port, room, "alice")
    a.send("deepseek_chat", text="螺纹钢现价？")
    answer = a.chats(3, timeout=20)[-1]
    a.close()
    assert answer["username"] == "deepseek"
    assert answer["text"] == "行情如下\n\n⚠️ Data: " + sentence
    # the model was told too
    tool = fake_ai.requests(kind="openai")[1]["body"]["messages"][-1]
    assert json.loads(tool["content"]) == {"error": sentence[:-1]}
    data.reset()
    # and explain says the same
    data.fail("/a/quote", mode)
    fake_ai.reset()
    r, _, _ = explain_with_tools(servers["a"], fake_ai, room, [
        {"name": "get_price", "arguments": {"commodity": "rb"}}], text="行情如下")
    assert r.status_code == 200 and r.json()["explanation"].endswith("⚠️ Data: " + sentence)


def test_tool_calls_are_in_the_room_debug_log(servers, fake_ai, redis_server, room):
    fake_ai.script([{"kind": "openai", "tool_call": {"name": "get_stats",
                                                     "arguments": {"commodity": "黄金",
                                                                   "days": 3}}},
                    {"kind": "openai", "text": "ok"}])
    a = Chat(servers["c"].port, room, "alice")
    a.send("deepseek_chat", text="黄金三天统计")
    a.chats(3, timeout=20)
    a.close()
    events = [json.loads(e) for e in redis_server.client().lrange(f"chat:c:room:{room}:debug",
                                                                     0, 50)]
    tools = [e for e in events if e["event"] == "ai_tool"]
    assert tools and tools[0]["username"] == "deepseek"
    assert tools[0]["detail"].startswith('get_stats {"commodity":"黄金","days":3} -> ')
    assert tools[0]["detail"].endswith(" bytes")


def test_results_are_bounded_in_rows_and_bytes(redis_server, fake_ai, data, room):
    h = Httpd(redis_server, name="data-bounds")
    h.reconfigure(f"""
ChatAIProvider deepseek openai {fake_ai.openai_base}
ChatAIKey deepseek test-key
ChatAIRateLimit 1000
{shape_conf("a", data, "unused")}
ChatAIToolRows 4
ChatAIToolBytes 1K
""")
    h.start()
    try:
        _, _, (hist, board) = explain_with_tools(h, fake_ai, room, [
            {"name": "get_history", "arguments": {"commodity": "rb", "days": 30}},
            {"name": "get_cross_section", "arguments": {"order": "asc"}}])
        # the newest bars kept, at most 4 and within 1 KB
        assert len(hist["rows"]) <= 4 and hist["truncated"] >= 26
        assert hist["rows"][-1]["time"] == "2026-11-27"
        assert len(json.dumps(hist, ensure_ascii=False).encode()) <= 1024 + 64
        assert [p["code"] for p in board["rows"]] == ["au", "lu", "rb"]
        # parallel calls: at most 32 in one answer
        fake_ai.reset()
        _, _, results = explain_with_tools(h, fake_ai, room, [
            {"name": "get_price", "arguments": {"commodity": "au"}}] * 33)
        assert all(r["code"] == "au" for r in results[:32])
        assert results[32] == {"error": "more than 32 tool calls in one answer"}
    finally:
        h.close()


@pytest.mark.parametrize("lines, name, words", [
    ("ChatDataSource x http://h/q?c={cod}", "ChatDataSource", "{cod}"),
    ("ChatDataSource x http://h/q?c={code", "ChatDataSource", "without its '}'"),
    ("ChatDataSource x ftp://h/q", "ChatDataSource", "not an http(s)"),
    ("ChatDataSource x http://h/q\nChatDataField x close=data..c", "ChatDataField",
     "empty step"),
    ("ChatDataSource x http://h/q\nChatDataField x time=t:unix-us", "ChatDataField",
     "'unix-us' is not a conversion"),
    ("ChatDataSource x http://h/q\nChatDataField x close", "ChatDataField",
     "field=path"),
    ("ChatDataSource x http://h/q\nChatDataRows x data[0]", "ChatDataRows", "not a path"),
    ("ChatDataSource x http://h/q\nChatDataField x c=c\nChatDataFilter x oi > 1",
     "ChatDataFilter", "not a mapped field"),
    ("ChatDataSource x http://h/q\nChatDataFilter x oi > many", "ChatDataFilter",
     "compares numbers"),
    ("ChatDataSource x http://h/q\nChatDataHeader x \"X-Key: env:NO_SUCH_VARIABLE_14\"",
     "ChatDataHeader", "NO_SUCH_VARIABLE_14"),
    ("ChatDataCache nosuch 10", "ChatDataCache", "no ChatDataSource named 'nosuch'"),
    ("ChatAITool quote nosuch", "ChatAITool", "no ChatDataSource named 'nosuch'"),
    ("ChatDataSource x http://h/q\nChatAITool prices x", "ChatAITool", "'prices'"),
    ('ChatJob j "* * * * *" chart lobby line source:nosuch "label=time"', "ChatJob",
     "no ChatDataSource named 'nosuch'"),
    ("ChatAIToolBytes 10", "ChatAIToolBytes", "10"),
])
def test_configtest_names_the_bad_data_directive(httpd, lines, name, words):
    rc, out = httpd.configtest(lines)
    assert rc != 0, f"configtest accepted {lines!r}"
    assert name in out and words in out, out
