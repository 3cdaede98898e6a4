"""Streamed AI answers in rooms (issue 15): the provider streams (OpenAI
chunks, Gemini alt=sse) from tests/fake_ai.py with a scripted delay between
chunks; every member sees the bot message grow through not-stored
`ai_partial` updates, then the complete answer once; tool calls keep working
while streaming in both API shapes; `@alias question` asks a provider, an
unknown `@word` is a plain message; ChatAIStream off and ChatAIAlias."""
import json
import subprocess

import pytest

from chatclient import Chat, unique_room
from harness import ROOT, Httpd

CHUNKS = ["Copper ", "stocks ", "fell ", "for a ", "third ", "week."]


@pytest.fixture(scope="module")
def fake(fake_ai):
    return fake_ai


@pytest.fixture(scope="module")
def ai(redis_server, fake):
    h = Httpd(redis_server, name="aistream")
    h.reconfigure(f"""
ChatAIProvider deepseek openai {fake.openai_base}
ChatAIKey deepseek test-key
ChatAIModel deepseek deepseek-chat
ChatAIModelWindow deepseek off
ChatAIProvider kimi openai {fake.openai_base}
ChatAIKey kimi test-key
ChatAIModel kimi kimi-k2
ChatAIAlias kimi km moon
ChatAIProvider gemini gemini {fake.gemini_base}
ChatAIKey gemini test-key
ChatAIProvider plain openai {fake.openai_base}
ChatAIModel plain plain-model
ChatAIKey plain test-key
ChatAIStream plain off
ChatAIStreamInterval 100
ChatAIRateLimit 100
ChatAIMarketData {fake.url}/market
""")
    h.start()
    yield h
    h.close()


@pytest.fixture
def room(redis_server):
    name = unique_room("ais")
    redis_server.client().sadd(f"chat:room:{name}:members", "alice", "bob")
    return name


@pytest.fixture(autouse=True)
def clean(fake):
    fake.reset()


def growing(partials, bot_id):
    """The texts of bot_id's updates; each one extends the one before."""
    texts = [p["text"] for p in partials if p["id"] == bot_id]
    for a, b in zip(texts, texts[1:]):
        assert b.startswith(a) and len(b) > len(a), texts
    return texts


def history_texts(chat):
    chat.send("history")
    return [m["text"] for m in chat.expect("history")["messages"]]


@pytest.mark.parametrize("kind,send", [("openai", "deepseek_chat"), ("gemini", "gemini_chat")])
def test_a_streamed_answer_grows_then_is_stored_once(ai, fake, room, kind, send):
    fake.script([{"kind": kind, "chunks": CHUNKS, "chunk_delay": 0.3}])
    a, b = Chat(ai.port, room, "alice"), Chat(ai.port, room, "bob")
    a.send(send, text="copper?")
    for c in (a, b):
        question, thinking, answer = c.chats(3, timeout=20)
        assert question["text"] == "copper?" and thinking["text"] == "thinking…"
        assert answer["id"] == thinking["id"] and answer["text"] == "".join(CHUNKS)
        texts = growing(c.partials, thinking["id"])
        # one update per chunk the provider sent (0.3 s apart, updates at most every 0.1 s)
        assert len(texts) >= 3, texts
        assert "".join(CHUNKS).startswith(texts[-1])
    (req,) = fake.requests(kind=kind)
    if kind == "openai":
        assert req["body"]["stream"] is True
        assert req["body"]["stream_options"] == {"include_usage": True}
    else:
        assert req["path"].endswith(":streamGenerateContent") and req["query"] == {"alt": "sse"}
    # stored once, complete; the updates were never stored
    texts = history_texts(a)
    assert texts.count("".join(CHUNKS)) == 1
    assert not [t for t in texts if t != "".join(CHUNKS) and "".join(CHUNKS).startswith(t) and t]
    assert "thinking…" not in texts
    a.close()
    b.close()


def test_updates_stop_past_64k_but_the_answer_is_whole(ai, fake, room):
    big = ["a" * 40000, "b" * 40000, "c" * 10]
    fake.script([{"kind": "openai", "chunks": big, "chunk_delay": 0.3}])
    a = Chat(ai.port, room, "alice")
    a.send("deepseek_chat", text="long")
    answer = a.chats(3, timeout=20)[-1]
    assert answer["text"] == "".join(big)
    # the first update (40000 bytes) went; none past CHAT_AI_PARTIAL_MAX (64 KiB)
    assert [len(t) for t in growing(a.partials, answer["id"])] == [40000]
    a.close()


