"""Jobs on the trading calendar (issue 14.5) with the shipped 2026 holiday
file. Two servers on one Redis, each with its scheduler clock shifted
(CHAT_CLOCK_OFFSET, as tests/test_jobs.py does) to LEAD seconds before a
Beijing midnight:
- "holiday": 2026-10-07 (国庆节, a Wednesday) 23:59 -> 2026-10-08 (Thursday) 00:00:
  an every-minute trading job skips the holiday's minute and runs on the
  next trading day's first minute, with its notice in the room;
- "weekend": 2026-10-09 (Friday) 23:59 -> 2026-10-10 (Saturday, a make-up
  working day on which the exchanges stay closed) 00:00: the trading job runs
  on Friday and skips Saturday; a night-session job runs in both minutes
  (Friday's night session runs to 02:30); a day-session job runs in neither;
  a failing job's notice says why it failed."""
import calendar
import os
import time
import uuid

import pytest
import requests

from chatclient import Chat, unique_room
from harness import ADMIN_SECRET, ROOT, Httpd, wait_for

LEAD = 6  # seconds from start to the Beijing midnight
HOLIDAYS = ROOT / "data" / "holidays-cn.txt"


def utc_minute(y, mo, d, hh, mm):
    """A Beijing time's minute number (minutes since the epoch)."""
    return (calendar.timegm((y, mo, d, hh, mm, 0)) - 8 * 3600) // 60


def start_at(h, midnight_minute, conf):
    """Start h with its scheduler clock LEAD seconds before midnight_minute."""
    h.reconfigure(conf)
    os.environ["CHAT_CLOCK_OFFSET"] = f"{midnight_minute * 60 - LEAD - time.time():.3f}"
    try:
        h.start()
    finally:
        del os.environ["CHAT_CLOCK_OFFSET"]


def logged(text):
    """text as httpd's error log writes it (bytes over 0x7f escaped)."""
    return "".join(chr(b) if b < 0x80 else f"\\x{b:02x}" for b in text.encode())


def admin_runs(h, name):
    r = requests.get(h.url(f"/chat-admin/api/jobs/{name}"), timeout=10,
                     headers={"Authorization": f"Bearer {ADMIN_SECRET}"})
    return r.json()


@pytest.fixture(scope="module")
def servers(redis_server):
    tag = uuid.uuid4().hex[:6]  # job names: the minute locks of earlier runs are not ours
    rooms = {"holiday": unique_room("cal"), "weekend": unique_room("cal")}
    for room in rooms.values():
        redis_server.client().sadd(f"chat:room:{room}:members", "watcher")
    jobs = {k: f"{k}_{tag}" for k in ("hol", "fri", "night", "day", "broken")}
    hs = {k: Httpd(redis_server, name=f"cal_{k}") for k in rooms}
    watchers = {}
    start_at(hs["holiday"], utc_minute(2026, 10, 8, 0, 0), f"""
ChatTradingCalendar {HOLIDAYS}
ChatJob {jobs['hol']} "* * * * *" post {rooms['holiday']} "trading tick"
ChatJobCalendar {jobs['hol']} trading
ChatJobNotice {jobs['hol']} on
""")
    start_at(hs["weekend"], utc_minute(2026, 10, 10, 0, 0), f"""
ChatTradingCalendar {HOLIDAYS}
ChatJob {jobs['fri']} "* * * * *" post {rooms['weekend']} "friday tick"
ChatJobCalendar {jobs['fri']} trading any
ChatJob {jobs['night']} "* * * * *" post {rooms['weekend']} "night tick"
ChatJobCalendar {jobs['night']} trading night
ChatJob {jobs['day']} "* * * * *" post {rooms['weekend']} "day tick"
ChatJobCalendar {jobs['day']} trading day
ChatJob {jobs['broken']} "* * * * *" chart {rooms['weekend']} line http://127.0.0.1:1/x "items=rows"
ChatJobCalendar {jobs['broken']} trading
ChatJobNotice {jobs['broken']} on
""")
    for k, h in hs.items():
        watchers[k] = Chat(h.port, rooms[k], "watcher")
    yield {"h": hs, "rooms": rooms, "jobs": jobs, "w": watchers}
    for k, h in hs.items():
        watchers[k].close()
        h.stop()
        h.cleanup()


def test_a_holiday_is_skipped_and_the_next_trading_day_runs(servers):
    h, w, name = servers["h"]["holiday"], servers["w"]["holiday"], servers["jobs"]["hol"]
    holiday, next_day = utc_minute(2026, 10, 7, 23, 59), utc_minute(2026, 10, 8, 0, 0)
    wait_for(lambda: f"job {name} minute {holiday}: skipped, not a trading day: "
             f"2026-10-07 is a holiday ({logged('国庆节')})" in h.log(), LEAD + 10,
             "the holiday's minute")
    tick, notice = w.chats(2, timeout=LEAD + 20)
    assert tick["text"] == "trading tick" and tick["job"] == name
    assert notice["type"] == "system" and notice["username"] == "system" and notice["bot"]
    assert notice["notice"] == "ok" and notice["job"] == name
    assert notice["text"] == f"✅ Job {name} ran: posted the text"
    runs = admin_runs(h, name)
    assert [r["scheduled"] for r in runs["runs"]] == [next_day * 60000]
    assert runs["calendar"] == "any" and runs["notice"] is True


