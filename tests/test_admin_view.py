"""The admin API's room view (docs/ADMIN_API.md) against real httpd + redis:
live sessions per user across two servers, messages per hour of the last 7
days counted at post time and kept bounded, clearing the debug log, removing
every member at once, and the debug log seeing a join."""
import time

import pytest
import requests

from chatclient import Chat, closed_with, unique_room
from harness import ADMIN_SECRET, Httpd, wait_for

HTTPD_EXTRA_CONF = "ChatPresenceTTL 3"
AUTH = {"Authorization": f"Bearer {ADMIN_SECRET}"}
HOUR_MS = 3600000


@pytest.fixture
def api(httpd):
    base = f"http://127.0.0.1:{httpd.port}/chat-admin/api"

    def call(method, path, json=None, **kw):
        return requests.request(method, base + path, json=json, headers=AUTH, timeout=10, **kw)
    return call


@pytest.fixture(scope="module")
def second(redis_server):
    """Another server on the same Redis (as two machines behind a balancer)."""
    h = Httpd(redis_server, name="second", extra_conf=HTTPD_EXTRA_CONF).start()
    yield h
    h.close()


def pid_of(chat):
    return int(chat.welcome["sessionId"].split(":")[1])  # host:pid:hub:session


def test_sessions_of_a_user_on_two_servers(api, httpd, second):
    room = unique_room()
    api("POST", f"/rooms/{room}/members", json={"username": "alice"})
    api("POST", f"/rooms/{room}/members", json={"username": "bob"})
    before = int(time.time() * 1000)
    a1 = Chat(httpd.port, room, "alice")
    a2 = Chat(second.port, room, "alice")
    b = Chat(httpd.port, room, "bob")
    ids = {a1.welcome["sessionId"], a2.welcome["sessionId"]}

    def listed():
        users = api("GET", f"/rooms/{room}/sessions").json()["users"]
        alice = [u for u in users if u["username"] == "alice"]
        if not alice or {s["id"] for s in alice[0]["sessions"]} != ids:
            return None
        if any(s["since"] is None for s in alice[0]["sessions"]):
            return None
        return users
    users = wait_for(listed, 10, "both of alice's sessions with their records")
    assert [u["username"] for u in users] == ["alice", "bob"]
    sessions = users[0]["sessions"]
    assert {s["pid"] for s in sessions} == {pid_of(a1), pid_of(a2)}
    assert len({s["node"] for s in sessions}) == 2  # two processes of two servers
    for s in sessions:
        assert s["id"].startswith(s["node"] + ":")
        assert before - 1000 <= s["since"] <= s["lastSeen"] <= s["expires"]
        assert s["host"]
    assert len(users[1]["sessions"]) == 1 and users[1]["sessions"][0]["pid"] == pid_of(b)

    # a closed session leaves the list (and its record) at once
    a2.close()
    wait_for(lambda: len(api("GET", f"/rooms/{room}/sessions").json()["users"][0]["sessions"])
             == 1, 10, "alice's second session to go")
    records = httpd.redis.client().hkeys(f"chat:room:{room}:sessions")
    assert len(records) == 2 and all(a2.welcome["sessionId"] not in k for k in records)
    a1.close()
    b.close()


def test_session_last_seen_moves_with_presence(api, httpd):
    room = unique_room()
    api("POST", f"/rooms/{room}/members", json={"username": "carol"})
    c = Chat(httpd.port, room, "carol")
    first = wait_for(lambda: api("GET", f"/rooms/{room}/sessions").json()["users"], 10,
                     "carol listed")[0]["sessions"][0]
    # the presence refresh (every ChatPresenceTTL/3 = 1 s) rewrites the record
    later = wait_for(lambda: (lambda s: s if s["lastSeen"] > first["lastSeen"] else None)(
        api("GET", f"/rooms/{room}/sessions").json()["users"][0]["sessions"][0]), 10,
        "a presence refresh")
    assert later["since"] == first["since"] and later["expires"] > first["expires"]
    c.close()


def current_hour_ms():
    return int(time.time() * 1000) // HOUR_MS * HOUR_MS


def test_hourly_buckets_count_posted_messages(api, httpd):
    room = unique_room()
    api("POST", f"/rooms/{room}/members", json={"username": "alice"})
    a = Chat(httpd.port, room, "alice")
    hour_before = current_hour_ms()
    for k in range(7):
        a.say(f"m{k}")
        a.expect("chat")
    api("POST", f"/rooms/{room}/messages", json={"text": "from the admin"})  # counts too
    a.expect("chat")
    hour_after = current_hour_ms()
    body = api("GET", f"/rooms/{room}/hours").json()
    buckets = body["buckets"]
    assert len(buckets) == 168 and body["hourMs"] == HOUR_MS and body["total"] == 8
    assert [b["start"] for b in buckets] == [hour_after - (167 - k) * HOUR_MS for k in range(168)]
    if hour_before == hour_after:  # not straddling an hour's end
        assert buckets[-1]["count"] == 8
        assert sum(b["count"] for b in buckets[:-1]) == 0
    a.close()


