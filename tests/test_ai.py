"""AI (issue 6) against a real httpd and redis, with tests/fake_ai.py standing
in for Gemini, OpenAI-compatible providers and a market-data source: the
request bodies, headers and models the module sends are asserted, including
the Beijing-time model window, fallbacks on 429/5xx, timeouts, image
allow-listing and size caps, tool calls in the room, and that chat keeps
flowing while 20 slow AI calls are in flight."""
import base64
import datetime
import io
import json
import subprocess
import time

import pytest
import requests
from PIL import Image, ImageChops

from chatclient import Chat, unique_room
from fake_ai import market_cross
from harness import ADMIN_SECRET, BUILD, ROOT, Httpd
from wsclient import WS, HandshakeRefused

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAGUlEQVR4nGP8z4APMOGVZRiV"
                       "HpUelR6VBgBGJAEfZ3nHlQAAAABJRU5ErkJggg==")


def beijing_window(inside):
    """An HH:MM-HH:MM window (Beijing time) that holds now, or one that does not."""
    now = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8)))
    start = now + datetime.timedelta(hours=-2 if inside else 3)
    end = now + datetime.timedelta(hours=2 if inside else 5)
    return f"{start:%H:%M}-{end:%H:%M}"


def zone_at(hh, mm):
    """A fixed ChatAITimeZone offset (+HH:MM) in which the time is now about hh:mm."""
    now = datetime.datetime.now(datetime.timezone.utc)
    off = (hh * 60 + mm - (now.hour * 60 + now.minute)) % 1440
    off = off - 1440 if off > 720 else off
    return f"{'-' if off < 0 else '+'}{abs(off) // 60:02d}:{abs(off) % 60:02d}"


@pytest.fixture(scope="module")
def fake(fake_ai):
    return fake_ai


@pytest.fixture(scope="module")
def ai(redis_server, fake):
    h = Httpd(redis_server, name="ai")
    (h.dir / "htdocs" / "allowed").mkdir()
    (h.dir / "htdocs" / "allowed" / "chart.png").write_bytes(PNG)
    (h.dir / "htdocs" / "allowed" / "big.png").write_bytes(PNG + b"\0" * 4096)
    (h.dir / "htdocs" / "other.png").write_bytes(PNG)
    h.reconfigure(f"""
ChatAIProvider deepseek openai {fake.openai_base}
ChatAIKey deepseek test-key
ChatAIModel deepseek deepseek-chat deepseek-fallback
ChatAIModelWindow deepseek {beijing_window(True)} deepseek-reasoner
ChatAIProvider kimi openai {fake.openai_base}
ChatAIKey kimi test-key
ChatAIModel kimi kimi-k2
ChatAIModelWindow kimi {beijing_window(False)} kimi-thinking
ChatAIProvider gemini gemini {fake.gemini_base}
ChatAIKey gemini file:{h.dir}/conf/gemini.key
ChatAIModel gemini gemini-2.5-flash
ChatAIExplainProvider deepseek
ChatAIDescribeProvider gemini
ChatAITimeout 6
ChatAIMaxImageSize 4K
ChatAIImageAllow http://127.0.0.1:{h.port}/allowed/
ChatAIRateLimit 100
ChatAIThreads 20
ChatAIMarketData {fake.url}/market
ChatDataSource desk_board {fake.url}/market/cross
ChatDataRows desk_board rows
ChatAITool board desk_board
""")
    (h.dir / "conf" / "gemini.key").write_text("test-key\n")
    h.start()
    yield h
    h.close()


@pytest.fixture
def room(redis_server):
    name = unique_room("ai")
    redis_server.client().sadd(f"chat:room:{name}:members", "alice", "bob")
    return name


@pytest.fixture(autouse=True)
def clean(fake):
    fake.reset()


def post(h, what, body, user="alice", raw=None):
    return requests.post(h.url(f"/chat/ai/{what}?username={user}"), timeout=30,
                         data=raw if raw is not None else json.dumps(body),
                         headers={"Content-Type": "application/json"})


def test_not_configured_gives_a_clear_error(httpd):
    r = requests.post(httpd.url("/chat/ai/explain?username=alice"), json={"text": "x"}, timeout=5)
    assert r.status_code == 503
    assert r.json()["code"] == "ai_unavailable"
    assert "not configured" in r.json()["error"]


