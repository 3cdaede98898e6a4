"""Live hand-over (issue 13): under the event MPM a child that retires or
restarts gracefully passes its plain-TCP WebSockets to a live child. Clients
see no close, no second welcome, no gap and no duplicate; presence never
drops anyone; a call's signal sent meanwhile arrives; the taking child
applies its own (new) settings.

prefork and TLS sockets cannot move (their state lives in the process or in
mod_ssl): test_ws_lifecycle.py asserts their 1001 on restarts and stops."""
import asyncio
import collections
import re
import socket
import time
import urllib.request

import pytest

from chatclient import unique_room
from harness import MPM, Httpd, pid_alive, process_tree, wait_for
from wsasync import AsyncWS
from wsclient import OP_TEXT, WS, HandshakeRefused

pytestmark = pytest.mark.skipif(
    MPM != "event", reason="hand-over moves the event MPM's detached sockets; prefork keeps 1001")

ROOMS, PER_ROOM = 10, 20
HCHAT = """<LocationMatch "^/hchat/[^/]+$">
    SetHandler chat
    ChatIdentity query
    ChatRateLimit 0
    ChatMessageBudget 0
    ChatMaxTextLength {n}
</LocationMatch>"""


class Member:
    """One chat socket and everything it received."""

    def __init__(self, ws, room, user):
        self.ws, self.room, self.user = ws, room, user
        self.welcomes = 1
        self.chats = []  # (seq, text) in arrival order
        self.leaves, self.offers, self.errors = [], [], []
        self.closed = None

    async def pump(self):
        try:
            while True:
                msg = await self.ws.recv_json()
                t, p = msg["type"], msg.get("payload", {})
                if t == "chat":
                    self.chats.append((p["seq"], p["text"]))
                elif t == "welcome":
                    self.welcomes += 1
                elif t == "user_leave":
                    self.leaves.append(p)
                elif t == "offer":
                    self.offers.append(p)
                elif t == "error":
                    self.errors.append(p)
        except (ConnectionError, OSError) as e:
            self.closed = self.ws.close_code or str(e)


async def join(port, room, user, prefix="/chat"):
    for attempt in range(50):
        try:
            ws = await AsyncWS.connect("127.0.0.1", port, f"{prefix}/{room}?username={user}")
            break
        except (HandshakeRefused, ConnectionError, OSError):
            # a child retiring under MaxConnectionsPerChild may refuse a few
            if attempt == 49:
                raise
            await asyncio.sleep(0.05)
    await ws.expect("welcome")
    m = Member(ws, room, user)
    m.task = asyncio.create_task(m.pump())
    return m


def open_room(h, room, users):
    h.redis.client().sadd(f"chat:room:{room}:members", *users)


async def crowd(h, rooms=ROOMS, per_room=PER_ROOM, prefix="/chat"):
    port = h.port
    names = [unique_room("h") for _ in range(rooms)]
    members = []
    for room in names:  # a room at a time: its presence chatter stays small
        open_room(h, room, [f"{room}-u{i}" for i in range(per_room)])
        members += await asyncio.gather(
            *(join(port, room, f"{room}-u{i}", prefix) for i in range(per_room)))
    return names, members


async def until(predicate, timeout, what, detail=None):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise TimeoutError(f"timed out waiting for {what}" + (f": {detail()}" if detail else ""))
        await asyncio.sleep(0.05)


def children(h):
    return [p for p in process_tree(h.pid) if p != h.pid]


def handed_total(h):
    return sum(int(n) for n in re.findall(r"chat: handed (\d+) WebSocket", h.log()))


async def traffic_through(h, action, rooms=ROOMS, per_room=PER_ROOM, signal_during=True):
    """A crowd in rooms, a message posted every 100 ms in each room, action()
    run on a thread meanwhile; returns what each member saw and what was
    posted."""
    loop = asyncio.get_running_loop()
    names, members = await crowd(h, rooms, per_room)
    by_room = collections.defaultdict(list)
    for m in members:
        by_room[m.room].append(m)
    posted = {room: [] for room in names}
    stop = asyncio.Event()

    async def poster():
        k = 0
        while not stop.is_set():
            for room in names:
                text = f"{room}-{k}"
                by_room[room][0].ws.send_json({"type": "chat",
                                               "payload": {"type": "text", "text": text}})
                posted[room].append(text)
            k += 1
            await asyncio.sleep(0.1)  # the posting rate, not a synchronisation

    def offer():
        # a call's offer while the sockets move
        by_room[names[0]][1].ws.send_json({"type": "offer", "payload": {
            "target": f"{names[0]}-u2", "sdp": "v=0 handover"}})

    post = asyncio.create_task(poster())
    await until(lambda: all(len(m.chats) >= 3 for m in members), 20, "traffic to flow")
    await loop.run_in_executor(
        None, action, (lambda: loop.call_soon_threadsafe(offer)) if signal_during else None)
    mark = {room: len(texts) for room, texts in posted.items()}

    def lagging():
        late = [m for m in members if len(m.chats) < mark[m.room] + 10]
        return f"{len(late)} members behind, e.g. " + ", ".join(
            f"{m.user}: {len(m.chats)} of {len(posted[m.room])}" for m in late[:5])

    await until(lambda: all(len(m.chats) >= mark[m.room] + 10 for m in members) or
                any(m.closed for m in members), 30, "traffic after the action", lagging)
    stop.set()
    await post

    def missing():
        late = [m for m in members if len(m.chats) < len(posted[m.room])]
        return f"{len(late)} members behind, e.g. " + "; ".join(
            f"{m.user}: {len(m.chats)} of {len(posted[m.room])}, missing "
            f"{[t for t in posted[m.room] if t not in {x for _, x in m.chats}][:5]}"
            for m in late[:5])
    await until(lambda: all(len(m.chats) >= len(posted[m.room]) for m in members) or
                any(m.closed for m in members), 30, "every message everywhere", missing)
    return names, by_room, members, posted


