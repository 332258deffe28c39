"""CPU time of the Redis log writer's `store.append`, an entry: the worker's (the client side)
and the Redis server's, for the batch sizes the writer makes.

Not a test: it prints figures. The entries are real: single predictions posted through Flask's
test client (sampled patients, a quarter in French), captured as the log writer is given them;
`--from-batches N` takes them from batch requests of N records instead. The log is first filled
to `--capacity` so that every append also trims, as in a deployment that has run a while. The
Redis server is started here (or `--redis-url`) and its CPU read from INFO around blocks of
appends. `--against FILE` also measures another version of `webapp/logstore/redis.py` (e.g.
/work/main's), loaded beside this one in the same process (it must work with this checkout's
base.py and phrases.py, and a version split like this one's takes this checkout's redis_scripts.py,
redis_records.py and redis_reads.py: only its redis.py differs): their appends alternate one by
one, and their blocks, so both see the same load on a shared machine, and the median of the
paired differences is printed.

    python bench/bench_redis_append.py [--against /work/main/webapp/logstore/redis.py]
                                       [--rounds 10] [--batch 40 500] [--capacity 5000]
                                       [--from-batches 500]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from tests.processes import free_port  # noqa: E402
from webapp.logstore import redis as this_module  # noqa: E402

#: Entries captured: more than a block's largest batch, so batches differ.
ENTRIES = 1200
CAPACITY = 5000
#: Entries appended a block (per version and batch size), in batches of the size measured.
BLOCK_ENTRIES = 2000


def capture_entries(count: int, batch: int = 1) -> list[dict]:
    """`count` log entries of predictions, as the API hands them to the log writer: of single
    records, or of batches of `batch` records (whose rows share a timestamp and request id)."""
    from bench.bench_predict import batch_body
    from webapp.api import create_app

    records = json.loads(batch_body(count))["records"]
    captured: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-append-") as workdir:
        app = create_app({"LOG_DB_PATH": f"{workdir}/log.sqlite3", "REDIS_URL": None, "LOG_LEVEL": "WARNING"})
        log = app.extensions["prediction_log"]
        log.record = lambda entries, **_options: captured.extend(dict(entry) for entry in entries)
        client = app.test_client()
        for index in range(0, count, batch):
            language = "fr" if index // batch % 4 == 3 else "en"
            body = records[index] if batch == 1 else {"records": records[index : index + batch]}
            response = client.post("/predict", json=body, headers={"Accept-Language": language})
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
        log.close()
    return captured


def load_module(path: str):
    """Another version of webapp/logstore/redis.py, as its own module."""
    spec = importlib.util.spec_from_file_location("bench_redis_against", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Side:
    """One version's store, with the next entries it appends."""

    def __init__(self, name: str, module, url: str, capacity: int, entries: list[dict]) -> None:
        self.name = name
        self.store = module.RedisLogStore(
            url, prefix=f"bench-append-{name}-{os.getpid()}", max_entries=capacity
        )
        self.entries = entries
        self.position = 0
        self.client_us: dict[int, list[float]] = {}
        self.server_us: dict[int, list[float]] = {}

    def batch(self, size: int) -> list[dict]:
        # Copies, as the writer's buffer holds (PredictionLog.record)
        chosen = [dict(self.entries[(self.position + i) % len(self.entries)]) for i in range(size)]
        self.position += size
        return chosen

    def append(self, entries: list[dict]) -> None:
        """One append, and its thread's CPU an entry."""
        start = time.thread_time()
        self.store.append(entries)
        self.client_us.setdefault(len(entries), []).append((time.thread_time() - start) * 1e6 / len(entries))

    def block(self, size: int, server: redis.Redis) -> None:
        """BLOCK_ENTRIES entries in appends of `size`, and the Redis server's CPU an entry."""
        batches = [self.batch(size) for _ in range(max(1, BLOCK_ENTRIES // size))]
        before = server_cpu(server)
        for entries in batches:
            self.store.append(entries)
        spent = server_cpu(server) - before
        self.server_us.setdefault(size, []).append(spent * 1e6 / (size * len(batches)))


def server_cpu(server: redis.Redis) -> float:
    info = server.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def start_redis() -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    client.close()
    return process, f"redis://127.0.0.1:{port}/0"


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.1f} [{min(values):.1f}-{max(values):.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--against", help="another version of webapp/logstore/redis.py to measure alternately"
    )
    parser.add_argument("--rounds", type=int, default=10, help="blocks a version and batch size")
    parser.add_argument("--batch", type=int, nargs="+", default=[40, 500], help="entries an append")
    parser.add_argument("--capacity", type=int, default=CAPACITY, help="LOG_MAX_ENTRIES: filled first")
    parser.add_argument(
        "--from-batches", type=int, default=1, metavar="N", help="entries of batch requests of N records"
    )
    parser.add_argument("--redis-url", help="a Redis to use (its CPU is counted: keep it otherwise idle)")
    args = parser.parse_args()

    entries = capture_entries(ENTRIES, args.from_batches)
    process, url = (None, args.redis_url) if args.redis_url else start_redis()
    server = redis.Redis.from_url(url, socket_timeout=10)
    sides = [Side("this", this_module, url, args.capacity, entries)]
    if args.against:
        sides.insert(0, Side("against", load_module(args.against), url, args.capacity, entries))
    load = [os.getloadavg()[0]]
    try:
        for side in sides:  # every phrase learnt, the log at its capacity
            for _ in range(args.capacity // 500 + 2):
                side.store.append(side.batch(500))
        for round_ in range(args.rounds):
            for size in args.batch:
                # The server's CPU, which INFO gives for whole blocks only, a block a version...
                for side in sides if round_ % 2 == 0 else sides[::-1]:
                    side.block(size, server)
                # ...and the client's an append, the versions in turn: pairs under the same load.
                for index in range(max(1, BLOCK_ENTRIES // size)):
                    for side in sides if index % 2 == 0 else sides[::-1]:
                        side.append(side.batch(size))
        load.append(os.getloadavg()[0])
    finally:
        for side in sides:
            side.store.clear()
            server.delete(*side.store.phrase_keys)
            side.store.close()
        server.close()
        if process is not None:
            process.terminate()
            process.wait()
    print(
        f"Redis log append at capacity {args.capacity:,}, CPU us an entry: client = the appending "
        f"thread (median of every append [range]), server = Redis (median of {args.rounds} blocks "
        f"[range]); load average {load[0]:.1f} before, {load[-1]:.1f} after"
    )
    print(f"{'version':<9}{'batch':>6}  {'client':<22}{'Redis server':<22}")
    for size in args.batch:
        for side in sides:
            print(
                f"{side.name:<9}{size:>6}  {spread(side.client_us[size]):<22}{spread(side.server_us[size]):<22}"
            )
    if len(sides) == 2:
        print("this less against: median of the paired appends (client) and of the paired blocks (server)")
        for size in args.batch:
            pairs = zip(sides[0].client_us[size], sides[1].client_us[size], strict=True)
            client = [this - against for against, this in pairs]
            pairs = zip(sides[0].server_us[size], sides[1].server_us[size], strict=True)
            server = [this - against for against, this in pairs]
            print(
                f"{'':<9}{size:>6}  client {statistics.median(client):+.1f} us an entry (lower in "
                f"{sum(value < 0 for value in client)} of {len(client)}), server "
                f"{statistics.median(server):+.1f} (lower in {sum(value < 0 for value in server)} of {len(server)})"
            )


if __name__ == "__main__":
    main()
