"""Send realistic (optionally drifted) patients to a running API and summarise how it coped.

    python -m webapp.tools.simulate --api-url http://127.0.0.1:8000 --count 500 --concurrency 4
    python -m webapp.tools.simulate --duration 30 --rate 20 --age-shift 15 --prevalence SMOKING=0.9 --json

Bounded: it stops after --count requests or --duration seconds, whichever comes first
(100 requests when neither is given). A progress bar goes to stderr, the summary to stdout;
the exit status is 0 when every request succeeded.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from dotenv import load_dotenv
from tqdm import tqdm

from webapp.monitoring.reference import DEFAULT_MODEL_DIR, load_reference
from webapp.proxy import APIProxyClient  # the one HTTP client for the API
from webapp.settings import PROJECT_ROOT
from webapp.tools.population import Drift, PatientSampler, parse_prevalence

logger = logging.getLogger(__name__)

DEFAULT_COUNT = 100


@dataclass
class Plan:
    count: int | None = None
    duration: float | None = None
    concurrency: int = 1
    rate: float | None = None  # requests per second over all threads; None = as fast as possible
    batch_size: int = 1

    def __post_init__(self) -> None:
        if self.count is None and self.duration is None:
            self.count = DEFAULT_COUNT
        for name in ("count", "duration", "rate"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive")
        if self.concurrency < 1 or self.batch_size < 1:
            raise ValueError("concurrency and batch size must be at least 1")


@dataclass
class Tally:
    """What the sending threads found; appends and Counter updates happen under the lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    records: int = 0
    predicted_positive: int = 0

    def add(self, status: int, latency_ms: float, body: Any, sent: int) -> None:
        positives = 0
        if status == 200 and isinstance(body, dict):
            items = body.get("predictions", [body])
            positives = sum(1 for item in items if isinstance(item, dict) and item.get("prediction") == 1)
        with self.lock:
            self.latencies_ms.append(latency_ms)
            self.statuses[status] += 1
            if status == 200:
                self.records += sent
            self.predicted_positive += positives


class Dispatcher:
    """Hands out request numbers and their records in order, pacing them to the rate."""

    def __init__(self, plan: Plan, sampler: PatientSampler, started: float):
        self.plan, self.sampler, self.started = plan, sampler, started
        self._lock = threading.Lock()
        self._next = 0

    def take(self) -> list[dict] | None:
        plan = self.plan
        with self._lock:
            index = self._next
            if plan.count is not None and index >= plan.count:
                return None
            due = self.started + (index / plan.rate if plan.rate else 0.0)
            if plan.duration is not None and max(due, time.perf_counter()) - self.started >= plan.duration:
                return None
            self._next += 1
            records = self.sampler.sample(plan.batch_size)
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        return records


