"""Socket lifetime: server pings, idle timeout, reqtimeout removed, graceful
restart and stop close with 1001, many sockets without a thread each, and
directives checked at configtest."""
import threading
import time

import pytest

from harness import MPM, Httpd, wait_for
from wsclient import OP_PING, OP_PONG, OP_TEXT, WS, Closed, raw_http

# mod_reqtimeout would cut any socket quiet for 2 s if it stayed in the chain
HTTPD_EXTRA_CONF = "RequestReadTimeout header=2-3,MinRate=500 body=2,MinRate=500"


def test_server_pings_and_answered_pings_keep_the_socket(port, tls):
    w = WS.connect(port, tls=tls, path="/chat-echo-idle")
    start = time.monotonic()
    pings = 0
    # ChatPingInterval 1, ChatIdleTimeout 3: answer pings for 5 s
    while time.monotonic() - start < 5:
        fin, op, payload = w.recv_frame(timeout=3)
        assert op == OP_PING
        pings += 1
        w.send_frame(OP_PONG, payload)
    assert pings >= 3
    w.send_text("alive")
    assert w.recv_message() == (OP_TEXT, b"alive")
    w.close()


def test_idle_timeout_closes_with_1001(port, tls):
    w = WS.connect(port, tls=tls, path="/chat-echo-idle")
    start = time.monotonic()
    code, reason = w.expect_close(timeout=10)  # pings not answered
    assert code == 1001 and reason == "idle timeout"
    assert 2.5 <= time.monotonic() - start  # not before ChatIdleTimeout
    w.close()


def test_reqtimeout_does_not_cut_a_quiet_socket(port, tls):
    # chat-echo pings every 30 s by default: nothing moves for 4 s, twice the
    # 2 s RequestReadTimeout of this server
    w = WS.connect(port, tls=tls)
    with pytest.raises(TimeoutError):
        w.recv_frame(timeout=4)
    w.send_text("still open")
    assert w.recv_message() == (OP_TEXT, b"still open")
    w.close()


def _open_many(port, tls, n):
    socks = [WS.connect(port, tls=tls, timeout=10) for _ in range(n)]
    for i, s in enumerate(socks):
        s.send_text(f"m{i}")
    for i, s in enumerate(socks):
        assert s.recv_message(timeout=10) == (OP_TEXT, f"m{i}".encode())
    return socks


def test_more_sockets_than_workers_and_static_get_still_answers(httpd):
    # event: idle sockets live on the children's I/O threads, so far more
    # than MaxRequestWorkers (150) stay open; prefork holds one per process
    n = 400 if MPM == "event" else 20
    socks = _open_many(httpd.port, False, n)
    status, _, body = raw_http(httpd.port, b"GET /static.txt HTTP/1.1\r\nHost: x\r\n"
                                           b"Connection: close\r\n\r\n")
    assert status == 200 and body == b"static file\n"
    # all still answer
    socks[0].send_text("first")
    socks[-1].send_text("last")
    assert socks[0].recv_message() == (OP_TEXT, b"first")
    assert socks[-1].recv_message() == (OP_TEXT, b"last")
    for s in socks:
        s.close()


@pytest.fixture
def own_httpd(redis_server):
    h = Httpd(redis_server, name="lifecycle-own").start()
    yield h
    h.cleanup()


def _collect_closes(socks, timeout=15):
    codes = [None] * len(socks)

    def wait(i, s):
        try:
            codes[i] = s.expect_close(timeout=timeout)[0]
        except (Closed, TimeoutError, OSError):
            codes[i] = 1006
    threads = [threading.Thread(target=wait, args=(i, s)) for i, s in enumerate(socks)]
    for t in threads:
        t.start()
    return threads, codes


def test_graceful_restart_closes_with_1001_then_serves(own_httpd):
    socks = [WS.connect(own_httpd.port) for _ in range(5)] + \
            [WS.connect(own_httpd.tls_port, tls=True) for _ in range(3)]
    threads, codes = _collect_closes(socks)
    own_httpd.graceful()
    for t in threads:
        t.join()
    assert codes == [1001] * len(socks)
    w = WS.connect(own_httpd.port)
    w.send_text("new generation")
    assert w.recv_message() == (OP_TEXT, b"new generation")
    w.close()


