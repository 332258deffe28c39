"""The sentences of one language that the batch path's answers are made of, built once a process."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from webapp import wording

#: The bands' machine codes, lowest first.
LEVEL_NAMES = ("low", "moderate", "high")
#: Factor texts kept per language: every answer the API accepts, with room to spare.
FACTOR_TEXTS_KEPT = 4096


class _Phrasebook:
    """The sentences of one language that results are made of, each built once: the score as
    shown by band and percent, the message by band, percent and symptoms, factors by answer."""

    def __init__(
        self,
        language: str,
        names: tuple[str, ...],
        survey_share: float,
        symptoms_by_mask: tuple[tuple[str, ...], ...],
    ) -> None:
        self.language = language
        self._names = names
        self._survey_share = survey_share
        self._symptoms_by_mask = symptoms_by_mask
        # Indexed by band * 101 + whole percent (already kept inside the band).
        self.scores = [
            wording.percent_text(value, language) for _level in LEVEL_NAMES for value in range(101)
        ]
        self.messages = _Messages(self)
        #: (feature position, value, raises, value's sign bit) -> the factor as the API shows it,
        #: contribution aside.
        self.factors: dict[tuple[int, float, bool, bool], dict[str, Any]] = {}
        #: position * 1024 + whole value -> the whole factor (None until built), for models
        #: without interactions, and its JSON (Predictions.factors_json): object arrays, so a
        #: batch takes its rows' factors in one look-up.
        codes = len(names) * 1024
        self.whole_factor_table = np.full(codes, None, dtype=object)
        self.whole_json_table = np.full(codes, None, dtype=object)
        #: position * 1024 + whole value -> what _whole_move says of it (models without interactions).
        self.whole_moves: dict[int, tuple[float, int, dict[str, Any]] | None] = {}

    def message(self, code: int) -> str:
        """The message of band * 101 + percent, times 32, plus the symptoms' bits."""
        score_code, mask = divmod(code, 32)
        level = LEVEL_NAMES[score_code // 101]
        symptoms = self._symptoms_by_mask[mask]
        return wording.message(level, self.scores[score_code], symptoms, self._survey_share, self.language)

    def whole_factor(self, position: int, value: int, change: float) -> dict[str, Any]:
        """The factor of a whole answer from 0 to 1023 whose contribution differs from the
        reference person's by `change`, in a model without interactions: the same wherever the
        same answer is, so built once and shared (`whole_factor_table`)."""
        code = position * 1024 + value
        factor = self.whole_factor_table[code]
        if factor is None:
            factor = self.whole_factor_table[code] = {
                **self.factor(position, float(value), change > 0),
                "contribution": round(change, 4),
            }
            self.whole_json_table[code] = orjson.Fragment(orjson.dumps(factor))
        return factor

    def factor(self, position: int, value: float, raises: bool, negative: bool = False) -> dict[str, Any]:
        name, direction = self._names[position], "raises" if raises else "lowers"
        template = {
            "feature": name,
            "label": wording.answer(name, value, self.language),
            "value": value,
            "contribution": None,
            "direction": direction,
            "text": wording.factor_text(name, value, direction, self.language),
        }
        if len(self.factors) < FACTOR_TEXTS_KEPT:
            self.factors[position, value, raises, negative] = template
        return template


class _Messages(dict):
    """Messages by code, each written the first time it is asked for (at most 3 x 101 x 32)."""

    def __init__(self, book: _Phrasebook) -> None:
        super().__init__()
        self._book = book

    def __missing__(self, code: int) -> str:
        message = self[code] = self._book.message(code)
        return message
