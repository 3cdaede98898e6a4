"""pytest fixtures: a fresh redis-server and httpd per test module."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from fake_ai import FakeAI  # noqa: E402
from harness import MPM, VALGRIND, Httpd, RedisServer  # noqa: E402


def pytest_report_header(config):
    return f"mod_chat: MPM={MPM} valgrind={'on' if VALGRIND else 'off'}"


# Modules whose subject does not depend on the MPM: configuration and packaging,
# the data/chart/AI-tool paths (request and AI threads), the Sentinel client
# logic, and the demo (which runs the event MPM whatever CHAT_MPM says). The
# event stage runs them; the prefork stage deselects them (pytest reports how
# many), which keeps the whole suite within its time budget.
MPM_AGNOSTIC = {"test_layers", "test_install", "test_redis_loading", "test_shipped_conf",
                "test_charts", "test_data_sources", "test_job_calendar", "test_fake_ai",
                "test_sentinel"}


def pytest_collection_modifyitems(config, items):
    if MPM != "prefork":
        return
    keep, drop = [], []
    for item in items:
        (drop if item.module.__name__.split(".")[-1] in MPM_AGNOSTIC else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="module")
def redis_server():
    r = RedisServer().start()
    yield r
    # httpd ran as the ACL user without the dangerous commands: nothing it
    # tried was refused (Redis logs every refusal)
    refused = r.client().acl_log()
    r.cleanup()
    assert not refused, refused


@pytest.fixture(scope="module")
def httpd(request, redis_server):
    extra = getattr(request.module, "HTTPD_EXTRA_CONF", "")
    h = Httpd(redis_server, extra_conf=extra, name=request.module.__name__.split(".")[-1])
    h.start()
    yield h
    h.close()


@pytest.fixture(scope="module")
def fake_ai():
    """tests/fake_ai.py: the AI providers' and market data's stand-in (key test-key)."""
    f = FakeAI(key="test-key").start()
    yield f
    f.stop()


@pytest.fixture(params=["plain", "tls"])
def tls(request):
    return request.param == "tls"


@pytest.fixture
def port(httpd, tls):
    return httpd.tls_port if tls else httpd.port
