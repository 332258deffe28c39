"""Input drift of the logged predictions against the training reference: admin only.

    GET /monitoring               the admin page (JSON too when the client asks for it)
    GET /api/monitoring/drift     JSON for programs (also at /monitoring/drift)

The window is the newest `last` logged predictions (default 1000), optionally only those
between `since` and `until` (ISO 8601, UTC when no offset is given).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, g, jsonify, render_template, request
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates

from webapp.logstore import LogQuery, normalize_timestamp
from webapp.logstore.base import DriftWindow, bulk_read
from webapp.monitoring import charts as drift_charts
from webapp.monitoring.drift import DEFAULT_LAST, drift_report, format_p
from webapp.monitoring.reference import ReferenceError, load_reference
from webapp.web.auth import admin_required, check_admin, page_admin_required
from webapp.web.errors import APIError
from webapp.web.extensions import prediction_log
from webapp.web.negotiation import negotiated, wants_html

logger = logging.getLogger(__name__)

monitoring_page = Blueprint("monitoring_page", __name__)

MAX_LAST = 100_000


_TIME = "ISO 8601 date or time; UTC when no offset is given."


class DriftQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    last = fields.Integer(
        load_default=DEFAULT_LAST,
        validate=validate.Range(1, MAX_LAST),
        metadata={"description": "How many of the newest logged predictions to compare."},
    )
    since = fields.String(load_default=None, metadata={"format": "date-time", "description": _TIME})
    until = fields.String(load_default=None, metadata={"format": "date-time", "description": _TIME})

    @validates("since", "until")
    def _iso_timestamp(self, value: str | None, data_key: str, **kwargs) -> None:
        if value is None:
            return
        try:
            normalize_timestamp(value)
        except ValueError as exc:
            raise ValidationError("Must be an ISO 8601 date or time, e.g. 2026-01-31T12:00:00Z.") from exc


_schema = DriftQuerySchema()


def parse_window(args) -> dict[str, Any]:
    """The window a query string asks for; 422 naming each bad parameter. Empty fields are unset."""
    given = {key: value for key, value in args.items() if value.strip()}
    try:
        return _schema.load(given)
    except ValidationError as exc:
        raise APIError(422, "Invalid drift window: " + ", ".join(exc.messages) + ".", exc.messages) from exc


def reference() -> dict[str, Any]:
    """The training reference, read once per process on first use."""
    cached = current_app.extensions.get("drift_reference")
    if cached is None:
        try:
            cached = load_reference(current_app.config["MODEL_DIR"])
        except ReferenceError as exc:
            raise APIError(503, f"No training reference to compare with: {exc}") from exc
        current_app.extensions["drift_reference"] = cached
    return cached


def window_entries(window: dict[str, Any]) -> DriftWindow:
    """The compared predictions among the newest `last` logged ones in the window."""
    query = LogQuery(level="INFO", since=window["since"], until=window["until"])
    return prediction_log().drift_window(query, window["last"])


def current_report(window: dict[str, Any]) -> dict[str, Any]:
    with bulk_read():
        report = drift_report(reference(), window_entries(window))
    report["window"]["requested"] = window
    return report


def _json(window: dict[str, Any]):
    return jsonify(**current_report(window), request_id=g.request_id)


@monitoring_page.get("/monitoring/drift")
@monitoring_page.get("/api/monitoring/drift")
@admin_required
def drift_json():
    return _json(parse_window(request.args))


@monitoring_page.get("/monitoring")
@monitoring_page.get("/api/monitoring")  # always JSON there, like every path under /api
@negotiated
def show():
    if not wants_html():
        check_admin()
        return _json(parse_window(request.args))
    return _page()


@page_admin_required
def _page():
    args = {key: value for key, value in request.args.items() if key in ("last", "since", "until") and value}
    context = {
        "args": args,
        "max_last": MAX_LAST,
        "format_p": format_p,
        "error": None,
        "window": {"last": DEFAULT_LAST, "since": None, "until": None},
    }
    try:
        window = parse_window(request.args)
        context["window"] = window
        report = current_report(window)
    except APIError as error:
        context["error"] = error.message
        return render_template("monitoring.html", **context), error.status
    context.update(report=report, charts=drift_charts.charts(report))
    return render_template("monitoring.html", **context)
