"""wss:// capacity through haproxy (run through bench/proxy_capacity.sh).

Starts a private redis-server, an httpd from tests/harness.py (Debian's stock
event MPM settings) with conf/chat-proxy.conf, and Debian's haproxy with the
shipped conf/haproxy.cfg in front of httpd's plain listener
(tests/haproxy.py). Client processes (Python asyncio, tests/wsasync.py) open
N wss:// sockets to /chat-echo through haproxy, each echoes one message, then
holds them HOLD seconds answering pings while this process samples httpd
(RSS, threads, BusyWorkers) and haproxy (RSS) once a second and times a
static GET through haproxy (TLS); then every socket closes with 1000.

Every proxied socket costs haproxy two descriptors. When the hard open-file
limit cannot hold 2 N in one process, several haproxy instances share the
sockets (each is the same file; the summary says how many).

  proxy_capacity.py N HOLD [CLIENT_PROCESSES]
"""
import asyncio
import datetime
import multiprocessing
import os
import resource
import signal
import ssl
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, HERE)
from capacity import machine, proc_status, sample  # noqa: E402
from harness import Httpd, RedisServer, client_tls_context, pid_alive, process_tree  # noqa: E402
from haproxy import HAPROXY, Haproxy, httpd_snippet  # noqa: E402
from wsasync import AsyncWS  # noqa: E402


def client(idx, ports, n, hold, report):
    """One client process: n sockets spread over the haproxy ports, from
    127.0.0.(2+idx) so no source runs out of ephemeral ports."""
    async def run():
        ctx = client_tls_context()
        gate = asyncio.Semaphore(50)
        src = (f"127.0.0.{2 + idx}", 0)
        fails = []

        async def one(i):
            async with gate:
                try:
                    ws = await AsyncWS.connect("127.0.0.1", ports[i % len(ports)], "/chat-echo",
                                               ssl=ctx, local_addr=src)
                    ws.send_text(f"m{i}")
                    op, payload = await asyncio.wait_for(ws.recv_frame(), 60)
                    assert payload == f"m{i}".encode()
                    return ws
                except (OSError, AssertionError, asyncio.TimeoutError,
                        ConnectionError, ssl.SSLError) as e:
                    fails.append(repr(e)[:120])
                    return None
        t0 = time.monotonic()
        socks = [s for s in await asyncio.gather(*(one(i) for i in range(n))) if s]
        report.put(("open", idx, len(socks), time.monotonic() - t0, fails[:3]))

        lost = []

        async def keep(ws):
            try:
                while True:
                    await ws.recv_json()  # answers pings; any text or close is a loss
            except ConnectionError as e:
                lost.append(str(e))
        tasks = [asyncio.ensure_future(keep(s)) for s in socks]
        await asyncio.sleep(hold)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        report.put(("held", idx, len(socks) - len(lost)))
        await asyncio.gather(*(s.close() for s in socks), return_exceptions=True)
        report.put(("closed", idx, sum(1 for s in socks if s.close_code == 1000)))
    asyncio.run(run())


