"""tests/redis_proxy.py on its own, with the python redis client as the
client: classification, hold/release, delayed replies, counters, close_all.
The fault tests rely on exactly these behaviours."""
import socket
import time

import pytest
import redis as redislib

from harness import wait_for
from redis_proxy import RedisProxy


@pytest.fixture
def proxy(redis_server):
    p = RedisProxy(redis_server.port).start()
    yield p
    p.stop()


def client(port, **kw):
    return redislib.Redis(host="127.0.0.1", port=port, decode_responses=True,
                          socket_timeout=10, **kw)


def test_subscriber_held_and_released_in_order(proxy, redis_server):
    sub = client(proxy.port).pubsub()
    sub.subscribe("pchan")
    assert sub.get_message(timeout=5)["type"] == "subscribe"
    cmd = client(proxy.port)
    assert cmd.ping()
    wait_for(lambda: proxy.counters("subscriber").get("connections") == 1, 5, "classification")
    assert proxy.counters("command")["connections"] == 1
    assert proxy.hold("subscriber") == 1
    direct = redis_server.client()
    for i in range(3):
        assert direct.publish("pchan", f"m{i}") == 1
    # the command connection is not held
    assert cmd.set("pkey", "v") and cmd.get("pkey") == "v"
    assert sub.get_message(timeout=1) is None  # kept, connection still open
    proxy.release()
    got = [sub.get_message(timeout=5)["data"] for _ in range(3)]
    assert got == ["m0", "m1", "m2"]
    assert b"SUBSCRIBE" in proxy.sent("subscriber").upper()
    assert proxy.counters("subscriber")["to_client"] > 0
    sub.close()


def test_delay_replies_and_close_all(proxy):
    cmd = client(proxy.port)
    assert cmd.ping()
    proxy.delay_replies("command", 0.5)
    t0 = time.monotonic()
    assert cmd.ping()
    assert time.monotonic() - t0 >= 0.5
    proxy.delay_replies("command", 0)
    t0 = time.monotonic()
    assert cmd.ping()
    assert time.monotonic() - t0 < 0.5
    raw = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    raw.sendall(b"PING\r\n")
    assert raw.recv(64) == b"+PONG\r\n"
    proxy.close_all()
    assert raw.recv(64) == b""  # closed, as by a dying Redis
    wait_for(lambda: proxy.counters("command")["open"] == 0, 5, "connections closed")
