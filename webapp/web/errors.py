"""Every error leaves through one handler: the JSON envelope, or the error page for a browser
at an admin page (webapp.web.negotiation decides which).

    {"error": {"code": ..., "message": ..., "details": ...}, "request_id": ...}
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, g, jsonify, render_template
from werkzeug.exceptions import HTTPException

from webapp import i18n
from webapp.logstore import StoreUnavailable
from webapp.web.language import request_language
from webapp.web.negotiation import wants_html

logger = logging.getLogger(__name__)

# Werkzeug's status codes mapped to the envelope's stable machine-readable codes.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    417: "expectation_failed",
    422: "validation_error",
    429: "too_many_requests",
    431: "request_header_fields_too_large",
    500: "internal_error",
    501: "not_implemented",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


class APIError(Exception):
    """An error the API answers on purpose, with its status and details."""

    def __init__(
        self,
        status: int,
        message: str,
        details: Any = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.code = code or _HTTP_CODES.get(status, "error")
        self.headers = headers or {}


def code_for(status: int) -> str:
    """The envelope's machine-readable code of an HTTP status."""
    return _HTTP_CODES.get(status, "error")


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {
        "error": {"code": code, "message": message, "details": details},
        "request_id": g.get("request_id"),
    }


def error_response(error: APIError):
    """The envelope, its sentences in the reader's language (codes and field names stay English)."""
    lang = request_language()
    response = jsonify(
        error_body(error.code, i18n.localize(error.message, lang), i18n.localize(error.details, lang))
    )
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


def error_page(error: APIError):
    return render_template("admin/error.html", error=error), error.status, error.headers


def _handle_api_error(error: APIError):
    return error_page(error) if wants_html() else error_response(error)


def _handle_http_exception(exc: HTTPException):
    status = exc.code or 500
    details = None
    headers = {}
    if status == 405 and exc.valid_methods:
        details = {"allowed_methods": sorted(exc.valid_methods)}
        headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    if status == 413:
        message = i18n.text("en", "api.body_too_large")
    else:
        message = exc.description or exc.name
    return _handle_api_error(APIError(status, message, details, headers=headers))


def _handle_store_unavailable(exc: Exception):
    """A log store that is down is a 503 wherever it is read."""
    return _handle_api_error(APIError(503, f"The prediction log store is unavailable: {exc}"))


def _handle_unexpected(exc: Exception):
    logger.exception("Unhandled error while serving request %s", g.get("request_id"))
    return _handle_api_error(APIError(500, "Internal server error."))


def register_errorhandlers(app: Flask) -> None:
    app.register_error_handler(APIError, _handle_api_error)
    app.register_error_handler(StoreUnavailable, _handle_store_unavailable)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, _handle_unexpected)
