"""The batch path (ModelService.predict_many, responses.items, entry.for_predictions) answers and
logs exactly what the per-record path (ModelService.predict, responses.item, entry.for_prediction)
does, byte for byte, for many random records in both languages, edge and odd values included;
and through the API, every record of a batch gets the answer it gets alone."""

from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import orjson
import pytest

from tests.helpers import REPO_ROOT, patient
from webapp import features
from webapp.api import responses
from webapp.logstore import entry
from webapp.model_service import FEW_ROWS, ModelService
from webapp.model_service.results import _numpy_sum, _rounded

LANGUAGES = ("en", "fr")
#: Ages at and around every edge: the API's limits, the training range, the reference person's.
EDGE_AGES = (0, 1, 20, 21, 22, 24, 25, 26, 86, 87, 88, 119, 120)


def random_rows(rng: np.random.Generator, count: int) -> np.ndarray:
    X = rng.integers(0, 2, size=(count, len(features.FEATURES))).astype(np.float64)
    X[:, 0] = rng.integers(0, 121, size=count)
    X[: len(EDGE_AGES), 0] = EDGE_AGES
    X[len(EDGE_AGES)] = [features.REFERENCE[name] for name in features.FEATURES]  # no factors at all
    X[len(EDGE_AGES) + 1, 1:] = 1  # every answer yes
    return X


def per_record(service, X, language, with_probabilities, reference):
    return [responses.item(result, with_probabilities, reference) for result in service.predict(X, language)]


def as_json(value) -> bytes:
    return orjson.dumps(value)


@pytest.fixture(scope="module")
def service() -> ModelService:
    return ModelService.load(REPO_ROOT / "model")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("with_probabilities", [False, True])
@pytest.mark.parametrize("count", [1, FEW_ROWS - 1, FEW_ROWS, 2000])
def test_batch_items_are_the_per_record_items(service, language, with_probabilities, count):
    X = random_rows(np.random.default_rng(count), max(count, 20))[:count]
    reference = service.reference(language)
    expected = per_record(service, X, language, with_probabilities, reference)
    actual = responses.items(service.predict_many(X, language), with_probabilities, reference)
    assert as_json(actual) == as_json(expected)


@pytest.mark.filterwarnings("ignore:overflow encountered in exp")  # ages of a million, as predict() too
@pytest.mark.parametrize("language", LANGUAGES)
def test_batch_items_match_for_values_the_api_never_sends(service, language):
    """Fractional and huge ages take the general factor path (no shared factors): same answers."""
    rng = np.random.default_rng(7)
    X = random_rows(rng, 300)
    X[:100, 0] = rng.uniform(-50, 300, size=100)
    X[100:110, 0] = [1e6, -1e6, 25.5, 24.99999, 87.00001, 0.5, 1023, 1024, 2**40, -0.0]
    reference = service.reference(language)
    for rows in (X, X[:3]):
        expected = per_record(service, rows, language, True, reference)
        assert as_json(responses.items(service.predict_many(rows, language), True, reference)) == as_json(
            expected
        )


def predictions_json(predictions) -> bytes:
    return as_json(
        {
            name: list(map(float, value)) if name == "scores" else value
            for name, value in vars(predictions).items()
            if name != "factors_json"  # the factors again, as the answer's JSON: the items tests check it
        }
    )


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("count", [1, 2, FEW_ROWS - 1, FEW_ROWS])
def test_records_scored_in_python_get_numpys_predictions_to_the_last_bit(service, language, count):
    """predict_records scores a few records without NumPy: every field, the unrounded scores the
    metrics observe included, is what predict_many's NumPy batch path gives for their matrix
    (checked once over every record the API accepts in English and a fifth of them in French;
    here over 3,000 random ones and the edges)."""
    X = random_rows(np.random.default_rng(count), 3000)
    records = [dict(zip(features.FEATURES, map(int, row), strict=True)) for row in X]
    expected = service.predict_many(X, language)
    chunks = [
        service.predict_records(records[start : start + count], language) for start in range(0, 3000, count)
    ]
    actual = {
        name: [row for chunk in chunks for row in getattr(chunk, name)]
        for name in vars(expected)
        if name != "factors_json"
    }
    assert predictions_json(SimpleNamespace(**actual)) == predictions_json(expected)


