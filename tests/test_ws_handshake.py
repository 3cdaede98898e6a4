"""RFC 6455 opening handshake on chat-echo: every refusal happens before any
upgrade, with the status and headers a client can act on."""
import base64
import hashlib

import pytest

from wsclient import GUID, WS, HandshakeRefused, raw_http, upgrade_request


def refused(port, tls, **kw):
    with pytest.raises(HandshakeRefused) as e:
        WS.connect(port, tls=tls, **kw)
    return e.value


def test_accepts_and_computes_accept_key(port, tls):
    ws = WS.connect(port, tls=tls)
    assert ws.headers["upgrade"].lower() == "websocket"
    assert "upgrade" in ws.headers["connection"].lower()
    assert "sec-websocket-extensions" not in ws.headers
    assert "sec-websocket-protocol" not in ws.headers
    ws.close()


def test_rfc_example_key(httpd):
    # RFC 6455 section 1.3: this key must give this accept value
    req, _ = upgrade_request("/chat-echo", f"127.0.0.1:{httpd.port}",
                             key="dGhlIHNhbXBsZSBub25jZQ==")
    status, headers, _ = raw_http(httpd.port, req)
    assert status == 101
    assert headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert headers["sec-websocket-accept"] == base64.b64encode(
        hashlib.sha1(b"dGhlIHNhbXBsZSBub25jZQ==" + GUID).digest()).decode()


@pytest.mark.parametrize("upgrade,connection", [
    ("WebSocket", "Upgrade"),
    ("websocket", "keep-alive, Upgrade"),
    ("WEBSOCKET", "upgrade, keep-alive"),
    ("h2c, websocket", "Keep-Alive,UPGRADE"),
])
def test_tokens_any_case_and_order(port, tls, upgrade, connection):
    ws = WS.connect(port, tls=tls, headers={"Upgrade": upgrade, "Connection": connection})
    ws.send_text("ok")
    assert ws.recv_message() == (1, b"ok")
    ws.close()


def test_method_not_get_is_405(port, tls):
    req, _ = upgrade_request("/chat-echo", f"127.0.0.1:{port}", method="POST",
                             headers={"Content-Length": "0"})
    status, headers, _ = raw_http(port, req, tls=tls)
    assert status == 405
    allow = [m.strip() for m in headers.get("allow", "").split(",")]
    assert "GET" in allow and "POST" not in allow


def test_http10_is_400(port, tls):
    req, _ = upgrade_request("/chat-echo", f"127.0.0.1:{port}", version="HTTP/1.0")
    status, _, _ = raw_http(port, req, tls=tls)
    assert status == 400


@pytest.mark.parametrize("omit,headers", [
    (("Upgrade",), None),
    (("Connection",), None),
    ((), {"Upgrade": "h2c"}),
    ((), {"Connection": "keep-alive"}),
])
def test_missing_upgrade_tokens_is_426(port, tls, omit, headers):
    e = refused(port, tls, omit=omit, headers=headers)
    assert e.status == 426
    assert e.headers.get("upgrade", "").lower() == "websocket"


@pytest.mark.parametrize("version", ["8", "12", "14", None])
def test_wrong_version_is_426_with_supported_version(port, tls, version):
    if version is None:
        e = refused(port, tls, omit=("Sec-WebSocket-Version",))
    else:
        e = refused(port, tls, headers={"Sec-WebSocket-Version": version})
    assert e.status == 426
    assert e.headers.get("sec-websocket-version") == "13"


@pytest.mark.parametrize("key", ["", "short", "dGhlIHNhbXBsZSBub25jZQ", "!!!!!!!!!!!!!!!!!!!!!!==",
                                 base64.b64encode(b"x" * 15).decode(),
                                 base64.b64encode(b"x" * 17).decode()])
def test_bad_key_is_400(port, tls, key):
    e = refused(port, tls, headers={"Sec-WebSocket-Key": key})
    assert e.status == 400


def test_missing_key_is_400(port, tls):
    assert refused(port, tls, omit=("Sec-WebSocket-Key",)).status == 400


def test_origin_same_host_allowed_by_default(port, tls):
    scheme = "https" if tls else "http"
    ws = WS.connect(port, tls=tls, headers={"Origin": f"{scheme}://127.0.0.1:{port}"})
    ws.close()


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1"])
def test_foreign_origin_is_403_by_default(port, tls, origin):
    assert refused(port, tls, headers={"Origin": origin}).status == 403


def test_same_host_other_scheme_is_403_by_default(port, tls):
    # same origin means scheme, host and port: a plain-http page may not
    # open the https server's sockets, nor the other way round
    other = "http" if tls else "https"
    assert refused(port, tls, headers={"Origin": f"{other}://127.0.0.1:{port}"}).status == 403


def test_origin_allow_list(port, tls):
    for ok in ("https://allowed.example", "http://also.example:8080"):
        WS.connect(port, tls=tls, path="/chat-echo-origin", headers={"Origin": ok}).close()
    for bad in ("https://allowed.example:444", "http://other.example",
                f"http://127.0.0.1:{port}"):
        e = refused(port, tls, path="/chat-echo-origin", headers={"Origin": bad})
        assert e.status == 403


def test_no_origin_is_allowed(port, tls):
    WS.connect(port, tls=tls).close()


def test_plain_get_on_echo_is_426(port, tls):
    status, headers, _ = raw_http(
        port, f"GET /chat-echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        .encode(), tls=tls)
    assert status == 426
    assert headers.get("upgrade", "").lower() == "websocket"
