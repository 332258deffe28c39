"""Train the lung-cancer risk model and write `model.joblib` and `model_card.json`.

    python -m model.train --data ../shared/data/survey_lung_cancer.csv [--out model] [--seed 42]

Candidates are linear (optionally on pairwise interactions) because serving explains each
prediction as coefficient x standardized value and runs in plain NumPy.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import sklearn
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from threadpoolctl import threadpool_limits

from model import nested_cv
from model.bounded_logistic import BoundedLogisticRegression
from webapp.artifacts import ARTIFACT_FILE, CARD_FILE, SERVING_FILE, sha256_of
from webapp.features import (
    AGE,
    AGE_MAX,
    AGE_MIN,
    FEATURES,
    GENDER,
    LABELS,
    TARGET,
    canonical_name,
    normalize_name,
)

logger = logging.getLogger(__name__)

BASELINE_AUC_BAR = 0.94
TARGET_SENSITIVITY = 0.95
HIGH_RISK_PPV = 0.99
N_SPLITS, N_REPEATS = 5, 5
INNER_REPEATS = 1  # inside each outer fold of the nested evaluation (cost: 25 outer selections)

#: Coefficients held >= 0 by the sign-constrained candidates: age, being male, smoking, the
#: symptoms, alcohol and chronic disease never lower the score. Peer pressure, anxiety and
#: allergy are left free: medicine gives them no direction for lung cancer.
NONNEGATIVE = frozenset(FEATURES) - {"PEER_PRESSURE", "ANXIETY", "ALLERGY"}
AGE_BANDS = (("under 55", 0, 55), ("55 to 64", 55, 65), ("65 and over", 65, 200))

SYMPTOM_CODES = {"1": 0, "2": 1}
GENDER_CODES = {"M": 1, "F": 0}
TARGET_CODES = {"YES": 1, "NO": 0}


@dataclass(frozen=True)
class Candidate:
    name: str
    description: str
    C: float
    interactions: bool = False
    signs: bool = False  # hold the NONNEGATIVE coefficients at >= 0 (linear candidates only)

    def build(self) -> Pipeline:
        expand = []
        if self.interactions:
            expand = [PolynomialFeatures(2, interaction_only=True, include_bias=False)]
        if self.signs:
            nonnegative = tuple(name in NONNEGATIVE for name in FEATURES)
            return make_pipeline(
                StandardScaler(),
                BoundedLogisticRegression(C=self.C, nonnegative=nonnegative, class_weight="balanced"),
            )
        return make_pipeline(
            *expand,
            StandardScaler(),
            LogisticRegression(C=self.C, class_weight="balanced", max_iter=5000),
        )


#: Ordered from simplest to most complex; the first is the baseline to beat.
CANDIDATES: tuple[Candidate, ...] = (
    Candidate("lr_baseline", "StandardScaler + balanced logistic regression, C=1", 1.0),
    Candidate("lr_c0.1", "StandardScaler + balanced logistic regression, C=0.1", 0.1),
    Candidate(
        "lr_interactions_c0.05",
        "pairwise interactions + StandardScaler + balanced logistic regression, C=0.05",
        0.05,
        interactions=True,
    ),
)

#: The same selection among sign-constrained candidates (no interactions: an interaction's
#: sign has no medical reading, and would let a symptom lower the score through the back door).
SIGNED_CANDIDATES: tuple[Candidate, ...] = (
    Candidate(
        "lr_signs_c1",
        "StandardScaler + balanced logistic regression with medical sign constraints, C=1",
        1.0,
        signs=True,
    ),
    Candidate(
        "lr_signs_c0.1",
        "StandardScaler + balanced logistic regression with medical sign constraints, C=0.1",
        0.1,
        signs=True,
    ),
)


def _encode(name: str, raw: str) -> int:
    value = raw.strip()
    if name == AGE:
        return int(value)
    if name == GENDER:
        return GENDER_CODES[value.upper()]
    return SYMPTOM_CODES[value]


def load_dataset(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read the survey CSV into X (FEATURES order, 0/1 coded) and y (1 = lung cancer)."""
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    columns: dict[str, int] = {}
    for index, raw_name in enumerate(header):
        name = TARGET if normalize_name(raw_name) == normalize_name(TARGET) else canonical_name(raw_name)
        if name is None:
            raise ValueError(f"unexpected column {raw_name!r} in {path}")
        columns[name] = index
    missing = [name for name in (*FEATURES, TARGET) if name not in columns]
    if missing:
        raise ValueError(f"columns missing from {path}: {missing}")
    try:
        X = np.array([[_encode(n, row[columns[n]]) for n in FEATURES] for row in rows], dtype=np.float64)
        y = np.array([TARGET_CODES[row[columns[TARGET]].strip().upper()] for row in rows], dtype=np.int64)
    except (KeyError, ValueError) as error:
        raise ValueError(f"unexpected value {error} in {path}") from error
    return X, y


