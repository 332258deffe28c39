"""Request schemas: the 15-field patient record and the log query.

Validation happens here, at the edge; errors name every bad field.
"""
from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, pre_load, validate

from webapp import features, i18n
from webapp.logstore import LogQuery, normalize_timestamp
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


class IsoTime(fields.String):
    default_error_messages = {"invalid_time": "Must be an ISO 8601 time, e.g. 2026-01-31T12:00:00Z."}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return normalize_timestamp(text)
        except ValueError as exc:
            raise self.make_error("invalid_time") from exc


class LogQuerySchema(Schema):
    """Query string of GET /logs."""

    class Meta:
        unknown = EXCLUDE

    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
    cursor = fields.String(load_default=None, validate=validate.Regexp(
        r"^\d{1,15}-\d{1,18}$", error="Must be a next_cursor value from an earlier page."))
    level = fields.String(load_default=None, validate=validate.OneOf(["INFO", "WARNING"]))
    endpoint = fields.String(load_default=None)
    prediction = fields.Integer(load_default=None, validate=validate.OneOf([0, 1]))
    min_probability = fields.Float(load_default=None, validate=validate.Range(0, 1))
    max_probability = fields.Float(load_default=None, validate=validate.Range(0, 1))
    since = IsoTime(load_default=None)
    until = IsoTime(load_default=None)
    request_id = fields.String(load_default=None, validate=validate.Length(max=128))

    @pre_load
    def upper_level(self, data, **kwargs):
        data = {key: value for key, value in data.items() if value != ""}
        if isinstance(data.get("level"), str):
            data["level"] = data["level"].upper()
        return data


_log_query_schema = LogQuerySchema()


def parse_log_query(args) -> LogQuery:
    """The LogQuery a query string asks for; 422 naming each bad parameter."""
    try:
        return LogQuery(**_log_query_schema.load(args.to_dict()))
    except ValidationError as exc:
        raise APIError(422, "Invalid log query: " + ", ".join(exc.messages) + ".", exc.messages) from exc
