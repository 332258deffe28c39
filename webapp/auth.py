"""Admin access to the prediction log.

With ADMIN_TOKEN set, admin endpoints need `Authorization: Bearer <token>`. Without it they
are open on a developer machine and closed (403) on a public Space (SPACE_ID set).
"""
from __future__ import annotations

import hmac
from functools import wraps

from flask import current_app, request

from .errors import APIError


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def token_matches(token: str | None) -> bool:
    expected = current_app.config.get("ADMIN_TOKEN")
    return bool(expected and token and hmac.compare_digest(token.encode(), expected.encode()))


def check_admin() -> None:
    """Raise the APIError that refuses this request, or return when it may go on."""
    if current_app.config.get("ADMIN_TOKEN"):
        if token_matches(bearer_token()):
            return
        raise APIError(401, "Admin token required: send 'Authorization: Bearer <token>'.",
                       headers={"WWW-Authenticate": 'Bearer realm="admin"'})
    if current_app.config.get("SPACE_ID"):
        raise APIError(403, "Admin endpoints are closed on a public deployment until ADMIN_TOKEN is set.")


def admin_required(view):
    @wraps(view)
    def guarded(*args, **kwargs):
        check_admin()
        return view(*args, **kwargs)

    return guarded
