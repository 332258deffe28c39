"""What reading a /predict body costs: orjson alone against the duplicate-key-aware parse, and
the record validation. Not a test: it prints figures (CPU time, best of several rounds).

    python bench/bench_request_parsing.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webapp import features  # noqa: E402
from webapp.api.schemas import load_patient  # noqa: E402
from webapp.web.json_keys import loads  # noqa: E402

RECORD = {name: 1 for name in features.FEATURES} | {"AGE": 70}


def cpu_us(fn, calls: int, rounds: int) -> tuple[float, float]:
    """Best and median CPU microseconds per call over `rounds` rounds."""
    times = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(calls):
            fn()
        times.append((time.process_time() - started) / calls * 1e6)
    times.sort()
    return times[0], times[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds
    one = json.dumps(RECORD).encode()
    batch = json.dumps([RECORD] * 1000).encode()
    colon_in_string = json.dumps({**RECORD, "visit": "10:30"}).encode()
    repeated = one[:-1] + b', "AGE": 80}'
    cases = [
        ("orjson.loads, one record", lambda: orjson.loads(one), 20000),
        ("json_keys.loads, one record", lambda: loads(one), 20000),
        ("orjson.loads, 1000 records", lambda: orjson.loads(batch), 50),
        ("json_keys.loads, 1000 records", lambda: loads(batch), 50),
        ("json_keys.loads, a colon in a string (exact path)", lambda: loads(colon_in_string), 5000),
        ("json_keys.loads, a repeated key (exact path)", lambda: loads(repeated), 5000),
        ("load_patient, one record", lambda: load_patient(RECORD), 2000),
        (
            "load_patient, one record with LUNG_CANCER",
            lambda: load_patient({**RECORD, "LUNG_CANCER": 1}),
            2000,
        ),
    ]
    for name, fn, calls in cases:
        best, median = cpu_us(fn, calls, rounds)
        print(f"{name:52s} best {best:8.2f} us   median {median:8.2f} us")


if __name__ == "__main__":
    main()
