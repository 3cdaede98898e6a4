"""Abusive-client benchmark driver (run through bench/abuse.sh; issue 12).

For each build (this worktree's, plus every --build DIR), alternating, ROUNDS
times: copy the build's mod_chat.so and mod_chat_admin.so (a snapshot taken
once at the start, so a rebuild meanwhile changes nothing), start a private
redis-server and an httpd from tests/harness.py (Debian's stock event MPM
settings, LogLevel warn) on free loopback ports, run bench/ws_abuse in two
scenarios while sampling the httpd processes in /proc every 0.5 s, stop
everything, and print one block of figures. With several builds it ends with
the medians of each and their ratios to the first build.

Scenario 1, ping flood (`ws_abuse flood`): see bench/README.md for what each
figure means. The httpd RSS is the sum of VmRSS over the parent and its
children: before = once everyone joined (before the members' 3 s alone and
the flood), peak = the highest 0.5 s sample from the flood's start until the
flooders have drained and disconnected, after = 2 s after every client socket
is closed. httpd CPU = utime+stime of the
parent and children from flood_start to flood_end. If the RSS passes
--rss-cap-mib during the flood, the flood is ended early (SIGUSR1 to the
client) and the block says so: a guard for a shared machine.

Scenario 2, stop reading then close (`ws_abuse close`), once per variant in
--after-close: CPU of each httpd child in percent of one core over the 5 s
after the close frames were sent (and the 1 s before, as the idle
reference), the highest 0.5 s sample, and what happened to the sockets.
"""
import argparse
import datetime
import hashlib
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import capacity  # bench/capacity.py: the machine line

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
from harness import MPM_CONF, Httpd, RedisServer, pid_alive, process_tree  # noqa: E402

CLIENT = os.path.join(HERE, "ws_abuse")
TICK = os.sysconf("SC_CLK_TCK")
MODULES = ("mod_chat", "mod_chat_admin")


# ---------------------------------------------------------------- /proc

def rss_kib(pid):
    return capacity.proc_status(pid, "VmRSS")


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss_mib(h):
    return sum(rss_kib(p) for p in process_tree(h.pid)) / 1024


def tree_cpu_s(h):
    return sum(cpu_ticks(p) for p in process_tree(h.pid)) / TICK


def server_sockets(port):
    """TCP sockets the server still holds on its port (not listening, not in
    TIME_WAIT), from /proc/net/tcp."""
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            if int(parts[1].split(":")[1], 16) == port and parts[3] not in ("0A", "06"):
                n += 1
    return n


def machine():
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return f"{capacity.machine()}, load average at start {load}"


class Sampler:
    """Samples the httpd tree every 0.5 s: total RSS and per-process CPU ticks."""

    def __init__(self, h):
        self.h = h
        self.samples = []  # (monotonic, rss_mib, {pid: ticks})
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def take(self):
        pids = process_tree(self.h.pid)
        s = (time.monotonic(), sum(rss_kib(p) for p in pids) / 1024,
             {p: cpu_ticks(p) for p in pids})
        self.samples.append(s)
        return s

    def run(self):
        while not self.stop.is_set():
            self.take()
            self.stop.wait(0.5)

    def close(self):
        self.stop.set()
        self.t.join(5)

    def peak_rss(self, since, until=None):
        vals = [s[1] for s in self.samples if s[0] >= since and (until is None or s[0] <= until)]
        return max(vals) if vals else 0.0

    def last(self):
        return self.samples[-1] if self.samples else self.take()


# ---------------------------------------------------------------- builds

