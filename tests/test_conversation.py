"""Conversation features over the WebSocket protocol: replies carry the
server's excerpt of the original, history search (members only, bounded,
rate-limited per user) and the image-resize settings in ?info."""
import json

import pytest
import requests

from chatclient import Chat, closed_with, unique_room

# /schat: the search allowance crossed by a test; images resized to 1000 px
HTTPD_EXTRA_CONF = """
<LocationMatch "^/schat/[^/]+$">
    SetHandler chat
    ChatIdentity query
    ChatRateLimit 0
    ChatMessageBudget 0
    ChatSearchRate 3
    ChatImageMaxDimension 1000
    ChatImageQuality 0.6
</LocationMatch>
<LocationMatch "^/scan/[^/]+$">
    SetHandler chat
    ChatIdentity query
    ChatRateLimit 0
    ChatMessageBudget 0
    ChatSearchScan 100
</LocationMatch>
"""


@pytest.fixture
def room(redis_server):
    name = unique_room()
    redis_server.client().sadd(f"chat:room:{name}:members", "alice", "bob", "carol")
    return name


def seq_of(redis_server, room):
    return int(redis_server.client().hget(f"chat:room:{room}:meta", "seq") or 0)


def test_reply_stores_the_servers_excerpt(httpd, room):
    a, b = Chat(httpd.port, room, "alice"), Chat(httpd.port, room, "bob")
    long = "ünïcode " * 30  # 240 characters, multi-byte
    a.say(long)
    orig = b.expect("chat")
    a.expect("chat")
    # the client's own "reply" is ignored: author and excerpt come from storage
    b.send("chat", type="text", text="answer", replyTo=orig["id"],
           reply={"id": orig["id"], "username": "mallory", "excerpt": "forged"})
    got = a.expect("chat")
    assert got["reply"] == {"id": orig["id"], "username": "alice",
                            "excerpt": long[:140] + "\u2026"}
    assert got["text"] == "answer"
    # stored: the history page has it too
    a.send("history", beforeSeq=0, limit=5)
    stored = a.expect("history")["messages"][-1]
    assert stored["id"] == got["id"] and stored["reply"] == got["reply"]
    a.close()
    b.close()


def test_reply_to_an_image_and_by_number(httpd, room):
    a = Chat(httpd.port, room, "alice")
    a.send("chat", type="image", imageUrl="/chat/files/0123456789abcdef.png", caption="")
    img = a.expect("chat")
    a.send("chat", type="text", text="nice picture", replyTo=int(img["id"]))
    assert a.expect("chat")["reply"] == {"id": img["id"], "username": "alice",
                                         "excerpt": "image"}
    a.send("chat", type="image", imageUrl="/chat/files/0123456789abcdef.png",
           caption="the caption")
    img = a.expect("chat")
    a.send("chat", type="audio", audioUrl="/chat/files/0123456789abcdef.webm",
           replyTo=img["id"])
    got = a.expect("chat")
    assert got["type"] == "audio" and got["reply"]["excerpt"] == "the caption"
    a.close()


def test_reply_to_unknown_or_deleted_message_is_not_found(httpd, redis_server, room):
    a = Chat(httpd.port, room, "alice")
    a.say("to be deleted")
    gone = a.expect("chat")
    a.send("delete", messageId=gone["id"])
    assert a.expect("delete")["messageId"] == gone["id"]
    a.say("kept")
    kept = a.expect("chat")
    before = seq_of(redis_server, room)
    for payload in ({"replyTo": gone["id"]}, {"replyTo": "999999"},
                    # the seq locates the original; its id must match
                    {"replyTo": gone["id"], "replySeq": kept["seq"]}):
        a.send("chat", type="text", text="reply", **payload)
        err = a.expect("error")
        assert err["code"] == "not_found", err
    assert seq_of(redis_server, room) == before  # nothing stored
    a.quiet(0.3)
    a.close()


