"""The chat protocol of SPEC "WebSocket protocol" against a real httpd and
redis: welcome, chat, delete, history paging, presence, signaling, errors,
ACL, identity, reconnect with since/epoch, limits."""
import json
import time

import pytest

from chatclient import Chat, closed_with, token, unique_room
from harness import Httpd
from wsclient import WS, HandshakeRefused


@pytest.fixture
def room(redis_server):
    name = unique_room()
    redis_server.client().sadd(f"chat:room:{name}:members", "alice", "bob", "张三")
    return name


def test_welcome_and_chat_both_ways(httpd, room, tls):
    port = httpd.tls_port if tls else httpd.port
    a = Chat(port, room, "alice", tls=tls)
    w = a.welcome
    assert w["username"] == "alice" and w["room"] == room
    assert w["history"] == [] and w["hasMoreHistory"] is False
    assert w["seq"] == 0 and isinstance(w["epoch"], str) and w["epoch"]
    assert w["userCount"] == 1 and w["sessionId"]
    b = Chat(port, room, "bob", tls=tls)
    assert b.welcome["userCount"] == 2
    assert b.welcome["epoch"] == w["epoch"]

    a.say("hello bob")
    ma, mb = a.expect("chat"), b.expect("chat")
    assert ma == mb
    assert ma["username"] == "alice" and ma["text"] == "hello bob" and ma["type"] == "text"
    assert ma["seq"] == 1 and ma["id"] and abs(ma["timestamp"] / 1000 - time.time()) < 60
    b.say("hi alice ✓")
    assert a.expect("chat")["text"] == "hi alice ✓"
    assert b.expect("chat")["seq"] == 2
    a.close()
    b.close()


def test_image_and_audio_messages(httpd, room):
    a = Chat(httpd.port, room, "alice")
    a.send("chat", type="image", imageUrl="/chat/files/x.png", filename="x.png", size=123,
           caption="chart")
    m = a.expect("chat")
    assert (m["type"], m["imageUrl"], m["filename"], m["size"], m["caption"]) == \
        ("image", "/chat/files/x.png", "x.png", 123, "chart")
    a.send("chat", type="audio", audioUrl="/chat/files/v.webm", filename="v.webm", size=9)
    m = a.expect("chat")
    assert (m["type"], m["audioUrl"]) == ("audio", "/chat/files/v.webm")
    # only this server's uploads (ChatMediaAllow adds prefixes, see test_ws_abuse)
    for bad in ("javascript:alert(1)", "//evil.example/x.png", "data:image/png;base64,AA", "",
                "https://evil.example/x.png", "/etc/passwd", "/chat/files/../../x.png",
                "/chat/files/"):
        a.send("chat", type="image", imageUrl=bad, filename="x.png", size=1)
        assert a.expect("error")["code"] == "invalid"
    a.close()


def test_delete_own_only(httpd, room):
    a, b = Chat(httpd.port, room, "alice"), Chat(httpd.port, room, "bob")
    a.say("mine")
    mid = a.expect("chat")["id"]
    b.expect("chat")
    b.send("delete", messageId=mid)
    assert b.expect("error")["code"] == "forbidden"
    b.send("delete", messageId="999999")
    assert b.expect("error")["code"] == "not_found"
    a.send("delete", messageId=mid)
    assert a.expect("delete") == {"messageId": mid}
    assert b.expect("delete") == {"messageId": mid}
    a.send("history")
    assert a.expect("history")["messages"] == []
    a.close()
    b.close()


def test_history_paging(httpd, room):
    a = Chat(httpd.port, room, "alice")
    for i in range(45):
        a.say(f"m{i}")
    a.chats(45)
    b = Chat(httpd.port, room, "bob")
    h = b.welcome["history"]
    assert [m["text"] for m in h] == [f"m{i}" for i in range(25, 45)]  # oldest first
    assert b.welcome["hasMoreHistory"] is True and b.welcome["seq"] == 45
    b.send("history", beforeSeq=h[0]["seq"])
    page = b.expect("history")
    assert [m["text"] for m in page["messages"]] == [f"m{i}" for i in range(5, 25)]
    assert page["hasMore"] is True
    b.send("history", beforeSeq=page["messages"][0]["seq"], limit=100)
    page = b.expect("history")
    assert [m["text"] for m in page["messages"]] == [f"m{i}" for i in range(5)]
    assert page["hasMore"] is False
    b.send("history", limit=1000)  # capped at 100
    assert len(b.expect("history")["messages"]) == 45
    b.send("history", limit=3)
    page = b.expect("history")
    assert [m["text"] for m in page["messages"]] == ["m42", "m43", "m44"]
    a.close()
    b.close()


