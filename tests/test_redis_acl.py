"""httpd talks to Redis as an ACL user without KEYS or any other dangerous
command (tests/harness.py sets that up for every test module, and conftest
fails a module whose Redis logged a refused command); /server-status and the
admin API's /stats find the processes through their registry."""
import pytest
import redis as redislib
import requests

from chatclient import Chat, unique_room
from harness import ADMIN_SECRET, REDIS_ACL_PASS, REDIS_ACL_USER, wait_for

HTTPD_EXTRA_CONF = "ChatPresenceTTL 3"  # figures refreshed every second


def test_the_acl_user_lacks_keys_and_httpd_uses_it(httpd, redis_server):
    as_chat = redislib.Redis(port=redis_server.port, username=REDIS_ACL_USER,
                             password=REDIS_ACL_PASS, decode_responses=True)
    with pytest.raises(redislib.exceptions.NoPermissionError):
        as_chat.keys("chat:*")
    with pytest.raises(redislib.exceptions.NoPermissionError):
        as_chat.flushall()
    as_chat.close()
    r = redis_server.client()
    assert len(r.acl_log()) == 2
    r.acl_log_reset()  # those two were ours; conftest checks the log is empty at the end
    room = unique_room()
    r.sadd(f"chat:room:{room}:members", "alice")
    a = Chat(httpd.port, room, "alice")
    a.say("as the ACL user")
    assert a.expect("chat")["text"] == "as the ACL user"
    me = r.client_id()
    users = {c["user"] for c in r.client_list() if int(c["id"]) != me}
    assert users == {REDIS_ACL_USER}
    assert r.acl_log() == []
    # scripts were loaded before their first use: no NOSCRIPT, no EVAL fallback
    assert "cmdstat_eval" not in r.info("commandstats")
    a.close()
    # a new hub (one per session under prefork) counts a connection as up only
    # after its setup, script loading included, is on the wire: a subscriber
    # whose room SUBSCRIBE went out ahead of its SCRIPT LOAD was cut off
    for i in range(5):
        r.script_flush()
        c = Chat(httpd.port, room, "alice")
        c.say(f"again {i}")
        assert c.expect("chat")["text"] == f"again {i}"
        c.close()
    assert "chat: Redis (" not in httpd.log()


def test_status_and_stats_list_processes_from_the_registry(httpd, redis_server):
    room = unique_room()
    r = redis_server.client()
    r.sadd(f"chat:room:{room}:members", "alice")
    # a process that died long ago: its hash outlived it, its registry entry is old
    r.hset("chat:node:ghost", mapping={"pid": 1, "sessions": 99, "rooms": 1,
                                       "messages_per_s": "0"})
    r.zadd("chat:nodes", {"ghost": 1000})
    a = Chat(httpd.port, room, "alice")

    def stats():
        body = requests.get(f"http://127.0.0.1:{httpd.port}/chat-admin/api/stats", timeout=10,
                            headers={"Authorization": f"Bearer {ADMIN_SECRET}"}).json()
        return body if body["connections"] >= 1 else None

    body = wait_for(stats, 10, "stats to count the session")
    names = [n["node"] for n in body["processes"]]
    assert "ghost" not in names and body["connections"] == 1
    assert set(names) <= set(r.zrange("chat:nodes", 0, -1))

    def status():
        text = requests.get(f"http://127.0.0.1:{httpd.port}/server-status?auto",
                            timeout=10).text
        return text if "ChatConnections: 1\n" in text else None

    text = wait_for(status, 10, "server-status to count the session")
    assert "ChatStorage: unavailable" not in text
    # the writers prune entries that expired
    wait_for(lambda: r.zscore("chat:nodes", "ghost") is None, 10, "the ghost pruned")
    a.close()