def test_reply_to_an_ai_answer_found_by_its_seq(httpd, redis_server, room):
    """An AI answer keeps its placeholder's id under a later seq (as
    chat_lua_replace stores it): replySeq finds it; the id alone does not."""
    a = Chat(httpd.port, room, "alice")
    a.say("thinking...")
    placeholder = a.expect("chat")
    r = redis_server.client()
    seq = r.hincrby(f"chat:room:{room}:meta", "seq", 1)
    answer = {"id": placeholder["id"], "seq": seq, "username": "gemini", "timestamp": 1,
              "type": "text", "text": "the answer", "bot": True}
    stored = json.dumps(answer, separators=(",", ":"))  # as the server writes it
    r.xadd(f"chat:room:{room}:log", {"u": "\x01bot", "m": stored}, id=f"{seq}-0")
    r.xdel(f"chat:room:{room}:log", f"{placeholder['id']}-0")
    a.send("chat", type="text", text="thanks", replyTo=placeholder["id"])
    assert a.expect("error")["code"] == "not_found"
    a.send("chat", type="text", text="thanks", replyTo=placeholder["id"], replySeq=seq)
    assert a.expect("chat")["reply"] == {"id": placeholder["id"], "username": "gemini",
                                         "excerpt": "the answer"}
    a.close()


@pytest.mark.parametrize("bad", ["abc", "-1", "1" * 20, "", "12 ", True, 0, -5])
def test_reply_id_syntax_refused(httpd, redis_server, room, bad):
    a = Chat(httpd.port, room, "alice")
    before = seq_of(redis_server, room)
    a.send("chat", type="text", text="reply", replyTo=bad)
    err = a.expect("error")
    # a number <= 0 or a non-string is no id at all: refused the same way
    assert err["code"] == "invalid", err
    assert seq_of(redis_server, room) == before
    a.close()


def post_many(chat, texts):
    for t in texts:
        chat.say(t)
    return chat.chats(len(texts), timeout=30)


def test_search_finds_a_word_500_messages_back_in_order(httpd, room):
    a = Chat(httpd.port, room, "alice")
    texts = ["the Zebra crossing"] + [f"filler {i}" for i in range(250)] + \
            ["second zebra"] + [f"filler b{i}" for i in range(249)] + ["ZEBRA again"]
    posted = post_many(a, texts)
    a.send("search", query="zebra")
    res = a.expect("search_results")
    # newest first, case folded, every match
    assert [m["text"] for m in res["messages"]] == ["ZEBRA again", "second zebra",
                                                    "the Zebra crossing"]
    assert [m["id"] for m in res["messages"]] == [posted[-1]["id"], posted[251]["id"],
                                                  posted[0]["id"]]
    assert res["hasMore"] is False
    # only the text is searched, not names or JSON keys
    a.send("search", query="username")
    assert a.expect("search_results")["messages"] == []
    a.close()


def test_search_beyond_ascii_and_json_escapes(httpd, room):
    """Queries JSON may escape (quotes, backslashes, slashes, non-ASCII) are
    matched against the decoded text, not the stored JSON."""
    a = Chat(httpd.port, room, "alice")
    texts = ["\u4ef7\u683c\u4e0a\u6da8\u4e86", 'they say "hi" there', r"C:\temp\x", "a/b path"]
    post_many(a, texts)
    for query, want in (("\u4e0a\u6da8", texts[0]), ('"hi"', texts[1]), ("\\temp", texts[2]),
                        ("a/b", texts[3])):
        a.send("search", query=query)
        assert [m["text"] for m in a.expect("search_results")["messages"]] == [want], query
    a.close()


def test_search_bounds(httpd, room):
    a = Chat(httpd.port, room, "alice")
    post_many(a, [f"match {i}" for i in range(30)])
    a.send("search", query="match", limit=5)
    res = a.expect("search_results")
    assert [m["text"] for m in res["messages"]] == [f"match {i}" for i in range(29, 24, -1)]
    assert res["hasMore"] is True
    for payload in ({"query": ""}, {"query": "   "}, {"query": "x" * 101}, {},
                    {"query": "match", "limit": 51}, {"query": "match", "limit": 0}):
        a.send("search", **payload)
        assert a.expect("error")["code"] == "invalid", payload
    a.send("search", query="\u00e9" * 100)  # 100 characters is allowed
    assert a.expect("search_results")["messages"] == []
    a.close()


