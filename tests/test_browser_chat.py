"""The chat page in headless Chromium: two users chat both ways, an XSS
corpus is rendered inert, an image reaches the other user with a viewer,
older history loads on scrolling up, and 390x844 and 1440x900 layouts do
not scroll sideways. Screenshots: test-artifacts/chat/."""
import subprocess

from chatclient import unique_room
from harness import ADMIN_SECRET, ROOT


def test_chat_page_end_to_end(httpd, redis_server):
    room = unique_room()
    redis_server.client().sadd(f"chat:room:{room}:members", "alice", "bob")
    artifacts = ROOT / "test-artifacts" / "chat"
    r = subprocess.run(["node", str(ROOT / "tests" / "browser" / "chat_page.mjs"),
                        str(httpd.port), room, str(artifacts), ADMIN_SECRET],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "chat page: ok" in r.stdout
    for name in ("chat-alice.png", "chat-bob.png"):
        assert (artifacts / name).stat().st_size > 1000
