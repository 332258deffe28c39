"""Every figure of issue 16 in one run (`make bench`): /predict against the same-run echo on
SQLite and on Redis, batches, the API's memory and the admin pages' server time.

Not a test: it prints figures, with the machine's load before and after, since other work on
the same cores moves them. Each /predict run starts its own echo, so every ratio compares
figures taken side by side.

    python bench/bench_all.py [--duration 15] [--rounds 2] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_admin
import bench_batch

from tests.redis_server import RedisServer

CONCURRENCY = (1, 8, 32)
TARGET_RATIO = 0.65
TARGET_P99_MS = 15.0
TARGET_ROWS_PER_S = 50_000
TARGET_PSS_MIB = 200


def load() -> str:
    """The load averages (1, 5, 15 minutes) and the number of cores."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


def bench_predict(duration: int, rounds: int, redis_url: str | None) -> list[dict]:
    command = [
        sys.executable,
        str(ROOT / "bench" / "bench_predict.py"),
        "--duration",
        str(duration),
        "--rounds",
        str(rounds),
        "--concurrency",
        *map(str, CONCURRENCY),
        "--json",
    ]
    if redis_url:
        command += ["--redis-url", redis_url]
    output = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True).stdout
    return json.loads(output[output.index("\n[") + 1 :])


def cells(results: list[dict], name: str, connections: int) -> list[dict]:
    """The rows of one cell, a round each."""
    return [row for row in results if row["name"] == name and row.get("connections") == connections]


def span(values, fmt: str = "{:.2f}") -> str:
    """The range of a cell's figures over the rounds: "a-b", or "a" when they agree."""
    low, high = fmt.format(min(values)), fmt.format(max(values))
    return low if low == high else f"{low}-{high}"


def by_round(results: list[dict], connections: int, field) -> list:
    """field(echo row, floor row, predict row) for each round of one concurrency."""
    rounds = sorted({row["round"] for row in cells(results, "predict", connections)})
    rows = {name: {row["round"]: row for row in cells(results, name, connections)} for name in PARTS}
    return [field(*(rows[name][number] for name in PARTS)) for number in rounds]


def cpu_ms_per_request(row: dict, duration: int) -> float:
    """Worker CPU per request: moves far less than req/s when other work shares the cores."""
    return 1000 * sum(row["worker_cpu_s"]) / max(row["rps"] * duration, 1)


#: The servers of each /predict run: the yardstick, the API around an echo view, the API.
PARTS = ("echo", "floor", "predict")


def why_predict(results: list[dict], backend: str, connections: int, duration: int) -> str:
    """Where a prediction's worker CPU goes, against what the 0.65 target allows."""
    echo, floor, predict = (
        statistics.mean(cpu_ms_per_request(row, duration) for row in cells(results, name, connections))
        for name in PARTS
    )
    allowed = echo / TARGET_RATIO
    return (
        f"- {backend}, c={connections} (means of the rounds): a prediction costs {predict:.2f} ms of "
        f"worker CPU, the echo "
        f"{echo:.2f}. The API's floor (bench/floor_app.py: the same app and Gunicorn settings around a "
        f"view that only echoes, so request ids, metrics, headers and the access log) costs {floor:.2f}, "
        f"and the prediction's own work (validation, scoring, the answer of about 2 KB and its log "
        f"entry) {predict - floor:.2f}. At {TARGET_RATIO} of the echo a request may cost {allowed:.2f} ms, "
        f"which leaves the prediction's own work {max(allowed - floor, 0):.2f} ms."
    )


def table_row(results: list[dict], label: str, field, fmt: str = "{:.2f}") -> str:
    """A line of the /predict table: the field's range over the rounds, at each concurrency."""
    return f"| {label} | " + " | ".join(span(by_round(results, c, field), fmt) for c in CONCURRENCY) + " |"