def test_search_refused_for_non_members(httpd, redis_server, room):
    # a non-member never gets a socket to search on
    m = Chat(httpd.port, room, "mallory", expect_welcome=False)
    assert m.expect("auth_failed")
    assert closed_with(m)[0] == 1008
    # a member removed while connected is refused by the search itself
    c = Chat(httpd.port, room, "carol")
    c.say("secret plans")
    c.expect("chat")
    redis_server.client().srem(f"chat:room:{room}:members", "carol")
    c.send("search", query="secret")
    assert c.expect("error")["code"] == "forbidden"
    c.close()


def test_search_rate_limited_per_user(httpd, redis_server, room):
    # fresh names: the allowance is the user's across rooms and tests
    alice, bob = unique_room("a"), unique_room("b")
    redis_server.client().sadd(f"chat:room:{room}:members", alice, bob)
    a = Chat(httpd.port, room, alice, prefix="/schat")
    b = Chat(httpd.port, room, bob, prefix="/schat")
    a.say("findme")
    a.expect("chat")
    b.expect("chat")
    for _ in range(3):
        a.send("search", query="findme")
        assert len(a.expect("search_results")["messages"]) == 1
    a.send("search", query="findme")
    err = a.expect("error")
    assert err["code"] == "rate_limited" and "at most 3 a minute (ChatSearchRate)" in err["message"]
    # the allowance is the user's on any connection, not the socket's
    a2 = Chat(httpd.port, room, alice, prefix="/schat")
    a2.send("search", query="findme")
    assert a2.expect("error")["code"] == "rate_limited"
    # another user has their own
    b.send("search", query="findme")
    assert len(b.expect("search_results")["messages"]) == 1
    assert 0 < redis_server.client().pttl(f"chat:user:{alice}:searches") <= 60000
    for c in (a, a2, b):
        c.close()


def test_info_carries_the_image_settings(httpd, room):
    def info(prefix):
        r = requests.get(f"http://127.0.0.1:{httpd.port}/{prefix}/{room}?info&username=alice",
                         timeout=10)
        return json.loads(r.text)
    assert (info("chat")["imageMaxDimension"], info("chat")["imageQuality"]) == (2048, 0.85)
    assert (info("schat")["imageMaxDimension"], info("schat")["imageQuality"]) == (1000, 0.6)


@pytest.mark.parametrize("line,name", [
    ("ChatSearchRate -1", "ChatSearchRate"),
    ("ChatSearchRate many", "ChatSearchRate"),
    ("ChatImageMaxDimension 70000", "ChatImageMaxDimension"),
    ("ChatImageQuality 1.5", "ChatImageQuality"),
    ("ChatImageQuality 0.05", "ChatImageQuality"),
    ("ChatImageQuality high", "ChatImageQuality"),
])
def test_bad_directives_fail_configtest(httpd, line, name):
    httpd.assert_configtest_refuses(line, name)


def test_search_reads_at_most_chat_search_scan_messages(httpd, room):
    """ChatSearchScan bounds what one search reads: past it the answer says
    partial and older matches are not found; the default reads them."""
    a = Chat(httpd.port, room, "alice")
    post_many(a, ["needle far back"] + [f"hay {i}" for i in range(150)] + ["needle near"])
    s = Chat(httpd.port, room, "alice", prefix="/scan")
    s.send("search", query="needle")
    res = s.expect("search_results")
    assert [m["text"] for m in res["messages"]] == ["needle near"] and res["partial"] is True
    a.send("search", query="needle")
    res = a.expect("search_results")
    assert [m["text"] for m in res["messages"]] == ["needle near", "needle far back"]
    assert res["partial"] is False
    a.close()
    s.close()


def test_configtest_refuses_a_bad_search_scan(httpd):
    httpd.assert_configtest_refuses("ChatSearchScan 10", "ChatSearchScan")