def test_stream_interval_bounds_the_updates(redis_server, fake, room):
    h = Httpd(redis_server, name="aislow")
    h.reconfigure(f"""
ChatAIProvider deepseek openai {fake.openai_base}
ChatAIKey deepseek test-key
ChatAIStreamInterval 10000
""")
    h.start()
    try:
        fake.script([{"kind": "openai", "chunks": CHUNKS, "chunk_delay": 0.2}])
        a = Chat(h.port, room, "alice")
        a.send("deepseek_chat", text="copper?")
        answer = a.chats(3, timeout=20)[-1]
        assert answer["text"] == "".join(CHUNKS)
        # six chunks within 10 s: the first text goes at once, no other update
        assert [p["text"] for p in a.partials] == [CHUNKS[0]]
        a.close()
    finally:
        h.close()


def test_openai_tool_calls_while_streaming(ai, fake, room):
    fake.script([{"kind": "openai", "tool_call": {"name": "get_price",
                                                  "arguments": {"commodity": "螺纹钢"}},
                  "chunk_delay": 0.05},
                 {"kind": "openai", "chunks": ["螺纹钢", "现价", "3520"], "chunk_delay": 0.3}])
    a = Chat(ai.port, room, "alice")
    a.send("deepseek_chat", text="螺纹钢多少钱")
    answer = a.chats(3, timeout=20)[-1]
    assert answer["text"] == "螺纹钢现价3520"
    first, second = fake.requests(kind="openai")
    assert first["body"]["stream"] is True and second["body"]["stream"] is True
    # the call assembled from its streamed pieces went back with the tool's answer
    call = second["body"]["messages"][-2]["tool_calls"][0]
    assert call["function"]["name"] == "get_price"
    assert json.loads(call["function"]["arguments"]) == {"commodity": "螺纹钢"}
    tool = second["body"]["messages"][-1]
    assert tool["role"] == "tool" and tool["tool_call_id"] == call["id"]
    assert json.loads(tool["content"])["code"] == "rb"
    assert growing(a.partials, answer["id"])[-1] == "螺纹钢现价3520"
    a.close()


def test_gemini_function_calls_while_streaming(ai, fake, room):
    fake.script([{"kind": "gemini", "tool_call": {"name": "get_price",
                                                  "arguments": {"commodity": "黄金"}}},
                 {"kind": "gemini", "chunks": ["黄金", "现价", "612.36"], "chunk_delay": 0.3}])
    a = Chat(ai.port, room, "alice")
    a.send("gemini_chat", text="黄金多少钱")
    answer = a.chats(3, timeout=20)[-1]
    assert answer["text"] == "黄金现价612.36"
    first, second = fake.requests(kind="gemini")
    assert all(r["path"].endswith(":streamGenerateContent") for r in (first, second))
    assert second["body"]["contents"][-2]["parts"][0]["functionCall"]["name"] == "get_price"
    fr = second["body"]["contents"][-1]["parts"][0]["functionResponse"]
    assert fr["name"] == "get_price" and fr["response"]["code"] == "au"
    assert len(growing(a.partials, answer["id"])) >= 3
    a.close()


def test_stream_off_for_one_provider(ai, fake, room):
    fake.script([{"kind": "openai", "text": "whole"}])
    a = Chat(ai.port, room, "alice")
    a.send("plain_chat", text="hi")
    assert a.chats(3, timeout=20)[-1]["text"] == "whole"
    (req,) = fake.requests(kind="openai")
    assert req["body"]["stream"] is False and "stream_options" not in req["body"]
    assert a.partials == []
    a.close()


def test_a_broken_stream_is_a_clear_bot_message(ai, fake, room):
    fake.script([{"kind": "openai", "stream": True,
                  "raw": "data: {\"choices\":[{\"delta\":{\"content\":\"half\"}}]}\n\ndata: {oops\n\n"}])
    a = Chat(ai.port, room, "alice")
    a.send("deepseek_chat", text="hi")
    answer = a.chats(3, timeout=20)[-1]
    assert answer["error"] is True and "broken stream" in answer["text"]
    a.close()


