"""Self-tests of fake_ai.py, the stand-in for Gemini, OpenAI-style providers
and the market-data source, so failures in mod_chat's AI tests can be trusted
to be mod_chat's."""
import base64
import datetime
import json
import os
import socket
import subprocess
import sys
import threading

import pytest
import requests

sys.path.insert(0, os.path.dirname(__file__))

from fake_ai import FakeAI  # noqa: E402

KEY = "test-key"
GEMINI_MODEL = "gemini-2.0-flash"


@pytest.fixture(scope="module")
def fake():
    f = FakeAI(key=KEY).start()
    yield f
    f.stop()


@pytest.fixture(autouse=True)
def clean(fake):
    fake.reset()
    yield


def oa_post(fake, body, key=KEY, path="/v1/chat/completions", **kw):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.post(fake.url + path, json=body, headers=headers, timeout=30, **kw)


def gm_post(fake, body, model=GEMINI_MODEL, key=KEY, in_query=False, method="generateContent",
            params=None, **kw):
    url = f"{fake.url}/v1beta/models/{model}:{method}"
    params = dict(params or {})
    headers = {}
    if key and in_query:
        params["key"] = key
    elif key:
        headers["x-goog-api-key"] = key
    return requests.post(url, json=body, headers=headers, params=params, timeout=30, **kw)


def user(text):
    return {"role": "user", "content": text}


def sse_events(resp):
    """`data:` payloads of an SSE response, in order."""
    return [line[len("data: "):] for line in resp.iter_lines(decode_unicode=True)
            if line.startswith("data: ")]


# ------------------------------------------------------------------ OpenAI

def test_openai_default_echo_on_both_paths(fake):
    for path in ("/v1/chat/completions", "/chat/completions"):
        r = oa_post(fake, {"model": "deepseek-chat",
                           "messages": [{"role": "system", "content": "be brief"},
                                        user("螺纹钢今天怎么样？" + "x" * 100)]}, path=path)
        assert r.status_code == 200, r.text
        d = r.json()
        assert d["object"] == "chat.completion" and d["id"].startswith("chatcmpl-")
        assert d["model"] == "deepseek-chat" and isinstance(d["created"], int)
        ch = d["choices"][0]
        assert ch["index"] == 0 and ch["finish_reason"] == "stop"
        assert ch["message"]["role"] == "assistant"
        expect = "fake-openai(deepseek-chat): " + ("螺纹钢今天怎么样？" + "x" * 100)[:60]
        assert ch["message"]["content"] == expect
        u = d["usage"]
        assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"] > 0
    recs = fake.requests()
    assert [r["path"] for r in recs] == ["/v1/chat/completions", "/chat/completions"]
    assert recs[0]["headers"]["authorization"] == "Bearer test-key"
    assert recs[0]["body"]["messages"][0]["role"] == "system"
    assert recs[0]["kind"] == "openai" and recs[0]["done"] is not None


def test_openai_scripted_answers_and_error_codes(fake):
    fake.script([{"kind": "openai", "status": 429},
                 {"kind": "openai", "status": 503, "retry_after": 2},
                 {"kind": "openai", "status": 500, "message": "boom"},
                 {"kind": "openai", "text": "answer"}])
    body = {"model": "kimi-k2", "messages": [user("hi")]}
    r = oa_post(fake, body)
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limit_exceeded"
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}
    r = oa_post(fake, body)
    assert r.status_code == 503 and r.headers["Retry-After"] == "2"
    r = oa_post(fake, body)
    assert r.status_code == 500 and r.json()["error"]["message"] == "boom"
    assert r.json()["error"]["type"] == "server_error"
    assert oa_post(fake, body).json()["choices"][0]["message"]["content"] == "answer"
    # queue empty again: back to the echo
    assert oa_post(fake, body).json()["choices"][0]["message"]["content"] == "fake-openai(kimi-k2): hi"


