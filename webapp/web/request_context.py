"""Request ids and timing, shared by every endpoint."""

from __future__ import annotations

import random
import re
import time

from flask import Flask, g, request

HEADER = "X-Request-ID"
_ENVIRON_HEADER = "HTTP_X_REQUEST_ID"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def _start_request() -> None:
    state = g._get_current_object()  # one context look-up, not one for each use of the proxy
    state.started = time.perf_counter()
    given = request.environ.get(_ENVIRON_HEADER, "")  # request.headers[HEADER], without its lookup
    state.request_id = given if _VALID_ID.match(given) else new_request_id()


def new_request_id() -> str:
    """32 hex digits. Not a secret: the module PRNG (reseeded after fork) is enough and
    avoids a getrandom() system call per request."""
    return f"{random.getrandbits(128):032x}"


def _tag_response(response):
    request_id = g.get("request_id")
    if request_id:
        response.headers[HEADER] = request_id
    return response


def elapsed_ms(started: float) -> float:
    """Milliseconds since `started` (the request's `g.started`), as the log keeps them."""
    return round((time.perf_counter() - started) * 1000.0, 3)


def init_app(app: Flask) -> None:
    app.before_request(_start_request)
    app.after_request(_tag_response)
