"""Redis connections that misbehave, through tests/redis_proxy.py: a
black-holed (half-open) subscriber is found by its liveness probe and the room
catches up exactly once and in order; commands beyond ChatRedisMaxPending are
refused; scripts go as EVALSHA and survive a SCRIPT FLUSH."""
import json
import time

import pytest
import requests

from chatclient import Chat, unique_room
from harness import ADMIN_SECRET, Httpd, wait_for
from redis_proxy import RedisProxy

T = 2  # ChatRedisTimeout of the proxied server


@pytest.fixture(scope="module")
def proxy(redis_server):
    p = RedisProxy(redis_server.port).start()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def proxied(redis_server, proxy):
    """An httpd whose Redis connections all go through the proxy."""
    h = Httpd(redis_server, name="proxied",
              extra_conf=f"ChatRedis 127.0.0.1:{proxy.port}\nChatRedisTimeout {T}").start()
    yield h
    h.close()


@pytest.fixture(autouse=True)
def proxy_reset(proxy):
    yield
    proxy.delay_replies("command", 0)
    proxy.delay_replies("subscriber", 0)
    proxy.release()


@pytest.fixture
def room(redis_server):
    name = unique_room("fault")
    redis_server.client().sadd(f"chat:room:{name}:members", "alice", "bob")
    return name