def test_explain_sends_the_openai_shape(ai, fake, room):
    r = post(ai, "explain", {"text": "央行降准0.5个百分点", "roomName": room})
    assert r.status_code == 200, r.text
    j = r.json()
    # the Beijing-time window holding now picks the reasoning model
    assert j["provider"] == "deepseek" and j["model"] == "deepseek-reasoner"
    assert j["explanation"].startswith("fake-openai(deepseek-reasoner): 央行降准")
    (req,) = fake.requests(kind="openai")
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["authorization"] == "Bearer test-key"
    body = req["body"]
    assert body["model"] == "deepseek-reasoner" and body["stream"] is False
    assert body["messages"][0]["role"] == "system" and "explain" in body["messages"][0]["content"]
    assert body["messages"][1] == {"role": "user", "content": "央行降准0.5个百分点"}


def test_explain_with_a_named_provider(ai, fake, room):
    r = post(ai, "explain", {"text": "原油库存", "roomName": room, "model": "gemini"})
    assert r.status_code == 200 and r.json()["provider"] == "gemini"
    assert fake.requests(kind="gemini")[0]["path"].endswith("gemini-2.5-flash:generateContent")
    r = post(ai, "explain", {"text": "x", "roomName": room, "model": "gpt-9"})
    assert r.status_code == 400 and r.json()["code"] == "unknown_model"


def test_model_outside_its_window_is_the_default(ai, fake, room):
    c = Chat(ai.port, room, "alice")
    c.send("kimi_chat", text="hello kimi")
    answer = [m for m in c.chats(3, timeout=15) if m["username"] == "kimi"][-1]
    assert answer["model"] == "kimi-k2"
    assert [r["body"]["model"] for r in fake.requests(kind="openai")] == ["kimi-k2"]
    c.close()


def test_explain_refusals(ai, fake, room):
    assert post(ai, "explain", {"text": "x", "roomName": room}, user="mallory").status_code == 403
    assert post(ai, "explain", {"text": "x", "roomName": "no/such"}).status_code == 400
    assert post(ai, "explain", {"roomName": room}).status_code == 400
    assert post(ai, "explain", None, raw="{not json").status_code == 400
    r = requests.post(ai.url("/chat/ai/explain"), json={"text": "x", "roomName": room}, timeout=5)
    assert r.status_code == 400  # no identity in query mode
    assert requests.get(ai.url("/chat/ai/explain?username=alice"), timeout=5).status_code == 405
    assert post(ai, "summarise", {"text": "x", "roomName": room}).status_code == 404
    assert fake.requests(kind="openai") == []  # nothing refused reached the provider


def test_per_user_rate_limit(ai, fake, redis_server, room):
    redis_server.client().sadd(f"chat:room:{room}:members", "ratey")
    codes = [post(ai, "explain", {"text": f"q{i}", "roomName": room}, user="ratey").status_code
             for i in range(101)]  # ChatAIRateLimit 100 (per minute, all servers)
    if codes[-1] == 200:  # the minute turned during the loop: the count restarted
        codes = [post(ai, "explain", {"text": f"r{i}", "roomName": room},
                      user="ratey").status_code for i in range(101)]
    assert codes.count(429) >= 1 and codes[0] == 200
    r = post(ai, "explain", {"text": "one more", "roomName": room}, user="ratey")
    assert r.status_code == 429 and r.json()["code"] == "rate_limited"
    assert r.headers["Retry-After"] == "60"
    # other users are not affected
    assert post(ai, "explain", {"text": "mine", "roomName": room}, user="bob").status_code == 200


def test_fallback_model_after_429_and_5xx(ai, fake, room):
    for status in (429, 503):
        fake.reset()
        fake.script([{"kind": "openai", "status": status}])
        r = post(ai, "explain", {"text": "quota", "roomName": room})
        assert r.status_code == 200, r.text
        assert r.json()["model"] == "deepseek-fallback"
        assert [q["body"]["model"] for q in fake.requests(kind="openai")] == [
            "deepseek-reasoner", "deepseek-fallback"]


def test_provider_errors_are_reported(ai, fake, room):
    fake.script([{"kind": "openai", "status": 500, "message": "boom"},
                 {"kind": "openai", "status": 500, "message": "boom again"}])
    r = post(ai, "explain", {"text": "x", "roomName": room})
    assert r.status_code == 502
    assert r.json()["code"] == "ai_error" and "boom again" in r.json()["error"]


