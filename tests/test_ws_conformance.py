"""RFC 6455 framing against chat-echo, plain and wss://, under the MPM of
this run (CHAT_MPM): sizes, fragmentation, control frames, UTF-8, close
codes and limits."""
import os
import struct

import pytest

from wsclient import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, WS, Closed,
                      parse_close)


@pytest.fixture
def ws(port, tls):
    w = WS.connect(port, tls=tls)
    yield w
    w.close()


def small(port, tls):
    return WS.connect(port, tls=tls, path="/chat-echo-small")


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 1 << 20])
@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY])
def test_payload_sizes_echo_exactly(ws, size, opcode):
    payload = (b"abcdefghij" * (size // 10 + 1))[:size] if opcode == OP_TEXT else os.urandom(size)
    ws.send_frame(opcode, payload)
    assert ws.recv_message(timeout=20) == (opcode, payload)


def test_one_byte_writes(ws):
    payload = "héllo wörld ✓".encode()
    ws.send_frame(OP_TEXT, payload, chunk=1)
    assert ws.recv_message() == (OP_TEXT, payload)
    big = os.urandom(70000)
    ws.send_frame(OP_BINARY, big, chunk=7)
    assert ws.recv_message(timeout=20) == (OP_BINARY, big)


def test_many_messages_in_one_write(ws):
    data = b"".join(WS.frame(OP_TEXT, f"m{i}".encode()) for i in range(200))
    ws.send_raw(data)
    for i in range(200):
        assert ws.recv_message() == (OP_TEXT, f"m{i}".encode())


def test_fragmented_message_with_pings_inside(ws):
    ws.send_frame(OP_TEXT, b"Hel", fin=False)
    ws.send_frame(OP_PING, b"p1")
    ws.send_frame(OP_CONT, b"lo, ", fin=False)
    ws.send_frame(OP_PING, b"p2")
    ws.send_frame(OP_CONT, b"", fin=False)
    ws.send_frame(OP_CONT, b"world", fin=True)
    # the pongs come before the reassembled echo, in order
    assert ws.recv_frame() == (True, OP_PONG, b"p1")
    assert ws.recv_frame() == (True, OP_PONG, b"p2")
    assert ws.recv_frame() == (True, OP_TEXT, b"Hello, world")


def test_fragmented_binary(ws):
    parts = [os.urandom(n) for n in (1, 1000, 70000, 3)]
    ws.send_frame(OP_BINARY, parts[0], fin=False)
    for p in parts[1:-1]:
        ws.send_frame(OP_CONT, p, fin=False)
    ws.send_frame(OP_CONT, parts[-1], fin=True)
    assert ws.recv_message(timeout=20) == (OP_BINARY, b"".join(parts))


def test_ping_gets_pong_with_payload(ws):
    ws.send_frame(OP_PING, b"x" * 125)
    assert ws.recv_frame() == (True, OP_PONG, b"x" * 125)


def test_unsolicited_pong_is_ignored(ws):
    ws.send_frame(OP_PONG, b"hi")
    ws.send_text("after")
    assert ws.recv_message() == (OP_TEXT, b"after")


def test_valid_utf8_split_across_fragments(ws):
    text = "κόσμε€𝄞".encode()
    # split inside the 3-byte euro sign and the 4-byte clef
    ws.send_frame(OP_TEXT, text[:11], fin=False)
    ws.send_frame(OP_CONT, text[11:13], fin=False)
    ws.send_frame(OP_CONT, text[13:], fin=True)
    assert ws.recv_message() == (OP_TEXT, text)


def expect_close_code(ws, code):
    got, _ = ws.expect_close()
    assert got == code


@pytest.mark.parametrize("payload", [
    b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"ok\x80", b"\xe2\x82",
])
def test_invalid_utf8_in_one_frame_is_1007(ws, payload):
    ws.send_frame(OP_TEXT, payload)
    expect_close_code(ws, 1007)


def test_invalid_utf8_across_fragments_fails_before_the_end(ws):
    ws.send_frame(OP_TEXT, "ok κ".encode()[:-1], fin=False)  # ends inside κ
    ws.send_frame(OP_CONT, b"\x41", fin=False)  # not a continuation byte
    # refused without waiting for the final fragment
    expect_close_code(ws, 1007)


def test_text_ending_inside_a_sequence_is_1007(ws):
    ws.send_frame(OP_TEXT, b"a\xe2\x82", fin=False)
    ws.send_frame(OP_CONT, b"", fin=True)
    expect_close_code(ws, 1007)


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                                  3000, 3999, 4000, 4999])
def test_valid_close_codes_are_echoed(ws, code):
    ws.send_close(code, b"bye")
    fin, op, payload = ws.recv_frame()
    assert op == OP_CLOSE and parse_close(payload)[0] == code
    assert ws.expect_eof()


