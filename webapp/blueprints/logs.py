"""GET /logs (read, filter, page) and DELETE /logs (clear): admin only.

GET /logs answers JSON to programs (curl's */* included) and always at /api/logs; a browser,
whose Accept prefers text/html, gets the admin page instead (blueprints/admin.py).
"""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, g, jsonify, request
from marshmallow import ValidationError

from ..auth import admin_required, check_admin
from ..errors import APIError, error_response
from ..logstore import LogQuery
from ..schemas import LogQuerySchema
from ..services import prediction_log
from .admin import error_page, log_page

logger = logging.getLogger(__name__)

logs = Blueprint("logs", __name__)

_query_schema = LogQuerySchema()


def parse_log_query(args) -> LogQuery:
    """The LogQuery a query string asks for; 422 naming each bad parameter."""
    try:
        return LogQuery(**_query_schema.load(args.to_dict()))
    except ValidationError as exc:
        raise APIError(422, "Invalid log query: " + ", ".join(exc.messages) + ".", exc.messages) from exc


def wants_html() -> bool:
    """True for a browser at /logs: text/html ranks above JSON. Never under /api."""
    if request.blueprint != logs.name:
        return False
    accept = request.accept_mimetypes
    return accept.best_match(["application/json", "text/html"]) == "text/html" and \
        accept["text/html"] > accept["application/json"]


@logs.errorhandler(APIError)
def _error(error: APIError):
    """A browser at /logs gets its errors as a page, programs as the JSON envelope."""
    return error_page(error) if wants_html() else error_response(error)


@logs.get("/logs")
def read():
    if wants_html():
        response = log_page()
    else:
        check_admin()
        response = _read_json()
    response = current_app.make_response(response)
    response.vary.add("Accept")
    return response


def _read_json():
    query = parse_log_query(request.args)
    page = prediction_log().query(query)
    return jsonify(
        total=page.total,
        logs=page.entries,
        limit=query.limit,
        offset=query.offset,
        next_cursor=page.next_cursor,
        request_id=g.request_id,
    )


@logs.delete("/logs")
@admin_required
def clear():
    removed = prediction_log().clear()
    logger.info("Prediction log cleared (%d entries) by request %s", removed, g.request_id)
    return jsonify(message="Prediction log cleared.", deleted=removed, request_id=g.request_id)
