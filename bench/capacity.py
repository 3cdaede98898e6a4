"""Connection-capacity benchmark driver: a private redis-server and httpd
(Debian's stock event MPM settings, the built modules), ws_capacity opening N
sockets, and the server's RSS, processes, threads and busy workers sampled
while they are open. Run through bench/capacity.sh."""
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from harness import Httpd, RedisServer, process_tree  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
HOLD = float(sys.argv[2]) if len(sys.argv) > 2 else 15
CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ws_capacity")


def status_of(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def sample(h):
    pids = process_tree(h.pid)
    rss = sum(status_of(p, "VmRSS") for p in pids)
    threads = sum(status_of(p, "Threads") for p in pids)
    auto = urllib.request.urlopen(h.url("/server-status?auto"), timeout=5).read().decode()
    busy = int(re.search(r"BusyWorkers: (\d+)", auto).group(1))
    return {"processes": len(pids), "rss_mib": rss / 1024, "threads": threads, "busy_workers": busy}


def main():
    redis = RedisServer().start()
    h = Httpd(redis, name="bench", extra_conf="LogLevel warn").start()
    try:
        idle = sample(h)
        print(f"server_idle processes={idle['processes']} rss_mib={idle['rss_mib']:.1f} "
              f"threads={idle['threads']} busy_workers={idle['busy_workers']}", flush=True)
        proc = subprocess.Popen([CLIENT, str(h.port), str(N), "/chat-echo", str(HOLD)],
                                stdout=subprocess.PIPE, text=True)
        samples = []
        for line in proc.stdout:
            print(line, end="", flush=True)
            if line.startswith("holding="):
                # sample while the sockets are held open
                def sampler():
                    end = time.monotonic() + HOLD - 1
                    while time.monotonic() < end:
                        samples.append(sample(h))
                        time.sleep(1)
                t = threading.Thread(target=sampler)
                t.start()
        rc = proc.wait()
        if samples:
            t.join()
            peak = max(samples, key=lambda s: s["rss_mib"])
            print(f"server_loaded processes={peak['processes']} rss_mib={peak['rss_mib']:.1f} "
                  f"threads={max(s['threads'] for s in samples)} "
                  f"busy_workers_max={max(s['busy_workers'] for s in samples)}")
        errors = [l for l in h.log().splitlines() if ":error]" in l or ":crit]" in l or ":warn]" in l]
        print(f"server_error_log_errors={len(errors)}")
        for l in errors[:5]:
            print("  " + l)
        return rc
    finally:
        h.cleanup()
        redis.cleanup()


if __name__ == "__main__":
    sys.exit(main())
