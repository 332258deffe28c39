"""What the model service answers: one person's Prediction with its Factors, a batch's Predictions
column by column, and the arithmetic that keeps the batch path's numbers the same as Python's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

#: Batches from this size are computed with NumPy; fewer rows (one /predict) row by row in Python.
FEW_ROWS = 16


def _rounded(values: np.ndarray, decimals: int) -> list[float]:
    """round(value, decimals) of each value, exactly as Python rounds it.

    Python rounds the exact binary value half to even; NumPy's rint of the scaled value agrees
    except when scaling lands too near a half to tell, and those few are left to Python.
    """
    if values.size < FEW_ROWS:  # a few values: Python's own round is the cheaper
        return [round(value, decimals) for value in values.tolist()]
    scale = 10.0**decimals
    scaled = values * scale
    result = (np.rint(scaled) / scale).tolist()
    doubtful = (np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6) | (np.abs(scaled) >= 2.0**52)
    for index in np.flatnonzero(doubtful).tolist():
        result[index] = round(float(values.flat[index]), decimals)
    return result


def _numpy_sum(values: list[float]) -> float:
    """The sum of 8 to 128 floats in the order NumPy adds a row of that many (pairwise summation:
    eight running sums, added as a tree, then the rest one by one), so that a row scored in plain
    Python gets NumPy's score to the last bit. tests/test_batch_path.py holds NumPy to it."""
    n = len(values)
    if not 8 <= n <= 128:
        raise ValueError(f"NumPy's order is written here for 8 to 128 values, not {n}")
    sums = values[:8]
    end = n - n % 8
    for start in range(8, end, 8):
        sums = [total + value for total, value in zip(sums, values[start : start + 8], strict=True)]
    total = ((sums[0] + sums[1]) + (sums[2] + sums[3])) + ((sums[4] + sums[5]) + (sums[6] + sums[7]))
    for value in values[end:]:
        total += value
    return total


@dataclass(frozen=True)
class Factor:
    """One of the person's own answers that moved the score away from the reference person's."""

    feature: str
    label: str  # the answer in plain words: "Coughing", "Age 62"
    value: float
    contribution: float  # log-odds, signed: this answer's term minus the reference person's
    direction: str  # "raises" or "lowers"
    text: str  # "Coughing: raises the score"


@dataclass(frozen=True)
class Prediction:
    prediction: int
    probability: float
    risk_level: str
    message: str
    factors: tuple[Factor, ...]
    warnings: tuple[str, ...]
    score_display: str  # whole percent kept inside its band, never "0%" or "100%"
    see_a_doctor_about: tuple[str, ...]  # warning symptoms reported: a rule outside the model


@dataclass(frozen=True)
class Predictions:
    """The predictions of a batch, column by column, as the API answers and logs them.

    Row for row what `ModelService.predict` gives, with the API's rounding already applied
    (probabilities to 6 places, factor contributions to 4) and factors as the API shows them.
    A factor dict is shared by every row and request with the same answer: read, never change.
    """

    prediction: list[int]
    probability: list[float]  # the score, rounded to 6 places
    complement: list[float]  # 1 - the score, rounded to 6 places (/predict_proba's class 0)
    risk_level: list[str]
    score_display: list[str]
    message: list[str]
    factors: list[list[dict[str, Any]]]  # feature, label, value, contribution, direction, text
    warnings: list[list[str]]
    see_a_doctor_about: list[list[str]]
    scores: Sequence[float]  # the unrounded probabilities, for the metrics (an array for a batch)
    #: `factors` as JSON, each factor serialised once per process (orjson fragments of the same
    #: bytes), for a batch's answer: orjson then copies each factor's bytes instead of writing its
    #: six fields again (1,000 rows: 3.4 -> 0.9 ms). None when not computed (a few rows).
    factors_json: list[list[orjson.Fragment]] | None = None

    def __len__(self) -> int:
        return len(self.prediction)
