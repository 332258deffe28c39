"""POST /predict and /predict_proba: one record or a batch, validated, scored and logged."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, request
from werkzeug.exceptions import HTTPException

from webapp import i18n
from webapp.api import responses
from webapp.api.instrumentation import metrics
from webapp.api.schemas import PlainBatch, ignored_key_warnings, load_records
from webapp.logstore import entry
from webapp.web.errors import APIError
from webapp.web.extensions import model_service, prediction_log
from webapp.web.json_keys import loads as load_json
from webapp.web.language import language_of
from webapp.web.limits import spend
from webapp.web.request_context import elapsed_ms

predict = Blueprint("predict", __name__)


@predict.post("/predict")
def predict_class():
    return _serve(with_probabilities=False)


@predict.post("/predict_proba")
def predict_probabilities():
    return _serve(with_probabilities=True)


def _serve(with_probabilities: bool):
    # The app, request and g once: each use of Flask's proxies looks the context up again (about
    # a microsecond), and a prediction made sixteen of those.
    app, req, state = (
        current_app._get_current_object(),
        request._get_current_object(),
        g._get_current_object(),
    )
    environ = req.environ
    # Refused before anything is logged: a flood of requests must not fill the log with refusals.
    spend(app, environ, "PREDICT_RATE_LIMIT", 1, "prediction requests")
    payload: Any = None
    try:
        payload = _read_json(req)
        records, is_batch = load_records(payload, app.config["MAX_BATCH_SIZE"])
    except (APIError, HTTPException) as error:
        _log_rejection(error, payload)
        raise
    spend(app, environ, "PREDICT_ROWS_RATE_LIMIT", len(records), "predicted rows")
    model = model_service(app)
    lang = language_of(environ)  # the sentences people read; codes and field names stay English
    results = model.predict_records(records, language=lang, matrix=getattr(records, "matrix", None))
    metrics(app).observe_predictions(results)
    items = responses.items(results, with_probabilities, model.reference(lang))
    for record, item in zip(records, items, strict=True):
        if getattr(record, "ignored", ()):  # a new list: the log entry keeps the model's warnings only
            item["warnings"] = item["warnings"] + i18n.localize(ignored_key_warnings(record), lang)
    _log_predictions(app, req, state, records, results, model.version)
    return app.json.response(responses.body(items, is_batch, model.version, state.request_id))  # jsonify's


def _read_json(req) -> Any:
    if not req.is_json:
        raise APIError(415, i18n.text("en", "api.content_type"), {"content_type": req.mimetype or None})
    raw = req.get_data()  # kept: a rejection logs it as bounded text
    if not raw.strip():
        raise APIError(400, i18n.text("en", "api.empty_body"))
    try:
        return load_json(raw)  # orjson, keeping the evidence of a key given twice
    except (ValueError, UnicodeDecodeError) as exc:
        raise APIError(400, i18n.text("en", "api.malformed_json", reason=exc)) from exc


def _log_predictions(app, req, state, records, results, model_version: str) -> None:
    timestamp, latency = entry.now(), elapsed_ms(state.started)
    prediction_log(app).record(
        entry.for_predictions(
            results,
            records,
            endpoint=req.path,
            request_id=state.request_id,
            model_version=model_version,
            latency_ms=latency,
            timestamp=timestamp,
        ),
        owned=True,  # fresh dicts nothing else holds: the log keeps them without copying
        # A plain batch's entries are one block's as they are made (blocks.py).
        inputs=records.matrix if isinstance(records, PlainBatch) else None,
    )


def _log_rejection(error: Exception, payload: Any) -> None:
    if isinstance(error, APIError):
        status, message, details = error.status, error.message, error.details
    else:
        status, message, details = error.code, error.description, None
    prediction_log().record(
        [
            entry.for_rejection(
                status=status,
                message=message,
                details=details,
                payload=payload,
                raw=_raw_body(),
                endpoint=request.path,
                request_id=g.request_id,
                model_version=model_service().version,
                latency_ms=elapsed_ms(g.started),
            )
        ]
    )


def _raw_body() -> bytes:
    try:
        return request.get_data()
    except HTTPException:  # a body over MAX_CONTENT_LENGTH is never read
        return b""
