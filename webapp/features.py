"""The 15 survey inputs: canonical names, accepted spellings, encodings and ranges.

One place for every module that needs to know the inputs (training, the model service,
request schemas, the UI). Pure constants and small helpers: no Flask, no model.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Mapping, Sequence

import numpy as np

AGE = "AGE"
GENDER = "GENDER"

#: Yes/no inputs, in the order the model sees them after AGE and GENDER.
BINARY_FEATURES: tuple[str, ...] = (
    "SMOKING",
    "ALCOHOL CONSUMING",
    "PEER_PRESSURE",
    "YELLOW_FINGERS",
    "ANXIETY",
    "FATIGUE",
    "ALLERGY",
    "WHEEZING",
    "COUGHING",
    "SHORTNESS OF BREATH",
    "SWALLOWING DIFFICULTY",
    "CHEST PAIN",
    "CHRONIC DISEASE",
)

#: Canonical feature names, the column order of every model matrix.
FEATURES: tuple[str, ...] = (AGE, GENDER, *BINARY_FEATURES)

TARGET = "LUNG_CANCER"

AGE_MIN, AGE_MAX = 0, 120  # what the API accepts
TRAIN_AGE_MIN, TRAIN_AGE_MAX = 21, 87  # what the training data covers

#: Plain-language labels, for people (UI, log viewer, reports).
LABELS: dict[str, str] = {
    AGE: "Age",
    GENDER: "Gender (1 = male, 0 = female)",
    "SMOKING": "Smokes",
    "ALCOHOL CONSUMING": "Drinks alcohol",
    "PEER_PRESSURE": "Feels peer pressure",
    "YELLOW_FINGERS": "Yellow fingers",
    "ANXIETY": "Anxiety",
    "FATIGUE": "Fatigue",
    "ALLERGY": "Allergy",
    "WHEEZING": "Wheezing",
    "COUGHING": "Coughing",
    "SHORTNESS OF BREATH": "Shortness of breath",
    "SWALLOWING DIFFICULTY": "Difficulty swallowing",
    "CHEST PAIN": "Chest pain",
    "CHRONIC DISEASE": "Chronic disease",
}


#: Warning symptoms: whoever reports one is told to see a doctor whatever the score (a rule
#: outside the model).
WARNING_SYMPTOMS: tuple[str, ...] = (
    "COUGHING",
    "WHEEZING",
    "SHORTNESS OF BREATH",
    "CHEST PAIN",
    "SWALLOWING DIFFICULTY",
)

#: The reference person every explanation is measured against: a 25-year-old woman who
#: answered no to every question. A factor is an answer that differs from hers.
REFERENCE: dict[str, int] = {AGE: 25, GENDER: 0, **{name: 0 for name in BINARY_FEATURES}}


def normalize_name(name: str) -> str:
    """Reduce a column or key spelling to a comparison form: case, spaces, underscores ignored."""
    return "".join(ch for ch in name.upper() if ch.isalnum())


_BY_NORMALIZED: dict[str, str] = {normalize_name(f): f for f in FEATURES}
# The spellings clients send almost always, looked up without normalising (request hot path).
_BY_SPELLING: dict[str, str] = {**{f: f for f in FEATURES}, **{f.replace(" ", "_"): f for f in FEATURES}}


def canonical_name(name: str) -> str | None:
    """The canonical feature a key or CSV header refers to, or None.

    `ALCOHOL_CONSUMING`, `alcohol consuming` and `FATIGUE ` (trailing space, as in the
    published CSV) all map to their canonical names.
    """
    found = _BY_SPELLING.get(name)
    return found if found is not None else _BY_NORMALIZED.get(normalize_name(name))


def underscore_alias(name: str) -> str:
    """The underscore spelling of a canonical name (`CHEST PAIN` -> `CHEST_PAIN`)."""
    return name.replace(" ", "_")


def to_matrix(records: Sequence[Mapping[str, int]]) -> np.ndarray:
    """Stack validated records (canonical keys) into a float matrix in FEATURES order.

    Columns are taken by name, never by the records' key order.
    """
    values = itertools.chain.from_iterable(map(_IN_ORDER, records))
    return np.fromiter(values, dtype=np.float64, count=len(records) * len(FEATURES)).reshape(
        -1, len(FEATURES)
    )


_IN_ORDER = operator.itemgetter(*FEATURES)
