"""Marshmallow schemas of what the JSON API answers, for the OpenAPI document.

The views build their bodies directly (the predict path is kept lean); these schemas say what
those bodies hold, and the contract test (Schemathesis) checks every answer against them.
Strict schemas (unknown keys refused) say the whole body; INCLUDE marks bodies documented in
part (the model card, the drift report), whose further keys are allowed.
"""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from webapp import features
from webapp.monitoring import drift
from webapp.web.request_context import HEADER as REQUEST_ID_HEADER

RISK_LEVELS = ("low", "moderate", "high")


def _request_id(**kwargs) -> fields.String:
    return fields.String(
        required=True,
        metadata={
            "description": f"The request's id: the `{REQUEST_ID_HEADER}` it sent, or one generated for it.",
            **kwargs,
        },
    )


class ErrorDetailSchema(Schema):
    code = fields.String(
        required=True, metadata={"description": "Stable machine-readable code, e.g. `validation_error`."}
    )
    message = fields.String(required=True, metadata={"description": "What went wrong, for people."})
    details = fields.Raw(
        required=True,
        allow_none=True,
        metadata={
            "description": "Per-field messages for a 422 (`{field: [messages]}`; a batch nests them under "
            "`records` and the row index), other context for other errors, or null."
        },
    )


class ErrorSchema(Schema):
    """The one envelope of every error the API answers."""

    error = fields.Nested(ErrorDetailSchema, required=True)
    request_id = fields.String(required=True, allow_none=True)


class FactorSchema(Schema):
    feature = fields.String(required=True, validate=validate.OneOf(features.FEATURES))
    label = fields.String(
        required=True, metadata={"description": "The answer in plain words: `Coughing`, `Age 62`."}
    )
    value = fields.Float(
        required=True, metadata={"description": "The answer given (years for AGE, else 0 or 1)."}
    )
    contribution = fields.Float(
        required=True,
        metadata={
            "description": "This answer's term in the model's log-odds minus the reference person's "
            "(`factors_reference`); positive raises the score."
        },
    )
    direction = fields.String(required=True, validate=validate.OneOf(["raises", "lowers"]))
    text = fields.String(
        required=True, metadata={"description": "Plain words: `Coughing: raises the score`."}
    )


class _ResultSchema(Schema):
    prediction = fields.Integer(
        required=True,
        validate=validate.OneOf([0, 1]),
        metadata={"description": "1 when the score reaches the model's screening threshold (flagged)."},
    )
    score_display = fields.String(
        required=True,
        metadata={
            "description": "How to show the score: a whole percent inside its band's `score_range`, "
            "`<1%` and `>99%` at the ends, never `0%` or `100%`."
        },
    )
    risk_level = fields.String(
        required=True,
        validate=validate.OneOf(RISK_LEVELS),
        metadata={
            "description": "Machine code: `low` = not flagged, `moderate` = flagged, `high` = flagged strongly "
            "by this screening model (titles and meanings in /metadata `risk_bands`)."
        },
    )
    message = fields.String(
        required=True,
        metadata={
            "description": "The result in plain language: the band, the next step, the symptom rule, what the score is."
        },
    )
    see_a_doctor_about = fields.List(
        fields.String(validate=validate.OneOf(features.WARNING_SYMPTOMS)),
        required=True,
        metadata={
            "description": "Warning symptoms the person reported: see a doctor about them whatever the score "
            "(a rule outside the model)."
        },
    )
    factors = fields.List(
        fields.Nested(FactorSchema),
        required=True,
        metadata={
            "description": "The person's own answers that moved the score away from the reference person's, "
            "largest effect first; answers not given are never listed."
        },
    )
    factors_reference = fields.String(
        required=True,
        metadata={
            "description": "The reference person the factors are measured against (see /metadata `reference_person`)."
        },
    )
    warnings = fields.List(
        fields.String(),
        required=True,
        metadata={
            "description": "Inputs outside what training saw (AGE outside 21 to 87) and keys that were ignored."
        },
    )


class PredictionItemSchema(_ResultSchema):
    probability = fields.Float(
        required=True,
        validate=validate.Range(0, 1),
        metadata={
            "description": "The screening score, 0 to 1, calibrated to a survey in which most respondents had "
            "lung cancer: it ranks answers; it is not the person's chance of having lung cancer."
        },
    )


class ProbabilitiesItemSchema(_ResultSchema):
    probabilities = fields.List(
        fields.Float(validate=validate.Range(0, 1)),
        required=True,
        validate=validate.Length(equal=2),
        metadata={"description": "`[p(no lung cancer), p(lung cancer)]`."},
    )


class _Answered(Schema):
    model_version = fields.String(required=True)
    request_id = _request_id()


class PredictionSchema(PredictionItemSchema, _Answered):
    """POST /predict with one record."""


class ProbabilitiesSchema(ProbabilitiesItemSchema, _Answered):
    """POST /predict_proba with one record."""


class PredictionBatchSchema(_Answered):
    predictions = fields.List(
        fields.Nested(PredictionItemSchema),
        required=True,
        metadata={"description": "One result per record, in the order sent."},
    )
    count = fields.Integer(required=True)


