"""ModelService: the trained model loaded once and checked, its predictions computed with NumPy
(a batch) or plain Python floats (a few rows), and what it says of itself (metadata)."""

from __future__ import annotations

import itertools
import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from webapp import i18n, wording
from webapp.artifacts import ARTIFACT_FILE, CARD_FILE, SERVING_FILE, sha256_of
from webapp.features import AGE, FEATURES, REFERENCE, WARNING_SYMPTOMS, to_matrix
from webapp.model_service.phrasebook import LEVEL_NAMES, _Phrasebook
from webapp.model_service.results import FEW_ROWS, Factor, Prediction, Predictions, _numpy_sum, _rounded

logger = logging.getLogger(__name__)

# Contributions smaller than this show as 0.0000 in the API: not a reason worth naming.
NEGLIGIBLE = 5e-5


class ModelLoadError(RuntimeError):
    """The model artifact is missing, altered or incompatible; the service must not start."""


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
        self._bands = {
            "low": (0.0, self.threshold, False),
            "moderate": (self.threshold, self._high_cut, False),
            "high": (self._high_cut, 1.0, True),
        }
        self._survey_share = float(card["data"]["class_balance"]["positive_fraction"])
        # Inputs arrive in FEATURES order; pick the model's columns by name.
        self._names = names
        self._warning_columns = tuple((names.index(name), name) for name in WARNING_SYMPTOMS)
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
            (i, name, float(ranges[name][0]), float(ranges[name][1]))
            for i, name in enumerate(names)
            if (ranges[name][0], ranges[name][1]) != (0, 1)
        )
        reference = self._model_columns(np.array([[REFERENCE[name] for name in FEATURES]], dtype=np.float64))
        self._reference_values = reference[0].tolist()
        self._reference_contributions = self._contributions(reference)[0].tolist()
        self._reference_probability = float(self._probability(self._contributions(reference))[0])
        self._references: dict[str, str] = {}
        self._metadata_by_language = {"en": self._build_metadata()}

        # What predict_many needs as arrays and tables.
        self._reference_row = np.array(self._reference_contributions)
        self._reference_values_row = np.array(self._reference_values)
        limits = [wording.band_percent_limits(*self._bands[level]) for level in LEVEL_NAMES]
        self._percent_limits = tuple(limits)
        self._percent_low = np.array([low for low, _ in limits], dtype=np.float64)
        self._percent_high = np.array([high for _, high in limits], dtype=np.float64)
        self._warning_positions = np.array([i for i, _name in self._warning_columns], dtype=np.intp)
        self._warning_bits = 1 << np.arange(len(self._warning_columns), dtype=np.intp)
        # What predict_records needs as Python floats, for the few rows it scores without NumPy.
        self._weights, self._offsets = self._weight.tolist(), self._offset.tolist()
        self._warning_masks = tuple(
            zip(self._warning_positions.tolist(), self._warning_bits.tolist(), strict=True)
        )
        self._symptoms_by_mask = tuple(
            tuple(name for bit, (_i, name) in enumerate(self._warning_columns) if mask >> bit & 1)
            for mask in range(1 << len(self._warning_columns))
        )
        self._phrasebooks: dict[str, _Phrasebook] = {}

    @classmethod
    def load(cls, model_dir: str | Path) -> ModelService:
        """Read and check `model_card.json` and `serving.json` against `model.joblib`'s hash;
        raise ModelLoadError on any problem."""
        model_dir = Path(model_dir)
        card_path, artifact_path = model_dir / CARD_FILE, model_dir / ARTIFACT_FILE
        serving_path = model_dir / SERVING_FILE
        for path in (card_path, artifact_path, serving_path):
            if not path.is_file():
                raise ModelLoadError(
                    f"{path} not found. Train the model first: python -m model.train "
                    f"--data ../shared/data/survey_lung_cancer.csv --out {model_dir}"
                )
        try:
            card = json.loads(card_path.read_text())
            expected_sha = card["artifact"]["sha256"]
        except (ValueError, KeyError, TypeError) as error:
            raise ModelLoadError(f"{card_path} is not a valid model card: {error!r}") from error
        try:
            serving = json.loads(serving_path.read_text())
        except ValueError as error:
            raise ModelLoadError(f"{serving_path} is not valid JSON: {error!r}") from error

        actual_sha = sha256_of(artifact_path)
        if actual_sha != expected_sha:
            raise ModelLoadError(
                f"{artifact_path} has sha256 {actual_sha} but the model card expects {expected_sha}: "
                "the artifact was altered or belongs to another card. Retrain or restore both files."
            )
        if not isinstance(serving, dict) or serving.get("artifact_sha256") != actual_sha:
            raise ModelLoadError(
                f"{serving_path} was not exported from {artifact_path} (sha256 {actual_sha}): "
                "retrain, or restore model.joblib, model_card.json and serving.json together."
            )
        try:
            service = cls(serving, card)
        except (KeyError, TypeError, ValueError) as error:
            raise ModelLoadError(f"{serving_path} lacks what serving needs: {error!r}") from error
        logger.info("Loaded model %s from %s (threshold %.4f)", service.version, model_dir, service.threshold)
        return service

    def _checked_columns(self, X: np.ndarray) -> np.ndarray:
        """X as float rows of the 15 inputs (FEATURES order) checked, in the model's column order."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(FEATURES):
            raise ValueError(f"expected shape (n, {len(FEATURES)}), got {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("inputs must be finite numbers")
        return self._model_columns(X)

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

    def predict(self, X: np.ndarray, language: str = "en") -> list[Prediction]:
        """Predictions for the rows of X, shape (n, 15) with columns in features.FEATURES order;
        their sentences in `language` (`en` or `fr`)."""
        X = self._checked_columns(X)
        contributions = self._contributions(X)
        probabilities = self._probability(contributions)

        results = []
        rows = zip(probabilities.tolist(), X.tolist(), contributions.tolist(), strict=True)
        for p, values, contribs in rows:
            level = self._risk_level(p)
            score = wording.score_text(p, *self._bands[level], language)
            symptoms = tuple(name for i, name in self._warning_columns if values[i] == 1)
            results.append(
                Prediction(
                    prediction=int(p >= self.threshold),
                    probability=p,
                    risk_level=level,
                    message=wording.message(level, score, symptoms, self._survey_share, language),
                    factors=self._factors(values, contribs, language),
                    warnings=self._warnings(values, language),
                    score_display=score,
                    see_a_doctor_about=symptoms,
                )
            )
        return results

    def predict_records(
        self, records: Sequence[Mapping[str, int]], language: str = "en", matrix: np.ndarray | None = None
    ) -> Predictions:
        """predict_many of validated records (inputs by canonical name), as the API scores them;
        `matrix`, when the caller has it, is their inputs already as rows in FEATURES order.

        A few rows (a single /predict) are scored in plain Python floats, with NumPy's
        arithmetic in NumPy's order (`_numpy_sum`), so every score is NumPy's to the last bit.
        Through NumPy a record takes some twenty array calls: to_matrix and predict_many of one
        record 50 us against 29 us here when timed alone, 170 against 97 us inside a request.
        tests/test_batch_path.py checks both paths agree.
        """
        if len(records) >= FEW_ROWS or self._fold is not None:
            return self.predict_many(to_matrix(records) if matrix is None else matrix, language)
        names, weights, offsets = self._names, self._weights, self._offsets
        rows = [[float(record[name]) for name in names] for record in records]
        if not all(map(math.isfinite, itertools.chain.from_iterable(rows))):
            return self.predict_many(to_matrix(records), language)  # which refuses them
        contributions = [
            [value * weight - offset for value, weight, offset in zip(row, weights, offsets, strict=True)]
            for row in rows
        ]
        intercept, a, b = self._intercept, self._a, self._b
        # np.exp rather than math.exp: NumPy's own exp differs from the C library's on some CPUs.
        probabilities = [
            1.0 / (1.0 + float(np.exp(a * (_numpy_sum(row) + intercept) + b))) for row in contributions
        ]
        return self._predict_few(rows, contributions, probabilities, self._phrasebook(language))

    def predict_many(self, X: np.ndarray, language: str = "en") -> Predictions:
        """What `predict` gives for the rows of X, computed for the whole batch at once.

        The same arithmetic on the same arrays: the scores, bands, symptoms and factor ranking
        are NumPy operations over the batch, and the sentences come from tables built once per
        language (`_Phrasebook`), so a row costs a few dictionary look-ups instead of building
        every sentence again. tests/test_batch_path.py checks both give the same answers.
        """
        X = self._checked_columns(X)
        contributions = self._contributions(X)
        probabilities = self._probability(contributions)
        book = self._phrasebook(language)
        if len(X) < FEW_ROWS:
            return self._predict_few(X.tolist(), contributions.tolist(), probabilities.tolist(), book)

        flagged = probabilities >= self.threshold
        levels = np.where(flagged, np.where(probabilities >= self._high_cut, 2, 1), 0)
        # wording.score_text, vectorized: whole percent (half up), kept inside the band's range.
        percents = np.floor(probabilities * 100 + 0.5)
        percents = np.minimum(np.maximum(percents, self._percent_low[levels]), self._percent_high[levels])
        scores = levels * 101 + percents.astype(np.intp)
        masks = (X[:, self._warning_positions] == 1) @ self._warning_bits
        messages = (scores * 32 + masks).tolist()
        scores, masks = scores.tolist(), masks.tolist()

        level_names, score_texts, message_texts = LEVEL_NAMES, book.scores, book.messages
        symptom_lists = self._symptoms_by_mask
        warnings = [[] for _ in range(len(X))]
        if self._range_checks:
            inside = np.ones(len(X), dtype=bool)
            for i, _name, low, high in self._range_checks:
                inside &= (X[:, i] >= low) & (X[:, i] <= high)
            for row in np.flatnonzero(~inside).tolist():
                warnings[row] = list(self._warnings(X[row].tolist(), language))
        predictions = flagged.astype(np.intp).tolist()
        risk_levels = [level_names[level] for level in levels.tolist()]
        factors, factors_json = self._factor_lists(X, contributions, book)
        return Predictions(
            prediction=predictions,
            probability=_rounded(probabilities, 6),
            complement=_rounded(1.0 - probabilities, 6),
            risk_level=risk_levels,
            score_display=[score_texts[code] for code in scores],
            message=[message_texts[code] for code in messages],
            factors=factors,
            warnings=warnings,
            see_a_doctor_about=[list(symptom_lists[mask]) for mask in masks],
            scores=probabilities,
            factors_json=factors_json,
        )

    def _factor_lists(
        self, X: np.ndarray, contributions: np.ndarray, book: _Phrasebook
    ) -> tuple[list[list[dict]], list[list[orjson.Fragment]] | None]:
        """Each row's factors as the API shows them: `_factors`, for the whole batch at once; and
        the same as JSON when they are shared factors (see Predictions.factors_json), else None."""
        delta = contributions - self._reference_row
        size = np.abs(delta)
        moved = (X != self._reference_values_row) & (size >= NEGLIGIBLE)
        counts = moved.sum(axis=1)
        # Stable, so equal effects keep the model's column order, as list.sort does.
        order = np.argsort(np.where(moved, -size, np.inf), axis=1, kind="stable")
        ranked = order[np.arange(X.shape[1]) < counts[:, None]]
        rows = np.repeat(np.arange(len(X)), counts)
        changes, values = delta[rows, ranked], X[rows, ranked]
        whole = (values == np.floor(values)) & ~np.signbit(values) & (values < 1024)  # -0.0 shows as such
        if self._fold is None and whole.all():
            # Without interactions an answer's contribution depends on that answer alone, so a
            # factor is the same wherever the same answer is: each is built once, then shared.
            codes = ranked * 1024 + values.astype(np.intp)
            # Looked up in object arrays: a take and a tolist, not a dict look-up a factor.
            flat = book.whole_factor_table[codes].tolist()
            if None in flat:  # factors not built yet
                for code, change in zip(codes.tolist(), changes.tolist(), strict=True):
                    book.whole_factor(*divmod(code, 1024), change)
                flat = book.whole_factor_table[codes].tolist()
            flat_json = book.whole_json_table[codes].tolist()
        else:
            templates = book.factors
            # The sign tells -0.0 from 0.0, which compare equal but read differently ("-0").
            keys = zip(
                ranked.tolist(),
                values.tolist(),
                (changes > 0).tolist(),
                np.signbit(values).tolist(),
                strict=True,
            )
            flat = [
                {**(templates.get(key) or book.factor(*key)), "contribution": contribution}
                for key, contribution in zip(keys, _rounded(changes, 4), strict=True)
            ]
            flat_json = None
        spans = [
            slice(end - count, end)
            for end, count in zip(np.cumsum(counts).tolist(), counts.tolist(), strict=True)
        ]
        return (
            [flat[span] for span in spans],
            None if flat_json is None else [flat_json[span] for span in spans],
        )

    def _predict_few(
        self,
        rows: list[list[float]],
        contributions: list[list[float]],
        probabilities: list[float],
        book: _Phrasebook,
    ) -> Predictions:
        """predict_many for a few rows (a single /predict), row by row in Python: there NumPy's
        cost per call outweighs its speed, and its sort would release the GIL (see _factors).
        Rows are the inputs in model order with their contributions and scores, as lists."""
        predictions, rounded, complements, levels, shown, messages = [], [], [], [], [], []
        factors, warnings, symptoms = [], [], []
        threshold, high_cut, limits = self.threshold, self._high_cut, self._percent_limits
        for p, values, contribs in zip(probabilities, rows, contributions, strict=True):
            band = 0 if p < threshold else 2 if p >= high_cut else 1  # _risk_level's, as a position
            low, high = limits[band]
            score_code = band * 101 + min(max(wording.whole_percent(p), low), high)
            mask = 0
            for i, bit in self._warning_masks:
                if values[i] == 1:
                    mask |= bit
            predictions.append(int(p >= threshold))
            rounded.append(round(p, 6))
            complements.append(round(1.0 - p, 6))
            levels.append(LEVEL_NAMES[band])
            shown.append(book.scores[score_code])
            messages.append(book.messages[score_code * 32 + mask])
            factors.append(self._factor_list(values, contribs, book))
            warnings.append(list(self._warnings(values, book.language)))
            symptoms.append(list(self._symptoms_by_mask[mask]))
        return Predictions(
            prediction=predictions,
            probability=rounded,
            complement=complements,
            risk_level=levels,
            score_display=shown,
            message=messages,
            factors=factors,
            warnings=warnings,
            see_a_doctor_about=symptoms,
            scores=probabilities,
        )

    def _moved(self, values: list[float], contributions: list[float]) -> list[tuple[int, float]]:
        """(position, change from the reference person's contribution) of each answer that differs
        from the reference's and moves the score, largest effect first (stable on ties)."""
        reference_values, reference = self._reference_values, self._reference_contributions
        moved = [
            (i, contributions[i] - reference[i])
            for i in range(len(values))
            if values[i] != reference_values[i]
        ]
        moved = [(i, delta) for i, delta in moved if abs(delta) >= NEGLIGIBLE]
        moved.sort(key=lambda item: -abs(item[1]))
        return moved

    def _factor_list(self, values: list[float], contributions: list[float], book: _Phrasebook) -> list[dict]:
        """One row's factors as the API shows them: `_factors`, from the phrasebook's."""
        if self._fold is None:
            found = self._whole_factor_list(values, contributions, book)
            if found is not None:
                return found
        moved = self._moved(values, contributions)
        shared = self._fold is None
        found = []
        for i, delta in moved:
            value = values[i]
            if shared and value.is_integer() and 0 <= value < 1024 and math.copysign(1.0, value) > 0:
                factor = book.whole_factor(i, int(value), delta)
            else:
                negative = math.copysign(1.0, value) < 0
                template = book.factors.get((i, value, delta > 0, negative)) or book.factor(
                    i, value, delta > 0, negative
                )
                factor = {**template, "contribution": round(delta, 4)}
            found.append(factor)
        return found

    def _whole_factor_list(
        self, values: list[float], contributions: list[float], book: _Phrasebook
    ) -> list[dict] | None:
        """_factor_list of a row whose answers that differ from the reference person's are whole
        numbers from 1 to 1023, in a model without interactions; None for any other row.

        Then an answer's effect and factor depend on that answer alone: each is worked out once
        (`book.whole_moves`) and a row only looks its answers up and sorts them, about half the
        time of ranking its contributions (symptomatic smoker: 10.7 -> 5 us).
        """
        reference_values, moves = self._reference_values, book.whole_moves
        found = []
        for i, value in enumerate(values):
            if value == reference_values[i]:
                continue
            if not (0 < value < 1024 and value.is_integer()):
                return None
            code = i * 1024 + int(value)
            move = moves.get(code, False)
            if move is False:
                move = moves[code] = self._whole_move(i, value, contributions[i], book)
            if move is not None:
                found.append(move)
        found.sort()  # largest effect first, ties by position: what _moved's stable sort gives
        return [factor for _effect, _position, factor in found]

    def _whole_move(
        self, position: int, value: float, contribution: float, book: _Phrasebook
    ) -> tuple[float, int, dict] | None:
        """(minus the size of its effect, position, factor) of a whole answer that differs from the
        reference person's, or None when its effect is negligible (see _moved)."""
        delta = contribution - self._reference_contributions[position]
        if abs(delta) < NEGLIGIBLE:
            return None
        return -abs(delta), position, book.whole_factor(position, int(value), delta)

    def _phrasebook(self, language: str) -> _Phrasebook:
        book = self._phrasebooks.get(language)
        if book is None:
            book = self._phrasebooks[language] = _Phrasebook(
                language, self._names, self._survey_share, self._symptoms_by_mask
            )
        return book

    def _factors(
        self, values: list[float], contributions: list[float], language: str = "en"
    ) -> tuple[Factor, ...]:
        """The person's answers that differ from the reference person's, largest effect first.

        An answer the person did not give (a "no", the reference's own) is never a reason.
        Ranked in Python, not with np.argsort: NumPy's sorts release the GIL, and under
        Gunicorn's threads every release on the request path lets another thread in and
        makes this one queue to get the GIL back (measured: about a fifth of the throughput).
        """
        moved = self._moved(values, contributions)
        factors = []
        for i, delta in moved:
            name, direction = self._names[i], "raises" if delta > 0 else "lowers"
            factors.append(
                Factor(
                    name,
                    wording.answer(name, values[i], language),
                    values[i],
                    delta,
                    direction,
                    wording.factor_text(name, values[i], direction, language),
                )
            )
        return tuple(factors)

    def _risk_level(self, p: float) -> str:
        if p < self.threshold:
            return "low"
        return "high" if p >= self._high_cut else "moderate"

    def _warnings(self, values: list[float], language: str = "en") -> tuple[str, ...]:
        """One sentence per input beyond what training saw (values in model order)."""
        return tuple(
            i18n.text(
                language,
                "message.out_of_range",
                name=name,
                value=f"{values[i]:g}",
                low=f"{low:g}",
                high=f"{high:g}",
            )
            for i, name, low, high in self._range_checks
            if not low <= values[i] <= high
        )

    def _build_metadata(self, language: str = "en") -> dict[str, Any]:
        card = self.card
        inputs = []
        for feature in card["features"]:
            entry = {
                "name": feature["name"],
                "label": feature["label"],
                "type": "integer",
                "encoding": feature["encoding"],
                "training_range": feature["training_range"],
            }
            entry.update(feature["accepted"])
            inputs.append(entry)
        bands = [
            {
                "level": level,
                "from": low,
                "to": high,
                "title": wording.band_title(level, language),
                "meaning": wording.band_meaning(level, language),
                "score_range": wording.band_range_text(level, low, high, top, language),
            }
            for level, (low, high, top) in self._bands.items()
        ]
        reference_band = self._bands[self._risk_level(self._reference_probability)]
        reference_score = wording.score_text(self._reference_probability, *reference_band, language)
        return {
            "model_name": card["model_name"],
            "version": self.version,
            "description": card["description"],
            "inputs": inputs,
            "outputs": {
                "prediction": "1 if probability >= threshold (flagged), else 0",
                "probability": "the screening score, 0 to 1: calibrated to the survey, in which most "
                "respondents had lung cancer; not a person's probability of having it",
                "score_display": "the score as people should read it: whole percent kept inside its "
                "band, '>99%' and '<1%' at the ends",
                "risk_level": "machine code of the band: low = not flagged, moderate = flagged, "
                "high = flagged strongly; show risk_bands[].title to people, never "
                "'low risk'",
                "message": "plain-language paragraph: band title, score, next step, the symptom rule, "
                "what the score is",
                "factors": "the person's answers that differ from the reference person's, largest "
                "effect first: feature, label, value, contribution (log-odds), direction "
                "(raises or lowers), text",
                "factors_reference": "who the factors are measured against (reference_person)",
                "see_a_doctor_about": "warning symptoms the person reported; whoever reports one is "
                "told to see a doctor whatever the score (a rule outside the model)",
                "warnings": "inputs outside the training ranges",
            },
            "classes": [0, 1],
            "class_labels": {"0": "no lung cancer", "1": "lung cancer"},
            "threshold": self.threshold,
            "risk_bands": bands,
            "reference_person": {
                "description": self.reference(language),
                "inputs": dict(REFERENCE),
                "probability": round(self._reference_probability, 6),
                "score_display": reference_score,
            },
            "warning_symptoms": {
                "features": list(WARNING_SYMPTOMS),
                "rule": wording.text("doctor_rule_source", language),
            },
            "score_explanation": wording.score_explanation(self._survey_share, language),
            "purpose": wording.text("purpose", language),
            "metrics": card["metrics"],
            "evaluation": {
                key: card[key]
                for key in ("by_group", "band_outcomes", "weights", "sign_constraints")
                if key in card
            },
            "training_ranges": card["training_ranges"],
            "intended_use": card["intended_use"],
            "limitations": card["limitations"],
            "dataset": card["dataset"],
            "licence": card["licence"],
        }

    @property
    def reference_description(self) -> str:
        return self.reference()

    def reference(self, language: str = "en") -> str:
        """Who the factors are measured against, in `language`."""
        # Every answer names it: written once per language (4 us a request otherwise).
        text = self._references.get(language)
        if text is None:
            text = self._references[language] = wording.reference_description(REFERENCE[AGE], language)
        return text

    def metadata(self, language: str = "en") -> dict[str, Any]:
        """What the model expects and returns, for API clients and the UI; its sentences in
        `language` (field descriptions for developers stay English)."""
        if language not in self._metadata_by_language:
            self._metadata_by_language[language] = self._build_metadata(language)
        return dict(self._metadata_by_language[language])
