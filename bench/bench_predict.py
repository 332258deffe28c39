"""Benchmark POST /predict under Gunicorn against a trivial JSON echo, with wrk.

Not a test: it prints figures. The API runs with its own gunicorn.conf.py settings, access log
on; the echo (bench/echo_app.py: a bare Flask app parsing the same body) under Gunicorn's own
defaults with gthread, 2 workers x 4 threads, the fastest configuration found for it
(bench/echo_gunicorn.conf.py: no access log), in the same run. A third server, the API's floor
(bench/floor_app.py: the whole API app around a view that only echoes, under the API's own
settings), shows what any request to this API costs before a prediction's own work; a fourth
(bench/unlogged_app.py: the API with its log writes skipped) takes the same batches as the API
after it, so a batch's cost splits into the request's and the log write's. wrk keeps
its connections alive. Per-worker CPU time shows whether both Gunicorn workers did the work.

Every cell is measured --rounds times (2 by default, as the issue's first measure was), one
round after the other, so each figure comes as the range the rounds gave.

    python bench/bench_predict.py [--duration 10] [--rounds 2] [--concurrency 1 8 32] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import SYMPTOMATIC_OLDER_SMOKER  # noqa: E402
from tests.processes import free_port  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BATCH_SIZE = 1000
#: Concurrent batch clients. Each worker listens on its own SO_REUSEPORT socket and the kernel
#: hashes each connection to one of them, so with 4 connections one worker got all of them in
#: about one run in eight (its two threads busy, the other worker idle: half the rows/s) and 3 of
#: 4 in half the runs. With 16 a worker gets fewer than 3 (less than one a thread and the writer)
#: in about one run in 250; each worker still serves two batches at a time.
BATCH_CONCURRENCY = 16
LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[%s]]
"""


API_CONFIG = ROOT / "gunicorn.conf.py"
#: The echo's Gunicorn settings: the fastest found for it (issue 16), not the API's own.
ECHO_CONFIG = ROOT / "bench" / "echo_gunicorn.conf.py"


def start_gunicorn(
    app: str, port: int, env: dict[str, str], log_path: Path, config: Path = API_CONFIG
) -> subprocess.Popen:
    env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    command = [sys.executable, "-m", "gunicorn", "--config", str(config), app]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90  # a loaded machine can take a while to import and fork
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            return process
        except urllib.error.HTTPError:
            return process  # answering, even if 404/405
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{app} did not start; see {log_path}")