@pytest.mark.parametrize("width", [8, 15, 16, 23, 128])
def test_numpy_sum_adds_in_numpys_order(width):
    """A row's score depends on the order its terms are added in; _numpy_sum must keep NumPy's
    (a NumPy that changes it fails here, and predict_records must follow)."""
    rng = np.random.default_rng(width)
    rows = rng.standard_normal((20000, width)) * 10.0 ** rng.integers(-8, 8, (20000, width))
    assert [_numpy_sum(row) for row in rows.tolist()] == rows.sum(axis=1).tolist()


def test_batch_log_entries_are_the_per_record_entries(service):
    X = random_rows(np.random.default_rng(3), 500)
    records = [dict(zip(features.FEATURES, map(int, row), strict=True)) for row in X]
    common = {
        "endpoint": "/predict",
        "request_id": "r1",
        "model_version": service.version,
        "latency_ms": 12.5,
    }
    expected = []
    for record, result in zip(records, service.predict(X, "fr"), strict=True):
        item = responses.item(result, False, "ref")
        expected.append(
            entry.for_prediction(
                result,
                inputs=record,
                factors=item["factors"],
                batch_size=len(records),
                timestamp="2026-11-27T10:00:00.000Z",
                **common,
            )
        )
    actual = entry.for_predictions(
        service.predict_many(X, "fr"), records, timestamp="2026-11-27T10:00:00.000Z", **common
    )
    assert [list(each) for each in actual] == [list(each) for each in expected]  # same fields, same order
    assert as_json(actual) == as_json(expected)


class Text(str):
    pass


@pytest.mark.parametrize(
    "value",
    [
        {"predictions": [{"probability": 0.25, "factors": [{"text": "Âge 62: raises"}]}], "count": 1},
        {"inputs": {"AGE": 62}, "nested": [{"a": [1, 2.5, None, True]}]},
        {1: "a number as a key", "b": {2.5: "c"}},  # a rejected body's keys may be anything
        {Text("a str subclass"): 1},
        {"numpy": np.float64(0.5), "array": np.arange(3)},
        {"id": 7, "timestamp": "2026-11-27T10:00:00.000Z"},
    ],
)
def test_json_of_answers_and_entries_is_what_orjson_writes_with_non_str_keys(value):
    """The answer and the stored entry skip OPT_NON_STR_KEYS when every key is a str (three
    times faster): the bytes must be those it gave."""
    from webapp.logstore.base import _JSON_OPTIONS, _json_default, entry_bytes
    from webapp.web.json_provider import _OPTIONS, _default, dumps_bytes

    assert dumps_bytes(value) == orjson.dumps(value, default=_default, option=_OPTIONS)
    stored = {key: item for key, item in value.items() if key != "id"}
    assert entry_bytes(value) == orjson.dumps(stored, default=_json_default, option=_JSON_OPTIONS)


@pytest.mark.parametrize("decimals", [4, 6])
def test_rounding_is_pythons_round_even_at_halves(decimals):
    rng = np.random.default_rng(decimals)
    values = np.concatenate(
        [
            rng.uniform(-5, 5, 20000),
            rng.uniform(0, 1, 20000),
            # exact and near halves at the last kept place, where a scaled value can round the other way
            np.arange(-2000, 2000) / 10**decimals + 0.5 / 10**decimals,
            np.nextafter(np.arange(-500, 500) / 10**decimals + 0.5 / 10**decimals, np.inf),
            np.nextafter(np.arange(-500, 500) / 10**decimals + 0.5 / 10**decimals, -np.inf),
            [0.0, -0.0, 5e-5, -5e-5, 1e-300, 1e300, 2.0**53, 0.00005, 0.0000005],
        ]
    )
    expected = [round(value, decimals) for value in values.tolist()]
    assert as_json(_rounded(values, decimals)) == as_json(expected)


