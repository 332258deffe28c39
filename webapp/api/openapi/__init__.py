"""The OpenAPI 3.1 document of the JSON API, generated from the marshmallow schemas it validates with.

apispec and its marshmallow plugin turn the request schemas (webapp.api.schemas, webapp.web.schemas) and the answer
schemas (.responses) into JSON Schema. Each operation is declared by its view's endpoint
(.operations); its paths come from the app's URL map, so a route is documented where it is served (a test fails
when a JSON route has no operation). The same endpoints answer at the root and under /api: the
document lists them once, with both as servers.
"""

from __future__ import annotations

import copy
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask

from webapp import features
from webapp.api.openapi import examples, responses
from webapp.api.openapi.operations import ERRORS, operations
from webapp.api.schemas import PatientSchema
from webapp.version import __version__
from webapp.web.request_context import HEADER as REQUEST_ID_HEADER

OPENAPI_VERSION = "3.1.0"

DESCRIPTION = """\
Calibrated lung cancer risk from 15 self-reported survey answers. **A screening aid trained on a
small public survey, not a diagnosis.**

Every endpoint answers at its path and under `/api` (`/predict` and `/api/predict`): choose the
server. Every error, whatever its status, has one shape:
`{"error": {"code", "message", "details"}, "request_id"}`. Besides the statuses listed on each
operation, an unknown path answers 404 (`not_found`) and a method a path does not take answers
405 (`method_not_allowed`, with `Allow` and `details.allowed_methods`), in that envelope.

`X-Request-ID` is taken from the request (letters, digits, `._:-`, up to 128 characters; any other
value is replaced) or generated, and returned in the header, the body and the prediction log.
"""

_SCHEMAS = {
    "Error": responses.ErrorSchema,
    "Factor": responses.FactorSchema,
    "Prediction": responses.PredictionSchema,
    "PredictionItem": responses.PredictionItemSchema,
    "PredictionBatch": responses.PredictionBatchSchema,
    "Probabilities": responses.ProbabilitiesSchema,
    "ProbabilitiesItem": responses.ProbabilitiesItemSchema,
    "ProbabilitiesBatch": responses.ProbabilitiesBatchSchema,
    "Info": responses.InfoSchema,
    "Health": responses.HealthSchema,
    "Probe": responses.ProbeSchema,
    "Metadata": responses.MetadataSchema,
    "LogEntry": responses.LogEntrySchema,
    "LogPage": responses.LogPageSchema,
    "LogsCleared": responses.LogsClearedSchema,
    "DriftReport": responses.DriftSchema,
}


def build_spec(app: Flask, api_prefix: str) -> dict[str, Any]:
    """The document for `app`: its JSON routes (those outside `api_prefix`) and their schemas."""
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="Lung cancer risk API",
        version=__version__,
        openapi_version=OPENAPI_VERSION,
        plugins=[plugin],
        info={
            "description": DESCRIPTION,
            "license": {"name": "Code MIT; model CC BY-NC-SA 4.0", "identifier": "MIT"},
        },
        servers=[
            {
                "url": api_prefix,
                "description": "Under /api (the path a Hugging Face Space routes to the API)",
            },
            {"url": "/", "description": "At the root"},
        ],
        tags=[
            {"name": "predictions", "description": "Risk for one record or a batch"},
            {"name": "service", "description": "Service information, model card and health probes"},
            {"name": "admin", "description": "The prediction log and its drift: admin token required"},
        ],
    )
    plugin.converter.add_attribute_function(_field_docs)
    plugin.converter.add_parameter_attribute_function(_empty_means_unset)
    _register_components(spec, plugin.converter, app.config["MAX_BATCH_SIZE"])
    declared = operations()
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint.removeprefix("api_")
        if endpoint not in declared or rule.rule.startswith(api_prefix + "/"):
            continue
        spec.path(
            path=rule.rule,
            operations={
                method: operation
                for method, operation in declared[endpoint].items()
                if method.upper() in (rule.methods or ())
            },
        )
    return spec.to_dict()