def worker_pids(master: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            pids.append(int(stat.parent.name))
    return sorted(pids)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def to_ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, script: Path, connections: int, duration: int) -> dict[str, float]:
    threads = min(connections, 2)
    output = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    requests_per_s = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.M))
    if "99" not in latency:
        raise RuntimeError(f"wrk gave no latency distribution:\n{output}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": requests_per_s,
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "p50_ms": to_ms(latency["50"]),
        "p99_ms": to_ms(latency["99"]),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def pss_mib(master: int) -> float:
    """Proportional set size of the master and its workers: shared pages counted once."""
    total_kib = 0
    for pid in (master, *worker_pids(master)):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                total_kib += int(line.split()[1])
    return total_kib / 1024


def batch_body(size: int = BATCH_SIZE) -> str:
    """A batch of `size` sampled patients, as a client sends it."""
    from webapp.monitoring.reference import load_reference
    from webapp.tools.population import PatientSampler

    records = PatientSampler(load_reference(ROOT / "model"), seed=16).sample(size)
    return json.dumps({"records": records})


def stored_entries(env: dict[str, str]) -> int:
    """How many entries the log has stored since it was created: its id counter."""
    if env.get("REDIS_URL"):
        import redis

        client = redis.Redis.from_url(env["REDIS_URL"], socket_timeout=5)
        try:
            return int(client.get(f"{env['REDIS_KEY_PREFIX']}:log:seq") or 0)
        finally:
            client.close()
    import sqlite3

    connection = sqlite3.connect(env["LOG_DB_PATH"], timeout=30)
    try:
        row = connection.execute("SELECT seq FROM sqlite_sequence WHERE name = 'prediction_log'").fetchone()
    finally:
        connection.close()
    return row[0] if row else 0


def drained(env: dict[str, str], timeout: float = 60.0) -> int:
    """stored_entries once the workers' buffers are written: when it has not moved for 2 s."""
    deadline = time.monotonic() + timeout
    last, steady_since = stored_entries(env), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - steady_since < 2.0:
        time.sleep(0.25)
        now = stored_entries(env)
        if now != last:
            last, steady_since = now, time.monotonic()
    return last


def measure(name: str, url: str, script: Path, master: int, connections: int, duration: int) -> dict:
    workers = worker_pids(master)
    before = [cpu_seconds(pid) for pid in workers]
    result = run_wrk(url, script, connections, duration)
    result["worker_cpu_s"] = [round(cpu_seconds(pid) - b, 2) for pid, b in zip(workers, before, strict=True)]
    # The steadier figure on a shared machine: what a request costs the workers, whatever else runs.
    result["cpu_ms_per_request"] = round(1000 * sum(result["worker_cpu_s"]) / max(result["requests"], 1), 3)
    result["name"] = name
    result["connections"] = connections
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=2, help="times each cell is measured")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--redis-url", help="log to this Redis instead of the embedded SQLite file")
    parser.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help="switch Gunicorn's access log off (a deployment keeps it on)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is required: apt-get install wrk")

    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    env = {**os.environ, "LOG_DB_PATH": str(workdir / "log.sqlite3"), "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
        env["REDIS_KEY_PREFIX"] = f"bench-{os.getpid()}"
    if not args.access_log:
        env["GUNICORN_ACCESS_LOG"] = ""
    script = workdir / "post.lua"
    script.write_text(LUA % json.dumps(SYMPTOMATIC_OLDER_SMOKER))
    batch_script = workdir / "batch.lua"
    batch_script.write_text(LUA % batch_body())

    ports = {"predict": free_port(), "echo": free_port(), "floor": free_port(), "unlogged": free_port()}
    servers = {
        "predict": start_gunicorn("wsgi:app", ports["predict"], env, workdir / "predict.log"),
        "echo": start_gunicorn("bench.echo_app:app", ports["echo"], env, workdir / "echo.log", ECHO_CONFIG),
        "floor": start_gunicorn("bench.floor_app:app", ports["floor"], env, workdir / "floor.log"),
        "unlogged": start_gunicorn(
            "bench.unlogged_app:app", ports["unlogged"], env, workdir / "unlogged.log"
        ),
    }
    results = []
    try:
        for round_number in range(1, args.rounds + 1):
            for connections in args.concurrency:
                for name, path in (("echo", "/echo"), ("floor", "/predict"), ("predict", "/predict")):
                    url = f"http://127.0.0.1:{ports[name]}{path}"
                    run_wrk(url, script, connections, 1)  # warm-up
                    row = measure(name, url, script, servers[name].pid, connections, args.duration)
                    results.append({**row, "round": round_number})
        # Before the batches: a batch of 1,000 leaves each worker's heap some 30 MiB larger.
        pss_single = pss_mib(servers["predict"].pid)
        url = f"http://127.0.0.1:{ports['predict']}/predict"
        run_wrk(url, batch_script, BATCH_CONCURRENCY, 1)
        stored_before = drained(env)
        batch = measure("batch", url, batch_script, servers["predict"].pid, BATCH_CONCURRENCY, args.duration)
        batch["rows_per_s"] = batch["rps"] * BATCH_SIZE
        # Answered and logged, counted apart: a log that drops entries shows here.
        batch["rows_logged"] = drained(env) - stored_before
        batch["rows_answered"] = batch["requests"] * BATCH_SIZE
        batch["logged_rows_per_s"] = batch["rows_logged"] / args.duration
        results.append(batch)
        # The same batches with the log write skipped (bench/unlogged_app.py): the request's share.
        url = f"http://127.0.0.1:{ports['unlogged']}/predict"
        run_wrk(url, batch_script, BATCH_CONCURRENCY, 1)
        unlogged = measure(
            "unlogged", url, batch_script, servers["unlogged"].pid, BATCH_CONCURRENCY, args.duration
        )
        unlogged["rows_per_s"] = unlogged["rps"] * BATCH_SIZE
        results.append(unlogged)
        results.append(
            {
                "name": "memory",
                "pss_mib": round(pss_mib(servers["predict"].pid), 1),
                "pss_mib_before_batches": round(pss_single, 1),
                "echo_pss_mib": round(pss_mib(servers["echo"].pid), 1),
            }
        )
    finally:
        for process in servers.values():
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)

    print(
        f"{'endpoint':<9}{'round':>6}{'conc':>5}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}"
        f"{'CPU ms/req':>12}  worker CPU s"
    )
    for row in results:
        if row["name"] == "memory":
            continue
        print(
            f"{row['name']:<9}{row.get('round', ''):>6}{row['connections']:>5}{row['rps']:>10.0f}"
            f"{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}{row['non_2xx']:>9}{row['cpu_ms_per_request']:>12.2f}"
            f"  {row['worker_cpu_s']}"
        )
    print("\npredict / echo throughput (and echo / predict worker CPU a request; echo / floor), by round:")
    for round_number in range(1, args.rounds + 1):
        for connections in args.concurrency:
            echo, floor, predict = (
                next(
                    r
                    for r in results
                    if r["name"] == n and r["connections"] == connections and r.get("round") == round_number
                )
                for n in ("echo", "floor", "predict")
            )
            cpu_ratio = echo["cpu_ms_per_request"] / max(predict["cpu_ms_per_request"], 1e-9)
            floor_ratio = echo["cpu_ms_per_request"] / max(floor["cpu_ms_per_request"], 1e-9)
            print(
                f"  round {round_number}, concurrency {connections:>3}: {predict['rps'] / echo['rps']:.2f}"
                f" ({cpu_ratio:.2f}; {floor_ratio:.2f})"
            )
    batch = next(r for r in results if r["name"] == "batch")
    memory = next(r for r in results if r["name"] == "memory")
    dropped = batch["rows_answered"] - batch["rows_logged"]
    print(
        f"\nbatches of {BATCH_SIZE} at concurrency {BATCH_CONCURRENCY}: {batch['rows_per_s']:.0f} rows/s answered, "
        f"{batch['logged_rows_per_s']:.0f} rows/s logged ({batch['rows_logged']:,} rows stored for "
        f"{batch['rows_answered']:,} answered"
        + (
            f"; {dropped:,} dropped by full log buffers"
            if dropped > 0
            else "; requests in flight at the end count too"
        )
        + f"), {batch['cpu_ms_per_request']:.1f} ms of worker CPU a batch"
    )
    unlogged = next(r for r in results if r["name"] == "unlogged")
    print(
        f"the same batches with the log write skipped (bench/unlogged_app.py): {unlogged['rows_per_s']:.0f} "
        f"rows/s, {unlogged['cpu_ms_per_request']:.1f} ms of worker CPU a batch"
    )
    print(
        f"PSS, master + workers: API {memory['pss_mib']:.0f} MiB after the batches "
        f"({memory['pss_mib_before_batches']:.0f} MiB before them), echo {memory['echo_pss_mib']:.0f} MiB"
    )
    if args.json:
        print(json.dumps(results, indent=2))
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
