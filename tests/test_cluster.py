"""Rooms across processes and servers: fan-out in seq order exactly once,
Redis going away and coming back, a killed process's presence expiring,
and two backends behind a mod_proxy_balancer front."""
import os
import signal
import time

import pytest

from chatclient import Chat, closed_with, unique_room
from harness import Httpd, RedisServer, process_tree, wait_for
from wsclient import Closed, HandshakeRefused

HTTPD_EXTRA_CONF = "ChatPresenceTTL 3"


def pid_of(chat):
    # sessionId is host:pid:hub:session
    return int(chat.welcome["sessionId"].split(":")[1])


def add_members(redis, room, users):
    redis.client().sadd(f"chat:room:{room}:members", *users)


def assert_in_order_once(chat, texts, timeout=20):
    got = chat.chats(len(texts), timeout)
    seqs = [m["seq"] for m in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
    assert sorted(m["text"] for m in got) == sorted(texts)
    chat.quiet(0.3)
    return got


def test_fanout_across_processes_in_seq_order_once(httpd, redis_server):
    room = unique_room()
    users = [f"u{i}" for i in range(150)]
    add_members(redis_server, room, users)
    # which child accepts a connection is the kernel's choice: connect until
    # the room spans at least two processes (bounded)
    clients = []
    for u in users:
        clients.append(Chat(httpd.port, room, u))
        if len(clients) >= 12 and len({pid_of(c) for c in clients}) >= 2:
            break
    assert len({pid_of(c) for c in clients}) >= 2, "all sessions landed in one process"
    texts = []
    for c in clients:
        for k in range(3):
            c.say(f"{c.user}-{k}")
            texts.append(f"{c.user}-{k}")
    for c in clients:
        assert_in_order_once(c, texts)
    for c in clients:
        c.close()


@pytest.fixture
def aof_cluster():
    """An httpd on a Redis with AOF (fsync always) that the test may restart."""
    redis = RedisServer(appendonly=True).start()
    h = Httpd(redis, name="aof", extra_conf="ChatPresenceTTL 3\nChatRedisTimeout 2").start()
    yield h, redis
    h.cleanup()
    redis.cleanup()


def test_redis_restart_loses_no_acknowledged_message(aof_cluster):
    h, redis = aof_cluster
    room = unique_room()
    add_members(redis, room, ["alice", "bob"])
    a, b = Chat(h.port, room, "alice"), Chat(h.port, room, "bob")
    acked = []
    for i in range(5):
        a.say(f"before{i}")
        acked.append(a.expect("chat")["text"])
    assert [m["text"] for m in b.chats(5)] == acked
    redis.stop()
    # both are told; a post is refused, not silently dropped
    assert a.expect("error", timeout=10)["code"] == "unavailable"
    assert b.expect("error", timeout=10)["code"] == "unavailable"
    a.say("while down")
    assert a.expect("error", timeout=10)["code"] in ("unavailable", "not_stored")
    redis.start()  # same port and AOF dir: the data comes back
    # service resumes by itself (reconnects every second): retry until a post
    # is acknowledged, pacing the retries on the socket
    deadline = time.monotonic() + 20
    while True:
        assert time.monotonic() < deadline, "service did not resume"
        a.say(f"after{len(acked)}")
        msg = a.recv(timeout=10)
        if msg["type"] == "chat":
            acked.append(msg["payload"]["text"])
            break
        assert msg["type"] in ("error", "user_list_update", "user_join", "user_leave"), msg
        try:
            a.recv(timeout=0.3)
        except TimeoutError:
            pass
    # bob gets the new message once; everything acknowledged is in the history
    assert [m["text"] for m in b.chats(1)] == [acked[-1]]
    b.send("history", limit=100)
    history = [m["text"] for m in b.expect("history", timeout=10)["messages"]]
    assert history == acked
    b.quiet(0.5)
    a.close()
    b.close()


def test_killed_process_presence_expires(httpd, redis_server):
    room = unique_room()
    add_members(redis_server, room, ["kal", "kim"])
    a = Chat(httpd.port, room, "kal")
    victim = pid_of(a)
    other = None
    for _ in range(30):
        c = Chat(httpd.port, room, "kim")
        if pid_of(c) != victim:
            other = c
            break
        c.close()
    assert other is not None, "no second process"
    other.quiet(0.5)
    os.kill(victim, signal.SIGKILL)
    # ChatPresenceTTL 3: kal's entry expires and the survivor announces it
    left = None
    for _ in range(100):
        m = other.recv(timeout=15)
        if m["type"] == "user_leave":
            left = m["payload"]
            break
    assert left == {"username": "kal", "userCount": 1}
    other.close()


@pytest.fixture
def two_backends(redis_server):
    b1 = Httpd(redis_server, name="backend1").start()
    b2 = Httpd(redis_server, name="backend2").start()
    front = Httpd(None, name="front", proxy_to=[b1.port, b2.port]).start()
    yield front, b1, b2
    for h in (front, b1, b2):
        h.cleanup()


def backend_pids(h):
    return set(process_tree(h.pid))


def test_two_backends_behind_a_balancer_and_one_dies(two_backends, redis_server):
    front, b1, b2 = two_backends
    room = unique_room()
    add_members(redis_server, room, ["alice", "bob"])
    p1 = backend_pids(b1)
    # byrequests alternates: keep opening until each user sits on a different backend
    a = b = None
    for _ in range(10):
        a = a or Chat(front.port, room, "alice")
        c = Chat(front.port, room, "bob")
        if (pid_of(a) in p1) != (pid_of(c) in p1):
            b = c
            break
        c.close()
    assert b is not None, "both users on one backend"
    a.say("via one backend")
    assert b.expect("chat")["text"] == "via one backend"
    b.say("via the other")
    got = a.chats(2)
    assert [m["text"] for m in got] == ["via one backend", "via the other"]
    last, epoch = got[-1]["seq"], a.welcome["epoch"]
    # alice's backend dies hard
    a_backend, survivor_user = (b1, b) if pid_of(a) in p1 else (b2, b)
    for pid in backend_pids(a_backend):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    a_backend.pid = None
    with pytest.raises((Closed, TimeoutError, OSError)):
        while True:
            a.ws.recv_frame(timeout=5)
    # bob keeps talking meanwhile
    for i in range(3):
        survivor_user.say(f"missed{i}")
    survivor_user.chats(3)
    # alice comes back through the front and misses nothing
    a2 = None
    for _ in range(10):
        try:
            a2 = Chat(front.port, room, "alice", since=last, epoch=epoch)
            break
        except (HandshakeRefused, Closed):
            continue
    assert a2 is not None
    assert [m["text"] for m in a2.chats(3)] == ["missed0", "missed1", "missed2"]
    a2.quiet(0.5)
    a2.close()
    b.close()


def test_redis_auth_database_and_prefix():
    """ChatRedisAuth / ChatRedisDatabase / ChatKeyPrefix reach Redis."""
    redis = RedisServer(extra_args=["--requirepass", "s3cret-pass"]).start()
    h = Httpd(redis, name="auth", extra_conf="ChatRedisAuth s3cret-pass\n"
                                             "ChatRedisDatabase 3\nChatKeyPrefix desk1:").start()
    try:
        import redis as redislib
        r = redislib.Redis(port=redis.port, password="s3cret-pass", db=3, decode_responses=True)
        r.sadd("desk1:room:lobby:members", "alice")
        a = Chat(h.port, "lobby", "alice")
        a.say("stored where configured")
        assert a.expect("chat")["seq"] == 1
        assert r.xlen("desk1:room:lobby:log") == 1
        a.close()
    finally:
        h.cleanup()
        redis.cleanup()


def test_wrong_redis_password_is_logged_and_join_refused():
    redis = RedisServer(extra_args=["--requirepass", "s3cret-pass"]).start()
    h = Httpd(redis, name="badauth", extra_conf="ChatRedisAuth wrong-pass").start()
    try:
        c = Chat(h.port, "lobby", "alice", expect_welcome=False)
        assert c.expect("error", timeout=15)["code"] == "unavailable"
        assert wait_for(lambda: "check ChatRedisAuth" in h.log(), 10, "the AUTH error in the log")
    finally:
        h.cleanup()
        redis.cleanup()


def test_member_removed_in_redis_is_closed_at_next_presence_refresh(httpd, redis_server):
    # no kick event: ChatPresenceTTL 3 refreshes every second and notices
    room = unique_room()
    add_members(redis_server, room, ["ria", "rob"])
    a, b = Chat(httpd.port, room, "ria"), Chat(httpd.port, room, "rob")
    redis_server.client().srem(f"chat:room:{room}:members", "rob")
    deadline = time.monotonic() + 10
    while True:
        m = b.recv(timeout=max(0.01, deadline - time.monotonic()))
        if m["type"] == "auth_failed":
            break
    assert closed_with(b)[0] == 1008
    a.say("ria stays")
    assert a.expect("chat")["text"] == "ria stays"
    a.close()
