"""The management API (SPEC "Management API") against real httpd + redis:
authentication, every endpoint, and every error status."""
import time

import pytest
import requests

from chatclient import Chat, closed_with, unique_room
from harness import ADMIN_SECRET, wait_for

HTTPD_EXTRA_CONF = "ChatPresenceTTL 3\nChatAdminMaxBody 2K"
AUTH = {"Authorization": f"Bearer {ADMIN_SECRET}"}


@pytest.fixture
def api(httpd):
    base = f"http://127.0.0.1:{httpd.port}/chat-admin/api"

    def call(method, path, json=None, headers=None, **kw):
        h = dict(AUTH)
        h.update(headers or {})
        return requests.request(method, base + path, json=json, headers=h, timeout=10, **kw)
    return call


def test_requires_the_bearer_secret(httpd):
    url = f"http://127.0.0.1:{httpd.port}/chat-admin/api/rooms"
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": ADMIN_SECRET},
                    {"Authorization": f"Bearer {ADMIN_SECRET}x"}):
        r = requests.get(url, headers=headers, timeout=10)
        assert r.status_code == 401
        assert r.headers["Content-Type"].startswith("application/json")
        assert r.json()["code"] == "unauthorized"
        assert "Bearer" in r.headers.get("WWW-Authenticate", "")


def test_first_member_activates_room_and_removal_closes_1008(api, httpd):
    room = unique_room()
    c = Chat(httpd.port, room, "alice", expect_welcome=False)
    assert c.expect("auth_failed")["message"] == "this room is not active"
    r = api("POST", f"/rooms/{room}/members", json={"username": "alice"})
    assert r.status_code == 201 and r.json() == {"room": room, "username": "alice", "added": True}
    r = api("POST", f"/rooms/{room}/members", json={"username": "alice"})
    assert r.status_code == 200 and r.json()["added"] is False  # idempotent
    api("POST", f"/rooms/{room}/members", json={"username": "张三"})
    assert api("GET", f"/rooms/{room}/members").json() == {"room": room,
                                                           "members": ["alice", "张三"]}
    a = Chat(httpd.port, room, "alice")
    rooms = {x["name"]: x for x in api("GET", "/rooms").json()["rooms"]}
    assert rooms[room]["members"] == 2 and rooms[room]["online"] == 1
    r = api("DELETE", f"/rooms/{room}/members", params={"username": "alice"})
    assert r.status_code == 200 and r.json()["removed"] == "alice"
    assert a.expect("auth_failed")["message"]
    assert closed_with(a)[0] == 1008
    r = api("DELETE", f"/rooms/{room}/members", params={"username": "alice"})
    assert r.status_code == 404 and r.json()["code"] == "not_member"


def test_bot_post_history_delete_and_reset_reach_clients(api, httpd):
    room = unique_room()
    api("POST", f"/rooms/{room}/members", json={"username": "alice"})
    a = Chat(httpd.port, room, "alice")
    r = api("POST", f"/rooms/{room}/messages", json={"text": "market opens"})
    assert r.status_code == 201
    stored = r.json()
    assert stored["username"] == "system" and stored["type"] == "system" and stored["seq"] == 1
    assert a.expect("chat") == stored
    r = api("POST", f"/rooms/{room}/messages", json={"text": "from the bot", "username": "bot"})
    assert r.json()["type"] == "text" and a.expect("chat")["username"] == "bot"
    page = api("GET", f"/rooms/{room}/messages", params={"limit": 1}).json()
    assert [m["text"] for m in page["messages"]] == ["from the bot"] and page["hasMore"] is True
    page = api("GET", f"/rooms/{room}/messages", params={"beforeSeq": 2}).json()
    assert [m["text"] for m in page["messages"]] == ["market opens"]
    a.say("mine")
    mid = a.expect("chat")["id"]
    r = api("DELETE", f"/rooms/{room}/messages/{mid}")  # anyone's message
    assert r.status_code == 200
    assert a.expect("delete") == {"messageId": mid}
    assert api("DELETE", f"/rooms/{room}/messages/{mid}").status_code == 404
    assert api("DELETE", f"/rooms/{room}/messages/abc").status_code == 404
    old_epoch = a.welcome["epoch"]
    r = api("POST", f"/rooms/{room}/reset")
    assert r.status_code == 200 and r.json()["epoch"] != old_epoch
    reset = a.expect("history_reset")
    assert reset["epoch"] == r.json()["epoch"] and reset["history"] == []
    assert api("GET", f"/rooms/{room}/messages").json()["messages"] == []
    a.say("after reset")
    assert a.expect("chat")["seq"] == 4  # seq keeps counting
    a.close()


