"""The two modules' split (docs/ARCHITECTURE.md): mod_chat alone serves chat
and runs no scheduler, and refuses job directives, which belong to
mod_chat_admin; with mod_chat_admin loaded, every child runs one scheduler
thread (named chat-scheduler, visible in /proc/PID/task/*/comm)."""
import os

from chatclient import Chat, unique_room
from harness import Httpd, process_tree, wait_for


def thread_names(h):
    """{pid: [thread names]} of h's children (the parent runs no module threads)."""
    out = {}
    for pid in process_tree(h.pid)[1:]:
        names = []
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    names.append(f.read().strip())
        except OSError:
            continue  # a child that just exited
        out[pid] = names
    return out


def test_mod_chat_alone_serves_chat_without_a_scheduler(redis_server):
    h = Httpd(redis_server, name="chatonly", admin=False)
    try:
        # job directives are mod_chat_admin's: unknown without it
        rc, out = h.configtest('ChatJob tick "* * * * *" post lobby "hi"')
        assert rc != 0 and "ChatJob" in out, out
        h.start()
        room = unique_room("alone")
        redis_server.client().sadd(f"chat:room:{room}:members", "alice", "bob")
        a, b = Chat(h.port, room, "alice"), Chat(h.port, room, "bob")
        a.say("no admin module here")
        assert b.expect("chat")["text"] == "no admin module here"
        a.close()
        b.close()
        wait_for(lambda: thread_names(h), 10, "httpd children")
        names = thread_names(h)
        assert names and all("chat-scheduler" not in n for n in names.values()), names
    finally:
        h.close()


def test_mod_chat_admin_runs_one_scheduler_per_child(redis_server):
    h = Httpd(redis_server, name="withadmin")
    h.reconfigure('ChatJob never "0 0 1 1 *" post lobby "new year"')
    try:
        h.start()
        wait_for(lambda: thread_names(h) and all(
            n.count("chat-scheduler") == 1 for n in thread_names(h).values()), 10,
            "a scheduler thread in every child")
    finally:
        h.close()
