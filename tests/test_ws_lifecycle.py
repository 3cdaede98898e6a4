"""Socket lifetime: server pings, idle timeout, reqtimeout removed, graceful
restart and stop close with 1001, many sockets without a thread each, and
directives checked at configtest."""
import os
import re
import signal
import threading
import time

import pytest

from harness import MPM, Httpd, pid_alive, process_tree, wait_for
from wsclient import OP_PING, OP_PONG, OP_TEXT, SLOW, WS, Closed, raw_http

# mod_reqtimeout would cut any socket quiet for 2 s if it stayed in the chain
HTTPD_EXTRA_CONF = "RequestReadTimeout header=2-3,MinRate=500 body=2,MinRate=500"


def test_server_pings_and_answered_pings_keep_the_socket(port, tls):
    # ChatPingInterval 1, ChatIdleTimeout 3, RequestReadTimeout 2 on this
    # server: a client that only answers pings stays open for 5 s
    w = WS.connect(port, tls=tls, path="/chat-echo-idle")
    start = last = time.monotonic()
    pings = 0
    while time.monotonic() - start < 5:
        fin, op, payload = w.recv_frame(timeout=3)
        now = time.monotonic()
        assert op == OP_PING
        # each ping comes within the interval (1 s) plus scheduling slack
        assert now - last < 2.0 * SLOW, f"ping {pings} came {now - last:.2f} s after the last"
        last = now
        pings += 1
        w.send_frame(OP_PONG, payload)
    assert pings >= 4
    w.send_text("alive")
    assert w.recv_message() == (OP_TEXT, b"alive")
    w.close()


def test_idle_timeout_closes_with_1001(port, tls):
    w = WS.connect(port, tls=tls, path="/chat-echo-idle")
    start = time.monotonic()
    code, reason = w.expect_close(timeout=10)  # pings not answered
    assert code == 1001 and reason == "idle timeout"
    elapsed = time.monotonic() - start
    # ChatIdleTimeout 3: not before it, and not much after it (checks run on
    # the 1 s ping ticks)
    assert 2.5 <= elapsed < 6 * SLOW, f"closed after {elapsed:.2f} s"
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


# event: idle sockets live on the children's I/O threads, so far more than
# MaxRequestWorkers (150, stock Debian settings) stay open and answer.
# prefork holds one socket per process (MaxRequestWorkers 150): the same test
# runs with 20 sockets there, which shows echo and static GETs side by side but
# not the event-driven property. The count is chosen by CHAT_MPM, visible in
# the test id.
SOCKETS = 400 if MPM == "event" else 20


@pytest.mark.parametrize("n", [SOCKETS], ids=[f"{MPM}-{SOCKETS}-sockets"])
def test_more_sockets_than_workers_and_static_get_still_answers(httpd, n):
    socks = _open_many(httpd.port, False, n)
    t0 = time.monotonic()
    status, _, body = raw_http(httpd.port, b"GET /static.txt HTTP/1.1\r\nHost: x\r\n"
                                           b"Connection: close\r\n\r\n")
    elapsed = time.monotonic() - t0
    assert status == 200 and body == b"static file\n"
    assert elapsed < 1.0 * SLOW, f"static GET took {elapsed:.3f} s with {n} sockets open"
    # who holds the sockets: mod_status's worker count
    status, _, body = raw_http(httpd.port, b"GET /server-status?auto HTTP/1.1\r\nHost: x\r\n"
                                           b"Connection: close\r\n\r\n")
    busy = int(re.search(rb"BusyWorkers: (\d+)", body).group(1))
    if MPM == "event":
        # no worker thread per idle socket: only the status request's own
        assert busy <= 5, f"{busy} busy workers with {n} idle WebSockets"
    else:
        # prefork: one process per open WebSocket (the documented fallback)
        assert busy >= n, f"{busy} busy workers with {n} WebSockets"
    # every socket still answers, after the GET too
    for i, s in enumerate(socks):
        s.send_text(f"again{i}")
    for i, s in enumerate(socks):
        assert s.recv_message(timeout=10) == (OP_TEXT, f"again{i}".encode())
    for s in socks:
        s.close()


