"""Read the training reference that drift is measured against: `model/reference.json`.

It is built offline by `python -m model.reference` from the rows the model was trained on; its
data checksum must match the model card's, so the reference and the model describe the same data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from webapp.artifacts import CARD_FILE, REFERENCE_FILE
from webapp.features import BINARY_FEATURES, GENDER
from webapp.settings import PROJECT_ROOT

DEFAULT_MODEL_DIR = PROJECT_ROOT / "model"
#: GENDER and the 13 symptoms and habits: every input that is 0 or 1.
YES_NO_FEATURES: tuple[str, ...] = (GENDER, *BINARY_FEATURES)


class ReferenceError(RuntimeError):
    """The reference file is missing, unreadable or describes other data than the model."""


def load_reference(model_dir: str | Path = DEFAULT_MODEL_DIR) -> dict[str, Any]:
    """Read `reference.json` from the model directory and check it matches the model card's data."""
    model_dir = Path(model_dir)
    path = model_dir / REFERENCE_FILE
    try:
        reference = json.loads(path.read_text())
    except FileNotFoundError as error:
        raise ReferenceError(
            f"{path} not found: run python -m model.reference --data ../shared/data/survey_lung_cancer.csv"
        ) from error
    except ValueError as error:
        raise ReferenceError(f"{path} is not valid JSON: {error}") from error
    card_path = model_dir / CARD_FILE
    if card_path.is_file():
        card_sha = json.loads(card_path.read_text()).get("data", {}).get("sha256")
        if card_sha and card_sha != reference.get("data", {}).get("sha256"):
            raise ReferenceError(f"{path} describes other data than {card_path}: regenerate it.")
    return reference
