#!/usr/bin/env python3
"""A local stand-in for the AI providers and the market-data source that
mod_chat's C code (libcurl) talks to, so tests never reach the network.

It speaks the real wire shapes:

  * Google Gemini   POST /v1beta/models/{model}:generateContent
                    POST /v1beta/models/{model}:streamGenerateContent[?alt=sse]
                    key in header x-goog-api-key or ?key=
  * OpenAI-style    POST /chat/completions and /v1/chat/completions
    (DeepSeek/Kimi) GET  /models and /v1/models
                    Authorization: Bearer KEY; "stream": true answers with SSE
  * market data     GET  /market/quote?code=rb
                    GET  /market/history?code=au&days=N
                    GET  /market/cross  (today's market: every product's change,
                                         close, settlement, open interest, volume;
                                         a board source, ChatDataSource + ChatAITool
                                         board, not part of ChatAIMarketData)

and a control API on the same port (never recorded, never authenticated):

  POST   /_control/script    JSON list (or one object) of canned replies
  GET    /_control/script    replies still queued, per kind
  GET    /_control/requests  recorded requests (?kind=openai|gemini|market)
  DELETE /_control/requests  forget recorded requests
  POST   /_control/reset     forget both

A script item is consumed, in order, by the next *valid* request of its kind
(requests rejected for auth/validation do not consume one, as the real API
would reject them before any model runs).  Keys of an item:

  kind          "openai" | "gemini" | "market"            (required)
  status        HTTP status; != 200 answers with the provider's error shape
  message       error message for a non-200 status
  retry_after   adds a Retry-After header (seconds)
  text          assistant text ("" is an explicit empty answer)
  tool_call     {"name": ..., "arguments": {...} | "<raw json string>", "id"?}
  tool_calls    list of the above (parallel calls)
  finish_reason override ("length", "MAX_TOKENS", ...)
  delay         seconds to wait before answering (other requests keep flowing)
  stream        true: answer as a stream even if the request did not ask
  chunks        explicit list of text pieces for a stream
  chunk_delay   seconds between stream events
  raw           send this string as the body verbatim (with status, default 200)
  disconnect    true: close the connection without any response

With nothing queued the answer echoes the model and the last user text:
"fake-openai(deepseek-chat): <first 60 chars>" / "fake-gemini(<model>): ...".

In-process use (pytest):

    fake = FakeAI(key="test-key").start()
    fake.script([{"kind": "openai", "text": "hi"}])
    ... point the module at fake.openai_base / fake.gemini_base / fake.url ...
    fake.wait_for_requests(1, timeout=5)
    fake.stop()

Standalone: /usr/bin/python3 tests/fake_ai.py --port 8091 [--key KEY]
"""
import argparse
import base64
import binascii
import collections
import datetime
import json
import random
import re
import sys
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

KINDS = ("openai", "gemini", "market")
ITEM_KEYS = {
    "kind", "status", "message", "retry_after", "text", "tool_call", "tool_calls",
    "finish_reason", "delay", "stream", "chunks", "chunk_delay", "raw", "disconnect",
}

GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
    404: "NOT_FOUND", 409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED",
    500: "INTERNAL", 501: "NOT_IMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}
# status -> (type, code) as OpenAI sends them
OPENAI_ERROR = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", None),
    503: ("server_error", "service_unavailable"),
}
DEFAULT_ERROR_MESSAGE = {
    400: "Bad request.",
    401: "Unauthorized.",
    403: "Forbidden.",
    404: "Not found.",
    429: "Rate limit reached. Please try again later.",
    500: "The server had an error while processing your request.",
    502: "Bad gateway.",
    503: "The engine is currently overloaded, please try again later.",
    504: "Deadline exceeded.",
}

GEMINI_PATH = re.compile(r"/(v1beta|v1)/models/([^/:]*):(generateContent|streamGenerateContent)")
GEMINI_TOP_LEVEL = {
    "contents", "systemInstruction", "system_instruction", "tools", "toolConfig",
    "tool_config", "safetySettings", "safety_settings", "generationConfig",
    "generation_config", "cachedContent", "cached_content", "model", "labels",
}
GEMINI_DATA_FIELDS = {
    "text", "inline_data", "inlineData", "file_data", "fileData", "functionCall",
    "function_call", "functionResponse", "function_response", "executableCode",
    "executable_code", "codeExecutionResult", "code_execution_result",
}
OPENAI_ROLES = {"system", "developer", "user", "assistant", "tool"}
TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")