def test_timeout_falls_back_then_reports(ai, fake, room):
    # ChatAITimeout 6: a stuck model gives way to the fallback...
    fake.script([{"kind": "openai", "delay": 30, "text": "late"},
                 {"kind": "openai", "text": "on time"}])
    r = post(ai, "explain", {"text": "slow", "roomName": room})
    assert r.status_code == 200 and r.json()["model"] == "deepseek-fallback"
    assert r.json()["explanation"] == "on time"
    # ...and without a fallback (kimi) the room hears that no answer came in time
    fake.script([{"kind": "openai", "delay": 30, "text": "late"}])
    a = Chat(ai.port, room, "alice")
    a.send("kimi_chat", text="are you there?")
    answer = a.chats(3, timeout=20)[-1]
    assert answer["error"] is True and "no answer in time" in answer["text"]
    a.close()


def test_describe_own_upload_sends_inline_data(ai, fake, room):
    up = requests.post(ai.url(f"/chat/upload?room={room}&username=alice"), data=PNG,
                       headers={"Content-Type": "image/png"}, timeout=5)
    assert up.status_code == 201, up.text
    r = post(ai, "describe-image", {"imageUrl": up.json()["url"], "roomName": room})
    assert r.status_code == 200, r.text
    assert r.json()["provider"] == "gemini" and r.json()["model"] == "gemini-2.5-flash"
    (req,) = fake.requests(kind="gemini")
    assert req["path"] == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert req["headers"]["x-goog-api-key"] == "test-key"  # read from ChatAIKey file:
    parts = req["body"]["contents"][0]["parts"]
    assert {"inline_data": {"mime_type": "image/png",
                            "data": base64.b64encode(PNG).decode()}} in parts
    assert "transcribe" in req["body"]["systemInstruction"]["parts"][0]["text"]


def test_describe_allow_list_and_size_cap(ai, fake, room):
    ok = post(ai, "describe-image", {"imageUrl": ai.url("/allowed/chart.png"), "roomName": room})
    assert ok.status_code == 200, ok.text
    for url, status, code in [
        (ai.url("/other.png"), 403, "image_not_allowed"),
        ("http://169.254.169.254/latest/meta-data", 403, "image_not_allowed"),
        ("file:///etc/passwd", 403, "image_not_allowed"),
        ("/chat/files/../../etc/passwd", 404, "not_found"),  # not an upload name
        (ai.url("/allowed/.."), 403, "image_not_allowed"),
        (ai.url("/allowed/%2e%2e/other.png"), 403, "image_not_allowed"),
        (ai.url("/allowed/.%2E/other.png"), 403, "image_not_allowed"),
        (ai.url("/allowed/./../other.png"), 403, "image_not_allowed"),
        (ai.url("/allowed/%2F..%2Fother.png"), 403, "image_not_allowed"),
        (ai.url("/allowed-not/chart.png"), 403, "image_not_allowed"),
        ("http://user@127.0.0.1:1/allowed/chart.png", 403, "image_not_allowed"),
        (ai.url("/allowed/big.png"), 413, "too_large"),
    ]:
        r = post(ai, "describe-image", {"imageUrl": url, "roomName": room})
        assert (r.status_code, r.json()["code"]) == (status, code), url
    assert len(fake.requests(kind="gemini")) == 1  # only the allowed one went out


