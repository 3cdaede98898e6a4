"""Fan-out benchmark driver: a private redis-server and httpd (stock event MPM
settings, the built modules), ws_fanout with N clients over R rooms sending at
a fixed rate, and the CPU time httpd and redis used meanwhile.

  fanout.py N ROOMS RATE SECONDS          one run
  fanout.py N ROOMS sweep SECONDS         raise the rate until p99 >= 50 ms
  fanout.py N ROOMS RATE SECONDS ai K [R] R runs (default 3) without and R with
                                          K slow in-room AI calls in flight
                                          (tests/fake_ai.py holds each answer),
                                          alternating; medians compared
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from harness import Httpd, RedisServer, process_tree  # noqa: E402
from chatclient import Chat  # noqa: E402
from fake_ai import FakeAI  # noqa: E402
from compare import cpu_seconds  # noqa: E402  (bench/compare.py)

CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ws_fanout")
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
    last_latency.clear()
    last_latency.update({k: float(v) for k, v in re.findall(r"(p50|p99)=([0-9.]+)", out)})
    m = re.search(r"p99=([0-9.]+)", out)
    d = re.search(r"delivered=(\d+) expected=(\d+)", out)
    return (float(m.group(1)) if m else 1e9), d and int(d.group(1)) >= int(d.group(2))


last_latency = {}


def with_ai(redis, n, rooms, rate, seconds, calls, rounds=3):
    """The same load run alternately without AI and with `calls` in-room AI
    calls held open by the fake provider for the whole run, `rounds` times
    each; the medians are compared (single runs on 2 shared cores are noisy)."""
    fake = FakeAI(key="bench-key").start()
    h = Httpd(redis, name="fanout-ai", extra_conf=f"""LogLevel warn
ChatAIProvider deepseek openai {fake.openai_base}
ChatAIKey deepseek bench-key
ChatAIModel deepseek deepseek-chat
ChatAIRateLimit 0
ChatAIThreads {calls}
ChatAITimeout 600
""").start()
    results = {False: [], True: []}
    redis.client().sadd("chat:room:aiq:members", "asker")
    try:
        for k in range(2 * rounds):
            ai = k % 2 == 1
            label = f"with {calls} AI calls in flight" if ai else "without AI"
            print(f"== {n} clients, {rooms} rooms, {rate} msg/s each, {label}", flush=True)
            asker = None
            if ai:
                fake.reset()
                # held past the end of the run, then answered before the next round
                fake.script([{"kind": "openai", "delay": seconds + 10, "text": "late"}] * calls)
                asker = Chat(h.port, "aiq", "asker")
                for i in range(calls):
                    asker.send("deepseek_chat", text=f"slow question {i}")
                fake.wait_for_requests(calls, timeout=60, kind="openai")
                print(f"ai_calls_in_flight={calls}", flush=True)
            run(h, redis, n, rooms, rate, seconds, f"ai{k}x")
            if asker:
                held = sum(r["done"] is None for r in fake.requests("openai"))
                print(f"ai_calls_still_in_flight_after_run={held}", flush=True)
                fake.wait_for(lambda recs: all(r["done"] for r in recs), timeout=120)
                asker.close()
            results[ai].append(dict(last_latency))
        for q in ("p50", "p99"):
            without = sorted(r[q] for r in results[False])
            with_ai = sorted(r[q] for r in results[True])
            mw, ma = without[len(without) // 2], with_ai[len(with_ai) // 2]
            print(f"{q}_ms without={'/'.join(f'{v:.2f}' for v in without)} "
                  f"with_ai={'/'.join(f'{v:.2f}' for v in with_ai)} "
                  f"median_ratio={ma / mw:.3f}")
    finally:
        h.stop()
        h.cleanup()
        fake.stop()
    return 0


def with_wait(n, rooms, rate, seconds):
    """The same load with ChatRedisWaitReplicas off and on (one replica), side by side."""
    redis = RedisServer().start()
    replica = RedisServer(extra_args=["--replicaof", "127.0.0.1", str(redis.port)]).start()
    try:
        for label, conf in (("off", ""), ("on", "ChatRedisWaitReplicas 1 1000")):
            h = Httpd(redis, name=f"fanout-wait-{label}", extra_conf="LogLevel warn\n" + conf)
            h.start()
            try:
                print(f"== {n} clients, {rooms} rooms, {rate} msg/s each, "
                      f"ChatRedisWaitReplicas {label} (1 replica)", flush=True)
                run(h, redis, n, rooms, rate, seconds, f"wait{label}")
            finally:
                h.stop()
                h.cleanup()
    finally:
        replica.cleanup()
        redis.cleanup()
    return 0


def main():
    n, rooms, rate, seconds = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    if len(sys.argv) > 5 and sys.argv[5] == "wait":
        return with_wait(n, rooms, float(rate), seconds)
    if len(sys.argv) > 6 and sys.argv[5] == "ai":
        redis = RedisServer().start()
        try:
            return with_ai(redis, n, rooms, float(rate), seconds, int(sys.argv[6]),
                           int(sys.argv[7]) if len(sys.argv) > 7 else 3)
        finally:
            redis.cleanup()
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