def static_get(port):
    """Seconds for GET /static.txt through haproxy on a new TLS connection."""
    import http.client
    t0 = time.monotonic()
    c = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=client_tls_context())
    c.request("GET", "/static.txt")
    r = c.getresponse()
    body = r.read()
    c.close()
    assert r.status == 200 and body == b"static file\n", (r.status, body)
    return time.monotonic() - t0


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    hold = float(sys.argv[2]) if len(sys.argv) > 2 else 40
    procs = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, _terminate)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    hard = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    per = (hard - 200) // 2  # sockets one haproxy can carry under the hard limit
    instances = max(1, -(-n // per))
    version = os.popen(f"{HAPROXY} -v").readline().strip()
    summary = [
        "== wss:// capacity through haproxy ==",
        f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"machine: {machine()}, {version}",
        f"command: bench/proxy_capacity.sh {n} {hold:g} {procs}",
        "httpd: event StartServers 2, ThreadsPerChild 25, MaxRequestWorkers 150; "
        "conf/chat-proxy.conf; /chat-echo",
        f"haproxy: conf/haproxy.cfg x {instances} (hard open-file limit {hard}: "
        f"{per} proxied sockets per process), -n {-(-n // instances) + 100}",
        f"client: {procs} Python asyncio processes (tests/wsasync.py), TLS 1.3, "
        "RSA-2048 test certificate",
    ]
    redis = h = None
    proxies, workers = [], []
    rc = 1
    try:
        redis = RedisServer().start()
        h = Httpd(redis, name="proxy-bench", mpm="event")
        h.reconfigure(httpd_snippet(h.dir / "logs" / "proxied.log") + "\nLogLevel warn\n")
        h.start()
        for i in range(instances):
            proxies.append(Haproxy(h.port, h.dir, maxconn=-(-n // instances) + 100,
                                   name=f"haproxy{i}").start())
        time.sleep(3)  # let the children start and haproxy's first checks pass
        idle = sample(h)
        hp_idle = sum(proc_status(p.proc.pid, "VmRSS") for p in proxies) / 1024
        summary.append(f"idle: httpd processes={idle['processes']} rss_mib={idle['rss_mib']:.1f} "
                       f"threads={idle['threads']}; haproxy rss_mib={hp_idle:.1f}")
        report = multiprocessing.Queue()
        ports = [p.port for p in proxies]
        share = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
        t0 = time.monotonic()
        workers = [multiprocessing.Process(target=client, args=(i, ports, share[i], hold, report))
                   for i in range(procs)]
        for w in workers:
            w.start()
        opened, fails = 0, []
        for _ in range(procs):
            _, idx, count, secs, f = report.get(timeout=600)
            opened += count
            fails += f
        summary.append(f"opened={opened}/{n} in {time.monotonic() - t0:.1f} s (echo checked "
                       f"on each){' first failures: %s' % fails[:3] if fails else ''}")
        samples, gets, end = [], [], time.monotonic() + hold - 2
        while time.monotonic() < end:
            s = sample(h)
            s["hp_rss_mib"] = sum(proc_status(p.proc.pid, "VmRSS") for p in proxies) / 1024
            s["hp_threads"] = sum(proc_status(p.proc.pid, "Threads") for p in proxies)
            samples.append(s)
            gets.append(static_get(ports[0]))
            time.sleep(1)
        held = sum(report.get(timeout=120)[2] for _ in range(procs))
        closed = sum(report.get(timeout=300)[2] for _ in range(procs))
        for w in workers:
            w.join(30)
        gets.sort()
        peak = max(samples, key=lambda s: s["rss_mib"])
        summary += [
            f"held={held}/{opened} through {hold:g} s (server pings answered)",
            f"closed_1000={closed}/{opened}",
            f"httpd_loaded samples={len(samples)} rss_mib={peak['rss_mib']:.1f} "
            f"(+{peak['rss_mib'] - idle['rss_mib']:.1f}) "
            f"threads={max(s['threads'] for s in samples)} "
            f"open_fds={max(s['fds'] for s in samples)} "
            f"busy_workers max={max(s['busy'] for s in samples)} "
            f"min={min(s['busy'] for s in samples)}",
            f"haproxy_loaded rss_mib={max(s['hp_rss_mib'] for s in samples):.1f} "
            f"threads={max(s['hp_threads'] for s in samples)}",
            f"static_get_via_haproxy_ms n={len(gets)} median={gets[len(gets) // 2] * 1e3:.1f} "
            f"max={gets[-1] * 1e3:.1f} (new TLS connection each)",
        ]
        bad = [ln for ln in h.log().splitlines() if ":error]" in ln or ":crit]" in ln]
        summary.append(f"httpd_error_log_lines_error_or_worse={len(bad)}")
        rc = 0 if opened == held == closed == n else 1
    finally:
        for w in workers:
            if w.is_alive():
                w.kill()
        for p in proxies:
            p.stop()
        if h is not None:
            pids = process_tree(h.pid) if h.pid else []
            h.cleanup()
            left = [p for p in pids if pid_alive(p)]
            summary.append(f"httpd_stopped={'no, still running: %s' % left if left else 'yes'}")
        if redis is not None:
            redis.cleanup()
        summary.append(f"exit={rc}")
        print("\n".join(summary), flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