def collect(chat, n, timeout):
    """The next n chat payloads; 'unavailable' errors and presence may come between."""
    got, deadline = [], time.monotonic() + timeout
    while len(got) < n:
        try:
            msg = chat.recv(max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            raise AssertionError(f"{len(got)} of {n} chat messages in {timeout:.1f} s: "
                                 f"{[m['text'] for m in got]}") from None
        if msg["type"] == "chat":
            got.append(msg["payload"])
        elif msg["type"] == "error":
            assert msg["payload"]["code"] == "unavailable", msg
        else:
            assert msg["type"] in ("user_join", "user_leave", "user_list_update"), msg
    return got


def post_all(chat, texts):
    for t in texts:
        chat.say(t)
    assert [m["text"] for m in chat.chats(len(texts))] == texts


def test_black_holed_subscriber_is_reset_and_catches_up(proxied, httpd, proxy, room):
    alice = Chat(proxied.port, room, "alice")
    bob = Chat(httpd.port, room, "bob")  # straight to Redis
    post_all(bob, ["before"])
    assert [m["text"] for m in collect(alice, 1, 5)] == ["before"]
    subscribers = proxy.counters("subscriber")["connections"]
    assert proxy.hold("subscriber") >= 1
    t0 = time.monotonic()
    texts = [f"held{i}" for i in range(10)]
    post_all(bob, texts)
    got = collect(alice, len(texts), 2 * T + 5 - (time.monotonic() - t0))
    assert [m["text"] for m in got] == texts
    seqs = [m["seq"] for m in got]
    assert seqs == list(range(seqs[0], seqs[0] + len(texts)))
    assert "did not answer a liveness probe" in proxied.log()
    assert proxy.counters("subscriber")["connections"] > subscribers
    alice.quiet(1.0)  # once each: no second copy from a catch-up or the held bytes
    post_all(bob, ["after"])  # and the live path works again
    assert [m["text"] for m in collect(alice, 1, 5)] == ["after"]
    alice.close()
    bob.close()


def test_live_message_during_catch_up_comes_after_the_missed_ones(proxied, httpd, proxy, room):
    """After the reconnect, a message published while the catch-up's reply is
    still on its way reaches the member first: it must wait for the missed
    ones, not make them look old."""
    channel = f"chat:ch:{room}".encode()
    alice = Chat(proxied.port, room, "alice")
    bob = Chat(httpd.port, room, "bob")
    post_all(bob, ["before"])
    assert [m["text"] for m in collect(alice, 1, 5)] == ["before"]
    subscribed = proxy.sent("subscriber").count(channel)
    proxy.delay_replies("command", 1.5)  # slow, not dead: below ChatRedisTimeout
    assert proxy.hold("subscriber") >= 1
    texts = [f"missed{i}" for i in range(5)]
    post_all(bob, texts)
    # the proxied server's new subscriber has subscribed to the room again:
    # its catch-up is sent, and its reply takes 1.5 s
    wait_for(lambda: proxy.sent("subscriber").count(channel) > subscribed, 2 * T + 5,
             "the room's channel subscribed again")
    post_all(bob, ["live"])
    got = collect(alice, len(texts) + 1, 10)
    assert [m["text"] for m in got] == texts + ["live"]
    alice.quiet(1.0)
    alice.close()
    bob.close()


CAP = 8


@pytest.fixture(scope="module")
def capped(redis_server):
    """An httpd allowing CAP unanswered commands per Redis connection, via its own proxy."""
    p = RedisProxy(redis_server.port).start()
    h = Httpd(redis_server, name="capped",
              extra_conf=f"ChatRedis 127.0.0.1:{p.port}\nChatRedisMaxPending {CAP}").start()
    yield h, p
    h.close()
    p.stop()


def test_posts_beyond_max_pending_are_refused_and_none_accepted_is_lost(capped, redis_server,
                                                                        room):
    h, p = capped
    alice = Chat(h.port, room, "alice")
    assert p.hold("command") >= 1  # Redis runs the posts; their replies wait here
    texts = [f"p{i}" for i in range(3 * CAP)]
    for t in texts:
        alice.say(t)
    alice.send("no_such_type")  # answered in order, after every post was handled
    chats, refused = [], 0
    while True:
        msg = alice.recv(10)
        if msg["type"] == "chat":
            chats.append(msg["payload"]["text"])
        elif msg["type"] == "error" and msg["payload"]["code"] == "unknown_type":
            break
        elif msg["type"] == "error":
            assert msg["payload"]["code"] == "unavailable", msg
            refused += 1
        else:
            assert msg["type"] in ("user_join", "user_leave", "user_list_update"), msg
    accepted = len(texts) - refused
    assert 1 <= accepted <= CAP and refused > 0
    # what was refused is the tail: the cap holds until replies come back
    chats += [m["text"] for m in collect(alice, accepted - len(chats), 5)]
    assert chats == texts[:accepted]
    p.release()
    alice.say("after release")  # replies drained: accepted again
    assert [m["text"] for m in collect(alice, 1, 5)] == ["after release"]
    stored = [json.loads(f["m"])["text"]
              for _, f in redis_server.client().xrange(f"chat:room:{room}:log")]
    assert stored == texts[:accepted] + ["after release"]
    alice.quiet(0.5)
    assert "ChatRedisMaxPending" in h.log()
    alice.close()


@pytest.mark.parametrize("value", ["0", "many", "1000001", "-5"])
def test_configtest_names_chat_redis_max_pending(httpd, value):
    httpd.assert_configtest_refuses(f"ChatRedisMaxPending {value}", "ChatRedisMaxPending")


POST_SCRIPT = b"redis.call('HINCRBY', KEYS[1], 'seq', 1)"  # a line of chat_lua_post


def script_calls(r):
    stats = r.info("commandstats")
    return {k: stats.get(f"cmdstat_{k}", {}).get("calls", 0) for k in ("eval", "evalsha")}


def test_scripts_go_by_sha_and_survive_script_flush(proxied, proxy, redis_server, room):
    r = redis_server.client()
    alice = Chat(proxied.port, room, "alice")
    post_all(alice, ["warm"])
    texts_sent = proxy.sent("command").count(POST_SCRIPT)
    before = script_calls(r)
    post_all(alice, [f"s{i}" for i in range(20)])
    after = script_calls(r)
    assert after["evalsha"] - before["evalsha"] >= 20
    assert after["eval"] == before["eval"]
    assert proxy.sent("command").count(POST_SCRIPT) == texts_sent  # the text stayed home

    # SCRIPT FLUSH in the middle of a run: no post fails, each stored once, in order
    texts = [f"f{i}" for i in range(40)]
    for i, t in enumerate(texts):
        alice.say(t)
        if i == 9:
            r.script_flush()
    assert [m["text"] for m in collect(alice, len(texts), 10)] == texts
    alice.quiet(0.5)
    flushed = script_calls(r)
    assert flushed["eval"] > after["eval"]  # the NOSCRIPT fallback ran
    resent = proxy.sent("command").count(POST_SCRIPT)
    assert resent > texts_sent
    post_all(alice, [f"g{i}" for i in range(10)])  # and the text is not sent again
    assert proxy.sent("command").count(POST_SCRIPT) == resent
    stored = [json.loads(f["m"])["text"] for _, f in r.xrange(f"chat:room:{room}:log")]
    assert stored == ["warm"] + [f"s{i}" for i in range(20)] + texts + [f"g{i}" for i in range(10)]
    alice.close()


def test_blocking_callers_use_sha_and_fall_back_after_script_flush(proxied, proxy, redis_server,
                                                                  room):
    """The admin API, a blocking caller (its own connection per request), posts
    through chat_redis_sync_command like the AI and the scheduler."""
    r = redis_server.client()
    url = f"http://127.0.0.1:{proxied.port}/chat-admin/api/rooms/{room}/messages"
    auth = {"Authorization": f"Bearer {ADMIN_SECRET}"}

    def admin_post(text):
        opened = len(proxy.sent_each())
        assert requests.post(url, json={"text": text}, headers=auth, timeout=10).status_code == 201
        return b"".join(proxy.sent_each()[opened:])  # what this request sent

    r.script_flush()
    wire = admin_post("one")
    assert wire.count(b"EVALSHA") == 1 and wire.count(POST_SCRIPT) == 1  # NOSCRIPT, then EVAL
    wire = admin_post("two")
    assert wire.count(b"EVALSHA") == 1 and POST_SCRIPT not in wire
    got = requests.get(url, headers=auth, timeout=10).json()["messages"]
    assert [m["text"] for m in got] == ["one", "two"]


def test_a_gap_larger_than_the_catch_up_page_is_a_reset_not_a_hole(proxied, httpd, proxy,
                                                                    room):
    # the catch-up reads the newest 100 messages: with 150 missed, the member
    # is told (history_reset with the newest page), never left with a hole
    alice = Chat(proxied.port, room, "alice")
    bob = Chat(httpd.port, room, "bob")
    post_all(bob, ["before"])
    assert [m["text"] for m in collect(alice, 1, 5)] == ["before"]
    assert proxy.hold("subscriber") >= 1
    texts = [f"held{i}" for i in range(150)]
    post_all(bob, texts)
    deadline = time.monotonic() + 2 * T + 10
    while True:
        msg = alice.recv(max(0.01, deadline - time.monotonic()))
        if msg["type"] == "history_reset":
            break
        assert msg["type"] in ("error", "user_join", "user_leave", "user_list_update"), msg
    history = [m["text"] for m in msg["payload"]["history"]]
    assert history == texts[-100:]
    assert msg["payload"]["seq"] == msg["payload"]["history"][-1]["seq"]
    post_all(bob, ["after"])  # live again, nothing of the gap repeated
    assert [m["text"] for m in collect(alice, 1, 5)] == ["after"]
    alice.close()
    bob.close()
