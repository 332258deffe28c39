"""The OpenAPI document: valid 3.1, generated from the app's routes and schemas, honest examples."""

from __future__ import annotations

import json
import re

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from tests.helpers import REPO_ROOT
from webapp import features
from webapp.api.openapi import examples
from webapp.api.openapi.operations import ERRORS
from webapp.web.errors import APIError

ERROR_STATUSES = (400, 401, 403, 404, 405, 413, 415, 422, 503)
JSON_BLUEPRINTS = {"info", "health", "predict", "logs", "monitoring_page"}
NOT_JSON: set[str] = set()  # /monitoring answers programs in JSON too (browsers get the page)


@pytest.fixture
def client(make_app):
    return make_app(ADMIN_TOKEN="docs-token").test_client()


@pytest.fixture
def document(client):
    return client.get("/openapi.json").get_json()


def schema_validator(document, schema):
    """A validator for `schema`, resolving the document's $refs."""
    return OAS31Validator({**schema, "components": document["components"]})


def operation(document, path, method):
    return document["paths"][path][method]


def test_document_is_valid_openapi_3_1_at_the_root_and_under_api(client, document):
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert client.get("/api/openapi.json").get_json() == document
    assert [server["url"] for server in document["servers"]] == ["/api", "/"]


def test_every_json_route_is_documented_and_answers_at_the_root_and_under_api(app, document):
    routed = set()
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint.removeprefix("api_")
        if endpoint.split(".")[0] not in JSON_BLUEPRINTS or endpoint in NOT_JSON:
            continue
        path = rule.rule.removeprefix("/api") if rule.rule.startswith("/api/") else rule.rule
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routed.add((path or "/", method.lower()))
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert documented == routed
    adapter = app.url_map.bind("localhost")
    for path, method in documented:
        root, _ = adapter.match(path, method.upper())
        prefixed, _ = adapter.match("/api" + path, method.upper())
        assert root.removeprefix("api_") == prefixed.removeprefix("api_")


def test_patient_schema_has_the_15_fields_with_types_and_ranges(document):
    patient = document["components"]["schemas"]["Patient"]
    spaced = [name for name in features.FEATURES if " " in name]
    assert list(patient["properties"]) == [*features.FEATURES, *(name.replace(" ", "_") for name in spaced)]
    assert sorted(patient["required"]) == sorted(set(features.FEATURES) - set(spaced))
    assert patient["allOf"] == [
        {"oneOf": [{"required": [name]}, {"required": [name.replace(" ", "_")]}]} for name in spaced
    ]
    # Unknown keys (the survey's LUNG_CANCER among them) are ignored and named in `warnings`.
    assert patient.get("additionalProperties", True) is not False
    age = patient["properties"]["AGE"]
    assert (age["type"], age["minimum"], age["maximum"]) == (["integer", "string"], 0, 120)
    assert age["pattern"]  # a string of digits, 0 to 120
    for name in features.FEATURES[1:]:
        assert patient["properties"][name]["enum"] == [0, 1, True, False, "0", "1"]
    assert "`CHEST_PAIN`" in patient["properties"]["CHEST PAIN"]["description"]


def test_predict_takes_one_record_an_array_or_records(document):
    for path in ("/predict", "/predict_proba"):
        body = operation(document, path, "post")["requestBody"]["content"]["application/json"]
        assert {ref["$ref"].rsplit("/", 1)[1] for ref in body["schema"]["oneOf"]} == {
            "Patient",
            "PatientArray",
            "PatientRecords",
        }
        assert set(body["examples"]) == {"single", "array", "records"}
        validator = schema_validator(document, body["schema"])
        for example in body["examples"].values():
            validator.validate(example["value"])
    assert document["components"]["schemas"]["PatientArray"]["maxItems"] == 1000


@pytest.mark.parametrize("status", ERROR_STATUSES)
def test_each_error_status_is_documented_with_the_envelope(client, document, status):
    name = ERRORS[status][0]
    response = document["components"]["responses"][name]
    media = response["content"]["application/json"]
    assert media["schema"] == {"$ref": "#/components/schemas/Error"}
    schema_validator(document, media["schema"]).validate(media["example"])
    assert media["example"]["error"]["code"] == APIError(status, "").code
    assert "X-Request-ID" in response["headers"]


