"""The traffic simulator: its options, its patients, and real runs against the API under Gunicorn."""

from __future__ import annotations

import json
import time

import pytest
import requests

from tests.processes import ServerProcess, free_port
from webapp.monitoring.reference import load_reference
from webapp.tools import simulate
from webapp.tools.population import Drift, PatientSampler, parse_prevalence

N = 400


@pytest.fixture(scope="module")
def reference():
    return load_reference()


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("simulate")
    with ServerProcess.gunicorn(workdir, env={"GUNICORN_ACCESS_LOG": ""}) as server:
        yield server


def wait_for_logged(api, total: int, timeout: float = 10.0) -> int:
    """The log's total once it reaches `total`: each worker writes its buffer in the background."""
    deadline = time.monotonic() + timeout
    while True:
        seen = requests.get(api.url + "/logs", params={"limit": 1}, timeout=10).json()["total"]
        if seen >= total or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


def simulate_json(capsys, *args) -> tuple[int, dict]:
    code = simulate.main([*args, "--json", "--quiet"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    "text, parsed",
    [
        ("SMOKING=0.9", ("SMOKING", 0.9)),
        ("chest_pain=0", ("CHEST PAIN", 0.0)),
        ("Shortness of breath=1", ("SHORTNESS OF BREATH", 1.0)),
        ("gender=0.7", ("GENDER", 0.7)),
    ],
)
def test_prevalence_options_accept_any_spelling_of_a_yes_no_input(text, parsed):
    assert parse_prevalence(text) == parsed


@pytest.mark.parametrize("text", ["SMOKING", "AGE=0.5", "NOSE=0.5", "SMOKING=lots"])
def test_prevalence_options_that_name_no_yes_no_input_or_no_share_are_refused(text):
    with pytest.raises(ValueError):
        parse_prevalence(text)


@pytest.mark.parametrize(
    "changes", [{"prevalence": {"SMOKING": 1.5}}, {"positive_rate": -0.1}, {"prevalence": {"AGE": 0.5}}]
)
def test_drifts_outside_what_a_share_can_be_are_refused(changes):
    with pytest.raises(ValueError):
        Drift(**changes)


@pytest.mark.parametrize(
    "plan", [{"count": 0}, {"duration": -1}, {"concurrency": 0}, {"rate": 0}, {"count": 5, "batch_size": 0}]
)
def test_plans_that_would_not_stop_or_not_start_are_refused(plan):
    with pytest.raises(ValueError):
        simulate.Plan(**plan)


def test_a_plan_without_count_or_duration_is_bounded_by_a_default_count():
    assert simulate.Plan().count == simulate.DEFAULT_COUNT


def test_the_same_seed_sends_the_same_patients(reference):
    assert PatientSampler(reference, seed=3).sample(50) == PatientSampler(reference, seed=3).sample(50)
    assert PatientSampler(reference, seed=3).sample(50) != PatientSampler(reference, seed=4).sample(50)


def test_an_age_shift_moves_ages_and_keeps_them_within_what_the_api_accepts(reference):
    plain = PatientSampler(reference, seed=5).sample(2000)
    older = PatientSampler(reference, Drift(age_shift=15), seed=5).sample(2000)
    mean_age = sum(r["AGE"] for r in plain) / 2000
    assert sum(r["AGE"] for r in older) / 2000 == pytest.approx(mean_age + 15, abs=0.5)
    assert max(r["AGE"] for r in PatientSampler(reference, Drift(age_shift=80), seed=5).sample(500)) == 120


@pytest.mark.e2e
def test_the_simulator_fills_the_log_of_a_running_server(api, capsys):
    requests.delete(api.url + "/logs", timeout=10)
    code, summary = simulate_json(
        capsys, "--api-url", api.url, "--count", str(N), "--concurrency", "4", "--seed", "11"
    )
    assert code == 0
    assert summary["requests"] == summary["succeeded"] == N
    assert summary["status_counts"] == {"200": N}
    assert summary["throughput_rps"] > 0
    assert 0 < summary["latency_ms"]["p50"] <= summary["latency_ms"]["p95"] <= summary["latency_ms"]["p99"]
    assert wait_for_logged(api, N) == N
    drift = requests.get(api.url + "/api/monitoring/drift", params={"last": N}, timeout=30).json()
    assert drift["window"]["entries"] == N
    assert drift["status"] == "ok" and drift["drifted"] == []


@pytest.mark.e2e
@pytest.mark.parametrize(
    "options, flagged",
    [
        (["--age-shift", "15"], {"AGE"}),
        (["--prevalence", "SMOKING=0.95", "--prevalence", "ALLERGY=0.1"], {"SMOKING", "ALLERGY"}),
    ],
)
def test_a_drift_injected_by_the_simulator_is_flagged(api, capsys, options, flagged):
    requests.delete(api.url + "/logs", timeout=10)  # the window holds this run's entries only
    code, summary = simulate_json(
        capsys,
        "--api-url",
        api.url,
        "--count",
        "100",
        "--batch-size",
        "4",
        "--concurrency",
        "2",
        "--seed",
        "12",
        *options,
    )
    assert code == 0 and summary["records"] == N
    assert wait_for_logged(api, N) == N
    drift = requests.get(api.url + "/api/monitoring/drift", params={"last": N}, timeout=30).json()
    assert set(drift["drifted"]) == flagged


@pytest.mark.e2e
def test_a_rate_limited_run_stops_at_its_duration(api, capsys):
    code, summary = simulate_json(
        capsys, "--api-url", api.url, "--duration", "1", "--rate", "40", "--seed", "1"
    )
    assert code == 0
    assert summary["requests"] == 40
    assert 0.9 <= summary["duration_s"] < 2.0


def test_an_unreachable_api_is_counted_as_failures_with_a_nonzero_exit(capsys):
    code, summary = simulate_json(
        capsys, "--api-url", f"http://127.0.0.1:{free_port()}", "--count", "3", "--timeout", "2"
    )
    assert code == 1
    assert summary["status_counts"] == {"503": 3} and summary["failed"] == 3


def test_the_text_summary_names_throughput_latency_percentiles_and_statuses(capsys):
    simulate.main(["--api-url", f"http://127.0.0.1:{free_port()}", "--count", "2", "--quiet"])
    out = capsys.readouterr().out
    for word in ("throughput", "p50", "p95", "p99", "503: 2"):
        assert word in out