@pytest.fixture
def own_httpd(redis_server):
    h = Httpd(redis_server, name="lifecycle-own").start()
    yield h
    h.cleanup()


def _collect_closes(socks, timeout=15, reasons=None):
    codes = [None] * len(socks)

    def wait(i, s):
        try:
            codes[i], reason = s.expect_close(timeout=timeout)
        except (Closed, TimeoutError, OSError):
            codes[i], reason = 1006, None
        if reasons is not None:
            reasons[i] = reason
    threads = [threading.Thread(target=wait, args=(i, s)) for i, s in enumerate(socks)]
    for t in threads:
        t.start()
    return threads, codes


# Every 1001 a stopping or restarting server sends tells the client when to
# come back: a delay in [0, ChatReconnectSpread] (default 10 s), different
# per socket, so that a thousand clients do not reconnect in the same second.
HINT = re.compile(r"^server shutting down; retry-after-ms=(\d+)$")


def _hints(codes, reasons):
    delays = []
    for code, reason in zip(codes, reasons):
        if code == 1001:
            m = HINT.match(reason or "")
            assert m, f"1001 without a reconnect hint: {reason!r}"
            delays.append(int(m.group(1)))
    assert all(0 <= d <= 10000 for d in delays), delays
    # spread: random in [0, 10000] ms, so sockets do not share one delay
    assert len(delays) < 3 or len(set(delays)) > len(delays) // 2, delays
    return delays


def test_graceful_restart_closes_with_1001_then_serves(own_httpd):
    """Under the event MPM plain sockets move to the new generation (live
    hand-over, test_handover.py) and stay open; wss:// (state in mod_ssl)
    and every prefork socket get 1001 with a hint."""
    plain = [WS.connect(own_httpd.port) for _ in range(5)]
    tls = [WS.connect(own_httpd.tls_port, tls=True) for _ in range(3)]
    closing = tls if MPM == "event" else plain + tls
    reasons = [None] * len(closing)
    threads, codes = _collect_closes(closing, reasons=reasons)
    old = [p for p in process_tree(own_httpd.pid) if p != own_httpd.pid]
    own_httpd.graceful()
    for t in threads:
        t.join()
    assert codes == [1001] * len(closing)
    assert len(_hints(codes, reasons)) == len(closing)
    if MPM == "event":
        wait_for(lambda: not any(pid_alive(p) for p in old), 30, "the old generation to exit")
        for i, w in enumerate(plain):
            w.send_text(f"moved {i}")
            assert w.recv_message() == (OP_TEXT, f"moved {i}".encode())
            w.close()
    # the new generation serves WebSockets (plain and wss://) and static files
    for port, tls_ in ((own_httpd.port, False), (own_httpd.tls_port, True)):
        w = WS.connect(port, tls=tls_)
        w.send_text("new generation")
        assert w.recv_message() == (OP_TEXT, b"new generation")
        w.close()
    status, _, body = raw_http(own_httpd.port, b"GET /static.txt HTTP/1.1\r\nHost: x\r\n"
                                               b"Connection: close\r\n\r\n")
    assert status == 200 and body == b"static file\n"


# What a client sees when httpd stops (SIGTERM to the parent, apache2 -k stop).
# The contract is 1001 everywhere, with one documented exception
# (docs/ARCHITECTURE.md, "Restarts and stops"): under the event MPM a wss://
# socket is run by its worker thread (thread mode), and event closes worker
# sockets itself before modules hear of the stop, so the client sees the TCP
# close (1006). The test asserts the exact outcome per MPM and transport, so
# fixing the limitation (or breaking plain sockets) shows up here.
STOP_EXPECT = {
    ("event", "plain"): 1001,
    ("event", "tls"): 1006,  # documented limitation, see above
    ("prefork", "plain"): 1001,
    ("prefork", "tls"): 1001,
}