def test_operations_list_the_errors_they_answer(document):
    def statuses(path, method):
        return set(operation(document, path, method)["responses"])

    assert statuses("/predict", "post") == {"200", "400", "413", "415", "422", "429"}
    assert statuses("/logs", "get") == {"200", "401", "403", "422", "503"}
    assert statuses("/logs", "delete") == {"200", "401", "403", "503"}
    assert statuses("/health", "get") == {"200", "503"}


def test_admin_operations_need_the_bearer_scheme_and_the_others_do_not(document):
    assert document["components"]["securitySchemes"]["adminBearer"] == {
        **document["components"]["securitySchemes"]["adminBearer"],
        "type": "http",
        "scheme": "bearer",
    }
    for path, item in document["paths"].items():
        for method, op in item.items():
            admin = path in ("/logs", "/monitoring/drift", "/monitoring")
            assert (op.get("security") == [{"adminBearer": []}]) is admin, (method, path)
            assert {"$ref": "#/components/parameters/RequestId"} in op["parameters"]


@pytest.mark.parametrize("name", ["predict", "predict_proba"])
@pytest.mark.parametrize("form", ["single", "array", "records"])
def test_the_examples_are_what_the_api_answers(client, document, name, form):
    _, body = examples.REQUESTS[name][form]
    response = client.post(f"/api/{name}", json=body, headers={"X-Request-ID": examples.REQUEST_ID})
    assert response.status_code == 200
    assert response.get_json() == examples.RESPONSES[name][form]
    answer = operation(document, f"/{name}", "post")["responses"]["200"]["content"]["application/json"]
    assert answer["examples"][form]["value"] == response.get_json()
    schema_validator(document, answer["schema"]).validate(response.get_json())


def test_the_validation_error_example_is_what_the_api_answers(client):
    response = client.post(
        "/predict", json=examples.INVALID_RECORD, headers={"X-Request-ID": examples.REQUEST_ID}
    )
    assert response.status_code == 422
    assert response.get_json() == examples.VALIDATION_ERROR


def test_the_docs_assets_come_from_the_app(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'; script-src 'self'")
    scripts = re.findall(r'<script src="([^"]+)"', page.get_data(as_text=True))
    assert scripts == ["/docs/assets/swagger-ui-bundle.js", "/admin-static/js/docs.js"]
    assert "<script>" not in page.get_data(as_text=True)
    for src in scripts:
        assert client.get(src).status_code == 200
    assert 'data-spec-url="/api/openapi.json"' in client.get("/api/docs").get_data(as_text=True)


def _all_examples(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "example":
                yield value
            elif key == "examples" and isinstance(value, dict):
                yield from (item["value"] for item in value.values())
            else:
                yield from _all_examples(value)
    elif isinstance(node, list):
        for item in node:
            yield from _all_examples(item)


def test_the_readme_shows_the_documents_examples(document):
    readme = (REPO_ROOT / "README.md").read_text()
    blocks = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", readme, re.DOTALL)]
    assert len(blocks) >= 2
    known = list(_all_examples(document))
    for block in blocks:
        assert block in known, f"README example not in the document: {json.dumps(block)[:200]}"
    bodies = re.findall(
        r"curl -s [^\n]*/predict(?:_proba)? -H 'Content-Type: application/json'"
        r"\s*\\?\s*-d '(.*?)'",
        readme,
        re.DOTALL,
    )
    assert len(bodies) >= 2
    request_schema = operation(document, "/predict", "post")["requestBody"]["content"]["application/json"][
        "schema"
    ]
    for body in bodies:
        payload = json.loads(body)
        schema_validator(document, request_schema).validate(payload)
        assert payload in known


def test_the_documented_age_strings_are_exactly_the_ones_the_api_accepts():
    import re

    from webapp import features
    from webapp.api.schemas import StrictInteger

    pattern = StrictInteger.json_schema["pattern"]
    for number in range(0, 1000):
        documented = re.fullmatch(pattern, str(number)) is not None
        assert documented == (features.AGE_MIN <= number <= features.AGE_MAX), number
    assert re.fullmatch(pattern, " 65 ")  # as a CSV cell may hold it
    for text in ("065", "+65", "6.5", ""):
        assert re.fullmatch(pattern, text) is None
