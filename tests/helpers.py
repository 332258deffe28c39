"""Small helpers shared by the tests."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from webapp import features

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "survey_lung_cancer.csv"


def require(condition: bool, reason: str) -> None:
    """Skip when a real dependency is missing; under CI=true the same gap is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI requires it: {reason}")
    pytest.skip(reason)


def require_binary(name: str, path: str | None = None) -> str:
    found = path if path and os.path.exists(path) else shutil.which(name)
    require(found is not None, f"{name} is not installed (apt-get install {name})")
    return found


def dataset_path() -> Path:
    """The survey CSV (not committed: its licence); override with LUNG_CANCER_DATA."""
    path = Path(os.environ.get("LUNG_CANCER_DATA", DEFAULT_DATA))
    require(path.is_file(), f"dataset not found at {path} (set LUNG_CANCER_DATA)")
    return path


def patient(**overrides) -> dict:
    """A valid request body; keyword overrides use underscores for spaces (CHEST_PAIN=1)."""
    body = {name: 0 for name in features.FEATURES}
    body["AGE"] = 50
    for key, value in overrides.items():
        body[features.canonical_name(key)] = value
    return body


HEALTHY_YOUNG_WOMAN = patient(AGE=25, GENDER=0)
SYMPTOMATIC_OLDER_SMOKER = patient(
    AGE=70,
    GENDER=1,
    SMOKING=1,
    COUGHING=1,
    WHEEZING=1,
    CHEST_PAIN=1,
    SHORTNESS_OF_BREATH=1,
    SWALLOWING_DIFFICULTY=1,
)


def wait_until(condition: Callable[[], object], timeout: float = 5.0, interval: float = 0.02) -> bool:
    """Poll `condition` until it is true or `timeout` seconds have passed; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())
