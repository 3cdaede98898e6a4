"""wss:// at scale: Debian's haproxy terminates TLS in front of httpd's plain
listener, running the shipped conf/haproxy.cfg and conf/chat-proxy.conf with
only ports, certificate, backend and proxy addresses, and the log path
replaced. Under the event MPM a thousand wss:// sockets then cost httpd no
worker thread; the client's own address (127.0.0.2, haproxy connects from
127.0.0.1) reaches httpd's log through X-Forwarded-For, and forged forwarding
headers are ignored from an untrusted peer and replaced by haproxy.

Under prefork each socket holds a process (MaxRequestWorkers 150), so the
same test runs with 20 sockets there and checks the opposite worker count.
"""
import asyncio
import re
import resource
import uuid

import pytest

from chatclient import unique_room
from harness import MPM, Httpd, client_tls_context, wait_for
from haproxy import Haproxy, httpd_snippet
from wsasync import AsyncWS
from wsclient import HandshakeRefused, raw_http

SOCKETS = 1000 if MPM == "event" else 20
CLIENT_ADDR = "127.0.0.2"  # the browser; haproxy reaches httpd from 127.0.0.1
FORGED_ADDR = "203.0.113.9"


@pytest.fixture(scope="module")
def proxied(redis_server):
    """(httpd, haproxy): httpd with conf/chat-proxy.conf, haproxy with conf/haproxy.cfg."""
    h = Httpd(redis_server, name="tls-proxy")
    h.reconfigure(f"""{httpd_snippet(h.dir / "logs" / "proxied.log")}
<LocationMatch "^/pchat/[^/]+$">
    # one user may hold every socket; no budgets (bulk test)
    SetHandler chat
    ChatIdentity query
    ChatMaxConnectionsPerUser 0
    ChatRateLimit 0
    ChatMessageBudget 0
</LocationMatch>
""")
    h.start()
    hp = Haproxy(h.port, h.dir)
    try:
        hp.start()
        # haproxy answers 503 until it has a server: wait for a page through it
        wait_for(lambda: raw_http(hp.port, b"GET /static.txt HTTP/1.1\r\nHost: localhost\r\n"
                                           b"Connection: close\r\n\r\n", tls=True)[0] == 200,
                 15, "a GET through haproxy")
        yield h, hp
    finally:
        hp.stop()
        h.close()


def access_log(h):
    """Lines of the proxied log format: (client %a, peer %{c}a, request line, status)."""
    path = h.dir / "logs" / "proxied.log"
    text = path.read_text() if path.exists() else ""
    return re.findall(r'^(\S+) (\S+) \S+ \S+ \[[^\]]+\] "([^"]*)" (\d+)', text, re.M)


def busy_workers(h):
    _, _, body = raw_http(h.port, b"GET /server-status?auto HTTP/1.1\r\nHost: x\r\n"
                                  b"Connection: close\r\n\r\n")
    return int(re.search(rb"BusyWorkers: (\d+)", body).group(1))


def raise_fd_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= need, "open-file limit too low"


async def open_all(hp, path, n, origin):
    ctx = client_tls_context()
    gate = asyncio.Semaphore(64)  # TLS handshakes in flight at once

    async def one():
        async with gate:
            ws = await AsyncWS.connect("127.0.0.1", hp.port, path, ssl=ctx,
                                       local_addr=(CLIENT_ADDR, 0),
                                       headers={"Origin": origin})
            await asyncio.wait_for(ws.expect("welcome"), 60)
            return ws
    return await asyncio.gather(*(one() for _ in range(n)))


def test_wss_sockets_through_haproxy_hold_no_worker_and_get_every_message(proxied, redis_server):
    h, hp = proxied
    raise_fd_limit(SOCKETS + 512)
    room = unique_room("p")
    redis_server.client().sadd(f"chat:room:{room}:members", "crowd", "speaker")
    path = f"/pchat/{room}?username=crowd"
    # the browser's page is https://: the same-origin check passes only
    # because httpd believes haproxy's X-Forwarded-Proto (ChatTrustedProxy)
    origin = f"https://127.0.0.1:{hp.port}"
    text = f"to all {uuid.uuid4().hex}"

    async def run():
        socks = await open_all(hp, path, SOCKETS, origin)
        # who holds the sockets: the status request's own worker only (event);
        # the minimum of three reads leaves out a health check that ran meanwhile
        busy = min(busy_workers(h) for _ in range(3))
        speaker = await AsyncWS.connect("127.0.0.1", hp.port, f"/pchat/{room}?username=speaker",
                                        ssl=client_tls_context(), local_addr=(CLIENT_ADDR, 0),
                                        headers={"Origin": origin})
        await asyncio.wait_for(speaker.expect("welcome"), 30)
        speaker.send_json({"type": "chat", "payload": {"type": "text", "text": text}})
        got = await asyncio.wait_for(asyncio.gather(
            *(s.expect("chat", lambda p: p.get("text") == text) for s in socks)), 120)
        await asyncio.gather(*(s.close() for s in socks + [speaker]))
        return busy, got, [s.close_code for s in socks]

    busy, got, codes = asyncio.run(run())
    if MPM == "event":
        assert busy == 1, f"{busy} busy workers with {SOCKETS} wss:// sockets through haproxy"
    else:
        assert busy >= SOCKETS, f"prefork: {busy} busy workers with {SOCKETS} sockets"
    assert len(got) == SOCKETS and all(p["username"] == "speaker" for p in got)
    assert codes == [1000] * SOCKETS
    # httpd logged the client's address (X-Forwarded-For), haproxy's as the peer
    def joins_logged():
        return [l for l in access_log(h) if l[2].startswith(f"GET /pchat/{room}?")]
    # a request is logged when it ends: under prefork as its child finishes the close
    wait_for(lambda: len(joins_logged()) >= SOCKETS + 1, 15, "every join in the access log")
    joins = joins_logged()
    assert len(joins) == SOCKETS + 1, f"{len(joins)} join lines in the access log"
    assert {(a, peer, status) for a, peer, _, status in joins} == {(CLIENT_ADDR, "127.0.0.1",
                                                                    "101")}