def assert_nothing_lost(names, by_room, members, posted):
    for m in members:
        assert m.closed is None, f"{m.room}/{m.user} closed: {m.closed}"
        assert m.welcomes == 1, f"{m.room}/{m.user} got {m.welcomes} welcomes"
        texts = [t for _, t in m.chats]
        assert texts == posted[m.room], \
            f"{m.room}/{m.user}: {len(texts)} received, {len(posted[m.room])} posted; " \
            f"first difference at {next((i for i, (a, b) in enumerate(zip(texts, posted[m.room])) if a != b), min(len(texts), len(posted[m.room])))}"
        seqs = [s for s, _ in m.chats]
        assert seqs == sorted(set(seqs)), f"{m.room}/{m.user}: seqs out of order or repeated"
        assert not m.leaves, f"{m.room}/{m.user} saw {m.leaves}"


async def close_all(members):
    for m in members:
        m.task.cancel()
    await asyncio.gather(*(m.task for m in members), return_exceptions=True)
    await asyncio.gather(*(m.ws.close() for m in members if m.closed is None))


@pytest.fixture
def own(redis_server):
    h = Httpd(redis_server, extra_conf=HCHAT.format(n=50), name="handover").start()
    yield h
    h.close()


def test_graceful_restart_moves_every_socket(own):
    """200 sockets in 10 rooms through a graceful restart."""
    def restart(during):
        old = children(own)
        own.graceful()
        during()
        wait_for(lambda: not any(pid_alive(p) for p in old), 30, "the old generation to exit")

    async def run():
        names, by_room, members, posted = await traffic_through(own, restart)
        assert_nothing_lost(names, by_room, members, posted)
        r0 = names[0]
        target = [m for m in by_room[r0] if m.user == f"{r0}-u2"][0]
        assert target.offers == [{"target": f"{r0}-u2", "sdp": "v=0 handover", "from": f"{r0}-u1"}]
        for m in by_room[names[0]]:
            if m is not target:
                assert not m.offers
        await close_all(members)

    asyncio.run(run())
    assert handed_total(own) == ROOMS * PER_ROOM
    assert "not handed over" not in own.log()


def test_retiring_children_hand_their_sockets_over(redis_server):
    """Children retire (MaxConnectionsPerChild) while rooms are busy: echo
    sockets opened meanwhile fill the child that accepts them until it
    retires and hands them (and any room member it holds) over."""
    h = Httpd(redis_server, extra_conf="MaxConnectionsPerChild 60", name="retire").start()
    echo = []
    try:
        def burst(during):
            if during:
                during()
            before = h.log().count("chat: handed")
            deadline = time.monotonic() + 120
            while h.log().count("chat: handed") < before + 2:
                assert time.monotonic() < deadline, "no two retirements with sockets"
                echo.extend(WS.connect(h.port) for _ in range(20))
            for i, w in enumerate(echo):  # every one of them still answers
                w.send_text(f"still here {i}")
                assert w.recv_message(timeout=10) == (OP_TEXT, f"still here {i}".encode())

        async def run():
            names, by_room, members, posted = await traffic_through(h, burst, per_room=10)
            assert_nothing_lost(names, by_room, members, posted)
            await close_all(members)

        asyncio.run(run())
        assert handed_total(h) > 0
        assert "not handed over" not in h.log()
    finally:
        for w in echo:
            w.close()
        h.close()


SPARE = """StartServers 1
ServerLimit 16
ThreadLimit 5
ThreadsPerChild 5
MinSpareThreads 5
MaxSpareThreads 10
MaxRequestWorkers 80"""