# Market data: fixed quotes (so tests can assert them) and histories that end
# on the quote's day with the quote's close, generated from a seed per code.
MARKET_DAY = datetime.date(2026, 11, 20)  # a Friday
MARKET = {
    "rb": ("螺纹钢", 3520.0, -0.85),
    "hc": ("热轧卷板", 3380.0, -0.62),
    "i": ("铁矿石", 786.5, 1.12),
    "au": ("黄金", 612.36, 0.47),
    "ag": ("白银", 7650.0, 1.35),
    "cu": ("铜", 78250.0, 0.33),
    "al": ("铝", 20560.0, -0.21),
    "zn": ("锌", 22840.0, 0.18),
    "sc": ("原油", 548.2, -1.46),
    "m": ("豆粕", 2968.0, 0.27),
    "TA": ("PTA", 4712.0, -0.38),
    "MA": ("甲醇", 2476.0, 0.65),
}
MAX_HISTORY_DAYS = 365


class _Stopped(Exception):
    """The server is stopping: drop the connection instead of answering."""


def _check_item(item):
    if not isinstance(item, dict):
        raise ValueError(f"script item must be an object: {item!r}")
    if item.get("kind") not in KINDS:
        raise ValueError(f"script item kind must be one of {KINDS}: {item!r}")
    unknown = set(item) - ITEM_KEYS
    if unknown:  # catches typos like "tool_cals" that would silently do nothing
        raise ValueError(f"unknown script item keys {sorted(unknown)}: {item!r}")
    if not isinstance(item.get("status", 200), int):
        raise ValueError(f"status must be an int: {item!r}")
    for k in ("delay", "chunk_delay"):
        if not isinstance(item.get(k, 0), (int, float)) or item.get(k, 0) < 0:
            raise ValueError(f"{k} must be a non-negative number: {item!r}")
    calls = item.get("tool_calls", [])
    if "tool_call" in item:
        calls = [item["tool_call"]] + list(calls)
    for c in calls:
        if not isinstance(c, dict) or not isinstance(c.get("name"), str):
            raise ValueError(f"tool call needs a name: {item!r}")
    return dict(item)


def _item_tool_calls(item):
    calls = list(item.get("tool_calls", []))
    if "tool_call" in item:
        calls.insert(0, item["tool_call"])
    return calls


def _tokens(text):
    """Deterministic stand-in for a tokenizer: about 4 UTF-8 bytes a token."""
    return (len(text.encode("utf-8")) + 3) // 4 if text else 0


def _pieces(text, size=4):
    """Split for streaming on code points, so no event splits a UTF-8 sequence."""
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def _dumps(obj):
    # The real APIs send raw UTF-8, not \\u escapes; the C parser must cope.
    return json.dumps(obj, ensure_ascii=False)


# ---------------------------------------------------------------- market data

def market_lookup(code):
    """Canonical code for a user-supplied one (SHFE lower, CZCE upper case)."""
    if code in MARKET:
        return code
    for k in MARKET:
        if k.lower() == code.lower():
            return k
    return None


def market_quote(code):
    name, price, change = MARKET[code]
    return {"code": code, "name": name, "price": price, "change_pct": change,
            "time": MARKET_DAY.isoformat() + " 15:00:00"}


def market_cross():
    """Every product on MARKET_DAY, in MARKET's order: the quote's change and
    close, the settlement it was measured against, and per-code seeded open
    interest, its change and volume (the same on every call)."""
    rows = []
    for code, (name, price, change) in MARKET.items():
        rng = random.Random(zlib.crc32(b"cross:" + code.encode()))
        rows.append({"code": code, "name": name, "change": change, "close": price,
                     "settle": round(price / (1 + change / 100.0), 2),
                     "oi": rng.randint(100_000, 900_000),
                     "oi_change": round(rng.gauss(0, 2.0), 2),
                     "volume": rng.randint(50_000, 2_000_000)})
    return {"date": MARKET_DAY.isoformat(), "rows": rows}


