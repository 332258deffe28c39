"""CPU time of one batch of 1,000 records through POST /predict, in-process, split by stage.

Not a test: it prints figures. The batch (sampled patients, as bench_predict sends it) is posted
through Flask's test client, so the figure is the app's own CPU time without sockets or
Gunicorn, far steadier than an HTTP benchmark on a shared machine. For each backend it prints
the request thread's CPU time a batch (validation, scoring, the answer, building the log
entries), the log writer's (serialising and storing them), their sum, and what that sum allows
in rows a second on the two cores of this machine. `--profile` adds a cProfile of the request.

    python bench/bench_batch.py [--backends sqlite redis] [--repeat 20] [--language en] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_predict import BATCH_SIZE, batch_body  # noqa: E402
from webapp.api import create_app  # noqa: E402

#: Rows a second issue 16 asks of batches of 1,000.
TARGET_ROWS_PER_S = 50_000
CORES = 2


def measure(app, body: str, repeat: int, headers: dict) -> dict[str, float]:
    """Median CPU ms a batch: the request thread's, and the process's (the writer thread's too)."""
    client = app.test_client()
    log = app.extensions["prediction_log"]
    for _ in range(3):  # warm-up: first requests build caches and open the store
        assert client.post("/predict", data=body, headers=headers).status_code == 200
    log.flush(30)
    request_ms, total_ms = [], []
    for _ in range(repeat):
        process, thread = time.process_time(), time.thread_time()
        response = client.post("/predict", data=body, headers=headers)
        request_cpu = time.thread_time() - thread
        if not log.flush(30):
            raise RuntimeError("the log did not write the batch within 30 s")
        total_cpu = time.process_time() - process
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        request_ms.append(request_cpu * 1000)
        total_ms.append(total_cpu * 1000)
    request, total = statistics.median(request_ms), statistics.median(total_ms)
    return {"request_ms": request, "writer_ms": max(total - request, 0.0), "total_ms": total}


def profile(app, body: str, headers: dict, repeat: int = 10) -> None:
    client = app.test_client()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeat):
        client.post("/predict", data=body, headers=headers)
    profiler.disable()
    app.extensions["prediction_log"].flush(30)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def build(backend: str, workdir: str, redis_url: str | None):
    config = {"LOG_DB_PATH": f"{workdir}/log-{backend}.sqlite3", "LOG_LEVEL": "WARNING"}
    # The rate limits are per client; this measures the work, so loopback is exempt as shipped.
    if backend == "redis":
        config.update(REDIS_URL=redis_url, REDIS_KEY_PREFIX=f"bench-batch-{threading.get_native_id()}")
    else:
        config["REDIS_URL"] = None
    return create_app(config)


def run(backends: list[str], repeat: int, redis_url: str | None, language: str = "en", show_profile=False):
    """CPU figures of each backend: dicts with backend, request_ms, writer_ms, total_ms."""
    body = batch_body()
    headers = {"Content-Type": "application/json", "Accept-Language": language}
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as workdir:
        for backend in backends:
            app = build(backend, workdir, redis_url)
            gc.freeze()  # as Gunicorn's master does before forking (gunicorn_config.pre_fork)
            try:
                rows.append({"backend": backend, **measure(app, body, repeat, headers)})
                if show_profile:
                    profile(app, body, headers)
            finally:
                log = app.extensions["prediction_log"]
                if log.kind == "redis":
                    log.clear()
                log.close()
                gc.unfreeze()
    return rows


def print_table(rows: list[dict], repeat: int) -> None:
    print(f"Batches of {BATCH_SIZE:,} through /predict, in-process, CPU ms a batch (median of {repeat}):")
    print(f"{'backend':<8}{'request':>9}{'log write':>11}{'total':>8}{'rows/s on 2 cores':>20}")
    for row in rows:
        rows_per_s = CORES * BATCH_SIZE * 1000 / row["total_ms"]
        verdict = "" if rows_per_s >= TARGET_ROWS_PER_S else f"  (target {TARGET_ROWS_PER_S:,})"
        print(
            f"{row['backend']:<8}{row['request_ms']:>9.1f}{row['writer_ms']:>11.1f}"
            f"{row['total_ms']:>8.1f}{rows_per_s:>20,.0f}{verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", nargs="+", default=["sqlite", "redis"], choices=["sqlite", "redis"])
    parser.add_argument("--repeat", type=int, default=20, help="batches measured per backend")
    parser.add_argument("--language", default="en", help="Accept-Language of the requests")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the request path")
    args = parser.parse_args()

    server = None
    if "redis" in args.backends:
        from tests.redis_server import RedisServer

        server = RedisServer()
        server.start()
    try:
        rows = run(args.backends, args.repeat, server.url if server else None, args.language, args.profile)
    finally:
        if server is not None:
            server.stop()
    print_table(rows, args.repeat)


if __name__ == "__main__":
    main()