def test_close_without_code_is_answered_empty(ws):
    ws.send_close(None)
    fin, op, payload = ws.recv_frame()
    assert op == OP_CLOSE and payload == b""
    assert ws.expect_eof()


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999,
                                  5000, 65535])
def test_invalid_close_codes_are_1002(ws, code):
    ws.send_close(code)
    expect_close_code(ws, 1002)


def test_close_with_one_byte_payload_is_1002(ws):
    ws.send_frame(OP_CLOSE, b"\x03")
    expect_close_code(ws, 1002)


def test_close_reason_bad_utf8_is_1007(ws):
    ws.send_frame(OP_CLOSE, struct.pack("!H", 1000) + b"\xff\xfe")
    expect_close_code(ws, 1007)


def test_unmasked_frame_is_1002(ws):
    ws.send_frame(OP_TEXT, b"hi", mask=False)
    expect_close_code(ws, 1002)


@pytest.mark.parametrize("rsv", [1, 2, 4])
def test_reserved_bits_are_1002(ws, rsv):
    ws.send_frame(OP_TEXT, b"hi", rsv=rsv)
    expect_close_code(ws, 1002)


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 11, 12, 13, 14, 15])
def test_reserved_opcodes_are_1002(ws, opcode):
    ws.send_frame(opcode, b"")
    expect_close_code(ws, 1002)


def test_control_frame_over_125_is_1002(ws):
    ws.send_frame(OP_PING, b"x" * 126)
    expect_close_code(ws, 1002)


def test_fragmented_control_frame_is_1002(ws):
    ws.send_frame(OP_PING, b"x", fin=False)
    expect_close_code(ws, 1002)


def test_continuation_without_start_is_1002(ws):
    ws.send_frame(OP_CONT, b"x")
    expect_close_code(ws, 1002)


def test_new_message_inside_fragmented_one_is_1002(ws):
    ws.send_frame(OP_TEXT, b"a", fin=False)
    ws.send_frame(OP_TEXT, b"b")
    expect_close_code(ws, 1002)


def test_frame_over_limit_is_1009(port, tls):
    w = small(port, tls)
    w.send_frame(OP_BINARY, b"x" * 1024)
    assert w.recv_message() == (OP_BINARY, b"x" * 1024)
    # refused from the header alone: no payload needs to follow
    w.send_raw(WS.frame(OP_BINARY, b"", length=1025)[:8])
    expect_close_code(w, 1009)


def test_message_over_limit_is_1009(port, tls):
    w = small(port, tls)
    for _ in range(4):
        w.send_frame(OP_BINARY if _ == 0 else OP_CONT, b"y" * 1024, fin=False)
    w.send_frame(OP_CONT, b"z", fin=True)
    expect_close_code(w, 1009)


def test_huge_64bit_length_is_refused(ws):
    ws.send_raw(WS.frame(OP_BINARY, b"", length=1 << 62)[:14])
    expect_close_code(ws, 1009)


def test_64bit_length_with_top_bit_is_1002(ws):
    head = bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 1 << 63) + b"\0\0\0\0"
    ws.send_raw(head)
    expect_close_code(ws, 1002)


def test_peer_vanishing_mid_frame_is_harmless(port, tls):
    w = WS.connect(port, tls=tls)
    w.send_raw(WS.frame(OP_TEXT, b"x" * 1000)[:500])
    w.close()
    # the server keeps serving others
    w2 = WS.connect(port, tls=tls)
    w2.send_text("still here")
    assert w2.recv_message() == (OP_TEXT, b"still here")
    w2.close()


def test_data_after_close_is_not_echoed(ws):
    ws.send_raw(WS.frame(OP_CLOSE, struct.pack("!H", 1000)) + WS.frame(OP_TEXT, b"late"))
    fin, op, payload = ws.recv_frame()
    assert op == OP_CLOSE
    with pytest.raises(Closed):
        ws.recv_frame()


