"""Redis Sentinel: a primary, a replica and three sentinels on loopback, two
httpd servers with ChatRedisSentinel; the primary is SIGKILLed while members
of several rooms post. Posts succeed again on both servers after the
promotion, every client resumes, and: with ChatRedisWaitReplicas no message
a client saw acknowledged is missing and no seq names two messages; without
it, messages the new primary lacks show as history_reset, never silently."""
import json
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest

from chatclient import Chat, unique_room
from harness import Httpd, RedisServer, free_port, wait_for
from wsclient import Closed

MASTER = "chatmaster"
ROOMS, PER_ROOM = 5, 10  # 50 clients
PROMOTION_BOUND = 15  # s from the promotion to posts working on both servers


class Sentinel:
    def __init__(self, primary_port):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="chat-sentinel-"))
        self.port = free_port()
        (self.dir / "sentinel.conf").write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {primary_port} 2\n"
            f"sentinel down-after-milliseconds {MASTER} 1000\n"
            f"sentinel failover-timeout {MASTER} 10000\n"
            f"sentinel parallel-syncs {MASTER} 1\n")
        self.proc = subprocess.Popen(
            ["redis-sentinel", str(self.dir / "sentinel.conf")],
            stdout=open(self.dir / "sentinel.log", "ab"), stderr=subprocess.STDOUT)

    def client(self):
        import redis
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True,
                           socket_timeout=2)

    def ready(self, replicas):
        try:
            c = self.client()
            return (len(c.execute_command("SENTINEL", "replicas", MASTER)) == replicas
                    and len(c.execute_command("SENTINEL", "sentinels", MASTER)) == 2)
        except Exception:
            return False

    def primary_port(self):
        try:
            addr = self.client().execute_command("SENTINEL", "get-master-addr-by-name", MASTER)
        except Exception:
            return None
        return int(addr[1]) if addr else None

    def cleanup(self):
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class SentinelHttpd(Httpd):
    """An httpd whose Redis is found through the sentinels, not ChatRedis."""

    def __init__(self, redis, sentinels, **kw):
        self.sentinel_line = f"ChatRedisSentinel {MASTER} " + " ".join(
            f"127.0.0.1:{s.port}" for s in sentinels)
        super().__init__(redis, **kw)

    def _write(self):
        super()._write()
        text = self.conf.read_text().replace(f"ChatRedis 127.0.0.1:{self.redis.port}\n",
                                             self.sentinel_line + "\n")
        self.conf.write_text(text)


# the ACL user httpd runs as needs ROLE and INFO besides the harness's rules
ACL_EXTRA = ["+role", "+info"]


def start_redis(replicas):
    primary = RedisServer(extra_args=ACL_EXTRA).start()
    more = [RedisServer(extra_args=ACL_EXTRA + ["--replicaof", "127.0.0.1", str(primary.port)])
            .start() for _ in range(replicas)]
    wait_for(lambda: all(r.client().info("replication").get("master_link_status") == "up"
                         for r in more), 15, "the replicas to sync")
    sentinels = [Sentinel(primary.port) for _ in range(3)]
    # every sentinel knows the replicas and the other sentinels before a failure
    wait_for(lambda: all(s.ready(replicas) for s in sentinels), 30,
             "the sentinels to see each other")
    return primary, more, sentinels


@pytest.fixture(params=[1])
def sentinel_setup(request):
    primary, more, sentinels = start_redis(request.param)
    servers = []

    def start(extra):
        conf = "ChatRedisTimeout 3\nChatRateLimit 0\nChatMessageBudget 0\nChatPresenceTTL 5\n" + extra
        for i in range(2):
            servers.append(SentinelHttpd(primary, sentinels, name=f"sentinel{i}",
                                         extra_conf=conf).start())
        return servers

    yield primary, more, sentinels, start
    for h in servers:
        h.cleanup()
    for s in sentinels:
        s.cleanup()
    for r in more:
        r.cleanup()
    primary.cleanup()


