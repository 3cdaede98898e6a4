"""The admin page in headless Chromium (playwright-core, Debian's chromium):
sign in, activate a room, delete a message and see it vanish from a
connected chat page, read the debug log. Screenshots: test-artifacts/."""
import subprocess

from harness import ADMIN_SECRET, ROOT

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
