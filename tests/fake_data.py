#!/usr/bin/env python3
"""A local stand-in for outside market-data and news APIs, speaking three
different JSON shapes of the same data, so tests can show that mod_chat's
ChatData* directives map any of them to the same rows by configuration only.

  shape a  numbers as JSON numbers, times as unix milliseconds, rows under paths
           GET /a/quote?symbol=rb        {"code":0,"data":[{"symbol","last","chg_pct","oi"}]}
           GET /a/kline?symbol=rb&n=N    {"data":{"list":[{"t","o","h","l","c","v"}]}}
           GET /a/minute?symbol=rb       the same shape, 5-minute bars of the last day
           GET /a/board                  {"data":[{"symbol","name","chg_pct","oi","ex"}]}
           GET /a/news?kw=Q&size=N       {"data":{"news":[{"nid","title","url","ts"}]}}
  shape b  numbers as strings ("3,520.50", "1.20%"), dates as YYYY-MM-DD
           GET /b/v2/quotes/rb           {"result":{"quote":{"code","price","change","oi"}}}
           GET /b/v2/history?code=rb&limit=N   {"result":{"bars":[{"date","open",...}]}}
           GET /b/v2/board               {"result":{"items":[{"code","name","change","oi","exchange"}]}}
           GET /b/v2/news?q=Q            {"result":{"news":[{"id","headline","link","published"}]}}
           every /b/ request must carry X-Api-Key: data-key (else 401)
  shape c  objects of rows keyed by code, rows as arrays, dates as YYYYMMDD
           GET /c/snapshot               {"rb":{"p","pct","oi","ex","cn"},...}
           GET /c/k/rb.json?days=N       {"k":[["20261127",o,h,l,c,v],...]}
           GET /c/news.json?q=Q          {"n1":{"t","u","d"},...}

Failures for the next requests under a prefix (fail()): "500", "timeout" (no
answer until the test ends), "badjson", "missing" (rows without their fields).
Every request is recorded (path, query, headers).
"""
import datetime
import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DAY = datetime.date(2026, 11, 27)  # a Friday: the last trading day of the data
BEIJING = datetime.timezone(datetime.timedelta(hours=8))

# code: (name, exchange, price, change %, open interest)
PRODUCTS = {
    "rb": ("螺纹钢", "SHFE", 3520.5, 1.2, 1850000),
    "au": ("黄金", "SHFE", 612.34, -0.45, 210000),
    "sc": ("原油", "INE", 548.7, -2.35, 95000),
    "lu": ("低硫燃料油", "INE", 3675.0, 0.8, 150000),
    "m": ("豆粕", "DCE", 2890.0, 3.1, 2400000),
    "TA": ("PTA", "CZCE", 4850.0, -1.05, 1300000),
}
NEWS = [
    ("n1", "螺纹钢库存连续三周下降", "https://news.example/1", datetime.date(2026, 11, 27)),
    ("n2", "原油价格震荡", "https://news.example/2", datetime.date(2026, 11, 26)),
    ("n3", "螺纹钢期货夜盘走强", "https://news.example/3", datetime.date(2026, 11, 25)),
]


def trading_days(n):
    """The last n weekdays up to DAY, oldest first."""
    days, day = [], DAY
    while len(days) < n:
        if day.weekday() < 5:
            days.append(day)
        day -= datetime.timedelta(days=1)
    return days[::-1]


def bars(code, n):
    """n daily bars ending on DAY: plain numbers with two decimals at most."""
    price = PRODUCTS[code][2]
    out = []
    for i, day in enumerate(trading_days(n)):
        k = n - 1 - i  # 0 = the last day, whose close is the quote's price
        close = round(price * (1 + 0.01 * math.sin(k * 1.7)), 1) if k else price
        open_ = round(close * (1 - 0.004 * math.cos(k)), 1)
        out.append({"day": day, "open": open_, "high": round(max(open_, close) * 1.006, 1),
                    "low": round(min(open_, close) * 0.994, 1), "close": close,
                    "volume": 100000 + 1000 * k})
    return out


def minute_bars(code):
    """5-minute bars of DAY from 09:00 Beijing time."""
    price = PRODUCTS[code][2]
    start = datetime.datetime(2026, 11, 27, 9, 0, tzinfo=BEIJING)
    return [{"t": int((start + datetime.timedelta(minutes=5 * i)).timestamp() * 1000),
             "o": price, "h": price + 2, "l": price - 2, "c": round(price + i - 3, 1), "v": 10 * i}
            for i in range(6)]


def ms(day):
    return int(datetime.datetime(day.year, day.month, day.day, tzinfo=BEIJING).timestamp() * 1000)


def text(x):
    """A number as the string shape b sends: thousands separators, 2 decimals."""
    return f"{x:,.2f}"


