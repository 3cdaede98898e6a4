"""Connection-capacity benchmark driver (run through bench/capacity.sh).

Starts a private redis-server and an httpd from tests/harness.py (Debian's
stock event MPM settings, the built mod_chat and mod_chat_admin, mod_status
with ExtendedStatus On at /server-status, <Location /chat-echo> SetHandler
chat-echo, htdocs/static.txt), runs bench/ws_capacity against it, samples the
server once a second while the sockets are held open, stops everything and
prints one summary block.

  capacity.py N HOLD [--graceful K] [--room M] [ws_capacity options...]

--graceful K: during the hold (from 3 s in), K graceful restarts (SIGUSR1 to
the parent) 5 s apart, each once the last one's new generation answers.
--room M: M chat members in one room (tests/wsasync.py, asyncio), opened
before the echo sockets, and a message posted in that room every 100 ms from
the start of the hold to its end; reports whether every member got every
message exactly once and in order, and whether any member was closed.
"""
import asyncio
import datetime
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from harness import Httpd, RedisServer, pid_alive, process_tree, wait_for  # noqa: E402
from wsasync import AsyncWS  # noqa: E402

CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ws_capacity")


def proc_status(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def open_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def fd_limit(pid):
    try:
        with open(f"/proc/{pid}/limits") as f:
            for line in f:
                if line.startswith("Max open files"):
                    return line.split()[3]
    except OSError:
        pass
    return "?"


def status_auto(h):
    text = urllib.request.urlopen(h.url("/server-status?auto"), timeout=5).read().decode()
    return {k: v.strip() for k, v in re.findall(r"^([A-Za-z]+): (.*)$", text, re.M)}


def sample(h):
    pids = process_tree(h.pid)
    auto = status_auto(h)
    return {
        "processes": len(pids),
        "rss_mib": sum(proc_status(p, "VmRSS") for p in pids) / 1024,
        "threads": sum(proc_status(p, "Threads") for p in pids),
        "fds": sum(open_fds(p) for p in pids),
        "busy": int(auto.get("BusyWorkers", -1)),
        "idle": int(auto.get("IdleWorkers", -1)),
    }


def machine():
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    apache = subprocess.run(["/usr/sbin/apache2", "-v"], capture_output=True, text=True).stdout
    apache = re.search(r"Apache/[\d.]+", apache)
    return (f"{os.cpu_count()} cores, {mem:.1f} GiB RAM, {cpu}, Linux {os.uname().release}, "
            f"{apache.group(0) if apache else 'Apache ?'}")


class RoomCheck:
    """M members of one room and a poster (--room), on an asyncio loop of its
    own thread: start() returns once all are joined, post_until(stop) posts
    every 100 ms, result() says what each member got."""

    def __init__(self, h, m):
        self.h, self.m = h, m
        self.room = f"bench{os.getpid()}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.posted, self.got, self.closed, self.welcomes = [], {}, {}, {}
        self.members = []

    def _run(self, coro, timeout=300):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self):
        self.thread.start()
        users = [f"m{i}" for i in range(self.m)]
        self.h.redis.client().sadd(f"chat:room:{self.room}:members", *users)
        self._run(self._join_all(users))

    async def _join(self, user):
        ws = await AsyncWS.connect("127.0.0.1", self.h.port, f"/chat/{self.room}?username={user}")
        await ws.expect("welcome")
        self.got[user], self.welcomes[user] = [], 1
        self.members.append((user, ws, asyncio.ensure_future(self._pump(user, ws))))

    async def _join_all(self, users):
        for i in range(0, len(users), 50):
            await asyncio.gather(*(self._join(u) for u in users[i:i + 50]))

    async def _pump(self, user, ws):
        try:
            while True:
                msg = await ws.recv_json()
                if msg["type"] == "chat":
                    self.got[user].append(msg["payload"]["text"])
                elif msg["type"] == "welcome":
                    self.welcomes[user] += 1
        except (ConnectionError, OSError):
            self.closed[user] = ws.close_code or 1006

    async def _post(self, stop):
        poster = self.members[0][1]
        k = 0
        while not stop.is_set():
            text = f"p{k}"
            poster.send_json({"type": "chat", "payload": {"type": "text", "text": text}})
            self.posted.append(text)
            k += 1
            await asyncio.sleep(0.1)  # the posting rate

    def post_until(self, stop):
        return asyncio.run_coroutine_threadsafe(self._post(stop), self.loop)

    def result(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(
                len(g) < len(self.posted) for u, g in self.got.items() if u not in self.closed):
            time.sleep(0.1)
        exact = sum(1 for g in self.got.values() if g == self.posted)
        return (f"room members={self.m} posted={len(self.posted)} every_100ms "
                f"exactly_once_in_order={exact}/{self.m} closed={len(self.closed)} "
                f"second_welcome={sum(1 for w in self.welcomes.values() if w > 1)}")


def graceful_restarts(h, k, first, gap, summary):
    time.sleep(first)
    for i in range(k):
        before = h.log().count("resuming normal operations")
        t0 = time.monotonic()
        os.kill(h.pid, signal.SIGUSR1)
        wait_for(lambda: h.log().count("resuming normal operations") > before, 30,
                 "the graceful restart")
        summary.append(f"graceful_restart {i + 1} at +{first + i * gap:.0f} s: configuration "
                       f"reloaded after {time.monotonic() - t0:.1f} s")
        if i + 1 < k:
            time.sleep(gap)


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    hold = float(sys.argv[2]) if len(sys.argv) > 2 else 40
    extra = sys.argv[3:]
    graceful = room_m = 0
    if "--graceful" in extra:
        i = extra.index("--graceful")
        graceful = int(extra[i + 1])
        del extra[i:i + 2]
    if "--room" in extra:
        i = extra.index("--room")
        room_m = int(extra[i + 1])
        del extra[i:i + 2]
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, _terminate)

    summary = [
        "== connection capacity ==",
        f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"machine: {machine()}",
        "command: bench/capacity.sh " + " ".join(sys.argv[1:]),
        "mpm: event StartServers 2, MinSpareThreads 25, MaxSpareThreads 75, ThreadLimit 64, "
        "ThreadsPerChild 25, MaxRequestWorkers 150, MaxConnectionsPerChild 0",
    ]
    redis = h = proc = None
    rc = 1
    try:
        redis = RedisServer().start()
        h = Httpd(redis, name="bench", extra_conf="LogLevel warn chat:info").start()
        # the children start after the parent listens: wait until they all run
        idle, deadline = sample(h), time.monotonic() + 15
        while time.monotonic() < deadline:
            time.sleep(0.5)
            again = sample(h)
            if again["processes"] > 1 and again["threads"] == idle["threads"] \
                    and again["processes"] == idle["processes"]:
                break
            idle = again
        summary.append(f"server_idle processes={idle['processes']} rss_mib={idle['rss_mib']:.1f} "
                       f"threads={idle['threads']} busy_workers={idle['busy']} "
                       f"fd_limit_per_process={fd_limit(h.pid)}")
        room = None
        if room_m:
            room = RoomCheck(h, room_m)
            room.start()
        cmd = [CLIENT, "--hold", f"{hold:g}"] + extra + [str(h.port), str(n)]
        print("running: " + " ".join(cmd), file=sys.stderr, flush=True)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        samples, stop = [], threading.Event()

        def sampler():
            while not stop.is_set():
                try:
                    samples.append(sample(h))
                except OSError:
                    pass
                stop.wait(1)

        t = restarts = None
        posting, restart_lines = threading.Event(), []
        for line in proc.stdout:
            print("  client: " + line, end="", file=sys.stderr, flush=True)
            summary.append(line.rstrip("\n"))
            if line.startswith("holding=") and t is None:
                t = threading.Thread(target=sampler, daemon=True)
                t.start()
                if room is not None:
                    room.post_until(posting)
                if graceful:
                    restarts = threading.Thread(target=graceful_restarts, daemon=True,
                                                args=(h, graceful, 3, 5, restart_lines))
                    restarts.start()
            elif line.startswith("get_count=") and t is not None:
                stop.set()  # the hold is over: the sockets are about to close
                posting.set()
        rc = proc.wait(timeout=60)
        stop.set()
        if t is not None:
            t.join(10)
        if samples:
            peak = max(samples, key=lambda s: s["rss_mib"])
            summary.append(
                f"server_loaded samples={len(samples)} processes={max(s['processes'] for s in samples)} "
                f"rss_mib={peak['rss_mib']:.1f} threads={max(s['threads'] for s in samples)} "
                f"open_fds={max(s['fds'] for s in samples)} "
                f"busy_workers max={max(s['busy'] for s in samples)} "
                f"min={min(s['busy'] for s in samples)}")
            summary.append(f"server_rss_over_idle_mib={peak['rss_mib'] - idle['rss_mib']:.1f} "
                           f"per_socket_kib={(peak['rss_mib'] - idle['rss_mib']) * 1024 / n:.2f}")
        if restarts is not None:
            restarts.join(60)
        summary += restart_lines
        if room is not None:
            summary.append(room.result())
        log = h.log().splitlines()
        for l in log:
            m = re.search(r"chat: (handed \d+ WebSocket\(s\) to child \d+ in \d+ ms|took \d+ "
                          r"WebSocket.*|\d+ WebSocket\(s\) handed over, the rest not.*)", l)
            if m:
                summary.append("  server: " + m.group(1))
        bad = [l for l in log if re.search(r":(warn|error|crit|alert|emerg)\]", l)]
        summary.append(f"server_error_log_lines_warn_or_worse={len(bad)}")
        summary += ["  " + l for l in bad[:5]]
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if h is not None:
            pids = process_tree(h.pid) if h.pid else []
            h.cleanup()
            left = [p for p in pids if pid_alive(p)]
            summary.append(f"httpd_stopped={'no, still running: %s' % left if left else 'yes'}")
        if redis is not None:
            redis.cleanup()
        summary.append(f"client_exit={rc}")
        print("\n".join(summary), flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
