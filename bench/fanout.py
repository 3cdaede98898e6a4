"""Fan-out benchmark driver: a private redis-server and httpd (stock event MPM
settings, the built modules), ws_fanout with N clients over R rooms sending at
a fixed rate, and the CPU time httpd and redis used meanwhile.

  fanout.py N ROOMS RATE SECONDS          one run
  fanout.py N ROOMS sweep SECONDS         raise the rate until p99 >= 50 ms
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from harness import Httpd, RedisServer, process_tree  # noqa: E402

CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ws_fanout")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except OSError:
            pass
    return total / TICK


def run(h, redis, n, rooms, rate, seconds, prefix):
    r = redis.client()
    for k in range(rooms):
        r.sadd(f"chat:room:{prefix}{k}:members", *[f"b{i}" for i in range(n) if i % rooms == k])
    hp = process_tree(h.pid)
    before = cpu_seconds(hp), cpu_seconds([redis.proc.pid])
    out = subprocess.run([CLIENT, str(h.port), str(n), str(rooms), str(rate), str(seconds), prefix],
                         capture_output=True, text=True, timeout=seconds + 120).stdout
    after = cpu_seconds(process_tree(h.pid)), cpu_seconds([redis.proc.pid])
    print(out, end="")
    print(f"server_cpu_seconds httpd={after[0] - before[0]:.1f} redis={after[1] - before[1]:.1f} "
          f"(over {seconds} s measured + joins/drain)", flush=True)
    m = re.search(r"p99=([0-9.]+)", out)
    d = re.search(r"delivered=(\d+) expected=(\d+)", out)
    return (float(m.group(1)) if m else 1e9), d and int(d.group(1)) >= int(d.group(2))


def main():
    n, rooms, rate, seconds = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    redis = RedisServer().start()
    h = Httpd(redis, name="fanout", extra_conf="LogLevel warn").start()
    try:
        if rate != "sweep":
            print(f"== {n} clients, {rooms} rooms, {rate} msg/s each", flush=True)
            run(h, redis, n, rooms, float(rate), seconds, "fan")
            return 0
        best = None
        for k, r in enumerate([1, 2, 3, 4, 6, 8, 12, 16]):
            print(f"== {n} clients, {rooms} rooms, {r} msg/s each", flush=True)
            p99, complete = run(h, redis, n, rooms, r, seconds, f"sweep{k}x")
            if p99 >= 50 or not complete:
                break
            best = r
        print(f"highest_rate_with_p99_under_50ms={best} msg/s per client")
        return 0
    finally:
        h.cleanup()
        redis.cleanup()


if __name__ == "__main__":
    sys.exit(main())
