"""Age retention: entries older than LOG_MAX_AGE_DAYS go, recent ones and everything else stay."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time

import numpy as np
import pytest

from tests.helpers import wait_until
from webapp.logstore import (
    LogQuery,
    PredictionLog,
    RedisLogStore,
    SQLiteLogStore,
    create_prediction_log,
    redis_records,
)
from webapp.logstore import redis as redis_store
from webapp.logstore import sqlite as sqlite_store
from webapp.logstore.entry import format_timestamp
from webapp.settings import Settings


def days_ago(days: float) -> str:
    return format_timestamp(dt.datetime.now(dt.UTC) - dt.timedelta(days=days))


def stored_ids(store) -> list[str]:
    return sorted(entry["request_id"] for entry in store.iter_entries(LogQuery()))


@pytest.mark.parametrize("chunk", [3, 5000])
def test_entries_older_than_the_cutoff_go_and_the_rest_stay(store, make_entry, monkeypatch, chunk):
    # A small chunk runs the store's step-by-step loop; the default removes them in one step.
    monkeypatch.setattr(sqlite_store, "TRIM_CHUNK", chunk)
    monkeypatch.setattr(redis_store, "TRIM_CHUNK", chunk)
    old = [make_entry(request_id=f"old-{n}", timestamp=days_ago(40 + n)) for n in range(8)]
    recent = [make_entry(request_id=f"recent-{n}", timestamp=days_ago(29.9 - n)) for n in range(5)]
    undated = make_entry(request_id="undated", timestamp="not a time")
    store.append([old[0], recent[0], undated, *old[1:], *recent[1:]])

    assert store.remove_older_than(days_ago(30)) == 8
    assert stored_ids(store) == sorted([entry["request_id"] for entry in recent] + ["undated"])
    assert store.query(LogQuery(limit=100)).total == 6
    assert store.remove_older_than(days_ago(30)) == 0
    store.append([make_entry(request_id="after")])
    assert len(stored_ids(store)) == 7


def test_redis_retention_removes_each_entry_from_every_key(redis_server, make_entry, redis_prefix):
    store = RedisLogStore(redis_server.url, prefix=redis_prefix)
    try:
        store.append([make_entry(request_id=f"old-{n}", timestamp=days_ago(31)) for n in range(4)])
        store.append([make_entry(request_id=f"new-{n}", timestamp=days_ago(1)) for n in range(3)])
        assert store.remove_older_than(days_ago(30)) == 4
        with redis_server.client() as client:
            assert client.zcard(store.order_key) == 3
            kept = set(client.zrange(store.order_key, 0, -1))
            for key in (store.entries_key, store.fields_key):
                assert set(client.hkeys(key)) == kept, key
            for key, record in (
                (store.stats_ring_key, redis_records.STATS_RECORD),
                (store.id_ring_key, redis_records.ID_RECORD),
            ):  # the removed entries' slots are emptied
                ids = np.frombuffer(client.get(key), dtype=record)["id"]
                assert sorted(ids[ids > 0].tolist()) == sorted(int(member) for member in kept), key
            assert int(client.get(store.seq_key)) == 7  # ids keep increasing
    finally:
        with redis_server.client() as client:
            client.delete(*store.keys)
        store.close()


def test_sqlite_retention_is_a_range_of_the_timestamp_index(sqlite_path, make_entry):
    store = SQLiteLogStore(sqlite_path)
    store.append([make_entry()])
    with sqlite3.connect(sqlite_path) as connection:
        plan = connection.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM prediction_log WHERE timestamp > ? AND timestamp < ? LIMIT 10",
            ("a", "b"),
        ).fetchall()
    store.close()
    # The covering read index leads with the timestamp: the trim is a range search, not a scan.
    assert any(
        row[-1].startswith("SEARCH") and "INDEX" in row[-1] and "timestamp>?" in row[-1] for row in plan
    ), plan


def test_the_writer_applies_the_age_limit_after_writes_at_most_once_per_interval(store, make_entry):
    log = PredictionLog(store, max_age_days=30, trim_interval=0.5)
    try:
        log.record([make_entry(request_id="old-1", timestamp=days_ago(45)), make_entry(request_id="new-1")])
        assert log.flush()
        assert wait_until(lambda: stored_ids(store) == ["new-1"])

        # Within the interval the next write does not trim: one range delete per interval.
        log.record([make_entry(request_id="old-2", timestamp=days_ago(45))])
        assert log.flush()
        assert "old-2" in stored_ids(store)
        time.sleep(0.6)
        log.record([make_entry(request_id="new-2")])
        assert log.flush()
        assert wait_until(lambda: stored_ids(store) == ["new-1", "new-2"])
        assert log.status()["dropped"] == log.status()["unstored"] == 0
    finally:
        log.close()


def test_without_an_age_limit_old_entries_stay_until_the_capacity(store, make_entry):
    log = PredictionLog(store, max_age_days=0, trim_interval=0)
    try:
        log.record([make_entry(request_id="old", timestamp=days_ago(400)), make_entry(request_id="new")])
        assert log.flush()
        log.record([make_entry(request_id="newer")])
        assert log.flush()
        time.sleep(0.1)
        assert stored_ids(store) == ["new", "newer", "old"]
    finally:
        log.close()


def test_the_app_log_takes_its_age_limit_from_the_settings(tmp_path):
    settings = Settings.from_env({"LOG_MAX_AGE_DAYS": "7.5", "LOG_DB_PATH": str(tmp_path / "log.sqlite3")})
    log = create_prediction_log(settings)
    assert log.max_age_days == 7.5
    assert create_prediction_log(Settings(log_db_path=str(tmp_path / "b.sqlite3"))).max_age_days == 30


def test_each_sqlite_store_keeps_its_own_capacity_and_leaves_the_file_without_a_trigger(
    sqlite_path, make_entry
):
    """The oldest entries go within each insert (a trigger of the writing connection only): two
    stores with other capacities share one file, and the file itself holds no trigger, so other
    versions of the service read and write it as before."""
    large, small = SQLiteLogStore(sqlite_path, max_entries=20), SQLiteLogStore(sqlite_path, max_entries=5)
    try:
        large.append([make_entry(request_id=f"a{number}") for number in range(15)])
        assert large.query(LogQuery(limit=100)).total == 15
        small.append([make_entry(request_id="b")])
        assert [entry["request_id"] for entry in small.query(LogQuery()).entries] == [
            "b",
            "a14",
            "a13",
            "a12",
            "a11",
        ]
        large.append([make_entry(request_id=f"c{number}") for number in range(3)])
        assert large.query(LogQuery(limit=100)).total == 8
    finally:
        large.close()
        small.close()
    connection = sqlite3.connect(sqlite_path)
    try:
        triggers = connection.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
        connection.execute(
            "INSERT INTO prediction_log (timestamp, body) VALUES ('2026-11-26T00:00:00.000Z', '{}')"
        )
        (count,) = connection.execute("SELECT count(*) FROM prediction_log").fetchone()
    finally:
        connection.close()
    assert triggers == []
    assert count == 9  # a plain connection removes nothing