def test_stop_closes_with_1001(own_httpd):
    plain = [WS.connect(own_httpd.port) for _ in range(5)]
    tls = [WS.connect(own_httpd.tls_port, tls=True) for _ in range(2)]
    reasons = [None] * 7
    threads, codes = _collect_closes(plain + tls, reasons=reasons)
    own_httpd.stop()
    for t in threads:
        t.join()
    got = {"plain": codes[:5], "tls": codes[5:]}
    want = {"plain": [STOP_EXPECT[(MPM, "plain")]] * 5,
            "tls": [STOP_EXPECT[(MPM, "tls")]] * 2}
    assert got == want, f"MPM {MPM}"
    assert len(_hints(codes, reasons)) == codes.count(1001)


def test_graceful_stop_closes_with_1001_and_a_hint(own_httpd):
    """apache2 -k graceful-stop (SIGWINCH): every socket, plain and wss://,
    gets 1001 with its own reconnect delay."""
    socks = [WS.connect(own_httpd.port) for _ in range(5)] + \
            [WS.connect(own_httpd.tls_port, tls=True) for _ in range(2)]
    reasons = [None] * len(socks)
    threads, codes = _collect_closes(socks, reasons=reasons)
    os.kill(own_httpd.pid, signal.SIGWINCH)
    for t in threads:
        t.join()
    assert codes == [1001] * len(socks)
    assert len(_hints(codes, reasons)) == len(socks)
    wait_for(lambda: not pid_alive(own_httpd.pid), 30, "httpd to exit")
    own_httpd.pid = None


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
    ("ChatControlFrameRate fast", "ChatControlFrameRate"),
    ("ChatControlFrameRate 0 50", "ChatControlFrameRate"),
    ("ChatMessageBudget 10 0", "ChatMessageBudget"),
    ("ChatMessageBudget -5", "ChatMessageBudget"),
    ("ChatMaxSignalSize 100", "ChatMaxSignalSize"),
    ("ChatMediaAllow ftp://files.example/", "ChatMediaAllow"),
    ("ChatMediaAllow https://files.example/no-slash", "ChatMediaAllow"),
    ("ChatAdminSecretFile /nonexistent/secret", "ChatAdminSecretFile"),
    ("ChatHandover maybe", "ChatHandover"),
    ("ChatHandoverWait 0", "ChatHandoverWait"),
    ("ChatHandoverWait forever", "ChatHandoverWait"),
])
def test_configtest_names_the_bad_directive(httpd, line, name):
    httpd.assert_configtest_refuses(line, name)


def test_configtest_reads_secret_files(httpd, tmp_path):
    good, short = tmp_path / "good", tmp_path / "short"
    good.write_text("a-secret-of-enough-length\n")
    short.write_text("short\n")
    assert httpd.configtest(f"ChatTokenSecretFile {good}\nChatAdminSecretFile {good}")[0] == 0
    for d in ("ChatTokenSecretFile", "ChatAdminSecretFile"):
        rc, out = httpd.configtest(f"{d} {short}")
        assert rc != 0 and d in out and "16" in out


def test_configtest_accepts_good_values(httpd):
    rc, out = httpd.configtest("\n".join([
        "ChatMaxFrameSize 64K", "ChatMaxMessageSize 2M", "ChatSendQueueLimit 1G",
        "ChatPingInterval 0", "ChatIdleTimeout 600", "ChatCloseTimeout 10",
        "ChatAllowedOrigins * https://a.example", "ChatConnectionMode thread",
        "ChatRedis unix:/run/redis.sock", "ChatRedisDatabase 3", "ChatRedisAuth user pass",
        "ChatKeyPrefix desk:", "ChatHistorySize 50", "ChatMaxTextLength 100",
        "ChatRateLimit 2 4", "ChatPresenceTTL 30", "ChatUploadDir /tmp",
        "ChatUploadMaxSize 20M", "ChatUploadTypes image/png audio/webm", "ChatUploadURL /f",
        "ChatDebugLogSize 0", "ChatMaxConnectionsPerUser 0", "ChatAdminMaxBody 1M",
        "ChatControlFrameRate 5 20", "ChatMessageBudget 0", "ChatMaxSignalSize 64K"]))
    assert rc == 0, out
