"""Admin sign-in for the browser pages: log in (token for a signed session cookie) and log out."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, flash, g, redirect, render_template, request, url_for

from webapp import i18n
from webapp.web.auth import log_in, log_out, logged_in, page_access
from webapp.web.errors import APIError
from webapp.web.language import request_language
from webapp.web.limits import limit_blueprint
from webapp.web.negotiation import negotiated
from webapp.web.security import check_csrf

logger = logging.getLogger(__name__)

account = Blueprint("account", __name__)


@account.app_context_processor
def _account():
    return {"admin_logged_in": logged_in, "admin_login_needed": lambda: page_access() == "login"}


def limit_logins(app: Flask) -> None:
    """Refused logins per client address are limited (LOGIN_RATE_LIMIT); a 401 is one guess, so
    an admin who logs in and out often is never locked out."""
    limit_blueprint(
        app,
        account,
        app.config["LOGIN_RATE_LIMIT"],
        methods=["POST"],
        deduct_when=lambda response: response.status_code == 401,
        error_message="Too many refused logins from this address: wait, then try again.",
    )


def _safe_next(target: str | None) -> str:
    """A path on this site, or the log page when none is given; 400 for anything else.

    Browsers drop tabs and newlines from a URL and read a backslash as a slash, so
    ``/\t/example.org`` is ``//example.org``, another host: only printable ASCII without a
    backslash is accepted, as a path that does not start with two slashes.
    """
    if not target:
        return url_for("logs.read")
    parts = urlsplit(target) if target.isascii() and target.isprintable() else None
    if (
        parts is None
        or " " in target
        or "\\" in target
        or not target.startswith("/")
        or target.startswith("//")
        or parts.scheme
        or parts.netloc
    ):
        raise APIError(
            400, "'next' must be a path on this site, such as /logs.", {"next": ["Must be a local path."]}
        )
    return target


@account.route("/admin/login", methods=["GET", "POST"])
@negotiated  # a browser gets its errors as a page, a program (or a 429) in the envelope
def login():
    if not current_app.config.get("ADMIN_TOKEN"):
        return redirect(url_for("logs.read"))
    target = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if logged_in():
            return redirect(target)
        return render_template("admin/login.html", next=target)
    check_csrf()
    if not log_in(request.form.get("token", "").strip()):
        logger.warning("Admin login refused (request %s)", g.request_id)
        return render_template("admin/login.html", next=target, failed=True), 401
    logger.info("Admin logged in (request %s)", g.request_id)
    return redirect(target)


@account.post("/admin/logout")
@negotiated
def logout():
    check_csrf()
    log_out()
    flash(i18n.text(request_language(), "admin_page.logged_out"))
    if current_app.config.get("ADMIN_TOKEN"):
        return redirect(url_for("account.login"))
    return redirect(url_for("logs.read"))