def test_frames_pipelined_with_the_handshake(port, tls):
    # bytes httpd read past the request head belong to the WebSocket
    from wsclient import _connect, upgrade_request
    sock = _connect(port, tls, 5)
    req, _ = upgrade_request("/chat-echo", f"127.0.0.1:{port}")
    frames = b"".join(WS.frame(OP_TEXT, f"early{i}".encode()) for i in range(3))
    sock.sendall(req + frames + WS.frame(OP_BINARY, b"z" * 30000))
    w = WS(sock)
    while b"\r\n\r\n" not in w.buf:
        w.buf += sock.recv(4096)
    head, _, w.buf = w.buf.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    for i in range(3):
        assert w.recv_message() == (OP_TEXT, f"early{i}".encode())
    assert w.recv_message() == (OP_BINARY, b"z" * 30000)
    w.close()


@pytest.mark.parametrize("split", [8000, 16384, 65536])
def test_large_message_right_after_handshake(port, tls, split):
    # the client sends at once; httpd may still hold part of it when the
    # socket changes hands
    payload = os.urandom(70000)
    for _ in range(5):
        w = WS.connect(port, tls=tls)
        f = WS.frame(OP_BINARY, payload)
        w.send_raw(f[:split])
        w.send_raw(f[split:])
        assert w.recv_message(timeout=10) == (OP_BINARY, payload)
        w.close()


def test_fragments_and_pings_written_one_byte_at_a_time(ws):
    frames = (WS.frame(OP_TEXT, "frag".encode(), fin=False) + WS.frame(OP_PING, b"in")
              + WS.frame(OP_CONT, " µ".encode(), fin=False) + WS.frame(OP_CONT, b"end"))
    ws.send_raw(frames, chunk=1)
    assert ws.recv_frame() == (True, OP_PONG, b"in")
    assert ws.recv_frame() == (True, OP_TEXT, "frag µend".encode())


def test_invalid_utf8_refused_before_the_frame_ends(ws):
    # a 1000-byte text frame whose 3rd byte is invalid: 1007 comes without the
    # other 997 bytes being sent
    frame = WS.frame(OP_TEXT, b"ab\xff" + b"c" * 997)
    ws.send_raw(frame[:6 + 2 + 3])  # 4-byte header (16-bit length) + mask + 3 bytes
    expect_close_code(ws, 1007)


def test_well_behaved_library_client(port, tls):
    # an independent implementation (python3-websockets) interoperates
    import asyncio

    import websockets

    from harness import client_tls_context

    async def run():
        url = f"{'wss' if tls else 'ws'}://127.0.0.1:{port}/chat-echo"
        async with websockets.connect(url, ssl=client_tls_context() if tls else None,
                                      compression=None, max_size=None) as c:
            await c.send("héllo")
            assert await c.recv() == "héllo"
            blob = os.urandom(200000)
            await c.send(blob)
            assert await c.recv() == blob
            pong = await c.ping(b"lib")
            await asyncio.wait_for(pong, 5)
            await c.close(1000, "done")
            assert c.close_code == 1000

    asyncio.run(asyncio.wait_for(run(), 20))


@pytest.mark.parametrize("endpoint", ["echo", "room"])
def test_first_frame_in_the_same_write_as_the_upgrade(port, tls, endpoint, redis_server):
    # bytes read past the request (here a whole frame) reach the session on
    # every path: detached (ws://), bridged from the request's thread (wss://
    # under event, where mod_ssl has already decrypted them, so the socket
    # never wakes for them) and on the request's thread (prefork). In a room
    # the frame comes before the join is done: it waits for the welcome and
    # is posted then.
    import json

    from chatclient import unique_room
    from wsclient import _connect, read_head, upgrade_request
    if endpoint == "echo":
        path, text = "/chat-echo", b"early bird"
    else:
        room = unique_room()
        redis_server.client().sadd(f"chat:room:{room}:members", "alice")
        path = f"/chat/{room}?username=alice"
        text = json.dumps({"type": "chat", "payload": {"type": "text", "text": "early bird"}})
    sock = _connect(port, tls, 5)
    req, _ = upgrade_request(path, f"127.0.0.1:{port}")
    sock.sendall(req + WS.frame(OP_TEXT, text))
    status, _, rest = read_head(sock)
    assert status == 101
    w = WS(sock)
    w.buf = rest
    if endpoint == "echo":
        assert w.recv_message() == (OP_TEXT, b"early bird")
    else:
        welcome = w.recv_json()
        assert welcome["type"] == "welcome" and welcome["payload"]["seq"] == 0, welcome
        msg = w.recv_json()
        while msg["type"] in ("user_join", "user_list_update"):
            msg = w.recv_json()
        assert msg["type"] == "chat", msg
        p = msg["payload"]
        assert (p["username"], p["text"], p["seq"]) == ("alice", "early bird", 1), p
    w.close()
