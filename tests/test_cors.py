"""CORS: browser pages on other origins may call the public JSON endpoints, never the admin ones."""

from __future__ import annotations

import pytest

from tests.helpers import HEALTHY_YOUNG_WOMAN

ORIGIN = "https://clinic.example"
PUBLIC = [
    ("POST", "/predict"),
    ("POST", "/predict_proba"),
    ("GET", "/health"),
    ("GET", "/metadata"),
    ("GET", "/health/ready"),
]
ADMIN = [
    ("GET", "/logs"),
    ("GET", "/api/logs"),
    ("DELETE", "/logs"),
    ("DELETE", "/api/logs"),
    ("GET", "/metrics"),
    ("GET", "/monitoring"),
    ("GET", "/api/monitoring/drift"),
    ("GET", "/logs/export.csv"),
    ("GET", "/admin/login"),
]


def preflight(client, method: str, path: str, origin: str = ORIGIN):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "Content-Type",
        },
    )


def call(client, method: str, path: str, origin: str = ORIGIN):
    if method == "POST":
        return client.post(path, json=HEALTHY_YOUNG_WOMAN, headers={"Origin": origin})
    return client.open(path, method=method, headers={"Origin": origin})


@pytest.mark.parametrize("prefix", ["", "/api"])
@pytest.mark.parametrize("method, path", PUBLIC)
def test_public_endpoints_answer_a_preflight_from_any_origin(client, prefix, method, path):
    response = preflight(client, method, prefix + path)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert method in response.headers["Access-Control-Allow-Methods"]
    assert "content-type" in response.headers["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Credentials" not in response.headers


@pytest.mark.parametrize("prefix", ["", "/api"])
@pytest.mark.parametrize("method, path", PUBLIC)
def test_public_endpoints_let_a_page_read_their_answer(client, prefix, method, path):
    response = call(client, method, prefix + path)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "X-Request-ID" in response.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_a_page_can_read_the_error_envelope_too(client):
    response = client.post("/predict", json={"AGE": 300}, headers={"Origin": ORIGIN})
    assert response.status_code == 422 and response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("method, path", ADMIN)
def test_admin_endpoints_never_answer_cross_origin(client, method, path):
    for response in (preflight(client, method, path), call(client, method, path)):
        assert not [name for name, _ in response.headers if name.lower().startswith("access-control-")], path


@pytest.mark.parametrize(
    "origins, origin, allowed",
    [
        ("https://a.example, https://b.example/", "https://b.example", "https://b.example"),
        ("https://a.example,https://b.example", "https://evil.example", None),
        ("none", ORIGIN, None),
    ],
)
def test_the_allowed_origins_are_a_setting(make_app, origins, origin, allowed):
    client = make_app(CORS_ORIGINS=origins).test_client()
    for response in (preflight(client, "POST", "/predict", origin), call(client, "POST", "/predict", origin)):
        assert response.headers.get("Access-Control-Allow-Origin") == allowed
        if allowed:
            assert "Origin" in response.headers["Vary"]


def test_a_request_without_an_origin_is_not_cross_origin_and_gets_no_cors_headers(client):
    response = client.post("/predict", json=HEALTHY_YOUNG_WOMAN)
    assert response.status_code == 200
    assert not [name for name, _ in response.headers if name.lower().startswith("access-control-")]
