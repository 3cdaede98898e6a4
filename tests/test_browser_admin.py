"""The admin page in headless Chromium (playwright-core, Debian's chromium):
sign in, activate a room, delete a message and see it vanish from a
connected chat page, read the debug log; the room view (sessions on two
servers, 7-day chart, live debug tail, clear log, remove all, axe-core, both
viewports, dark theme); token minting on scripts/demo.sh's own configuration.
Screenshots: test-artifacts/admin/."""
import os
import re
import signal
import subprocess

import pytest

from harness import ADMIN_SECRET, ROOT, Httpd, free_port

HTTPD_EXTRA_CONF = "ChatPresenceTTL 3"


def test_admin_page_end_to_end(httpd):
    artifacts = ROOT / "test-artifacts" / "admin"
    r = subprocess.run(["node", str(ROOT / "tests" / "browser" / "admin_page.mjs"),
                        str(httpd.port), ADMIN_SECRET, str(artifacts)],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "admin page: ok" in r.stdout
    for name in ("admin-room-activated.png", "admin-messages.png", "chat-after-delete.png",
                 "admin-debug-log.png"):
        assert (artifacts / name).stat().st_size > 1000


@pytest.fixture(scope="module")
def second(redis_server):
    """Another server on the same Redis (as two machines behind a balancer)."""
    h = Httpd(redis_server, name="second", extra_conf=HTTPD_EXTRA_CONF).start()
    yield h
    h.close()


def test_admin_room_view(httpd, second):
    """Sessions on two servers, the 7-day chart from real posts, the live
    debug tail (a join within 2 s), clear log, remove all members, axe-core,
    both viewport sizes and the dark theme."""
    artifacts = ROOT / "test-artifacts" / "admin"
    r = subprocess.run(["node", str(ROOT / "tests" / "browser" / "admin_view.mjs"),
                        str(httpd.port), str(second.port), ADMIN_SECRET, str(artifacts)],
                       capture_output=True, text=True, timeout=180)
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "admin view: ok" in r.stdout
    for name in ("admin-view-1440.png", "admin-view-tail.png", "admin-view-dark.png",
                 "admin-view-390.png", "admin-view-removed.png"):
        assert (artifacts / name).stat().st_size > 1000


@pytest.fixture
def demo():
    """scripts/demo.sh as the README runs it (its own config, Redis and
    httpd), on free ports, without rebuilding; stopped with SIGTERM."""
    env = dict(os.environ, CHAT_PORT=str(free_port()), CHAT_REDIS_PORT=str(free_port()),
               CHAT_ADMIN_SECRET=ADMIN_SECRET, CHAT_DEMO_SKIP_BUILD="1")
    p = subprocess.Popen(["bash", str(ROOT / "scripts" / "demo.sh")], env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = []
    try:
        for line in p.stdout:  # until the banner's last line (or the script ends)
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        out = "".join(lines)
        assert "Press Ctrl-C" in out, out
        yield int(env["CHAT_PORT"]), out
    finally:
        p.send_signal(signal.SIGTERM)
        rest, _ = p.communicate(timeout=60)
        assert "stopped: nothing left running" in rest, "".join(lines) + rest


def test_demo_mints_tokens(demo):
    port, banner = demo
    url = re.search(r"(http://127\.0\.0\.1:\d+/chat-token/lobby\?token=\S+)", banner)
    assert url, banner
    artifacts = ROOT / "test-artifacts" / "admin"
    r = subprocess.run(["node", str(ROOT / "tests" / "browser" / "admin_token.mjs"), str(port),
                        ADMIN_SECRET, str(artifacts), url.group(1)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "admin token: ok" in r.stdout
    for name in ("demo-token-minted.png", "demo-token-chat-bob.png", "demo-token-chat-alice.png"):
        assert (artifacts / name).stat().st_size > 1000
