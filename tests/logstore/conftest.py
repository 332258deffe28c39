"""Fixtures for the log store tests: every store test runs against SQLite and a real Redis."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.redis_server import RedisServer, redis_server  # noqa: F401  (fixture)
from webapp.features import FEATURES
from webapp.logstore import LogStore, RedisLogStore, SQLiteLogStore


@pytest.fixture
def make_entry() -> Callable[..., dict]:
    """Build a realistic INFO entry; keyword arguments override fields."""
    counter = itertools.count(1)

    def build(**overrides) -> dict:
        number = next(counter)
        entry = {
            "timestamp": f"2026-11-26T11:{number // 60 % 60:02d}:{number % 60:02d}.000Z",
            "level": "INFO",
            "endpoint": "/predict",
            "request_id": f"req-{number:05d}",
            "inputs": {name: 1 for name in FEATURES},
            "prediction": 1,
            "probability": 0.75,
            "risk_level": "high",
            "factors": [{"feature": "SMOKING", "contribution": 0.2}],
            "model_version": "test",
            "latency_ms": 1.5,
            "errors": None,
            "message": "prediction made",
        }
        entry.update(overrides)
        return entry

    return build


@pytest.fixture
def sqlite_path(tmp_path) -> str:
    return str(tmp_path / "logs" / "predictions.sqlite3")


@pytest.fixture
def redis_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["sqlite", "redis"])
def store_factory(request, sqlite_path, redis_prefix) -> Iterator[Callable[..., LogStore]]:
    """Make stores of one kind that share data (same file, or same server and prefix)."""
    made: list[LogStore] = []

    def make(max_entries: int = 10000) -> LogStore:
        if request.param == "sqlite":
            store = SQLiteLogStore(sqlite_path, max_entries=max_entries)
        else:
            server = request.getfixturevalue("redis_server")
            store = RedisLogStore(server.url, prefix=redis_prefix, max_entries=max_entries)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        with server.client() as client:  # every key, the rings (a few MB each) included
            named = RedisLogStore(server.url, prefix=redis_prefix)
            client.delete(*named.keys, *named.phrase_keys)


@pytest.fixture
def store(store_factory) -> LogStore:
    return store_factory()


@pytest.fixture
def outage_server() -> Iterator[RedisServer]:
    """A redis-server of the test's own, free to be stopped and started again."""
    with RedisServer() as server:
        yield server
