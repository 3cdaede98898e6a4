"""A lean asyncio RFC 6455 client for holding many sockets in one process.

The websockets library reads each frame with its own awaits; a room of a
thousand members receives about n*n/2 presence frames while it fills, so
frames are parsed here from large reads instead. Used by
tests/test_tls_proxy.py and bench/proxy_capacity.py.
"""
import asyncio
import base64
import hashlib
import json
import struct

from wsclient import GUID, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, WS, HandshakeRefused, \
    upgrade_request


class AsyncWS:
    def __init__(self, reader, writer, rest):
        self.reader, self.writer = reader, writer
        self.buf = bytearray(rest)
        self.pos = 0
        self.close_code = None

    @classmethod
    async def connect(cls, host, port, path, ssl=None, local_addr=None, headers=None):
        """Opens the socket (TLS when ssl is a context) and completes the upgrade;
        HandshakeRefused carries any other status."""
        reader, writer = await asyncio.open_connection(
            host, port, ssl=ssl, server_hostname="localhost" if ssl else None,
            local_addr=local_addr, limit=1 << 20)
        req, key = upgrade_request(path, f"{host}:{port}", headers=headers)
        writer.write(req)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            raise
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {k.strip().lower(): v.strip()
                for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        if status != 101:
            writer.close()
            raise HandshakeRefused(status, hdrs, b"")
        expect = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        assert hdrs.get("sec-websocket-accept") == expect, hdrs
        return cls(reader, writer, b"")

    def send_text(self, text):
        self.writer.write(WS.frame(OP_TEXT, text))

    def send_json(self, obj):
        self.send_text(json.dumps(obj))

    async def recv_frame(self):
        """(opcode, payload) of the next server frame (unmasked, unfragmented:
        mod_chat sends every message in one frame)."""
        while True:
            frame = self._parse()
            if frame is not None:
                return frame
            chunk = await self.reader.read(1 << 16)
            if not chunk:
                raise ConnectionError("EOF before a whole frame")
            if self.pos:
                del self.buf[:self.pos]
                self.pos = 0
            self.buf += chunk

    def _parse(self):
        b, p = self.buf, self.pos
        if len(b) - p < 2:
            return None
        op, n = b[p] & 0x0F, b[p + 1] & 0x7F
        h = 2
        if n == 126:
            if len(b) - p < 4:
                return None
            n, h = struct.unpack_from("!H", b, p + 2)[0], 4
        elif n == 127:
            if len(b) - p < 10:
                return None
            n, h = struct.unpack_from("!Q", b, p + 2)[0], 10
        if len(b) - p < h + n:
            return None
        self.pos = p + h + n
        return op, bytes(b[p + h:p + h + n])

    async def recv_json(self):
        """The next text message as JSON; pings are answered, a close raises."""
        while True:
            op, payload = await self.recv_frame()
            if op == OP_TEXT:
                return json.loads(payload)
            if op == OP_PING:
                self.writer.write(WS.frame(OP_PONG, payload))
            elif op == OP_CLOSE:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                raise ConnectionError(f"closed by the server: {self.close_code}")

    async def expect(self, type_, match=None):
        """The next message of type_ (and payload for which match is true),
        skipping everything else (presence chatter)."""
        while True:
            msg = await self.recv_json()
            if msg.get("type") == type_ and (match is None or match(msg.get("payload", {}))):
                return msg.get("payload", {})

    async def close(self, code=1000):
        """Close handshake: our close, then the server's, then EOF."""
        try:
            self.writer.write(WS.frame(OP_CLOSE, struct.pack("!H", code)))
            while True:
                op, payload = await self.recv_frame()
                if op == OP_CLOSE:
                    self.close_code = struct.unpack("!H", payload[:2])[0] if payload else 1005
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            self.writer.close()
