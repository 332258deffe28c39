"""The request body of /predict and /predict_proba: one survey record or a batch of them.

Validation happens here, at the edge; errors name every bad field (422), a batch over
MAX_BATCH_SIZE is 413.
"""
from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

from webapp import features, i18n
from webapp.web.errors import APIError


class StrictInteger(fields.Integer):
    """An integer given as a JSON number: 45 or 45.0, never "45", true or 45.5."""

    default_error_messages = {"invalid": i18n.text("en", "validation.integer")}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        return int(value)


class Flag(fields.Field):
    """A yes/no answer: 0 or 1, true or false."""

    default_error_messages = {"invalid": i18n.text("en", "validation.flag")}

    def _deserialize(self, value, attr, data, **kwargs):
        if value is True or value is False:
            return int(value)
        if isinstance(value, (int, float)) and value in (0, 1):
            return int(value)
        raise self.make_error("invalid")


class _PatientKeys(Schema):
    """Key handling of a survey record: matched by name, tolerant to case, spaces and underscores."""

    class Meta:
        unknown = RAISE

    @pre_load
    def canonical_keys(self, data: Any, **kwargs) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise ValidationError(i18n.text("en", "validation.record_object"), "_schema")
        renamed: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        for key, value in data.items():
            name = features.canonical_name(key) if isinstance(key, str) else None
            if name is None:
                renamed[key] = value  # left for RAISE to report as unknown
            elif name in renamed:
                errors[key] = [i18n.text("en", "validation.duplicate", name=name)]
            else:
                renamed[name] = value
        if errors:
            raise ValidationError(errors)
        return renamed


def _patient_fields() -> dict[str, fields.Field]:
    declared: dict[str, fields.Field] = {
        features.AGE: StrictInteger(
            required=True,
            validate=validate.Range(features.AGE_MIN, features.AGE_MAX,
                                    error=i18n.catalog("en")["validation.age_range"]),
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
    """Validate one record; raises ValidationError with per-field messages."""
    return _patient_schema.load(data)


def load_records(payload: Any, max_batch_size: int) -> tuple[list[dict[str, int]], bool]:
    """The validated records of a request body and whether it was a batch.

    A body is one record (an object), a list of records, or {"records": [...]}.
    """
    if isinstance(payload, dict) and "records" in payload:
        if set(payload) != {"records"} or not isinstance(payload["records"], list):
            raise APIError(422, i18n.text("en", "validation.batch_shape"),
                           {"records": [i18n.text("en", "validation.records_list")]})
        payload = payload["records"]
    if not isinstance(payload, list):
        try:
            return [load_patient(payload)], False
        except ValidationError as exc:
            fields_named = ", ".join(map(str, exc.messages))
            raise APIError(422, i18n.text("en", "api.invalid_input", fields=fields_named),
                           exc.messages) from exc
    if len(payload) > max_batch_size:
        raise APIError(413, i18n.text("en", "api.batch_too_large", limit=max_batch_size,
                                      received=len(payload)),
                       {"max_batch_size": max_batch_size, "received": len(payload)})
    if not payload:
        raise APIError(422, i18n.text("en", "validation.batch_empty"),
                       {"records": [i18n.text("en", "validation.batch_min")]})
    records, errors = [], {}
    for index, record in enumerate(payload):
        try:
            records.append(load_patient(record))
        except ValidationError as exc:
            errors[str(index)] = exc.messages
    if errors:
        raise APIError(422, i18n.text("en", "api.invalid_batch", bad=len(errors), total=len(payload)),
                       {"records": errors})
    return records, True
