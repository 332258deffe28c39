"""The batch fast path (schemas.plain_patient) agrees with PatientSchema on every record it
accepts, and leaves everything else, errors included, to the schema."""

from __future__ import annotations

import numpy as np
import pytest
from marshmallow import ValidationError

from tests.helpers import HEALTHY_YOUNG_WOMAN, SYMPTOMATIC_OLDER_SMOKER, patient
from webapp import features
from webapp.api.schemas import PatientSchema, load_records, plain_patient
from webapp.web.errors import APIError

SCHEMA = PatientSchema()


def _underscored(record: dict) -> dict:
    return {features.underscore_alias(key): value for key, value in record.items()}


def _reversed(record: dict) -> dict:
    return dict(reversed(list(record.items())))


PLAIN = [
    SYMPTOMATIC_OLDER_SMOKER,
    HEALTHY_YOUNG_WOMAN,
    _underscored(SYMPTOMATIC_OLDER_SMOKER),
    _reversed(HEALTHY_YOUNG_WOMAN),
    patient(AGE=0),
    patient(AGE=1),
    patient(AGE=120),
    {**{name: 1 for name in features.FEATURES}, "AGE": 1},
    _reversed(_underscored(SYMPTOMATIC_OLDER_SMOKER)),
]


@pytest.mark.parametrize("record", PLAIN)
def test_plain_records_take_the_fast_path_and_load_as_the_schema_loads_them(record):
    fast = plain_patient(record)
    assert fast is not None
    assert fast == SCHEMA.load(record)
    assert list(fast) == list(SCHEMA.load(record))  # same key order, so the logged inputs match


LEFT_TO_THE_SCHEMA = [
    ("float age", patient(AGE=45.0)),
    ("boolean flag", patient(SMOKING=True)),
    ("age as text", patient(AGE="45")),
    ("age above 120", patient(AGE=121)),
    ("negative age", patient(AGE=-1)),
    ("flag 2", patient(COUGHING=2)),
    ("flag -1", patient(ANXIETY=-1)),
    ("flag 2 beside age 1", patient(AGE=1, SMOKING=2)),
    ("flag 2 beside age 0", patient(AGE=0, FATIGUE=2)),
    ("age as a flag's place", {**patient(AGE=1), "SMOKING": 45}),
    ("missing field", {k: v for k, v in HEALTHY_YOUNG_WOMAN.items() if k != "FATIGUE"}),
    ("unknown field", {**{k: v for k, v in HEALTHY_YOUNG_WOMAN.items() if k != "FATIGUE"}, "FATIGUED": 1}),
    ("lower-case spelling", {key.lower(): value for key, value in HEALTHY_YOUNG_WOMAN.items()}),
    (
        "two spellings of one field",
        {**{k: v for k, v in HEALTHY_YOUNG_WOMAN.items() if k != "FATIGUE"}, "CHEST_PAIN": 0},
    ),
    ("sixteen fields", {**HEALTHY_YOUNG_WOMAN, "NOTE": 1}),
    ("not an object", [1, 2, 3]),
    ("null", None),
]


@pytest.mark.parametrize(
    "record", [record for _, record in LEFT_TO_THE_SCHEMA], ids=[name for name, _ in LEFT_TO_THE_SCHEMA]
)
def test_anything_else_is_left_to_the_schema(record):
    assert plain_patient(record) is None


def test_a_plain_batch_loads_as_the_schema_loads_each_record():
    batch = [SYMPTOMATIC_OLDER_SMOKER, HEALTHY_YOUNG_WOMAN, patient(AGE=0), patient(AGE=120)]
    records, is_batch = load_records(batch, 10)
    assert is_batch
    assert records == [SCHEMA.load(record) for record in batch]
    assert [list(record) for record in records] == [list(features.FEATURES)] * len(batch)
    # The integer matrix the check built is what gets scored: the records' inputs, row by row.
    assert records.matrix.dtype == np.int64
    assert records.matrix.tolist() == features.to_matrix(records).tolist()


@pytest.mark.parametrize(
    "record", [record for _, record in LEFT_TO_THE_SCHEMA], ids=[name for name, _ in LEFT_TO_THE_SCHEMA]
)
def test_one_record_the_fast_path_leaves_sends_its_batch_to_the_schema(record):
    """The batch shortcut vouches for a batch only when every record is plain: one that is not
    is loaded or refused by the schema as it would be alone."""
    batch = [SYMPTOMATIC_OLDER_SMOKER, record, HEALTHY_YOUNG_WOMAN]
    try:
        expected = [SCHEMA.load(each) for each in batch]
    except ValidationError:
        with pytest.raises(APIError) as refused:
            load_records(batch, 10)
        assert set(refused.value.details["records"]) == {"1"}
    else:
        assert load_records(batch, 10) == (expected, True)


@pytest.mark.parametrize("value", [2**63, 2**80, -(2**70)])
def test_integers_beyond_64_bits_in_a_batch_are_refused_by_the_schema(value):
    with pytest.raises(APIError) as refused:
        load_records([HEALTHY_YOUNG_WOMAN, patient(AGE=value)], 10)
    assert set(refused.value.details["records"]["1"]) == {"AGE"}
