"""The chat page in headless Chromium: two users chat both ways, an XSS
corpus is rendered inert, an image reaches the other user with a viewer,
older history loads on scrolling up, and 390x844 and 1440x900 layouts do
not scroll sideways. Screenshots: test-artifacts/chat/."""
import json
import subprocess

from chatclient import Chat, unique_room
from harness import ADMIN_SECRET, ROOT, Httpd


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


def run_page(script, *args, timeout=180):
    r = subprocess.run(["node", str(ROOT / "tests" / "browser" / script), *map(str, args)],
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_voice_note_calls_and_room_ui(httpd, redis_server):
    room = unique_room()
    redis_server.client().sadd(f"chat:room:{room}:members", "alice", "bob", "carol")
    artifacts = ROOT / "test-artifacts" / "chat"
    out = run_page("chat_media.mjs", httpd.port, room, artifacts)
    assert "chat media: ok" in out
    assert (artifacts / "call-bob.png").stat().st_size > 1000


def test_server_restart_mid_chat(httpd, redis_server):
    """Both pages reconnect by themselves and show every message exactly
    once, including three posted through a second server while theirs was
    down."""
    room = unique_room()
    redis_server.client().sadd(f"chat:room:{room}:members", "alice", "bob", "carol")
    peer = Httpd(redis_server, name="restart-peer").start()
    node = subprocess.Popen(["node", str(ROOT / "tests" / "browser" / "chat_restart.mjs"),
                             str(httpd.port), room],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    out = []

    def until(word):
        for line in node.stdout:
            out.append(line)
            if line.strip() == word:
                return
        raise AssertionError("page script ended early: " + "".join(out))

    try:
        until("RESTART")
        httpd.stop()
        until("DOWN")
        posted = [f"while away {i}" for i in range(3)]
        carol = Chat(peer.port, room, "carol")
        for text in posted:
            carol.say(text)
        assert [m["text"] for m in carol.chats(3)] == posted
        carol.close()
        httpd.start()
        node.stdin.write(json.dumps(posted) + "\n")
        node.stdin.flush()
        out.append(node.stdout.read())
        assert node.wait(120) == 0, "".join(out)
        assert "chat restart: ok" in "".join(out)
    finally:
        if node.poll() is None:
            node.kill()
        if httpd.pid is None:
            httpd.start()
        peer.stop()
        peer.cleanup()


def test_ai_buttons_without_ai(httpd, redis_server):
    room = unique_room()
    redis_server.client().sadd(f"chat:room:{room}:members", "alice")
    out = run_page("chat_ai.mjs", httpd.port, room, "none", ROOT / "test-artifacts" / "chat")
    assert "chat ai: ok" in out


def test_restart_spreads_reconnects_by_the_servers_hints(redis_server):
    """Six pages on one room; a graceful restart sends each 1001 with its own
    retry-after-ms (ChatReconnectSpread 4): each page says it is waiting and comes
    back no sooner than its hint, in the hints' order. ChatHandover Off: with it
    the restart would move the sockets and nobody would reconnect; stop and
    graceful-stop send the same 1001 with a hint (test_ws_lifecycle.py)."""
    room = unique_room()
    users = [f"p{i}" for i in range(6)]
    redis_server.client().sadd(f"chat:room:{room}:members", *users)
    h = Httpd(redis_server, name="spread",
              extra_conf="ChatReconnectSpread 4\nChatHandover Off").start()
    node = subprocess.Popen(["node", str(ROOT / "tests" / "browser" / "chat_backoff.mjs"),
                             "restart", str(h.port), room, str(len(users))],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    out = []
    try:
        for line in node.stdout:
            out.append(line)
            if line.strip() == "RESTART":
                break
        else:
            raise AssertionError("page script ended early: " + "".join(out))
        h.graceful()
        node.stdin.write("go\n")
        node.stdin.flush()
        out.append(node.stdout.read())
        assert node.wait(120) == 0, "".join(out)
        assert "chat backoff: ok" in "".join(out)
    finally:
        if node.poll() is None:
            node.kill()
        h.cleanup()


def test_page_refused_at_capacity_says_so_and_retries_after(redis_server):
    """Thread mode with room for one socket: the second page is refused (503),
    learns why from ?capacity, shows "server full, retrying in N s" and gets
    in after Retry-After once the first page left."""
    room = unique_room()
    redis_server.client().sadd(f"chat:room:{room}:members", "alice", "bob")
    h = Httpd(redis_server, name="full",
              extra_conf="ChatConnectionMode thread\nChatThreadSockets 1\n"
                         "ChatThreadSocketsRetryAfter 2").start()
    try:
        out = run_page("chat_backoff.mjs", "full", h.port, room)
        assert "chat backoff: ok" in out
        assert "ChatThreadSockets 1 reached" in h.log()
    finally:
        h.cleanup()


def ai_httpd(redis_server, fake_ai, name):
    """An httpd whose deepseek provider (and Explain) is tests/fake_ai.py."""
    return Httpd(redis_server, name=name, extra_conf=(
        f"ChatAIProvider deepseek openai {fake_ai.openai_base}\nChatAIKey deepseek test-key\n"
        "ChatAIExplainProvider deepseek")).start()


def test_markdown_in_messages_and_ai_answers_and_xss_inert(redis_server, fake_ai):
    """marked + DOMPurify + highlight.js (htdocs/markdown.js): a message, an
    Explain answer and a bot answer render a GFM table, a nested list,
    headings, a quote and highlighted code; typed HTML, javascript:/data:
    links and foreign images stay inert, an image from this server loads.
    Screenshots: test-artifacts/chat/markdown-*.png."""
    room = unique_room()
    redis_server.client().sadd(f"chat:room:{room}:members", "alice", "bob")
    h = ai_httpd(redis_server, fake_ai, "markdown")
    try:
        out = run_page("chat_markdown.mjs", h.port, room, ROOT / "test-artifacts" / "chat", fake_ai.url)
        assert "chat markdown: ok" in out
    finally:
        h.cleanup()


def test_icons_keyboard_axe_and_layout(redis_server, fake_ai):
    """Every control's characters exist in the installed fonts (icons are
    inline SVG), Tab reaches every control, axe-core finds no serious or
    critical violation on the chat page or the call overlay, and nothing
    scrolls sideways at 390x844 and 1440x900. Screenshots:
    test-artifacts/chat/a11y-*.png."""
    room = unique_room()
    redis_server.client().sadd(f"chat:room:{room}:members", "alice", "bob")
    h = ai_httpd(redis_server, fake_ai, "a11y")  # with AI: the "send to" menu is shown and checked
    try:
        out = run_page("chat_a11y.mjs", h.port, room, ROOT / "test-artifacts" / "chat")
        assert "chat a11y: ok" in out
    finally:
        h.cleanup()


def test_replies_search_captions_and_resized_images(httpd, redis_server, tmp_path):
    """chat_conv.mjs: a reply 200 messages after its original jumps to it,
    search finds a word 500 messages back, a caption typed with an image is
    stored as its caption, and a 4000x3000 image is stored at
    ChatImageMaxDimension (2048) unless "Original" is ticked."""
    import io

    import requests
    from PIL import Image, ImageDraw

    room = unique_room()
    redis_server.client().sadd(f"chat:room:{room}:members", "alice", "bob", "carol")
    carol = Chat(httpd.port, room, "carol")
    carol.say("where the Quokka lives")
    found = carol.chats(1)[0]
    for i in range(300):
        carol.say(f"filler a{i}")
    carol.say("the original, two hundred back")
    msgs = carol.chats(301, timeout=30)
    original = msgs[-1]
    for i in range(199):
        carol.say(f"filler b{i}")
    carol.chats(199, timeout=30)
    bob = Chat(httpd.port, room, "bob")
    bob.send("chat", type="text", text="replying to the old one", replyTo=original["id"])
    assert bob.expect("chat")["reply"]["id"] == original["id"]
    bob.close()
    carol.close()

    im = Image.new("RGB", (4000, 3000), (30, 90, 160))
    draw = ImageDraw.Draw(im)
    for i in range(12):
        draw.rectangle([i * 300, i * 200, i * 300 + 600, i * 200 + 500], fill=(200, i * 20, 60))
    draw.ellipse([1500, 1000, 2800, 2400], fill=(250, 220, 40))
    big = tmp_path / "big.png"
    im.save(big, "PNG", optimize=True)

    artifacts = ROOT / "test-artifacts" / "chat"
    out = run_page("chat_conv.mjs", httpd.port, room, artifacts, original["id"], found["id"], big)
    assert "chat conv: ok" in out
    urls = dict(line.split(" ", 1) for line in out.splitlines()
                if line.startswith(("RESIZED ", "ORIGINAL ")))

    def stored(url):
        r = requests.get(f"http://127.0.0.1:{httpd.port}{url}", timeout=10)
        assert r.status_code == 200
        return Image.open(io.BytesIO(r.content))
    assert stored(urls["RESIZED"]).size == (2048, 1536)
    assert stored(urls["ORIGINAL"]).size == (4000, 3000)
    assert stored(urls["ORIGINAL"]).format == "PNG"
    # the caption is stored with the image, as its caption
    a = Chat(httpd.port, room, "alice")
    a.send("history", beforeSeq=0, limit=10)
    images = [m for m in a.expect("history")["messages"] if m["type"] == "image"]
    a.close()
    assert [m["imageUrl"] for m in images] == [urls["RESIZED"], urls["ORIGINAL"]]
    assert images[0]["caption"] == "a caption typed with the image"
    assert images[1].get("caption", "") == ""
    for name in ("conv-reply-jump.png", "conv-search-hits.png", "conv-search-jump.png",
                 "conv-replying-bob.png", "conv-image-caption.png"):
        assert (artifacts / name).stat().st_size > 1000