@pytest.mark.parametrize("typed,provider,model", [
    ("@d hello", "deepseek", "deepseek-chat"),
    ("@deepseek  hello", "deepseek", "deepseek-chat"),
    ("@g hello", "gemini", None),
    ("@Gemini\nhello", "gemini", None),
    ("@km hello", "kimi", "kimi-k2"),      # ChatAIAlias kimi km moon
    ("@moon hello", "kimi", "kimi-k2"),
    ("@p hello", "plain", "plain-model"),  # its name's first letter, no other p
])
def test_an_alias_asks_that_provider(ai, fake, room, typed, provider, model):
    a, b = Chat(ai.port, room, "alice"), Chat(ai.port, room, "bob")
    a.say(typed)
    question, thinking, answer = b.chats(3, timeout=20)
    assert question["username"] == "alice" and question["text"] == typed
    assert thinking["username"] == provider and answer["username"] == provider
    assert not answer.get("error"), answer["text"]
    kind = "gemini" if provider == "gemini" else "openai"
    (req,) = fake.requests(kind=kind)
    if model:
        assert req["body"]["model"] == model
        assert req["body"]["messages"][-1]["content"] == f"alice: {typed}"
    a.close()
    b.close()


@pytest.mark.parametrize("typed", ["@zz hi", "@k hi", "@kimi hi", "@d", "@ d hi", "email@d hi"])
def test_an_unknown_alias_is_a_plain_message(ai, fake, room, typed):
    # @k and @kimi: ChatAIAlias replaced kimi's defaults
    a = Chat(ai.port, room, "alice")
    a.say(typed)
    (m,) = a.chats(1)
    assert m["text"] == typed and not m.get("bot")
    a.quiet(0.5)
    assert fake.requests() == []
    a.close()


def test_an_alias_without_a_question(ai, fake, room):
    a = Chat(ai.port, room, "alice")
    a.say("@d   ")
    err = a.expect("error")
    assert err["code"] == "invalid" and "non-empty" in err["message"]
    assert fake.requests() == []
    a.close()


@pytest.mark.parametrize("line", [
    "ChatAIProvider x openai http://h/v1\nChatAIProvider y openai http://h/v1\n"
    "ChatAIAlias x q\nChatAIAlias y q",
    "ChatAIProvider x openai http://h/v1\nChatAIProvider y openai http://h/v1\nChatAIAlias x y",
    "ChatAIProvider x openai http://h/v1\nChatAIAlias x bad.alias",
    "ChatAIProvider x openai http://h/v1\nChatAIAlias x",
    "ChatAIAlias nobody q",
])
def test_configtest_refuses_a_bad_alias(httpd, line):
    httpd.assert_configtest_refuses(line, "ChatAIAlias")


@pytest.mark.parametrize("line,name", [
    ("ChatAIProvider x openai http://h/v1\nChatAIStream x maybe", "ChatAIStream"),
    ("ChatAIStreamInterval 10", "ChatAIStreamInterval"),
])
def test_configtest_refuses_bad_stream_settings(httpd, line, name):
    httpd.assert_configtest_refuses(line, name)


def test_info_lists_the_aliases(ai):
    import requests
    j = requests.get(ai.url("/chat/lobby?info&username=alice"), timeout=5).json()
    assert j["ai"]["aliases"] == {"deepseek": ["deepseek", "d"], "kimi": ["km", "moon"],
                                  "gemini": ["gemini", "g"], "plain": ["plain", "p"]}


def test_browser_streamed_answer_explain_copy_and_mentions(ai, fake, room):
    """tests/browser/chat_ai_stream.mjs: '@d hello' typed in the page streams
    into the bot message in >= 3 growing steps, Explain with gemini reaches the
    Gemini fake, Copy fills the clipboard, the @ pop-up lists bob and the bots."""
    fake.script([{"kind": "openai", "chunks": CHUNKS, "chunk_delay": 0.4}])
    out = subprocess.run(["node", str(ROOT / "tests" / "browser" / "chat_ai_stream.mjs"),
                          str(ai.port), room, str(ROOT / "test-artifacts" / "chat"),
                          "".join(CHUNKS)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "chat ai stream: ok" in out.stdout
    (asked,) = fake.requests(kind="openai")
    assert asked["body"]["model"] == "deepseek-chat" and asked["body"]["stream"] is True
    assert asked["body"]["messages"][-1]["content"] == "alice: @d hello"
    (explained,) = fake.requests(kind="gemini")
    assert explained["path"].endswith(":generateContent")  # explain: one JSON answer
    assert explained["body"]["contents"][-1]["parts"][0]["text"] == "@d hello"
