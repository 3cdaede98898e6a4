"""A TCP proxy between httpd and redis-server on loopback, for fault tests.

    p = RedisProxy(redis.port).start()   # then point ChatRedis at 127.0.0.1:p.port
    p.hold("subscriber"); ...; p.release()
    p.stop()

Connections are told apart by what the client sent: one that has sent
SUBSCRIBE or PSUBSCRIBE is a "subscriber", every other one a "command"
connection. kind=None in a control means every connection.

- hold(kind): from now on, bytes from Redis to the client on the connections
  of that kind open at the call are kept, not forwarded; the connections stay
  open and client->Redis bytes still flow. release() forwards what was kept.
  Kept bytes of a connection that closes meanwhile are dropped.
- delay_replies(kind, seconds): each chunk Redis sends to a connection of that
  kind (present or future, as classified when the chunk arrives) is forwarded
  `seconds` after it arrived; 0 turns it off. Order is kept.
- close_all(): closes both sides of every connection (a FIN, as a dying Redis).
- counters(kind): {"connections", "open", "to_redis", "to_client"} (bytes).
- sent(kind): every byte the clients of that kind sent to Redis, in order per
  connection (for asserting what went over the wire); sent_each(kind): the
  same, one bytes object per connection, in the order they were opened.
"""
import collections
import queue
import socket
import threading
import time

KINDS = ("command", "subscriber")


class _Conn:
    def __init__(self, proxy, client, server):
        self.proxy, self.client, self.server = proxy, client, server
        self.kind = "command"
        self.held = False
        self.kept = []
        self.up = bytearray()  # what the client sent
        self.out = queue.Queue()  # (due time, bytes) towards the client; None ends
        self.lock = threading.Lock()
        self.closed = False
        for target in (self._client_to_redis, self._redis_to_queue, self._queue_to_client):
            threading.Thread(target=target, daemon=True).start()

    def _client_to_redis(self):
        while (data := _recv(self.client)) is not None:
            with self.lock:
                self.up += data
                # "$9\r\nSUBSCRIBE\r\n" / "$10\r\nPSUBSCRIBE\r\n" in a RESP array
                became = (self.kind == "command"
                          and b"SUBSCRIBE\r\n" in self.up[-len(data) - 12:].upper())
            if became:
                self.proxy._reclassify(self)
            self.proxy._count(self, "to_redis", len(data))
            if not _send(self.server, data):
                break
        self.close()

    def _redis_to_queue(self):
        while (data := _recv(self.server)) is not None:
            self.out.put((time.monotonic() + self.proxy.delays.get(self.kind, 0), data))
        self.out.put(None)

    def _queue_to_client(self):
        while (item := self.out.get()) is not None:
            due, data = item
            time.sleep(max(0, due - time.monotonic()))
            with self.lock:
                if self.held:
                    self.kept.append(data)
                    continue
            self.proxy._count(self, "to_client", len(data))
            if not _send(self.client, data):
                break
        self.close()

    def release(self):
        with self.lock:
            data, self.kept, self.held = b"".join(self.kept), [], False
            if data and not self.closed:
                self.proxy._count(self, "to_client", len(data))
                _send(self.client, data)

    def close(self):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for s in (self.client, self.server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.proxy._count(self, "open", -1)


def _recv(sock):
    try:
        return sock.recv(65536) or None
    except OSError:
        return None


def _send(sock, data):
    try:
        sock.sendall(data)
        return True
    except OSError:
        return False


class RedisProxy:
    def __init__(self, redis_port):
        self.redis_port = redis_port
        self.delays = {}
        self.conns = []
        self.stats = {k: collections.Counter() for k in KINDS}
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]

    def start(self):
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # stopped
            try:
                server = socket.create_connection(("127.0.0.1", self.redis_port))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.stats["command"]["connections"] += 1
                self.stats["command"]["open"] += 1
                self.conns.append(_Conn(self, client, server))

    def _reclassify(self, conn):
        with self.lock:
            conn.kind = "subscriber"  # counted as a command connection until now
            for k in ("connections", "open"):
                self.stats["command"][k] -= 1
                self.stats["subscriber"][k] += 1

    def _count(self, conn, what, n):
        with self.lock:
            self.stats[conn.kind][what] += n

    def _matching(self, kind):
        with self.lock:
            return [c for c in self.conns if not c.closed and kind in (None, c.kind)]

    def hold(self, kind="subscriber"):
        """Keep Redis->client bytes of the open connections of kind; returns how many."""
        held = self._matching(kind)
        for c in held:
            with c.lock:
                c.held = True
        return len(held)

    def release(self):
        for c in self._matching(None):
            c.release()

    def delay_replies(self, kind, seconds):
        self.delays[kind] = seconds

    def close_all(self):
        for c in self._matching(None):
            c.close()

    def counters(self, kind):
        with self.lock:
            return dict(self.stats[kind])

    def sent_each(self, kind=None):
        """What each connection of kind sent to Redis, in the order they were opened."""
        with self.lock:
            conns = [c for c in self.conns if kind in (None, c.kind)]
        return [bytes(c.up) for c in conns]

    def sent(self, kind=None):
        return b"".join(self.sent_each(kind))

    def stop(self):
        self.listener.close()
        self.close_all()
