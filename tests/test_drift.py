"""Drift statistics against the training reference: pure functions, real model, fixed seeds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model.reference import generate
from tests.helpers import dataset_path
from webapp.artifacts import REFERENCE_FILE
from webapp.features import to_matrix
from webapp.model_service import ModelService
from webapp.monitoring import drift
from webapp.monitoring.reference import DEFAULT_MODEL_DIR, ReferenceError, load_reference
from webapp.tools.population import Drift, PatientSampler

N = 400


@pytest.fixture(scope="module")
def reference():
    return load_reference()


@pytest.fixture(scope="module")
def model():
    return ModelService.load(DEFAULT_MODEL_DIR)


def logged(model, records) -> list[dict]:
    """Entries shaped like the prediction log's, scored by the real model."""
    results = model.predict(to_matrix(records))
    return [
        {
            "inputs": record,
            "prediction": result.prediction,
            "probability": result.probability,
            "timestamp": f"2026-01-01T00:00:{i % 60:02d}.000Z",
            "model_version": model.version,
        }
        for i, (record, result) in enumerate(zip(records, results, strict=True))
    ]


def traffic(reference, model, seed=7, n=N, **changes) -> list[dict]:
    return logged(model, PatientSampler(reference, Drift(**changes), seed=seed).sample(n))


@pytest.mark.parametrize(
    "expected, actual, low, high",
    [
        ([0.5, 0.5], [0.5, 0.5], 0.0, 1e-12),
        ([0.5, 0.5], [0.55, 0.45], 0.005, 0.05),
        ([0.5, 0.5], [0.9, 0.1], 0.5, 1.5),
        ([10, 30, 60], [10, 30, 60], 0.0, 1e-12),
        ([0.5, 0.5], [1.0, 0.0], 3.0, 6.0),  # an empty bin stays finite
    ],
)
def test_psi_is_zero_for_equal_distributions_and_grows_with_the_shift(expected, actual, low, high):
    assert low <= drift.psi(expected, actual) <= high


def test_chi_square_gives_p_one_when_every_answer_is_the_same_in_both_samples():
    assert drift.chi_square(0, 276, 0, 400) == (0.0, 1.0)


@pytest.mark.parametrize(
    "psi_value, p_value, status",
    [
        (0.30, 1e-9, drift.DRIFT),
        (0.30, 0.5, drift.WATCH),  # large but not significant: a small window
        (0.01, 1e-9, drift.WATCH),  # significant but small: a very large window
        (0.01, 0.5, drift.OK),
    ],
)
def test_a_feature_drifts_only_when_its_change_is_both_large_and_significant(psi_value, p_value, status):
    assert drift.classify(psi_value, p_value, 0.001, drift.Thresholds()) == status


def test_training_like_traffic_is_not_flagged(reference, model):
    report = drift.drift_report(reference, traffic(reference, model))
    assert report["status"] == drift.OK
    assert report["drifted"] == [] and report["watched"] == []
    assert report["window"]["entries"] == N


@pytest.mark.parametrize(
    "changes, flagged",
    [
        ({"age_shift": 15}, {"AGE"}),
        ({"age_shift": -20}, {"AGE"}),
        ({"prevalence": {"SMOKING": 0.95}}, {"SMOKING"}),
        ({"prevalence": {"COUGHING": 0.1}}, {"COUGHING"}),
        ({"prevalence": {"GENDER": 0.9}}, {"GENDER"}),
    ],
)
def test_an_injected_drift_flags_exactly_the_changed_input(reference, model, changes, flagged):
    report = drift.drift_report(reference, traffic(reference, model, **changes))
    assert report["status"] == drift.DRIFT
    assert set(report["drifted"]) == flagged


def test_a_lower_share_of_sick_patients_flags_the_predicted_positive_rate(reference, model):
    report = drift.drift_report(reference, traffic(reference, model, positive_rate=0.3))
    assert drift.PREDICTED_POSITIVE in report["drifted"]
    assert report["predicted_positive"]["current"] < report["predicted_positive"]["reference"] - 0.2


def test_a_window_smaller_than_the_minimum_is_insufficient_data(reference, model):
    report = drift.drift_report(reference, traffic(reference, model, n=20, age_shift=30))
    assert report["status"] == drift.INSUFFICIENT
    assert report["drifted"] == []
    assert {f["status"] for f in report["features"]} == {drift.INSUFFICIENT}


def test_rejected_requests_are_left_out_of_the_window(reference, model):
    rejected = {"inputs": {"AGE": 200}, "prediction": None, "level": "WARNING"}
    entries = traffic(reference, model, n=60) + [rejected] * 10
    assert drift.drift_report(reference, entries)["window"]["entries"] == 60


def test_the_report_is_plain_json(reference, model):
    report = drift.drift_report(reference, traffic(reference, model, n=80))
    assert json.loads(json.dumps(report)) == report


@pytest.mark.parametrize("p_value, text", [(None, "n/a"), (1e-40, "<1e-12"), (0.04567, "0.0457")])
def test_p_values_are_formatted_for_people(p_value, text):
    assert drift.format_p(p_value) == text


def test_the_committed_reference_is_what_the_training_data_gives(model):
    committed = json.loads((DEFAULT_MODEL_DIR / REFERENCE_FILE).read_text())
    assert generate(dataset_path(), DEFAULT_MODEL_DIR) == committed


def test_the_reference_describes_the_data_the_model_card_names(reference):
    card = json.loads((DEFAULT_MODEL_DIR / "model_card.json").read_text())
    assert reference["data"]["sha256"] == card["data"]["sha256"]
    assert reference["rows"] == card["data"]["rows_used"]
    expected = card["data"]["class_balance"]["positive_fraction"]
    assert reference["class_mix"]["positive_fraction"] == pytest.approx(expected, abs=1e-4)


def test_a_reference_for_other_data_than_the_model_is_refused(tmp_path):
    for name in ("model_card.json", REFERENCE_FILE):
        (tmp_path / name).write_text((DEFAULT_MODEL_DIR / name).read_text())
    altered = json.loads((tmp_path / REFERENCE_FILE).read_text())
    altered["data"]["sha256"] = "0" * 64
    (tmp_path / REFERENCE_FILE).write_text(json.dumps(altered))
    with pytest.raises(ReferenceError, match="other data"):
        load_reference(tmp_path)


def test_sampled_patients_have_the_training_shares(reference):
    records = PatientSampler(reference, seed=1).sample(20000)
    for name, expected in reference["yes_no"].items():
        share = np.mean([r[name] for r in records])
        assert share == pytest.approx(expected["prevalence"], abs=0.02), name