def test_room_bot_with_a_tool_call(ai, fake, room):
    fake.script([{"kind": "openai", "tool_call": {"name": "get_stats",
                                                  "arguments": {"commodity": "螺纹钢", "days": 10}}},
                 {"kind": "openai", "text": "螺纹钢10天最高价为 **3600**"}])
    a, b = Chat(ai.port, room, "alice"), Chat(ai.port, room, "bob")
    a.say("早上好")
    # stored before the question: the AI thread posts on its own Redis
    # connection and could otherwise overtake the socket's post
    for c in (a, b):
        assert c.chats(1)[0]["text"] == "早上好"
    a.send("deepseek_chat", text="螺纹钢最近10天最高价是多少？")
    for c in (a, b):
        question, thinking, answer = c.chats(3, timeout=15)
        assert question["username"] == "alice" and question["text"].startswith("螺纹钢")
        assert thinking["username"] == "deepseek" and thinking["bot"] is True
        assert thinking["text"] == "thinking…"
        assert answer["id"] == thinking["id"] and answer["seq"] > thinking["seq"]
        assert answer["text"] == "螺纹钢10天最高价为 **3600**"
    first, second = fake.requests(kind="openai")
    # ChatAIMarketData's quote and history sources and the desk's board serve these tools
    assert [t["function"]["name"] for t in first["body"]["tools"]] == [
        "get_price", "get_history", "get_stats", "get_cross_section", "market_query",
        "draw_chart"]
    # the room's recent history is the context, the question last
    users = [m["content"] for m in first["body"]["messages"] if m["role"] == "user"]
    assert users[-2:] == ["alice: 早上好", "alice: 螺纹钢最近10天最高价是多少？"]
    tool = second["body"]["messages"][-1]
    assert tool["role"] == "tool" and tool["tool_call_id"] == "call_1"
    stats = json.loads(tool["content"])
    assert stats["code"] == "rb" and stats["days"] == 10 and stats["highest"] >= stats["lowest"]
    (market,) = fake.requests(kind="market")
    assert market["path"] == "/market/history"
    assert market["query"] == {"code": "rb", "days": "10"}
    # history: the answer once, the placeholder gone
    a.send("history")
    texts = [m["text"] for m in a.expect("history")["messages"]]
    assert texts.count("thinking…") == 0 and texts.count("螺纹钢10天最高价为 **3600**") == 1
    a.close()
    b.close()


def test_gemini_in_the_room_with_a_function_call(ai, fake, room):
    fake.script([{"kind": "gemini", "tool_call": {"name": "get_price",
                                                  "arguments": {"commodity": "黄金"}}},
                 {"kind": "gemini", "text": "黄金现价见上"}])
    a = Chat(ai.port, room, "alice")
    a.send("gemini_chat", text="黄金多少钱")
    answer = a.chats(3, timeout=15)[-1]
    assert answer["username"] == "gemini" and answer["text"] == "黄金现价见上"
    first, second = fake.requests(kind="gemini")
    assert first["body"]["tools"][0]["functionDeclarations"][0]["name"] == "get_price"
    fr = second["body"]["contents"][-1]["parts"][0]["functionResponse"]
    assert fr["name"] == "get_price" and fr["response"]["code"] == "au"
    a.close()


def test_tool_names_resolve_through_the_product_table(ai, fake, room):
    """The longest alias wins (低硫燃料油 is lu, not fu), a contract passes
    through to the source, an ambiguous alias comes back as a question."""
    fake.script([{"kind": "openai", "tool_call": {"name": "get_price",
                                                  "arguments": {"commodity": "低硫燃料油"}}},
                 {"kind": "openai", "tool_call": {"name": "get_price",
                                                  "arguments": {"commodity": "rb2505"}}},
                 {"kind": "openai", "tool_call": {"name": "get_price",
                                                  "arguments": {"commodity": "大豆"}}},
                 {"kind": "openai", "tool_call": {"name": "market_query",
                                                  "arguments": {"question": "国债最近5天"}}},
                 {"kind": "openai", "text": "请问是豆一还是豆二？"}])
    a = Chat(ai.port, room, "alice")
    a.send("deepseek_chat", text="低硫燃料油、rb2505 和大豆多少钱")
    answer = a.chats(3, timeout=15)[-1]["text"]
    # the model's question, and the sentence of the source that knows no rb2505
    assert answer.split("\n")[0] == "请问是豆一还是豆二？"
    assert answer.endswith("⚠️ Data: the data source 'market_quote' answered HTTP 404.")
    assert [m["query"]["code"] for m in fake.requests(kind="market")] == ["lu", "rb2505"]
    soy, bonds = (r["body"]["messages"][-1] for r in fake.requests(kind="openai")[-2:])
    assert soy["role"] == "tool" and bonds["role"] == "tool"
    assert json.loads(soy["content"]) == {
        "error": "'大豆' could be 黄大豆1号 (a, DCE), 黄大豆2号 (b, DCE). Which one is meant?"}
    assert json.loads(bonds["content"])["error"].startswith("'国债' could be 10年期国债期货 (T, CFFEX),")
    a.close()