def market_history(code, days):
    """`days` trading-day bars, oldest first, ending on MARKET_DAY.

    Generated backwards from the quote with a per-code seed (crc32, not
    hash(), which is salted per process), so history(n) is always the tail of
    history(m) for m > n, and the last bar agrees with the quote."""
    _, price, change = MARKET[code]
    rng = random.Random(zlib.crc32(code.encode()))
    bars = []
    day = MARKET_DAY
    close = price
    oi = rng.randint(150_000, 900_000)
    first = True
    while len(bars) < days:
        if day.weekday() < 5:
            pct = change if first else rng.gauss(0, 1.2)
            first = False
            prev_close = close / (1 + pct / 100.0)
            open_ = prev_close * (1 + rng.gauss(0, 0.4) / 100.0)
            high = max(open_, close) * (1 + abs(rng.gauss(0, 0.5)) / 100.0)
            low = min(open_, close) * (1 - abs(rng.gauss(0, 0.5)) / 100.0)
            volume = rng.randint(50_000, 2_000_000)
            bars.append({
                "date": day.isoformat(), "open": round(open_, 2), "high": round(high, 2),
                "low": round(low, 2), "close": round(close, 2), "volume": volume,
                "open_interest": oi,
            })
            oi = max(10_000, oi + rng.randint(-20_000, 20_000))
            close = prev_close
        day -= datetime.timedelta(days=1)
    bars.reverse()
    return {"code": code, "bars": bars}


# ---------------------------------------------------------------- the server

