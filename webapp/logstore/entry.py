"""A prediction log entry: its fields, how one is made, and its timestamp format.

An entry is a plain JSON-serialisable dict. The predict view builds one per scored record
(`for_prediction`) and one per rejected request (`for_rejection`); the stores keep it as given
and add its ``id``; the log page, its CSV export and the JSON API read it. A new field is added
here, in both builders, and (to show it) in the page and the export.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from webapp.logstore.reduce import TEXT_LIMIT, bounded_text, is_flat

#: Every field, in the order the builders write them; ``id`` is assigned by the store.
FIELDS: tuple[str, ...] = (
    "id",
    "timestamp",
    "level",
    "endpoint",
    "request_id",
    "inputs",
    "prediction",
    "probability",
    "risk_level",
    "factors",
    "warnings",
    "model_version",
    "latency_ms",
    "errors",
    "message",
    "batch_size",
    "batch_latency_ms",
    "body",
)
#: A logged prediction's fields, in the order for_prediction and for_predictions write them.
PREDICTION_FIELDS: tuple[str, ...] = (
    "timestamp",
    "level",
    "endpoint",
    "request_id",
    "inputs",
    "prediction",
    "probability",
    "risk_level",
    "factors",
    "warnings",
    "model_version",
    "latency_ms",
    "batch_size",
    "batch_latency_ms",
    "errors",
    "message",
)
INFO, WARNING = "INFO", "WARNING"
#: A scored record is INFO; a rejected request is WARNING.
LEVELS = (INFO, WARNING)

#: The timestamp format: ISO 8601 UTC with milliseconds, "2026-11-26T11:38:51.123Z".
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
#: A rejected request's field errors are kept as they are up to this size (JSON bytes), else as text.
ERRORS_LIMIT = 16 * 1024


def format_timestamp(moment: dt.datetime) -> str:
    """`moment` (aware) in the log's timestamp format."""
    # isoformat pads the year to four digits (strftime's %Y gives "9" for year 9, which no parser reads back).
    return moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def now() -> str:
    """This moment in the log's timestamp format: format_timestamp(dt.datetime.now(dt.UTC)).

    Every scored request takes one; the second's text is written once a second and the
    milliseconds added to it (3.6 -> 1.3 us).
    """
    nanoseconds = time.time_ns()  # the clock datetime.now reads, its microseconds truncated as here
    return f"{_second(nanoseconds // 1_000_000_000)}.{nanoseconds // 1_000_000 % 1000:03d}Z"


@functools.lru_cache(maxsize=1)
def _second(seconds: int) -> str:
    """'2026-11-26T11:38:51': a whole second since the epoch, as format_timestamp writes it."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def for_prediction(
    result: Any,
    *,
    inputs: Mapping[str, int],
    factors: list[dict],
    endpoint: str,
    request_id: str,
    model_version: str,
    latency_ms: float,
    batch_size: int = 1,
    timestamp: str | None = None,
) -> dict[str, Any]:
    """The entry of one scored record. `result` is the model service's Prediction; `factors`
    are as the answer shows them. A batch is scored at once: each of its rows gets its share of
    the request's time and says which batch size it came in, so latency figures stay per
    prediction."""
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
        "latency_ms": round(latency_ms / batch_size, 3),
        "batch_size": batch_size,
        "batch_latency_ms": latency_ms,
        "errors": None,
        "message": result.message,
    }


def for_predictions(
    results: Any,
    records: Sequence[Mapping[str, int]],
    *,
    endpoint: str,
    request_id: str,
    model_version: str,
    latency_ms: float,
    timestamp: str,
) -> list[dict[str, Any]]:
    """`for_prediction` of every row of a batch scored at once (the model service's
    Predictions, already rounded as the answer shows them): the same fields in the same order."""
    batch_size = len(records)
    share = round(latency_ms / batch_size, 3)
    return [
        {
            "timestamp": timestamp,
            "level": INFO,
            "endpoint": endpoint,
            "request_id": request_id,
            "inputs": inputs,
            "prediction": prediction,
            "probability": probability,
            "risk_level": risk_level,
            "factors": factors,
            "warnings": warnings,
            "model_version": model_version,
            "latency_ms": share,
            "batch_size": batch_size,
            "batch_latency_ms": latency_ms,
            "errors": None,
            "message": message,
        }
        for inputs, prediction, probability, risk_level, factors, warnings, message in zip(
            records,
            results.prediction,
            results.probability,
            results.risk_level,
            results.factors,
            results.warnings,
            results.message,
            strict=True,
        )
    ]


def for_rejection(
    *,
    status: int,
    message: str,
    details: Any,
    payload: Any,
    raw: bytes,
    endpoint: str,
    request_id: str,
    model_version: str,
    latency_ms: float,
) -> dict[str, Any]:
    """The entry of a request answered with an error: its field errors, and its body.

    A record-shaped body is kept as it came; anything else (nested, huge, not JSON) only as
    bounded, flat text, so that no client can make an entry the store cannot take."""
    record_shaped = is_flat(payload) and len(raw) <= TEXT_LIMIT
    return {
        "timestamp": now(),
        "level": WARNING,
        "endpoint": endpoint,
        "request_id": request_id,
        "inputs": payload if record_shaped else None,
        "body": None if record_shaped or not raw else bounded_text(raw),
        "prediction": None,
        "probability": None,
        "risk_level": None,
        "factors": [],
        "warnings": [],
        "model_version": model_version,
        "latency_ms": latency_ms,
        "errors": _bounded_errors(details if details is not None else {"_request": [message]}),
        "message": f"Rejected with {status}: {message}",
    }


def _bounded_errors(details: Any) -> Any:
    """Field errors as they are when small (they name the client's keys), else bounded text."""
    try:
        size = len(orjson.dumps(details, option=orjson.OPT_NON_STR_KEYS))
    except TypeError:  # nested beyond what JSON output allows
        size = None
    if size is not None and size <= ERRORS_LIMIT:
        return details
    return {"_request": [bounded_text(details)]}


def inputs_of(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The entry's inputs; empty when it has none (a rejected body that was not an object)."""
    inputs = entry.get("inputs")
    return inputs if isinstance(inputs, dict) else {}
