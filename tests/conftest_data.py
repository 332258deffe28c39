"""Where the survey CSV lives, and the rule for tests that need it.

The dataset is not committed (its licence). Tests that need it skip when it is missing,
except under CI=true, where a missing dataset is a failure rather than a silent skip.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "survey_lung_cancer.csv"


def dataset_path() -> Path:
    """The CSV path (override with LUNG_CANCER_DATA); skip, or fail under CI, when it is absent."""
    path = Path(os.environ.get("LUNG_CANCER_DATA", DEFAULT_DATA))
    if path.is_file():
        return path
    reason = f"dataset not found at {path} (set LUNG_CANCER_DATA)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI requires the dataset: {reason}")
    pytest.skip(reason)
