"""The operations of the JSON API, by the endpoint of the view that serves them.

Schemas are named by their component (the package's `_SCHEMAS`); errors by status, answered
by the shared error responses. apispec turns the query schemas into parameters.
"""

from __future__ import annotations

from typing import Any

from webapp.admin.monitoring_page import DriftQuerySchema
from webapp.api.openapi import examples
from webapp.web.schemas import LogQuerySchema

#: Error statuses the API documents: component name, when it happens, example envelope.
ERRORS: dict[int, tuple[str, str, dict[str, Any]]] = {
    400: (
        "BadRequest",
        "Malformed JSON or an empty body.",
        examples.error("bad_request", "Malformed JSON: unexpected end of data: line 1 column 2 (char 1)."),
    ),
    401: (
        "Unauthorized",
        "ADMIN_TOKEN is set and the request has no valid `Authorization: Bearer <token>`.",
        examples.error("unauthorized", "Admin token required: send 'Authorization: Bearer <token>'."),
    ),
    403: (
        "Forbidden",
        "A public deployment (SPACE_ID set) without ADMIN_TOKEN: admin endpoints are closed.",
        examples.error(
            "forbidden", "Admin endpoints are closed on a public deployment until ADMIN_TOKEN is set."
        ),
    ),
    404: (
        "NotFound",
        "No endpoint at this path.",
        examples.error(
            "not_found",
            "The requested URL was not found on the server. If you entered the URL "
            "manually please check your spelling and try again.",
        ),
    ),
    405: (
        "MethodNotAllowed",
        "The path does not take this method; `Allow` lists those it takes.",
        examples.error(
            "method_not_allowed",
            "The method is not allowed for the requested URL.",
            {"allowed_methods": ["OPTIONS", "POST"]},
        ),
    ),
    413: (
        "PayloadTooLarge",
        "The body is over MAX_CONTENT_LENGTH bytes, or the batch over MAX_BATCH_SIZE records.",
        examples.error(
            "payload_too_large",
            "A batch holds at most 1000 records; this one has 1200.",
            {"max_batch_size": 1000, "received": 1200},
        ),
    ),
    415: (
        "UnsupportedMediaType",
        "The body is not sent as `application/json`.",
        examples.error(
            "unsupported_media_type",
            "Send the record as JSON with 'Content-Type: application/json'.",
            {"content_type": "text/plain"},
        ),
    ),
    422: (
        "ValidationError",
        (
            "Invalid fields: `details` names every bad field with its messages "
            "(in a batch, under `records` and the row index)."
        ),
        examples.VALIDATION_ERROR,
    ),
    429: (
        "TooManyRequests",
        "This client address sent more prediction requests or rows than "
        "PREDICT_RATE_LIMIT / PREDICT_ROWS_RATE_LIMIT allow; `Retry-After` says when to retry.",
        examples.error(
            "too_many_requests",
            "Too many prediction requests from this address (limit 300 per 1 minute): try again in 42 s.",
            {"limit": "300 per 1 minute", "retry_after": 42},
        ),
    ),
    503: (
        "ServiceUnavailable",
        "A store or file the answer needs is unavailable (the prediction log, the drift reference).",
        examples.error("service_unavailable", "The prediction log store is unavailable: Connection refused."),
    ),
}

_ERROR_NAMES = {status: name for status, (name, _, _) in ERRORS.items()}
_ADMIN = [{"adminBearer": []}]
_ADMIN_ERRORS = (401, 403, 503)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _answer(
    description: str, schema: dict[str, Any], examples_: dict[str, Any] | None = None
) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if examples_:
        media["examples"] = {name: {"value": value} for name, value in examples_.items()}
    return {
        "description": description,
        "headers": {"X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}},
        "content": {"application/json": media},
    }


def _operation(
    operation_id: str, tag: str, summary: str, answers: dict[Any, Any], errors=(), **more: Any
) -> dict[str, Any]:
    responses = {str(status): answer for status, answer in answers.items()}
    responses.update({str(status): _ERROR_NAMES[status] for status in errors})
    return {
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary,
        "parameters": ["RequestId", *more.pop("parameters", [])],
        "responses": responses,
        **more,
    }


def _predict(operation_id: str, summary: str, single: str, batch: str) -> dict[str, Any]:
    name = operation_id
    request_examples = {
        key: {"summary": summary_, "value": body} for key, (summary_, body) in examples.REQUESTS[name].items()
    }
    return _operation(
        operation_id,
        "predictions",
        summary,
        {
            200: _answer(
                "The result for one record, or `predictions` and `count` for a batch (in order).",
                {"oneOf": [_ref(single), _ref(batch)]},
                examples.RESPONSES[name],
            )
        },
        errors=(400, 413, 415, 422, 429),
        description='Send one record, a JSON array of records, or `{"records": [...]}`; a batch is '
        "scored in one vectorized call and holds at most MAX_BATCH_SIZE records (413 above). "
        "A 422 names every bad field (in a batch, by row index). Each prediction, and each "
        "rejected request, is written to the prediction log.",
        requestBody={
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"oneOf": [_ref("Patient"), _ref("PatientArray"), _ref("PatientRecords")]},
                    "examples": request_examples,
                }
            },
        },
    )


