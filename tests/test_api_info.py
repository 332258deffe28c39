"""Service info, metadata and health probes."""

from __future__ import annotations

import pytest

from webapp import features


@pytest.mark.parametrize("prefix", ["", "/api"])
def test_info_lists_every_endpoint_under_the_prefix_used(client, prefix):
    body = client.get(f"{prefix}/").get_json()
    assert {"message", "version", "model_version", "endpoints"} <= set(body)
    assert body["endpoints"]["predict"] == f"{prefix}/predict"
    for path in body["endpoints"].values():
        assert client.get(path).status_code != 404


@pytest.mark.parametrize("prefix", ["", "/api"])
def test_metadata_describes_inputs_outputs_and_threshold(client, prefix):
    body = client.get(f"{prefix}/metadata").get_json()
    names = [item["name"] for item in body["inputs"]]
    assert names == list(features.FEATURES)
    assert body["classes"] == [0, 1]
    assert 0 < body["threshold"] < 1
    assert body["version"] == client.get("/").get_json()["model_version"]
    assert "roc_auc" in str(body["metrics"])


@pytest.mark.parametrize("prefix", ["", "/api"])
def test_health_reports_model_and_log_store(client, prefix):
    response = client.get(f"{prefix}/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "healthy"
    assert body["model_loaded"] is True
    assert body["redis_connected"] is False
    assert body["log_store"] == "sqlite"
    assert body["log_buffer"] == {"pending": 0, "dropped": 0, "reduced": 0, "unstored": 0}
    assert body["version"]


@pytest.mark.parametrize(
    "path, status", [("/health/live", "alive"), ("/health/ready", "ready"), ("/api/health/ready", "ready")]
)
def test_liveness_and_readiness_answer_200(client, path, status):
    response = client.get(path)
    assert response.status_code == 200
    assert response.get_json()["status"] == status


def test_health_probes_are_not_logged(client):
    for path in ("/health", "/health/live", "/health/ready", "/", "/metadata"):
        client.get(path)
    assert client.get("/logs").get_json()["total"] == 0


def test_readiness_is_503_without_a_model(app, client):
    app.extensions["model_service"] = None
    assert client.get("/health/ready").status_code == 503
    response = client.get("/health")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unhealthy"
