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

The access log, written in batches, is webapp/gunicorn_access.py.
"""

from __future__ import annotations

import fcntl
import re
import socket
import struct
import termios
import time
from concurrent.futures import Future

from gunicorn import util
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