def odd_record(rng: random.Random) -> dict:
    """A valid record written the many ways a client may: spellings, strings, floats, booleans,
    the survey's label and unknown keys."""
    record = patient(AGE=rng.choice([*EDGE_AGES, rng.randint(0, 120)]))
    for name in features.BINARY_FEATURES + (features.GENDER,):
        record[name] = rng.randint(0, 1)
    written = {}
    for name, value in record.items():
        key = rng.choice([name, name, features.underscore_alias(name), name.lower()])
        if name != features.AGE:
            value = rng.choice([value, value, value, str(value), bool(value), float(value)])
        else:
            value = rng.choice([value, value, str(value), float(value)])
        written[key] = value
    if rng.random() < 0.2:
        written["LUNG_CANCER"] = "YES"
    if rng.random() < 0.2:
        written["note"] = "x"
    items = list(written.items())
    rng.shuffle(items)
    return dict(items)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("path", ["/predict", "/predict_proba"])
def test_every_record_of_a_batch_gets_the_answer_it_gets_alone(client, language, path):
    rng = random.Random(f"{language}{path}")
    records = [odd_record(rng) for _ in range(60)] + [patient(AGE=age) for age in EDGE_AGES]
    headers = {"Accept-Language": language}
    batch = client.post(path, json={"records": records}, headers=headers)
    assert batch.status_code == 200, batch.get_data(as_text=True)
    answers = batch.get_json()["predictions"]
    for record, answer in zip(records, answers, strict=True):
        alone = client.post(path, json=record, headers=headers).get_json()
        del alone["request_id"], alone["model_version"]
        assert answer == alone, record


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("path", ["/predict", "/predict_proba"])
def test_a_plain_batch_gets_the_answers_its_records_get_alone(client, language, path):
    """Records with the canonical names in order and plain integers (what clients send almost
    always) take the batch shortcut: scored from the matrix the check built, factors spliced
    in as serialised once. Each answer is still the one its record gets alone."""
    rng = random.Random(f"plain{language}{path}")
    records = [
        {
            name: rng.randint(0, 120) if name == features.AGE else rng.randint(0, 1)
            for name in features.FEATURES
        }
        for _ in range(3 * FEW_ROWS)
    ] + [patient(AGE=age) for age in EDGE_AGES]
    headers = {"Accept-Language": language}
    batch = client.post(path, json=records, headers=headers)
    assert batch.status_code == 200, batch.get_data(as_text=True)
    for record, answer in zip(records, batch.get_json()["predictions"], strict=True):
        alone = client.post(path, json=record, headers=headers).get_json()
        del alone["request_id"], alone["model_version"]
        assert answer == alone, record


@pytest.mark.parametrize("language", LANGUAGES)
def test_invalid_records_of_a_batch_are_named_as_they_are_alone(client, language):
    rng = random.Random(language)
    invalid = [
        patient(AGE=121),
        patient(AGE=-1),
        patient(AGE=45.5),
        patient(AGE="45.5"),
        patient(SMOKING=2),
        patient(COUGHING="yes"),
        patient(GENDER=None),
        {key: value for key, value in patient().items() if key != "FATIGUE"},
        {**patient(), "CHEST_PAIN": 1},
        [],
        "a record",
        None,
    ]
    records = [odd_record(rng) for _ in range(len(invalid))]
    positions = rng.sample(range(len(records) + len(invalid)), len(invalid))
    for position, record in sorted(zip(positions, invalid, strict=True)):
        records.insert(position, record)
    headers = {"Accept-Language": language}
    answer = client.post("/predict", json=records, headers=headers)
    assert answer.status_code == 422
    named = answer.get_json()["error"]["details"]["records"]
    assert sorted(map(int, named)) == sorted(positions)
    for position in positions:
        alone = client.post("/predict", json=records[position], headers=headers).get_json()["error"]
        if isinstance(records[position], dict):
            assert named[str(position)] == alone["details"], records[position]
