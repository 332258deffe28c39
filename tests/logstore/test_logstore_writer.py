"""PredictionLog: recording never fails the request, and nothing is lost across an outage."""

from __future__ import annotations

import multiprocessing
import time

import pytest

from tests.helpers import wait_until
from tests.redis_server import RedisServer
from webapp.logstore import (
    LogQuery,
    PredictionLog,
    RedisLogStore,
    SQLiteLogStore,
    create_prediction_log,
    writer,
)
from webapp.settings import Settings


def stored_request_ids(log: PredictionLog) -> list[str]:
    return [entry["request_id"] for entry in reversed(list(log.iter_entries(LogQuery())))]


@pytest.fixture
def sqlite_log(sqlite_path):
    log = PredictionLog(SQLiteLogStore(sqlite_path))
    yield log
    log.close()


@pytest.fixture
def durable_redis():
    """A server that keeps its data over a restart, like a production Redis."""
    with RedisServer(extra_args=("--save", "", "--appendonly", "yes")) as server:
        yield server


def test_recorded_entries_are_written_by_flush(sqlite_log, make_entry):
    sqlite_log.record([make_entry(request_id="a"), make_entry(request_id="b")])

    assert sqlite_log.flush() is True
    assert stored_request_ids(sqlite_log) == ["a", "b"]


def test_changing_an_entry_after_recording_does_not_change_the_log(sqlite_log, make_entry):
    entry = make_entry(request_id="original")
    sqlite_log.record([entry])
    entry["request_id"] = "changed"
    sqlite_log.flush()

    assert stored_request_ids(sqlite_log) == ["original"]


def test_entries_handed_over_are_written_as_they_are(sqlite_log, make_entry):
    entries = [make_entry(request_id="a"), make_entry(request_id="b")]
    sqlite_log.record(entries, owned=True)  # as the predict view hands over for_predictions'

    assert sqlite_log.flush() is True
    assert stored_request_ids(sqlite_log) == ["a", "b"]


def test_status_of_a_working_store_is_healthy(sqlite_log, make_entry):
    sqlite_log.record([make_entry()])
    sqlite_log.flush()

    assert sqlite_log.status() == {
        "backend": "sqlite",
        "healthy": True,
        "pending": 0,
        "dropped": 0,
        "reduced": 0,
        "unstored": 0,
        "error": None,
        "data_loss": None,
    }


def test_clear_writes_pending_entries_first_then_removes_them(sqlite_log, make_entry):
    sqlite_log.record([make_entry() for _ in range(3)])

    assert sqlite_log.clear() == 3
    assert sqlite_log.query(LogQuery()).total == 0


def test_close_writes_what_is_pending(sqlite_path, make_entry):
    log = PredictionLog(SQLiteLogStore(sqlite_path))
    log.record([make_entry(request_id="last words")])
    log.close()

    assert SQLiteLogStore(sqlite_path).query(LogQuery()).total == 1


def test_an_unstorable_entry_is_stored_reduced_and_counted_without_stopping_the_writer(
    sqlite_log, make_entry
):
    sqlite_log.record([make_entry(request_id="odd", prediction="not a number")])
    sqlite_log.flush()
    sqlite_log.record([make_entry(request_id="next")])

    assert sqlite_log.flush() is True
    assert stored_request_ids(sqlite_log) == ["odd", "next"]
    odd = sqlite_log.query(LogQuery(request_id="odd")).entries[0]
    assert odd["prediction"] is None and "not a number" in odd["body"]
    assert sqlite_log.status()["reduced"] == 1 and sqlite_log.status()["dropped"] == 0


def test_status_asks_the_store_at_most_once_a_second(sqlite_path):
    class CountingStore(SQLiteLogStore):
        pings = 0

        def ping(self) -> None:
            CountingStore.pings += 1
            super().ping()

    log = PredictionLog(CountingStore(sqlite_path))
    for _ in range(100):
        log.status()

    assert CountingStore.pings == 1
    log.close()


def test_redis_outage_keeps_entries_and_writes_them_in_order_after_restart(
    durable_redis, redis_prefix, make_entry
):
    log = PredictionLog(RedisLogStore(durable_redis.url, prefix=redis_prefix), retry_interval=0.1)
    log.record([make_entry(request_id="before")])
    assert log.flush()

    durable_redis.stop()
    log.record([make_entry(request_id=f"during-{number}") for number in range(3)])
    log.record([make_entry(request_id="during-3")])

    assert wait_until(lambda: not log.status()["healthy"])
    status = log.status()
    assert status["pending"] == 4
    assert "redis" in status["error"]
    assert log.flush(timeout=0.3) is False

    durable_redis.start()

    assert log.flush(timeout=5) is True
    assert stored_request_ids(log) == ["before"] + [f"during-{number}" for number in range(4)]
    assert log.status()["healthy"] is True
    log.close()


