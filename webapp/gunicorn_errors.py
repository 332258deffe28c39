"""Gunicorn's own error answers in the API's JSON envelope.

Gunicorn refuses some requests before the app sees them: a request line longer than
``limit_request_line`` (414), too many or too large header fields (431), a malformed request line,
method, version, header or chunk (400), an unsupported transfer coding (501). It writes those with
``gunicorn.util.write_error``, as a small HTML page. ``install()`` replaces that one function so
the same answers carry ``{"error": {"code", "message", "details"}, "request_id"}`` like every other
error (the status and reason are Gunicorn's). Gunicorn's workers look the function up on the module
at each error, so installing it in the config file (before the workers fork) covers them all.

What stays out of reach: a client that sends nothing parseable at all and closes, or a TLS or
proxy-protocol failure, gets no answer; a connection Gunicorn drops when it times out gets none.
"""

from __future__ import annotations

import json
import uuid

from gunicorn import util

from webapp.web.errors import code_for


def envelope_response(status: int, reason: str, message: str) -> bytes:
    """The raw HTTP/1.1 response: the envelope as JSON, the connection closed."""
    request_id = uuid.uuid4().hex
    body = json.dumps(
        {
            "error": {"code": code_for(status), "message": message or reason, "details": None},
            "request_id": request_id,
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"X-Request-ID: {request_id}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def write_error(sock, status_int: int, reason: str, mesg: str) -> None:
    util.write_nonblock(sock, envelope_response(int(status_int), reason, mesg))


def install() -> None:
    util.write_error = write_error
