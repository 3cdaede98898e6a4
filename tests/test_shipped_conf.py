"""The shipped conf/chat.conf (issue 14.6): as it is (the research-desk example
commented out) it breaks no server that includes it; its research-desk block,
uncommented the way the file says and with its placeholder hosts pointed at
the local fakes (tests/fake_data.py, tests/fake_ai.py), passes configtest,
starts, lists its jobs with their calendar in the admin API, and every job
runs: the data sources, keys from the environment, AI tools and chart
mappings are the shipped text's own, only the hosts are replaced."""
import os
import re

import pytest
import requests

from fake_data import FakeData
from harness import ADMIN_SECRET, ROOT, Httpd, wait_for

SHIPPED = ROOT / "conf" / "chat.conf"
BEGIN, END = "# BEGIN research-desk example", "# END research-desk example"
# the keys the block reads with env:, as an admin would export them
ENV = {"DESK_QUOTE_KEY": "data-key", "DESK_NEWS_KEY": "news-key",
       "DEEPSEEK_API_KEY": "test-key"}
JOBS = {  # name: (kind, cron, calendar, notice)
    "desk_morning": ("ai", "0 8 * * *", "always", False),
    "desk_treemap": ("chart", "0 10,14 * * *", "day", True),
    "desk_pie": ("chart", "5 15 * * *", "day", True),
    "desk_cross": ("chart", "10 15 * * *", "day", True),
    "desk_news": ("news", "*/30 8-20 * * *", "always", False),
}


def desk_block(data, fake_ai):
    """The block between BEGIN and END, uncommented as the file's sed line does
    (s/^#\\(<\\|    \\)/\\1/), its placeholder hosts replaced by the fakes'."""
    text = SHIPPED.read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    block = text[text.index(BEGIN):text.index(END) + len(END)]
    lines = [re.sub(r"^#(<|    )", r"\1", line) for line in block.splitlines()]
    # nothing else is left commented at the start of a line but the markers:
    # the uncommented block is the whole example
    assert [x for x in lines if x.startswith("#")] == [BEGIN, END]
    conf = "\n".join(lines)
    for placeholder, local in (("https://marketdata.example.com", f"{data.url}/b"),
                               ("https://news.example.com/api", f"{data.url}/a"),
                               ("https://api.deepseek.com", fake_ai.openai_base)):
        assert placeholder in conf, placeholder
        conf = conf.replace(placeholder, local)
    assert "example.com" not in conf
    return conf


def admin(h, path, method="GET"):
    return requests.request(method, h.url(f"/chat-admin/api{path}"), timeout=10,
                            headers={"Authorization": f"Bearer {ADMIN_SECRET}"})


@pytest.fixture(scope="module")
def data():
    d = FakeData().start()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def env():
    saved = {k: os.environ.get(k) for k in ENV}
    os.environ.update(ENV)
    yield
    for k, v in saved.items():
        if v is None:
            del os.environ[k]
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def desk(redis_server, fake_ai, data, env):
    h = Httpd(redis_server, name="desk")
    # the test's own line: the repository's holiday file stands in for the
    # installed default (PREFIX/share/mod_chat/holidays-cn.txt)
    h.reconfigure(f"ChatTradingCalendar {ROOT}/data/holidays-cn.txt\n"
                  f"{desk_block(data, fake_ai)}\n")
    yield h
    h.close()


def test_the_shipped_file_as_it_is_breaks_nothing(httpd):
    rc, out = httpd.configtest(f"Include {SHIPPED}")
    assert rc == 0, out


def test_the_desk_example_passes_configtest(desk):
    rc, out = desk.configtest("")
    assert rc == 0 and "Syntax OK" in out, out


def test_the_desk_example_starts_and_lists_its_jobs_with_their_calendar(desk):
    desk.start()
    jobs = {j["name"]: j for j in admin(desk, "/jobs").json()["jobs"]}
    assert set(jobs) == set(JOBS)
    for name, (kind, cron, calendar, notice) in JOBS.items():
        j = jobs[name]
        assert (j["kind"], j["cron"], j["calendar"], j["notice"]) == (kind, cron, calendar,
                                                                      notice), j
        assert j["rooms"] == ["desk"] and j["timeZone"] == "Asia/Shanghai", j
        assert j["next"], j


@pytest.mark.parametrize("name", list(JOBS))
def test_every_desk_job_runs_against_the_configured_sources(desk, data, fake_ai, name):
    if not desk.pid:
        desk.start()
    fake_ai.reset()
    assert admin(desk, f"/jobs/{name}/run", "POST").status_code == 202
    wait_for(lambda: admin(desk, f"/jobs/{name}").json()["runs"], 30, f"{name}'s run")
    run = admin(desk, f"/jobs/{name}").json()["runs"][0]
    assert run["outcome"] == "ok", run
    if JOBS[name][0] == "chart":
        # the board, with the key the block takes from the environment (read
        # once per process: the block caches it for 60 s)
        assert run["summary"].startswith("posted a 800x500 chart of 6 items"), run
        board = data.requests("/b/v2/board")
        assert board and all(r["headers"]["x-api-key"] == "data-key" for r in board)
    elif name == "desk_news":
        assert run["summary"] == "posted 1 new items", run
        news = data.requests("/a/news")
        assert news and news[0]["query"] == {"kw": "期货", "size": "10"}
        assert news[0]["headers"]["x-api-key"] == "news-key"
    else:
        # the AI is offered the tools of the four sources
        body = fake_ai.requests(kind="openai")[0]["body"]
        tools = {t["function"]["name"] for t in body["tools"]}
        assert {"get_price", "get_history", "get_stats", "get_cross_section",
                "search_news", "market_query"} <= tools, tools
        assert body["model"] in ("deepseek-chat", "deepseek-reasoner")


def test_the_morning_job_logs_its_tool_calls_in_the_room(desk, fake_ai):
    """An "ai" job's tool calls land in its room's debug log, as a question
    asked in the room does, named by the job."""
    if not desk.pid:
        desk.start()
    fake_ai.reset()
    fake_ai.script([{"kind": "openai", "tool_call": {"name": "get_price",
                                                     "arguments": {"commodity": "螺纹"}}},
                    {"kind": "openai", "text": "早上好"}])
    before = {r["start"] for r in admin(desk, "/jobs/desk_morning").json()["runs"]}
    assert admin(desk, "/jobs/desk_morning/run", "POST").status_code == 202
    wait_for(lambda: {r["start"] for r in admin(desk, "/jobs/desk_morning").json()["runs"]}
             - before, 30, "the morning job's run")
    entries = [e for e in admin(desk, "/rooms/desk/log").json()["entries"]
               if e["event"] == "ai_tool"]
    assert entries and entries[0]["username"] == "deepseek"
    assert entries[0]["detail"].startswith('job desk_morning: get_price {"commodity":"螺纹"} -> ')


@pytest.mark.parametrize("line, ok", [
    ("ChatAIModelWindow deepseek off", True),
    ("ChatAIModelWindow deepseek 22:00-23:00 deepseek-reasoner", True),
    ("ChatAIModelWindow deepseek off now", False),
    ("ChatAIModelWindow deepseek 22:00-23:00 deepseek-reasoner\nChatAIModelWindow deepseek off",
     False),
])
def test_the_deepseek_window_can_be_replaced_or_turned_off(desk, line, ok):
    rc, out = desk.configtest(line)
    assert (rc == 0) == ok, out
    if not ok:
        assert "ChatAIModelWindow" in out, out
