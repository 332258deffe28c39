"""Build the training reference that drift is measured against: `model/reference.json`.

    python -m model.reference --data ../shared/data/survey_lung_cancer.csv [--model-dir model]

Built from the same rows the model was trained on (model.train's loading and de-duplication):
the class mix, the share of "yes" for every yes/no input (and of men for GENDER) overall and
per class, the age counts overall and per class, and the served model's predicted positive
rate on those rows. The data file's sha256 must match the model card's, so the reference and
the model always describe the same data.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model.train import drop_exact_duplicates, load_dataset
from webapp.artifacts import CARD_FILE, REFERENCE_FILE, sha256_of
from webapp.features import AGE, FEATURES, LABELS
from webapp.model_service import ModelService
from webapp.monitoring.reference import DEFAULT_MODEL_DIR, YES_NO_FEATURES, ReferenceError

logger = logging.getLogger(__name__)

QUANTILE_NAMES = ("p05", "p25", "p50", "p75", "p95")


def _age_counts(ages: np.ndarray) -> dict[str, int]:
    values, counts = np.unique(ages.astype(int), return_counts=True)
    return {str(int(v)): int(c) for v, c in zip(values, counts, strict=True)}


def _rate(values: np.ndarray) -> float:
    return round(float(values.mean()), 6) if values.size else 0.0


def build_reference(
    X: np.ndarray,
    y: np.ndarray,
    predictions: np.ndarray,
    *,
    data_info: dict[str, Any],
    model_version: str,
    threshold: float,
) -> dict[str, Any]:
    """The reference for training rows X (FEATURES order), labels y and the model's 0/1 predictions."""
    classes = {"0": y == 0, "1": y == 1}
    yes_no = {}
    for name in YES_NO_FEATURES:
        column = X[:, FEATURES.index(name)]
        yes_no[name] = {
            "label": LABELS[name],
            "count": int(column.sum()),
            "prevalence": _rate(column),
            "by_class": {key: _rate(column[mask]) for key, mask in classes.items()},
        }
    ages = X[:, FEATURES.index(AGE)]
    quantiles = np.quantile(ages, [0.05, 0.25, 0.5, 0.75, 0.95])  # QUANTILE_NAMES
    return {
        "description": "Training reference for drift monitoring; regenerate with "
        "`python -m model.reference --data ../shared/data/survey_lung_cancer.csv`.",
        "data": data_info,
        "rows": int(len(y)),
        "class_mix": {
            "positive": int(y.sum()),
            "negative": int(len(y) - y.sum()),
            "positive_fraction": _rate(y),
        },
        "yes_no": yes_no,
        "age": {
            "counts": _age_counts(ages),
            "by_class": {key: _age_counts(ages[mask]) for key, mask in classes.items()},
            "mean": round(float(ages.mean()), 3),
            "std": round(float(ages.std(ddof=1)), 3),
            "quantiles": {name: float(q) for name, q in zip(QUANTILE_NAMES, quantiles, strict=True)},
        },
        "predicted_positive": {
            "count": int(predictions.sum()),
            "n": int(len(predictions)),
            "rate": _rate(predictions),
            "threshold": threshold,
            "model_version": model_version,
        },
    }


def generate(data: Path, model_dir: Path) -> dict[str, Any]:
    """Compute the reference from the survey CSV and the served model; check the data is the card's."""
    card = json.loads((model_dir / CARD_FILE).read_text())
    expected = card["data"]["sha256"]
    actual = sha256_of(data)
    if actual != expected:
        raise ReferenceError(
            f"{data} has sha256 {actual}, but the model card was trained on "
            f"{expected}: use the same data file or retrain the model first."
        )
    X_raw, y_raw = load_dataset(data)
    X, y = drop_exact_duplicates(X_raw, y_raw)
    model = ModelService.load(model_dir)
    predictions = np.array([result.prediction for result in model.predict(X)], dtype=np.int64)
    data_info = {"file": data.name, "sha256": actual, "raw_rows": int(len(y_raw)), "rows_used": int(len(y))}
    return build_reference(
        X, y, predictions, data_info=data_info, model_version=model.version, threshold=model.threshold
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="survey_lung_cancer.csv")
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=DEFAULT_MODEL_DIR,
        help="folder with model_card.json and model.joblib; reference.json is written there",
    )
    args = parser.parse_args(argv)
    try:
        reference = generate(args.data, args.model_dir)
    except ReferenceError as error:
        logger.error("%s", error)
        return 2
    out = args.model_dir / REFERENCE_FILE
    out.write_text(json.dumps(reference, indent=2, sort_keys=True) + "\n")
    logger.info(
        "Wrote %s: %d rows, %.1f%% positive, predicted positive rate %.3f",
        out,
        reference["rows"],
        100 * reference["class_mix"]["positive_fraction"],
        reference["predicted_positive"]["rate"],
    )
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    raise SystemExit(main())
