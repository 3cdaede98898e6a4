"""Scheduled jobs (issue 7) on two httpd servers sharing one Redis, each with
several children and so several scheduler threads. The scheduler's clock is
shifted (CHAT_CLOCK_OFFSET) so that the scheduled minute begins a few seconds
after start instead of up to a minute later. Asserted: one post per scheduled
minute across everything; an AI job whose process is killed mid-run is not run
again elsewhere; run-now from the admin API; chart and news jobs; history."""
import io
import json
import os
import signal
import subprocess
import time

import pytest
import requests
from PIL import Image, ImageChops

from chatclient import Chat, unique_room
from harness import ADMIN_SECRET, ROOT, Httpd, wait_for

LEAD = 4  # seconds from start to the scheduled minute


@pytest.fixture(scope="module")
def fake(fake_ai):
    return fake_ai


@pytest.fixture(scope="module")
def cluster(redis_server, fake):
    """Two servers, the same jobs, a clock LEAD seconds before minute M."""
    room = unique_room("job")
    now = time.time()
    offset = (60 - LEAD) - now % 60
    if offset < 0:
        offset += 60
    minute = int((now + offset) // 60) + 1  # the scheduled minute, in scheduler time
    hh, mm = time.gmtime(minute * 60)[3:5]
    redis_server.client().sadd(f"chat:room:{room}:members", "watcher")
    servers = [Httpd(redis_server, name=f"jobs{i}") for i in range(2)]
    news_port = servers[0].port
    conf = f"""
ChatAIProvider deepseek openai {fake.openai_base}
ChatAIKey deepseek test-key
ChatAIModel deepseek deepseek-chat
ChatAITimeout 30
ChatJobTimeZone UTC
ChatJob tick "{mm} {hh} * * *" post {room} "tick at the scheduled minute"
ChatJob slowai "{mm} {hh} * * *" ai deepseek {room} "早上好，今天市场怎么样？"
ChatJob hello "0 0 1 1 *" post {room} "hello from run-now"
ChatJob gold "0 0 1 1 *" chart {room} candle {fake.url}/market/history?code=au&days=20 \
"items=bars label=date y_unit=元/克" "黄金 au 日K线"
ChatJob digest "0 0 1 1 *" news {room} http://127.0.0.1:{news_port}/news.json \
"items=items id=guid title=headline url=link" "要闻"
"""
    os.environ["CHAT_CLOCK_OFFSET"] = f"{offset:.3f}"
    try:
        for h in servers:
            h.reconfigure(conf)
            h.start()
    finally:
        del os.environ["CHAT_CLOCK_OFFSET"]
    yield {"servers": servers, "room": room, "minute": minute, "offset": offset}
    for h in servers:
        h.stop()
        h.cleanup()


def logs(cluster):
    return "".join(h.log() for h in cluster["servers"])


def admin(h, method, path):
    return requests.request(method, h.url(f"/chat-admin/api{path}"), timeout=10,
                            headers={"Authorization": f"Bearer {ADMIN_SECRET}"})


def test_one_post_per_scheduled_minute_and_a_killed_run_is_not_repeated(cluster, fake,
                                                                        redis_server):
    fake.script([{"kind": "openai", "delay": 8, "text": "good morning from the AI"}])
    room, m = cluster["room"], cluster["minute"]
    w = Chat(cluster["servers"][0].port, room, "watcher")
    tick = w.expect("chat", timeout=LEAD + 30)
    assert tick["text"] == "tick at the scheduled minute" and tick["job"] == "tick"
    # every server evaluated minute m: one "starts", the rest "runs elsewhere"
    wait_for(lambda: all(f"job tick minute {m}:" in h.log() for h in cluster["servers"]), 10,
             "both servers to evaluate the minute")
    assert logs(cluster).count(f"job tick minute {m}: starts") == 1
    # the AI job is in flight on one process: kill that process
    fake.wait_for_requests(1, timeout=10, kind="openai")
    holder = redis_server.client().get(f"chat:job:slowai:at:{m}")
    pid = int(holder.rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)
    # the provider's answer comes to a dead socket; nobody runs the minute again
    fake.wait_for(lambda recs: all(r["done"] for r in recs), timeout=30)
    assert logs(cluster).count(f"job slowai minute {m}: starts") == 1
    assert len(fake.requests(kind="openai")) == 1
    # (the killed child may have held the watcher's socket: look with a new one)
    w.close()
    w = Chat(cluster["servers"][1].port, room, "watcher")
    assert [x["text"] for x in w.welcome["history"]] == ["tick at the scheduled minute"]
    runs = admin(cluster["servers"][1], "GET", "/jobs/tick").json()["runs"]
    assert len(runs) == 1 and runs[0]["outcome"] == "ok" and runs[0]["scheduled"] == m * 60000
    slow = admin(cluster["servers"][1], "GET", "/jobs/slowai").json()
    assert slow["runs"] == [] and slow["running"]["node"] == holder  # killed: never finished
    w.close()


def test_graceful_restart_does_not_rerun_the_minute(cluster):
    """A new generation of children evaluates the current minute again; the
    lock keeps it from posting twice."""
    m = cluster["minute"]
    h = cluster["servers"][0]
    before = h.log().count(f"job tick minute {m}: runs elsewhere")
    h.graceful()
    now_minute = int((time.time() + float(cluster["offset"])) // 60)
    if now_minute == m:  # still the scheduled minute: the new children must meet the lock
        wait_for(lambda: h.log().count(f"job tick minute {m}: runs elsewhere") > before, 10,
                 "the new generation to evaluate the minute")
    assert logs(cluster).count(f"job tick minute {m}: starts") == 1
    w = Chat(cluster["servers"][1].port, cluster["room"], "watcher")
    assert [x["text"] for x in w.welcome["history"]].count("tick at the scheduled minute") == 1
    w.close()


def test_run_now_and_the_job_list(cluster):
    h = cluster["servers"][1]
    w = Chat(cluster["servers"][0].port, cluster["room"], "watcher")
    r = admin(h, "POST", "/jobs/hello/run")
    assert r.status_code == 202 and r.json() == {"queued": "hello"}
    assert w.expect("chat", timeout=10)["text"] == "hello from run-now"
    wait_for(lambda: admin(h, "GET", "/jobs/hello").json()["runs"], 10, "the run's record")
    run = admin(h, "GET", "/jobs/hello").json()["runs"][0]
    assert run["manual"] is True and run["outcome"] == "ok"
    jobs = {j["name"]: j for j in admin(h, "GET", "/jobs").json()["jobs"]}
    assert set(jobs) == {"tick", "slowai", "hello", "gold", "digest"}
    assert jobs["gold"]["kind"] == "chart" and jobs["gold"]["timeZone"] == "UTC"
    assert jobs["hello"]["cron"] == "0 0 1 1 *" and jobs["hello"]["next"] > time.time() * 1000
    assert admin(h, "POST", "/jobs/nosuch/run").status_code == 404
    assert admin(h, "GET", "/jobs/hello/run").status_code == 404
    w.close()


def test_a_member_named_like_a_job_cannot_delete_its_posts(cluster, redis_server):
    # job posts are the bot's, whatever the job's name: a member who takes
    # that name does not own them
    room = cluster["room"]
    redis_server.client().sadd(f"chat:room:{room}:members", "hello")
    h = cluster["servers"][0]
    member = Chat(h.port, room, "hello")
    assert admin(cluster["servers"][1], "POST", "/jobs/hello/run").status_code == 202
    post = member.expect("chat", timeout=10)
    while post.get("job") != "hello":
        post = member.expect("chat", timeout=10)
    assert post["bot"] is True and post["username"] == "hello"
    member.send("delete", messageId=post["id"])
    assert member.expect("error")["code"] == "forbidden"
    member.close()


def test_chart_job_posts_an_image(cluster, fake):
    h = cluster["servers"][0]
    w = Chat(h.port, cluster["room"], "watcher")
    assert admin(h, "POST", "/jobs/gold/run").status_code == 202
    msg = w.expect("chat", timeout=20)
    assert msg["type"] == "image" and msg["caption"] == "黄金 au 日K线"
    assert msg["imageUrl"].startswith("/chat/files/")
    # stored in the upload directory of the server that ran it (a cluster shares one)
    got = [r for r in (requests.get(s.url(msg["imageUrl"]), timeout=5)
                       for s in cluster["servers"]) if r.status_code == 200]
    assert len(got) == 1
    png = got[0]
    assert png.headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size == (800, 500)
    assert fake.requests(kind="market")[-1]["query"] == {"code": "au", "days": "20"}
    w.close()


def test_pie_job_posts_the_reference_chart(redis_server):
    """A desk chart (issue 14) from a job: the same picture as docs/charts/pie.png."""
    room = unique_room("pie")
    # a prefix of its own: the cluster's schedulers would take its run-now
    redis_server.client().sadd(f"pie:room:{room}:members", "watcher")
    h = Httpd(redis_server, name="jobpie")
    h.reconfigure(f"""
ChatKeyPrefix pie:
ChatJob spread "0 0 1 1 *" chart {room} pie http://127.0.0.1:{h.port}/desk.json \\
"items=result.rows label=name value=change" "商品期货涨跌分布 2026-11-20"
""")
    (h.dir / "htdocs" / "desk.json").write_bytes(
        (ROOT / "tests" / "fixtures" / "charts" / "cross_section.json").read_bytes())
    h.start()
    try:
        w = Chat(h.port, room, "watcher")
        assert admin(h, "POST", "/jobs/spread/run").status_code == 202
        msg = w.expect("chat", timeout=20)
        assert msg["type"] == "image" and msg["job"] == "spread", msg
        png = requests.get(h.url(msg["imageUrl"]), timeout=5)
        img = Image.open(io.BytesIO(png.content)).convert("RGB")
        ref = Image.open(ROOT / "docs" / "charts" / "pie.png").convert("RGB")
        diff = ImageChops.difference(img, ref).convert("L").histogram()
        assert sum(diff[48:]) / float(img.width * img.height) < 0.005
        w.close()
    finally:
        h.close()


def test_news_job_posts_only_new_items(cluster):
    h = cluster["servers"][0]
    feed = h.dir / "htdocs" / "news.json"
    items = [{"guid": f"n{i}", "headline": f"消息 {i}", "link": f"https://news.example/{i}"}
             for i in range(3)]
    feed.write_text(json.dumps({"items": items}, ensure_ascii=False))
    w = Chat(h.port, cluster["room"], "watcher")

    def run_and_record():
        before = len(admin(h, "GET", "/jobs/digest").json()["runs"])
        assert admin(h, "POST", "/jobs/digest/run").status_code == 202
        wait_for(lambda: len(admin(h, "GET", "/jobs/digest").json()["runs"]) > before, 15,
                 "the digest run")
        return admin(h, "GET", "/jobs/digest").json()["runs"][0]

    assert run_and_record()["summary"] == "posted 3 new items"
    text = w.expect("chat", timeout=5)["text"]
    assert text.startswith("**要闻**") and "[消息 2](https://news.example/2)" in text
    assert run_and_record()["summary"] == "no new items"
    feed.write_text(json.dumps({"items": items + [{"guid": "n9", "headline": "新消息"}]},
                               ensure_ascii=False))
    assert run_and_record()["summary"] == "posted 1 new items"
    assert w.expect("chat", timeout=5)["text"] == "**要闻**\n\n- 新消息"
    w.close()


def test_admin_page_lists_and_runs_jobs(cluster):
    out = subprocess.run(["node", str(ROOT / "tests" / "browser" / "admin_jobs.mjs"),
                          str(cluster["servers"][1].port), ADMIN_SECRET, "tick", "5",
                          str(ROOT / "test-artifacts" / "admin")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "admin jobs: ok" in out.stdout


@pytest.mark.parametrize("line, name", [
    ('ChatJob x "61 * * * *" post lobby "t"', "ChatJob"),
    ('ChatJob x "* * * *" post lobby "t"', "ChatJob"),
    ('ChatJob x "* * * * *" shout lobby "t"', "ChatJob"),
    ('ChatJob x "* * * * *" post bad/room "t"', "ChatJob"),
    ('ChatJob x "* * * * *" ai nobody lobby "t"', "ChatJob"),
    ('ChatJob x "* * * * *" chart lobby donut http://h/x "m"', "ChatJob"),
    ('ChatJob x "* * * * *" news lobby ftp://h/x "m"', "ChatJob"),
    ('ChatJob x "* * * * *" post lobby "a"\nChatJob x "* * * * *" post lobby "b"', "ChatJob"),
    ("ChatJobTimeZone America/New_York", "ChatJobTimeZone"),
    ('<VirtualHost 127.0.0.1:1>\nChatJob x "* * * * *" post lobby "t"\n</VirtualHost>', "ChatJob"),
    ("ChatChartFont /nonexistent/font.ttf", "ChatChartFont"),
    ("ChatChartSize 10x10", "ChatChartSize"),
])
def test_configtest_names_the_bad_job_directive(httpd, line, name):
    httpd.assert_configtest_refuses(line, name)
