"""Redis reading a large AOF at startup answers LOADING to every command
(issue 18): mod_chat treats it (and BUSY, MASTERDOWN) as Redis being away,
so joins and posts get `unavailable` while it loads and succeed once it has;
startup says so once; and the demo, whose private Redis keeps its AOF between
runs, comes up each time on a data file of more than 50 MB.

The AOF is made quickly with DEBUG POPULATE and BGREWRITEAOF (plain commands,
no RDB preamble). Its load is slowed with Redis's own key-load-delay
(a 1 us sleep for one key in four), so LOADING lasts a few seconds, long
enough to join and post in it."""
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile

import pytest
import requests

from chatclient import Chat
from harness import ROOT, Httpd, RedisServer, free_port, wait_for

KEYS = 500_000  # x ~140 bytes each in the AOF: about 68 MB
MIN_AOF = 50 * 1024 * 1024


def redis_say(port, *words):
    """One command on a fresh connection (RESP inline), its reply's first line."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall((" ".join(words) + "\r\n").encode())
        data = b""
        while not data.endswith(b"\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        if data.startswith(b"$"):  # a bulk string (INFO): read it all
            size = int(data.split(b"\r\n", 1)[0][1:])
            while len(data.split(b"\r\n", 1)[1]) < size:
                data += s.recv(65536)
        return data.decode(errors="replace")


def loading(port):
    return "loading:1" in redis_say(port, "INFO", "persistence")


def ready(port):
    return redis_say(port, "PING").startswith("+PONG")


def aof_size(d):
    return sum(f.stat().st_size for f in pathlib.Path(d).rglob("*.aof"))


def fill_aof(port, data_dir):
    """KEYS keys, rewritten into one plain AOF, then Redis shut down cleanly."""
    assert redis_say(port, "DEBUG", "POPULATE", str(KEYS), "filler", "100").startswith("+OK")
    assert redis_say(port, "BGREWRITEAOF").startswith("+")
    wait_for(lambda: "aof_rewrite_in_progress:0" in redis_say(port, "INFO", "persistence")
             and "aof_rewrite_scheduled:0" in redis_say(port, "INFO", "persistence"),
             60, "the AOF rewrite")
    assert aof_size(data_dir) >= MIN_AOF, aof_size(data_dir)


SLOW_LOAD = ["--key-load-delay", "-4"]


@pytest.fixture(scope="module")
def big_redis():
    r = RedisServer(appendonly=True, extra_args=["--aof-use-rdb-preamble", "no",
                                                 "--enable-debug-command", "yes"])
    r.start()
    r.client().sadd("chat:room:lobby:members", "alice", "bob")
    fill_aof(r.port, r.dir)
    yield r
    r.cleanup()


def restart_loading(r):
    """Stop Redis and start it again on its AOF, slowly: returns once it
    answers and says it is loading."""
    r.stop()
    r.extra_args = [a for a in r.extra_args if a not in SLOW_LOAD] + SLOW_LOAD
    r.start()  # returns on the first answer, a -LOADING one included
    assert loading(r.port), "Redis finished loading before the test could look"


def join(h, user):
    return Chat(h.port, "lobby", user, expect_welcome=False)


def expect_unavailable(c):
    """The chat answers `unavailable` (presence chatter skipped)."""
    msg = c.expect("error", timeout=10)
    assert msg["code"] == "unavailable", msg


def try_join(h, user):
    """A welcome, or None when the chat still answers unavailable."""
    c = join(h, user)
    msg = c.recv(10)
    while msg["type"] in ("user_join", "user_leave", "user_list_update"):
        msg = c.recv(10)
    if msg["type"] == "welcome":
        return c
    assert msg["type"] == "error" and msg["payload"]["code"] == "unavailable", msg
    c.ws.close()
    return None


def test_joins_and_posts_wait_out_loading(big_redis):
    r = big_redis
    restart_loading(r)
    h = Httpd(r, name="loading").start()
    try:
        # startup saw it, once, naming the directive
        lines = [l for l in h.log().splitlines() if "ChatRedis 127.0.0.1:" in l]
        assert len(lines) == 1 and "LOADING" in lines[0], h.log()
        # a join while Redis loads: unavailable, and Redis was loading all along
        c = join(h, "alice")
        expect_unavailable(c)
        assert loading(r.port)
        wait_for(lambda: ready(r.port), 180, "Redis to load its AOF")
        # the client retries as the page does; the chat comes back by itself
        alice = wait_for(lambda: try_join(h, "alice"), 30, "alice's join after loading")
        bob = wait_for(lambda: try_join(h, "bob"), 30, "bob's join after loading")
        # the setup errors were not taken for a bad ChatRedisAuth
        assert "check ChatRedisAuth" not in h.log()
        assert "not ready: LOADING" in h.log()

        # posts: Redis restarts under connected members and loads again
        restart_loading(r)
        alice.say("while loading")
        expect_unavailable(alice)
        assert loading(r.port)
        wait_for(lambda: ready(r.port), 180, "Redis to load its AOF again")

        def post_arrives():
            alice.say("after loading")
            try:
                while True:
                    m = bob.recv(2)
                    if m["type"] == "chat" and m["payload"].get("text") == "after loading":
                        return True
            except Exception:  # nothing within 2 s: not yet stored
                return False
        wait_for(post_arrives, 60, "a post after loading to reach bob")
        alice.ws.close()
        bob.ws.close()
    finally:
        h.close()


def run_demo(run_dir, port, redis_port):
    """scripts/demo.sh in the foreground until it says it is running, then
    Ctrl-C; returns its output."""
    env = dict(os.environ, CHAT_PORT=str(port), CHAT_REDIS_PORT=str(redis_port),
               CHAT_DEMO_SKIP_BUILD="1", CHAT_DEMO_RUN=str(run_dir))
    p = subprocess.Popen(["bash", str(ROOT / "scripts" / "demo.sh")], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    out = []
    try:
        for line in p.stdout:
            out.append(line)
            if "Press Ctrl-C to stop." in line or "demo:" in line and "waiting" not in line:
                break
        if "Press Ctrl-C to stop." in "".join(out):
            # the page, one of its relative asset URLs and the admin page answer
            for path in ("/chat/lobby?username=alice", "/chat/client/chat.js", "/chat-admin/"):
                r = requests.get(f"http://127.0.0.1:{port}{path}", timeout=10)
                out.append(f"GET {path}: {r.status_code}\n")
    finally:
        os.killpg(p.pid, signal.SIGINT)
        rest, _ = p.communicate(timeout=60)
        out.append(rest)
    return "".join(out), p.returncode


def test_demo_comes_up_twice_on_a_large_aof():
    run_dir = pathlib.Path(tempfile.mkdtemp(prefix="chat-demo-"))
    run_dir.chmod(0o755)
    try:
        # the demo's Redis data dir, filled beforehand as earlier runs would
        data = run_dir / "redis"
        data.mkdir()
        r = RedisServer(appendonly=True, extra_args=["--aof-use-rdb-preamble", "no",
                                                     "--enable-debug-command", "yes"])
        r.dir = data
        r.start()
        fill_aof(r.port, data)
        r.stop()
        for attempt in (1, 2):
            out, rc = run_demo(run_dir, free_port(), free_port())
            assert "mod_chat demo is running" in out, (attempt, out)
            assert "stopped: nothing left running" in out, (attempt, out)
            assert out.count(": 200\n") == 3, out
            assert aof_size(data) >= MIN_AOF
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
