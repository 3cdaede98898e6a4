"""Leave-then-join flips (issue 12, point 3): a room whose last local member
leaves unsubscribes (here at once: ChatRoomLinger 0) and must not subscribe
again before Redis confirmed the UNSUBSCRIBE (hiredis 0.14 would drop the new
subscription's callback, or assert and take the child down). Every join
gets its welcome and every message posted right after it comes back."""
import threading

import pytest

from chatclient import Chat, unique_room
from harness import MPM, Httpd, wait_for
from redis_proxy import RedisProxy

NO_USER_LIMIT = ('<LocationMatch "^/chat/[^/]+$">\n    ChatMaxConnectionsPerUser 0\n'
                 '</LocationMatch>')


@pytest.fixture(scope="module")
def lingerless(redis_server):
    # 20 rooms flipping at once: the per-user connection limit is not the subject
    h = Httpd(redis_server, name="flips", extra_conf="ChatRoomLinger 0\n" + NO_USER_LIMIT)
    h.start()
    yield h
    h.close()


def flip(port, room, n, errors):
    try:
        for i in range(n):
            c = Chat(port, room, "flipper")
            c.say(f"flip {i}")
            got = c.expect("chat", timeout=10)
            assert got["text"] == f"flip {i}", got
            c.ws.close()  # gone without a close handshake, like a dropped tab
    except Exception as e:  # reported by the main thread
        errors.append(f"{room}: {e!r}")


def test_2000_flips_over_20_rooms(lingerless, redis_server):
    rooms = [unique_room("flip") for _ in range(20)]
    for r in rooms:
        redis_server.client().sadd(f"chat:room:{r}:members", "flipper")
    errors = []
    threads = [threading.Thread(target=flip, args=(lingerless.port, r, 100, errors))
               for r in rooms]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:5]
    assert "exit signal" not in lingerless.log()
    assert "AH00052" not in lingerless.log()  # "child pid ... exit signal"


def test_join_while_the_unsubscribe_is_unanswered(redis_server):
    # every reply on the subscriber connection comes 1 s late: a join lands
    # while the room's UNSUBSCRIBE is unanswered, every time
    proxy = RedisProxy(redis_server.port).start()
    # one child under event, so the next join finds the leaving room; under
    # prefork each socket has its own Redis connections (nothing to race)
    one_child = "ServerLimit 1\nStartServers 1\nMaxRequestWorkers 25\n" if MPM == "event" else ""
    h = Httpd(redis_server, name="flipdelay", extra_conf=(
        f"{one_child}ChatRoomLinger 0\nChatRedis 127.0.0.1:{proxy.port}\n" + NO_USER_LIMIT))
    room = unique_room("flipd")
    redis_server.client().sadd(f"chat:room:{room}:members", "flipper")
    try:
        h.start()
        proxy.delay_replies("subscriber", 1.0)
        for i in range(4):
            c = Chat(h.port, room, "flipper")
            c.say(f"flip {i}")
            assert c.expect("chat", timeout=10)["text"] == f"flip {i}"
            unsubscribes = proxy.sent("subscriber").count(b"UNSUBSCRIBE")
            c.close()
            if MPM == "event":
                # the room's last member left: within a second it unsubscribes;
                # the next join comes before Redis's (delayed) answer
                wait_for(lambda: proxy.sent("subscriber").count(b"UNSUBSCRIBE") > unsubscribes,
                         5, "the room's UNSUBSCRIBE")
        assert "exit signal" not in h.log() and "Assertion" not in h.log()
    finally:
        proxy.delay_replies("subscriber", 0)
        h.close()
        proxy.stop()