def test_debug_log_records_joins_refusals_deletes_errors(api, httpd):
    room = unique_room()
    api("POST", f"/rooms/{room}/members", json={"username": "alice"})
    a = Chat(httpd.port, room, "alice")
    Chat(httpd.port, room, "mallory", expect_welcome=False).expect("auth_failed")
    a.say("x")
    mid = a.expect("chat")["id"]
    a.send("delete", messageId=mid)
    a.expect("delete")
    a.send("teleport")
    a.expect("error")

    def events():
        entries = api("GET", f"/rooms/{room}/log").json()["entries"]
        return {(e["event"], e["username"]) for e in entries} >= {
            ("join", "alice"), ("refused", "mallory"), ("delete", "alice"), ("error", "alice")}
    wait_for(events, 10, "debug log entries")
    entry = api("GET", f"/rooms/{room}/log", params={"limit": 1}).json()["entries"]
    assert len(entry) == 1 and entry[0]["event"] == "error" and "unknown_type" in entry[0]["detail"]
    a.close()


def test_tokens(api, httpd):
    room = unique_room()
    api("POST", f"/rooms/{room}/members", json={"username": "bob"})
    r = api("POST", "/tokens", json={"username": "bob", "ttl": 60})
    assert r.status_code == 200
    body = r.json()
    assert body["username"] == "bob" and abs(body["expires"] - time.time() - 60) < 5
    c = Chat(httpd.port, room, "bob", prefix="/tchat", query=f"token={body['token']}")
    assert c.welcome["username"] == "bob"
    c.close()
    for bad in ({"username": "bob", "ttl": 0}, {"username": "bob", "ttl": "1h"},
                {"username": " bob"}, {}):
        assert api("POST", "/tokens", json=bad).status_code == 400


def test_stats_and_jobs(api, httpd):
    room = unique_room()
    api("POST", f"/rooms/{room}/members", json={"username": "alice"})
    a = Chat(httpd.port, room, "alice")
    stats = wait_for(lambda: (lambda s: s if s["connections"] >= 1 else None)(
        api("GET", "/stats").json()), 10, "stats to count the session")
    assert stats["rooms"] >= 1 and stats["processes"]
    assert {"pid", "sessions", "rooms", "messages_per_s"} <= set(stats["processes"][0])
    assert api("GET", "/jobs").json() == {"jobs": []}
    assert api("POST", "/jobs/nightly/run").status_code == 404
    a.close()


@pytest.mark.parametrize("method,path,kw,status,code", [
    ("GET", "/nope", {}, 404, "not_found"),
    ("GET", "/rooms/bad.name/members", {}, 400, "invalid_room"),
    ("GET", "/rooms/upload/members", {}, 400, "invalid_room"),
    ("PUT", "/rooms/r1/members", {}, 405, "method_not_allowed"),
    ("POST", "/rooms", {}, 405, "method_not_allowed"),
    ("POST", "/rooms/r1/members", {"json": {"username": ""}}, 400, "invalid_username"),
    ("POST", "/rooms/r1/members", {"json": {}}, 400, "invalid_username"),
    ("POST", "/rooms/r1/members", {"data": "{bad", "headers": {"Content-Type": "application/json"}},
     400, "malformed"),
    ("POST", "/rooms/r1/members", {"data": "username=a",
                                   "headers": {"Content-Type": "text/plain"}},
     415, "unsupported_media_type"),
    ("POST", "/rooms/r1/members", {"json": {"username": "a" * 3000}}, 413, "too_large"),
    ("POST", "/rooms/r1/messages", {"json": {"username": "bot"}}, 400, "missing_field"),
    ("DELETE", "/rooms/r1/members", {}, 400, "invalid_username"),
    ("GET", "/rooms/r1/messages?limit=500", {}, 400, "invalid_parameter"),
    ("GET", "/rooms/r1/reset", {}, 405, "method_not_allowed"),
    ("GET", "/tokens", {}, 405, "method_not_allowed"),
])
def test_errors_are_json_with_the_right_status(api, method, path, kw, status, code):
    r = api(method, path, **kw)
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json()["code"] == code


def test_writes_are_logged_with_who_and_what(api, httpd):
    room = unique_room()
    api("POST", f"/rooms/{room}/members", json={"username": "alice"})
    wait_for(lambda: f"member alice added to room {room}" in httpd.log(), 10, "the write log line")
    assert "by 127.0.0.1" in httpd.log()


def test_server_status_shows_chat_figures(api, httpd):
    room = unique_room()
    api("POST", f"/rooms/{room}/members", json={"username": "alice"})
    a = Chat(httpd.port, room, "alice")
    url = f"http://127.0.0.1:{httpd.port}/server-status"

    def counted():
        auto = requests.get(url + "?auto", timeout=10).text
        line = [x for x in auto.splitlines() if x.startswith("ChatConnections: ")]
        return line and int(line[0].split()[1]) >= 1
    wait_for(counted, 10, "server-status to count the chat session")
    html = requests.get(url, timeout=10).text
    assert "<h2>mod_chat</h2>" in html and "chat connections in" in html
    a.close()
