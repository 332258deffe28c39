"""Input drift: logged inputs of a window against the training reference. Pure functions, no Flask.

For every yes/no input the share of "yes" (of men for GENDER) is compared with the training
share by the population stability index (PSI) and a chi-square test on the 2x2 table of
counts; AGE by the PSI over the training deciles and a two-sample Kolmogorov-Smirnov test;
the predicted positive rate like a yes/no input. A feature drifts when its change is both
large (PSI >= 0.1, the usual bound of "stable") and significant (p below alpha, Bonferroni-
corrected over all tests); it is watched when only one of the two holds. Requiring both keeps
small windows (noisy PSI) and very large ones (tiny but significant changes) from crying wolf.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from webapp.features import AGE, GENDER, LABELS
from webapp.logstore.base import DRIFT_INPUTS, NOT_COMPARED, DriftWindow, drift_code
from webapp.monitoring.reference import YES_NO_FEATURES

OK, WATCH, DRIFT, INSUFFICIENT = "ok", "watch", "drift", "insufficient_data"
_SEVERITY = {OK: 0, INSUFFICIENT: 0, WATCH: 1, DRIFT: 2}
PREDICTED_POSITIVE = "PREDICTED_POSITIVE"
#: A window is the newest this many logged predictions unless asked otherwise.
DEFAULT_LAST = 1000
#: PSI floors empty bins at this share so ln(actual / expected) stays finite.
PSI_EPSILON = 1e-4
#: GENDER is compared as the share of men.
_LABELS = {**LABELS, GENDER: "Male"}


@dataclass(frozen=True)
class Thresholds:
    """`psi`: the PSI from which a change counts as large; `alpha`: family-wise significance level."""

    psi: float = 0.1
    alpha: float = 0.01
    min_samples: int = 50


def psi(expected: Sequence[float], actual: Sequence[float], epsilon: float = PSI_EPSILON) -> float:
    """Population stability index of two distributions over the same bins (shares or counts)."""
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    e = np.maximum(e / e.sum(), epsilon)
    a = np.maximum(a / a.sum(), epsilon)
    return float(np.sum((a - e) * np.log(a / e)))


def chi_square(ref_yes: int, ref_n: int, cur_yes: int, cur_n: int) -> tuple[float, float]:
    """Chi-square statistic and p-value of the 2x2 table reference/current x yes/no (Yates-corrected)."""
    table = np.array([[ref_yes, ref_n - ref_yes], [cur_yes, cur_n - cur_yes]], dtype=np.float64)
    if (table.sum(axis=0) == 0).any():
        return 0.0, 1.0  # every answer is the same in both samples: nothing to test
    from scipy import stats  # deferred: only a drift report needs SciPy, not the request workers

    result = stats.chi2_contingency(table)
    return float(result.statistic), float(result.pvalue)


def expand_counts(counts: Mapping[str, int]) -> np.ndarray:
    """Sample values from a {value: count} table (the reference stores ages that way)."""
    values = np.array([float(v) for v in counts], dtype=np.float64)
    return np.repeat(values, [int(c) for c in counts.values()])


def age_bins(reference_ages: np.ndarray) -> np.ndarray:
    """Upper edges of the training deciles (actual ages): bin i holds ages in (edge[i-1], edge[i]]."""
    return np.unique(np.quantile(reference_ages, np.linspace(0.1, 0.9, 9), method="lower"))


def histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin: one bin per upper edge plus one above the last edge."""
    return np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)


def classify(psi_value: float, p_value: float, alpha: float, thresholds: Thresholds) -> str:
    significant = p_value < alpha
    large = psi_value >= thresholds.psi
    if significant and large:
        return DRIFT
    if significant or large:
        return WATCH
    return OK


def _yes_no_result(name, label, ref_share, ref_n, cur_yes, cur_n, alpha, thresholds) -> dict:
    ref_yes = round(ref_share * ref_n)
    current = cur_yes / cur_n if cur_n else None
    result = {
        "feature": name,
        "label": label,
        "kind": "yes_no",
        "test": "chi-square",
        "reference": round(ref_share, 4),
        "current": None if current is None else round(current, 4),
        "n": cur_n,
        "psi": None,
        "statistic": None,
        "p_value": None,
        "status": INSUFFICIENT,
    }
    if cur_n < thresholds.min_samples:
        return result
    value = psi([ref_share, 1 - ref_share], [current, 1 - current])
    statistic, p_value = chi_square(ref_yes, ref_n, cur_yes, cur_n)
    result.update(
        psi=round(value, 4),
        statistic=round(statistic, 4),
        p_value=p_value,
        status=classify(value, p_value, alpha, thresholds),
    )
    return result


