"""The API's Gunicorn logger writes the same access lines as Gunicorn's own, and the same Date."""

from __future__ import annotations

import ast
import contextlib
import datetime
import io
import logging
import time
from pathlib import Path

import pytest
from gunicorn import glogging, util
from gunicorn.config import Config

from tests.helpers import wait_until
from webapp.gunicorn_access import (
    ACCESS_LOG_FLUSH_LINES,
    ACCESS_LOG_FLUSH_SECONDS,
    AccessLogger,
    BatchedFileHandler,
    BatchedStreamHandler,
)
from webapp.gunicorn_worker import _http_date, _http_date_this_second


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
    assert _config_value("logger_class") == "webapp.gunicorn_access.AccessLogger"


def test_date_header_is_gunicorns_within_the_second():
    assert _http_date is not _http_date_this_second and util.http_date in (_http_date, _http_date_this_second)
    for _ in range(5):
        before = int(time.time())
        ours = _http_date_this_second()
        if int(time.time()) == before:
            assert ours == _http_date(before)
        time.sleep(0.3)
    assert _http_date_this_second(0) == "Thu, 01 Jan 1970 00:00:00 GMT"


class _CountingStream(io.StringIO):
    def __init__(self):
        super().__init__()
        self.writes = 0

    def write(self, text):
        self.writes += 1
        return super().write(text)


def _access_logger(output: str) -> AccessLogger:
    cfg = Config()
    cfg.set("accesslog", output)
    cfg.set("access_log_format", ACCESS_LOG_FORMAT)
    return AccessLogger(cfg)


def _log_requests(logger: AccessLogger, request_ids) -> None:
    for request_id in request_ids:
        response = _Response("200 OK", [("X-Request-ID", request_id)], 10)
        logger.access(response, _Request, ENVIRON, datetime.timedelta(microseconds=1500))


@contextlib.contextmanager
def _batched_logger(name: str):
    """A logger writing through a BatchedStreamHandler to a stream that counts its writes."""
    stream = _CountingStream()
    logger = logging.getLogger(name)
    handler = BatchedStreamHandler(stream)
    logger.addHandler(handler)
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)


def test_access_lines_are_written_together_in_order_within_the_flush_interval():
    with _batched_logger("test.batched.interval") as (logger, stream):
        for number in range(3):
            logger.warning("line %d", number)
        assert stream.writes == 0  # kept, not written on the request's thread
        wait_until(lambda: stream.writes, 10 * ACCESS_LOG_FLUSH_SECONDS)
        assert stream.getvalue() == "line 0\nline 1\nline 2\n"
        assert stream.writes == 1


def test_a_full_batch_is_written_at_once():
    with _batched_logger("test.batched.full") as (logger, stream):
        for number in range(ACCESS_LOG_FLUSH_LINES):
            logger.warning("line %d", number)
        assert stream.writes == 1
        assert stream.getvalue().splitlines() == [f"line {n}" for n in range(ACCESS_LOG_FLUSH_LINES)]


def test_the_api_logger_writes_stdout_access_lines_in_batches(capsys):
    logger = _access_logger("-")
    handlers = [h for h in logger.access_log.handlers if getattr(h, "_gunicorn", False)]
    assert [type(h) for h in handlers] == [BatchedStreamHandler]
    _log_requests(logger, ["first", "second"])
    handlers[0].flush()  # what a stopping worker's logging.shutdown() does
    lines = capsys.readouterr().out.splitlines()
    assert [line.rsplit("rid=", 1)[1] for line in lines] == ["first", "second"]
    assert lines[0] == '10.0.0.1 "POST /predict?x=\\"1\\" HTTP/1.1" 200 10 1ms rid=first'


def test_an_access_log_file_keeps_every_line_across_a_reopen(tmp_path):
    first, second = tmp_path / "access.log", tmp_path / "access.log.1"
    logger = _access_logger(str(first))
    handlers = [h for h in logger.access_log.handlers if getattr(h, "_gunicorn", False)]
    assert [type(h) for h in handlers] == [BatchedFileHandler]
    _log_requests(logger, ["before"])
    first.rename(second)  # logrotate, then USR1
    logger.reopen_files()
    _log_requests(logger, ["after"])
    wait_until(lambda: first.exists() and "rid=after" in first.read_text(), 10 * ACCESS_LOG_FLUSH_SECONDS)
    assert second.read_text().endswith("rid=before\n")
    assert first.read_text().endswith("rid=after\n")
    for handler in handlers:
        handler.close()


@pytest.mark.parametrize("fmt", [f for f in FORMATS if "%(t)s" not in f])
@pytest.mark.parametrize("response", RESPONSES)
def test_access_writes_the_line_gunicorns_access_writes(fmt, response, tmp_path):
    # Ours formats the line itself and hands it to the batching handler; Gunicorn's goes through
    # logging. Both to a file, then compared.
    written = {}
    for logger_class in (glogging.Logger, AccessLogger):
        path = tmp_path / f"{logger_class.__name__}.log"
        cfg = Config()
        cfg.set("access_log_format", fmt)
        cfg.set("accesslog", str(path))
        logger = logger_class(cfg)
        logger.access(response, _Request, ENVIRON, datetime.timedelta(seconds=1, microseconds=2345))
        for handler in logger.access_log.handlers:
            handler.close()
        written[logger_class] = path.read_text()
    assert written[AccessLogger] == written[glogging.Logger] != ""


def test_an_access_log_filter_still_applies(tmp_path):
    # With a filter (or any handler or formatter other than the plain batching one), lines go
    # through logging as Gunicorn's do, so what the filter drops stays out.
    path = tmp_path / "access.log"
    logger = _access_logger(str(path))
    logger.access_log.addFilter(lambda record: "rid=hidden" not in record.getMessage())
    _log_requests(logger, ["shown", "hidden", "shown-too"])
    for handler in logger.access_log.handlers:
        handler.close()
    assert [line.rsplit("rid=", 1)[1] for line in path.read_text().splitlines()] == ["shown", "shown-too"]