def test_children_retired_as_idle_after_a_burst_hand_their_sockets_over(redis_server):
    """Small spare-thread limits and a burst of slow HTTP while rooms are busy:
    the MPM starts children for the burst, then retires the ones it sees idle,
    the child that holds the sockets among them (detached sockets do not count
    as busy), as Debian's stock settings do after any burst."""
    h = Httpd(redis_server, extra_conf=SPARE, name="spare").start()
    slow = []
    try:
        def burst(during):
            # each holds a worker while its request line trickles in
            for _ in range(30):
                s = socket.create_connection(("127.0.0.1", h.port))
                s.sendall(b"GET /static.txt HTTP/1.1\r\n")
                slow.append(s)
            wait_for(lambda: len(children(h)) >= 5, 30, "the MPM to start children for the burst")
            if during:
                during()
            for s in slow:
                s.sendall(b"Host: x\r\nConnection: close\r\n\r\n")
                assert s.recv(12).startswith(b"HTTP/1.1 200")
                s.close()
            wait_for(lambda: len(children(h)) <= 2, 60, "the parent to retire the idle children")
            wait_for(lambda: handed_total(h) > 0, 10, "a retired child to hand its sockets over")

        async def run():
            names, by_room, members, posted = await traffic_through(h, burst, rooms=5)
            assert_nothing_lost(names, by_room, members, posted)
            await close_all(members)

        asyncio.run(run())
        assert "not handed over" not in h.log()
    finally:
        for s in slow:
            s.close()
        h.close()


def test_new_settings_apply_to_handed_over_sockets(own):
    """A graceful restart that changes ChatMaxTextLength: the sockets moved
    to the new generation follow the new limit."""
    async def run():
        room = unique_room("lim")
        open_room(own, room, ["alice", "bob"])
        a = await join(own.port, room, "alice", "/hchat")
        b = await join(own.port, room, "bob", "/hchat")
        a.ws.send_json({"type": "chat", "payload": {"type": "text", "text": "x" * 20}})
        await until(lambda: len(b.chats) == 1, 10, "a 20-character message under the old limit")
        loop = asyncio.get_running_loop()

        def restart():
            old = children(own)
            own.reconfigure(HCHAT.format(n=10))
            own.graceful()
            wait_for(lambda: not any(pid_alive(p) for p in old), 30, "the old generation")

        await loop.run_in_executor(None, restart)
        a.ws.send_json({"type": "chat", "payload": {"type": "text", "text": "y" * 20}})
        await until(lambda: a.errors, 10, "the new limit's refusal")
        assert a.errors[0]["code"] == "too_long" and "10 characters" in a.errors[0]["message"]
        a.ws.send_json({"type": "chat", "payload": {"type": "text", "text": "short"}})
        await until(lambda: len(b.chats) == 2, 10, "a short message")
        assert [t for _, t in b.chats] == ["x" * 20, "short"]
        for m in (a, b):
            assert m.closed is None and m.welcomes == 1
        await close_all([a, b])

    asyncio.run(run())
    assert handed_total(own) >= 2


def test_admin_sessions_name_the_process_that_took_the_socket(redis_server):
    """The session record names the holding process only after a hand-over (its
    presence entry still names the first one); the admin API shows the holder."""
    import json as _json
    from harness import ADMIN_SECRET
    h = Httpd(redis_server, extra_conf="ChatPresenceTTL 3", name="handover-admin").start()
    try:
        room = unique_room()
        redis_server.client().sadd(f"chat:room:{room}:members", "alice")
        w = WS.connect(h.port, f"/chat/{room}?username=alice")
        welcome = _json.loads(w.recv_message()[1])
        first_pid = int(welcome["payload"]["sessionId"].split(":")[1])
        rec = redis_server.client().hgetall(f"chat:room:{room}:sessions")
        assert len(rec) == 1 and set(_json.loads(next(iter(rec.values())))) == {"since", "seen"}
        h.graceful()

        def holder():
            req = urllib.request.Request(
                f"http://127.0.0.1:{h.port}/chat-admin/api/rooms/{room}/sessions",
                headers={"Authorization": f"Bearer {ADMIN_SECRET}"})
            users = _json.loads(urllib.request.urlopen(req, timeout=5).read())["users"]
            pids = [s["pid"] for u in users for s in u["sessions"]]
            return pids if pids and pids[0] != first_pid else None
        pids = wait_for(holder, 20, "the record of the process that took the socket")
        assert pids[0] in children(h)
        w.send_text(_json.dumps({"type": "chat", "payload": {"type": "text", "text": "still here"}}))
        while (m := _json.loads(w.recv_message()[1]))["type"] != "chat":
            assert m["type"] in ("user_join", "user_leave", "user_list_update"), m
        assert m["payload"]["text"] == "still here"
        w.close()
    finally:
        h.close()
