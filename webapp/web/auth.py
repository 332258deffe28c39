"""Admin access to the prediction log.

With ADMIN_TOKEN set, admin endpoints need `Authorization: Bearer <token>`. Without it they
are open on a developer machine and closed (403) on a public Space (SPACE_ID set).

The admin pages follow the same rules, but a browser logs in once: the login form exchanges the
token for a signed session cookie. The JSON API never reads that cookie (Bearer only), so it
needs no CSRF protection; the pages' forms do (see security.py).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from functools import wraps

from flask import current_app, redirect, render_template, request, session, url_for

from webapp.logstore import StoreUnavailable
from webapp.web.errors import APIError
from webapp.web.negotiation import prefers_html

logger = logging.getLogger(__name__)

SESSION_KEY = "admin"


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
        raise APIError(
            401,
            "Admin token required: send 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": 'Bearer realm="admin"'},
        )
    if current_app.config.get("SPACE_ID"):
        raise APIError(403, "Admin endpoints are closed on a public deployment until ADMIN_TOKEN is set.")


def admin_required(view):
    @wraps(view)
    def guarded(*args, **kwargs):
        check_admin()
        return view(*args, **kwargs)

    return guarded


def _session_stamp() -> str:
    """What a logged-in session holds: bound to the current token, so rotating ADMIN_TOKEN
    ends every session, and to the server-side session version, so a logout ends every session
    (a copied cookie included); keyed with SECRET_KEY, so the readable cookie reveals nothing."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    version = current_app.extensions["session_version"].current()
    message = f"{version}:{current_app.config['ADMIN_TOKEN']}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def log_in(token: str | None) -> bool:
    """Start an admin session when `token` is the admin token; False otherwise."""
    if not token_matches(token):
        return False
    session.clear()  # a fresh session (and CSRF token) at every login
    session[SESSION_KEY] = _session_stamp()
    session.permanent = True
    return True


def log_out() -> None:
    """End this session and every other one: the server-side session version moves on."""
    if logged_in():
        current_app.extensions["session_version"].advance()
    session.clear()


def logged_in() -> bool:
    stamp = session.get(SESSION_KEY)
    if not (current_app.config.get("ADMIN_TOKEN") and isinstance(stamp, str)):
        return False
    try:
        expected = _session_stamp()
    except StoreUnavailable as exc:  # the version cannot be read: no session can be trusted
        logger.warning("Admin session not checked, session version unavailable: %s", exc)
        return False
    return hmac.compare_digest(stamp, expected)


def page_access() -> str:
    """'open' (no token needed), 'granted', 'login' (must log in) or 'closed' (public Space)."""
    if current_app.config.get("ADMIN_TOKEN"):
        return "granted" if logged_in() or token_matches(bearer_token()) else "login"
    if current_app.config.get("SPACE_ID"):
        return "closed"
    return "open"


def guard_page():
    """The response that turns this page request away, or None when it may go on.

    A browser is sent to the login form (or shown 'closed'); a program gets the API's 401 or 403
    in the error envelope, as from any admin endpoint.
    """
    access = page_access()
    if access in ("login", "closed") and not prefers_html():
        check_admin()
    if access == "login":
        return redirect(url_for("account.login", next=request.full_path.rstrip("?")))
    if access == "closed":
        return render_template("admin/closed.html"), 403
    return None


def page_admin_required(view):
    """For HTML admin pages: redirect to the login form (or show 'closed') instead of a 401."""

    @wraps(view)
    def guarded(*args, **kwargs):
        refusal = guard_page()
        if refusal is not None:
            return refusal
        return view(*args, **kwargs)

    return guarded
