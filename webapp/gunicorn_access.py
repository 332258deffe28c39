"""Gunicorn's access log for the API: `AccessLogger` builds only the access-log atoms the format
names, and its handlers write the access lines in batches.

Gunicorn loads it by its dotted path, the `logger_class` setting of webapp/gunicorn_config.py.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import traceback

from gunicorn import glogging, util

#: The access log is written at least this often (seconds), and whenever this many lines wait.
ACCESS_LOG_FLUSH_SECONDS = 0.5
ACCESS_LOG_FLUSH_LINES = 256

_ATOM = re.compile(r"%\(([^)]+)\)")
#: Gunicorn's access-log atoms (glogging.Logger.atoms), each computed alone.
_BASE_ATOMS = {
    "h": lambda resp, environ, took: environ.get("REMOTE_ADDR", "-"),
    "l": lambda resp, environ, took: "-",
    "r": lambda resp, environ, took: (
        f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}"
    ),
    "s": lambda resp, environ, took: (
        resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
    ),
    "m": lambda resp, environ, took: environ.get("REQUEST_METHOD"),
    "U": lambda resp, environ, took: environ.get("PATH_INFO"),
    "q": lambda resp, environ, took: environ.get("QUERY_STRING"),
    "H": lambda resp, environ, took: environ.get("SERVER_PROTOCOL"),
    "b": lambda resp, environ, took: getattr(resp, "sent", None) is not None and str(resp.sent) or "-",
    "B": lambda resp, environ, took: getattr(resp, "sent", None),
    "f": lambda resp, environ, took: environ.get("HTTP_REFERER", "-"),
    "a": lambda resp, environ, took: environ.get("HTTP_USER_AGENT", "-"),
    "T": lambda resp, environ, took: took.seconds,
    "D": lambda resp, environ, took: took.seconds * 1000000 + took.microseconds,
    "M": lambda resp, environ, took: took.seconds * 1000 + int(took.microseconds / 1000),
    "L": lambda resp, environ, took: f"{took.seconds}.{took.microseconds:06d}",
    "p": lambda resp, environ, took: f"<{os.getpid()}>",
}


class _BatchedLines:
    """A logging handler keeping the lines it formats and writing them together: once
    ACCESS_LOG_FLUSH_LINES wait, every ACCESS_LOG_FLUSH_SECONDS (a thread of the process that
    logs), and on flush() and close() (a worker stopping, logging.shutdown, a reopen on USR1)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._lines: list[str] = []
        self._flusher_pid = 0

    def emit(self, record):  # called holding the handler's lock (Handler.handle)
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self._keep(line)

    def add_message(self, message: str) -> None:
        """What emit() does with a record whose formatted line is `message` (see
        AccessLogger.access)."""
        with self.lock:
            self._keep(message)

    def _keep(self, line: str) -> None:
        self._lines.append(line + self.terminator)
        if len(self._lines) >= ACCESS_LOG_FLUSH_LINES:
            self.flush()
        elif self._flusher_pid != os.getpid():  # the first line of this process (a forked worker)
            self._flusher_pid = os.getpid()
            threading.Thread(target=self._flush_regularly, name="access-log", daemon=True).start()

    def _flush_regularly(self):
        while True:  # for the life of the process, as the handler (a reopen keeps it)
            time.sleep(ACCESS_LOG_FLUSH_SECONDS)
            self.flush()

    def flush(self):
        with self.lock:
            lines, self._lines = self._lines, []
            if self.stream is None:  # closed for good (after logging.shutdown)
                return
            try:
                if lines:
                    self.stream.write("".join(lines))
                self.stream.flush()
            except Exception:  # lines lost: reported as logging reports a failed write
                if lines:
                    self.handleError(
                        logging.makeLogRecord({"msg": "%d access-log lines", "args": (len(lines),)})
                    )


class BatchedStreamHandler(_BatchedLines, logging.StreamHandler):
    """logging.StreamHandler (the access log on stdout), writing its lines in batches."""


class BatchedFileHandler(_BatchedLines, logging.FileHandler):
    """logging.FileHandler (the access log in a file), writing its lines in batches."""


