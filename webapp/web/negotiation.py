"""HTML or JSON: the one rule, for the answers and for the errors.

A view is JSON unless marked. `@negotiated` marks an address
that serves browsers and programs (GET /logs, GET /monitoring, the export, clear and login),
where a browser gets the page and its errors as a page, and a program the JSON and the error
envelope. Under /api everything is JSON.
"""

from __future__ import annotations

from flask import current_app, request

API_PREFIX = "/api"

_ANSWERS = "answers_html"
NEGOTIATED = "negotiated"


def negotiated(view):
    """Mark a view that answers HTML or JSON at one address, as `wants_html` decides."""
    setattr(view, _ANSWERS, NEGOTIATED)
    return view


def prefers_html() -> bool:
    """A browser: its Accept ranks text/html strictly above JSON (curl's */* is a tie: JSON)."""
    accept = request.accept_mimetypes
    return accept["text/html"] > accept["application/json"]


def wants_html() -> bool:
    """Whether this request's answer, or its error, is HTML."""
    if request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/"):
        return False
    answers = getattr(current_app.view_functions.get(request.endpoint), _ANSWERS, None)
    return answers == NEGOTIATED and prefers_html()