def test_openai_rejects_like_the_real_api(fake):
    fake.script([{"kind": "openai", "text": "kept for the first valid request"}])
    ok = {"model": "deepseek-chat", "messages": [user("hi")]}
    r = oa_post(fake, ok, key=None)
    assert r.status_code == 401 and "API key" in r.json()["error"]["message"]
    r = oa_post(fake, ok, key="wrong-key")
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    r = requests.post(fake.url + "/v1/chat/completions", data=b'{"model": "x", "messa',
                      headers={"Authorization": "Bearer " + KEY}, timeout=10)
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    assert oa_post(fake, {"messages": [user("hi")]}).status_code == 400        # no model
    assert oa_post(fake, {"model": "deepseek-chat", "messages": []}).status_code == 400
    assert oa_post(fake, {"model": "deepseek-chat"}).status_code == 400         # no messages
    r = oa_post(fake, {"model": "deepseek-chat",
                       "messages": [user("hi"), {"role": "tool", "tool_call_id": "call_9",
                                                 "content": "x"}]})
    assert r.status_code == 400 and "preceeding message with 'tool_calls'" in r.text
    r = oa_post(fake, {"model": "deepseek-chat", "messages": [user("hi")],
                       "tools": [{"type": "function", "function": {"name": "bad name!"}}]})
    assert r.status_code == 400
    # none of the rejected requests consumed the scripted reply
    assert oa_post(fake, ok).json()["choices"][0]["message"]["content"] == \
        "kept for the first valid request"
    assert len(fake.requests()) == 9  # rejected requests are recorded too


TOOLS = [{"type": "function", "function": {
    "name": "get_price", "description": "latest futures price",
    "parameters": {"type": "object", "properties": {"commodity": {"type": "string"}},
                   "required": ["commodity"]}}}]


def test_openai_tool_call_round_trip(fake):
    fake.script([{"kind": "openai", "tool_call": {"name": "get_price",
                                                  "arguments": {"commodity": "螺纹钢"}}},
                 {"kind": "openai", "text": "螺纹钢现价 3520 元/吨"}])
    msgs = [user("螺纹钢多少钱？")]
    r = oa_post(fake, {"model": "deepseek-chat", "messages": msgs, "tools": TOOLS})
    ch = r.json()["choices"][0]
    assert ch["finish_reason"] == "tool_calls"
    assert ch["message"]["content"] is None
    call = ch["message"]["tool_calls"][0]
    assert call["id"] == "call_1" and call["type"] == "function"
    assert call["function"]["name"] == "get_price"
    assert isinstance(call["function"]["arguments"], str)  # a JSON string, as OpenAI sends
    assert json.loads(call["function"]["arguments"]) == {"commodity": "螺纹钢"}

    # forgetting the tool result is what the real API rejects
    msgs.append(ch["message"])
    r = oa_post(fake, {"model": "deepseek-chat", "messages": msgs + [user("?")], "tools": TOOLS})
    assert r.status_code == 400 and "call_1" in r.json()["error"]["message"]

    msgs.append({"role": "tool", "tool_call_id": "call_1",
                 "content": json.dumps({"price": 3520.0})})
    r = oa_post(fake, {"model": "deepseek-chat", "messages": msgs, "tools": TOOLS})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "螺纹钢现价 3520 元/吨"
    last = fake.requests()[-1]["body"]["messages"][-1]
    assert last == {"role": "tool", "tool_call_id": "call_1", "content": '{"price": 3520.0}'}


def test_openai_stream(fake):
    fake.script([{"kind": "openai", "text": "streamed answer, 流式回答"},
                 {"kind": "openai", "stream": True, "text": "forced"}])
    r = oa_post(fake, {"model": "deepseek-chat", "messages": [user("hi")], "stream": True},
                stream=True)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/event-stream")
    assert r.headers["Transfer-Encoding"] == "chunked"
    events = sse_events(r)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len(chunks) > 3  # really split, not one blob
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == "streamed answer, 流式回答"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and "usage" in chunks[-1]
    # an item with "stream": true streams even if the request did not ask
    r = oa_post(fake, {"model": "deepseek-chat", "messages": [user("hi")]}, stream=True)
    assert sse_events(r)[-1] == "[DONE]"


