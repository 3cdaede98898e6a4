"""Leave-then-join flips (issue 12, point 3): a room whose last local member
leaves unsubscribes (here at once: ChatRoomLinger 0) and must not subscribe
again before Redis confirmed the UNSUBSCRIBE (hiredis 0.14 would drop the new
subscription's callback, or assert and take the child down). Every join
gets its welcome and every message posted right after it comes back."""
import threading

import pytest

from chatclient import Chat, unique_room
from harness import Httpd


@pytest.fixture(scope="module")
def lingerless(redis_server):
    # 20 rooms flipping at once: the per-user connection limit is not the subject
    h = Httpd(redis_server, name="flips", extra_conf="ChatRoomLinger 0\n"
              "<LocationMatch \"^/chat/[^/]+$\">\n    ChatMaxConnectionsPerUser 0\n</LocationMatch>")
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
