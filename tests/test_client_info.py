"""GET /chat/{room}?info: what the browser client learns before it connects
(identity mode, who the user is, STUN/TURN servers, limits), per location,
and ChatIceServer checked at configtest."""
import base64
import hashlib
import time

import pytest
import requests

from chatclient import token
from harness import ROOT

HTPASSWD = ROOT / "test-artifacts" / "client-info.htpasswd"


def setup_module():
    HTPASSWD.parent.mkdir(exist_ok=True)
    digest = base64.b64encode(hashlib.sha1(b"wonderland").digest()).decode()
    HTPASSWD.write_text(f"alice:{{SHA}}{digest}\n")


HTTPD_EXTRA_CONF = f"""
ChatIceServer stun:stun.example.net:3478
ChatIceServer turn:turn.example.net:3478?transport=udp desk s3cret
<LocationMatch "^/achat/[^/]+$">
    SetHandler chat
    AuthType Basic
    AuthName chat
    AuthBasicProvider file
    AuthUserFile {HTPASSWD}
    Require valid-user
</LocationMatch>
"""


def info(httpd, path, **kw):
    r = requests.get(httpd.url(path), timeout=5, **kw)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["Cache-Control"] == "no-store"
    return r.json()


def test_query_mode(httpd):
    j = info(httpd, "/chat/lobby?info")
    assert j["identity"] == "query" and j["username"] is None and j["room"] == "lobby"
    assert info(httpd, "/chat/lobby?info&username=alice")["username"] == "alice"
    # an invalid name is not echoed back as a user
    assert info(httpd, "/chat/lobby?info&username=%20alice")["username"] is None
    assert j["maxText"] == 4000 and j["maxUpload"] == 256 * 1024


def test_ice_servers_from_config(httpd):
    assert info(httpd, "/chat/lobby?info")["iceServers"] == [
        {"urls": "stun:stun.example.net:3478"},
        {"urls": "turn:turn.example.net:3478?transport=udp", "username": "desk",
         "credential": "s3cret"},
    ]


def test_token_mode(httpd):
    j = info(httpd, "/tchat/lobby?info&token=" + token("bob", int(time.time()) + 60))
    assert j["identity"] == "token" and j["username"] == "bob"
    assert info(httpd, "/tchat/lobby?info")["username"] is None
    expired = token("bob", int(time.time()) - 5)
    assert info(httpd, "/tchat/lobby?info&token=" + expired)["username"] is None
    # the cookie works like the query parameter
    good = token("carol", int(time.time()) + 60)
    assert info(httpd, "/tchat/lobby?info",
                headers={"Cookie": f"chat_token={good}"})["username"] == "carol"


def test_remote_user_mode(httpd):
    assert requests.get(httpd.url("/achat/lobby?info"), timeout=5).status_code == 401
    j = info(httpd, "/achat/lobby?info", auth=("alice", "wonderland"))
    assert j["identity"] == "remote-user" and j["username"] == "alice"
    # the page itself is served behind the same authentication
    r = requests.get(httpd.url("/achat/lobby"), auth=("alice", "wonderland"), timeout=5)
    assert r.status_code == 200 and "chat.js" in r.text


def test_info_is_get_only(httpd):
    assert requests.post(httpd.url("/chat/lobby?info"), timeout=5).status_code == 405


@pytest.mark.parametrize("line", [
    "ChatIceServer http://stun.example.net",
    "ChatIceServer turn:turn.example.net:3478",
    "ChatIceServer stun:x",
    "ChatIceServer stun:a.example user",
])
def test_configtest_rejects_bad_ice_server(httpd, line):
    httpd.assert_configtest_refuses(line, "ChatIceServer")
