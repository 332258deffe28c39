"""Load the trained model once, check it, and serve predictions with plain NumPy.

Knows nothing about the web framework. The fitted scikit-learn estimator in the artifact is
used only at load time, to prove the NumPy path reproduces it.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from webapp.artifacts import ARTIFACT_FILE, CARD_FILE, sha256_of
from webapp.features import FEATURES, LABELS

logger = logging.getLogger(__name__)

TOP_FACTORS = 5
#: From this many rows predict() ranks the factors with one NumPy sort for the whole batch;
#: below it in Python, row by row (see _top_factors for why).
BATCH_RANKING = 32
DISCLAIMER = "This is a screening aid, not a diagnosis."


class ModelLoadError(RuntimeError):
    """The model artifact is missing, altered or incompatible; the service must not start."""


@dataclass(frozen=True)
class Factor:
    feature: str
    label: str
    value: float
    contribution: float  # log-odds, signed: coefficient x standardized value


@dataclass(frozen=True)
class Prediction:
    prediction: int
    probability: float
    risk_level: str
    message: str
    factors: tuple[Factor, ...]
    warnings: tuple[str, ...]


class ModelService:
    """A calibrated linear model: logit = sum(coef x standardized input), p = Platt sigmoid(logit)."""

    def __init__(self, artifact: Mapping[str, Any], card: Mapping[str, Any]):
        names = tuple(artifact["features"])
        if sorted(names) != sorted(FEATURES):
            raise ModelLoadError(f"model features {names} do not match the service's {FEATURES}")
        self.card = dict(card)
        self.version: str = card["model_version"]
        self.threshold: float = float(artifact["threshold"])
        self._high_cut = float(artifact["high_risk_threshold"])
        self._estimator = artifact["estimator"]
        # Inputs arrive in FEATURES order; pick the model's columns by name.
        self._names = names
        self._labels = tuple(LABELS[name] for name in names)
        order = np.array([FEATURES.index(name) for name in names])
        self._order = None if np.array_equal(order, np.arange(len(names))) else order

        pairs = np.asarray(artifact["interaction_pairs"], dtype=np.intp).reshape(-1, 2)
        self._left, self._right = pairs[:, 0], pairs[:, 1]
        coef = np.asarray(artifact["coef"], dtype=np.float64)
        scale = np.asarray(artifact["scaler_scale"], dtype=np.float64)
        # coef * (x - mean) / scale == x * weight - offset
        self._weight = coef / scale
        self._offset = np.asarray(artifact["scaler_mean"], dtype=np.float64) * self._weight
        self._intercept = float(artifact["intercept"])
        self._a = float(artifact["calibration_a"])
        self._b = float(artifact["calibration_b"])
        # An interaction's contribution is split equally between its two features.
        n = len(names)
        fold = np.zeros((n + len(pairs), n))
        fold[np.arange(n), np.arange(n)] = 1.0
        fold[n + np.arange(len(pairs)), self._left] = 0.5
        fold[n + np.arange(len(pairs)), self._right] = 0.5
        self._fold = fold if len(pairs) else None

        ranges = card["training_ranges"]
        # (position, name, low, high) of each input whose training range is worth checking:
        # in practice AGE, since the yes/no answers' 0..1 covers all they can be.
        self._range_checks = tuple(
            (i, name, float(ranges[name][0]), float(ranges[name][1])) for i, name in enumerate(names)
            if (ranges[name][0], ranges[name][1]) != (0, 1))
        self._metadata = self._build_metadata()

    @classmethod
    def load(cls, model_dir: str | Path) -> "ModelService":
        """Read and check `model_card.json` and `model.joblib`; raise ModelLoadError on any problem."""
        model_dir = Path(model_dir)
        card_path, artifact_path = model_dir / CARD_FILE, model_dir / ARTIFACT_FILE
        for path in (card_path, artifact_path):
            if not path.is_file():
                raise ModelLoadError(
                    f"{path} not found. Train the model first: python -m model.train "
                    f"--data ../shared/data/survey_lung_cancer.csv --out {model_dir}")
        try:
            card = json.loads(card_path.read_text())
            expected_sha, trained_sklearn = card["artifact"]["sha256"], card["libraries"]["scikit-learn"]
        except (ValueError, KeyError, TypeError) as error:
            raise ModelLoadError(f"{card_path} is not a valid model card: {error!r}") from error

        actual_sha = sha256_of(artifact_path)
        if actual_sha != expected_sha:
            raise ModelLoadError(
                f"{artifact_path} has sha256 {actual_sha} but the model card expects {expected_sha}: "
                "the artifact was altered or belongs to another card. Retrain or restore both files.")
        import joblib  # deferred: importing this module stays cheap
        import sklearn

        if sklearn.__version__ != trained_sklearn:
            raise ModelLoadError(
                f"the model was trained with scikit-learn {trained_sklearn} but scikit-learn "
                f"{sklearn.__version__} is installed: install scikit-learn=={trained_sklearn} or retrain.")
        try:
            service = cls(joblib.load(artifact_path), card)
        except (KeyError, TypeError, ValueError) as error:
            raise ModelLoadError(f"{artifact_path} lacks what serving needs: {error!r}") from error
        service._check_against_estimator()
        logger.info("Loaded model %s from %s (threshold %.4f)", service.version, model_dir, service.threshold)
        return service

    def _check_against_estimator(self) -> None:
        """The NumPy path must reproduce the fitted estimator's probabilities."""
        rows = np.zeros((4, len(FEATURES)))
        rows[:, FEATURES.index("AGE")] = (21, 87, 55, 64)
        rows[1, 1:] = 1.0
        rows[2, 1::2] = 1.0
        rows[3, 2::2] = 1.0
        rows = self._model_columns(rows)
        expected = self._estimator.predict_proba(rows)[:, 1]
        actual = self._probability(self._contributions(rows))
        if not np.allclose(actual, expected, rtol=0.0, atol=1e-9):
            raise ModelLoadError(
                f"NumPy probabilities {actual.tolist()} differ from the estimator's {expected.tolist()}")

    def _model_columns(self, X: np.ndarray) -> np.ndarray:
        """X (FEATURES order) with its columns in the model's feature order."""
        return X if self._order is None else X[:, self._order]

    def _contributions(self, X: np.ndarray) -> np.ndarray:
        """Per-feature log-odds contributions of model-ordered X, shape (n, 15)."""
        if self._fold is None:
            return X * self._weight - self._offset
        expanded = np.concatenate([X, X[:, self._left] * X[:, self._right]], axis=1)
        return (expanded * self._weight - self._offset) @ self._fold

    def _probability(self, contributions: np.ndarray) -> np.ndarray:
        logit = contributions.sum(axis=1) + self._intercept
        return 1.0 / (1.0 + np.exp(self._a * logit + self._b))

    def predict(self, X: np.ndarray) -> list[Prediction]:
        """Predictions for the rows of X, shape (n, 15) with columns in features.FEATURES order."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(FEATURES):
            raise ValueError(f"expected shape (n, {len(FEATURES)}), got {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("inputs must be finite numbers")
        X = self._model_columns(X)
        contributions = self._contributions(X)
        probabilities = self._probability(contributions)

        if len(X) >= BATCH_RANKING:
            # One stable sort for the whole batch (ties in feature order, as in _top_factors).
            ranks = np.argsort(-np.abs(contributions), axis=1, kind="stable")[:, :TOP_FACTORS].tolist()
        else:
            ranks = [None] * len(X)
        results = []
        for p, values, contribs, ranked in zip(probabilities.tolist(), X.tolist(), contributions.tolist(),
                                               ranks):
            level = self._risk_level(p)
            results.append(Prediction(
                prediction=int(p >= self.threshold),
                probability=p,
                risk_level=level,
                message=self._message(level, p),
                factors=self._top_factors(values, contribs, ranked),
                warnings=self._warnings(values),
            ))
        return results

    def _top_factors(self, values: list[float], contributions: list[float],
                     ranked: list[int] | None = None) -> tuple[Factor, ...]:
        """The largest contributions by absolute value, ties in feature order.

        Ranked in Python, not with np.argsort: NumPy's sorts release the GIL, and under
        Gunicorn's threads every release on the request path lets another thread in and
        makes this one queue to get the GIL back (measured: about a fifth of the throughput).
        """
        if ranked is None:
            ranked = sorted(range(len(contributions)), key=lambda i: -abs(contributions[i]))[:TOP_FACTORS]
        names, labels = self._names, self._labels
        return tuple(Factor(names[i], labels[i], values[i], contributions[i]) for i in ranked)

    def _risk_level(self, p: float) -> str:
        if p < self.threshold:
            return "low"
        return "high" if p >= self._high_cut else "moderate"

    def _message(self, level: str, p: float) -> str:
        if level == "high":
            return f"High risk ({p:.0%}): please discuss screening with a doctor. {DISCLAIMER}"
        if level == "moderate":
            return f"Moderate risk ({p:.0%}): worth discussing with a doctor. {DISCLAIMER}"
        return (f"Low risk ({p:.0%}, below this model's {self.threshold:.0%} screening threshold): "
                f"see a doctor if symptoms appear or persist. {DISCLAIMER}")

    def _warnings(self, values: list[float]) -> tuple[str, ...]:
        """One sentence per input beyond what training saw (values in model order)."""
        return tuple(
            f"{name} {values[i]:g} is outside the training range {low:g}-{high:g}; "
            "the estimate is an extrapolation."
            for i, name, low, high in self._range_checks if not low <= values[i] <= high
        )

    def _build_metadata(self) -> dict[str, Any]:
        card = self.card
        inputs = []
        for feature in card["features"]:
            entry = {"name": feature["name"], "label": feature["label"], "type": "integer",
                     "encoding": feature["encoding"], "training_range": feature["training_range"]}
            entry.update(feature["accepted"])
            inputs.append(entry)
        return {
            "model_name": card["model_name"],
            "version": self.version,
            "description": card["description"],
            "inputs": inputs,
            "outputs": {
                "prediction": "1 if probability >= threshold, else 0",
                "probability": "calibrated probability of lung cancer (class 1)",
                "risk_level": "low, moderate or high; see risk_bands",
                "message": "a short plain-language sentence",
                "factors": f"top {TOP_FACTORS} per-feature contributions to the log-odds, signed",
                "warnings": "inputs outside the training ranges",
            },
            "classes": [0, 1],
            "class_labels": {"0": "no lung cancer", "1": "lung cancer"},
            "threshold": self.threshold,
            "risk_bands": card["risk_bands"],
            "metrics": card["metrics"],
            "training_ranges": card["training_ranges"],
            "intended_use": card["intended_use"],
            "limitations": card["limitations"],
            "dataset": card["dataset"],
            "licence": card["licence"],
        }

    def metadata(self) -> dict[str, Any]:
        """What the model expects and returns, for API clients and the UI."""
        return dict(self._metadata)