def print_predict(runs: dict[str, list[dict]], duration: int) -> None:
    print("| | " + " | ".join(f"c={c}" for c in CONCURRENCY) + " |")
    print("|---|" + "---|" * len(CONCURRENCY))
    for backend, results in runs.items():
        lines = [
            (f"echo req/s ({backend} run)", lambda echo, floor, predict: echo["rps"], "{:,.0f}"),
            (f"`/predict` req/s, {backend} log", lambda echo, floor, predict: predict["rps"], "{:,.0f}"),
            (
                f"ratio to echo ({backend})",
                lambda echo, floor, predict: predict["rps"] / echo["rps"],
                "{:.2f}",
            ),
            *(
                (
                    f"worker CPU ms a request, {name} ({backend})",
                    lambda *parts, at=at: cpu_ms_per_request(parts[at], duration),
                    "{:.2f}",
                )
                for at, name in enumerate(PARTS)
            ),
            (f"`/predict` p50 ms ({backend})", lambda echo, floor, predict: predict["p50_ms"], "{:.1f}"),
            (f"`/predict` p99 ms ({backend})", lambda echo, floor, predict: predict["p99_ms"], "{:.1f}"),
            (f"the echo's p99 ms ({backend})", lambda echo, floor, predict: echo["p99_ms"], "{:.1f}"),
        ]
        for label, field, fmt in lines:
            print(table_row(results, label, field, fmt))
    print()
    for backend, results in runs.items():
        for connections in CONCURRENCY[1:]:
            print(why_predict(results, backend, connections, duration))
    print()
    for backend, results in runs.items():
        batch = next(row for row in results if row["name"] == "batch")
        memory = next(row for row in results if row["name"] == "memory")
        p99 = span([row["p99_ms"] for row in cells(results, "predict", 8)], "{:.1f}")
        batch_cpu = cpu_ms_per_request(batch, duration)
        unlogged = next(row for row in results if row["name"] == "unlogged")
        unlogged_cpu = cpu_ms_per_request(unlogged, duration)
        dropped = batch["rows_answered"] - batch["rows_logged"]
        stored = (
            f"{dropped:,} dropped by the full log buffers: the writers fell behind"
            if dropped > 0
            else "every answered row stored; requests in flight when wrk stopped count too"
        )
        print(
            f"- {backend}: batches of 1,000 at concurrency {batch['connections']}: "
            f"{batch['rows_per_s']:,.0f} rows/s answered (target {TARGET_ROWS_PER_S:,}), "
            f"{batch['logged_rows_per_s']:,.0f} rows/s logged ({batch['rows_logged']:,} rows stored for "
            f"{batch['rows_answered']:,} answered: {stored}), {batch_cpu:.0f} ms of worker CPU a batch "
            f"({2 * 1000 * 1000 / batch_cpu:,.0f} rows/s if both cores were the workers' alone; the "
            f"in-process table below splits a batch's cost by stage); the same batches with the log "
            f"write skipped (bench/unlogged_app.py): {unlogged['rows_per_s']:,.0f} rows/s, "
            f"{unlogged_cpu:.0f} ms of worker CPU a batch, so the log write takes "
            f"{batch_cpu - unlogged_cpu:.0f} of the {batch_cpu:.0f} ms; "
            f"p99 at c=8 {p99} ms (target under {TARGET_P99_MS:.0f}); "
            f"PSS of the API's master and 2 workers {memory['pss_mib']:.0f} MiB after the batches, "
            f"{memory['pss_mib_before_batches']:.0f} MiB before them "
            f"(target under {TARGET_PSS_MIB}; the echo's {memory['echo_pss_mib']:.0f} MiB)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk measurement")
    parser.add_argument("--rounds", type=int, default=2, help="times each /predict cell is measured")
    parser.add_argument(
        "--quick", action="store_true", help="3 s per measurement, one round, 10,000 entries only"
    )
    args = parser.parse_args()
    duration = 3 if args.quick else args.duration
    rounds = 1 if args.quick else args.rounds
    sizes = [10_000] if args.quick else [10_000, 100_000]
    print(f"Before: {load()}", flush=True)
    with RedisServer() as server:
        runs = {
            "SQLite": bench_predict(duration, rounds, None),
            "Redis": bench_predict(duration, rounds, server.url),
        }
        print(f"After /predict: {load()}\n", flush=True)
        print_predict(runs, duration)
        print(flush=True)
        bench_batch.print_table(bench_batch.run(["sqlite", "redis"], 10, server.url), 10)
        print(flush=True)
        rows = bench_admin.run(["sqlite", "redis"], sizes, 3 if args.quick else 5, server.url)
    print(f"\nAdmin pages, server time in-process (median of the runs; {load()}):\n")
    bench_admin.print_table(rows)


if __name__ == "__main__":
    main()
