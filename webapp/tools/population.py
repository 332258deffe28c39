"""Synthetic patients drawn from the training reference, with optional drift.

Each patient gets a class from the class mix, an age from that class's training ages and
each yes/no answer from that class's training share of "yes". Answers are independent given
the class, so every marginal share (what the drift report compares) matches the training data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from webapp.features import AGE, AGE_MAX, AGE_MIN, canonical_name
from webapp.monitoring.reference import YES_NO_FEATURES


@dataclass(frozen=True)
class Drift:
    """What to change relative to the training population; the defaults change nothing."""

    #: Years added to every age (clipped to what the API accepts).
    age_shift: float = 0.0
    #: Share of "yes" for a yes/no input, in place of the training share, whatever the class.
    prevalence: Mapping[str, float] = field(default_factory=dict)
    #: Share of patients drawn from the lung-cancer class, in place of the training class mix.
    positive_rate: float | None = None

    def __post_init__(self) -> None:
        for name, share in self.prevalence.items():
            if name not in YES_NO_FEATURES:
                raise ValueError(f"{name!r} is not a yes/no input; choose from {', '.join(YES_NO_FEATURES)}")
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"the prevalence of {name} must be between 0 and 1, got {share}")
        if self.positive_rate is not None and not 0.0 <= self.positive_rate <= 1.0:
            raise ValueError(f"the positive rate must be between 0 and 1, got {self.positive_rate}")

    def describe(self) -> dict[str, Any]:
        return {
            "age_shift": self.age_shift,
            "prevalence": dict(self.prevalence),
            "positive_rate": self.positive_rate,
        }


def parse_prevalence(text: str) -> tuple[str, float]:
    """`SMOKING=0.9` (any spelling the API accepts) -> ("SMOKING", 0.9)."""
    name, sep, value = text.partition("=")
    canonical = canonical_name(name)
    if not sep or canonical is None or canonical not in YES_NO_FEATURES:
        raise ValueError(f"expected NAME=SHARE with a yes/no input name, got {text!r}")
    try:
        return canonical, float(value)
    except ValueError as error:
        raise ValueError(f"the share in {text!r} is not a number") from error


class PatientSampler:
    """Draws request records (canonical keys, 0/1 answers, integer ages); same seed, same patients."""

    def __init__(self, reference: Mapping[str, Any], drift: Drift = Drift(), seed: int | None = None):
        self.drift = drift
        self.rng = np.random.default_rng(seed)
        mix = reference["class_mix"]["positive_fraction"]
        self.positive_rate = mix if drift.positive_rate is None else drift.positive_rate
        self._ages = {}
        for key, counts in reference["age"]["by_class"].items():
            ages = np.array([int(age) for age in counts], dtype=np.int64)
            weights = np.array(list(counts.values()), dtype=np.float64)
            self._ages[int(key)] = (ages, weights / weights.sum())
        self._shares = {
            name: np.array([reference["yes_no"][name]["by_class"][str(c)] for c in (0, 1)])
            for name in YES_NO_FEATURES
        }

    def sample(self, n: int) -> list[dict[str, int]]:
        rng = self.rng
        positive = (rng.random(n) < self.positive_rate).astype(np.int64)
        ages = np.empty(n, dtype=np.float64)
        for cls, (values, weights) in self._ages.items():
            mask = positive == cls
            ages[mask] = rng.choice(values, size=int(mask.sum()), p=weights)
        ages = np.clip(np.rint(ages + self.drift.age_shift), AGE_MIN, AGE_MAX).astype(np.int64)
        columns = {AGE: ages}
        for name in YES_NO_FEATURES:
            override = self.drift.prevalence.get(name)
            share = np.full(n, override) if override is not None else self._shares[name][positive]
            columns[name] = (rng.random(n) < share).astype(np.int64)
        return [{name: int(column[i]) for name, column in columns.items()} for i in range(n)]