def test_haproxy_health_checks_reach_httpd(proxied):
    h, hp = proxied
    wait_for(lambda: [l for l in access_log(h) if l[2] == "HEAD /chat/client/index.html HTTP/1.1"
                      and l[0] == "127.0.0.1" and l[3] == "200"], 10,
             "haproxy's HEAD /chat/client/index.html in httpd's log")


def _upgrade(port, ssl, headers):
    async def go():
        ws = await AsyncWS.connect("127.0.0.1", port, "/chat-echo", ssl=ssl,
                                   local_addr=(CLIENT_ADDR, 0), headers=headers)
        ws.send_text("ping?")
        op, payload = await asyncio.wait_for(ws.recv_frame(), 10)
        await ws.close()
        return payload
    return asyncio.run(go())


def test_forged_forwarding_headers_from_an_untrusted_peer_are_ignored(proxied):
    h, hp = proxied
    forged = {"X-Forwarded-For": FORGED_ADDR, "X-Forwarded-Proto": "https"}
    # straight to httpd's plain listener from 127.0.0.2, not a trusted proxy:
    # the request stays http, so an https Origin is not the same origin
    with pytest.raises(HandshakeRefused) as refused:
        _upgrade(h.port, None, dict(forged, Origin=f"https://127.0.0.1:{h.port}"))
    assert refused.value.status == 403
    h.wait_log(f"Origin 'https://127.0.0.1:{h.port}' not allowed")
    # and the http Origin it really is passes
    assert _upgrade(h.port, None, dict(forged, Origin=f"http://127.0.0.1:{h.port}")) == b"ping?"
    def echoes_logged():
        return [l for l in access_log(h) if l[2].startswith("GET /chat-echo ")]
    # logged when the request ends: under prefork as its child finishes the close
    wait_for(lambda: echoes_logged() and echoes_logged()[-1][3] == "101", 15,
             "the accepted upgrade in the access log")
    echoes = echoes_logged()
    assert [(a, peer, status) for a, peer, _, status in echoes[-2:]] == \
        [(CLIENT_ADDR, CLIENT_ADDR, "403"), (CLIENT_ADDR, CLIENT_ADDR, "101")]


def test_haproxy_replaces_forwarding_headers_a_client_sends(proxied):
    h, hp = proxied
    forged = {"X-Forwarded-For": FORGED_ADDR, "X-Forwarded-Proto": "http",
              "Origin": f"https://127.0.0.1:{hp.port}"}
    assert _upgrade(hp.port, client_tls_context(), forged) == b"ping?"
    last = [l for l in access_log(h) if l[2].startswith("GET /chat-echo ")][-1]
    assert (last[0], last[1], last[3]) == (CLIENT_ADDR, "127.0.0.1", "101")
    # an http Origin through the TLS proxy is another origin
    with pytest.raises(HandshakeRefused) as refused:
        _upgrade(hp.port, client_tls_context(), dict(forged, Origin=f"http://127.0.0.1:{hp.port}"))
    assert refused.value.status == 403


@pytest.mark.parametrize("value", ["not-an-address", "10.0.0.0/99", "example.com"])
def test_chat_trusted_proxy_refuses_bad_input_at_configtest(proxied, value):
    h, _ = proxied
    h.assert_configtest_refuses(f"ChatTrustedProxy {value}", "ChatTrustedProxy")


def test_chat_trusted_proxy_is_server_wide_only(proxied):
    h, _ = proxied
    h.assert_configtest_refuses("<Location /x>\nChatTrustedProxy 10.0.0.1\n</Location>",
                                "ChatTrustedProxy")
    rc, out = h.configtest("ChatTrustedProxy 10.0.0.1 192.168.0.0/16 ::1 fd00::/8")
    assert rc == 0, out