class FakeAI:
    """The fake providers, runnable in-process (pytest) or standalone."""

    def __init__(self, key="test-key", host="127.0.0.1", port=0, verbose=False):
        self.key = key
        self.host = host
        self.port = port
        self.verbose = verbose
        # One lock for scripts, the recorder and the call-id counter; the
        # condition lets waiters sleep until a request is recorded or done.
        self._cond = threading.Condition()
        self._queues = {k: collections.deque() for k in KINDS}
        self._records = []
        self._call_seq = 0
        self._stopping = threading.Event()
        self._server = None
        self._thread = None

    # lifecycle
    def start(self):
        self._stopping.clear()
        self._server = ThreadingHTTPServer((self.host, self.port), _Handler)
        self._server.daemon_threads = True
        # stop() must not wait for handlers parked in a long scripted delay
        self._server.block_on_close = False
        self._server.fake = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
            name=f"fake-ai:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if not self._server:
            return
        self._stopping.set()  # wakes handlers sleeping in a delay
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base(self):
        return self.url + "/v1"

    @property
    def gemini_base(self):
        return self.url

    # scripting
    def script(self, items):
        if isinstance(items, dict):
            items = [items]
        checked = [_check_item(i) for i in items]
        with self._cond:
            for item in checked:
                self._queues[item["kind"]].append(item)
            return {k: len(q) for k, q in self._queues.items()}

    def pending(self):
        with self._cond:
            return {k: list(q) for k, q in self._queues.items()}

    def _next_item(self, kind):
        with self._cond:
            return self._queues[kind].popleft() if self._queues[kind] else None

    def _next_call_id(self):
        with self._cond:
            self._call_seq += 1
            return f"call_{self._call_seq}"

    # recorder
    def _record(self, rec):
        with self._cond:
            self._records.append(rec)
            self._cond.notify_all()

    def _done(self, rec):
        with self._cond:
            rec["done"] = time.time()
            self._cond.notify_all()

    def _select(self, kind):
        return [r for r in self._records if kind is None or r["kind"] == kind]

    def requests(self, kind=None):
        """Snapshot of recorded requests: path, method, headers (lower-case
        names), query, body (parsed JSON, else text, else None), time, plus
        kind and done (time the answer finished, None while in flight)."""
        with self._cond:
            return [dict(r) for r in self._select(kind)]

    def clear_requests(self):
        with self._cond:
            n = len(self._records)
            self._records.clear()
            return n

    def reset(self):
        with self._cond:
            self._records.clear()
            for q in self._queues.values():
                q.clear()
            self._call_seq = 0

    def wait_for(self, predicate, timeout=10.0):
        """Block until predicate(list of records) is true; TimeoutError if not."""
        with self._cond:
            ok = self._cond.wait_for(lambda: predicate(self._records), timeout)
            recs = [dict(r) for r in self._records]
        if not ok:
            raise TimeoutError(f"condition not met within {timeout}s; "
                               f"{len(recs)} requests recorded")
        return recs

    def wait_for_requests(self, n, timeout=10.0, kind=None):
        """Block until at least n requests (of kind) were recorded."""
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self._select(kind)) >= n, timeout)
            recs = [dict(r) for r in self._select(kind)]
        if not ok:
            raise TimeoutError(f"expected {n} {kind or ''} requests within {timeout}s, "
                               f"got {len(recs)}")
        return recs

    def _sleep(self, seconds):
        if seconds and self._stopping.wait(seconds):
            raise _Stopped()


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keep-alive, as libcurl reuses connections; every reply then
    # needs a Content-Length or chunked encoding.
    protocol_version = "HTTP/1.1"
    server_version = "fake-ai/1.0"
    timeout = 60  # idle keep-alive connections are dropped after this

    def log_message(self, fmt, *args):
        if self.server.fake.verbose:
            super().log_message(fmt, *args)

    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    # ------------------------------------------------------------ plumbing
    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = b""
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return out
                out += self.rfile.read(size)
                self.rfile.readline(8)
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(n) if n else b""

    def _send(self, status, data, ctype="application/json; charset=utf-8", headers=None):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_json(self, status, obj, headers=None):
        self._send(status, _dumps(obj), headers=headers)

    def _start_stream(self, ctype="text/event-stream; charset=utf-8"):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data):
        data = data.encode("utf-8")
        self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))

    def _end_stream(self):
        self.wfile.write(b"0\r\n\r\n")

    def _dispatch(self):
        fake = self.server.fake
        url = urlsplit(self.path)
        path = unquote(url.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        try:
            raw = self._read_body()
        except ValueError:
            self.close_connection = True
            return self._send_json(400, {"error": {"message": "bad request body framing"}})
        text = raw.decode("utf-8", errors="replace")
        body, bad_json = None, False
        if raw:
            try:
                body = json.loads(text)
            except ValueError:
                body, bad_json = text, True

        if path.startswith("/_control/"):
            return self._control(path, query, body, bad_json)

        if path in ("/chat/completions", "/v1/chat/completions"):
            kind, handler = "openai", self._openai_chat
        elif path in ("/models", "/v1/models"):
            kind, handler = "openai", self._openai_models
        elif GEMINI_PATH.fullmatch(path):
            kind, handler = "gemini", self._gemini
        elif path in ("/market/quote", "/market/history", "/market/cross"):
            kind, handler = "market", self._market
        else:
            kind, handler = "unknown", self._not_found
        rec = {
            "kind": kind, "path": path, "method": self.command,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "query": query, "body": body, "time": time.time(), "done": None,
        }
        fake._record(rec)  # before validation: rejected requests are visible too
        try:
            handler(path, query, body, bad_json)
        except _Stopped:
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (curl timeout)
        finally:
            fake._done(rec)

    def _not_found(self, path, query, body, bad_json):
        self._send_json(404, {"error": {"code": 404, "message": f"no such path: {path}",
                                        "status": "NOT_FOUND"}})

    def _control(self, path, query, body, bad_json):
        fake = self.server.fake
        route = (self.command, path)
        if route == ("POST", "/_control/script"):
            if bad_json or body is None:
                return self._send_json(400, {"error": "body must be a JSON list of items"})
            try:
                counts = fake.script(body)
            except ValueError as e:
                return self._send_json(400, {"error": str(e)})
            return self._send_json(200, {"queued": counts})
        if route == ("GET", "/_control/script"):
            return self._send_json(200, fake.pending())
        if route == ("GET", "/_control/requests"):
            return self._send_json(200, fake.requests(query.get("kind")))
        if route == ("DELETE", "/_control/requests"):
            return self._send_json(200, {"cleared": fake.clear_requests()})
        if route == ("POST", "/_control/reset"):
            fake.reset()
            return self._send_json(200, {"ok": True})
        return self._send_json(404, {"error": f"no control route {self.command} {path}"})

    # Common handling of a consumed script item before a normal answer.
    # Returns True when the item fully answered the request.
    def _apply_item(self, item, error):
        if not item:
            return False
        self.server.fake._sleep(item.get("delay", 0))
        if item.get("disconnect"):
            self.close_connection = True
            return True
        headers = {"Retry-After": item["retry_after"]} if "retry_after" in item else None
        status = item.get("status", 200)
        if "raw" in item:
            self._send(status, item["raw"], headers=headers)
            return True
        if status != 200:
            error(status, item.get("message") or DEFAULT_ERROR_MESSAGE.get(status, "error"),
                  headers)
            return True
        return False

    # ------------------------------------------------------------ OpenAI
    def _openai_error(self, status, message, headers=None, code="default"):
        etype, ecode = OPENAI_ERROR.get(status, ("server_error", None))
        if code != "default":
            ecode = code
        self._send_json(status, {"error": {"message": message, "type": etype,
                                           "param": None, "code": ecode}}, headers)

    def _openai_auth(self):
        fake = self.server.fake
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if not auth:
            self._openai_error(401, "You didn't provide an API key. You need to provide your "
                               "API key in an Authorization header using Bearer auth "
                               "(i.e. Authorization: Bearer YOUR_KEY).", code=None)
            return False
        if scheme.lower() != "bearer" or token.strip() != fake.key:
            shown = token[:3] + "*" * max(0, len(token) - 7) + token[-4:] if token else ""
            self._openai_error(401, f"Incorrect API key provided: {shown}.")
            return False
        return True

    def _openai_models(self, path, query, body, bad_json):
        if not self._openai_auth():
            return
        ids = ["deepseek-chat", "deepseek-reasoner", "moonshot-v1-8k", "kimi-k2-0905-preview"]
        self._send_json(200, {"object": "list", "data": [
            {"id": i, "object": "model", "created": 0, "owned_by": "fake-ai"} for i in ids]})

    @staticmethod
    def _openai_text(content):
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(p.get("text", "") for p in content
                           if isinstance(p, dict) and p.get("type") == "text")
        return ""

    def _openai_validate(self, body):
        """Error message for a request the real API would reject, else None."""
        if not isinstance(body, dict):
            return "The request body must be a JSON object."
        if not isinstance(body.get("model"), str) or not body["model"]:
            return "you must provide a model parameter"
        msgs = body.get("messages")
        if not isinstance(msgs, list):
            return "Missing required parameter: 'messages'."
        if not msgs:
            return "Invalid 'messages': empty array. Expected an array with minimum length 1."
        pending = []  # tool_call ids of the last assistant turn not yet answered
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("role") not in OPENAI_ROLES:
                return f"Invalid value for 'messages[{i}].role'."
            role = m["role"]
            if role == "tool":
                if not isinstance(m.get("tool_call_id"), str):
                    return f"Missing parameter 'tool_call_id' in messages[{i}]."
                if m["tool_call_id"] not in pending:
                    return ("Invalid parameter: messages with role 'tool' must be a response "
                            "to a preceeding message with 'tool_calls'.")
                pending.remove(m["tool_call_id"])
                if not isinstance(m.get("content"), (str, list)):
                    return f"Invalid type for 'messages[{i}].content'."
                continue
            if pending:
                return ("An assistant message with 'tool_calls' must be followed by tool "
                        "messages responding to each 'tool_call_id'. The following "
                        f"tool_call_ids did not have response messages: {', '.join(pending)}")
            content = m.get("content")
            calls = m.get("tool_calls") if role == "assistant" else None
            if calls is not None:
                if not isinstance(calls, list) or not calls:
                    return f"Invalid 'messages[{i}].tool_calls'."
                for j, c in enumerate(calls):
                    fn = c.get("function") if isinstance(c, dict) else None
                    if (not isinstance(c.get("id"), str) or c.get("type") != "function"
                            or not isinstance(fn, dict) or not isinstance(fn.get("name"), str)):
                        return f"Invalid 'messages[{i}].tool_calls[{j}]'."
                    if not isinstance(fn.get("arguments"), str):
                        # arguments travel as a JSON *string*, not an object
                        return (f"Invalid type for 'messages[{i}].tool_calls[{j}]"
                                ".function.arguments': expected a string.")
                    pending.append(c["id"])
            elif not isinstance(content, (str, list)):
                return f"Invalid type for 'messages[{i}].content': expected a string or array."
        if pending:
            return ("An assistant message with 'tool_calls' must be followed by tool messages "
                    "responding to each 'tool_call_id'. The following tool_call_ids did not "
                    f"have response messages: {', '.join(pending)}")
        tools = body.get("tools")
        if tools is not None:
            if not isinstance(tools, list):
                return "Invalid type for 'tools': expected an array."
            for j, t in enumerate(tools):
                fn = t.get("function") if isinstance(t, dict) else None
                if t.get("type") != "function" or not isinstance(fn, dict):
                    return f"Invalid 'tools[{j}]': expected type 'function' with a 'function'."
                if not isinstance(fn.get("name"), str) or not TOOL_NAME.fullmatch(fn["name"]):
                    return f"Invalid 'tools[{j}].function.name': must match ^[a-zA-Z0-9_-]{{1,64}}$."
        if "stream" in body and not isinstance(body["stream"], bool):
            return "Invalid type for 'stream': expected a boolean."
        return None

    def _openai_chat(self, path, query, body, bad_json):
        fake = self.server.fake
        if self.command != "POST":
            return self._openai_error(405, f"Invalid method for URL ({self.command} {path}).")
        if not self._openai_auth():
            return
        if bad_json:
            return self._openai_error(400, "We could not parse the JSON body of your request. "
                                      "(HINT: This likely means you aren't using your HTTP "
                                      "library correctly.)")
        problem = self._openai_validate(body)
        if problem:
            return self._openai_error(400, problem)
        item = fake._next_item("openai")
        if self._apply_item(item, self._openai_error):
            return
        item = item or {}
        model = body["model"]
        msgs = body["messages"]
        last_user = next((self._openai_text(m.get("content")) for m in reversed(msgs)
                          if m["role"] == "user"), "")
        calls = [{
            "id": c.get("id") or fake._next_call_id(), "type": "function",
            "function": {"name": c["name"], "arguments": c["arguments"]
                         if isinstance(c.get("arguments"), str)
                         else _dumps(c.get("arguments", {}))},
        } for c in _item_tool_calls(item)]
        if "text" in item:
            text = item["text"]
        elif calls:
            text = None  # OpenAI sends content null beside tool_calls
        else:
            text = f"fake-openai({model}): {last_user[:60]}"
        finish = item.get("finish_reason") or ("tool_calls" if calls else "stop")
        prompt = sum(_tokens(self._openai_text(m.get("content"))) for m in msgs)
        completion = _tokens(text or "") + sum(_tokens(c["function"]["arguments"]) for c in calls)
        usage = {"prompt_tokens": prompt, "completion_tokens": completion,
                 "total_tokens": prompt + completion}
        cid = "chatcmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())
        if body.get("stream") or item.get("stream"):
            return self._openai_stream(item, cid, created, model, text, calls, finish, usage)
        message = {"role": "assistant", "content": text}
        if calls:
            message["tool_calls"] = calls
        self._send_json(200, {
            "id": cid, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": finish}],
            "usage": usage,
        })

    def _openai_stream(self, item, cid, created, model, text, calls, finish, usage):
        fake = self.server.fake

        def event(delta, finish_reason=None, **extra):
            chunk = {"id": cid, "object": "chat.completion.chunk", "created": created,
                     "model": model, "choices": [{"index": 0, "delta": delta,
                                                  "logprobs": None,
                                                  "finish_reason": finish_reason}]}
            chunk.update(extra)
            self._chunk("data: " + _dumps(chunk) + "\n\n")

        self._start_stream()
        event({"role": "assistant", "content": ""})
        if text:
            for piece in item.get("chunks") or _pieces(text):
                fake._sleep(item.get("chunk_delay", 0))
                event({"content": piece})
        for n, c in enumerate(calls):
            # name and id first, then the arguments string in pieces
            event({"tool_calls": [{"index": n, "id": c["id"], "type": "function",
                                   "function": {"name": c["function"]["name"],
                                                "arguments": ""}}]})
            for piece in _pieces(c["function"]["arguments"], 8):
                fake._sleep(item.get("chunk_delay", 0))
                event({"tool_calls": [{"index": n, "function": {"arguments": piece}}]})
        event({}, finish, usage=usage)  # DeepSeek puts usage on the last chunk
        self._chunk("data: [DONE]\n\n")
        self._end_stream()

    # ------------------------------------------------------------ Gemini
    def _gemini_error(self, status, message, headers=None, reason=None):
        err = {"code": status, "message": message,
               "status": GOOGLE_STATUS.get(status, "UNKNOWN")}
        if reason:
            err["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                               "reason": reason, "domain": "googleapis.com"}]
        self._send_json(status, {"error": err}, headers)

    @staticmethod
    def _gemini_validate(body):
        if not isinstance(body, dict):
            return "Invalid JSON payload received. Expected an object."
        unknown = [k for k in body if k not in GEMINI_TOP_LEVEL]
        if unknown:
            return f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.'
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            return "* GenerateContentRequest.contents: contents is not specified"
        prev_calls = 0  # functionCall parts in the previous turn
        for i, c in enumerate(contents):
            if not isinstance(c, dict):
                return f"* GenerateContentRequest.contents[{i}]: must be an object"
            role = c.get("role", "user")
            if role not in ("user", "model", "function"):
                return "Please use a valid role: user, model."
            parts = c.get("parts")
            if not isinstance(parts, list) or not parts:
                return f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty."
            calls = responses = 0
            for j, p in enumerate(parts):
                fields = [k for k in p if k in GEMINI_DATA_FIELDS] if isinstance(p, dict) else []
                if len(fields) != 1:
                    return (f"* GenerateContentRequest.contents[{i}].parts[{j}].data: "
                            "required oneof field 'data' must have one initialized field")
                f = fields[0]
                if f in ("inline_data", "inlineData"):
                    d = p[f]
                    mime = d.get("mime_type", d.get("mimeType")) if isinstance(d, dict) else None
                    if not isinstance(mime, str) or not mime:
                        return f"* contents[{i}].parts[{j}].inline_data.mime_type: required"
                    try:
                        base64.b64decode(d.get("data", ""), validate=True)
                    except (binascii.Error, ValueError, TypeError):
                        return (f"Invalid value at 'contents[{i}].parts[{j}].inline_data.data' "
                                "(TYPE_BYTES), Base64 decoding failed")
                elif f in ("functionCall", "function_call"):
                    fc = p[f]
                    if not isinstance(fc, dict) or not isinstance(fc.get("name"), str):
                        return f"* contents[{i}].parts[{j}].function_call.name: required"
                    calls += 1
                elif f in ("functionResponse", "function_response"):
                    fr = p[f]
                    if (not isinstance(fr, dict) or not isinstance(fr.get("name"), str)
                            or not isinstance(fr.get("response"), dict)):
                        return (f"* contents[{i}].parts[{j}].function_response: "
                                "name and an object response are required")
                    responses += 1
                elif f == "text" and not isinstance(p[f], str):
                    return f"Invalid value at 'contents[{i}].parts[{j}].text' (TYPE_STRING)"
            if responses:
                if not prev_calls:
                    return ("Please ensure that function response turn comes immediately "
                            "after a function call turn.")
                if responses != prev_calls:
                    return ("Please ensure that the number of function response parts is "
                            "equal to the number of function call parts of the function "
                            "call turn.")
            prev_calls = calls if role == "model" else 0
        si = body.get("systemInstruction", body.get("system_instruction"))
        if si is not None and (not isinstance(si, dict) or not isinstance(si.get("parts"), list)):
            return "Invalid value at 'system_instruction': expected Content with parts"
        tools = body.get("tools")
        if tools is not None:
            if not isinstance(tools, list):
                return "Invalid value at 'tools': expected a list"
            for t in tools:
                decls = t.get("functionDeclarations", t.get("function_declarations", [])) \
                    if isinstance(t, dict) else None
                if not isinstance(decls, list) or any(
                        not isinstance(d, dict) or not isinstance(d.get("name"), str)
                        for d in decls):
                    return "* GenerateContentRequest.tools[0].function_declarations[0].name: Name cannot be empty."
        gc = body.get("generationConfig", body.get("generation_config"))
        if gc is not None and not isinstance(gc, dict):
            return "Invalid value at 'generation_config': expected an object"
        return None

    def _gemini(self, path, query, body, bad_json):
        fake = self.server.fake
        _, model, method = GEMINI_PATH.fullmatch(path).groups()
        if self.command != "POST":
            return self._gemini_error(404, f"Method {self.command} is not allowed for {path}.")
        key = self.headers.get("x-goog-api-key") or query.get("key")
        if not key:
            return self._gemini_error(
                403, "Method doesn't allow unregistered callers (callers without established "
                "identity). Please use API Key or other form of API consumer identity to call "
                "this API.", reason="SERVICE_DISABLED")
        if key != fake.key:
            # Google itself answers a wrong key with 400 API_KEY_INVALID; the
            # brief for this fake asks for 403, and both are client errors.
            return self._gemini_error(403, "API key not valid. Please pass a valid API key.",
                                      reason="API_KEY_INVALID")
        if not model:
            return self._gemini_error(400, "* GenerateContentRequest.model: model is required")
        if bad_json:
            return self._gemini_error(400, "Invalid JSON payload received. Unexpected token.")
        problem = self._gemini_validate(body)
        if problem:
            return self._gemini_error(400, problem)
        item = fake._next_item("gemini")
        if self._apply_item(item, self._gemini_error):
            return
        item = item or {}
        contents = body["contents"]
        last_user = ""
        for c in reversed(contents):
            texts = [p["text"] for p in c["parts"] if "text" in p]
            if c.get("role", "user") == "user" and texts:
                last_user = "".join(texts)
                break
        calls = [{"functionCall": {"name": c["name"], "args": c.get("arguments", {})
                                   if not isinstance(c.get("arguments"), str)
                                   else json.loads(c["arguments"])}}
                 for c in _item_tool_calls(item)]
        if "text" in item:
            text = item["text"]
        elif calls:
            text = None
        else:
            text = f"fake-gemini({model}): {last_user[:60]}"
        prompt = sum(_tokens(p["text"] if "text" in p else _dumps(p))
                     for c in contents for p in c["parts"])
        completion = _tokens(text or "") + sum(_tokens(_dumps(c)) for c in calls)
        usage = {"promptTokenCount": prompt, "candidatesTokenCount": completion,
                 "totalTokenCount": prompt + completion}
        finish = item.get("finish_reason") or "STOP"  # STOP for function calls too
        rid = uuid.uuid4().hex[:22]

        def response(parts, finish_reason=None):
            cand = {"content": {"role": "model", "parts": parts}, "index": 0}
            if finish_reason:
                cand["finishReason"] = finish_reason
            return {"candidates": [cand], "usageMetadata": usage, "modelVersion": model,
                    "responseId": rid}

        text_parts = [{"text": text}] if text is not None else []
        if method == "generateContent" and not item.get("stream"):
            return self._send_json(200, response(text_parts + calls, finish))
        # streamGenerateContent: a chunk per text piece, calls and finish last
        pieces = item.get("chunks") or (_pieces(text) if text else [])
        chunks = [response([{"text": t}]) for t in pieces]
        if calls or not chunks:
            chunks.append(response(calls or text_parts))
        chunks[-1]["candidates"][0]["finishReason"] = finish
        if query.get("alt") == "sse":
            self._start_stream()
            for ch in chunks:
                fake._sleep(item.get("chunk_delay", 0))
                self._chunk("data: " + _dumps(ch) + "\r\n\r\n")
            return self._end_stream()
        # without alt=sse Google streams one JSON array
        self._send_json(200, chunks)

    # ------------------------------------------------------------ market
    def _market(self, path, query, body, bad_json):
        fake = self.server.fake
        if self.command != "GET":
            return self._send_json(405, {"error": {"code": 405, "message": "use GET"}})
        item = fake._next_item("market")
        if self._apply_item(item, lambda status, msg, headers: self._send_json(
                status, {"error": {"code": status, "message": msg}}, headers)):
            return
        if path == "/market/cross":
            return self._send_json(200, market_cross())
        raw_code = query.get("code", "")
        if not raw_code:
            return self._send_json(400, {"error": {"code": 400, "message": "missing code"}})
        code = market_lookup(raw_code)
        if not code:
            return self._send_json(404, {"error": {"code": 404,
                                                   "message": f"unknown code: {raw_code}"}})
        if path == "/market/quote":
            return self._send_json(200, market_quote(code))
        try:
            days = int(query.get("days", "30"))
        except ValueError:
            days = -1
        if not 1 <= days <= MAX_HISTORY_DAYS:
            return self._send_json(400, {"error": {
                "code": 400, "message": f"days must be 1..{MAX_HISTORY_DAYS}"}})
        self._send_json(200, market_history(code, days))


def main(argv=None):
    ap = argparse.ArgumentParser(description="fake Gemini/OpenAI/market server for mod_chat")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8091)
    ap.add_argument("--key", default="test-key", help="API key the fake accepts")
    ap.add_argument("--quiet", action="store_true", help="no per-request log lines")
    ap.add_argument("--script", help="JSON file with script items to queue at start")
    args = ap.parse_args(argv)
    fake = FakeAI(key=args.key, host=args.host, port=args.port, verbose=not args.quiet)
    if args.script:
        with open(args.script, encoding="utf-8") as f:
            fake.script(json.load(f))
    fake.start()
    print(f"fake-ai listening on {fake.url}  key={fake.key}\n"
          f"  gemini: {fake.gemini_base}/v1beta/models/MODEL:generateContent\n"
          f"  openai: {fake.openai_base}/chat/completions\n"
          f"  market: {fake.url}/market/quote?code=rb\n"
          f"  control: {fake.url}/_control/{{script,requests,reset}}", flush=True)
    try:
        threading.Event().wait()  # serve until interrupted
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
