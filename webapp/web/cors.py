"""CORS for browser callers of the public JSON endpoints, through flask-cors.

Only predict, predict_proba, health (with its probes) and metadata, at the root and under /api,
answer cross-origin requests: from any origin by default (`CORS_ORIGINS=*`), or from a list.
Never with credentials, and never on the admin endpoints (logs, metrics, monitoring, admin
pages), whose answers a page on another origin must not read.
"""

from __future__ import annotations

import re

from flask import Flask, request
from flask_cors import CORS

PUBLIC_PATHS = re.compile(r"(/api)?/(predict|predict_proba|health(/live|/ready)?|metadata)$")


def allowed_origins(setting: str | None) -> list[str] | str | None:
    """`*` (any origin), a comma-separated list of origins, or `none` (no CORS at all)."""
    value = (setting or "*").strip()
    if value.lower() == "none":
        return None
    if value == "*":
        return "*"
    return [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]


def init_app(app: Flask) -> None:
    origins = allowed_origins(app.config.get("CORS_ORIGINS"))
    if origins is None:
        return
    before = list(app.after_request_funcs.get(None, ()))
    CORS(
        app,
        resources={
            PUBLIC_PATHS: {
                "origins": origins,
                "send_wildcard": origins == "*",  # `*` rather than the caller's origin: one cacheable answer
                "methods": ["GET", "HEAD", "POST", "OPTIONS"],
                "allow_headers": ["Content-Type", "X-Request-ID"],
                "expose_headers": ["X-Request-ID"],
                "supports_credentials": False,
                "max_age": 600,
            }
        },
    )
    # flask-cors reads its rules and the request's headers on every response (tens of
    # microseconds). A request without an Origin header (curl, programs, the UI's proxy) is
    # not a browser's cross-origin call: it skips them for one dict lookup.
    (cors_headers,) = [hook for hook in app.after_request_funcs[None] if hook not in before]
    app.after_request_funcs[None].remove(cors_headers)

    @app.after_request
    def _cross_origin_only(response):
        return cors_headers(response) if request.environ.get("HTTP_ORIGIN") else response
