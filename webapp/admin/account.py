"""Admin sign-in for the browser pages: log in (token for a signed session cookie) and log out."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

from webapp import i18n
from webapp.web.auth import log_in, log_out, logged_in, page_access
from webapp.web.language import request_language
from webapp.web.negotiation import page
from webapp.web.security import check_csrf

logger = logging.getLogger(__name__)

account = Blueprint("account", __name__)


@account.app_context_processor
def _account():
    return {"admin_logged_in": logged_in, "admin_login_needed": lambda: page_access() == "login"}


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another host."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return url_for("logs.read")


@account.route("/admin/login", methods=["GET", "POST"])
@page
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
@page
def logout():
    check_csrf()
    log_out()
    flash(i18n.text(request_language(), "admin_page.logged_out"))
    if current_app.config.get("ADMIN_TOKEN"):
        return redirect(url_for("account.login"))
    return redirect(url_for("logs.read"))
