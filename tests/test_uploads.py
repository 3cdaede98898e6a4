"""POST /chat/upload and the chat-files handler: limits, types checked
against magic bytes, generated names, concurrent and aborted uploads."""
import hashlib
import os
import socket
import threading
import urllib.parse

import pytest
import requests

from chatclient import unique_room
from harness import wait_for

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(2000)
PDF = b"%PDF-1.4\n" + b"x" * 500


@pytest.fixture
def room(redis_server):
    name = unique_room()
    redis_server.client().sadd(f"chat:room:{name}:members", "alice")
    return name


def upload(httpd, room, data, ctype, user="alice", filename=None, **kw):
    params = {"room": room}
    if user:
        params["username"] = user
    headers = {"Content-Type": ctype}
    if filename:
        headers["X-Filename"] = urllib.parse.quote(filename)
    return requests.post(f"http://127.0.0.1:{httpd.port}/chat/upload", params=params,
                         data=data, headers=headers, timeout=10, **kw)


def files(httpd):
    return sorted(os.listdir(httpd.upload_dir))


def test_image_round_trip(httpd, room):
    r = upload(httpd, room, PNG, "image/png", filename="chart 1.png")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["url"].startswith("/chat/files/") and body["url"].endswith(".png")
    assert body["filename"] == "chart 1.png" and body["size"] == len(PNG)
    got = requests.get(f"http://127.0.0.1:{httpd.port}{body['url']}", timeout=10)
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Disposition" not in got.headers


def test_non_media_is_served_as_attachment(httpd, room):
    body = upload(httpd, room, PDF, "application/pdf").json()
    got = requests.get(f"http://127.0.0.1:{httpd.port}{body['url']}", timeout=10)
    assert got.headers["Content-Type"] == "application/pdf"
    assert got.headers["Content-Disposition"].startswith("attachment")


@pytest.mark.parametrize("kwargs,status,code", [
    ({"user": "mallory"}, 403, "forbidden"),
    ({"user": None}, 400, "unauthorized"),
    ({"ctype": "application/x-msdownload"}, 415, "unsupported_type"),
    ({"ctype": "image/png", "data": b"GIF89a not a png"}, 415, "content_mismatch"),
    ({"ctype": "image/jpeg", "data": PNG}, 415, "content_mismatch"),
    ({"ctype": "text/plain", "data": b"abc\x00def"}, 415, "content_mismatch"),
    ({"ctype": "text/plain", "data": b"\xff\xfe bad utf8"}, 415, "content_mismatch"),
    ({"ctype": "image/png", "data": b""}, 415, "content_mismatch"),
    ({"data": b"\x89PNG\r\n\x1a\n" + b"0" * (256 * 1024)}, 413, "too_large"),
])
def test_refusals(httpd, room, kwargs, status, code):
    before = files(httpd)
    data = kwargs.pop("data", PNG)
    ctype = kwargs.pop("ctype", "image/png")
    r = upload(httpd, room, data, ctype, **kwargs)
    assert r.status_code == status, r.text
    assert r.json()["code"] == code
    assert files(httpd) == before  # nothing stored, nothing partial


def test_too_large_without_content_length(httpd, room):
    def chunks():
        yield b"\x89PNG\r\n\x1a\n"
        for _ in range(40):
            yield b"0" * 8192
    r = upload(httpd, room, chunks(), "image/png")
    assert r.status_code == 413
    assert not [f for f in files(httpd) if f.startswith(".upload")]


def test_bad_room_is_400(httpd):
    r = upload(httpd, "../etc", PNG, "image/png")
    assert r.status_code == 400 and r.json()["code"] == "invalid_room"


def test_client_names_never_reach_the_file_system(httpd, room):
    r = upload(httpd, room, PNG, "image/png", filename="../../../../tmp/evil.sh")
    assert r.status_code == 201
    name = r.json()["url"].rsplit("/", 1)[1]
    assert name in files(httpd) and "evil" not in name
    assert not os.path.exists("/tmp/evil.sh")
    for bad in ("../../etc/passwd", "..%2f..%2fetc%2fpasswd", "0123456789abcdef.sh",
                "0123456789abcdeg.png", "x.png"):
        got = requests.get(f"http://127.0.0.1:{httpd.port}/chat/files/{bad}", timeout=10)
        assert got.status_code in (400, 404)


def test_concurrent_uploads_all_intact(httpd, room):
    blobs = [b"\x89PNG\r\n\x1a\n" + os.urandom(50000 + i) for i in range(12)]
    results = [None] * len(blobs)

    def one(i):
        results[i] = upload(httpd, room, blobs[i], "image/png")
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(blobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for blob, r in zip(blobs, results):
        assert r.status_code == 201
        got = requests.get(f"http://127.0.0.1:{httpd.port}{r.json()['url']}", timeout=10)
        assert hashlib.sha256(got.content).digest() == hashlib.sha256(blob).digest()


def test_aborted_upload_leaves_nothing(httpd, room):
    before = files(httpd)
    s = socket.create_connection(("127.0.0.1", httpd.port))
    s.sendall((f"POST /chat/upload?room={room}&username=alice HTTP/1.1\r\nHost: x\r\n"
               "Content-Type: image/png\r\nContent-Length: 100000\r\n\r\n").encode()
              + b"\x89PNG\r\n\x1a\n" + b"0" * 20000)
    # the temporary file exists while the body is coming
    wait_for(lambda: any(f.startswith(".upload") for f in files(httpd)), 10, "the temp file")
    s.close()
    wait_for(lambda: files(httpd) == before, 30, "the partial upload to be removed")