def drop_exact_duplicates(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the first occurrence of each (inputs, target) row; duplicates leak between CV folds."""
    _, first = np.unique(np.column_stack([X, y]), axis=0, return_index=True)
    keep = np.sort(first)
    return X[keep], y[keep]


def calibrated(candidate: Candidate) -> CalibratedClassifierCV:
    """One pipeline fitted on all rows plus one Platt sigmoid fitted on its 5-fold out-of-fold scores."""
    return CalibratedClassifierCV(candidate.build(), method="sigmoid", cv=5, ensemble=False)


def _mean_std(values: Sequence[float]) -> dict[str, float]:
    return {"mean": round(float(np.mean(values)), 4), "std": round(float(np.std(values, ddof=1)), 4)}


def highest_threshold_with_sensitivity(y: np.ndarray, p: np.ndarray, target: float) -> float:
    """The largest t such that predicting p >= t finds at least `target` of the positives."""
    positives = np.sort(p[y == 1])[::-1]
    needed = math.ceil(target * len(positives))
    return float(positives[needed - 1])


def lowest_probability_with_ppv(y: np.ndarray, p: np.ndarray, floor: float, target: float) -> float:
    """The smallest cut >= floor above which every tail p >= cut has precision >= target."""
    order = np.argsort(-p, kind="stable")
    ys, ps = y[order], p[order]
    precision = np.cumsum(ys) / np.arange(1, len(ys) + 1)
    # A cut is valid only if precision stays >= target for all higher cuts too.
    ok = np.minimum.accumulate(precision >= target)
    candidates = ps[ok & (ps >= floor)]
    return float(candidates.min()) if candidates.size else 1.0


def evaluate_candidates(X, y, cv, candidates: Sequence[Candidate] = CANDIDATES) -> dict[str, dict]:
    results = {}
    for candidate in candidates:
        scores = cross_val_score(candidate.build(), X, y, cv=cv, scoring="roc_auc")
        results[candidate.name] = {"description": candidate.description, "roc_auc": _mean_std(scores)}
        logger.debug("%s: CV ROC AUC %.4f +- %.4f", candidate.name, scores.mean(), scores.std(ddof=1))
    return results


def choose(results: dict[str, dict], candidates: Sequence[Candidate] = CANDIDATES) -> Candidate:
    """The simplest candidate that beats both the baseline's CV AUC and the 0.94 bar."""
    bar = max(BASELINE_AUC_BAR, results[candidates[0].name]["roc_auc"]["mean"])
    for candidate in candidates[1:]:
        if results[candidate.name]["roc_auc"]["mean"] > bar:
            return candidate
    return candidates[0]


@dataclass(frozen=True)
class Selection:
    """The whole selection procedure's outcome on some rows: what the outer folds re-run."""

    candidate: Candidate
    candidates: dict
    evaluation: dict
    model: CalibratedClassifierCV

    def fitted(self) -> nested_cv.Fitted:
        return nested_cv.Fitted(
            lambda rows: self.model.predict_proba(rows)[:, 1],
            self.evaluation["threshold"],
            self.evaluation["high_cut"],
            self.candidate.name,
        )


def select(X, y, candidates: Sequence[Candidate], cv) -> Selection:
    """Choose a candidate, its threshold and high cut by CV on these rows, then fit it calibrated."""
    results = evaluate_candidates(X, y, cv, candidates)
    chosen = choose(results, candidates)
    evaluation = cross_validate_calibrated(chosen, X, y, cv)
    return Selection(chosen, results, evaluation, calibrated(chosen).fit(X, y))


def nested_evaluation(X, y, candidates: Sequence[Candidate], seed: int) -> list[nested_cv.OuterFold]:
    """Outer 5x5 folds; inside each, the full selection on 5 inner folds of its training rows."""
    outer = RepeatedStratifiedKFold(n_splits=N_SPLITS, n_repeats=N_REPEATS, random_state=seed)
    inner = RepeatedStratifiedKFold(n_splits=N_SPLITS, n_repeats=INNER_REPEATS, random_state=seed)
    return nested_cv.run(lambda X_in, y_in: select(X_in, y_in, candidates, inner).fitted(), X, y, outer)


def cross_validate_calibrated(candidate: Candidate, X, y, cv) -> dict:
    """Fold metrics of the calibrated model, threshold and bands from the out-of-fold probabilities."""
    folds = []
    for train, test in cv.split(X, y):
        model = calibrated(candidate).fit(X[train], y[train])
        folds.append((y[test], model.predict_proba(X[test])[:, 1]))
    y_oof = np.concatenate([f[0] for f in folds])
    p_oof = np.concatenate([f[1] for f in folds])
    threshold = highest_threshold_with_sensitivity(y_oof, p_oof, TARGET_SENSITIVITY)
    high_cut = lowest_probability_with_ppv(y_oof, p_oof, threshold, HIGH_RISK_PPV)

    per_fold: dict[str, list[float]] = {
        k: []
        for k in ("roc_auc", "brier", "accuracy", "balanced_accuracy", "sensitivity", "specificity", "ppv")
    }
    for y_test, p_test in folds:
        predicted = p_test >= threshold
        sensitivity = predicted[y_test == 1].mean()
        specificity = (~predicted[y_test == 0]).mean()
        per_fold["roc_auc"].append(roc_auc_score(y_test, p_test))
        per_fold["brier"].append(brier_score_loss(y_test, p_test))
        per_fold["accuracy"].append((predicted == (y_test == 1)).mean())
        per_fold["balanced_accuracy"].append((sensitivity + specificity) / 2)
        per_fold["sensitivity"].append(sensitivity)
        per_fold["specificity"].append(specificity)
        per_fold["ppv"].append(y_test[predicted].mean() if predicted.any() else 0.0)
    pooled = p_oof >= threshold
    return {
        "metrics": {name: _mean_std(values) for name, values in per_fold.items()},
        "pooled_oof": {
            "sensitivity": round(float(pooled[y_oof == 1].mean()), 4),
            "specificity": round(float((~pooled[y_oof == 0]).mean()), 4),
            "ppv_at_high_cut": round(float(y_oof[p_oof >= high_cut].mean()), 4),
            "share_high": round(float((p_oof >= high_cut).mean()), 4),
            "share_moderate": round(float(((p_oof >= threshold) & (p_oof < high_cut)).mean()), 4),
            "share_low": round(float((p_oof < threshold).mean()), 4),
        },
        "threshold": threshold,
        "high_cut": high_cut,
    }


def serving_parameters(model: CalibratedClassifierCV) -> dict:
    """The plain NumPy numbers serving needs, read off the fitted calibrated pipeline."""
    inner = model.calibrated_classifiers_[0]
    pipeline, sigmoid = inner.estimator, inner.calibrators[0]
    scaler = pipeline.named_steps["standardscaler"]
    logistic = pipeline.steps[-1][1]
    pairs = np.empty((0, 2), dtype=np.int64)
    if "polynomialfeatures" in pipeline.named_steps:
        powers = pipeline.named_steps["polynomialfeatures"].powers_
        n = len(FEATURES)
        if not np.array_equal(powers[:n], np.eye(n, dtype=powers.dtype)):
            raise RuntimeError("unexpected PolynomialFeatures column order")
        pairs = np.array([np.flatnonzero(row) for row in powers[n:]], dtype=np.int64)
    return {
        "features": FEATURES,
        "interaction_pairs": pairs,
        "scaler_mean": scaler.mean_.astype(np.float64),
        "scaler_scale": scaler.scale_.astype(np.float64),
        "coef": logistic.coef_[0].astype(np.float64),
        "intercept": float(logistic.intercept_[0]),
        "calibration_a": float(sigmoid.a_),
        "calibration_b": float(sigmoid.b_),
    }


def serving_document(artifact: dict, artifact_sha: str) -> dict:
    """The artifact's numbers as plain JSON values (floats round-trip exactly), tied to its hash."""
    plain = {
        key: value.tolist()
        if isinstance(value, np.ndarray)
        else list(value)
        if isinstance(value, tuple)
        else value
        for key, value in artifact.items()
        if key != "estimator"
    }
    return {"artifact_sha256": artifact_sha, **plain}


def export_serving(model_dir: Path) -> Path:
    """Write `serving.json` beside `model.joblib`, from it: what the API loads instead of unpickling."""
    artifact_path = model_dir / ARTIFACT_FILE
    document = serving_document(joblib.load(artifact_path), sha256_of(artifact_path))
    path = model_dir / SERVING_FILE
    path.write_text(json.dumps(document, indent=1) + "\n")
    return path


def feature_card(X: np.ndarray) -> list[dict]:
    cards = []
    for index, name in enumerate(FEATURES):
        low, high = int(X[:, index].min()), int(X[:, index].max())
        if name == AGE:
            encoding, accepted = "integer years", {"min": AGE_MIN, "max": AGE_MAX}
        elif name == GENDER:
            encoding, accepted = "1 = male, 0 = female (raw M/F)", {"values": [0, 1]}
        else:
            encoding, accepted = "1 = yes, 0 = no (raw 2/1)", {"values": [0, 1]}
        cards.append(
            {
                "name": name,
                "label": LABELS[name],
                "encoding": encoding,
                "accepted": accepted,
                "training_range": [low, high],
            }
        )
    return cards


def portable(model: CalibratedClassifierCV) -> CalibratedClassifierCV:
    """The fitted model with a sign-constrained final step swapped for a plain LogisticRegression
    holding the same numbers, so the artifact unpickles with scikit-learn alone."""
    pipeline = model.calibrated_classifiers_[0].estimator
    name, step = pipeline.steps[-1]
    if isinstance(step, BoundedLogisticRegression):
        plain = step.as_logistic_regression()
        pipeline.steps[-1] = (name, plain)
        # The unfitted template the calibrator keeps as a parameter, likewise.
        template = model.estimator
        model.estimator = Pipeline([*template.steps[:-1], (template.steps[-1][0], clone(plain))])
    return model


def risk_bands(threshold: float, high_cut: float) -> list[dict]:
    """Cut points only: /metadata adds each band's title and meaning from webapp/wording.py, so a
    translation of the words never changes the model's bytes."""
    cuts = {"low": (0.0, threshold), "moderate": (threshold, high_cut), "high": (high_cut, 1.0)}
    return [{"level": level, "from": low, "to": high} for level, (low, high) in cuts.items()]


def weights(model: CalibratedClassifierCV) -> dict[str, float]:
    """Each input's change to the model's log-odds per unit (per year for age; yes versus no)."""
    parameters = serving_parameters(model)
    if len(parameters["interaction_pairs"]):
        return {}
    per_unit = parameters["coef"] / parameters["scaler_scale"]
    return {name: round(float(w), 4) for name, w in zip(FEATURES, per_unit, strict=False)}


def groups_of(X: np.ndarray) -> dict[str, np.ndarray]:
    groups = {"women": X[:, FEATURES.index(GENDER)] == 0, "men": X[:, FEATURES.index(GENDER)] == 1}
    age = X[:, FEATURES.index(AGE)]
    groups.update({f"age {name}": (age >= low) & (age < high) for name, low, high in AGE_BANDS})
    return groups


def compare_constraints(X, y, seed: int) -> dict:
    """Nested figures of both candidate families; the sign-constrained one is adopted unless it
    loses ROC AUC beyond noise (the paired 95% interval of the difference lies below zero)."""
    test_fraction = 1.0 / N_SPLITS
    folds = {
        family: nested_evaluation(X, y, candidates, seed)
        for family, candidates in (("unconstrained", CANDIDATES), ("sign_constrained", SIGNED_CANDIDATES))
    }
    difference = {
        metric: nested_cv.paired_difference(
            y, folds["unconstrained"], folds["sign_constrained"], metric, test_fraction
        )
        for metric in ("roc_auc", "brier", "sensitivity", "specificity")
    }
    adopted = "sign_constrained" if difference["roc_auc"]["ci95"][1] >= 0 else "unconstrained"
    families = {}
    for family, outer in folds.items():
        chosen = [fold.fitted.name for fold in outer]
        families[family] = {
            "metrics": nested_cv.summarize(y, outer, test_fraction),
            "by_group": nested_cv.by_group(y, outer, groups_of(X)),
            "bands": nested_cv.band_outcomes(y, outer),
            "chosen_in_outer_folds": {name: chosen.count(name) for name in sorted(set(chosen))},
        }
        logger.info(
            "nested %s: ROC AUC %s, sensitivity %s, specificity %s",
            family,
            families[family]["metrics"]["roc_auc"],
            families[family]["metrics"]["sensitivity"],
            families[family]["metrics"]["specificity"],
        )
    logger.info("sign-constrained minus unconstrained ROC AUC %s: adopted %s", difference["roc_auc"], adopted)
    return {"families": families, "difference": difference, "adopted": adopted}


DATASET = {
    "name": "Lung Cancer (survey)",
    "source": "Kaggle, mysarahmadbhat/lung-cancer",
    "url": "https://www.kaggle.com/datasets/mysarahmadbhat/lung-cancer",
    "attribution": '"Lung Cancer" survey dataset by mysarahmadbhat on Kaggle, collected from an '
    "online lung cancer prediction survey (self-reported, not clinically verified).",
    "licence": "CC BY-NC-SA 4.0 (as declared by its public mirrors)",
}


def train(data: Path, out: Path, seed: int = 42) -> dict:
    """Select, calibrate and fit the model; write the artifact and the card; return the card."""
    X_raw, y_raw = load_dataset(data)
    X, y = drop_exact_duplicates(X_raw, y_raw)
    logger.info("%d raw rows, %d after dropping exact duplicates", len(X_raw), len(X))
    cv = RepeatedStratifiedKFold(n_splits=N_SPLITS, n_repeats=N_REPEATS, random_state=seed)

    # One BLAS thread: five times faster on these tiny matrices, and the same bytes on any machine.
    with threadpool_limits(limits=1):
        comparison = compare_constraints(X, y, seed)
        family = SIGNED_CANDIDATES if comparison["adopted"] == "sign_constrained" else CANDIDATES
        selection = select(X, y, family, cv)
    chosen, results, evaluation = selection.candidate, selection.candidates, selection.evaluation
    threshold, high_cut = evaluation["threshold"], evaluation["high_cut"]
    served = comparison["families"][comparison["adopted"]]

    model = portable(selection.model)
    artifact = {
        "model_name": chosen.name,
        "estimator": model,
        **serving_parameters(model),
        "threshold": threshold,
        "high_risk_threshold": high_cut,
    }
    out.mkdir(parents=True, exist_ok=True)
    artifact_path = out / ARTIFACT_FILE
    joblib.dump(artifact, artifact_path)
    artifact_sha = sha256_of(artifact_path)
    export_serving(out)

    features = feature_card(X)
    age_low, age_high = features[FEATURES.index(AGE)]["training_range"]
    card = {
        "model_name": chosen.name,
        "model_version": f"lr-{artifact_sha[:8]}",
        "description": f"Calibrated ({chosen.description}) + Platt sigmoid; a screening score "
        "from 15 self-reported survey answers.",
        "artifact": {"file": ARTIFACT_FILE, "sha256": artifact_sha},
        "data": {
            "file": data.name,
            "sha256": sha256_of(data),
            "raw_rows": len(X_raw),
            "exact_duplicates_dropped": len(X_raw) - len(X),
            "rows_used": len(X),
            "class_balance": {
                "positive": int(y.sum()),
                "negative": int(len(y) - y.sum()),
                "positive_fraction": round(float(y.mean()), 4),
            },
        },
        "dataset": DATASET,
        "licence": "CC BY-NC-SA 4.0: this model is a derivative of the dataset and shared under "
        "the same licence (attribution, non-commercial, share-alike).",
        "features": features,
        "feature_names": list(FEATURES),
        "training_ranges": {feature["name"]: feature["training_range"] for feature in features},
        "target": {"name": TARGET, "encoding": "1 = YES (lung cancer), 0 = NO"},
        "libraries": {
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "joblib": joblib.__version__,
        },
        "seed": seed,
        "cv": {
            "scheme": f"RepeatedStratifiedKFold(n_splits={N_SPLITS}, n_repeats={N_REPEATS}, "
            f"random_state={seed}) on deduplicated rows",
            "std": "sample standard deviation over the 25 folds",
        },
        "baseline": family[0].name,
        "selection_rule": "simplest candidate whose mean CV ROC AUC beats both the baseline and "
        f"{BASELINE_AUC_BAR}",
        "candidates": results,
        "calibration": "CalibratedClassifierCV(method='sigmoid', cv=5, ensemble=False), "
        "refitted inside every CV fold",
        "sign_constraints": {
            "nonnegative": sorted(NONNEGATIVE),
            "free": sorted(set(FEATURES) - NONNEGATIVE),
            "meaning": "age, being male, smoking, every symptom, alcohol and chronic disease may "
            "only raise the score (coefficients held >= 0 by L-BFGS-B bounds)",
            "rule": "adopted unless the paired nested 95% interval of the ROC AUC difference "
            "(sign-constrained minus unconstrained) lies below zero",
            "adopted": comparison["adopted"] == "sign_constrained",
        },
        "evaluation": {
            "scheme": f"nested: outer RepeatedStratifiedKFold(n_splits={N_SPLITS}, n_repeats={N_REPEATS}, "
            f"random_state={seed}); inside each outer training set the whole selection "
            f"(candidate, calibration, threshold, high cut) on RepeatedStratifiedKFold("
            f"n_splits={N_SPLITS}, n_repeats={INNER_REPEATS}); every figure is scored on "
            "outer test rows at that fold's own threshold",
            "interval": "ci95: corrected resampled t interval for the mean of the 25 outer folds "
            "(Nadeau and Bengio 2003), not the spread of fold scores",
            "groups": "by_group: sensitivity and specificity of the outer folds' own decisions "
            "pooled over the 5 repeats, with Wilson 95% intervals on the number of people",
            "families": comparison["families"],
            "sign_constrained_minus_unconstrained": comparison["difference"],
        },
        "metrics": served["metrics"],
        "by_group": served["by_group"],
        "band_outcomes": served["bands"],
        "pooled_out_of_fold": evaluation["pooled_oof"],
        "weights": weights(model),
        "threshold": threshold,
        "threshold_rule": "highest threshold whose pooled out-of-fold sensitivity is >= "
        f"{TARGET_SENSITIVITY} on the selection's own folds (pooled_out_of_fold, "
        "optimistic); metrics and by_group are the nested, honest figures. "
        "prediction = probability >= threshold.",
        "risk_bands": risk_bands(threshold, high_cut),
        "risk_bands_rule": "high from the lowest out-of-fold probability above which precision (PPV) "
        f"stays >= {HIGH_RISK_PPV}; codes low, moderate, high read as not flagged, "
        "flagged, flagged strongly (titles and meanings: /metadata)",
        "intended_use": "Screening aid that suggests who might talk with a doctor about lung cancer. "
        "The score ranks answers against an online survey in which most respondents "
        "had lung cancer; it is not a person's probability of having lung cancer, "
        "not a diagnosis and not a substitute for clinical assessment. Anyone with "
        "a cough, wheezing, shortness of breath, chest pain or difficulty swallowing "
        "should see a doctor whatever the score.",
        "limitations": [
            f"Trained on {len(X)} self-reported answers to an online survey, not clinically verified.",
            f"{y.mean():.0%} of respondents had lung cancer, far more than in any screening population, "
            "so the score is calibrated to the survey and overstates risk for the general public.",
            f"Only {int(len(y) - y.sum())} respondents without lung cancer: specificity is uncertain "
            "(see the intervals), and men get more false alarms than women (by_group).",
            "Some weights are survey artefacts, not medicine: allergy, alcohol and peer pressure "
            "weigh more than smoking.",
            f"Ages outside {age_low}-{age_high} were never seen in training; estimates there are extrapolations.",
            "No smoking intensity, pack-years, family history or imaging: a coarse yes/no questionnaire.",
        ],
    }
    (out / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    return card


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="survey_lung_cancer.csv")
    parser.add_argument("--out", type=Path, default=Path("model"), help="output directory")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    card = train(args.data, args.out, args.seed)
    m = card["metrics"]
    logger.info(
        "chosen %s (%s), nested: AUC %.4f %s, Brier %.4f %s, sensitivity %.3f %s, "
        "specificity %.3f %s; threshold %.4f, high from %.4f",
        card["model_name"],
        card["model_version"],
        m["roc_auc"]["mean"],
        m["roc_auc"]["ci95"],
        m["brier"]["mean"],
        m["brier"]["ci95"],
        m["sensitivity"]["mean"],
        m["sensitivity"]["ci95"],
        m["specificity"]["mean"],
        m["specificity"]["ci95"],
        card["threshold"],
        card["risk_bands"][2]["from"],
    )
    return card


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    main()