def test_stop_closes_with_1001(own_httpd):
    plain = [WS.connect(own_httpd.port) for _ in range(5)]
    tls = [WS.connect(own_httpd.tls_port, tls=True) for _ in range(2)]
    threads, codes = _collect_closes(plain + tls)
    own_httpd.stop()
    for t in threads:
        t.join()
    assert codes[:5] == [1001] * 5
    if MPM == "event":
        # event MPM closes worker-held (TLS) sockets itself before modules
        # hear of the stop (docs/ARCHITECTURE.md): the client sees the close
        assert all(c in (1001, 1006) for c in codes[5:])
    else:
        assert codes[5:] == [1001] * 2


@pytest.mark.parametrize("line,name", [
    ("ChatMaxFrameSize abc", "ChatMaxFrameSize"),
    ("ChatMaxFrameSize 10", "ChatMaxFrameSize"),
    ("ChatMaxMessageSize 2X", "ChatMaxMessageSize"),
    ("ChatSendQueueLimit 99999999999999999999", "ChatSendQueueLimit"),
    ("ChatPingInterval -1", "ChatPingInterval"),
    ("ChatIdleTimeout soon", "ChatIdleTimeout"),
    ("ChatCloseTimeout 0", "ChatCloseTimeout"),
    ("ChatAllowedOrigins ftp://x", "ChatAllowedOrigins"),
    ("ChatConnectionMode bogus", "ChatConnectionMode"),
    ("ChatRedis localhost:99999", "ChatRedis"),
    ("ChatRedis unix:relative.sock", "ChatRedis"),
    ("ChatRedisDatabase 16", "ChatRedisDatabase"),
    ("ChatRedisTimeout 0", "ChatRedisTimeout"),
    ("ChatKeyPrefix a*b", "ChatKeyPrefix"),
    ("ChatIdentity ldap", "ChatIdentity"),
    ("ChatTokenSecret short", "ChatTokenSecret"),
    ("ChatTokenSecretFile /nonexistent/secret", "ChatTokenSecretFile"),
    ("ChatHistorySize 0", "ChatHistorySize"),
    ("ChatMaxTextLength many", "ChatMaxTextLength"),
    ("ChatRateLimit 0 5", "ChatRateLimit"),
    ("ChatPresenceTTL 1", "ChatPresenceTTL"),
    ("ChatAdminSecret short", "ChatAdminSecret"),
    ("ChatAdminMaxBody 10", "ChatAdminMaxBody"),
    ("ChatUploadDir /nonexistent/dir", "ChatUploadDir"),
    ("ChatUploadMaxSize 0", "ChatUploadMaxSize"),
    ("ChatUploadTypes application/x-msdownload", "ChatUploadTypes"),
    ("ChatUploadURL files", "ChatUploadURL"),
    ("ChatDebugLogSize -1", "ChatDebugLogSize"),
    ("ChatMaxConnectionsPerUser lots", "ChatMaxConnectionsPerUser"),
    ("ChatAdminSecretFile /nonexistent/secret", "ChatAdminSecretFile"),
])
def test_configtest_names_the_bad_directive(httpd, line, name):
    rc, out = httpd.configtest(line)
    assert rc != 0
    assert name in out, out


def test_configtest_accepts_good_values(httpd):
    rc, out = httpd.configtest("\n".join([
        "ChatMaxFrameSize 64K", "ChatMaxMessageSize 2M", "ChatSendQueueLimit 1G",
        "ChatPingInterval 0", "ChatIdleTimeout 600", "ChatCloseTimeout 10",
        "ChatAllowedOrigins * https://a.example", "ChatConnectionMode thread",
        "ChatRedis unix:/run/redis.sock", "ChatRedisDatabase 3", "ChatRedisAuth user pass",
        "ChatKeyPrefix desk:", "ChatHistorySize 50", "ChatMaxTextLength 100",
        "ChatRateLimit 2 4", "ChatPresenceTTL 30", "ChatUploadDir /tmp",
        "ChatUploadMaxSize 20M", "ChatUploadTypes image/png audio/webm", "ChatUploadURL /f",
        "ChatDebugLogSize 0", "ChatMaxConnectionsPerUser 0", "ChatAdminMaxBody 1M"]))
    assert rc == 0, out