def test_presence_join_leave_and_lists(httpd, room):
    def update(users):
        return {"type": "user_list_update", "payload": {"users": users, "userCount": len(users)}}

    a = Chat(httpd.port, room, "alice")
    assert a.recv() == update(["alice"])  # right after the welcome
    b = Chat(httpd.port, room, "bob")
    assert b.welcome["userCount"] == 2
    assert b.recv() == update(["alice", "bob"])
    assert a.recv() == {"type": "user_join", "payload": {"username": "bob", "userCount": 2}}
    assert a.recv() == update(["alice", "bob"])
    # a second session of bob: still two users, no second user_join
    b2 = Chat(httpd.port, room, "bob")
    assert b2.welcome["userCount"] == 2
    assert a.recv() == update(["alice", "bob"])
    b.close()  # bob still has b2: no user_leave
    assert a.recv() == update(["alice", "bob"])
    b2.close()
    assert a.recv() == {"type": "user_leave", "payload": {"username": "bob", "userCount": 1}}
    assert a.recv() == update(["alice"])
    a.quiet(0.3)
    a.close()


def test_signaling_reaches_every_session_of_target_only(httpd, room, redis_server):
    a = Chat(httpd.port, room, "alice")
    b1, b2 = Chat(httpd.port, room, "bob"), Chat(httpd.port, room, "bob")
    c = Chat(httpd.port, room, "张三")
    a.send("offer", target="bob", sdp="v=0 fake")
    for b in (b1, b2):
        assert b.expect("offer") == {"target": "bob", "sdp": "v=0 fake", "from": "alice"}
    b1.send("answer", target="alice", sdp="answer")
    assert a.expect("answer")["from"] == "bob"
    a.send("candidate", target="bob", candidate={"c": 1})
    for b in (b1, b2):
        assert b.expect("candidate")["candidate"] == {"c": 1}
    a.send("call_end", target="bob")
    assert b1.expect("call_end")["from"] == "alice"
    c.quiet(0.5)  # 张三 got none of it
    assert redis_server.client().xlen(f"chat:room:{room}:log") == 0  # never stored
    a.send("offer", sdp="x")
    assert a.expect("error")["code"] == "invalid"
    for x in (a, b1, b2, c):
        x.close()


def test_bad_messages_get_errors_and_keep_the_connection(httpd, room):
    a = Chat(httpd.port, room, "alice")
    a.ws.send_text("{not json")
    assert a.expect("error")["code"] == "malformed"
    a.ws.send_text("[1,2]")
    assert a.expect("error")["code"] == "malformed"
    a.ws.send_text('{"type":"chat","payload":"x"}')
    assert a.expect("error")["code"] == "malformed"
    a.send("teleport")
    assert a.expect("error")["code"] == "unknown_type"
    a.send("chat", type="text", text="   ")
    assert a.expect("error")["code"] == "invalid"
    a.send("chat", type="video", url="/x")
    assert a.expect("error")["code"] == "invalid"
    a.send("heartbeat")
    a.send("gemini_chat", text="hi")
    assert a.expect("error")["code"] == "ai_unavailable"
    a.say("still works")
    assert a.expect("chat")["text"] == "still works"
    a.close()


def test_inactive_room_and_non_member_get_auth_failed_1008(httpd, room):
    for r, user in ((unique_room(), "alice"), (room, "mallory")):
        c = Chat(httpd.port, r, user, expect_welcome=False)
        assert "message" in c.expect("auth_failed")
        assert closed_with(c)[0] == 1008


def test_identity_refusals_before_upgrade(httpd, room):
    for q in ("", "username=", "username=%20bob", "username=" + "x" * 65, "username=a%0Ab"):
        with pytest.raises(HandshakeRefused) as e:
            WS.connect(httpd.port, path=f"/chat/{room}?{q}")
        assert e.value.status == 400
    # /chat/ai is the AI endpoints' location (chat-ai handler): not found there
    for bad, status in (("upload", 400), ("ai", 404), ("a.b", 400), ("x" * 65, 400)):
        with pytest.raises(HandshakeRefused) as e:
            WS.connect(httpd.port, path=f"/chat/{bad}?username=alice")
        assert e.value.status == status