def test_friday_runs_saturday_is_skipped_and_sessions_hold(servers):
    h, w, jobs = servers["h"]["weekend"], servers["w"]["weekend"], servers["jobs"]
    friday, saturday = utc_minute(2026, 10, 9, 23, 59), utc_minute(2026, 10, 10, 0, 0)
    # Friday 23:59 (the scheduler's first minute: it may run before the
    # watcher joined, so history counts): the trading job, the night job and
    # the failing job's notice, in any order (children run them in
    # parallel); Saturday 00:00 is still Friday's night session: the night
    # job again, nothing else
    got = list(w.welcome["history"])
    got += w.chats(4 - len(got), timeout=LEAD + 30)
    texts = sorted(m["text"] for m in got)
    assert texts[:3] == ["friday tick", "night tick", "night tick"]
    (failed,) = [m for m in got if m["type"] == "system"]
    assert failed["job"] == jobs["broken"] and failed["notice"] == "failed"
    assert failed["text"].startswith(f"⚠️ Job {jobs['broken']} failed: the data source "
                                     f"'{jobs['broken']}' could not be reached")
    wait_for(lambda: f"job {jobs['fri']} minute {saturday}: skipped, not a trading day: "
             "2026-10-10 is a Saturday" in h.log(), 10, "Saturday's minute")
    log = h.log()
    assert f"job {jobs['broken']} minute {saturday}: skipped" in log
    assert (f"job {jobs['day']} minute {friday}: skipped, not a trading session: "
            "outside the day session (09:00-15:15 Beijing time)") in log
    assert (f"job {jobs['day']} minute {saturday}: skipped, not a trading session: "
            "2026-10-10 is a Saturday") in log
    assert [r["scheduled"] for r in admin_runs(h, jobs["fri"])["runs"]] == [friday * 60000]
    assert [r["scheduled"] for r in admin_runs(h, jobs["night"])["runs"]] == [
        saturday * 60000, friday * 60000]
    assert admin_runs(h, jobs["day"])["runs"] == []
    broken = admin_runs(h, jobs["broken"])["runs"]
    assert len(broken) == 1 and broken[0]["outcome"] == "error"


@pytest.mark.parametrize("line, name", [
    ("ChatTradingCalendar /nonexistent/holidays.txt", "ChatTradingCalendar"),
    (f"ChatTradingCalendar {ROOT}/data/products.tsv", "ChatTradingCalendar"),
    ("ChatJobCalendar nosuch trading", "ChatJobCalendar"),
    ('ChatJob x "* * * * *" post lobby "t"\nChatJobCalendar x trading evening', "ChatJobCalendar"),
    ('ChatJob x "* * * * *" post lobby "t"\nChatJobCalendar x always', "ChatJobCalendar"),
    ('ChatJob x "* * * * *" post lobby "t"\nChatJobNotice x maybe', "ChatJobNotice"),
    ("ChatJobNotice nosuch on", "ChatJobNotice"),
])
def test_configtest_names_the_bad_calendar_directive(httpd, line, name):
    httpd.assert_configtest_refuses(line, name)


@pytest.mark.parametrize("years_ahead, level", [(-1, "warn"), (1, None)])
def test_a_calendar_without_this_years_holidays_is_a_startup_warning(redis_server, tmp_path,
                                                                     years_ahead, level):
    """Past the last year a holiday file lists, every weekday is a trading day:
    the start says so, naming the directive, while there is time to add the
    dates; a file that covers this year and the next is silent."""
    year = time.gmtime(time.time() + 8 * 3600).tm_year + years_ahead
    path = tmp_path / "holidays.txt"
    path.write_text(f"{year}-05-01 劳动节\n")
    h = Httpd(redis_server, name="cal_cover")
    h.reconfigure(f"""
ChatTradingCalendar {path}
ChatJob cover "0 9 * * *" post lobby "t"
ChatJobCalendar cover trading
""")
    h.start()
    try:
        lines = [x for x in h.log().splitlines() if "ChatTradingCalendar" in x]
        if level:
            assert len([x for x in lines if f":{level}]" in x]) == 1, lines
            assert f"lists holidays up to {year} only" in lines[0]
            assert f"add {year + 1}'s closures" in lines[0]
        else:
            assert lines == []
    finally:
        h.stop()
        h.cleanup()
