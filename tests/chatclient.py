"""A chat-protocol client over the raw WebSocket client, for room tests."""
import base64
import hashlib
import hmac
import json
import time
import uuid

from harness import TOKEN_SECRET

from wsclient import WS, Closed


class Chat:
    def __init__(self, port, room, user, tls=False, prefix="/chat", since=None, epoch=None,
                 query=None, expect_welcome=True):
        q = f"username={user}" if query is None else query
        if since is not None:
            q += f"&since={since}&epoch={epoch}"
        self.user = user
        self.partials = []  # ai_partial updates skipped by expect(), in order
        self.ws = WS.connect(port, tls=tls, path=f"{prefix}/{room}?{q}")
        self.welcome = self.expect("welcome") if expect_welcome else None

    def send(self, type_, **payload):
        self.ws.send_json({"type": type_, "payload": payload})

    def say(self, text):
        self.send("chat", type="text", text=text)

    def recv(self, timeout=5):
        return self.ws.recv_json(timeout)

    def expect(self, type_, timeout=5):
        """The next message of type_, skipping presence chatter."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self.recv(max(0.01, deadline - time.monotonic()))
            if msg["type"] == type_:
                return msg["payload"]
            if msg["type"] in ("user_join", "user_leave", "user_list_update"):
                continue
            if msg["type"] == "ai_partial":  # a streamed AI answer growing
                self.partials.append(msg["payload"])
                continue
            raise AssertionError(f"expected {type_}, got {msg}")

    def chats(self, n, timeout=10):
        """The next n chat messages (skipping presence)."""
        return [self.expect("chat", timeout) for _ in range(n)]

    def quiet(self, seconds=0.5):
        """Nothing but presence chatter arrives for a while."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                msg = self.recv(deadline - time.monotonic())
            except TimeoutError:
                return True
            assert msg["type"] in ("user_join", "user_leave", "user_list_update", "ai_partial"), msg
        return True

    def close(self):
        self.ws.close()


def token(user, exp, secret=TOKEN_SECRET):
    """A user token as the admin API mints it: base64url(JSON).base64url(HMAC)."""
    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    payload = b64(json.dumps({"u": user, "exp": exp}).encode())
    sig = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return payload + "." + b64(sig)


def unique_room(prefix="r"):
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def closed_with(chat, timeout=5):
    try:
        return chat.ws.expect_close(timeout)
    except Closed:
        return (1006, "")