def test_openai_stream_tool_call(fake):
    fake.script([{"kind": "openai", "tool_call": {"name": "get_price",
                                                  "arguments": {"commodity": "黄金", "n": 1}}}])
    r = oa_post(fake, {"model": "deepseek-chat", "messages": [user("hi")], "tools": TOOLS,
                       "stream": True}, stream=True)
    chunks = [json.loads(e) for e in sse_events(r)[:-1]]
    args, name = "", None
    for c in chunks:
        for tc in c["choices"][0]["delta"].get("tool_calls", []):
            name = tc.get("function", {}).get("name") or name
            args += tc.get("function", {}).get("arguments", "")
    assert name == "get_price" and json.loads(args) == {"commodity": "黄金", "n": 1}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


# ------------------------------------------------------------------ Gemini

def test_gemini_generate_content(fake):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
    body = {"systemInstruction": {"parts": [{"text": "你是期货助手"}]},
            "contents": [{"role": "user", "parts": [{"text": "earlier"}]},
                         {"role": "model", "parts": [{"text": "ok"}]},
                         {"role": "user", "parts": [
                             {"text": "看看这张图"},
                             {"inline_data": {"mime_type": "image/png", "data": png}}]}],
            "generationConfig": {"temperature": 0.2, "maxOutputTokens": 256}}
    for in_query in (False, True):
        r = gm_post(fake, body, in_query=in_query)
        assert r.status_code == 200, r.text
        d = r.json()
        cand = d["candidates"][0]
        assert cand["finishReason"] == "STOP" and cand["content"]["role"] == "model"
        assert cand["content"]["parts"] == [{"text": f"fake-gemini({GEMINI_MODEL}): 看看这张图"}]
        u = d["usageMetadata"]
        assert u["totalTokenCount"] == u["promptTokenCount"] + u["candidatesTokenCount"]
        assert d["modelVersion"] == GEMINI_MODEL
    recs = fake.requests(kind="gemini")
    assert recs[0]["headers"]["x-goog-api-key"] == KEY and recs[1]["query"]["key"] == KEY
    assert recs[0]["path"] == f"/v1beta/models/{GEMINI_MODEL}:generateContent"

    fake.script([{"kind": "gemini", "text": "图里是K线"}])
    assert gm_post(fake, body).json()["candidates"][0]["content"]["parts"][0]["text"] == "图里是K线"


def test_gemini_function_call_round_trip(fake):
    fake.script([{"kind": "gemini", "tool_call": {"name": "get_price",
                                                  "arguments": {"commodity": "螺纹钢"}}},
                 {"kind": "gemini", "text": "3520"}])
    tools = [{"functionDeclarations": [{
        "name": "get_price", "description": "latest futures price",
        "parameters": {"type": "OBJECT", "properties": {"commodity": {"type": "STRING"}}}}]}]
    contents = [{"role": "user", "parts": [{"text": "螺纹钢多少钱？"}]}]
    d = gm_post(fake, {"contents": contents, "tools": tools}).json()
    parts = d["candidates"][0]["content"]["parts"]
    assert parts == [{"functionCall": {"name": "get_price", "args": {"commodity": "螺纹钢"}}}]
    assert d["candidates"][0]["finishReason"] == "STOP"

    # a functionResponse that answers no call is rejected, like Gemini does
    bad = contents + [{"role": "user", "parts": [
        {"functionResponse": {"name": "get_price", "response": {"price": 1}}}]}]
    r = gm_post(fake, {"contents": bad, "tools": tools})
    assert r.status_code == 400 and r.json()["error"]["status"] == "INVALID_ARGUMENT"

    contents += [d["candidates"][0]["content"],
                 {"role": "user", "parts": [{"functionResponse": {
                     "name": "get_price", "response": {"price": 3520.0}}}]}]
    r = gm_post(fake, {"contents": contents, "tools": tools})
    assert r.status_code == 200, r.text
    assert r.json()["candidates"][0]["content"]["parts"] == [{"text": "3520"}]
    sent = fake.requests(kind="gemini")[-1]["body"]["contents"][-1]["parts"][0]
    assert sent["functionResponse"]["response"] == {"price": 3520.0}