def test_token_identity(httpd, room):
    good = token("bob", int(time.time()) + 60)
    c = Chat(httpd.port, room, "bob", prefix="/tchat", query=f"token={good}")
    assert c.welcome["username"] == "bob"
    c.close()
    c = WS.connect(httpd.port, path=f"/tchat/{room}",
                   headers={"Cookie": f"chat_token={good}"})
    assert c.recv_json()["payload"]["username"] == "bob"
    c.close()
    for bad in (token("bob", int(time.time()) - 1), token("bob", 2 ** 40, secret="x" * 20),
                good[:-2] + "AA", "garbage"):
        with pytest.raises(HandshakeRefused) as e:
            WS.connect(httpd.port, path=f"/tchat/{room}?token={bad}")
        assert e.value.status == 401
    with pytest.raises(HandshakeRefused) as e:
        WS.connect(httpd.port, path=f"/tchat/{room}")
    assert e.value.status == 401


def test_reconnect_with_since_replays_exactly_the_missed(httpd, room):
    a = Chat(httpd.port, room, "alice")
    for i in range(5):
        a.say(f"before{i}")
    got = a.chats(5)
    last, epoch = got[-1]["seq"], a.welcome["epoch"]
    a.close()
    b = Chat(httpd.port, room, "bob")
    for i in range(7):
        b.say(f"missed{i}")
    b.chats(7)
    a2 = Chat(httpd.port, room, "alice", since=last, epoch=epoch)
    replay = a2.chats(7)
    assert [m["text"] for m in replay] == [f"missed{i}" for i in range(7)]
    assert [m["seq"] for m in replay] == list(range(last + 1, last + 8))
    a2.quiet(0.5)
    # nothing missed: nothing replayed
    a3 = Chat(httpd.port, room, "alice", since=last + 7, epoch=epoch)
    a3.quiet(0.5)
    # wrong epoch: history_reset with the current history
    a4 = Chat(httpd.port, room, "alice", since=last, epoch="not-the-epoch")
    reset = a4.expect("history_reset")
    assert reset["epoch"] == epoch and reset["seq"] == last + 7
    assert [m["text"] for m in reset["history"]][-1] == "missed6"
    for x in (b, a2, a3, a4):
        x.close()


def test_reconnect_older_than_kept_history_is_reset(httpd, redis_server):
    room = unique_room()
    redis_server.client().sadd(f"chat:room:{room}:members", "alice", "bob")
    a = Chat(httpd.port, room, "alice", prefix="/lchat")  # ChatHistorySize 30
    epoch = a.welcome["epoch"]
    a.close()
    p = Chat(httpd.port, room, "alice")  # no rate limit, history 1000
    for i in range(40):
        p.say(f"n{i}")
    p.chats(40)
    p.close()
    # a post under ChatHistorySize 30 trims the stream to 30
    q = Chat(httpd.port, room, "bob", prefix="/lchat")
    q.say("trim")
    assert q.expect("chat")["seq"] == 41
    q.close()
    a2 = Chat(httpd.port, room, "alice", prefix="/lchat", since=1, epoch=epoch)
    reset = a2.expect("history_reset")
    assert reset["epoch"] == epoch and reset["seq"] == 41
    assert [m["seq"] for m in reset["history"]] == list(range(22, 42))
    a2.close()
    # within what is kept: replay, not reset
    a3 = Chat(httpd.port, room, "alice", prefix="/lchat", since=35, epoch=epoch)
    assert [m["seq"] for m in a3.chats(6)] == list(range(36, 42))
    a3.close()


def test_limits_text_length_and_rate(httpd, redis_server):
    room = unique_room()
    redis_server.client().sadd(f"chat:room:{room}:members", "alice")
    a = Chat(httpd.port, room, "alice", prefix="/lchat")  # max 10 chars, 2/s burst 3
    a.say("x" * 11)
    assert a.expect("error")["code"] == "too_long"
    a.say("é" * 10)  # characters, not bytes
    assert a.expect("chat")["text"] == "é" * 10
    for i in range(5):
        a.say(f"r{i}")
    got = [a.recv() for _ in range(5)]
    kinds = [m["type"] for m in got]
    assert kinds.count("chat") == 2 and kinds.count("error") == 3  # burst 3, one used above
    assert all(m["payload"]["code"] == "rate_limited" for m in got if m["type"] == "error")
    a.close()


