"""GET /logs (read, filter, page) and DELETE /logs (clear): admin only.

GET /logs answers JSON to programs (curl's */* included) and always at /api/logs; a browser,
whose Accept prefers text/html, gets the admin page instead (webapp.admin.log_page).
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, g, jsonify, request

from webapp.admin import log_page
from webapp.web.auth import admin_required, check_admin
from webapp.web.extensions import prediction_log
from webapp.web.negotiation import negotiated, wants_html
from webapp.web.schemas import parse_log_query

logger = logging.getLogger(__name__)

logs = Blueprint("logs", __name__)


@logs.get("/logs")
@negotiated
def read():
    if wants_html():
        response = log_page.show()
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
