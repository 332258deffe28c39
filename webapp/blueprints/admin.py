"""The admin's browser pages: log in and out, the log page, its exports and clearing the log.

GET /logs itself lives in logs.py, which hands browsers (Accept prefers HTML) to `log_page`.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from itertools import islice

from flask import (Blueprint, Response, current_app, flash, g, redirect, render_template, request,
                   stream_with_context, url_for)

from .. import features, logs_charts
from ..auth import guard_page, log_in, log_out, logged_in, page_access, page_admin_required
from ..errors import APIError
from ..logs_view import SUMMARY_CAP, csv_lines, jsonl_lines, read_window, summarize, window
from ..logstore import LogQuery
from ..security import check_csrf
from ..services import model_service, prediction_log

logger = logging.getLogger(__name__)

admin = Blueprint("admin", __name__)

PAGE_SIZES = (25, 50, 100, 250, 500)
FILTERS = ("level", "prediction", "min_probability", "max_probability", "since", "until", "request_id",
           "endpoint")


@admin.app_context_processor
def _account():
    return {"admin_logged_in": logged_in, "admin_login_needed": lambda: page_access() == "login"}


@admin.app_template_filter("pretty_json")
def _pretty_json(value) -> str:
    """Indented JSON as plain text, so autoescaping shows it exactly (tojson would emit \\u003c)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@admin.errorhandler(APIError)
def error_page(error: APIError):
    return render_template("admin/error.html", error=error), error.status


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another host."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return url_for("logs.read")


@admin.route("/admin/login", methods=["GET", "POST"])
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


@admin.post("/admin/logout")
def logout():
    check_csrf()
    log_out()
    flash("You are logged out.")
    return redirect(url_for("admin.login") if current_app.config.get("ADMIN_TOKEN") else url_for("logs.read"))


def _page_query() -> tuple[LogQuery, str | None]:
    from .logs import parse_log_query  # logs.py imports this module for log_page

    try:
        return parse_log_query(request.args), None
    except APIError as error:
        return LogQuery(), error.message


def _filter_args() -> dict[str, str]:
    """The filters of this request's query string (no paging), as given."""
    return {name: request.args[name] for name in (*FILTERS, "limit") if request.args.get(name)}


def log_page():
    """GET /logs for a browser: summary, charts, one page of entries."""
    refusal = guard_page()
    if refusal is not None:
        return refusal
    query, error = _page_query()
    log = prediction_log()
    page = log.query(query)
    sample = read_window(log.iter_entries(window(query)))
    model = model_service()
    args = _filter_args()
    return render_template(
        "admin/logs.html",
        page=page, query=query, error=error, args=args, page_sizes=PAGE_SIZES,
        summary=summarize(sample, page.total), summary_cap=SUMMARY_CAP,
        timeline=logs_charts.timeline(sample),
        histogram=logs_charts.probability_histogram(sample, model.threshold),
        labels=features.LABELS, feature_names=features.FEATURES,
    ), 422 if error else 200


@admin.get("/logs/export.<any(csv, jsonl):fmt>")
@page_admin_required
def export(fmt: str):
    query, error = _page_query()
    if error:
        raise APIError(422, error)
    log = prediction_log()
    cap = max(int(current_app.config.get("LOG_MAX_ENTRIES") or 0), SUMMARY_CAP)
    entries = islice(log.iter_entries(window(query)), cap)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    lines, mimetype = (csv_lines(entries), "text/csv") if fmt == "csv" else (jsonl_lines(entries),
                                                                               "application/x-ndjson")
    logger.info("Prediction log exported as %s (request %s)", fmt, g.request_id)
    return Response(stream_with_context(lines), mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="prediction-log-{stamp}.{fmt}"',
        "Cache-Control": "no-store",
    })


@admin.route("/logs/clear", methods=["GET", "POST"])
@page_admin_required
def clear():
    log = prediction_log()
    if request.method == "GET":
        total = log.query(LogQuery(limit=1)).total
        return render_template("admin/clear.html", total=total)
    check_csrf()
    removed = log.clear()
    logger.info("Prediction log cleared (%d entries) from the admin page by request %s", removed, g.request_id)
    flash(f"Deleted {removed} log entries.")
    return redirect(url_for("logs.read"))