def test_connections_per_user(httpd, redis_server):
    room, other = unique_room(), unique_room()
    for r in (room, other):
        redis_server.client().sadd(f"chat:room:{r}:members", "alice", "bob")
    # ChatMaxConnectionsPerUser 3 on /lchat, counted across rooms
    a = [Chat(httpd.port, room, "alice", prefix="/lchat") for _ in range(2)]
    a.append(Chat(httpd.port, other, "alice", prefix="/lchat"))
    extra = Chat(httpd.port, room, "alice", prefix="/lchat", expect_welcome=False)
    assert extra.expect("error")["code"] == "too_many_connections"
    assert closed_with(extra)[0] == 1008
    Chat(httpd.port, room, "bob", prefix="/lchat").close()  # others unaffected
    a.pop().close()
    # the freed slot is usable again once the leave is recorded
    b = None
    for _ in range(50):
        c = Chat(httpd.port, room, "alice", prefix="/lchat", expect_welcome=False)
        first = c.recv()
        if first["type"] == "welcome":
            b = c
            break
        closed_with(c)
    assert b is not None
    for x in a + [b]:
        x.close()


def test_removed_member_is_closed_with_1008(httpd, redis_server, room):
    a, b = Chat(httpd.port, room, "alice"), Chat(httpd.port, room, "bob")
    # what the admin API does on DELETE .../members?username=bob
    r = redis_server.client()
    r.srem(f"chat:room:{room}:members", "bob")
    r.publish(f"chat:ch:{room}", json.dumps({"t": "kick", "username": "bob"}))
    assert b.expect("auth_failed")["message"]
    assert closed_with(b)[0] == 1008
    # alice stays; bob cannot come back
    a.say("still here")
    assert a.expect("chat")["text"] == "still here"
    c = Chat(httpd.port, room, "bob", expect_welcome=False)
    assert c.expect("auth_failed")
    a.close()


def _presence_burst(port, room, users):
    """alice, then users joining at once; alice's frames until her list has them all,
    then a chat from the last joiner."""
    from concurrent.futures import ThreadPoolExecutor
    a = Chat(port, room, "alice")
    assert a.recv()["type"] == "user_list_update"  # her own, with the welcome
    with ThreadPoolExecutor(len(users)) as pool:
        joined = list(pool.map(lambda u: Chat(port, room, u), users))
    joined[-1].say("after the burst")
    frames = []
    while True:
        f = a.recv()
        frames.append(f)
        if f["type"] == "chat":
            break
    for c in joined + [a]:
        c.close()
    return frames


def test_presence_burst_reaches_members_merged_and_in_order(httpd, redis_server):
    """ChatPresenceBatch (default On): a burst of joins reaches a member as every
    user_join, in order, but not one whole list per join; and all of it before the
    chat message that followed the burst."""
    room, users = unique_room(), [f"u{i:02d}" for i in range(20)]
    redis_server.client().sadd(f"chat:room:{room}:members", "alice", *users)
    frames = _presence_burst(httpd.port, room, users)
    assert frames[-1]["type"] == "chat" and frames[-1]["payload"]["text"] == "after the burst"
    joins = [f["payload"]["username"] for f in frames if f["type"] == "user_join"]
    lists = [f["payload"]["users"] for f in frames if f["type"] == "user_list_update"]
    assert sorted(joins) == users and len(joins) == 20
    assert lists[-1] == sorted(["alice"] + users)  # the newest list, before the chat
    assert len(lists) < len(users), "one list per join: presence was not batched"
    # each list goes after the joins it contains
    for k, f in enumerate(frames):
        if f["type"] == "user_list_update":
            before = {g["payload"]["username"] for g in frames[:k] if g["type"] == "user_join"}
            assert set(f["payload"]["users"]) - {"alice"} == before