class Poster(threading.Thread):
    """One member posting in a loop: each text waits for its own broadcast
    (the acknowledgement) or an error; every chat event and history_reset is
    recorded. A closed socket reconnects with since/epoch."""

    def __init__(self, port, room, user):
        super().__init__(daemon=True)
        self.port, self.room, self.user = port, room, user
        self.chat = Chat(port, room, user)
        self.epoch = self.chat.welcome["epoch"]
        self.last_seq = self.chat.welcome["seq"]
        self.acked = []  # (time, epoch, seq, text)
        self.seen = []  # (epoch, seq, text)
        self.resets = []  # (time, epoch)
        self.errors = []
        self.failure = None
        self.timeouts = 0
        self.closes = []
        self.trace = []  # the last messages, for a failure's report
        self.stop = threading.Event()

    def handle(self, msg):
        self.trace.append((round(time.monotonic(), 1), msg))
        t, p = msg["type"], msg["payload"]
        if t == "chat":
            self.seen.append((self.epoch, p["seq"], p["text"]))
            self.last_seq = max(self.last_seq, p["seq"])
            return p
        if t == "history_reset":
            self.epoch, self.last_seq = p["epoch"], p["seq"]
            self.resets.append((time.monotonic(), p["epoch"]))
            for m in p["history"]:
                self.handle({"type": "chat", "payload": m})
        elif t == "welcome":
            self.epoch, self.last_seq = p["epoch"], p["seq"]
        elif t == "error":
            self.errors.append(p["code"] + ": " + p.get("message", ""))
        return None

    def reconnect(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.chat = Chat(self.port, self.room, self.user, since=self.last_seq,
                                 epoch=self.epoch, expect_welcome=False)
                return
            except Exception:
                self.stop.wait(0.2)  # pacing a refused reconnect, not synchronisation
        raise AssertionError(f"{self.user} could not reconnect")

    def run(self):
        k = 0
        try:
            while not self.stop.is_set():
                text = f"{self.user}-{k}"
                k += 1
                try:
                    self.chat.say(text)
                    deadline = time.monotonic() + 15
                    while time.monotonic() < deadline:
                        msg = self.chat.recv(timeout=deadline - time.monotonic())
                        p = self.handle(msg)
                        if p and p["username"] == self.user and p["text"] == text:
                            self.acked.append((time.monotonic(), self.epoch, p["seq"], text))
                            break
                        if msg["type"] == "error":
                            break
                    # pace the next post (or the retry while there is no
                    # primary) on the socket: about 4 posts a second per member
                    pause = time.monotonic() + 0.25
                    while time.monotonic() < pause:
                        try:
                            self.handle(self.chat.recv(timeout=pause - time.monotonic()))
                        except TimeoutError:
                            break
                except TimeoutError:  # an OSError too: before the next clause
                    self.timeouts += 1
                except (Closed, OSError) as e:
                    self.closes.append(repr(e))
                    self.reconnect()
        except Exception as e:  # reported by the test
            self.failure = e

    def finish(self):
        self.stop.set()
        self.join(30)
        try:
            self.chat.close()
        except Exception:
            pass


def wait_until(predicate, timeout, what, posters, servers, store=None):
    """wait_for; on failure, where each member stands and what httpd logged."""
    try:
        wait_for(predicate, timeout, what)
    except TimeoutError:
        now = time.monotonic()
        logs = [line for h in servers for line in h.log().splitlines()
                if "chat:" in line and "chat:debug" not in line and "MaxSpare" not in line]
        members = [(p.user, p.room[-4:], len(p.acked),
                    round(now - p.acked[-1][0], 1) if p.acked else None, p.errors[-2:],
                    p.timeouts, p.closes[:2], repr(p.failure)) for p in posters]
        raise AssertionError((what, members, stuck.user, stuck.room, stuck.trace[-16:], logs[-30:]))


def run_failover(primary, all_replicas, sentinels, servers, lose=False):
    """Members post on both servers; the primary is SIGKILLed (lose: after
    posts the replica never got); returns the posters, the rooms, when the
    primary died and the new primary."""
    replicas = {r.port for r in all_replicas}
    replica = all_replicas[0]
    rooms = [unique_room("ha") for _ in range(ROOMS)]
    r = primary.client()
    for room in rooms:
        r.sadd(f"chat:room:{room}:members", *[f"u{i}" for i in range(PER_ROOM)])
    posters = [Poster(servers[i % 2].port, room, f"u{i}")
               for room in rooms for i in range(PER_ROOM)]
    for p in posters:
        p.start()
    wait_until(lambda: all(len(p.acked) >= 3 for p in posters), 60, "posts before the failure",
               posters, servers)
    if lose:
        # the replica stops taking the stream; posts go on, acknowledged by the
        # primary alone; then the primary dies and the replica wakes up
        os.kill(replica.proc.pid, signal.SIGSTOP)
        r.execute_command("CLIENT", "KILL", "TYPE", "replica")
        marks = {p: len(p.acked) for p in posters}
        wait_for(lambda: all(len(p.acked) >= marks[p] + 2 for p in posters), 30,
                 "posts the replica does not have")
    old = primary.port
    os.kill(primary.proc.pid, signal.SIGKILL)
    primary.proc.wait()
    if lose:
        os.kill(replica.proc.pid, signal.SIGCONT)
    killed = time.monotonic()
    wait_for(lambda: all(s.primary_port() in replicas for s in sentinels)
             and len({s.primary_port() for s in sentinels}) == 1, 60,
             "the sentinels to promote a replica")
    promoted = time.monotonic()
    new = [r for r in all_replicas if r.port == sentinels[0].primary_port()][0]

    # within the bound every member's posts are acknowledged again, on both servers
    wait_until(lambda: all(any(a[0] > promoted for a in p.acked) for p in posters),
               PROMOTION_BOUND, "every member to post again after the promotion", posters, servers,
               new)
    for p in posters:
        p.finish()
        assert p.failure is None, (p.user, repr(p.failure))
    return posters, rooms, killed, new


def assert_no_seq_names_two_messages(posters):
    names = {}
    for p in posters:
        for epoch, seq, text in p.seen:
            key = (p.room, epoch, seq)
            assert names.setdefault(key, text) == text, (key, names[key], text)


# The topology, one replica: after the promotion the new primary has
# no replica, so posts wait for none and go on (docs/HA.md); with two, posts
# wait for both, then for the one the new primary has. N is every replica: with
# fewer, Sentinel may promote one that did not confirm (it picks by the
# replication offset it last read), which WAIT cannot rule out.
@pytest.mark.parametrize("sentinel_setup", [1, 2], indirect=True)
def test_failover_with_wait_replicas_loses_nothing(sentinel_setup):
    primary, replicas, sentinels, start = sentinel_setup
    servers = start(f"ChatRedisWaitReplicas {len(replicas)} 1000")
    posters, rooms, killed, new = run_failover(primary, replicas, sentinels, servers)
    assert_no_seq_names_two_messages(posters)
    r = new.client()
    for room in rooms:
        stored = {f[1]["m"] for f in r.xrange(f"chat:room:{room}:log")}
        texts = {json.loads(m)["text"] for m in stored}
        for p in posters:
            if p.room != room:
                continue
            # what any member saw acknowledged is still there
            for _, _, _, text in p.acked:
                assert text in texts, (room, text)
            for _, _, text in p.seen:
                assert text in texts, (room, text)
    # nothing was lost, so nobody was told to start over
    assert not any(p.resets for p in posters), [(p.user, p.resets) for p in posters if p.resets]


def test_failover_without_wait_shows_loss_as_history_reset(sentinel_setup):
    primary, replicas, sentinels, start = sentinel_setup
    servers = start("")
    posters, rooms, killed, new = run_failover(primary, replicas, sentinels, servers, lose=True)
    assert_no_seq_names_two_messages(posters)
    r = new.client()
    lost_rooms = 0
    for room in rooms:
        texts = {json.loads(f[1]["m"])["text"]
                 for f in r.xrange(f"chat:room:{room}:log")}
        members = [p for p in posters if p.room == room]
        lost = {text for p in members for _, _, _, text in p.acked if text not in texts}
        if not lost:
            continue
        lost_rooms += 1
        # every member that saw a lost message was told its history restarted
        for p in members:
            saw_lost = any(text in lost for _, _, text in p.seen)
            assert not saw_lost or any(t > killed for t, _ in p.resets), (room, p.user)
    assert lost_rooms == ROOMS, "the test did not make the new primary miss posts"


def test_configtest_refuses_sentinel_without_master_and_mix(sentinel_setup):
    primary, replicas, sentinels, start = sentinel_setup
    h = Httpd(primary, name="sentinelconf")
    try:
        h.assert_configtest_refuses("ChatRedisSentinel 127.0.0.1:26379 127.0.0.1:26380",
                                    "ChatRedisSentinel")
        h.assert_configtest_refuses("ChatRedisSentinel chatmaster", "ChatRedisSentinel")
        # the harness's config has ChatRedis: a sentinel line for the same server is ambiguous
        h.assert_configtest_refuses("ChatRedisSentinel chatmaster 127.0.0.1:26379",
                                    "ChatRedisSentinel")
        h.assert_configtest_refuses("ChatRedisWaitReplicas many", "ChatRedisWaitReplicas")
        h.assert_configtest_refuses("ChatRedisSentinelAuth \"\"", "ChatRedisSentinelAuth")
        s = SentinelHttpd(primary, sentinels, name="sentinelconf2")
        try:
            rc, out = s.configtest("ChatRedisSentinelAuth secret\nChatRedisWaitReplicas 1 500")
            assert rc == 0, out
            s.assert_configtest_refuses(f"ChatRedis 127.0.0.1:{primary.port}", "ChatRedis")
        finally:
            s.cleanup()
    finally:
        h.cleanup()


def test_wait_replicas_refuses_what_no_replica_confirmed(sentinel_setup):
    """ChatRedisWaitReplicas on both post paths (a member's, on the reactor, and
    the admin API's, blocking): acknowledged and broadcast once the replica
    has it; refused, taken back and never broadcast while it does not answer."""
    import requests
    from harness import ADMIN_SECRET
    primary, replicas, sentinels, start = sentinel_setup
    servers = start("ChatRedisWaitReplicas 1 500")
    room = unique_room("wr")
    primary.client().sadd(f"chat:room:{room}:members", "ann", "bob")
    ann, bob = Chat(servers[0].port, room, "ann"), Chat(servers[1].port, room, "bob")
    api = f"http://127.0.0.1:{servers[1].port}/chat-admin/api/rooms/{room}/messages"
    auth = {"Authorization": f"Bearer {ADMIN_SECRET}"}
    ann.say("confirmed")
    assert ann.expect("chat", 10)["text"] == "confirmed"
    assert bob.expect("chat", 10)["text"] == "confirmed"
    r = requests.post(api, json={"text": "admin confirmed"}, headers=auth, timeout=10)
    assert r.status_code == 201, r.text
    assert ann.expect("chat", 10)["text"] == "admin confirmed"
    os.kill(replicas[0].proc.pid, signal.SIGSTOP)  # the replica stops acknowledging
    try:
        ann.say("unconfirmed")
        err = ann.expect("error", 10)
        assert err["code"] == "unavailable" and "replicas" in err["message"], err
        r = requests.post(api, json={"text": "admin unconfirmed"}, headers=auth, timeout=10)
        assert r.status_code != 201, r.text
    finally:
        os.kill(replicas[0].proc.pid, signal.SIGCONT)
    ann.say("confirmed again")
    assert ann.expect("chat", 10)["text"] == "confirmed again"
    # bob saw exactly the confirmed ones, in order; the store has nothing else
    assert [m["text"] for m in bob.chats(2)] == ["admin confirmed", "confirmed again"]
    bob.quiet(0.5)
    texts = [json.loads(f[1]["m"])["text"] for f in
             primary.client().xrange(f"chat:room:{room}:log")]
    assert texts == ["confirmed", "admin confirmed", "confirmed again"]
    ann.close()
    bob.close()


def test_a_failover_in_a_jobs_minute_runs_it_exactly_once(sentinel_setup):
    """A minute's lock must reach the replica before its job runs. With the
    replica stopped the job waits (it posts nothing on the primary alone);
    the primary dies, the replica is promoted without the lock, and the job
    runs there: once, neither twice nor never. Two servers' schedulers, the
    clock shifted so the minute begins a few seconds after start."""
    primary, replicas, sentinels, start = sentinel_setup
    room = unique_room("hajob")
    primary.client().sadd(f"chat:room:{room}:members", "watcher")
    lead = 8
    now = time.time()
    offset = ((60 - lead) - now % 60) % 60
    minute = int((now + offset) // 60) + 1  # in scheduler time
    hh, mm = time.gmtime(minute * 60)[3:5]
    os.environ["CHAT_CLOCK_OFFSET"] = f"{offset:.3f}"
    try:
        servers = start(f'ChatJobTimeZone UTC\nChatJob hatick "{mm} {hh} * * *" post {room} '
                        f'"tick once"\n')
    finally:
        del os.environ["CHAT_CLOCK_OFFSET"]
    replica = replicas[0]
    os.kill(replica.proc.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: any("the minute's lock is not on the replicas yet" in h.log()
                             for h in servers), 60, "the job to wait for the replica")
        assert primary.client().xrange(f"chat:room:{room}:log") == []  # nothing ran yet
        os.kill(primary.proc.pid, signal.SIGKILL)
        primary.proc.wait()
    finally:
        os.kill(replica.proc.pid, signal.SIGCONT)
    wait_for(lambda: all(s.primary_port() == replica.port for s in sentinels), 60,
             "the sentinels to promote the replica")
    new = replica.client()
    log_key = f"chat:room:{room}:log"
    wait_for(lambda: new.xrange(log_key), 30, "the job's post on the new primary")
    assert new.get(f"chat:job:hatick:at:{minute}")  # the lock, now where it counts
    assert [json.loads(f[1]["m"])["text"] for f in new.xrange(log_key)] == ["tick once"]
    logs = "".join(h.log() for h in servers)
    assert logs.count(f"job hatick minute {minute}: starts") == 1, logs[-3000:]
    # a new watcher sees it once in the history too
    w = Chat(servers[1].port, room, "watcher")
    assert [m["text"] for m in w.welcome["history"]] == ["tick once"]
    w.close()