class ProbabilitiesBatchSchema(_Answered):
    predictions = fields.List(
        fields.Nested(ProbabilitiesItemSchema),
        required=True,
        metadata={"description": "One result per record, in the order sent."},
    )
    count = fields.Integer(required=True)


class InfoSchema(Schema):
    message = fields.String(required=True)
    version = fields.String(required=True, metadata={"description": "The API's version."})
    model_version = fields.String(required=True)
    endpoints = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={
            "description": "Endpoint name to path, in the family the client used (`/predict` or `/api/predict`)."
        },
    )


class LogBufferSchema(Schema):
    pending = fields.Integer(required=True, metadata={"description": "Entries waiting to be written."})
    dropped = fields.Integer(
        required=True, metadata={"description": "Entries dropped because the buffer was full."}
    )
    reduced = fields.Integer(
        required=True,
        metadata={
            "description": "Entries the store refused as given and took reduced (their body as bounded text)."
        },
    )
    unstored = fields.Integer(
        required=True, metadata={"description": "Entries the store could not take even reduced."}
    )


class HealthSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["healthy", "degraded", "unhealthy"]))
    model_loaded = fields.Boolean(required=True)
    redis_connected = fields.Boolean(required=True)
    log_store = fields.String(required=True, validate=validate.OneOf(["sqlite", "redis"]))
    log_store_healthy = fields.Boolean(required=True)
    log_buffer = fields.Nested(LogBufferSchema, required=True)
    reasons = fields.List(
        fields.String(), required=True, metadata={"description": "Why the status is not `healthy`."}
    )
    version = fields.String(required=True)


class ProbeSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["alive", "ready", "not_ready"]))
    reason = fields.String(metadata={"description": "Why the service is not ready."})


class MetadataInputSchema(Schema):
    class Meta:
        unknown = INCLUDE

    name = fields.String(required=True, validate=validate.OneOf(features.FEATURES))
    label = fields.String(required=True)
    type = fields.String(required=True)
    encoding = fields.String()
    training_range = fields.List(fields.Float(), validate=validate.Length(equal=2))


class MetadataSchema(Schema):
    """The model card's public part (documented in part: further keys may appear)."""

    class Meta:
        unknown = INCLUDE

    model_name = fields.String(required=True)
    version = fields.String(required=True, metadata={"description": "The model's version."})
    description = fields.String()
    inputs = fields.List(fields.Nested(MetadataInputSchema), required=True)
    api_version = fields.String(required=True)


class LogEntrySchema(Schema):
    """One logged prediction (one row of a batch), or a rejected request (level WARNING)."""

    class Meta:
        unknown = INCLUDE

    id = fields.Integer(metadata={"description": "Store-assigned id (SQLite)."})
    timestamp = fields.String(required=True, metadata={"description": "ISO 8601 UTC with milliseconds."})
    level = fields.String(
        validate=validate.OneOf(["INFO", "WARNING"]),
        metadata={"description": "WARNING for a rejected request; INFO (may be left out) for a prediction."},
    )
    endpoint = fields.String()
    request_id = fields.String(allow_none=True)
    inputs = fields.Dict(
        allow_none=True,
        metadata={"description": "The 15 validated inputs (or what a rejected request sent)."},
    )
    prediction = fields.Integer(allow_none=True, validate=validate.OneOf([0, 1]))
    probability = fields.Float(allow_none=True, validate=validate.Range(0, 1))
    risk_level = fields.String(allow_none=True, validate=validate.OneOf(RISK_LEVELS))
    factors = fields.List(fields.Nested(FactorSchema))
    warnings = fields.List(fields.String())
    model_version = fields.String(allow_none=True)
    latency_ms = fields.Float(allow_none=True)
    errors = fields.Raw(allow_none=True, metadata={"description": "A rejected request's field errors."})
    message = fields.String(allow_none=True)


class LogPageSchema(Schema):
    total = fields.Integer(required=True, metadata={"description": "Entries matching the filters."})
    logs = fields.List(
        fields.Nested(LogEntrySchema), required=True, metadata={"description": "Newest first."}
    )
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)
    next_cursor = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Pass as `cursor` to read the next (older) page; null on the last page."},
    )
    request_id = _request_id()


class LogsClearedSchema(Schema):
    message = fields.String(required=True)
    deleted = fields.Integer(required=True, metadata={"description": "Entries removed."})
    request_id = _request_id()


class DriftSchema(Schema):
    """The drift report (documented in part: each feature's statistics follow the same pattern)."""

    class Meta:
        unknown = INCLUDE

    status = fields.String(
        required=True, validate=validate.OneOf([drift.OK, drift.WATCH, drift.DRIFT, drift.INSUFFICIENT])
    )
    drifted = fields.List(fields.String(), required=True)
    watched = fields.List(fields.String(), required=True)
    window = fields.Dict(
        required=True, metadata={"description": "The entries compared and the window asked for."}
    )
    reference = fields.Dict(required=True, metadata={"description": "The training reference compared with."})
    features = fields.List(
        fields.Dict(),
        required=True,
        metadata={"description": "Per input: share or mean, PSI, test statistic, p-value, status."},
    )
    request_id = _request_id()
