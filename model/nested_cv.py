"""Nested cross-validation of a whole model-selection procedure, with honest intervals.

The procedure (choose a candidate, calibrate it, choose its threshold) is a function of the
training rows only; the outer loop runs it on each outer training set and scores the outer
test rows it never saw. Means come with a 95% interval from the corrected resampled t-test
(Nadeau and Bengio, 2003), which widens the naive interval because the folds' training sets
overlap; the spread of fold scores is not an interval for the mean.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats
from sklearn.metrics import brier_score_loss, roc_auc_score

METRICS = ("roc_auc", "brier", "sensitivity", "specificity", "ppv", "accuracy", "balanced_accuracy")


@dataclass(frozen=True)
class Fitted:
    """What a selection procedure hands back: scores new rows and says where it flags."""

    predict_proba: Callable[[np.ndarray], np.ndarray]  # rows -> probability of class 1
    threshold: float
    high_cut: float
    name: str


@dataclass(frozen=True)
class OuterFold:
    test: np.ndarray
    probability: np.ndarray
    fitted: Fitted

    @property
    def flagged(self) -> np.ndarray:
        return self.probability >= self.fitted.threshold


def run(
    select: Callable[[np.ndarray, np.ndarray], Fitted], X: np.ndarray, y: np.ndarray, outer_cv
) -> list[OuterFold]:
    """Run `select` on every outer training set and score its test set."""
    folds = []
    for train, test in outer_cv.split(X, y):
        fitted = select(X[train], y[train])
        folds.append(OuterFold(test, fitted.predict_proba(X[test]), fitted))
    return folds


def fold_metrics(y: np.ndarray, fold: OuterFold) -> dict[str, float]:
    y_test, p, flagged = y[fold.test], fold.probability, fold.flagged
    sensitivity = float(flagged[y_test == 1].mean())
    specificity = float((~flagged[y_test == 0]).mean())
    return {
        "roc_auc": float(roc_auc_score(y_test, p)),
        "brier": float(brier_score_loss(y_test, p)),
        "sensitivity": sensitivity,
        "specificity": specificity,
        "ppv": float(y_test[flagged].mean()) if flagged.any() else 0.0,
        "accuracy": float((flagged == (y_test == 1)).mean()),
        "balanced_accuracy": (sensitivity + specificity) / 2,
    }


def corrected_interval(
    values: Sequence[float],
    test_fraction: float,
    level: float = 0.95,
    bounds: tuple[float, float] = (-np.inf, np.inf),
) -> dict:
    """Mean of per-fold scores with the corrected resampled t interval (Nadeau and Bengio),
    clipped to the values the metric can take."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    mean, std = float(values.mean()), float(values.std(ddof=1))
    se = math.sqrt((1.0 / n + test_fraction / (1.0 - test_fraction)) * std**2)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * se
    low, high = max(bounds[0], mean - half), min(bounds[1], mean + half)
    return {
        "mean": round(mean, 4),
        "ci95": [round(float(low), 4), round(float(high), 4)],
        "std": round(std, 4),
    }


def summarize(y: np.ndarray, folds: list[OuterFold], test_fraction: float) -> dict[str, dict]:
    per_fold = [fold_metrics(y, fold) for fold in folds]
    return {
        name: corrected_interval([m[name] for m in per_fold], test_fraction, bounds=(0.0, 1.0))
        for name in METRICS
    }


def paired_difference(
    y: np.ndarray, a: list[OuterFold], b: list[OuterFold], metric: str, test_fraction: float
) -> dict:
    """Per-fold metric of b minus a (same outer folds), with the corrected interval."""
    diffs = [fold_metrics(y, fb)[metric] - fold_metrics(y, fa)[metric] for fa, fb in zip(a, b, strict=False)]
    return corrected_interval(diffs, test_fraction)


def wilson(successes: float, n: int, level: float = 0.95) -> list[float]:
    """Wilson score interval for a proportion (successes may be an average over repeats)."""
    if n == 0:
        return [0.0, 1.0]
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(float(max(0.0, centre - half)), 4), round(float(min(1.0, centre + half)), 4)]


def by_group(y: np.ndarray, folds: list[OuterFold], groups: dict[str, np.ndarray]) -> dict[str, dict]:
    """Sensitivity and specificity of the outer folds' own decisions within each group of rows.

    Every row is scored once per repeat; rates pool all its scorings, and the interval uses the
    number of distinct people, so repeats do not pretend to be more data.
    """
    index = np.concatenate([fold.test for fold in folds])
    flagged = np.concatenate([fold.flagged for fold in folds])
    repeats = len(index) / len(y)
    table = {}
    for name, member in groups.items():
        rows = member[index]
        positives, negatives = rows & (y[index] == 1), rows & (y[index] == 0)
        n_pos, n_neg = int((member & (y == 1)).sum()), int((member & (y == 0)).sum())
        sensitivity = float(flagged[positives].mean()) if n_pos else None
        specificity = float((~flagged[negatives]).mean()) if n_neg else None
        table[name] = {
            "people_with_cancer": n_pos,
            "people_without": n_neg,
            "sensitivity": None if sensitivity is None else round(sensitivity, 4),
            "sensitivity_ci95": wilson(flagged[positives].sum() / repeats, n_pos),
            "specificity": None if specificity is None else round(specificity, 4),
            "specificity_ci95": wilson((~flagged[negatives]).sum() / repeats, n_neg),
        }
    return table


def band_outcomes(y: np.ndarray, folds: list[OuterFold]) -> dict[str, dict]:
    """Per band (below threshold, threshold to high cut, above): share of scorings and share with cancer."""
    index = np.concatenate([fold.test for fold in folds])
    p = np.concatenate([fold.probability for fold in folds])
    low = np.concatenate([np.full(len(f.test), f.fitted.threshold) for f in folds])
    high = np.concatenate([np.full(len(f.test), f.fitted.high_cut) for f in folds])
    levels = {"low": p < low, "moderate": (p >= low) & (p < high), "high": p >= high}
    return {
        level: {
            "share_of_respondents": round(float(member.mean()), 4),
            "share_with_lung_cancer": round(float(y[index][member].mean()), 4) if member.any() else None,
        }
        for level, member in levels.items()
    }
