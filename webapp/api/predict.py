"""POST /predict and /predict_proba: one record or a batch, validated, scored and logged."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson
from flask import Blueprint, current_app, g, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from webapp import features
from webapp.logstore.reduce import TEXT_LIMIT, bounded_text, is_flat
from webapp.web.errors import APIError
from webapp.web.limits import spend
from webapp.web.request_context import elapsed_ms
from webapp.web.schemas import load_patient
from webapp.web.extensions import model_service, prediction_log

predict = Blueprint("predict", __name__)

#: Bytes of field errors a rejected request's log entry keeps as structure.
ERRORS_LIMIT = 16 * 1024


@predict.post("/predict")
def predict_class():
    return _serve(with_probabilities=False)


@predict.post("/predict_proba")
def predict_probabilities():
    return _serve(with_probabilities=True)


def _serve(with_probabilities: bool):
    # Refused before anything is logged: a flood of requests must not fill the log with refusals.
    spend("PREDICT_RATE_LIMIT", 1, "prediction requests")
    payload: Any = None
    try:
        payload = _read_json()
        records, is_batch = _validate(payload)
    except (APIError, HTTPException) as error:
        _log_rejection(error, payload)
        raise
    spend("PREDICT_ROWS_RATE_LIMIT", len(records), "predicted rows")
    model = model_service()
    results = model.predict(features.to_matrix(records))
    current_app.extensions["metrics"].observe_predictions(results)
    items = [_item(result, with_probabilities) for result in results]
    _log_predictions(records, results, items, model.version)
    if is_batch:
        body = {"predictions": items, "count": len(items)}
    else:
        body = items[0]
    body["model_version"] = model.version
    body["request_id"] = g.request_id
    return jsonify(body)


def _read_json() -> Any:
    if not request.is_json:
        raise APIError(415, "Send the record as JSON with 'Content-Type: application/json'.",
                       {"content_type": request.mimetype or None})
    raw = request.get_data()  # kept: a rejection logs it as bounded text
    if not raw.strip():
        raise APIError(400, "Request body is empty: send a JSON object with the 15 input fields.")
    try:
        return current_app.json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise APIError(400, f"Malformed JSON: {exc}.") from exc


def _validate(payload: Any) -> tuple[list[dict[str, int]], bool]:
    """The validated records and whether the request was a batch."""
    if isinstance(payload, dict) and "records" in payload:
        if set(payload) != {"records"} or not isinstance(payload["records"], list):
            raise APIError(422, "A batch is {\"records\": [ ... ]} with a list of records.",
                           {"records": ["Must be a list of records and the only key."]})
        payload = payload["records"]
    if not isinstance(payload, list):
        try:
            return [load_patient(payload)], False
        except ValidationError as exc:
            raise APIError(422, "Invalid input: " + ", ".join(map(str, exc.messages)) + ".",
                           exc.messages) from exc
    limit = current_app.config["MAX_BATCH_SIZE"]
    if len(payload) > limit:
        raise APIError(413, f"A batch holds at most {limit} records; this one has {len(payload)}.",
                       {"max_batch_size": limit, "received": len(payload)})
    if not payload:
        raise APIError(422, "The batch is empty.", {"records": ["Must hold at least one record."]})
    records, errors = [], {}
    for index, record in enumerate(payload):
        try:
            records.append(load_patient(record))
        except ValidationError as exc:
            errors[str(index)] = exc.messages
    if errors:
        raise APIError(422, f"Invalid input in {len(errors)} of {len(payload)} records.",
                       {"records": errors})
    return records, True


def _item(result, with_probabilities: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"prediction": result.prediction}
    if with_probabilities:
        item["probabilities"] = [round(1.0 - result.probability, 6), round(result.probability, 6)]
    else:
        item["probability"] = round(result.probability, 6)
    item["risk_level"] = result.risk_level
    item["message"] = result.message
    item["factors"] = [_factor(factor) for factor in result.factors]
    item["warnings"] = list(result.warnings)
    return item


def _factor(factor) -> dict[str, Any]:
    return {
        "feature": factor.feature,
        "label": factor.label,
        "value": factor.value,
        "contribution": round(factor.contribution, 4),
    }


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _log_predictions(records, results, items, model_version: str) -> None:
    # A batch is scored at once: each row gets its share of the time, and says which batch size
    # it came in, so the log's latency figures stay per prediction.
    timestamp, latency, size = _now(), elapsed_ms(), len(records)
    prediction_log().record([
        {
            "timestamp": timestamp,
            "level": "INFO",
            "endpoint": request.path,
            "request_id": g.request_id,
            "inputs": record,
            "prediction": result.prediction,
            "probability": round(result.probability, 6),
            "risk_level": result.risk_level,
            "factors": item["factors"],
            "warnings": item["warnings"],
            "model_version": model_version,
            "latency_ms": round(latency / size, 3),
            "batch_size": size,
            "batch_latency_ms": latency,
            "errors": None,
            "message": result.message,
        }
        for record, result, item in zip(records, results, items)
    ])


def _log_rejection(error: Exception, payload: Any) -> None:
    if isinstance(error, APIError):
        status, message, details = error.status, error.message, error.details
    else:
        status, message, details = error.code, error.description, None
    # A record-shaped body is logged as it came; anything else (nested, huge, not JSON) only as
    # bounded, flat text, so that no client can make an entry the store cannot take.
    raw = _raw_body()
    record_shaped = is_flat(payload) and len(raw) <= TEXT_LIMIT
    prediction_log().record([{
        "timestamp": _now(),
        "level": "WARNING",
        "endpoint": request.path,
        "request_id": g.request_id,
        "inputs": payload if record_shaped else None,
        "body": None if record_shaped or not raw else bounded_text(raw),
        "prediction": None,
        "probability": None,
        "risk_level": None,
        "factors": [],
        "warnings": [],
        "model_version": model_service().version,
        "latency_ms": elapsed_ms(),
        "errors": _bounded_errors(details if details is not None else {"_request": [message]}),
        "message": f"Rejected with {status}: {message}",
    }])


def _raw_body() -> bytes:
    try:
        return request.get_data()
    except HTTPException:  # a body over MAX_CONTENT_LENGTH is never read
        return b""


def _bounded_errors(details: Any) -> Any:
    """Field errors as they are when small (they name the client's keys), else bounded text."""
    try:
        size = len(orjson.dumps(details, option=orjson.OPT_NON_STR_KEYS))
    except TypeError:  # nested beyond what JSON output allows
        size = None
    if size is not None and size <= ERRORS_LIMIT:
        return details
    return {"_request": [bounded_text(details)]}