class Build:
    """A snapshot of one build's two modules."""

    def __init__(self, directory, label):
        self.dir = os.path.abspath(directory)
        self.label = label
        for m in MODULES:
            src = os.path.join(self.dir, "modules", m, ".libs", f"{m}.so")
            if not os.path.isfile(src):
                raise SystemExit(f"{src} missing: build {self.dir} first (scripts/build.sh there)")
        self.snap = tempfile.mkdtemp(prefix="chat-abuse-build-")
        os.chmod(self.snap, 0o755)
        digest = hashlib.sha256()
        for m in MODULES:
            src = os.path.join(self.dir, "modules", m, ".libs", f"{m}.so")
            dst = os.path.join(self.snap, f"{m}.so")
            shutil.copy2(src, dst)
            with open(dst, "rb") as f:
                digest.update(f.read())
        self.sha = digest.hexdigest()[:12]
        self.so_mtime = datetime.datetime.fromtimestamp(
            os.path.getmtime(os.path.join(self.dir, "modules", "mod_chat", ".libs", "mod_chat.so")))
        # read-only look at the tree: no index refresh, no lock taken
        git = ["git", "--no-optional-locks", "-C", self.dir]
        head = subprocess.run(git + ["log", "-1", "--format=%h %s"], capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(git + ["status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        self.describe = (f"{self.label}: {self.dir} at {head[:72] or '?'}"
                         f"{' + uncommitted changes' if dirty else ''}; "
                         f".so built {self.so_mtime:%Y-%m-%d %H:%M}, sha256 {self.sha}")

    def cleanup(self):
        shutil.rmtree(self.snap, ignore_errors=True)


def make_httpd(build, redis, name):
    class BuildHttpd(Httpd):
        def module_path(self, mod):
            return os.path.join(build.snap, f"{mod}.so")

    return BuildHttpd(redis, name=name, extra_conf="LogLevel warn")


def wait_children(h):
    """The children start after the parent listens: wait until they all run."""
    deadline = time.monotonic() + 15
    prev = None
    while time.monotonic() < deadline:
        pids = process_tree(h.pid)
        if len(pids) > 1 and pids == prev:
            return
        prev = pids
        time.sleep(0.5)


# ---------------------------------------------------------------- scenarios

def run_client(args, on_line):
    """Runs ws_abuse, calling on_line(line, proc) for each stdout line; returns
    (lines, exit status, client CPU seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    print("  running: " + " ".join(args), file=sys.stderr, flush=True)
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    lines = []
    killer = threading.Timer(600, proc.kill)  # a last-resort bound
    killer.start()
    try:
        for line in proc.stdout:
            line = line.rstrip("\n")
            print("  client: " + line, file=sys.stderr, flush=True)
            lines.append(line)
            on_line(line, proc)
        rc = proc.wait(60)
    finally:
        killer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return lines, rc, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def field(lines, prefix, key, cast=float):
    """The value of key=... on the first line starting with prefix."""
    for line in lines:
        if line.startswith(prefix):
            m = re.search(r"(?:^|\s)" + re.escape(key) + r"=([-0-9.]+)", line)
            if m:
                return cast(m.group(1))
    return None


def members_pct(lines):
    """The members' deliveries during the flood in percent of those expected."""
    for line in lines:
        m = re.match(r"members_flood .*delivered=(\d+)/(\d+)", line)
        if m and int(m.group(2)):
            return 100 * int(m.group(1)) / int(m.group(2))
    return None


def flood(h, redis, opts, figures):
    r = redis.client()
    r.sadd("chat:room:flood:members", *[f"f{i}" for i in range(opts.flooders)], "a", "b")
    sampler = Sampler(h)
    marks = {}
    out = []

    def on_line(line, proc):
        now = time.monotonic()
        if line.startswith("joined"):
            marks["rss_before"] = sampler.take()[1]
        elif line.startswith("flood_start"):
            marks["start"] = now
            marks["cpu_start"] = tree_cpu_s(h)
            # the cap: watch the RSS and end the flood early past it
            def guard():
                while "end" not in marks and proc.poll() is None:
                    if sampler.last()[1] > opts.rss_cap_mib:
                        marks["capped"] = time.monotonic() - marks["start"]
                        proc.send_signal(signal.SIGUSR1)
                        return
                    time.sleep(0.25)
            threading.Thread(target=guard, daemon=True).start()
        elif line.startswith("flood_end"):
            marks["end"] = now
            marks["cpu_end"] = tree_cpu_s(h)

    cmd = [CLIENT, "flood", str(h.port), "flood", str(opts.flooders), f"{opts.flood_seconds:g}",
           str(opts.ping_payload), f"{opts.quiet_seconds:g}", f"{opts.drain_seconds:g}"]
    lines, rc, client_cpu = run_client(cmd, on_line)
    done = time.monotonic()
    time.sleep(2)  # every client socket is closed: what does the server give back?
    rss_after = sampler.take()[1]
    sockets_after = server_sockets(h.port)
    sampler.close()
    if "start" not in marks or "end" not in marks:
        out.append(f"flood_failed client_exit={rc}")
        out += lines
        return out
    peak = sampler.peak_rss(marks["start"], done)
    cpu = marks["cpu_end"] - marks["cpu_start"]
    secs = marks["end"] - marks["start"]
    out += [l for l in lines if not l.startswith("flood_start")]
    out.append(f"httpd_rss_mib before={marks['rss_before']:.1f} peak={peak:.1f} "
               f"after={rss_after:.1f} (peak over before {peak - marks['rss_before']:+.1f}) "
               f"server_sockets_left_after={sockets_after}")
    out.append(f"httpd_rss_growth_mib_per_s={(peak - marks['rss_before']) / secs:.1f} "
               f"(peak over before / flood seconds)")
    out.append(f"httpd_cpu_seconds_during_flood={cpu:.1f} over {secs:.1f} s "
               f"({100 * cpu / secs:.0f}% of one core)")
    if "capped" in marks:
        out.append(f"flood_ended_early_by_rss_cap={opts.rss_cap_mib} MiB at {marks['capped']:.1f} s")
    out.append(f"client_cpu_seconds={client_cpu:.1f} client_exit={rc}")
    figures.update({
        "flood.rss_peak_over_before_mib": peak - marks["rss_before"],
        "flood.rss_after_mib": rss_after,
        "flood.httpd_cpu_s": cpu,
        "flood.rss_growth_mib_per_s": (peak - marks["rss_before"]) / secs,
        "flood.pings_written": field(lines, "flooders ", "pings_written"),
        "flood.flooders_closed": field(lines, "flooders_closed_by_server", "flooders_closed_by_server",
                                       lambda v: float(v.split("/")[0])),
        "flood.close_s_p50": field(lines, "flooders_closed_by_server", "p50"),
        "flood.members_delivered_pct": members_pct(lines),
        "flood.members_p50_ms": field(lines, "members_flood", "p50"),
        "flood.members_p99_ms": field(lines, "members_flood", "p99"),
    })
    return out


def close_scenario(h, redis, opts, variant, figures):
    room = f"close{variant}"
    r = redis.client()
    r.sadd(f"chat:room:{room}:members", *[f"c{i}" for i in range(opts.closers)],
           *[f"poster{i}" for i in range(opts.posters)])
    marks = {}
    out = []

    def measure(t0):
        """CPU ticks of every httpd process at t0 and every 0.5 s for 5 s."""
        series = []
        for k in range(11):
            target = t0 + 0.5 * k
            time.sleep(max(0.0, target - time.monotonic()))
            series.append((time.monotonic(), {p: cpu_ticks(p) for p in process_tree(h.pid)}))
        marks["series"] = series

    def on_line(line, proc):
        if line.startswith("filled"):
            marks["idle0"] = (time.monotonic(), {p: cpu_ticks(p) for p in process_tree(h.pid)})
        elif line.startswith("close_sent"):
            now = time.monotonic()
            marks["idle1"] = (now, {p: cpu_ticks(p) for p in process_tree(h.pid)})
            t = threading.Thread(target=measure, args=(now,), daemon=True)
            t.start()
            marks["thread"] = t

    cmd = [CLIENT, "close", str(h.port), room, str(opts.closers), variant,
           f"{opts.watch_seconds:g}", f"{opts.drain_seconds:g}", str(opts.text_len),
           str(opts.posters), f"{opts.poster_rate:g}"]
    lines, rc, client_cpu = run_client(cmd, on_line)
    if "thread" in marks:
        marks["thread"].join(10)
    out += [l for l in lines if not l.startswith("filled")]
    if "series" not in marks:
        out.append(f"close_failed client_exit={rc}")
        return out

    def pct(a, b):
        """percent of one core per child between two (time, {pid: ticks})"""
        dt = b[0] - a[0]
        return {p: 100 * (b[1][p] - a[1].get(p, 0)) / TICK / dt for p in b[1] if p != h.pid}

    series = marks["series"]
    over5 = pct(series[0], series[-1])
    idle = pct(marks["idle0"], marks["idle1"])
    peak = max(max(pct(a, b).values() or [0]) for a, b in zip(series, series[1:]))
    kids = sorted(over5)
    out.append("httpd_child_cpu_pct_of_one_core over_5s_after_close "
               + " ".join(f"pid{p}={over5[p]:.1f}" for p in kids)
               + f" total={sum(over5.values()):.1f} highest_0.5s_sample={peak:.1f}")
    out.append("httpd_child_cpu_pct_of_one_core idle_1s_before_close "
               + " ".join(f"pid{p}={idle.get(p, 0):.1f}" for p in kids)
               + f" total={sum(idle.values()):.1f}")
    out.append(f"client_cpu_seconds={client_cpu:.1f} client_exit={rc}")
    figures.update({
        f"close_{variant}.httpd_cpu_pct_5s": sum(over5.values()),
        f"close_{variant}.tcp_closed": field(lines, "closers_tcp_closed_by_server",
                                             "closers_tcp_closed_by_server",
                                             lambda v: float(v.split("/")[0])),
        f"close_{variant}.close_s_p50": field(lines, "closers_tcp_closed_by_server", "p50"),
        f"close_{variant}.close_s_max": field(lines, "closers_tcp_closed_by_server", "max"),
    })
    return out


def run_build(build, opts, round_no):
    print(f"== {build.label}, round {round_no}", file=sys.stderr, flush=True)
    block = [f"== {build.label} (round {round_no}) =="]
    figures = {}
    redis = h = None
    try:
        redis = RedisServer().start()
        h = make_httpd(build, redis, "abuse").start()
        wait_children(h)
        block.append(f"server processes={len(process_tree(h.pid))} rss_mib={tree_rss_mib(h):.1f}")
        if opts.scenario in ("both", "flood"):
            block.append(f"-- ping flood: {opts.flooders} flooders for {opts.flood_seconds:g} s, "
                         f"ping payload {opts.ping_payload} bytes, 2 members every 100 ms")
            block += flood(h, redis, opts, figures)
        if opts.scenario in ("both", "close"):
            for variant in (["idle", "shutdown"] if opts.after_close == "both"
                            else [opts.after_close]):
                block.append(f"-- stop reading, then close: {opts.closers} closers, "
                             f"after the close frame: {variant}")
                block += close_scenario(h, redis, opts, variant, figures)
        log = h.log().splitlines()
        bad = [(m.group(1), l) for l in log
               for m in [re.search(r"\[(\w+):(?:warn|error|crit|alert|emerg)\]", l)] if m]
        by_module = {}
        for mod, _ in bad:
            by_module[mod] = by_module.get(mod, 0) + 1
        block.append(f"server_error_log_lines_warn_or_worse={len(bad)}"
                     + "".join(f" {m}={n}" for m, n in sorted(by_module.items())))
        # mod_chat's own first: the others are this machine's (e.g. mod_ssl's
        # warning about the OpenSSL it was built against)
        ours = [l for mod, l in bad if mod.startswith("chat")]
        block += ["  " + l[:220] for l in (ours or [l for _, l in bad])[:5]]
    finally:
        if h is not None:
            pids = process_tree(h.pid) if h.pid else []
            h.cleanup()
            left = [p for p in pids if pid_alive(p)]
            block.append(f"httpd_stopped={'no, still running: %s' % left if left else 'yes'}")
        if redis is not None:
            redis.cleanup()
    print("\n".join(block), flush=True)
    return figures


def compare(builds, results):
    """Medians over the rounds per build and, with several builds, their ratio
    to the first build."""
    several = len(builds) > 1
    print("== summary (median over rounds" + ("; ratio = build / first build) ==" if several
                                                else ") =="))
    keys = [k for k in results[0][0] if all(k in f for r in results for f in r)]
    print(f"{'figure':38} " + " ".join(f"{b.label:>14}" for b in builds)
          + ("   ratios" if several else "") + "   (rounds)")
    for k in keys:
        meds, spread = [], []
        for r in results:
            vals = sorted(f[k] for f in r if f.get(k) is not None)
            meds.append(statistics.median(vals) if vals else None)
            spread.append("/".join(format(v, ".3g") for v in vals))
        base = meds[0]
        ratios = []
        for m in meds[1:]:
            if m is None or base is None:
                ratios.append("n/a")
            elif base == 0:
                ratios.append("n/a (first is 0)" if m else "1.00")
            else:
                ratios.append(f"{m / base:.3g}")
        print(f"{k:38} " + " ".join(f"{'n/a' if m is None else format(m, '.4g'):>14}"
                                     for m in meds)
              + ("   " + " ".join(ratios) if several else "")
              + ("   (" + "; ".join(spread) + ")" if len(results[0]) > 1 else ""))


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", action="append", default=[], metavar="DIR",
                    help="another built tree to measure too (repeatable); read only")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--scenario", choices=("both", "flood", "close"), default="both")
    ap.add_argument("--flooders", type=int, default=50)
    ap.add_argument("--flood-seconds", type=float, default=20)
    ap.add_argument("--ping-payload", type=int, default=0, help="bytes per ping, 0..125")
    ap.add_argument("--quiet-seconds", type=float, default=3)
    ap.add_argument("--drain-seconds", type=float, default=5)
    ap.add_argument("--rss-cap-mib", type=float, default=4096)
    ap.add_argument("--closers", type=int, default=200)
    ap.add_argument("--after-close", choices=("both", "idle", "shutdown"), default="both")
    ap.add_argument("--watch-seconds", type=float, default=10)
    ap.add_argument("--text-len", type=int, default=4000)
    ap.add_argument("--posters", type=int, default=8)
    ap.add_argument("--poster-rate", type=float, default=15)
    ap.add_argument("--command", default="", help=argparse.SUPPRESS)  # as typed, from abuse.sh
    opts = ap.parse_args()
    if not 1 <= opts.rounds <= 20 or not 0 <= opts.ping_payload <= 125 \
            or not 0 < opts.flood_seconds <= 600:
        ap.error("out of range")
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, _terminate)

    print("== abusive clients (issue 12) ==")
    print(f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}")
    print(f"machine: {machine()}")
    print(f"command: {opts.command or 'bench/abuse.py ' + ' '.join(sys.argv[1:])}")
    print("mpm: event " + ", ".join(MPM_CONF["event"].splitlines()))
    builds = []
    try:
        builds.append(Build(ROOT, "this"))
        for k, d in enumerate(opts.build):
            builds.append(Build(d, f"build{k + 2}" if len(opts.build) > 1 else "other"))
        for b in builds:
            print(f"build {b.describe}")
        sys.stdout.flush()
        results = [[] for _ in builds]
        for rnd in range(1, opts.rounds + 1):
            for i, b in enumerate(builds):
                results[i].append(run_build(b, opts, rnd))
        if len(builds) > 1 or opts.rounds > 1:
            compare(builds, results)
    finally:
        for b in builds:
            b.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
