"""POST /predict of two checkouts served at once, wrk bursts alternated between them.

Not a test: it prints figures. On a shared machine the load moves between two runs of
bench_predict.py by more than a small change does; here the API of this checkout and of another
(`--against`, e.g. /work/main) run side by side under their own gunicorn.conf.py, each logging to
the same Redis under its own prefix (or to its own SQLite file without `--redis-url`), and short
wrk bursts alternate between them, so each pair of bursts sees about the same load. Printed a
burst and as medians: requests a second, the workers' CPU a request, and the Redis server's CPU
a request (read from INFO around the burst, the log writers' last batch included).

    python bench/bench_predict_ab.py --against /work/main [--redis-url URL] [--rounds 10]
                                     [--duration 4] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_predict import LUA, cpu_seconds, run_wrk, worker_pids  # noqa: E402
from tests.helpers import SYMPTOMATIC_OLDER_SMOKER  # noqa: E402
from tests.processes import free_port  # noqa: E402

#: Entries the logs keep: small, so that every write also trims, as once a deployment has run.
CAPACITY = 5000


def start(root: Path, port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    """The API of the checkout at `root` under its own gunicorn.conf.py, once it answers."""
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
            cwd=root,
            env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"the API of {root} did not start: see {log}")


def redis_cpu(client) -> float:
    if client is None:
        return 0.0
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--against", required=True, help="the other checkout (its own wsgi.py and webapp)")
    parser.add_argument("--redis-url", help="log to this Redis (keep it otherwise idle: its CPU is counted)")
    parser.add_argument("--rounds", type=int, default=10, help="bursts a checkout")
    parser.add_argument("--duration", type=int, default=4, help="seconds a burst")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-ab-"))
    script = workdir / "post.lua"
    script.write_text(LUA % json.dumps(SYMPTOMATIC_OLDER_SMOKER))
    client = None
    if args.redis_url:
        import redis

        client = redis.Redis.from_url(args.redis_url, socket_timeout=10)
    roots = {"against": Path(args.against).resolve(), "this": ROOT}
    servers, urls = {}, {}
    results: dict[str, list[dict]] = {name: [] for name in roots}
    try:
        for name, root in roots.items():
            env = {**os.environ, "LOG_LEVEL": "WARNING", "LOG_MAX_ENTRIES": str(CAPACITY)}
            env["LOG_DB_PATH"] = str(workdir / f"{name}.sqlite3")
            env.pop("REDIS_URL", None)
            if args.redis_url:
                env.update(REDIS_URL=args.redis_url, REDIS_KEY_PREFIX=f"bench-ab-{name}-{os.getpid()}")
            port = free_port()
            servers[name] = start(root, port, env, workdir / f"{name}.log")
            urls[name] = f"http://127.0.0.1:{port}/predict"
            run_wrk(urls[name], script, args.concurrency, 3)  # warm-up; fills the log to its capacity
        for round_ in range(args.rounds):
            for name in list(roots) if round_ % 2 == 0 else list(roots)[::-1]:
                workers = worker_pids(servers[name].pid)
                before, server_before = [cpu_seconds(pid) for pid in workers], redis_cpu(client)
                burst = run_wrk(urls[name], script, args.concurrency, args.duration)
                time.sleep(0.2)  # the log writers' last batch
                worker_cpu = sum(cpu_seconds(pid) - cpu for pid, cpu in zip(workers, before, strict=True))
                requests = max(burst["requests"], 1)
                results[name].append(
                    {
                        "rps": burst["rps"],
                        "worker_ms": 1000 * worker_cpu / requests,
                        "redis_us": 1e6 * (redis_cpu(client) - server_before) / requests,
                    }
                )
    finally:
        for process in servers.values():
            process.send_signal(signal.SIGTERM)
        for process in servers.values():
            process.wait(timeout=30)
        if client is not None:
            client.close()
    print(
        f"/predict at c={args.concurrency}, {args.rounds} bursts of {args.duration} s a checkout, "
        f"alternated; load average {os.getloadavg()[0]:.1f} at the end"
    )
    for name, rows in results.items():
        print(
            f"{name:<8} req/s {statistics.median(row['rps'] for row in rows):7.0f}   worker CPU ms a request "
            f"{statistics.median(row['worker_ms'] for row in rows):6.3f}   Redis CPU us a request "
            f"{statistics.median(row['redis_us'] for row in rows):6.1f}   (medians)"
        )
    pairs = list(zip(results["against"], results["this"], strict=True))
    print(
        "this against the other, median of the paired bursts: req/s "
        f"x{statistics.median(this['rps'] / other['rps'] for other, this in pairs):.2f}, worker CPU "
        f"{statistics.median(this['worker_ms'] - other['worker_ms'] for other, this in pairs):+.3f} ms, Redis CPU "
        f"{statistics.median(this['redis_us'] - other['redis_us'] for other, this in pairs):+.1f} us a request"
    )


if __name__ == "__main__":
    main()
