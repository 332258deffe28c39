"""CPU time of the SQLite log writer for one batch of 1,000 real entries, split by stage.

Not a test: it prints figures. A batch of sampled patients is posted once through Flask's test
client and the entries the predict view records are kept; the log is filled to its capacity,
then each round hands the same entries (fresh copies) to ``store.append`` as the writer does (two
appends of 500), and times apart packing their wording (``Phrases.pack``) and building their
SQLite rows (or, where the checkout keeps a batch's bodies in a block: cutting the runs, encoding
the blocks and making their rows), and ``record()`` of the 1,000 entries. Medians, lowest and
highest of the rounds, in CPU ms of the measuring thread.

``--code PATH`` imports the app from another checkout (e.g. main), so that two versions can be
run alternately on a shared machine. ``--against PATH`` loads that checkout's phrases.py and
sqlite.py beside this one's and alternates packing and rows round by round in this process (the
steadier comparison: the same entries, store and moment), checking that both give the same bodies:

    python bench/bench_log_write.py [--rounds 30] [--capacity 5000] [--code PATH] [--against PATH]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def captured_batch(app, body: str) -> list[dict]:
    """The entries one batch's request records, as the view gives them."""
    log = app.extensions["prediction_log"]
    captured: list[list[dict]] = []
    record = log.record
    log.record = lambda entries, **options: (captured.append(list(entries)), record(entries, **options))
    try:
        response = app.test_client().post("/predict", data=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
    finally:
        log.record = record
    log.flush(30)
    return captured[-1]


def rows_of(sqlite_module, entries: list[dict], packed: list) -> list:
    if hasattr(sqlite_module, "_rows"):
        return sqlite_module._rows(entries, packed)
    return [sqlite_module._row_values(entry, body) for entry, body in zip(entries, packed, strict=True)]


def load_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def worker_gc_thresholds() -> tuple[int, ...]:
    """The garbage-collector thresholds of the measured checkout's workers (Python's own before
    they were set)."""
    try:
        from webapp.gunicorn_worker import GC_THRESHOLDS
    except ImportError:
        return gc.get_threshold()
    return GC_THRESHOLDS


def measure(rounds: int, capacity: int, against: Path | None = None) -> dict[str, list[float]]:
    from bench.bench_predict import batch_body
    from webapp.api import create_app
    from webapp.logstore import sqlite as sqlite_module
    from webapp.logstore.writer import PredictionLog

    body = batch_body()
    with tempfile.TemporaryDirectory(prefix="bench-log-write-") as workdir:
        app = create_app(
            {
                "LOG_DB_PATH": f"{workdir}/log.sqlite3",
                "LOG_LEVEL": "WARNING",
                "LOG_MAX_ENTRIES": capacity,
                "REDIS_URL": None,
            }
        )
        entries = captured_batch(app, body)
        log = app.extensions["prediction_log"]
        store = log.store
        for _ in range(capacity // len(entries) + 2):
            store.append([dict(entry) for entry in entries])
        phrases = store._phrasebook()
        idle = PredictionLog(store, buffer_size=len(entries) * 2)
        idle._thread = object()  # stands for its writer thread, so that none starts: record() alone
        # As Gunicorn's master does before forking, and the thresholds the workers inherit.
        gc.freeze()
        thresholds = gc.get_threshold()
        gc.set_threshold(*worker_gc_thresholds())
        if against is not None:
            try:
                return compare(store, entries, sqlite_module, against, rounds)
            finally:
                gc.unfreeze()
                gc.set_threshold(*thresholds)
                log.close()
        in_blocks = hasattr(sqlite_module, "_block_rows") or hasattr(sqlite_module, "sqlite_runs")
        stages = ("runs", "encode", "block rows") if in_blocks else ("pack", "rows")
        times: dict[str, list[float]] = {"append": [], **{stage: [] for stage in stages}, "record": []}
        half = len(entries) // 2
        for _ in range(rounds):
            batch = [dict(entry) for entry in entries]
            start = time.thread_time()
            store.append(batch[:half])
            store.append(batch[half:])
            times["append"].append(time.thread_time() - start)
            if in_blocks:
                block_stages(store, sqlite_module, (batch[:half], batch[half:]), times)
            else:
                start = time.thread_time()
                packed = phrases.pack(batch, store._store_phrases)
                times["pack"].append(time.thread_time() - start)
                start = time.thread_time()
                rows_of(sqlite_module, batch, packed)
                times["rows"].append(time.thread_time() - start)
            start = time.thread_time()
            idle.record(batch)
            times["record"].append(time.thread_time() - start)
            idle._buffer.clear()
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        log.close()
    return times


def block_stages(store, sqlite_module, halves, times: dict[str, list[float]]) -> None:
    """The Python work of appending a batch's halves as blocks: cutting the runs, encoding each
    block (blocks.encode) and making its rows (_block_rows; since log_run, its one row's columns:
    sqlite_runs.columns_of), summed over the halves."""
    from webapp.logstore import blocks

    spent = dict.fromkeys(("runs", "encode", "block rows"), 0.0)
    for half in halves:
        start = time.thread_time()
        blocks.runs(half)
        cut = time.thread_time()
        body, drift = blocks.encode(half, store._phrasebook(), store._store_phrases)
        encoded = time.thread_time()
        if hasattr(sqlite_module, "_block_rows"):
            sqlite_module._block_rows(half, drift)
        else:
            sqlite_module.sqlite_runs.columns_of(half, drift)
        spent["runs"] += cut - start
        spent["encode"] += encoded - cut
        spent["block rows"] += time.thread_time() - encoded
    for stage, seconds in spent.items():
        times[stage].append(seconds)


def compare(store, entries: list[dict], sqlite_module, against: Path, rounds: int) -> dict[str, list[float]]:
    """Pack and rows of each batch by this checkout's code and by `against`'s, alternately."""
    other_phrases = load_module("against_phrases", against / "webapp" / "logstore" / "phrases.py")
    other_sqlite = load_module("against_sqlite", against / "webapp" / "logstore" / "sqlite.py")
    versions = {
        "this": (store._phrasebook(), sqlite_module),
        "against": (other_phrases.Phrases(), other_sqlite),
    }
    half = len(entries) // 2
    times: dict[str, list[float]] = {f"{name} {stage}": [] for name in versions for stage in ("pack", "rows")}
    for round_number in range(rounds):
        bodies = {}
        for name in sorted(versions, reverse=bool(round_number % 2)):
            phrases, module = versions[name]
            batch = [dict(entry) for entry in entries]
            store.append(batch[:half])  # SQLite's work between, as in the writer: caches cold
            start = time.thread_time()
            packed = [phrases.pack(part, store._store_phrases) for part in (batch[:half], batch[half:])]
            packed_at = time.thread_time()
            for part, bodies_of_part in zip((batch[:half], batch[half:]), packed, strict=True):
                rows_of(module, part, bodies_of_part)
            times[f"{name} pack"].append(packed_at - start)
            times[f"{name} rows"].append(time.thread_time() - packed_at)
            bodies[name] = packed
        if bodies["this"] != bodies["against"]:
            raise AssertionError("the two versions packed different bodies")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument(
        "--capacity", type=int, default=5000, help="LOG_MAX_ENTRIES: the log is filled to it first"
    )
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose webapp is measured")
    parser.add_argument(
        "--against", type=Path, help="a checkout whose packing and rows are alternated with these"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))  # bench.bench_predict, from this checkout
    sys.path.insert(0, str(args.code.resolve()))
    times = measure(args.rounds, args.capacity, args.against.resolve() if args.against else None)
    figures = {
        stage: [
            round(1000 * statistics.median(values), 2),
            round(1000 * min(values), 2),
            round(1000 * max(values), 2),
        ]
        for stage, values in times.items()
    }
    print(
        f"SQLite log write of 1,000 entries ({args.code}), CPU ms: median, lowest, highest of {args.rounds}"
    )
    labels = {
        "append": "store.append, 2 x 500",
        "pack": "  of which Phrases.pack",
        "rows": "  of which the SQLite rows",
        "runs": "  of which blocks.runs",
        "encode": "  of which blocks.encode",
        "block rows": "  of which the block's rows",
        "record": "record() of 1,000 entries",
    }
    if args.against:
        print(f"this checkout against {args.against}, packing and rows alternated round by round")
        labels = {stage: stage for stage in figures}
    for stage, (median, low, high) in figures.items():
        print(f"{labels[stage]:<28}{median:>8.2f}{low:>8.2f}{high:>8.2f}")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
