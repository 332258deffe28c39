"""A prediction log entry: its fields, how one is made, and its timestamp format.

An entry is a plain JSON-serialisable dict. The predict view builds one per scored record
(`for_prediction`) and one per rejected request (`for_rejection`); the stores keep it as given
and add its ``id``; the log page, its CSV export and the JSON API read it. A new field is added
here, in both builders, and (to show it) in the page and the export.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

#: Every field, in the order the builders write them; ``id`` is assigned by the store.
FIELDS: tuple[str, ...] = (
    "id", "timestamp", "level", "endpoint", "request_id", "inputs", "prediction", "probability",
    "risk_level", "factors", "warnings", "model_version", "latency_ms", "errors", "message",
)
INFO, WARNING = "INFO", "WARNING"
#: A scored record is INFO; a rejected request is WARNING.
LEVELS = (INFO, WARNING)

#: The timestamp format: ISO 8601 UTC with milliseconds, "2026-11-26T11:38:51.123Z".
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
#: A rejected request's body is kept only when it is an object this small.
MAX_KEPT_KEYS = 64


def format_timestamp(moment: dt.datetime) -> str:
    """`moment` (aware) in the log's timestamp format."""
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now() -> str:
    return format_timestamp(dt.datetime.now(dt.UTC))


def for_prediction(result: Any, *, inputs: Mapping[str, int], factors: list[dict], endpoint: str,
                   request_id: str, model_version: str, latency_ms: float,
                   timestamp: str | None = None) -> dict[str, Any]:
    """The entry of one scored record. `result` is the model service's Prediction; `factors`
    are as the answer shows them."""
    return {
        "timestamp": timestamp or now(),
        "level": INFO,
        "endpoint": endpoint,
        "request_id": request_id,
        "inputs": inputs,
        "prediction": result.prediction,
        "probability": round(result.probability, 6),
        "risk_level": result.risk_level,
        "factors": factors,
        "warnings": list(result.warnings),
        "model_version": model_version,
        "latency_ms": latency_ms,
        "errors": None,
        "message": result.message,
    }


def for_rejection(*, status: int, message: str, details: Any, payload: Any, endpoint: str,
                  request_id: str, model_version: str, latency_ms: float) -> dict[str, Any]:
    """The entry of a request answered with an error: its field errors, and its body when small."""
    small_object = isinstance(payload, dict) and len(payload) <= MAX_KEPT_KEYS
    return {
        "timestamp": now(),
        "level": WARNING,
        "endpoint": endpoint,
        "request_id": request_id,
        "inputs": payload if small_object else None,
        "prediction": None,
        "probability": None,
        "risk_level": None,
        "factors": [],
        "warnings": [],
        "model_version": model_version,
        "latency_ms": latency_ms,
        "errors": details if details is not None else {"_request": [message]},
        "message": f"Rejected with {status}: {message}",
    }


def inputs_of(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The entry's inputs; empty when it has none (a rejected body that was not an object)."""
    inputs = entry.get("inputs")
    return inputs if isinstance(inputs, dict) else {}
