"""The request body of /predict and /predict_proba: one survey record or a batch of them.

Validation happens here, at the edge; errors name every bad field (422), a batch over
MAX_BATCH_SIZE is 413. A patient record is lenient where the meaning is certain and strict
where it is not:

- numbers may come as JSON numbers or as strings of digits (`"65"`, `"1"`), as CSV rows do;
- keys are matched by name, ignoring case, spaces and underscores;
- `LUNG_CANCER` (the survey's answer) and unknown keys are ignored and named in the answer's
  `warnings`; a misspelt input is then still reported as missing (and the unknown key named);
- one input given twice, under one spelling or two, is refused: which value was meant?
"""

from __future__ import annotations

import functools
import re
from typing import Any

import numpy as np
from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load, validate

from webapp import features, i18n
from webapp.web.errors import APIError
from webapp.web.json_keys import repeated_keys

# A whole number written plainly: "65", " 65 ", "0" (no sign or leading zeros), so that what is
# accepted is exactly what the OpenAPI document says (`json_schema` below).
_DIGITS = re.compile(r"\s*(0|[1-9][0-9]{0,5})\s*")
IGNORED_LABEL = i18n.text("en", "warning.label_ignored", name=features.TARGET)
UNKNOWN_KEY = i18n.text("en", "validation.not_an_input")