def _register_components(spec: APISpec, converter, max_batch_size: int) -> None:
    spec.components.security_scheme(
        "adminBearer",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "The ADMIN_TOKEN of the deployment. Without ADMIN_TOKEN, admin endpoints are open "
            "on a developer machine and closed (403) on a public Space.",
        },
    )
    spec.components.header(
        "X-Request-ID",
        {
            "description": "The request's id (the one sent, or one generated).",
            "schema": {"type": "string", "pattern": r"^[A-Za-z0-9._:\-]{1,128}$"},
        },
    )
    spec.components.parameter(
        "RequestId",
        "header",
        {
            "name": REQUEST_ID_HEADER,
            "required": False,
            "description": "Your id for this request (letters, digits, `._:-`, up to 128 characters); "
            "any other value is replaced by a generated one. Returned in the header and the body.",
            "schema": {"type": "string"},
            "example": examples.REQUEST_ID,
        },
    )
    patient = _with_underscore_spellings(converter.schema2jsonschema(PatientSchema()))
    spec.components.schema(
        "Patient",
        {
            **patient,
            "description": "One survey record: the 15 fields, each given once. Keys are matched by name, never "
            "by position, ignoring case, spaces and underscores (`CHEST_PAIN`, `chest pain`): "
            "the names with a space are listed with their underscore spelling too. Numbers may come as "
            'strings of digits (`"65"`, `"1"`). Other keys (the survey\'s `LUNG_CANCER` among '
            "them) are ignored and named in the answer's `warnings`; a field given twice is refused.",
        },
    )
    for name, schema in _SCHEMAS.items():
        spec.components.schema(name, schema=schema)
    spec.components.schema(
        "PatientArray",
        {
            "description": "A batch as a JSON array of records.",
            "type": "array",
            "items": _ref("Patient"),
            "minItems": 1,
            "maxItems": max_batch_size,
        },
    )
    spec.components.schema(
        "PatientRecords",
        {
            "description": "A batch as an object whose only key is `records`.",
            "type": "object",
            "required": ["records"],
            "additionalProperties": False,
            "properties": {"records": _ref("PatientArray")},
        },
    )
    for status, (name, description, example) in ERRORS.items():
        headers = {"X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}}
        if status == 401:
            headers["WWW-Authenticate"] = {"schema": {"type": "string"}, "example": 'Bearer realm="admin"'}
        if status == 405:
            headers["Allow"] = {"schema": {"type": "string"}, "example": "OPTIONS, POST"}
        if status == 429:
            headers["Retry-After"] = {"schema": {"type": "string"}, "example": "42"}
        spec.components.response(
            name,
            {
                "description": description,
                "headers": headers,
                "content": {"application/json": {"schema": _ref("Error"), "example": example}},
            },
        )


def _with_underscore_spellings(patient: dict[str, Any]) -> dict[str, Any]:
    """List `CHEST_PAIN` beside `CHEST PAIN` (the spelling most clients send), exactly one required:
    giving both is a duplicate, which the API refuses."""
    patient = copy.deepcopy(patient)
    either = []
    for name in features.FEATURES:
        alias = features.underscore_alias(name)
        if alias == name:
            continue
        patient["properties"][alias] = {
            **patient["properties"][name],
            "description": f"The same as `{name}`.",
        }
        patient["required"].remove(name)
        either.append({"oneOf": [{"required": [name]}, {"required": [alias]}]})
    patient["allOf"] = either
    return patient


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _field_docs(converter, field, **kwargs) -> dict[str, Any]:
    """What a field accepts in its class's own words (`json_schema`, beside the code that accepts
    it), and for a survey field its meaning and spellings."""
    docs: dict[str, Any] = dict(getattr(field, "json_schema", {}))
    name = field.name
    if name not in features.FEATURES or type(field.parent).__name__ != "Patient":
        return docs
    spelled = features.underscore_alias(name)
    also = f" Also spelled `{spelled}`." if spelled != name else ""
    if name == features.AGE:
        meaning = (
            f"Age in whole years. Training covered {features.TRAIN_AGE_MIN} to {features.TRAIN_AGE_MAX}: "
            "outside that range the answer carries a warning."
        )
        docs["examples"] = [70]
    elif name == features.GENDER:
        meaning = "1 for male, 0 for female (true/false also accepted)."
        docs["examples"] = [1]
    else:
        meaning = f"{features.LABELS[name]}: 1 for yes, 0 for no (true/false also accepted)."
        docs["examples"] = [0]
    docs["description"] = f"{meaning}{also} Case, spaces and underscores in the key are ignored."
    return docs


def _empty_means_unset(converter, field, ret: dict[str, Any], **kwargs) -> dict[str, Any]:
    """Both query schemas take an empty field (`?level=`, as the admin pages' forms send) as unset."""
    return {"allowEmptyValue": True} if ret.get("in") == "query" else {}