def test_gemini_errors(fake):
    fake.script([{"kind": "gemini", "status": 429}, {"kind": "gemini", "status": 503}])
    ok = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    for key in (None, "wrong-key"):
        r = gm_post(fake, ok, key=key)
        assert r.status_code == 403 and r.json()["error"]["status"] == "PERMISSION_DENIED"
    r = requests.post(f"{fake.url}/v1beta/models/{GEMINI_MODEL}:generateContent",
                      data=b"{not json", headers={"x-goog-api-key": KEY}, timeout=10)
    assert r.status_code == 400 and r.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert gm_post(fake, {"contents": []}).status_code == 400
    assert gm_post(fake, ok, model="").status_code == 400
    # a misspelt field is an error at Google, not silently ignored
    assert gm_post(fake, dict(ok, system_instructions={"parts": []})).status_code == 400
    r = gm_post(fake, {"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]})
    assert r.status_code == 400 and "valid role" in r.json()["error"]["message"]
    r = gm_post(fake, {"contents": [{"role": "user", "parts": [
        {"inline_data": {"mime_type": "image/png", "data": "not base64!"}}]}]})
    assert r.status_code == 400 and "Base64" in r.json()["error"]["message"]
    r = gm_post(fake, ok)
    assert r.status_code == 429
    assert r.json() == {"error": {"code": 429, "message": r.json()["error"]["message"],
                                  "status": "RESOURCE_EXHAUSTED"}}
    r = gm_post(fake, ok)
    assert r.status_code == 503 and r.json()["error"]["status"] == "UNAVAILABLE"


def test_gemini_stream_sse(fake):
    fake.script([{"kind": "gemini", "text": "一二三四五六七八九十"}])
    r = gm_post(fake, {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
                method="streamGenerateContent", params={"alt": "sse"}, stream=True)
    assert r.headers["Content-Type"].startswith("text/event-stream")
    chunks = [json.loads(e) for e in sse_events(r)]
    assert len(chunks) == 3
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == \
        "一二三四五六七八九十"
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


# ------------------------------------------------------------------ market

def test_market_quote_and_history(fake):
    q = requests.get(fake.url + "/market/quote", params={"code": "rb"}, timeout=10).json()
    assert {k: q[k] for k in ("code", "name", "price", "change_pct")} == \
        {"code": "rb", "name": "螺纹钢", "price": 3520.0, "change_pct": -0.85}
    assert q["time"]

    def hist(days):
        r = requests.get(fake.url + "/market/history", params={"code": "au", "days": days},
                         timeout=10)
        assert r.status_code == 200
        return r.json()

    h5, h30 = hist(5), hist(30)
    assert h5 == hist(5) and h5["bars"] == h30["bars"][-5:]  # deterministic, seeded by code
    assert h5["code"] == "au" and len(h30["bars"]) == 30
    dates = [datetime.date.fromisoformat(b["date"]) for b in h30["bars"]]
    assert dates == sorted(dates) and all(d.weekday() < 5 for d in dates)
    assert dates[-1] == datetime.date(2026, 11, 20)
    for b in h30["bars"]:
        assert b["low"] <= min(b["open"], b["close"]) <= max(b["open"], b["close"]) <= b["high"]
        assert b["volume"] > 0 and b["open_interest"] > 0
    au = requests.get(fake.url + "/market/quote?code=au", timeout=10).json()
    assert h30["bars"][-1]["close"] == au["price"]  # history agrees with the quote
    assert hist(5) != requests.get(fake.url + "/market/history?code=cu&days=5").json()

    r = requests.get(fake.url + "/market/quote?code=zz", timeout=10)
    assert r.status_code == 404 and "zz" in r.json()["error"]["message"]
    assert requests.get(fake.url + "/market/history?code=au&days=0").status_code == 400
    fake.script([{"kind": "market", "status": 500}])
    assert requests.get(fake.url + "/market/quote?code=rb").status_code == 500


def test_market_cross_section(fake):
    r = requests.get(fake.url + "/market/cross", timeout=10).json()
    assert r == requests.get(fake.url + "/market/cross", timeout=10).json()  # deterministic
    rows = {row["code"]: row for row in r["rows"]}
    assert r["date"] == "2026-11-20" and len(rows) == 12
    rb = requests.get(fake.url + "/market/quote?code=rb", timeout=10).json()
    assert rows["rb"]["close"] == rb["price"] and rows["rb"]["change"] == rb["change_pct"]
    for row in r["rows"]:  # the change is measured against the settlement
        assert abs((row["close"] - row["settle"]) / row["settle"] * 100 - row["change"]) < 0.01
        assert row["oi"] > 0 and row["volume"] > 0
    fake.script([{"kind": "market", "status": 503}])
    assert requests.get(fake.url + "/market/cross", timeout=10).status_code == 503


# ------------------------------------------------------------------ control, concurrency

def test_control_api_over_http(fake):
    r = requests.post(fake.url + "/_control/script",
                      json=[{"kind": "openai", "text": "a"}, {"kind": "gemini", "status": 429}])
    assert r.json()["queued"] == {"openai": 1, "gemini": 1, "market": 0}
    assert requests.post(fake.url + "/_control/script",
                         json=[{"kind": "claude", "text": "x"}]).status_code == 400
    assert requests.post(fake.url + "/_control/script",
                         json=[{"kind": "openai", "txt": "typo"}]).status_code == 400
    assert oa_post(fake, {"model": "m", "messages": [user("q")]}).json()[
        "choices"][0]["message"]["content"] == "a"
    recs = requests.get(fake.url + "/_control/requests").json()
    assert len(recs) == 1 and recs[0]["method"] == "POST"
    assert set(recs[0]) >= {"path", "method", "headers", "query", "body", "time"}
    assert requests.delete(fake.url + "/_control/requests").json() == {"cleared": 1}
    assert requests.get(fake.url + "/_control/requests").json() == []
    assert requests.get(fake.url + "/_control/script").json()["gemini"][0]["status"] == 429
    requests.post(fake.url + "/_control/reset")
    assert requests.get(fake.url + "/_control/script").json()["gemini"] == []


def test_slow_replies_do_not_block_others(fake):
    fake.script([{"kind": "openai", "delay": 2.0, "text": "slow"}] * 2)
    results = []

    def call(i):
        r = oa_post(fake, {"model": "deepseek-chat", "messages": [user(f"slow {i}")]})
        results.append(r.json()["choices"][0]["message"]["content"])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    # Both slow requests get recorded while neither has been answered: they
    # are in flight at the same time (a serial server could not record the
    # second before finishing the first).
    recs = fake.wait_for_requests(2, timeout=10, kind="openai")
    assert [r["done"] for r in recs] == [None, None]
    # and a third request is answered meanwhile
    r = gm_post(fake, {"contents": [{"role": "user", "parts": [{"text": "fast"}]}]})
    assert r.status_code == 200
    assert [r["done"] for r in fake.requests(kind="openai")] == [None, None]
    for t in threads:
        t.join(timeout=30)
    assert results == ["slow", "slow"]


def test_stop_interrupts_a_delay():
    f = FakeAI(key=KEY).start()
    f.script([{"kind": "openai", "delay": 300, "text": "never"}])
    outcome = []

    def call():
        try:
            outcome.append(oa_post(f, {"model": "m", "messages": [user("x")]}).status_code)
        except requests.ConnectionError:
            outcome.append("dropped")

    t = threading.Thread(target=call)
    t.start()
    f.wait_for_requests(1, timeout=10)
    f.stop()  # must not wait out the 300 s delay
    t.join(timeout=20)
    assert outcome == ["dropped"]


def test_standalone_cli():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__), "fake_ai.py"),
                          "--port", str(port), "--quiet"], stdout=subprocess.PIPE, text=True)
    try:
        assert "listening" in p.stdout.readline()  # printed once the port is bound
        r = requests.get(f"http://127.0.0.1:{port}/market/quote?code=rb", timeout=10)
        assert r.json()["name"] == "螺纹钢"
        r = requests.post(f"http://127.0.0.1:{port}/v1/chat/completions",
                          headers={"Authorization": "Bearer test-key"},
                          json={"model": "deepseek-chat", "messages": [user("hello")]})
        assert r.json()["choices"][0]["message"]["content"] == "fake-openai(deepseek-chat): hello"
    finally:
        p.terminate()
        p.wait(timeout=10)