def _whole_number(value: Any) -> int | None:
    """45, 45.0 or "45" as 45; None for anything else (true, 45.5, "45.5", "abc", null)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    return None


class StrictInteger(fields.Integer):
    """A whole number: 45, 45.0 or "45" (as CSV rows send it), never true, 45.5 or "45.5"."""

    default_error_messages = {"invalid": i18n.text("en", "validation.integer")}
    #: What `_deserialize` accepts (with the age range), for the OpenAPI document: change both together.
    json_schema = {
        "type": ["integer", "string"],
        "pattern": r"^\s*(0|[1-9][0-9]?|1[01][0-9]|120)\s*$",
    }  # 0 to AGE_MAX

    def _deserialize(self, value, attr, data, **kwargs):
        number = _whole_number(value)
        if number is None:
            raise self.make_error("invalid")
        return number


class Flag(fields.Field):
    """A yes/no answer: 0 or 1 (also "0" or "1"), true or false."""

    default_error_messages = {"invalid": i18n.text("en", "validation.flag")}
    #: What `_deserialize` accepts, for the OpenAPI document: change both together.
    json_schema = {"enum": [0, 1, True, False, "0", "1"]}

    def _deserialize(self, value, attr, data, **kwargs):
        if value is True or value is False:
            return int(value)
        if value in ("0", "1") or (type(value) in (int, float) and value in (0, 1)):
            return int(value)
        raise self.make_error("invalid")


class _PatientKeys(Schema):
    """Key handling of a survey record: matched by name, tolerant to case, spaces and underscores;
    unknown keys (the survey's LUNG_CANCER among them) ignored and reported, repeats refused."""

    class Meta:
        unknown = EXCLUDE

    @pre_load
    def canonical_keys(self, data: Any, **kwargs) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise ValidationError(i18n.text("en", "validation.record_object"), "_schema")
        renamed: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        for key in repeated_keys(data):
            if features.canonical_name(key) is not None:
                errors[key] = [i18n.text("en", "validation.given_twice")]
        for key, value in data.items():
            name = features.canonical_name(key) if isinstance(key, str) else None
            if name is None:
                continue  # ignored, named by ignored_keys()
            if name in renamed:
                errors[key] = [i18n.text("en", "validation.duplicate", name=name)]
            else:
                renamed[name] = value
        if errors:
            raise ValidationError(errors)
        return renamed

    @post_load(pass_original=True)
    def name_ignored_keys(self, record: dict[str, int], original: dict[str, Any], **kwargs) -> dict[str, int]:
        if len(original) == len(record):  # every key was an input (repeats were refused)
            return record
        record = PatientRecord(record)
        record.ignored = ignored_keys(original)
        return record


class PatientRecord(dict):
    """A validated record (canonical names) that came with keys that are not inputs."""

    ignored: tuple[str, ...] = ()


def ignored_keys(data: dict[str, Any]) -> tuple[str, ...]:
    return tuple(key for key in data if not isinstance(key, str) or features.canonical_name(key) is None)


def ignored_key_warnings(record: dict[str, int]) -> list[str]:
    """The `warnings` of a record's answer that name the keys it ignored."""
    return [
        IGNORED_LABEL
        if features.normalize_name(str(key)) == features.normalize_name(features.TARGET)
        else i18n.text("en", "warning.key_ignored", field=repr(key))
        for key in getattr(record, "ignored", ())
    ]


def _patient_fields() -> dict[str, fields.Field]:
    declared: dict[str, fields.Field] = {
        features.AGE: StrictInteger(
            required=True,
            validate=validate.Range(
                features.AGE_MIN, features.AGE_MAX, error=i18n.catalog("en")["validation.age_range"]
            ),
        ),
        features.GENDER: Flag(
            required=True,
            error_messages={"invalid": i18n.text("en", "validation.gender")},
        ),
    }
    for name in features.BINARY_FEATURES:
        declared[name] = Flag(required=True)
    return declared


#: One survey record: the 15 fields (built from features.FEATURES) on top of the key handling.
PatientSchema = _PatientKeys.from_dict(_patient_fields(), name="Patient")

_patient_schema = PatientSchema()


def load_patient(data: Any) -> dict[str, int]:
    """Validate one record; raises ValidationError with per-field messages.

    A refused record also names its unknown keys, where a misspelt input usually is.
    """
    plain = plain_patient(data)
    if plain is not None:
        return plain
    try:
        return _patient_schema.load(data)
    except ValidationError as exc:
        if isinstance(data, dict) and isinstance(exc.messages, dict):
            target = features.normalize_name(features.TARGET)
            for key in ignored_keys(data):
                if features.normalize_name(str(key)) != target:
                    exc.messages.setdefault(str(key), [UNKNOWN_KEY])
        raise


# The two spellings clients send almost always; any other goes through the schema.
_PLAIN_SPELLINGS = {
    **{name: name for name in features.FEATURES},
    **{features.underscore_alias(name): name for name in features.FEATURES},
}
_INTEGERS = {int}


@functools.lru_cache(maxsize=64)
def _plain_keys(keys: tuple) -> tuple[tuple[int, ...] | None, int] | None:
    """For a record's keys in their order, when they are the 15 inputs once each in a plain
    spelling: where each input is among them (None when they are in FEATURES order already,
    canonically spelt) and where AGE is. None for any other keys. Clients send the same keys
    for every record, so this runs about once per client, not per record."""
    names = tuple(_PLAIN_SPELLINGS.get(key) for key in keys)
    if None in names or len(set(names)) != len(features.FEATURES):
        return None
    if keys == features.FEATURES:
        return None, 0
    return tuple(names.index(name) for name in features.FEATURES), names.index(features.AGE)


def plain_patient(data: Any) -> dict[str, int] | None:
    """What PatientSchema loads from `data` when the record is plainly valid, else None.

    A shortcut in front of the schema, not a second schema: it vouches only for the common
    case (the 15 fields once each, canonical or underscore spelling, plain JSON integers in
    range, no key repeated: a body with a repeated key parses to a dict subclass), which the
    schema loads unchanged, and leaves everything else, errors included, to PatientSchema.
    About 1 us a record against 40 us through marshmallow. A test checks both agree.
    """
    if type(data) is not dict or len(data) != len(features.FEATURES):
        return None
    plan = _plain_keys(tuple(data))
    if plan is None:
        return None
    values = list(data.values())
    if set(map(type, values)) != _INTEGERS:  # bool is not int here: true and false go to the schema
        return None
    order, age_at = plan
    age = values[age_at]
    # Every answer but AGE is 0 or 1: the 0s and 1s counted, less AGE's own if it is one of them.
    if not features.AGE_MIN <= age <= features.AGE_MAX or (
        values.count(0) + values.count(1) - (age == 0 or age == 1) != len(values) - 1
    ):
        return None
    if order is None:
        return data  # already what the schema returns: canonical names in FEATURES order
    return dict(zip(features.FEATURES, map(values.__getitem__, order), strict=True))


class PlainBatch(list):
    """A batch's records as they came (already what the schema returns for them), with their
    inputs as the integer matrix the check built (`matrix`: a row a record, FEATURES order), so
    scoring need not collect them from the records again (2 ms for 1,000)."""

    matrix: np.ndarray


def _plain_batch(payload: list) -> PlainBatch | None:
    """plain_patient of every record at once, for the common batch: every record an object with
    the inputs' canonical names in FEATURES order, plain integers in range. Such records are
    already what the schema returns, so they are returned as they came; None for any other
    batch (each record then goes through plain_patient, else the schema)."""
    size = len(features.FEATURES)
    values: list = []
    for record in payload:
        if type(record) is not dict or len(record) != size or tuple(record) != features.FEATURES:
            return None
        values += record.values()
    if set(map(type, values)) != _INTEGERS:
        return None
    try:
        matrix = np.array(values, dtype=np.int64).reshape(-1, size)
    except OverflowError:  # beyond 64 bits: out of range, which the schema says
        return None
    ages, answers = matrix[:, 0], matrix[:, 1:]
    if (
        ages.min() < features.AGE_MIN
        or ages.max() > features.AGE_MAX
        or answers.min() < 0
        or answers.max() > 1
    ):
        return None
    batch = PlainBatch(payload)
    batch.matrix = matrix
    return batch


def load_records(payload: Any, max_batch_size: int) -> tuple[list[dict[str, int]], bool]:
    """The validated records of a request body and whether it was a batch.

    A body is one record (an object), a list of records, or {"records": [...]}.
    """
    if isinstance(payload, dict) and "records" in payload:
        if set(payload) != {"records"} or not isinstance(payload["records"], list) or repeated_keys(payload):
            raise APIError(
                422,
                i18n.text("en", "validation.batch_shape"),
                {"records": [i18n.text("en", "validation.records_list")]},
            )
        payload = payload["records"]
    if not isinstance(payload, list):
        try:
            return [load_patient(payload)], False
        except ValidationError as exc:
            fields_named = ", ".join(map(str, exc.messages))
            raise APIError(
                422, i18n.text("en", "api.invalid_input", fields=fields_named), exc.messages
            ) from exc
    if len(payload) > max_batch_size:
        raise APIError(
            413,
            i18n.text("en", "api.batch_too_large", limit=max_batch_size, received=len(payload)),
            {"max_batch_size": max_batch_size, "received": len(payload)},
        )
    if not payload:
        raise APIError(
            422,
            i18n.text("en", "validation.batch_empty"),
            {"records": [i18n.text("en", "validation.batch_min")]},
        )
    plain = _plain_batch(payload)
    if plain is not None:
        return plain, True
    records, errors = [], {}
    for index, record in enumerate(payload):
        try:
            records.append(load_patient(record))
        except ValidationError as exc:
            errors[str(index)] = exc.messages
    if errors:
        raise APIError(
            422,
            i18n.text("en", "api.invalid_batch", bad=len(errors), total=len(payload)),
            {"records": errors},
        )
    return records, True