def operations() -> dict[str, dict[str, dict[str, Any]]]:
    """{endpoint: {method: operation}} for every JSON endpoint."""
    return {
        "info.index": {
            "get": _operation(
                "info",
                "service",
                "Service information and the endpoint map",
                {200: _answer("Service information.", _ref("Info"))},
            )
        },
        "info.metadata": {
            "get": _operation(
                "metadata",
                "service",
                "The model card: inputs, outputs, threshold, risk bands, metrics",
                {200: _answer("The model's metadata.", _ref("Metadata"))},
            )
        },
        "health.overall": {
            "get": _operation(
                "health",
                "service",
                "Health of the model and the prediction log",
                {
                    200: _answer(
                        "Predictions can be served (`healthy`, or `degraded` with the reasons).",
                        _ref("Health"),
                    ),
                    503: _answer("Predictions cannot be served (`unhealthy`).", _ref("Health")),
                },
            )
        },
        "health.live": {
            "get": _operation(
                "liveness",
                "service",
                "Liveness probe: the process answers",
                {200: _answer("Alive.", _ref("Probe"))},
            )
        },
        "health.ready": {
            "get": _operation(
                "readiness",
                "service",
                "Readiness probe: the model is loaded",
                {200: _answer("Ready.", _ref("Probe")), 503: _answer("Not ready.", _ref("Probe"))},
            )
        },
        "predict.predict_class": {
            "post": _predict(
                "predict",
                "Risk class, probability, risk level and main factors",
                "Prediction",
                "PredictionBatch",
            )
        },
        "predict.predict_probabilities": {
            "post": _predict(
                "predict_proba",
                "The same, with both class probabilities",
                "Probabilities",
                "ProbabilitiesBatch",
            )
        },
        "logs.read": {
            "get": _operation(
                "read_logs",
                "admin",
                "Read the prediction log, newest first, filtered and paged",
                {200: _answer("A page of entries.", _ref("LogPage"))},
                errors=(*_ADMIN_ERRORS, 422),
                security=_ADMIN,
                parameters=[{"in": "query", "schema": LogQuerySchema}],
                description="Programs get JSON here (and always under `/api`); a browser at `/logs`, "
                "whose Accept prefers HTML, gets the admin page instead.",
            ),
        },
        "logs.clear": {
            "delete": _operation(
                "clear_logs",
                "admin",
                "Clear the prediction log",
                {200: _answer("The log was cleared.", _ref("LogsCleared"))},
                errors=_ADMIN_ERRORS,
                security=_ADMIN,
            ),
        },
        "monitoring_page.drift_json": {
            "get": _operation(
                "drift",
                "admin",
                "Input drift of the logged predictions against the training reference",
                {200: _answer("The drift report of the window.", _ref("DriftReport"))},
                errors=(*_ADMIN_ERRORS, 422),
                security=_ADMIN,
                parameters=[{"in": "query", "schema": DriftQuerySchema}],
                description="The window is the newest `last` logged predictions, optionally only those "
                "between `since` and `until` (ISO 8601, UTC when no offset is given).",
            )
        },
        "monitoring_page.show": {
            "get": _operation(
                "monitoring",
                "admin",
                "The drift report, at the monitoring page's address",
                {200: _answer("The drift report of the window.", _ref("DriftReport"))},
                errors=(*_ADMIN_ERRORS, 422),
                security=_ADMIN,
                parameters=[{"in": "query", "schema": DriftQuerySchema}],
                description="Programs get the same JSON as `/monitoring/drift`; a browser, whose Accept "
                "prefers HTML, gets the monitoring page instead.",
            )
        },
    }
