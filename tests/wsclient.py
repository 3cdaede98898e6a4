"""A raw RFC 6455 client that can send anything, valid or not.

The websockets library refuses to send malformed frames; the conformance
tests need unmasked frames, reserved bits, bad UTF-8 and one-byte writes.
"""
import base64
import hashlib
import json
import os
import socket
import struct
import time

from harness import VALGRIND, client_tls_context

# under valgrind the server runs ~20x slower: stretch every wait
SLOW = 20 if VALGRIND else 1

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


class HandshakeRefused(Exception):
    def __init__(self, status, headers, body):
        super().__init__(f"handshake refused: {status}")
        self.status = status
        self.headers = headers
        self.body = body


class Closed(Exception):
    """The TCP connection ended."""


def read_head(sock):
    """Read an HTTP response head: (status, headers lower-cased, bytes after it)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise Closed("closed before the response head")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), headers, rest


def raw_http(port, request, tls=False, timeout=5):
    """Send raw request bytes; return (status, headers dict lower-cased, body).
    The body is framed by Content-Length, chunked encoding or the end of the
    connection, as the response says."""
    sock = _connect(port, tls, timeout)
    try:
        sock.sendall(request)
        status, headers, body = read_head(sock)
        if status < 200 or status in (204, 304) or request.startswith(b"HEAD "):
            return status, headers, body
        if "content-length" in headers:
            length = int(headers["content-length"])
            while len(body) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                body += chunk
            return status, headers, body
        while True:
            if "chunked" in headers.get("transfer-encoding", "").lower() \
                    and _dechunk(body) is not None:
                return status, headers, _dechunk(body)
            chunk = sock.recv(65536)
            if not chunk:
                return status, headers, body
            body += chunk
    finally:
        sock.close()


def _dechunk(data):
    """The decoded body if data holds a complete chunked body, else None."""
    out, pos = b"", 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(data[pos:eol].split(b";")[0], 16)
        if size == 0:
            return out if data.find(b"\r\n", eol + 2) >= 0 else None
        if len(data) < eol + 2 + size + 2:
            return None
        out += data[eol + 2:eol + 2 + size]
        pos = eol + 2 + size + 2


def _connect(port, tls, timeout):
    timeout *= SLOW
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if tls:
        sock = client_tls_context().wrap_socket(sock, server_hostname="localhost")
    return sock


def upgrade_request(path, host, key=None, headers=None, method="GET", version="HTTP/1.1",
                    omit=()):
    key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
    base = {"Host": host, "Upgrade": "websocket", "Connection": "Upgrade",
            "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13"}
    for h in omit:
        base.pop(h, None)
    if headers:
        base.update(headers)
    lines = [f"{method} {path} {version}"] + [f"{k}: {v}" for k, v in base.items() if v is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), key


class WS:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    @classmethod
    def connect(cls, port, path="/chat-echo", tls=False, headers=None, timeout=5, omit=()):
        sock = _connect(port, tls, timeout)
        req, key = upgrade_request(path, f"127.0.0.1:{port}", headers=headers, omit=omit)
        sock.sendall(req)
        status, hdrs, rest = read_head(sock)
        if status != 101:
            sock.close()
            raise HandshakeRefused(status, hdrs, rest)
        expect = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        assert hdrs.get("sec-websocket-accept") == expect, hdrs
        ws = cls(sock)
        ws.buf = rest
        ws.headers = hdrs
        return ws

    # -- sending --------------------------------------------------------
    @staticmethod
    def frame(opcode, payload=b"", fin=True, mask=True, rsv=0, length=None):
        if isinstance(payload, str):
            payload = payload.encode()
        n = len(payload) if length is None else length
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        mbit = 0x80 if mask else 0
        if n < 126:
            head = struct.pack("!BB", b0, mbit | n)
        elif n <= 0xFFFF:
            head = struct.pack("!BBH", b0, mbit | 126, n)
        else:
            head = struct.pack("!BBQ", b0, mbit | 127, n)
        if not mask:
            return head + payload
        key = os.urandom(4)
        masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if len(payload) < 4096 \
            else _xor(payload, key)
        return head + key + masked

    def send_raw(self, data, chunk=None):
        if chunk:
            for i in range(0, len(data), chunk):
                self.sock.sendall(data[i:i + chunk])
        else:
            self.sock.sendall(data)

    def send_frame(self, opcode, payload=b"", chunk=None, **kw):
        self.send_raw(self.frame(opcode, payload, **kw), chunk)

    def send_text(self, text):
        self.send_frame(OP_TEXT, text.encode())

    def send_json(self, obj):
        self.send_text(json.dumps(obj))

    def send_close(self, code=1000, reason=b""):
        payload = b"" if code is None else struct.pack("!H", code) + reason
        self.send_frame(OP_CLOSE, payload)

    # -- receiving --------------------------------------------------------
    def _need(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame in time")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                raise TimeoutError("no frame in time")
            except (ConnectionResetError, BrokenPipeError) as e:
                raise Closed(str(e))
            if not chunk:
                raise Closed("connection closed")
            self.buf += chunk

    def recv_frame(self, timeout=5):
        """(fin, opcode, payload) of the next frame from the server."""
        deadline = time.monotonic() + timeout * SLOW
        self._need(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        assert not (b1 & 0x80), "server frames must not be masked"
        n = b1 & 0x7F
        pos = 2
        if n == 126:
            self._need(4, deadline)
            n = struct.unpack("!H", self.buf[2:4])[0]
            pos = 4
        elif n == 127:
            self._need(10, deadline)
            n = struct.unpack("!Q", self.buf[2:10])[0]
            pos = 10
        self._need(pos + n, deadline)
        payload = self.buf[pos:pos + n]
        self.buf = self.buf[pos + n:]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def recv_message(self, timeout=5, answer_pings=True):
        """Next data message (opcode, payload), answering pings on the way."""
        deadline = time.monotonic() + timeout
        parts, op = [], None
        while True:
            fin, opcode, payload = self.recv_frame(max(0.01, deadline - time.monotonic()))
            if opcode == OP_PING:
                if answer_pings:
                    self.send_frame(OP_PONG, payload)
                continue
            if opcode == OP_PONG:
                continue
            if opcode == OP_CLOSE:
                raise AssertionError(f"unexpected close {parse_close(payload)}")
            if opcode != OP_CONT:
                op = opcode
            parts.append(payload)
            if fin:
                return op, b"".join(parts)

    def recv_json(self, timeout=5):
        op, payload = self.recv_message(timeout)
        assert op == OP_TEXT
        return json.loads(payload)

    def recv_type(self, wanted, timeout=5):
        """Skip messages until one of type wanted arrives; return its payload."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self.recv_json(max(0.01, deadline - time.monotonic()))
            if msg.get("type") == wanted:
                return msg["payload"]

    def expect_close(self, timeout=5):
        """Read until the server's close frame: returns (code, reason); then
        waits for the TCP close."""
        deadline = time.monotonic() + timeout
        while True:
            fin, opcode, payload = self.recv_frame(max(0.01, deadline - time.monotonic()))
            if opcode == OP_CLOSE:
                code, reason = parse_close(payload)
                break
        # the server closes TCP after its close frame (or after ours)
        try:
            self.send_close(code if code not in (None, 1005, 1006) else 1000)
        except OSError:
            pass
        try:
            while True:
                self.recv_frame(max(0.01, deadline + 5 - time.monotonic()))
        except Closed:
            pass
        return code, reason

    recv_close = expect_close

    def expect_eof(self, timeout=5):
        deadline = time.monotonic() + timeout
        try:
            while True:
                self.recv_frame(max(0.01, deadline - time.monotonic()))
        except Closed:
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def parse_close(payload):
    if len(payload) >= 2:
        return struct.unpack("!H", payload[:2])[0], payload[2:].decode("utf-8")
    return None, ""


def _xor(data, key):
    k = (key * (len(data) // 4 + 1))[:len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(len(data), "big")
