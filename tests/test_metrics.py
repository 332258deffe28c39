"""Prometheus metrics at /metrics: they move with requests, in one process and over Gunicorn workers."""

from __future__ import annotations

import glob

import numpy as np
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import HEALTHY_YOUNG_WOMAN, SYMPTOMATIC_OLDER_SMOKER, patient
from tests.processes import ServerProcess

TOKEN = "metrics-test-token"


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} from the exposition text."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text: str, name: str, **labels) -> float:
    wanted = tuple(sorted(labels.items()))
    return sum(v for (n, labels), v in samples(text).items() if n == name and set(wanted) <= set(labels))


def scrape(client, **headers) -> str:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return response.get_data(as_text=True)


def test_requests_are_counted_and_timed_per_endpoint_and_status(client):
    for _ in range(3):
        client.post("/predict", json=HEALTHY_YOUNG_WOMAN)
    client.post("/api/predict", json=patient(AGE=130))
    client.get("/no-such-page")
    text = scrape(client)
    assert value(text, "lungrisk_http_requests_total", endpoint="/predict", status="200") == 3
    assert value(text, "lungrisk_http_requests_total", endpoint="/api/predict", status="422") == 1
    assert value(text, "lungrisk_http_requests_total", endpoint="unmatched", status="404") == 1
    assert value(text, "lungrisk_http_request_duration_seconds_count", endpoint="/predict", status="200") == 3
    assert value(text, "lungrisk_http_request_duration_seconds_sum", endpoint="/predict") > 0


def test_predictions_are_counted_per_class_with_a_probability_histogram(client):
    client.post("/predict", json=[HEALTHY_YOUNG_WOMAN, SYMPTOMATIC_OLDER_SMOKER, SYMPTOMATIC_OLDER_SMOKER])
    client.post("/predict_proba", json=SYMPTOMATIC_OLDER_SMOKER)
    text = scrape(client)
    assert value(text, "lungrisk_predictions_total", prediction="0") == 1
    assert value(text, "lungrisk_predictions_total", prediction="1") == 3
    assert value(text, "lungrisk_prediction_probability_count") == 4
    assert value(text, "lungrisk_prediction_probability_bucket", le="0.5") == 1
    assert value(text, "lungrisk_prediction_probability_bucket", le="1.0") == 4


def test_a_batch_observes_its_scores_as_one_by_one_observations_would():
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    from webapp.api.instrumentation import PROBABILITY_BUCKETS, observe_many

    scores = np.random.default_rng(16).uniform(0, 1, 1000)
    scores[:12] = [
        0.0,
        0.1,
        0.2,
        0.3,
        0.5,
        0.7,
        0.9,
        1.0,
        np.nextafter(0.1, 1),
        np.nextafter(0.5, 0),
        1e-9,
        0.3,
    ]
    texts = []
    for observe in (
        lambda h: [h.observe(score) for score in scores.tolist()],
        lambda h: observe_many(h, scores),
    ):
        registry = CollectorRegistry()
        histogram = Histogram("score", "Scores.", buckets=PROBABILITY_BUCKETS, registry=registry)
        observe(histogram)
        texts.append(generate_latest(registry).decode())
    one_by_one, at_once = (samples(text) for text in texts)
    assert one_by_one.keys() == at_once.keys()
    for key, expected in one_by_one.items():
        if key[0] == "score_sum":  # added in another order: the same up to the last bits
            assert at_once[key] == pytest.approx(expected, rel=1e-12)
        elif key[0] != "score_created":
            assert at_once[key] == expected, key


def test_the_log_store_and_the_model_are_described(client, app):
    text = scrape(client)
    version = app.extensions["model_service"].version
    assert value(text, "lungrisk_model_info", model_version=version) == 1
    assert value(text, "lungrisk_log_store_healthy") == 1
    assert value(text, "lungrisk_log_store_dropped_entries_total") == 0
    assert ("lungrisk_log_store_pending_entries", ()) in samples(text)


def test_a_failing_log_store_shows_in_the_metrics(make_app, tmp_path):
    (tmp_path / "not-a-folder").write_text("a file where the log's folder should be")
    app = make_app(LOG_DB_PATH=str(tmp_path / "not-a-folder" / "log.sqlite3"))
    text = scrape(app.test_client())
    assert value(text, "lungrisk_log_store_healthy") == 0
    assert value(text, "lungrisk_log_store_failures_total") == 1


@pytest.mark.parametrize(
    "settings, headers, status",
    [
        ({}, {}, 200),
        ({"ADMIN_TOKEN": TOKEN}, {}, 401),
        ({"ADMIN_TOKEN": TOKEN}, {"Authorization": "Bearer wrong"}, 401),
        ({"ADMIN_TOKEN": TOKEN}, {"Authorization": f"Bearer {TOKEN}"}, 200),
        ({"SPACE_ID": "someone/space"}, {}, 403),
        ({"SPACE_ID": "someone/space", "ADMIN_TOKEN": TOKEN}, {"Authorization": f"Bearer {TOKEN}"}, 200),
    ],
)
def test_metrics_follow_the_admin_access_rules(make_app, settings, headers, status):
    assert make_app(**settings).test_client().get("/metrics", headers=headers).status_code == status


@pytest.mark.e2e
def test_counts_are_summed_over_every_gunicorn_worker(tmp_path):
    metrics_dir = tmp_path / "prometheus"
    env = {"WEB_CONCURRENCY": "2", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "GUNICORN_ACCESS_LOG": ""}
    n = 60
    with ServerProcess.gunicorn(tmp_path, env=env) as api:
        for i in range(n):  # a new connection each time: the kernel spreads them over the workers
            body = SYMPTOMATIC_OLDER_SMOKER if i % 3 == 0 else HEALTHY_YOUNG_WOMAN
            assert requests.post(api.url + "/predict", json=body, timeout=10).status_code == 200
        counter_files = glob.glob(str(metrics_dir / "counter_*.db"))
        scrapes = [requests.get(api.url + "/metrics", timeout=10).text for _ in range(6)]
    assert len(counter_files) >= 2, "both workers should have counted requests"
    for text in scrapes:  # whichever worker answers, it reports every worker's counts
        assert value(text, "lungrisk_http_requests_total", endpoint="/predict", status="200") == n
        assert value(text, "lungrisk_http_request_duration_seconds_count", endpoint="/predict") == n
        assert value(text, "lungrisk_predictions_total", prediction="1") == n // 3
        assert value(text, "lungrisk_predictions_total", prediction="0") == n - n // 3
        assert value(text, "lungrisk_prediction_probability_count") == n
        assert value(text, "lungrisk_log_store_healthy") == 1
    assert not metrics_dir.exists() or not glob.glob(str(metrics_dir / "gauge_live*")), (
        "live gauges of stopped workers are dropped"
    )
