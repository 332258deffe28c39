"""POST /predict and /predict_proba: one record or a batch, validated, scored and logged."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from webapp import features, i18n
from webapp.web.errors import APIError
from webapp.web.request_context import elapsed_ms
from webapp.web.language import request_language
from webapp.web.schemas import load_patient
from webapp.web.extensions import model_service, prediction_log

predict = Blueprint("predict", __name__)


@predict.post("/predict")
def predict_class():
    return _serve(with_probabilities=False)


@predict.post("/predict_proba")
def predict_probabilities():
    return _serve(with_probabilities=True)


def _serve(with_probabilities: bool):
    payload: Any = None
    try:
        payload = _read_json()
        records, is_batch = _validate(payload)
    except (APIError, HTTPException) as error:
        _log_rejection(error, payload)
        raise
    model = model_service()
    results = model.predict(features.to_matrix(records))
    current_app.extensions["metrics"].observe_predictions(results)
    lang = request_language()
    items = [_item(result, with_probabilities, lang) for result in results]
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
        raise APIError(415, i18n.text("en", "api.content_type"),
                       {"content_type": request.mimetype or None})
    raw = request.get_data(cache=False)
    if not raw.strip():
        raise APIError(400, i18n.text("en", "api.empty_body"))
    try:
        return current_app.json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise APIError(400, i18n.text("en", "api.malformed_json", reason=exc)) from exc


def _validate(payload: Any) -> tuple[list[dict[str, int]], bool]:
    """The validated records and whether the request was a batch."""
    if isinstance(payload, dict) and "records" in payload:
        if set(payload) != {"records"} or not isinstance(payload["records"], list):
            raise APIError(422, i18n.text("en", "validation.batch_shape"),
                           {"records": [i18n.text("en", "validation.records_list")]})
        payload = payload["records"]
    if not isinstance(payload, list):
        try:
            return [load_patient(payload)], False
        except ValidationError as exc:
            raise APIError(422, i18n.text("en", "api.invalid_input", fields=", ".join(map(str, exc.messages))),
                           exc.messages) from exc
    limit = current_app.config["MAX_BATCH_SIZE"]
    if len(payload) > limit:
        raise APIError(413, i18n.text("en", "api.batch_too_large", limit=limit, received=len(payload)),
                       {"max_batch_size": limit, "received": len(payload)})
    if not payload:
        raise APIError(422, i18n.text("en", "validation.batch_empty"),
                       {"records": [i18n.text("en", "validation.batch_min")]})
    records, errors = [], {}
    for index, record in enumerate(payload):
        try:
            records.append(load_patient(record))
        except ValidationError as exc:
            errors[str(index)] = exc.messages
    if errors:
        raise APIError(422, i18n.text("en", "api.invalid_batch", bad=len(errors), total=len(payload)),
                       {"records": errors})
    return records, True


def _item(result, with_probabilities: bool, lang: str) -> dict[str, Any]:
    item: dict[str, Any] = {"prediction": result.prediction}
    if with_probabilities:
        item["probabilities"] = [round(1.0 - result.probability, 6), round(result.probability, 6)]
    else:
        item["probability"] = round(result.probability, 6)
    item["risk_level"] = result.risk_level
    item["message"] = i18n.localize(result.message, lang)
    item["factors"] = [_factor(factor, lang) for factor in result.factors]
    item["warnings"] = [i18n.localize(warning, lang) for warning in result.warnings]
    return item


def _factor(factor, lang: str = i18n.DEFAULT) -> dict[str, Any]:
    return {
        "feature": factor.feature,
        "label": factor.label if lang == i18n.DEFAULT else i18n.label(lang, factor.feature),
        "value": factor.value,
        "contribution": round(factor.contribution, 4),
    }


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _log_predictions(records, results, items, model_version: str) -> None:
    timestamp, latency, lang = _now(), elapsed_ms(), request_language()
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
            # the log is read by the operators: English whatever the client's language
            "factors": item["factors"] if lang == i18n.DEFAULT else [_factor(f) for f in result.factors],
            "warnings": list(result.warnings),
            "model_version": model_version,
            "latency_ms": latency,
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
    small_object = isinstance(payload, dict) and len(payload) <= 64
    prediction_log().record([{
        "timestamp": _now(),
        "level": "WARNING",
        "endpoint": request.path,
        "request_id": g.request_id,
        "inputs": payload if small_object else None,
        "prediction": None,
        "probability": None,
        "risk_level": None,
        "factors": [],
        "warnings": [],
        "model_version": model_service().version,
        "latency_ms": elapsed_ms(),
        "errors": details if details is not None else {"_request": [message]},
        "message": f"Rejected with {status}: {message}",
    }])