class AccessLogger(glogging.Logger):
    """Gunicorn's logger, building only the access-log atoms its format names, and writing the
    access lines in batches.

    Gunicorn's own builds every atom of every request (all request and response headers, the
    whole WSGI environ) and escapes them all, for the five or six a format uses: a tenth of a
    worker's time per request. The values, and so the lines, are the same.

    Gunicorn writes and flushes each access line as the request ends: a system call that lets
    go of the GIL, which the worker's other threads take, so the request thread then queues to
    get it back. On the API around an echo view at c=8 (bench/floor_app.py), six runs
    alternating with the previous code on a busy machine: 983 to 875 us of worker CPU a request
    (medians; 5 of the 6 pairs lower). The lines are the same, in the same order,
    written together at most ACCESS_LOG_FLUSH_SECONDS later; a worker killed outright (SIGKILL,
    out of memory) loses the lines of its last half second. The error log is unchanged.
    """

    _names: dict[str, tuple[str, ...]] = {}

    def access(self, resp, req, environ, request_time):
        # Gunicorn's access() goes through logging for each line: a LogRecord (the time, thread
        # and process names, the caller's frame), the logger's and handler's checks, a formatter
        # that adds nothing to "%(message)s". When the line would come out the same, it is
        # formatted here and given to the batching handler directly.
        handler = self._plain_access_handler()
        if handler is None or not self.access_log_enabled:
            return super().access(resp, req, environ, request_time)
        try:
            line = self.cfg.access_log_format % self.atoms_wrapper_class(
                self.atoms(resp, req, environ, request_time)
            )
        except Exception:
            self.error(traceback.format_exc())
            return
        handler.add_message(line)

    def _plain_access_handler(self) -> _BatchedLines | None:
        """The access log's one handler, if a record would reach it as is and leave it as its
        message alone: no filters, INFO let through, the plain "%(message)s" formatter."""
        log = self.access_log
        if len(log.handlers) != 1 or log.filters or log.propagate or not log.isEnabledFor(logging.INFO):
            return None
        handler = log.handlers[0]
        if (
            not isinstance(handler, _BatchedLines)
            or handler.filters
            or handler.level > logging.INFO
            or type(handler.formatter) is not logging.Formatter
            or handler.formatter._fmt != "%(message)s"
        ):
            return None
        return handler

    def _set_handler(self, log, output, fmt, stream=None):
        if log is not self.access_log or output is None:
            return super()._set_handler(log, output, fmt, stream)
        super()._set_handler(log, None, fmt)  # removes the previous handler, as Gunicorn's does
        if output == "-":
            handler = BatchedStreamHandler(stream)
        else:
            util.check_is_writable(output)
            handler = BatchedFileHandler(output)
            try:  # as Gunicorn's: let the worker's user reopen the file
                os.chown(handler.baseFilename, self.cfg.user, self.cfg.group)
            except OSError:
                pass
        handler.setFormatter(fmt)
        handler._gunicorn = True
        log.addHandler(handler)

    def atoms(self, resp, req, environ, request_time):
        fmt = self.cfg.access_log_format
        names = self._names.get(fmt)
        if names is None:
            names = self._names[fmt] = tuple(dict.fromkeys(_ATOM.findall(fmt)))
        atoms = {}
        for name in names:
            if not name.startswith("{"):
                if name == "u" or name == "t":  # user and time: Gunicorn's own code, rarely used
                    atoms[name] = super().atoms(resp, req, environ, request_time)[name]
                elif name in _BASE_ATOMS:
                    atoms[name] = _BASE_ATOMS[name](resp, environ, request_time)
                continue
            key = name.lower()
            where, wanted = key[-1], key[1:-2]
            if where == "i":
                pairs = getattr(req, "headers", req)
            elif where == "o":
                pairs = resp.headers
            elif where == "e":
                pairs = environ
            else:
                continue
            if hasattr(pairs, "items"):
                pairs = pairs.items()
            for header, value in pairs:  # the last one wins, as in Gunicorn's dict
                if header.lower() == wanted:
                    atoms[key] = value
        return atoms
