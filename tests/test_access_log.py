"""The API's Gunicorn logger writes the same access lines as Gunicorn's own, and the same Date."""

from __future__ import annotations

import ast
import datetime
import time
from pathlib import Path

import pytest
from gunicorn import glogging, util
from gunicorn.config import Config

from webapp.gunicorn_worker import AccessLogger, _http_date, _http_date_this_second


def _config_value(name: str):
    """A literal setting of webapp/gunicorn_config.py, read without importing it (importing it
    sets PROMETHEUS_MULTIPROC_DIR for the whole test process)."""
    tree = ast.parse((Path(__file__).parent.parent / "webapp" / "gunicorn_config.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise LookupError(name)


ACCESS_LOG_FORMAT = _config_value("access_log_format")

FORMATS = [
    ACCESS_LOG_FORMAT,
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"',  # Gunicorn's default
    "%(m)s %(U)s %(q)s %(H)s %(B)s %(T)s %(D)s %(L)s %(M)s %(p)s %({X-Request-ID}i)s "
    "%({x-request-id}o)s %({http_x_foo}e)s %({absent}o)s %(zz)s %({odd})s",
]


class _Response:
    def __init__(self, status, headers, sent):
        self.status, self.headers, self.sent = status, headers, sent


class _Request:
    headers = [("HOST", "api"), ("X-REQUEST-ID", "from-client"), ("USER-AGENT", 'quoted "agent"')]


ENVIRON = {
    "REMOTE_ADDR": "10.0.0.1",
    "REQUEST_METHOD": "POST",
    "RAW_URI": '/predict?x="1"',
    "SERVER_PROTOCOL": "HTTP/1.1",
    "PATH_INFO": "/predict",
    "QUERY_STRING": 'x="1"',
    "HTTP_USER_AGENT": 'wrk "q"',
    "HTTP_REFERER": "https://example.org/",
    "HTTP_X_FOO": "foo",
}
RESPONSES = [
    _Response(
        "200 OK", [("Content-Type", "application/json"), ("X-Request-ID", "a"), ("x-request-id", "b")], 2136
    ),
    _Response(404, [], None),
]


def _line(logger_class, fmt: str, response) -> str:
    cfg = Config()
    cfg.set("access_log_format", fmt)
    cfg.set("accesslog", "-")
    logger = logger_class(cfg)
    took = datetime.timedelta(seconds=1, microseconds=2345)
    return fmt % logger.atoms_wrapper_class(logger.atoms(response, _Request, ENVIRON, took))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("response", RESPONSES)
def test_access_lines_are_gunicorns(fmt, response):
    if "%(t)s" in fmt:  # the time atom has a one-second resolution: compare within one second
        for _ in range(3):
            expected, ours = _line(glogging.Logger, fmt, response), _line(AccessLogger, fmt, response)
            if expected == ours:
                break
        assert ours == expected
    else:
        assert _line(AccessLogger, fmt, response) == _line(glogging.Logger, fmt, response)


def test_the_project_uses_it():
    assert _config_value("logger_class") == "webapp.gunicorn_worker.AccessLogger"


def test_date_header_is_gunicorns_within_the_second():
    assert _http_date is not _http_date_this_second and util.http_date in (_http_date, _http_date_this_second)
    for _ in range(5):
        before = int(time.time())
        ours = _http_date_this_second()
        if int(time.time()) == before:
            assert ours == _http_date(before)
        time.sleep(0.3)
    assert _http_date_this_second(0) == "Thu, 01 Jan 1970 00:00:00 GMT"