def test_hourly_buckets_stay_bounded(api, httpd):
    room = unique_room()
    api("POST", f"/rooms/{room}/members", json={"username": "alice"})
    key = f"chat:room:{room}:hours"
    redis = httpd.redis.client()
    now_hour = current_hour_ms() // HOUR_MS
    # 300 hours of history (older than 7 days in part) and a field that is no hour
    redis.hset(key, mapping={str(now_hour - k): 1 for k in range(1, 301)})
    redis.hset(key, "junk", 5)
    api("POST", f"/rooms/{room}/messages", json={"text": "prune now"})
    fields = [f.decode() if isinstance(f, bytes) else f for f in redis.hkeys(key)]
    assert len(fields) <= 168
    assert "junk" not in fields
    assert all(int(f) > now_hour - 168 for f in fields)
    assert 0 < redis.pttl(key) <= 8 * 24 * HOUR_MS
    body = api("GET", f"/rooms/{room}/hours").json()
    assert len(body["buckets"]) == 168
    assert body["buckets"][-1]["count"] >= 1  # the post (or its hour's neighbour)
    assert body["total"] == 168  # 167 seeded hours in the window and the post
    assert api("POST", f"/rooms/{room}/hours").status_code == 405


def test_debug_log_sees_a_join_and_clears(api, httpd):
    room = unique_room()
    api("POST", f"/rooms/{room}/members", json={"username": "dave"})
    d = Chat(httpd.port, room, "dave")
    wait_for(lambda: any(e["event"] == "join" and e["username"] == "dave"
                         for e in api("GET", f"/rooms/{room}/log").json()["entries"]),
             2, "the join in the debug log within 2 s")
    r = api("DELETE", f"/rooms/{room}/log")
    assert r.status_code == 200 and r.json() == {"room": room, "cleared": True}
    assert api("GET", f"/rooms/{room}/log").json()["entries"] == []
    d.say("after clear")  # the log keeps recording after a clear
    assert d.expect("chat")["text"] == "after clear"
    d.send("teleport")  # an error is a debug-log entry
    assert d.expect("error")["code"] == "unknown_type"
    wait_for(lambda: api("GET", f"/rooms/{room}/log").json()["entries"], 5, "a new entry")
    assert api("PUT", f"/rooms/{room}/log").status_code == 405
    d.close()


def test_remove_all_members_closes_their_sessions(api, httpd, second):
    room = unique_room()
    for u in ("erin", "frank"):
        api("POST", f"/rooms/{room}/members", json={"username": u})
    e = Chat(httpd.port, room, "erin")
    f = Chat(second.port, room, "frank")
    r = api("DELETE", f"/rooms/{room}/members", params={"all": "1"})
    assert r.status_code == 200 and r.json() == {"room": room, "removed": ["erin", "frank"]}
    for c in (e, f):
        assert c.expect("auth_failed")["message"]
        assert closed_with(c)[0] == 1008
    assert api("GET", f"/rooms/{room}/members").json()["members"] == []
    # the room is inactive now
    g = Chat(httpd.port, room, "erin", expect_welcome=False)
    assert g.expect("auth_failed")["message"] == "this room is not active"
    # nothing to remove is fine; without all=1 a username is still required
    r = api("DELETE", f"/rooms/{room}/members", params={"all": "1"})
    assert r.status_code == 200 and r.json()["removed"] == []
    assert api("DELETE", f"/rooms/{room}/members").json()["code"] == "invalid_username"


@pytest.mark.parametrize("method,path,status,code", [
    ("POST", "/rooms/r1/sessions", 405, "method_not_allowed"),
    ("DELETE", "/rooms/r1/hours", 405, "method_not_allowed"),
    ("GET", "/rooms/bad.name/sessions", 400, "invalid_room"),
    ("GET", "/rooms/bad.name/hours", 400, "invalid_room"),
    ("DELETE", "/rooms/bad.name/log", 400, "invalid_room"),
    ("DELETE", "/rooms/r1/members?all=yes", 400, "invalid_username"),
])
def test_room_view_errors(api, method, path, status, code):
    r = api(method, path)
    assert r.status_code == status, r.text
    assert r.json()["code"] == code
