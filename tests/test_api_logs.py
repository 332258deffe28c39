"""GET and DELETE /logs over HTTP, against both log backends, and admin access rules."""

from __future__ import annotations

import pytest

from tests.helpers import SYMPTOMATIC_OLDER_SMOKER, patient

TOKEN = "s3cret-admin-token"


@pytest.fixture(params=["sqlite", "redis"])
def client(request, make_app):
    """These tests run once per log backend."""
    return make_app(backend=request.param).test_client()


def predict(client, n=1, **headers):
    for index in range(n):
        response = client.post("/predict", json=patient(AGE=30 + index), headers=headers)
        assert response.status_code == 200


def test_each_prediction_becomes_a_structured_entry(client):
    client.post("/predict", json=SYMPTOMATIC_OLDER_SMOKER, headers={"X-Request-ID": "rid-1"})
    body = client.get("/logs").get_json()
    assert body["total"] == 1
    entry = body["logs"][0]
    assert entry["level"] == "INFO"
    assert entry["endpoint"] == "/predict"
    assert entry["request_id"] == "rid-1"
    assert entry["inputs"] == SYMPTOMATIC_OLDER_SMOKER
    assert entry["prediction"] in (0, 1)
    assert 0 <= entry["probability"] <= 1
    assert entry["model_version"]
    assert entry["latency_ms"] > 0
    assert entry["timestamp"].endswith("Z") and len(entry["timestamp"]) == 24
    assert isinstance(entry["id"], int)


def test_each_row_of_a_batch_is_its_own_entry(client):
    client.post("/api/predict_proba", json=[patient(AGE=31), patient(AGE=32), patient(AGE=33)])
    logs = client.get("/api/logs").get_json()["logs"]
    assert [entry["inputs"]["AGE"] for entry in logs] == [33, 32, 31]
    assert {entry["endpoint"] for entry in logs} == {"/api/predict_proba"}


def test_a_rejected_request_becomes_a_warning_with_its_field_errors(client):
    client.post("/predict", json=patient(AGE=300))
    entry = client.get("/logs", query_string={"level": "warning"}).get_json()["logs"][0]
    assert entry["level"] == "WARNING"
    assert "AGE" in entry["errors"]
    assert entry["prediction"] is None


def test_logs_are_newest_first_and_paged_by_limit_and_offset(client):
    predict(client, 5)
    page = client.get("/logs", query_string={"limit": 2, "offset": 1}).get_json()
    assert page["total"] == 5
    assert [entry["inputs"]["AGE"] for entry in page["logs"]] == [33, 32]


def test_cursor_paging_is_stable_while_new_entries_arrive(client):
    predict(client, 4)
    first = client.get("/logs", query_string={"limit": 2}).get_json()
    predict(client, 3)
    second = client.get("/logs", query_string={"limit": 2, "cursor": first["next_cursor"]}).get_json()
    ages = [e["inputs"]["AGE"] for e in first["logs"] + second["logs"]]
    assert ages == [33, 32, 31, 30]
    assert second["next_cursor"] is None


def test_logs_filter_by_time_window(client):
    predict(client, 2)
    newest = client.get("/logs").get_json()["logs"][0]["timestamp"]
    assert client.get("/logs", query_string={"since": newest}).get_json()["total"] >= 1
    assert client.get("/logs", query_string={"until": "2000-01-01T00:00:00Z"}).get_json()["total"] == 0


@pytest.mark.parametrize(
    "query, field",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"level": "DEBUG"}, "level"),
        ({"since": "yesterday"}, "since"),
        ({"cursor": "abc"}, "cursor"),
    ],
)
def test_logs_reject_a_bad_query_naming_the_parameter(client, query, field):
    response = client.get("/logs", query_string=query)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]


def test_delete_clears_the_log(client):
    predict(client, 3)
    response = client.delete("/api/logs")
    assert response.status_code == 200
    assert response.get_json()["deleted"] == 3
    assert client.get("/logs").get_json()["total"] == 0


@pytest.mark.parametrize("method", ["get", "delete"])
def test_with_admin_token_set_logs_need_the_bearer_token(make_app, method):
    client = make_app(ADMIN_TOKEN=TOKEN).test_client()
    assert getattr(client, method)("/logs").status_code == 401
    wrong = getattr(client, method)("/logs", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")
    right = getattr(client, method)("/api/logs", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200


@pytest.mark.parametrize("method", ["get", "delete"])
def test_on_a_public_space_without_a_token_logs_are_closed(make_app, method):
    client = make_app(SPACE_ID="someone/lung-cancer-risk").test_client()
    response = getattr(client, method)("/logs")
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def test_on_a_public_space_the_token_opens_the_logs(make_app):
    client = make_app(SPACE_ID="someone/space", ADMIN_TOKEN=TOKEN).test_client()
    assert client.get("/logs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_predictions_stay_open_when_admin_endpoints_are_closed(make_app):
    client = make_app(SPACE_ID="someone/space").test_client()
    assert client.post("/predict", json=patient()).status_code == 200
