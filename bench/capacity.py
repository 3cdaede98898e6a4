"""Connection-capacity benchmark driver (run through bench/capacity.sh).

Starts a private redis-server and an httpd from tests/harness.py (Debian's
stock event MPM settings, the built mod_chat and mod_chat_admin, mod_status
with ExtendedStatus On at /server-status, <Location /chat-echo> SetHandler
chat-echo, htdocs/static.txt), runs bench/ws_capacity against it, samples the
server once a second while the sockets are held open, stops everything and
prints one summary block.

  capacity.py N HOLD [ws_capacity options...]
"""
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
from harness import Httpd, RedisServer, pid_alive, process_tree  # noqa: E402

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


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    hold = float(sys.argv[2]) if len(sys.argv) > 2 else 40
    extra = sys.argv[3:]
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, _terminate)

    summary = [
        "== connection capacity ==",
        f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"machine: {machine()}",
        "command: bench/capacity.sh " + " ".join([str(n), f"{hold:g}"] + extra),
        "mpm: event StartServers 2, MinSpareThreads 25, MaxSpareThreads 75, ThreadLimit 64, "
        "ThreadsPerChild 25, MaxRequestWorkers 150, MaxConnectionsPerChild 0",
    ]
    redis = h = proc = None
    rc = 1
    try:
        redis = RedisServer().start()
        h = Httpd(redis, name="bench", extra_conf="LogLevel warn").start()
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

        t = None
        for line in proc.stdout:
            print("  client: " + line, end="", file=sys.stderr, flush=True)
            summary.append(line.rstrip("\n"))
            if line.startswith("holding=") and t is None:
                t = threading.Thread(target=sampler, daemon=True)
                t.start()
            elif line.startswith("get_count=") and t is not None:
                stop.set()  # the hold is over: the sockets are about to close
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
        log = h.log().splitlines()
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
