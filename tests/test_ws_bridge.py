"""Thread-mode sockets (wss:// through mod_ssl, the worker MPM, ChatConnectionMode
thread) run their sessions on the process's shared reactor through a byte
bridge: all of them share one hub, so one pair of Redis connections and one
fan-out per process, however many sockets. These tests start their own httpd
with the MPM they need (one child), so they run the same under CHAT_MPM=event
and CHAT_MPM=prefork."""
import re
import time

import pytest

from chatclient import Chat, unique_room
from harness import Httpd, wait_for
from wsclient import OP_TEXT, WS, raw_http

SOCKETS = 100

# One child with a worker thread for each wss:// socket (a thread-mode socket
# holds its worker) and some to spare for the status requests. Presence (and
# with it the per-process figures /server-status reads) refreshes every second.
ONE_CHILD = """ServerLimit 1
StartServers 1
ThreadLimit 128
ThreadsPerChild 128
MaxRequestWorkers 128
MinSpareThreads 1
MaxSpareThreads 128
# 100 wss:// sockets hold 100 of the 128 workers: above the default cap (half)
ChatThreadSockets 110
ChatPresenceTTL 3"""


def chat_connections(redis_server):
    """Redis connections of the httpd under test (ACL user chat), as CLIENT LIST says."""
    return [c for c in redis_server.client().client_list()
            if c.get("user") == redis_server.acl_user]


def server_status(port):
    status, _, body = raw_http(port, b"GET /server-status?auto HTTP/1.1\r\nHost: x\r\n"
                                     b"Connection: close\r\n\r\n")
    assert status == 200
    return {k: v for k, v in re.findall(r"^(\w+): (.*)$", body.decode(), re.M)}


@pytest.fixture
def one_child(request, redis_server):
    # nothing left of an earlier test's server
    wait_for(lambda: not chat_connections(redis_server), 10, "earlier servers' connections")
    h = Httpd(redis_server, extra_conf=ONE_CHILD + getattr(request, "param", ("", ""))[1],
              mpm=getattr(request, "param", ("event", ""))[0], name="bridge").start()
    yield h
    h.close()


@pytest.mark.parametrize("one_child", [("event", ""), ("worker", "")], indirect=True,
                         ids=["event", "worker"])
def test_wss_sockets_of_a_process_share_one_hub(one_child, redis_server):
    room = unique_room()
    users = [f"u{i}" for i in range(SOCKETS)]
    redis_server.client().sadd(f"chat:room:{room}:members", *users)
    clients = [Chat(one_child.tls_port, room, u, tls=True) for u in users]

    # Exactly the hub's two connections, a command one and a subscriber,
    # where a hub per socket would hold 2 x 100. (A join's membership check
    # uses a blocking connection it closes before the upgrade is answered.)
    deadline = time.monotonic() + 5
    while len(conns := chat_connections(redis_server)) > 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    subscribers = [c for c in conns if int(c.get("sub", 0)) > 0]
    assert (len(conns), len(subscribers)) == (2, 1), \
        f"{len(conns)} Redis connections ({len(subscribers)} subscribers) for {SOCKETS} sockets"

    # every socket gets every message once, in order: after the three posts
    # the next chat each one sees is the marker posted last
    texts = ["one", "two", "three", "marker"]
    for t in texts:
        clients[0].say(t)
    for c in clients:
        got = c.chats(len(texts))
        assert [m["text"] for m in got] == texts, c.user
        seqs = [m["seq"] for m in got]
        assert seqs == list(range(seqs[0], seqs[0] + len(texts))), c.user

    # one process, counted once: a hub per socket would report SOCKETS processes
    status = wait_for(lambda: (s := server_status(one_child.port)).get("ChatConnections") ==
                      str(SOCKETS) and s, 10, "the process's figures")
    assert status["ChatProcesses"] == "1", status
    for c in clients:
        c.close()


@pytest.mark.parametrize("one_child", [("event", "\nChatConnectionMode thread")],
                         indirect=True, ids=["event-thread-mode"])
def test_thread_mode_plain_sockets_are_bridged(one_child, redis_server):
    # ChatConnectionMode thread under event: plain ws:// sockets hold their
    # workers, yet share the process's hub (one per virtual host) like wss:// ones
    room = unique_room()
    redis_server.client().sadd(f"chat:room:{room}:members", "alice", "bob")
    a = Chat(one_child.port, room, "alice")
    b = Chat(one_child.port, room, "bob")
    a.say("over the bridge")
    assert b.expect("chat")["text"] == "over the bridge"
    assert a.expect("chat")["text"] == "over the bridge"
    conns = chat_connections(redis_server)
    assert len(conns) == 2, conns
    # the socket is on a worker thread, not detached
    busy = int(server_status(one_child.port)["BusyWorkers"])
    assert busy >= 3, f"{busy} busy workers with two thread-mode sockets"
    a.close()
    b.close()


@pytest.mark.parametrize("one_child", [("event", ""), ("worker", "")], indirect=True,
                         ids=["event", "worker"])
def test_graceful_restart_closes_bridged_sockets_with_1001(one_child):
    # the shared reactor closes its sessions with 1001; each bridge forwards
    # the close frame, waits for the client's answer to reach the session,
    # then ends its request
    socks = [WS.connect(one_child.tls_port, tls=True) for _ in range(3)]
    for s in socks:
        s.send_text("up")
        assert s.recv_message() == (OP_TEXT, b"up")
    one_child.graceful()
    assert [s.expect_close(timeout=15)[0] for s in socks] == [1001] * 3
    w = WS.connect(one_child.tls_port, tls=True)
    w.send_text("new generation")
    assert w.recv_message() == (OP_TEXT, b"new generation")
    w.close()


def test_bridge_carries_large_messages_both_ways(httpd, tls):
    # more than the bridge's 64 KiB buffers and the socketpair's in one
    # message, both ways, on the suite's own server (CHAT_MPM)
    w = WS.connect(httpd.tls_port if tls else httpd.port, tls=tls)
    blob = bytes(range(256)) * 3000
    w.send_frame(2, blob)
    assert w.recv_message(timeout=10) == (2, blob)
    w.send_text("after")
    assert w.recv_message() == (OP_TEXT, b"after")
    w.close()
