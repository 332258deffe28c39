"""GET /logs (read, filter, page) and DELETE /logs (clear): admin only."""
from __future__ import annotations

import logging

from flask import Blueprint, g, jsonify, request
from marshmallow import ValidationError

from ..auth import admin_required
from ..errors import APIError
from ..logstore import LogQuery, StoreUnavailable
from ..schemas import LogQuerySchema
from ..services import prediction_log

logger = logging.getLogger(__name__)

logs = Blueprint("logs", __name__)

_query_schema = LogQuerySchema()


def parse_log_query(args) -> LogQuery:
    """The LogQuery a query string asks for; 422 naming each bad parameter."""
    try:
        return LogQuery(**_query_schema.load(args.to_dict()))
    except ValidationError as exc:
        raise APIError(422, "Invalid log query: " + ", ".join(exc.messages) + ".", exc.messages) from exc


def _store_unavailable(exc: StoreUnavailable) -> APIError:
    return APIError(503, f"The prediction log store is unavailable: {exc}")


@logs.get("/logs")
@admin_required
def read():
    query = parse_log_query(request.args)
    log = prediction_log()
    log.flush(timeout=0.5)  # this process's own recent entries, so a client reads its writes
    try:
        page = log.query(query)
    except StoreUnavailable as exc:
        raise _store_unavailable(exc) from exc
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
    try:
        removed = prediction_log().clear()
    except StoreUnavailable as exc:
        raise _store_unavailable(exc) from exc
    logger.info("Prediction log cleared (%d entries) by request %s", removed, g.request_id)
    return jsonify(message="Prediction log cleared.", deleted=removed, request_id=g.request_id)