def _age_result(reference: Mapping, ages: np.ndarray, alpha: float, thresholds: Thresholds) -> dict:
    ref_ages = expand_counts(reference["age"]["counts"])
    edges = age_bins(ref_ages)
    ref_hist, cur_hist = histogram(ref_ages, edges), histogram(ages, edges)
    result = {
        "feature": AGE,
        "label": LABELS[AGE],
        "kind": "numeric",
        "test": "Kolmogorov-Smirnov",
        "reference": round(float(np.median(ref_ages)), 1),
        "current": round(float(np.median(ages)), 1) if ages.size else None,
        "reference_mean": round(float(ref_ages.mean()), 2),
        "current_mean": round(float(ages.mean()), 2) if ages.size else None,
        "bins": {"upper_edges": edges.tolist(), "reference": ref_hist.tolist(), "current": cur_hist.tolist()},
        "n": int(ages.size),
        "psi": None,
        "statistic": None,
        "p_value": None,
        "status": INSUFFICIENT,
    }
    if ages.size < thresholds.min_samples:
        return result
    value = psi(ref_hist, cur_hist)
    from scipy import stats  # deferred, as above

    test = stats.ks_2samp(ref_ages, ages)
    result.update(
        psi=round(value, 4),
        statistic=round(float(test.statistic), 4),
        p_value=float(test.pvalue),
        status=classify(value, float(test.pvalue), alpha, thresholds),
    )
    return result


_COMPARED = (AGE, *YES_NO_FEATURES)
assert _COMPARED == DRIFT_INPUTS, "the log store packs the inputs in the order the drift compares them"


def usable_entries(entries: Iterable[Mapping]) -> list[Mapping]:
    """Logged predictions with complete inputs (rejected requests carry no usable inputs)."""
    return [entry for entry in entries if drift_code(entry) != NOT_COMPARED]


def drift_report(
    reference: Mapping[str, Any],
    entries: Iterable[Mapping] | DriftWindow,
    thresholds: Thresholds = Thresholds(),
) -> dict[str, Any]:
    """Compare the logged predictions `entries` (or a store's DriftWindow) with `reference`; JSON-ready."""
    compared = entries if isinstance(entries, DriftWindow) else DriftWindow.from_entries(entries)
    # One row of inputs per entry: the counts below are column sums, not loops over dicts.
    inputs = compared.inputs
    n = len(compared.predictions)
    n_tests = len(YES_NO_FEATURES) + 2  # the yes/no inputs, AGE and the predicted positive rate
    alpha = thresholds.alpha / n_tests
    ref_n = int(reference["rows"])
    features = [_age_result(reference, inputs[:, 0], alpha, thresholds)]
    for column, name in enumerate(YES_NO_FEATURES, start=1):
        yes = int(np.count_nonzero(inputs[:, column] == 1))
        features.append(
            _yes_no_result(
                name, _LABELS[name], reference["yes_no"][name]["prevalence"], ref_n, yes, n, alpha, thresholds
            )
        )
    ref_positive = reference["predicted_positive"]
    positives = int(np.count_nonzero(compared.predictions == 1))
    predicted = _yes_no_result(
        PREDICTED_POSITIVE,
        "Predicted positive rate",
        ref_positive["rate"],
        int(ref_positive["n"]),
        positives,
        n,
        alpha,
        thresholds,
    )
    statuses = [f["status"] for f in features] + [predicted["status"]]
    if n < thresholds.min_samples:
        overall = INSUFFICIENT
    else:
        overall = max(statuses, key=_SEVERITY.__getitem__)
    timestamps = sorted(str(stamp) for stamp in compared.timestamps if stamp)
    model_versions = sorted({str(version) for version in compared.model_versions if version})
    return {
        "status": overall,
        "drifted": [f["feature"] for f in (*features, predicted) if f["status"] == DRIFT],
        "watched": [f["feature"] for f in (*features, predicted) if f["status"] == WATCH],
        "window": {
            "entries": n,
            "first": timestamps[0] if timestamps else None,
            "last": timestamps[-1] if timestamps else None,
            "model_versions": model_versions,
        },
        "reference": {
            "rows": ref_n,
            "data_sha256": reference["data"]["sha256"],
            "model_version": ref_positive.get("model_version"),
        },
        "thresholds": {**asdict(thresholds), "alpha_per_test": alpha, "tests": n_tests},
        "features": features,
        "predicted_positive": predicted,
    }


def format_p(p_value: float | None) -> str:
    """p-values for people: '<1e-12' instead of 3.2e-45, three significant digits otherwise."""
    if p_value is None or math.isnan(p_value):
        return "n/a"
    if p_value < 1e-12:
        return "<1e-12"
    return f"{p_value:.3g}"
