"""The prediction log page for the admin's browser: summary, charts, one page of entries, the
filtered window's export, and clearing the log after a confirmation.

GET /logs itself is webapp.api.logs, which hands browsers (Accept prefers HTML) to `show`.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from itertools import islice

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from webapp import features, i18n
from webapp.admin import charts
from webapp.admin.export import csv_lines, jsonl_lines
from webapp.admin.summary import SUMMARY_CAP, summarize, window
from webapp.logstore import LogQuery
from webapp.logstore.base import bulk_read, one_window
from webapp.web.auth import guard_page, page_admin_required
from webapp.web.errors import APIError
from webapp.web.extensions import model_service, prediction_log
from webapp.web.language import request_language
from webapp.web.negotiation import negotiated
from webapp.web.schemas import parse_log_query
from webapp.web.security import check_csrf

logger = logging.getLogger(__name__)

log_page = Blueprint("log_page", __name__)

PAGE_SIZES = (25, 50, 100, 250, 500)
FILTERS = (
    "level",
    "prediction",
    "min_probability",
    "max_probability",
    "since",
    "until",
    "request_id",
    "endpoint",
)


@log_page.app_template_filter("pretty_json")
def _pretty_json(value) -> str:
    """Indented JSON as plain text, so autoescaping shows it exactly (tojson would emit \\u003c)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _page_query() -> tuple[LogQuery, str | None]:
    try:
        return parse_log_query(request.args), None
    except APIError as error:
        return LogQuery(), error.message


def _filter_args() -> dict[str, str]:
    """The filters of this request's query string (no paging), as given."""
    return {name: request.args[name] for name in (*FILTERS, "limit") if request.args.get(name)}


def show():
    """GET /logs for a browser: summary, charts, one page of entries."""
    refusal = guard_page()
    if refusal is not None:
        return refusal
    query, error = _page_query()
    log = prediction_log()
    model = model_service()
    args = _filter_args()
    lang = request_language()
    with bulk_read(), one_window():  # the rows, total and summary read the filtered window once
        page = log.query(query)
        sample = log.summary_columns(query, SUMMARY_CAP)
        summary = summarize(sample, page.total)
        timeline = charts.timeline(sample)
        histogram = charts.probability_histogram(sample, model.threshold)
    return render_template(
        "admin/logs.html",
        page=page,
        query=query,
        error=error,
        args=args,
        page_sizes=PAGE_SIZES,
        summary=summary,
        summary_cap=SUMMARY_CAP,
        timeline=timeline,
        histogram=histogram,
        labels={name: i18n.label(lang, name) for name in features.FEATURES},
        feature_names=features.FEATURES,
        risk_names={level: i18n.risk_name(lang, level) for level in ("low", "moderate", "high")},
    ), 422 if error else 200


@log_page.get("/logs/export.<any(csv, jsonl):fmt>")
@negotiated  # a browser gets its errors as a page, a program (curl -OJ) in the envelope
@page_admin_required
def export(fmt: str):
    query, error = _page_query()
    if error:
        raise APIError(422, error)
    log = prediction_log()
    cap = max(int(current_app.config.get("LOG_MAX_ENTRIES") or 0), SUMMARY_CAP)
    entries = islice(log.iter_entries(window(query)), cap)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    lines, mimetype = (
        (csv_lines(entries), "text/csv") if fmt == "csv" else (jsonl_lines(entries), "application/x-ndjson")
    )
    logger.info("Prediction log exported as %s (request %s)", fmt, g.request_id)
    return Response(
        stream_with_context(lines),
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="prediction-log-{stamp}.{fmt}"',
            "Cache-Control": "no-store",
        },
    )


@log_page.route("/logs/clear", methods=["GET", "POST"])
@negotiated
@page_admin_required
def clear():
    log = prediction_log()
    if request.method == "GET":
        total = log.query(LogQuery(limit=1)).total
        return render_template("admin/clear.html", total=total)
    check_csrf()
    removed = log.clear()
    logger.info(
        "Prediction log cleared (%d entries) from the admin page by request %s", removed, g.request_id
    )
    flash(i18n.text(request_language(), "admin_page.deleted", count=removed))
    return redirect(url_for("logs.read"))
