"""ChatThreadSockets: WebSockets that hold a worker thread (wss://, and every
socket under prefork) are capped per server so that ordinary requests keep
their share of MaxRequestWorkers; over the cap an upgrade gets 503 with
Retry-After before any upgrade. The count shows in /server-status and the
admin stats. Also: the startup warnings about MPM settings that retire chat
sockets, and configtest for the new directives."""
import re

import pytest
import requests

from harness import ADMIN_SECRET, MPM, Httpd, wait_for
from wsclient import OP_TEXT, WS, HandshakeRefused, raw_http

# the harness's stock MPM settings: MaxRequestWorkers 150 under both MPMs,
# and ChatThreadSocketsShare defaults to 50 %
CAP = 150 * 50 // 100
EXTRA = 5


def status_figures(port):
    status, _, body = raw_http(port, b"GET /server-status?auto HTTP/1.1\r\nHost: x\r\n"
                                     b"Connection: close\r\n\r\n")
    assert status == 200
    return (int(re.search(rb"ChatThreadSockets: (\d+)", body).group(1)),
            int(re.search(rb"ChatThreadSocketsCap: (\d+)", body).group(1)))


def static_get(port):
    status, _, body = raw_http(port, b"GET /static.txt HTTP/1.1\r\nHost: x\r\n"
                                     b"Connection: close\r\n\r\n", timeout=10)
    return status == 200 and body == b"static file\n"


def admin_thread_sockets(httpd):
    r = requests.get(httpd.url("/chat-admin/api/stats"),
                     headers={"Authorization": f"Bearer {ADMIN_SECRET}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["threadSockets"]


def test_wss_over_the_cap_gets_503_and_static_gets_still_answer(httpd):
    assert status_figures(httpd.port) == (0, CAP)
    held, refused, gets = [], [], []
    try:
        for i in range(CAP + EXTRA):
            try:
                held.append(WS.connect(httpd.tls_port, tls=True, timeout=20))
            except HandshakeRefused as e:
                refused.append((e.status, e.headers.get("retry-after")))
            if i % 5 == 0:  # ordinary requests keep answering while sockets pile up
                gets.append(static_get(httpd.port))
        assert len(held) == CAP, f"{len(held)} wss:// sockets got in, cap {CAP}"
        assert refused == [(503, "10")] * EXTRA
        assert all(gets) and len(gets) == (CAP + EXTRA + 4) // 5
        # at the cap: more GETs, a capacity probe over TLS says full, over
        # plain HTTP under event it does not (those sockets hold no thread)
        assert all(static_get(httpd.port) for _ in range(10))
        probe = raw_http(httpd.tls_port, b"GET /chat/lobby?capacity HTTP/1.1\r\nHost: x\r\n"
                                         b"Connection: close\r\n\r\n", tls=True)
        assert probe[0] == 503 and probe[1]["retry-after"] == "10"
        probe = raw_http(httpd.port, b"GET /chat/lobby?capacity HTTP/1.1\r\nHost: x\r\n"
                                     b"Connection: close\r\n\r\n")
        assert probe[0] == (204 if MPM == "event" else 503)
        assert status_figures(httpd.port) == (CAP, CAP)
        assert admin_thread_sockets(httpd) == {"open": CAP, "cap": CAP}
        assert f"ChatThreadSockets {CAP} reached" in httpd.log()
        # the sockets that got in work
        for i, w in enumerate(held):
            w.send_text(f"m{i}")
        for i, w in enumerate(held):
            assert w.recv_message(timeout=10) == (OP_TEXT, f"m{i}".encode())
    finally:
        for w in held:
            w.close()
    # the places come back when the sockets end
    wait_for(lambda: status_figures(httpd.port)[0] == 0, 20, "the count to drop to 0")
    w = WS.connect(httpd.tls_port, tls=True)
    w.send_text("again")
    assert w.recv_message() == (OP_TEXT, b"again")
    w.close()


def test_room_socket_refused_before_joining(redis_server):
    """The chat handler refuses over the cap too, before the member is made:
    ChatThreadSockets 0 refuses every thread-mode socket."""
    h = Httpd(redis_server, name="cap-zero",
              extra_conf="ChatThreadSockets 0\nChatThreadSocketsRetryAfter 3").start()
    try:
        with pytest.raises(HandshakeRefused) as e:
            WS.connect(h.tls_port, tls=True, path="/chat/capzero?username=alice")
        assert e.value.status == 503 and e.value.headers["retry-after"] == "3"
        assert "ChatThreadSockets 0 reached" in h.log()
    finally:
        h.cleanup()


@pytest.mark.parametrize("line,name", [
    ("ChatThreadSockets lots", "ChatThreadSockets"),
    ("ChatThreadSockets -1", "ChatThreadSockets"),
    ("ChatThreadSocketsShare 0", "ChatThreadSocketsShare"),
    ("ChatThreadSocketsShare 100", "ChatThreadSocketsShare"),
    ("ChatThreadSocketsRetryAfter 0", "ChatThreadSocketsRetryAfter"),
    ("ChatReconnectSpread soon", "ChatReconnectSpread"),
    ("ChatReconnectSpread 3601", "ChatReconnectSpread"),
    ("<VirtualHost 127.0.0.1:1>\nChatThreadSockets 5\n</VirtualHost>", "ChatThreadSockets"),
    ("<Location /x>\nChatReconnectSpread 5\n</Location>", "ChatReconnectSpread"),
])
def test_configtest_names_the_bad_directive(httpd, line, name):
    httpd.assert_configtest_refuses(line, name)


def test_configtest_accepts_good_values(httpd):
    rc, out = httpd.configtest("ChatThreadSockets auto\nChatThreadSockets 20\n"
                               "ChatThreadSocketsShare 30\nChatThreadSocketsRetryAfter 30\n"
                               "ChatReconnectSpread 0\nChatReconnectSpread 60")
    assert rc == 0, out


def test_startup_warns_about_mpm_settings_that_retire_sockets(redis_server):
    h = Httpd(redis_server, name="cap-warn",
              extra_conf="MaxConnectionsPerChild 1000\nChatThreadSockets 140").start()
    try:
        log = h.log()
        # once: httpd reads its config twice at startup
        assert log.count("ChatThreadSockets 140 leaves 10 of MaxRequestWorkers 150") == 1, log
        detached = MPM == "event"
        assert log.count("MaxConnectionsPerChild 1000: a child that reached it") == detached
        assert log.count("MaxSpareThreads 75 is below MaxRequestWorkers 150") == detached
        assert status_figures(h.port) == (0, 140)
    finally:
        h.cleanup()
