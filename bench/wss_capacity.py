"""wss:// capacity: N TLS WebSockets held on one httpd that serves TLS itself
(mod_ssl), where every socket holds a worker thread (thread mode), with the
server's threads, RSS and busy workers before and while they are open, and a
static GET's latency meanwhile. bench/ws_capacity.c speaks plain TCP only;
this is its TLS counterpart (Python asyncio + ssl, one process).

  /usr/bin/python3 bench/wss_capacity.py [N] [HOLD_SECONDS]     (defaults 500 10)

The httpd (tests/harness.py: private redis-server, free loopback ports) runs
the event MPM sized for N thread-mode sockets plus a reserve, the sizing
docs/DEPLOYMENT.md describes: ThreadsPerChild 50, MaxRequestWorkers the next
multiple of 50 at or above N * 1.2, ChatThreadSockets N, MaxSpareThreads =
MaxRequestWorkers. Prints key=value lines; exits 1 if a socket failed.
"""
import asyncio
import base64
import os
import re
import struct
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from harness import Httpd, RedisServer, client_tls_context, process_tree  # noqa: E402
from capacity import proc_status  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 500
HOLD = float(sys.argv[2]) if len(sys.argv) > 2 else 10
TPC = 50
MRW = -(-int(N * 1.2) // TPC) * TPC


def figures(h):
    pids = process_tree(h.pid)
    text = urllib.request.urlopen(h.url("/server-status?auto"), timeout=10).read().decode()
    st = dict(re.findall(r"^([A-Za-z]+): (.*)$", text, re.M))
    return {"processes": len(pids),
            "threads": sum(proc_status(p, "Threads") for p in pids),
            "rss_kib": sum(proc_status(p, "VmRSS") for p in pids),
            "busy_workers": int(st.get("BusyWorkers", 0)),
            "chat_thread_sockets": int(st.get("ChatThreadSockets", -1))}


def frame(text):
    data, mask = text.encode(), os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    return bytes([0x81, 0x80 | len(data)]) + mask + masked


async def open_ws(port, ctx, sem):
    async with sem:
        r, w = await asyncio.wait_for(asyncio.open_connection(
            "127.0.0.1", port, ssl=ctx, server_hostname="localhost"), 30)
        key = base64.b64encode(os.urandom(16)).decode()
        w.write((f"GET /chat-echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 30)
        if not head.startswith(b"HTTP/1.1 101"):
            w.close()
            raise RuntimeError(head.split(b"\r\n")[0].decode())
        return r, w


async def echo(r, w, text):
    w.write(frame(text))
    hdr = await asyncio.wait_for(r.readexactly(2), 30)
    return (await r.readexactly(hdr[1] & 0x7F)).decode() == text


async def main():
    redis = RedisServer().start()
    h = Httpd(redis, name="wss-capacity", extra_conf=f"""
ServerLimit {MRW // TPC + 4}
ThreadLimit {TPC}
ThreadsPerChild {TPC}
MaxRequestWorkers {MRW}
MinSpareThreads 25
MaxSpareThreads {MRW}
ChatThreadSockets {N}""")
    try:
        h.start()
        await asyncio.sleep(1)
        before = figures(h)
        ctx = client_tls_context()
        t0 = time.monotonic()
        results = await asyncio.gather(*(open_ws(h.tls_port, ctx, asyncio.Semaphore(50))
                                         for _ in range(N)), return_exceptions=True)
        socks = [x for x in results if not isinstance(x, BaseException)]
        opened_s = time.monotonic() - t0
        echoed = sum(await asyncio.gather(*(echo(r, w, f"m{i}")
                                            for i, (r, w) in enumerate(socks))))
        await asyncio.sleep(HOLD / 2)
        held = figures(h)
        gets = []
        for _ in range(10):
            g0 = time.monotonic()
            ok = urllib.request.urlopen(h.url("/static.txt"), timeout=10).status == 200
            gets.append((ok, time.monotonic() - g0))
        await asyncio.sleep(HOLD / 2)
        for r, w in socks:
            w.write(b"\x88\x82" + b"\0\0\0\0" + struct.pack("!H", 1000))
            w.close()
        sockets = max(1, len(socks))
        print(f"sockets={N} opened={len(socks)} echoed={echoed} open_seconds={opened_s:.1f}")
        print(f"config: ThreadsPerChild={TPC} MaxRequestWorkers={MRW} ChatThreadSockets={N}")
        for k in before:
            print(f"{k}: before={before[k]} held={held[k]}")
        print(f"threads_per_socket={(held['threads'] - before['threads']) / sockets:.2f} "
              f"rss_kib_per_socket={(held['rss_kib'] - before['rss_kib']) / sockets:.1f}")
        print(f"static_get ok={sum(ok for ok, _ in gets)}/{len(gets)} "
              f"max_ms={1000 * max(t for _, t in gets):.1f}")
        return 0 if len(socks) == N and echoed == N and all(ok for ok, _ in gets) else 1
    finally:
        h.cleanup()
        redis.cleanup()


sys.exit(asyncio.run(main()))