@pytest.mark.parametrize("line", ["ChatAIProducts /nonexistent/products.tsv",
                                  "ChatAIProducts {ROOT}/data/holidays-cn.txt",
                                  "<VirtualHost 127.0.0.1:1>\nChatAIProducts {ROOT}/data/products.tsv"
                                  "\n</VirtualHost>"])
def test_configtest_names_a_bad_product_table(httpd, line):
    httpd.assert_configtest_refuses(line.format(ROOT=ROOT), "ChatAIProducts")


CHART_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


def room_log(h, room):
    return requests.get(h.url(f"/chat-admin/api/rooms/{room}/log"), timeout=5,
                        headers={"Authorization": f"Bearer {ADMIN_SECRET}"}).json()["entries"]


def fetch_png(h, url):
    r = requests.get(h.url(url), timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"
    img = Image.open(io.BytesIO(r.content))
    img.load()
    return img


def test_draw_chart_posts_a_png_in_the_room(ai, fake, room):
    """deepseek_chat (OpenAI shape): the model calls draw_chart, the server
    renders the candles with libgd and the room gets an image message from the
    bot before the answer; the tool's result tells the model it was posted."""
    fake.script([{"kind": "openai", "tool_call": {
                     "name": "draw_chart",
                     "arguments": {"kind": "candle", "commodity": "螺纹钢", "days": 30}}},
                 {"kind": "openai", "text": "螺纹钢近30日K线已贴出"}])
    a, b = Chat(ai.port, room, "alice"), Chat(ai.port, room, "bob")
    a.send("deepseek_chat", text="画一下螺纹钢最近30天的K线")
    for c in (a, b):
        question, thinking, chart, answer = c.chats(4, timeout=20)
        assert question["username"] == "alice" and thinking["text"] == "thinking…"
        assert chart["type"] == "image" and chart["username"] == "deepseek"
        assert chart["bot"] is True and chart["seq"] > thinking["seq"]
        assert chart["imageUrl"].startswith("/chat/files/") and chart["imageUrl"].endswith(".png")
        assert chart["caption"] == "螺纹钢 rb 日K线（近30个交易日）"
        assert answer["id"] == thinking["id"] and answer["text"] == "螺纹钢近30日K线已贴出"
    img = fetch_png(ai, chart["imageUrl"])
    assert img.format == "PNG" and img.size == (800, 500)
    assert chart["size"] == len(requests.get(ai.url(chart["imageUrl"]), timeout=5).content)
    (market,) = fake.requests(kind="market")
    assert market["path"] == "/market/history" and market["query"] == {"code": "rb", "days": "30"}
    first, second = fake.requests(kind="openai")
    decl = [t["function"] for t in first["body"]["tools"] if t["function"]["name"] == "draw_chart"]
    assert decl and decl[0]["parameters"]["properties"]["kind"]["enum"] == [
        "line", "bar_line", "candle", "pie", "cross_section", "treemap", "scatter",
        "scatter_color"]
    tool = second["body"]["messages"][-1]
    assert tool["role"] == "tool" and "posted in the room" in json.loads(tool["content"])["posted"]
    entries = [e for e in room_log(ai, room) if e["event"].startswith("draw_chart")]
    assert entries[0]["event"] == "draw_chart" and entries[0]["username"] == "deepseek"
    assert "candle of 螺纹钢 (rb), 30 rows" in entries[0]["detail"]
    a.close()
    b.close()


@pytest.mark.parametrize("kind, title, mapping", [
    ("pie", "今日涨跌分布", "items=rows label=name value=change"),
    ("cross_section", "各品种涨跌幅（相对结算价）",
     "items=rows label=name price=close settle=settle y_unit=涨跌幅%"),
    ("scatter_color", "涨跌幅与持仓变化（颜色为成交量）",
     "items=rows label=name x=change y=oi_change color=volume x_unit=涨跌幅% "
     "y_unit=持仓变化% color_unit=成交量"),
])
def test_draw_chart_of_todays_market(ai, fake, room, kind, title, mapping, tmp_path):
    """The desk's charts over today's market (the board source, desk_board):
    the picture in the room is what tools/chat_chart draws from the same rows."""
    fake.script([{"kind": "openai", "tool_call": {"name": "draw_chart",
                                                  "arguments": {"kind": kind}}},
                 {"kind": "openai", "text": "ok"}])
    a = Chat(ai.port, room, "alice")
    a.send("deepseek_chat", text="今天市场")
    _, _, chart, _ = a.chats(4, timeout=20)
    assert chart["type"] == "image" and chart["caption"] == title
    (market,) = fake.requests(kind="market")
    assert market["path"] == "/market/cross"
    rows = tmp_path / "cross.json"
    rows.write_text(json.dumps(market_cross(), ensure_ascii=False))
    expected = tmp_path / "expected.png"
    subprocess.run([str(BUILD / "tools" / "chat_chart"), kind, "800x500", CHART_FONT, str(rows),
                    mapping, str(expected), title], check=True, timeout=60)
    got = fetch_png(ai, chart["imageUrl"]).convert("RGB")
    diff = ImageChops.difference(got, Image.open(expected).convert("RGB")).convert("L")
    assert sum(diff.histogram()[48:]) / float(got.width * got.height) < 0.005
    a.close()


def test_draw_chart_with_gemini(ai, fake, room):
    fake.script([{"kind": "gemini", "tool_call": {
                     "name": "draw_chart",
                     "arguments": {"kind": "line", "commodity": "au", "days": 20,
                                   "title": "黄金收盘价"}}},
                 {"kind": "gemini", "text": "见上图"}])
    a = Chat(ai.port, room, "alice")
    a.send("gemini_chat", text="黄金走势图")
    _, _, chart, answer = a.chats(4, timeout=20)
    assert chart["type"] == "image" and chart["username"] == "gemini"
    assert chart["caption"] == "黄金收盘价" and answer["text"] == "见上图"
    assert fetch_png(ai, chart["imageUrl"]).size == (800, 500)
    first, second = fake.requests(kind="gemini")
    names = [f["name"] for f in first["body"]["tools"][0]["functionDeclarations"]]
    assert "draw_chart" in names
    fr = second["body"]["contents"][-1]["parts"][0]["functionResponse"]
    assert fr["name"] == "draw_chart" and "posted" in fr["response"]
    a.close()


def test_draw_chart_from_explain_posts_in_the_room_of_the_question(ai, fake, room):
    """Explain offers draw_chart too: the chart goes to the room the question
    names (its members see it) and the explanation lists its URL."""
    fake.script([{"kind": "openai", "tool_call": {
                     "name": "draw_chart",
                     "arguments": {"kind": "line", "commodity": "沪铜", "days": 15}}},
                 {"kind": "openai", "text": "铜价走势见图"}])
    b = Chat(ai.port, room, "bob")
    r = post(ai, "explain", {"text": "铜价最近怎么走的", "roomName": room})
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["explanation"] == "铜价走势见图" and len(j["charts"]) == 1
    chart = b.chats(1, timeout=10)[0]
    assert chart["type"] == "image" and chart["username"] == "deepseek" and chart["bot"] is True
    assert chart["imageUrl"] == j["charts"][0]
    assert fetch_png(ai, chart["imageUrl"]).size == (800, 500)
    first = fake.requests(kind="openai")[0]["body"]
    assert "draw_chart" in [t["function"]["name"] for t in first["tools"]]
    (market,) = fake.requests(kind="market")
    assert market["query"] == {"code": "cu", "days": "15"}
    entries = [e for e in room_log(ai, room) if e["event"] == "draw_chart"]
    assert entries and entries[0]["username"] == "deepseek"
    # describe-image has no tools; an explanation without a chart has no "charts"
    fake.script([{"kind": "openai", "text": "无图"}])
    assert "charts" not in post(ai, "explain", {"text": "x", "roomName": room}).json()
    b.close()


def test_draw_chart_failing_source_is_a_clear_bot_message(ai, fake, room):
    fake.script([{"kind": "market", "status": 503, "message": "maintenance"},
                 {"kind": "openai", "tool_call": {
                     "name": "draw_chart",
                     "arguments": {"kind": "line", "commodity": "原油", "days": 10}}},
                 {"kind": "openai", "text": "数据源暂不可用"}])
    a = Chat(ai.port, room, "alice")
    a.send("deepseek_chat", text="原油10天走势图")
    _, thinking, notice, answer = a.chats(4, timeout=20)
    assert notice["type"] == "text" and notice["username"] == "deepseek"
    assert notice["error"] is True
    # the history source's own sentence (ChatAIMarketData's market_history)
    sentence = "the data source 'market_history' answered HTTP 503"
    assert notice["text"] == "⚠️ Chart not drawn: " + sentence
    assert answer["id"] == thinking["id"]
    tool = fake.requests(kind="openai")[1]["body"]["messages"][-1]
    assert json.loads(tool["content"]) == {"error": sentence}
    a.send("history")
    assert not [m for m in a.expect("history")["messages"] if m["type"] == "image"]
    entries = [e for e in room_log(ai, room) if e["event"].startswith("draw_chart")]
    assert entries[0]["event"] == "draw_chart_failed"
    assert entries[0]["detail"] == sentence
    a.close()


def test_draw_chart_is_bounded(ai, fake, room):
    """At most 250 rows (a year of trading days); one chart per call and at
    most three per question; refused calls fetch nothing; a title of at most
    120 bytes."""
    calls = [{"name": "draw_chart", "arguments": {"kind": "bar_line", "commodity": "铜",
                                                  "days": 5}} for _ in range(4)]
    calls[0]["arguments"]["title"] = "长" * 41  # over 120 bytes: the default title instead
    fake.script([{"kind": "openai", "tool_call": {
                     "name": "draw_chart",
                     "arguments": {"kind": "line", "commodity": "铜", "days": 400}}},
                 {"kind": "openai", "tool_calls": calls},
                 {"kind": "openai", "text": "done"}])
    a = Chat(ai.port, room, "alice")
    a.send("deepseek_chat", text="铜")
    msgs = a.chats(2 + 1 + 3 + 1 + 1, timeout=30)
    assert [m["caption"] for m in msgs if m["type"] == "image"] == [
        "铜 cu 成交量与收盘价（近5个交易日）"] * 3
    assert [m["text"] for m in msgs if m.get("error")] == [
        "⚠️ Chart not drawn: days must be 2 to 250",
        "⚠️ Chart not drawn: at most 3 charts per question"]
    assert msgs[-1]["text"] == "done"
    assert len(fake.requests(kind="market")) == 3
    third = fake.requests(kind="openai")[2]["body"]["messages"]
    results = [json.loads(m["content"]) for m in third if m["role"] == "tool"]
    assert [("posted" in r) for r in results] == [False, True, True, True, False]
    a.close()


def test_room_bot_failure_is_a_clear_message(ai, fake, room):
    fake.script([{"kind": "openai", "status": 500, "message": "down"},
                 {"kind": "openai", "status": 500, "message": "still down"}])
    a = Chat(ai.port, room, "alice")
    a.send("deepseek_chat", text="hello?")
    answer = a.chats(3, timeout=15)[-1]
    assert answer["error"] is True and answer["text"].startswith("⚠️ AI error")
    assert "still down" in answer["text"]
    a.send("deepseek_chat", text=" ")
    assert a.expect("error")["code"] == "invalid"
    a.send("nosuch_chat", text="hi")
    assert a.expect("error")["code"] == "ai_unavailable"
    a.close()


def test_chat_flows_while_20_slow_ai_calls_are_in_flight(ai, fake, room):
    fake.script([{"kind": "openai", "delay": 3, "text": f"slow {i}"} for i in range(20)])
    a, b = Chat(ai.port, room, "alice"), Chat(ai.port, room, "bob")
    for i in range(20):
        a.send("deepseek_chat", text=f"question {i}")
    fake.wait_for_requests(20, timeout=20, kind="openai")
    b.say("still here")
    # bob's message arrives while every AI call is still waiting for its answer
    while True:
        m = b.expect("chat", timeout=5)
        if m["text"] == "still here":
            break
    assert all(r["done"] is None for r in fake.requests(kind="openai"))
    answers = set()
    while len(answers) < 20:
        m = a.expect("chat", timeout=20)
        if m["username"] == "deepseek" and m["text"] != "thinking…":
            answers.add(m["text"])
    assert answers == {f"slow {i}" for i in range(20)}
    a.close()
    b.close()


def test_usage_is_counted_in_stats(ai, fake, room):
    assert post(ai, "explain", {"text": "count me", "roomName": room}, user="bob").status_code == 200
    stats = requests.get(ai.url("/chat-admin/api/stats"), timeout=5,
                         headers={"Authorization": f"Bearer {ADMIN_SECRET}"}).json()
    assert stats["ai"]["users"]["bob"]["requests"] >= 1
    assert stats["ai"]["users"]["bob"]["tokens"] > 0
    assert stats["ai"]["rooms"][room]["tokens"] > 0


@pytest.mark.parametrize("line, name", [
    ("ChatAIProvider x foo http://127.0.0.1/", "ChatAIProvider"),
    ("ChatAIProvider x openai ftp://127.0.0.1/", "ChatAIProvider"),
    ("ChatAIKey nobody key", "ChatAIKey"),
    ("ChatAIProvider d openai http://h/v1\nChatAIKey d env:CHAT_TEST_UNSET_VARIABLE", "ChatAIKey"),
    ("ChatAIProvider d openai http://h/v1\nChatAIKey d file:/nonexistent/key", "ChatAIKey"),
    ("ChatAIProvider d openai http://h/v1\nChatAIModelWindow d 25:00-01:00 m", "ChatAIModelWindow"),
    ("ChatAIProvider d openai http://h/v1\nChatAITimeZone d Mars/Olympus", "ChatAITimeZone"),
    ("ChatAIExplainProvider nobody", "ChatAIExplainProvider"),
    ("ChatAITimeout 0", "ChatAITimeout"),
    ("ChatAIMaxImageSize 10", "ChatAIMaxImageSize"),
    ("ChatAIImageAllow ftp://x/", "ChatAIImageAllow"),
    ("ChatAIImageAllow https://charts.example.com/img", "ChatAIImageAllow"),
    ("ChatAIRateLimit many", "ChatAIRateLimit"),
    ("ChatAIThreads 0", "ChatAIThreads"),
    ("ChatAIMarketData nope", "ChatAIMarketData"),
])
def test_configtest_names_the_bad_ai_directive(httpd, line, name):
    httpd.assert_configtest_refuses(line, name)


def test_browser_explain_and_ask(ai, fake, room):
    out = subprocess.run(["node", str(ROOT / "tests" / "browser" / "chat_ai.mjs"), str(ai.port),
                          room, "configured", str(ROOT / "test-artifacts" / "chat")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "chat ai: ok" in out.stdout


@pytest.mark.parametrize("name", ["deepseek", "Gemini", "system"])
def test_names_of_bots_and_the_system_are_refused_at_join(ai, redis_server, name):
    # a member who took a bot's name could pass for it, or (before bot
    # messages had an owner of their own) delete its answers
    room = unique_room("ai")
    redis_server.client().sadd(f"chat:room:{room}:members", name)
    with pytest.raises(HandshakeRefused) as e:
        WS.connect(ai.port, path=f"/chat/{room}?username={name}")
    assert e.value.status == 403
    assert "reserved for a bot or the system" in ai.log()


@pytest.mark.parametrize("local, window, model", [
    ((4, 30), "", "deepseek-reasoner"),      # inside 00:30-08:30: the default window
    ((16, 30), "", "deepseek-chat"),         # outside it
    ((4, 30), "ChatAIModelWindow deepseek off", "deepseek-chat"),
    ((4, 30), "ChatAIModelWindow deepseek 12:00-13:00 deepseek-reasoner", "deepseek-chat"),
])
def test_deepseek_gets_the_off_peak_model_by_default(redis_server, fake, local, window, model):
    # No ChatAIModelWindow: a provider named deepseek follows DeepSeek's
    # Beijing-time rule; a configured window replaces it, "off" removes it.
    # The provider's zone is set so that its clock reads `local` now.
    h = Httpd(redis_server, name="dsdefault")
    h.reconfigure(f"""
ChatAIProvider deepseek openai {fake.openai_base}
ChatAIKey deepseek test-key
ChatAITimeZone deepseek {zone_at(*local)}
ChatAIRateLimit 0
{window}
""")
    name = unique_room("ds")
    redis_server.client().sadd(f"chat:room:{name}:members", "alice")
    h.start()
    try:
        r = post(h, "explain", {"text": "央行降准", "roomName": name})
        assert r.status_code == 200, r.text
        assert r.json()["model"] == model
        assert [q["body"]["model"] for q in fake.requests(kind="openai")] == [model]
    finally:
        h.close()
