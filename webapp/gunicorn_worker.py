"""Gunicorn's gthread worker, reading each request head in the event loop before a thread takes it.

gthread hands a connection to a worker thread as soon as its first byte arrives, and the thread
then blocks until the whole request head is read. A client that sends its headers one byte a
second (slowloris) so holds a thread for as long as it likes: ten of them stopped every prediction
of a 2 x 2-thread API. Here the head is collected without blocking: a thread reads what has
arrived, hands the connection back to the worker's poller while the head is incomplete (so it
waits for more data holding no thread), and only parses once the blank line that ends the head is
in; a head not complete within HEAD_TIMEOUT seconds of its first byte closes the connection. The
bytes read are given back to Gunicorn's own parser, which then works as before (and answers 400,
414 or 431 for heads it refuses). Bodies are read as gthread always did, bounded by
MAX_CONTENT_LENGTH. A kept-alive connection whose next request has already arrived is served on the
same thread while no other connection waits for one. A response's head goes out with its first body
bytes in one send (`OneSendResponse`).

A prediction whose whole request is already in when its connection turns readable (the usual
case: a few hundred bytes in one segment) is served on the event loop's own thread instead of being
handed to the pool (`_serve_here`); see `LOOP_PATHS`.

`AccessLogger` is Gunicorn's logger building only the access-log atoms the format names, and
writing the access lines in batches.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import socket
import struct
import termios
import threading
import time
import traceback
from concurrent.futures import Future

from gunicorn import glogging, util
from gunicorn.http import wsgi
from gunicorn.http.body import LengthReader
from gunicorn.workers import gthread

#: The workers' garbage-collector thresholds: the youngest generation is collected after this
#: many more allocations than frees instead of 700. A batch of 1,000 keeps some 40,000 objects
#: alive until it is answered and logged, and every 700 of them set off a collection that found
#: nothing to free (a dozen a batch, with one of the middle generation: 2 ms of a request's 19).
#: Reference counting frees nearly everything; cycles are collected as before, less often.
GC_THRESHOLDS = (20_000, 10, 10)

#: Seconds a client has to send a whole request head, from its first byte.
HEAD_TIMEOUT = 10.0
#: Past this many bytes without the end of the head, stop collecting and let Gunicorn's parser
#: refuse it (its limits are lower: a 4094-byte request line, 100 fields of 8190 bytes).
HEAD_LIMIT = 1024 * 1024
_END = b"\r\n\r\n"
#: Requests one thread serves back to back on a keep-alive connection before the event loop.
KEEPALIVE_BURST = 8
#: Seconds between two heartbeats to the arbiter (it kills a worker silent for GUNICORN_TIMEOUT).
HEARTBEAT_INTERVAL = 0.5
#: The access log is written at least this often (seconds), and whenever this many lines wait.
ACCESS_LOG_FLUSH_SECONDS = 0.5
ACCESS_LOG_FLUSH_LINES = 256
#: POST targets served on the event loop's thread when the whole request is already in. A
#: prediction is about a millisecond of CPU, under the GIL either way: handing it to a pool thread
#: and its result back costs two thread wake-ups, a pipe write and a fifth of the worker's time
#: (bench/bench_predict.py). Everything else (pages, exports, slow or large bodies) goes to the
#: pool as before, so nothing long ever holds the loop.
LOOP_PATHS = frozenset((b"/predict", b"/predict_proba", b"/api/predict", b"/api/predict_proba"))
#: Largest body served on the loop: a few records. Their answer (tens of KB) goes into an empty
#: send buffer at once; a connection with answers still unsent is served by the pool instead
#: (`_nothing_unsent`), so the loop never waits on a client that does not read.
LOOP_BODY_LIMIT = 4096
#: Seconds a send may make no progress (a client that does not read its answers) before it fails
#: and the connection is closed, so it holds its thread, or the event loop, no longer than that.
SEND_TIMEOUT = 5.0
_TIMEVAL = struct.Struct("@ll")  # struct timeval, as SO_SNDTIMEO takes it
_SIOCOUTQ = getattr(termios, "TIOCOUTQ", None)  # Linux: SIOCOUTQ, the bytes a socket has not yet delivered
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d{1,9})[ \t]*(?=\r\n|$)")


def _next_request_here(conn) -> bool:
    """Whether bytes of another request are buffered or waiting on the socket (without waiting)."""
    if conn.parser is not None and conn.parser.unreader.buf.getvalue():
        return True
    try:
        return bool(conn.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except OSError:  # nothing yet (EAGAIN), or gone: the event loop handles either
        return False


SERVE, WAIT = "serve", "wait"


def _loop_action(received: bytes | bytearray) -> str | None:
    """What the event loop does with a connection that has sent `received` so far.

    WAIT while the head is incomplete, or while the body of a small prediction is (the poller
    wakes the loop when more arrives). SERVE a POST to one of LOOP_PATHS whose head and body
    (one Content-Length of at most LOOP_BODY_LIMIT bytes) are all in. None for anything else,
    which goes to the pool: other requests, and anything unusual (chunked, Expect, two lengths,
    a query string, a head over HEAD_LIMIT), which Gunicorn's parser then answers as before.
    """
    end = received.find(_END)
    if end < 0:
        return WAIT if len(received) < HEAD_LIMIT else None
    line_end = received.find(b"\r\n")
    method, _, rest = bytes(received[:line_end]).partition(b" ")
    if method != b"POST" or rest.partition(b" ")[0] not in LOOP_PATHS:
        return None
    fields = bytes(received[line_end:end]).lower()
    if b"\r\ntransfer-encoding:" in fields or b"\r\nexpect:" in fields:
        return None
    lengths = _CONTENT_LENGTH.findall(fields)
    if len(lengths) != 1 or fields.count(b"\r\ncontent-length:") != 1:
        return None
    length = int(lengths[0])
    if length > LOOP_BODY_LIMIT:
        return None
    return SERVE if len(received) - (end + len(_END)) >= length else WAIT


def _nothing_unsent(sock: socket.socket) -> bool:
    """Whether every byte sent on `sock` so far has reached the client (Linux's SIOCOUTQ is 0).

    Bytes still queued mean the client's receive window is closed: it has not read its earlier
    answers, and a new one could make the send wait. Unknown (no SIOCOUTQ) counts as not."""
    try:
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), _SIOCOUTQ, b"\0\0\0\0"))[0] == 0
    except (OSError, AttributeError):
        return False


def _read_to_the_end(message) -> bool:
    """Whether a request's body (of a Content-Length, or none) was read to its last byte."""
    body = getattr(message, "body", None)
    reader = getattr(body, "reader", None)
    return isinstance(reader, LengthReader) and reader.length == 0 and not body.buf.tell() and not body.failed


_http_date = util.http_date
_date_now: tuple[int, str] = (0, "")


def _http_date_this_second(timestamp=None) -> str:
    """Gunicorn's `Date` header value, formatted once a second rather than once a response (the
    header has a resolution of one second, so the text is the same)."""
    global _date_now
    if timestamp is not None:
        return _http_date(timestamp)
    second = int(time.time())
    cached = _date_now
    if cached[0] != second:
        cached = _date_now = (second, _http_date(second))
    return cached[1]


class OneSendResponse(wsgi.Response):
    """Gunicorn's HTTP/1 response, sending its head together with the first body bytes.

    Gunicorn sends the head, then each body chunk, each with its own `sendall`: two system calls
    and two TCP segments for every JSON answer, and on loopback each send also delivers to the
    client (a tenth of a worker's time per /predict under wrk). The bytes sent are the same; the
    head waits only until the first body bytes, the end of the response or a file sent with
    sendfile. Chunked responses keep Gunicorn's own order of sends.
    """

    _held_head = b""

    def send_headers(self):
        if self.headers_sent:
            return
        if self.chunked:
            return super().send_headers()
        # Gunicorn's send_headers, keeping the bytes instead of sending them.
        tosend = self.default_headers()
        tosend.extend([f"{k}: {v}\r\n" for k, v in self.headers])
        self._held_head = util.to_bytestring("".join(tosend) + "\r\n", "latin-1")
        self.headers_sent = True

    def _send_held_head(self) -> None:
        head, self._held_head = self._held_head, b""
        if head:
            util.write(self.sock, head)

    def _emit_body(self, data):
        head, self._held_head = self._held_head, b""
        if head and not self.chunked:
            return util.write(self.sock, head + data)
        if head:
            util.write(self.sock, head)
        return super()._emit_body(data)

    def sendfile(self, respiter):
        self.send_headers()
        self._send_held_head()
        return super().sendfile(respiter)

    def close(self):
        self.send_headers()
        self._send_held_head()
        return super().close()


class HeadFirstThreadWorker(gthread.ThreadWorker):
    _heartbeat_at = 0.0
    _serving_here = False

    def init_process(self):
        util.http_date = _http_date_this_second  # read by gunicorn.http.wsgi for every response
        wsgi.Response = OneSendResponse  # what gunicorn.http.wsgi.create builds for HTTP/1
        super().init_process()

    def notify(self):
        # gthread tells the arbiter it is alive on every turn of its event loop, a system call
        # (utime of its heartbeat file) for about every request under load; the arbiter only
        # looks for silences of GUNICORN_TIMEOUT seconds (30), so twice a second is enough.
        now = time.monotonic()
        if now - self._heartbeat_at >= min(HEARTBEAT_INTERVAL, self.timeout / 4):
            self._heartbeat_at = now
            super().notify()

    def enqueue_req(self, conn):
        # Called on the event loop's thread for a connection with something to read.
        if self._serving_here or not self._take_on_loop(conn):
            super().enqueue_req(conn)

    def _take_on_loop(self, conn) -> bool:
        """Serve a small prediction on this (the event loop's) thread once its whole request is
        in, and wait in the poller, holding no thread, while a request head or a small
        prediction's body is incomplete. False hands the connection to the pool, as gthread does.

        What arrived is read without waiting, as `_handle_one` would on a pool thread, and kept
        for that thread. A request that follows in the same read (pipelining) goes to the pool:
        this never recurses. Slow heads and slow prediction bodies so hold no thread at all, and
        predictions are answered while slow bodies of other requests hold every pool thread.
        """
        if self.cfg.is_ssl or getattr(conn, "is_http2", False):
            return False
        received = self._read_what_arrived(conn)
        if received is None:
            return False  # closed or gone: the pool's read finds it so and closes
        action = _loop_action(received)
        if action is None or time.monotonic() > conn.head_deadline:
            return False  # the pool takes it (a late head is closed by _handle_one)
        if action == SERVE and not _nothing_unsent(conn.sock):
            return False  # a client behind on reading: its answer may wait, on a pool thread
        done = Future()  # what the pool would have handed back to finish_request
        if action == WAIT:
            conn.data_ready = False
            done.set_result(gthread._DEFER)  # back to the poller until more arrives
            self.finish_request(conn, done)
            return True
        self._serving_here = True
        try:
            try:
                done.set_result(self._handle_one(conn))
            except Exception as exc:  # gthread's handle answers or logs its own; this closes
                done.set_exception(exc)
            self.finish_request(conn, done)
        finally:
            self._serving_here = False
        return True

    def _read_what_arrived(self, conn) -> bytearray | None:
        """The bytes of the connection's next request received so far (kept on the connection
        for `_handle_one`), after one read that does not wait; None if it is closed or gone."""
        if "send_timeout" not in conn.__dict__:  # the connection's first time here
            conn.send_timeout = SEND_TIMEOUT
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _TIMEVAL.pack(int(SEND_TIMEOUT), 0))
        received = conn.__dict__.setdefault("pending_head", bytearray())
        conn.__dict__.setdefault("head_deadline", time.monotonic() + HEAD_TIMEOUT)
        if not received and conn.parser is not None:
            received += conn.parser.unreader.take_buffered()  # read ahead behind the last request
        # One read a wake-up: a request is nearly always in one segment, and what does not fit
        # in this read leaves the socket readable, so the poller wakes the loop again at once.
        try:
            chunk = conn.sock.recv(65536, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return received  # nothing yet (a new connection)
        except OSError:
            return None
        if not chunk:
            return None
        received += chunk
        return received

    def handle(self, conn):
        if self.cfg.is_ssl or getattr(conn, "is_http2", False):
            return super().handle(conn)
        result = self._handle_one(conn)
        served = 1
        waiting = getattr(self.tpool, "_work_queue", None)  # the pool's submitted, unstarted tasks
        # A keep-alive client whose next request is already here is served on this thread, not
        # through the event loop (a pipe write to wake it, an epoll registration and removal, a
        # new task for the pool). Only while no other connection waits for a thread, and at most
        # KEEPALIVE_BURST in a row, so one client's stream never keeps a thread from the others.
        while (
            result is True
            and served < KEEPALIVE_BURST
            and self.alive
            and waiting is not None
            and waiting.empty()  # no other connection waits for a thread
            and _next_request_here(conn)
        ):
            result = self._handle_one(conn)
            served += 1
        return result

    def _keepalive_after(self, conn, keepalive):
        # Before the next request Gunicorn drains what the app left of the body, switching the
        # socket's timeout to a deadline and back around the read: two system calls, each
        # letting go of the GIL mid-request, plus a third when the next request is parsed,
        # even when the app read the body to its end (every JSON view does). Such a request
        # is simply done; anything else is drained by Gunicorn as before.
        if keepalive and _read_to_the_end(conn.parser.mesg):
            conn.parser.mesg = None  # nothing left of it for the next parse to drain
            return True
        return super()._keepalive_after(conn, keepalive)

    def _handle_one(self, conn):
        head = conn.__dict__.setdefault("pending_head", bytearray())
        if not head and conn.parser is not None:
            head += conn.parser.unreader.take_buffered()  # read ahead behind the last request
        deadline = conn.__dict__.setdefault("head_deadline", time.monotonic() + HEAD_TIMEOUT)
        closed = False
        # MSG_DONTWAIT rather than switching the socket to non-blocking and back: each switch is
        # a system call, and every system call lets go of the GIL mid-request.
        while _END not in head and len(head) < HEAD_LIMIT:
            try:
                chunk = conn.sock.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            except OSError:
                return False
            if not chunk:
                closed = True
                break
            head += chunk
        if _END not in head and len(head) < HEAD_LIMIT:
            if (closed and not head) or time.monotonic() > deadline:
                # Gone before a request, or too slow: closed here and now, as Gunicorn's graceful
                # close would wait up to 2 s for the client in the worker's event loop.
                conn.sock.close()
                return False
            if not closed:
                conn.data_ready = False
                return gthread._DEFER  # back to the poller until more arrives
        del conn.pending_head, conn.head_deadline
        conn.init()  # Gunicorn's handle() makes the socket blocking for the body and the answer
        conn.parser.unreader.unread(bytes(head))
        conn.data_ready = True
        return super().handle(conn)


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
