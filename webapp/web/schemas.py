"""The log query's schema, shared by GET /logs (JSON) and the /logs page.

Validation happens here, at the edge; errors name every bad field.
"""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate

from webapp.logstore import LogQuery, normalize_timestamp
from webapp.logstore.entry import LEVELS
from webapp.web.errors import APIError


class IsoTime(fields.String):
    json_schema = {"format": "date-time"}  # for the OpenAPI document; a date alone is accepted too
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
    # Bounded: SQLite's OFFSET is a 64-bit integer, and no log holds more entries than this.
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 1_000_000_000))
    cursor = fields.String(
        load_default=None,
        validate=validate.Regexp(
            r"^\d{1,15}-\d{1,18}$", error="Must be a next_cursor value from an earlier page."
        ),
        metadata={"description": "The `next_cursor` of a page read earlier: the entries after it."},
    )
    level = fields.String(
        load_default=None,
        validate=validate.OneOf(LEVELS),
        metadata={"description": "WARNING lists the rejected requests."},
    )
    endpoint = fields.String(load_default=None, metadata={"description": "The path, e.g. `/api/predict`."})
    prediction = fields.Integer(load_default=None, validate=validate.OneOf([0, 1]))
    min_probability = fields.Float(load_default=None, validate=validate.Range(0, 1))
    max_probability = fields.Float(load_default=None, validate=validate.Range(0, 1))
    since = IsoTime(load_default=None, metadata={"description": "ISO 8601; UTC when no offset is given."})
    until = IsoTime(load_default=None, metadata={"description": "ISO 8601; UTC when no offset is given."})
    request_id = fields.String(
        load_default=None,
        validate=validate.Length(max=128),
        metadata={"description": "Part of a request id."},
    )

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