def run(
    client,
    sampler: PatientSampler,
    plan: Plan,
    progress: bool = True,
    on_sent: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Send the plan's requests through `client` (an APIProxyClient); return the summary."""
    tally = Tally()
    bar = tqdm(total=plan.count, unit="req", file=sys.stderr, disable=not progress, dynamic_ncols=True)
    started = time.perf_counter()
    dispatcher = Dispatcher(plan, sampler, started)

    def worker() -> None:
        while (records := dispatcher.take()) is not None:
            payload = records[0] if plan.batch_size == 1 else records
            sent_at = time.perf_counter()
            body, status = client.post_predict(payload)
            tally.add(status, (time.perf_counter() - sent_at) * 1000.0, body, len(records))
            bar.update(1)
            if on_sent is not None:
                on_sent()

    with ThreadPoolExecutor(plan.concurrency, thread_name_prefix="simulate") as pool:
        for future in [pool.submit(worker) for _ in range(plan.concurrency)]:
            future.result()
    elapsed = time.perf_counter() - started
    bar.close()
    return summarize(tally, elapsed, plan, sampler.drift)


def summarize(tally: Tally, elapsed: float, plan: Plan, drift: Drift) -> dict[str, Any]:
    latencies = np.array(tally.latencies_ms, dtype=np.float64)
    requests = int(latencies.size)
    succeeded = tally.statuses.get(200, 0)

    def pct(q: float) -> float | None:
        return round(float(np.percentile(latencies, q)), 2) if requests else None

    return {
        "requests": requests,
        "succeeded": succeeded,
        "failed": requests - succeeded,
        "records": tally.records,
        "duration_s": round(elapsed, 3),
        "throughput_rps": round(requests / elapsed, 2) if elapsed > 0 else None,
        "records_per_s": round(tally.records / elapsed, 2) if elapsed > 0 else None,
        "latency_ms": {
            "p50": pct(50),
            "p95": pct(95),
            "p99": pct(99),
            "mean": round(float(latencies.mean()), 2) if requests else None,
            "max": round(float(latencies.max()), 2) if requests else None,
        },
        "status_counts": {str(status): n for status, n in sorted(tally.statuses.items())},
        "predicted_positive_rate": (
            round(tally.predicted_positive / tally.records, 4) if tally.records else None
        ),
        "plan": {
            "count": plan.count,
            "duration_s": plan.duration,
            "concurrency": plan.concurrency,
            "rate": plan.rate,
            "batch_size": plan.batch_size,
        },
        "drift": drift.describe(),
    }


def format_summary(summary: dict[str, Any]) -> str:
    latency = summary["latency_ms"]
    statuses = ", ".join(f"{status}: {n}" for status, n in summary["status_counts"].items()) or "none"
    lines = [
        f"requests     {summary['requests']} ({summary['succeeded']} ok, {summary['failed']} failed), "
        f"{summary['records']} records scored",
        f"duration     {summary['duration_s']:.2f} s",
        f"throughput   {summary['throughput_rps']} requests/s, {summary['records_per_s']} records/s",
        f"latency      p50 {latency['p50']} ms, p95 {latency['p95']} ms, p99 {latency['p99']} ms, "
        f"max {latency['max']} ms",
        f"status       {statuses}",
        f"positives    {summary['predicted_positive_rate']} of scored records predicted positive",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-url", help="the API's base URL (default: API_URL or http://127.0.0.1:8000)")
    parser.add_argument(
        "--count", type=int, help=f"requests to send (default {DEFAULT_COUNT} without --duration)"
    )
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--concurrency", type=int, default=1, help="requests in flight at once (default 1)")
    parser.add_argument("--rate", type=float, help="requests per second over all threads (default: no limit)")
    parser.add_argument("--batch-size", type=int, default=1, help="records per request (default 1)")
    parser.add_argument("--seed", type=int, help="random seed: the same seed sends the same patients")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each answer")
    parser.add_argument(
        "--age-shift", type=float, default=0.0, help="drift: add this many years to every age"
    )
    parser.add_argument(
        "--prevalence",
        action="append",
        default=[],
        metavar="NAME=SHARE",
        help="drift: share of 'yes' for a yes/no input, e.g. SMOKING=0.9 (repeatable)",
    )
    parser.add_argument(
        "--positive-rate", type=float, help="drift: share of patients drawn from the lung-cancer class"
    )
    parser.add_argument(
        "--model-dir", type=Path, default=DEFAULT_MODEL_DIR, help="folder with reference.json"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        drift = Drift(
            age_shift=args.age_shift,
            positive_rate=args.positive_rate,
            prevalence=dict(parse_prevalence(item) for item in args.prevalence),
        )
        plan = Plan(args.count, args.duration, args.concurrency, args.rate, args.batch_size)
        sampler = PatientSampler(load_reference(args.model_dir), drift, args.seed)
    except (ValueError, RuntimeError) as error:
        logger.error("%s", error)
        return 2
    # Pooled keep-alive connections, one per thread, and no retries: a load test counts failures.
    client = APIProxyClient(
        args.api_url, timeout=args.timeout, mode="pooled", pool_size=plan.concurrency, retries=0
    )
    try:
        summary = run(client, sampler, plan, progress=not args.quiet)
    finally:
        client.close()
    summary["api_url"] = client.api_url
    sys.stdout.write((json.dumps(summary, indent=2) if args.json else format_summary(summary)) + "\n")
    return 0 if summary["requests"] and summary["failed"] == 0 else 1


if __name__ == "__main__":
    load_dotenv(PROJECT_ROOT / ".env", override=False)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    raise SystemExit(main())
