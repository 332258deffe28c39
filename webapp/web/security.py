"""Browser-facing safety: the session cookie, CSRF tokens and security headers.

The JSON API authenticates with a Bearer token and never reads the cookie, so CSRF only
guards the admin pages' forms. A small per-session token is enough for a handful of forms and
avoids a form library: it lives in the signed session and is compared in constant time.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import timedelta

from flask import Flask, request, session
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp.web.errors import APIError

logger = logging.getLogger(__name__)

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class AdminSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, marked Secure whenever the request came over HTTPS.

    Behind a proxy (nginx on the Space) set TRUSTED_PROXIES so X-Forwarded-Proto is believed.
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure

    def open_session(self, app: Flask, request):
        # Most requests (every API call) carry no session cookie: skip building a signer for them
        # (and, without any Cookie header, skip parsing the cookies too).
        if "HTTP_COOKIE" not in request.environ or self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session, response) -> None:
        # Flask's save_session reads seven cookie settings first and then does nothing for a
        # session nobody read, changed or filled (every API call): skip it for those at once.
        if session or session.accessed or session.modified:
            super().save_session(app, session, response)


def csrf_token() -> str:
    """This session's CSRF token, created on first use (templates call it in every form)."""
    token = session.get(CSRF_FIELD)
    if not token:
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Refuse (400) a state-changing request whose CSRF token does not match the session's."""
    expected = session.get(CSRF_FIELD)
    given = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise APIError(
            400,
            "The form has expired or did not come from this site: reload the page and try again.",
            code="csrf_failed",
        )


def _security_headers(response):
    headers = response.headers
    present = {name.lower() for name, _ in headers}  # one pass, not one scan per header
    for name, value in _HEADERS.items():
        if name.lower() not in present:
            headers.add(name, value)
    if response.mimetype == "text/html" and "content-security-policy" not in present:
        headers.add("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    return response


def _ensure_secret_key(app: Flask) -> None:
    """A random key when none is configured: secure, made once before Gunicorn forks (preload),
    so every worker shares it; admin sessions end when the service restarts."""
    if app.config.get("SECRET_KEY"):
        return
    app.config["SECRET_KEY"] = secrets.token_hex(32)
    if app.config.get("ADMIN_TOKEN") and not app.config.get("TESTING"):
        logger.warning(
            "SECRET_KEY is not set: admin sessions are signed with a random key and end "
            "when the service restarts; set SECRET_KEY to keep them across restarts"
        )


def init_app(app: Flask) -> None:
    _ensure_secret_key(app)
    app.config.update(
        SESSION_COOKIE_NAME="lungrisk_admin",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
    )
    app.session_interface = AdminSessionInterface()
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.after_request(_security_headers)