def test_full_buffer_during_an_outage_drops_the_oldest_entries_and_counts_them(
    outage_server, redis_prefix, make_entry
):
    log = PredictionLog(
        RedisLogStore(outage_server.url, prefix=redis_prefix), buffer_size=3, retry_interval=0.1
    )
    outage_server.stop()

    for number in range(8):
        log.record([make_entry(request_id=f"r{number}")])

    assert wait_until(lambda: log.status()["dropped"] == 5)
    assert log.status()["pending"] == 3
    outage_server.start()
    assert log.flush(timeout=5) is True
    assert stored_request_ids(log) == ["r5", "r6", "r7"]
    log.close()


@pytest.mark.parametrize("owned", [False, True])
def test_a_batch_larger_than_the_free_buffer_drops_the_oldest_entries_and_counts_them(
    outage_server, redis_prefix, make_entry, owned
):
    log = PredictionLog(
        RedisLogStore(outage_server.url, prefix=redis_prefix), buffer_size=3, retry_interval=0.1
    )
    outage_server.stop()

    log.record([make_entry(request_id=f"r{number}") for number in range(6)], owned=owned)

    assert log.status()["dropped"] == 3
    assert log.status()["pending"] == 3
    outage_server.start()
    assert log.flush(timeout=5) is True
    assert stored_request_ids(log) == ["r3", "r4", "r5"]
    log.close()


def record_one_in_child(log: PredictionLog) -> None:
    log.record([{"level": "INFO", "request_id": "child", "timestamp": "2026-11-26T23:59:59.000Z"}])
    raise SystemExit(0 if log.flush(5) else 1)


def test_a_forked_worker_writes_its_own_entries_with_its_own_thread(sqlite_log, make_entry):
    sqlite_log.record([make_entry(request_id="parent")])
    sqlite_log.flush()
    child = multiprocessing.get_context("fork").Process(target=record_one_in_child, args=(sqlite_log,))
    child.start()
    child.join(10)

    assert child.exitcode == 0
    assert stored_request_ids(sqlite_log) == ["parent", "child"]


@pytest.mark.parametrize(
    ("config", "kind"),
    [
        ({"LOG_DB_PATH": "{tmp}/log.sqlite3"}, "sqlite"),
        ({"LOG_DB_PATH": "{tmp}/log.sqlite3", "REDIS_URL": "redis://127.0.0.1:1/0"}, "redis"),
    ],
)
def test_config_chooses_the_backend(tmp_path, config, kind):
    settings = Settings().replace({key: value.format(tmp=tmp_path) for key, value in config.items()})
    log = create_prediction_log(settings)

    assert log.kind == kind


def test_config_passes_limits_and_prefix_through(tmp_path):
    log = create_prediction_log(
        Settings().replace(
            {
                "REDIS_URL": "redis://127.0.0.1:1/0",
                "REDIS_KEY_PREFIX": "other",
                "LOG_MAX_ENTRIES": 50,
                "LOG_BUFFER_SIZE": 7,
            }
        )
    )

    assert (log.store.prefix, log.store.max_entries, log.buffer_size) == ("other", 50, 7)


class SlowSQLiteLogStore(SQLiteLogStore):
    """A working SQLite store whose writes take 50 ms: a writer that cannot keep up."""

    def append(self, entries, runs=()):
        time.sleep(0.05)
        super().append(entries, runs)


def test_a_working_store_that_falls_behind_slows_record_instead_of_losing_entries(sqlite_path, make_entry):
    log = PredictionLog(SlowSQLiteLogStore(sqlite_path), buffer_size=100)  # waits past 30 pending
    started = time.monotonic()
    for batch in range(10):
        log.record([make_entry(request_id=f"b{batch}-{row}") for row in range(20)])
    took = time.monotonic() - started
    assert log.flush(timeout=10)
    status = log.status()
    assert status["dropped"] == 0
    assert len(stored_request_ids(log)) == 200
    assert took >= 0.05  # record() waited for the writer at least once
    log.close()


def test_a_store_that_is_down_never_slows_record(outage_server, redis_prefix, make_entry):
    log = PredictionLog(
        RedisLogStore(outage_server.url, prefix=redis_prefix), buffer_size=10, retry_interval=0.1
    )
    outage_server.stop()
    log.record([make_entry(request_id="first")])
    assert wait_until(lambda: not log.status()["healthy"])
    started = time.monotonic()
    for number in range(20):
        log.record([make_entry(request_id=f"r{number}")])
    assert time.monotonic() - started < writer.BACKPRESSURE_WAIT  # none of them waited on the backlog
    assert log.status()["dropped"] == 11
    outage_server.start()
    assert log.flush(timeout=5) is True
    assert stored_request_ids(log) == [f"r{number}" for number in range(10, 20)]
    log.close()
