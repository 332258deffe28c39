"""How long one flooding client takes to evict a day of normal traffic from the prediction log.

    python bench/flood_eviction.py [--store sqlite|redis|both] [--flood-seconds 120] [--day 1000]

Runs the API under Gunicorn as shipped (gunicorn.conf.py: 2 workers x 2 threads) with its log in
SQLite (`make run`) or in a redis-server started here (the Space), writes "a day of normal
traffic" from loopback (--day entries; the assumption: a public screening demo answers about a
thousand predictions a day, form and program calls together), then floods from ONE client
address (127.0.0.2, not exempt): threads sending single predictions at full speed and threads
sending CSV-sized batches (1,000 rows, the UI's upload cap and MAX_BATCH_SIZE), all on
keep-alive connections. It polls /api/logs for the day's entries until none is left.

- before: no rate limit for the client (its address exempt), LOG_MAX_ENTRIES=10000 and no age
  retention (LOG_MAX_AGE_DAYS=0): the configuration of issue 15.
- after: the shipped defaults (Settings: 50,000 entries, 30 days, 300 requests a minute and 5,000
  rows an hour per address).

When the flood cannot evict the day within --flood-seconds (the limits refuse it), the time is
computed, and says so: evicting the day needs LOG_MAX_ENTRIES accepted rows. The rows one address
gets accepted in an hour are the measured ones extrapolated at the rate still accepted over the
run's last minute, but no more than the hourly rows limit allows (once per worker when the limits
are counted in memory, once with Redis); the eviction takes capacity / that many hours.

With SQLite the limits are counted per Gunicorn worker in memory (no shared store), with Redis
once for all workers: the Space's configuration.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from limits import parse_many

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.helpers import patient  # noqa: E402
from tests.processes import free_port  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402
from webapp.settings import DEFAULTS  # noqa: E402

FLOODER = "127.0.0.2"
BATCH_ROWS = 1000
SINGLE_THREADS = 3
BATCH_THREADS = 1

SCENARIOS = {
    "before": {
        "LOG_MAX_ENTRIES": "10000",
        "LOG_MAX_AGE_DAYS": "0",
        "RATE_LIMIT_EXEMPT": f"127.0.0.1,::1,{FLOODER}",
    },
    "after": {},  # the shipped defaults
}


@dataclass
class Flood:
    """What the flooding client sent and what the API accepted, across its threads."""

    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted_rows: int = 0
    #: (monotonic time, rows) of each accepted request.
    accepted: list[tuple[float, int]] = field(default_factory=list)
    #: "single|batch <HTTP status, or the exception's name when no answer was read>" -> count.
    outcomes: collections.Counter = field(default_factory=collections.Counter)

    def count(self, outcome: int | str, rows: int) -> None:
        with self.lock:
            self.outcomes[f"{'single' if rows == 1 else 'batch'} {outcome}"] += 1
            if outcome == 200:
                self.accepted_rows += rows
                self.accepted.append((time.monotonic(), rows))

    def rows_since(self, moment: float) -> int:
        with self.lock:
            return sum(rows for at, rows in self.accepted if at >= moment)


def flood_thread(port: int, flood: Flood, rows: int) -> None:
    body = json.dumps(patient() if rows == 1 else [patient(AGE=30 + n % 60) for n in range(rows)])
    headers = {"Content-Type": "application/json", "X-Request-ID": "flood"}
    connection = None
    while not flood.stop.is_set():
        try:
            if connection is None:
                connection = http.client.HTTPConnection(
                    "127.0.0.1", port, timeout=30, source_address=(FLOODER, 0)
                )
            connection.request("POST", "/predict", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            flood.count(response.status, rows)
        except (OSError, http.client.HTTPException) as exc:
            # A 429 for a large body can be sent before the body is read; the server then closes
            # the connection and the client sees a reset: counted by name, then reconnects.
            flood.count(type(exc).__name__, rows)
            connection = None
            time.sleep(0.05)
    if connection is not None:
        connection.close()


def day_entries(session: requests.Session, url: str) -> int:
    answer = session.get(f"{url}/api/logs", params={"request_id": "day-", "limit": 1}, timeout=30)
    answer.raise_for_status()
    return answer.json()["total"]


def start_api(workdir: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    settings = {
        **os.environ,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_ACCESS_LOG": "",
        "LOG_DB_PATH": str(workdir / "log.sqlite3"),
        **env,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=settings,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/health/ready", timeout=1).raise_for_status()
            return server, url
        except requests.RequestException:
            time.sleep(0.2)
    os.killpg(server.pid, signal.SIGKILL)
    raise RuntimeError("the API did not start")


def run(scenario: str, store: str, day: int, flood_seconds: float, redis: RedisServer | None) -> dict:
    env = dict(SCENARIOS[scenario])
    if store == "redis":
        env.update(REDIS_URL=redis.url, REDIS_KEY_PREFIX=f"flood-{scenario}-{time.time_ns()}")
    capacity = int(env.get("LOG_MAX_ENTRIES", DEFAULTS.log_max_entries))
    with tempfile.TemporaryDirectory() as workdir:
        server, url = start_api(Path(workdir), env)
        try:
            with requests.Session() as session:
                # The day: batches of 100 from loopback (exempt), each with its own request id.
                for start in range(0, day, 100):
                    rows = [patient(AGE=20 + n % 70) for n in range(min(100, day - start))]
                    answer = session.post(
                        f"{url}/predict", json=rows, headers={"X-Request-ID": f"day-{start}"}, timeout=30
                    )
                    answer.raise_for_status()
                while day_entries(session, url) < day:
                    time.sleep(0.1)

                flood = Flood()
                port = int(url.rsplit(":", 1)[1])
                threads = [
                    threading.Thread(target=flood_thread, args=(port, flood, rows), daemon=True)
                    for rows in [1] * SINGLE_THREADS + [BATCH_ROWS] * BATCH_THREADS
                ]
                started = time.monotonic()
                for thread in threads:
                    thread.start()
                evicted_after = None
                while time.monotonic() - started < flood_seconds:
                    time.sleep(0.25)
                    if day_entries(session, url) == 0:
                        evicted_after = time.monotonic() - started
                        break
                elapsed = time.monotonic() - started
                flood.stop.set()
                for thread in threads:
                    thread.join(35)
                left = day_entries(session, url)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
    tail = min(60.0, elapsed / 2)
    tail_rows = flood.rows_since(started + elapsed - tail)
    result = {
        "scenario": scenario,
        "store": store,
        "capacity": capacity,
        "day": day,
        "flood_s": round(elapsed, 1),
        "accepted_rows": flood.accepted_rows,
        "accepted_rows_per_s": round(flood.accepted_rows / elapsed, 1),
        "tail_s": round(tail, 1),
        "tail_rows_per_s": round(tail_rows / tail, 2),
        "outcomes": {str(key): value for key, value in sorted(flood.outcomes.items(), key=str)},
        "day_left": left,
        "evicted_after_s": None if evicted_after is None else round(evicted_after, 1),
    }
    if evicted_after is None and flood.accepted_rows:
        extrapolated = flood.accepted_rows + tail_rows / tail * max(0.0, 3600 - elapsed)
        copies = 1 if store == "redis" else int(os.environ.get("WEB_CONCURRENCY", "2"))
        allowed = hourly_rows_limit(env) * copies
        result["rows_per_hour"] = round(min(extrapolated, allowed))
        result["rows_per_hour_by"] = "measured rate" if extrapolated <= allowed else f"rows limit x {copies}"
        result["computed_eviction_h"] = round(capacity / result["rows_per_hour"], 1)
    return result


def hourly_rows_limit(env: dict[str, str]) -> float:
    """Rows an hour PREDICT_ROWS_RATE_LIMIT allows one address (the tightest of its limits)."""
    text = env.get("PREDICT_ROWS_RATE_LIMIT", DEFAULTS.predict_rows_rate_limit)
    return min(item.amount * 3600 / item.get_expiry() for item in parse_many(text))


def describe(result: dict) -> str:
    head = (
        f"{result['scenario']:6} {result['store']:6} capacity {result['capacity']:>6}: "
        f"{result['accepted_rows']} rows accepted in {result['flood_s']} s "
        f"({result['accepted_rows_per_s']} rows/s; {result['tail_rows_per_s']} rows/s in the last "
        f"{result['tail_s']} s), answers {result['outcomes']}; "
    )
    if result["evicted_after_s"] is not None:
        return head + f"the day's {result['day']} entries evicted after {result['evicted_after_s']} s"
    if result.get("computed_eviction_h") is not None:
        return head + (
            f"{result['day_left']} of the day's {result['day']} entries still there; evicting them "
            f"takes {result['computed_eviction_h']} h from one address (computed: "
            f"{result['rows_per_hour']} rows an hour, by the {result['rows_per_hour_by']})"
        )
    return head + f"{result['day_left']} of the day's {result['day']} entries still there"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["sqlite", "redis", "both"], default="both")
    parser.add_argument("--day", type=int, default=1000, help="entries of a normal day (default 1000)")
    parser.add_argument("--flood-seconds", type=float, default=120.0)
    args = parser.parse_args()
    stores = ["sqlite", "redis"] if args.store == "both" else [args.store]
    with RedisServer() if "redis" in stores else _nothing() as redis:
        for store in stores:
            for scenario in SCENARIOS:
                result = run(scenario, store, args.day, args.flood_seconds, redis)
                print(describe(result), flush=True)
                print(json.dumps(result), flush=True)


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc_info):
        return None


if __name__ == "__main__":
    main()
