"""entries_json (a batch serialised at once, its repeated parts once) gives byte for byte the
text entry_json gives each entry, for the entries the API builds and for odd ones."""

from __future__ import annotations

import datetime as dt

import numpy as np

from tests.helpers import REPO_ROOT
from webapp.logstore import entry
from webapp.logstore.base import entries_json, entry_json
from webapp.model_service import ModelService


def batch_entries(count: int = 400) -> list[dict]:
    service = ModelService.load(REPO_ROOT / "model")
    rng = np.random.default_rng(5)
    X = rng.integers(0, 2, size=(count, 15)).astype(np.float64)
    X[:, 0] = rng.integers(0, 121, size=count)
    records = [{"AGE": int(row[0])} for row in X]
    return entry.for_predictions(
        service.predict_many(X, "fr"),
        records,
        endpoint="/predict",
        request_id="batch",
        model_version=service.version,
        latency_ms=3.25,
        timestamp=entry.now(),
    )


def test_a_batch_of_the_apis_entries_serialises_as_each_alone():
    entries = batch_entries()
    assert entries_json(entries) == [entry_json(each) for each in entries]


def test_odd_entries_serialise_as_each_alone():
    shared = {"feature": "AGE", "value": np.float64(62.0), "contribution": np.float32(0.5)}
    entries = [
        {"id": 7, "message": "kept out: the store adds the id", "factors": [shared, shared]},
        {"message": 'é \u2028 "quoted" \\ \n', "factors": [shared, {"nested": [1, {"x": None}]}]},
        {"message": 'é \u2028 "quoted" \\ \n', "factors": []},
        {"message": None, "factors": "not a list"},
        {"message": 12, "factors": [np.arange(3), dt.date(2026, 1, 1), 1.5, "text", True]},
        {1: "a key that is not text", "inputs": {"AGE": np.int64(45)}, "when": dt.datetime(2026, 1, 1)},
        {},
        {"id": 1},
    ]
    assert entries_json(entries) == [entry_json(each) for each in entries]