def test_presence_batch_off_sends_a_list_per_join(redis_server):
    room, users = unique_room(), [f"v{i}" for i in range(5)]
    redis_server.client().sadd(f"chat:room:{room}:members", "alice", *users)
    h = Httpd(redis_server, extra_conf="ChatPresenceBatch Off", name="presence_off").start()
    try:
        frames = _presence_burst(h.port, room, users)
        lists = [f for f in frames if f["type"] == "user_list_update"]
        assert len(lists) == len(users)
        assert frames[-1]["type"] == "chat"
        h.assert_configtest_refuses("ChatPresenceBatch maybe", "ChatPresenceBatch")
        h.assert_configtest_refuses("<Location /x>\nChatPresenceBatch On\n</Location>",
                                    "ChatPresenceBatch")
    finally:
        h.close()


def _frames_until_chat(c):
    frames = []
    while (f := c.recv())["type"] != "chat":
        frames.append(f)
    return frames


def test_presence_waits_the_interval_and_a_late_joiner_skips_older_news(redis_server):
    """ChatPresenceBatch 60s: after a room's presence went out, the next joins wait (here
    until a chat message flushes them) and reach a member as their joins and one list.
    A member welcomed while a join is held is not told of it again: its welcome had it."""
    room = unique_room()
    redis_server.client().sadd(f"chat:room:{room}:members", "alice", "bob", "carol", "dave")
    h = Httpd(redis_server, extra_conf="ChatPresenceBatch 60s", name="presence_60s").start()
    try:
        a = Chat(h.port, room, "alice")
        b = Chat(h.port, room, "bob")
        # the room's first news goes at the next tick
        while (f := a.recv())["type"] != "user_list_update" or "bob" not in f["payload"]["users"]:
            pass
        c = Chat(h.port, room, "carol")
        d = Chat(h.port, room, "dave")
        own = d.recv()  # its list, with the welcome
        assert own["type"] == "user_list_update"
        assert own["payload"]["users"] == ["alice", "bob", "carol", "dave"]
        d.say("after carol and dave")
        seen = _frames_until_chat(a)
        assert [f["payload"]["username"] for f in seen if f["type"] == "user_join"] == ["carol", "dave"]
        lists = [f["payload"]["users"] for f in seen if f["type"] == "user_list_update"]
        assert lists == [["alice", "bob", "carol", "dave"]], seen  # one list for both joins
        # carol hears of dave (newer than her welcome), dave not of carol (older)
        assert [f["payload"]["username"] for f in _frames_until_chat(c)
                if f["type"] == "user_join"] == ["dave"]
        assert not [f for f in _frames_until_chat(d) if f["type"] == "user_join"]
        for x in (a, b, c, d):
            x.close()
        for good in ("500ms", "2", "On", "Off"):
            assert h.configtest(f"ChatPresenceBatch {good}")[0] == 0, good
        for bad in ("100ms", "61s", "soon"):
            h.assert_configtest_refuses(f"ChatPresenceBatch {bad}", "ChatPresenceBatch")
    finally:
        h.close()


def test_presence_of_names_that_json_escapes(httpd, redis_server):
    """Presence events are read without a JSON parser (chat_fanout.c): names with
    quotes, backslashes, slashes, commas, brackets and non-ASCII arrive intact."""
    from urllib.parse import quote
    room = unique_room()
    odd = ['o"brien', 'back\\slash', 'a/b,c]', '张三 }{']
    redis_server.client().sadd(f"chat:room:{room}:members", "alice", *odd)
    a = Chat(httpd.port, room, "alice")
    others = []
    for name in odd:
        others.append(Chat(httpd.port, room, name, query=f"username={quote(name)}"))
        while (f := a.recv())["type"] != "user_join":
            assert f["type"] == "user_list_update", f
        assert f["payload"]["username"] == name
    while (f := a.recv())["type"] != "user_list_update" or len(f["payload"]["users"]) < 5:
        pass
    assert f["payload"] == {"users": sorted(["alice"] + odd), "userCount": 5}
    a.say("seen by all")
    last = others[-1]  # never told of its own join: it had the list with its welcome
    while (f := last.recv())["type"] != "chat":
        assert f["type"] == "user_list_update", f
    others[0].close()
    while (f := a.recv())["type"] != "user_leave":
        pass
    assert f["payload"] == {"username": odd[0], "userCount": 4}
    for c in others[1:] + [a]:
        c.close()