def shape_a(path, q):
    code = q.get("symbol", "")
    if path == "/a/quote" and code in PRODUCTS:
        _, _, price, chg, oi = PRODUCTS[code]
        return {"code": 0, "data": [{"symbol": code, "last": price, "chg_pct": chg, "oi": oi}]}
    if path == "/a/kline" and code in PRODUCTS:
        return {"data": {"list": [{"t": ms(b["day"]), "o": b["open"], "h": b["high"],
                                   "l": b["low"], "c": b["close"], "v": b["volume"]}
                                  for b in bars(code, int(q.get("n", "20")))]}}
    if path == "/a/minute" and code in PRODUCTS:
        return {"data": {"list": minute_bars(code)}}
    if path == "/a/board":
        return {"data": [{"symbol": c, "name": p[0], "chg_pct": p[3], "oi": p[4], "ex": p[1]}
                         for c, p in PRODUCTS.items()]}
    if path == "/a/news":
        kw = q.get("kw", "")
        return {"data": {"news": [{"nid": i, "title": t, "url": u, "ts": ms(d)}
                                  for i, t, u, d in NEWS if kw in t][:int(q.get("size", "10"))]}}
    return None


def shape_b(path, q):
    if path.startswith("/b/v2/quotes/") and path[13:] in PRODUCTS:
        _, _, price, chg, oi = PRODUCTS[path[13:]]
        return {"result": {"quote": {"code": path[13:], "price": text(price),
                                     "change": f"{chg:.2f}%", "oi": str(oi)}}}
    if path == "/b/v2/history" and q.get("code") in PRODUCTS:
        return {"result": {"bars": [{"date": b["day"].isoformat(), "open": text(b["open"]),
                                     "high": text(b["high"]), "low": text(b["low"]),
                                     "close": text(b["close"]), "volume": str(b["volume"])}
                                    for b in bars(q["code"], int(q.get("limit", "20")))]}}
    if path == "/b/v2/board":
        return {"result": {"items": [{"code": c, "name": p[0], "change": f"{p[3]:.2f}%",
                                      "oi": text(p[4]), "exchange": p[1]}
                                     for c, p in PRODUCTS.items()]}}
    if path == "/b/v2/news":
        return {"result": {"news": [{"id": i, "headline": t, "link": u,
                                     "published": d.isoformat()}
                                    for i, t, u, d in NEWS if q.get("q", "") in t]}}
    return None


def shape_c(path, q):
    if path == "/c/snapshot":
        return {c: {"p": p[2], "pct": str(p[3]), "oi": p[4], "ex": p[1], "cn": p[0]}
                for c, p in PRODUCTS.items()}
    if path.startswith("/c/k/") and path.endswith(".json") and path[5:-5] in PRODUCTS:
        return {"k": [[b["day"].strftime("%Y%m%d"), str(b["open"]), b["high"], b["low"],
                       str(b["close"]), b["volume"]]
                      for b in bars(path[5:-5], int(q.get("days", "20")))]}
    if path == "/c/news.json":
        return {i: {"t": t, "u": u, "d": d.strftime("%Y%m%d")}
                for i, t, u, d in NEWS if q.get("q", "") in t}
    return None


def missing(doc):
    """The same document with every row's fields renamed away."""
    if isinstance(doc, dict):
        return {("x_" + k if k not in ("data", "list", "result", "bars", "items", "k", "quote",
                                       "news") else k): missing(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [missing(v) for v in doc]
    return doc


class FakeData:
    def __init__(self, host="127.0.0.1"):
        self.host = host
        self._lock = threading.Lock()
        self._records = []
        self._failures = []  # [prefix, mode, count]
        self._stopping = threading.Event()

    def start(self):
        self._server = ThreadingHTTPServer((self.host, 0), _Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._server.fake = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    def fail(self, prefix, mode, count=1):
        with self._lock:
            self._failures.append([prefix, mode, count])

    def reset(self):
        with self._lock:
            self._records.clear()
            self._failures.clear()
        self._stopping.set()  # frees handlers held by a "timeout"
        self._stopping = threading.Event()

    def requests(self, prefix=""):
        with self._lock:
            return [r for r in self._records if r["path"].startswith(prefix)]

    def _take_failure(self, path):
        with self._lock:
            for f in self._failures:
                if path.startswith(f[0]) and f[2] > 0:
                    f[2] -= 1
                    return f[1]
        return None

    def _record(self, rec):
        with self._lock:
            self._records.append(rec)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _send(self, status, body, ctype="application/json; charset=utf-8"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        fake = self.server.fake
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        fake._record({"path": url.path, "query": q,
                      "headers": {k.lower(): v for k, v in self.headers.items()}})
        mode = fake._take_failure(url.path)
        if mode == "500":
            return self._send(500, '{"error":"internal"}')
        if mode == "timeout":
            fake._stopping.wait(30)
            return self._send(504, '{"error":"late"}')
        if mode == "badjson":
            return self._send(200, "<html>Service unavailable</html>", "text/html")
        if url.path.startswith("/b/") and self.headers.get("X-Api-Key") != "data-key":
            return self._send(401, '{"error":"missing key"}')
        doc = (shape_a if url.path.startswith("/a/") else
               shape_b if url.path.startswith("/b/") else shape_c)(url.path, q)
        if doc is None:
            return self._send(404, '{"error":"no such thing"}')
        if mode == "missing":
            doc = missing(doc)
        self._send(200, json.dumps(doc, ensure_ascii=False))
