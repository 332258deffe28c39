"""The log's file or server changes under a running service: nothing is lost silently."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.logstore.test_logstore_writer import stored_request_ids
from tests.redis_server import RedisServer
from webapp.logstore import PredictionLog, RedisLogStore, SQLiteLogStore


def workers(path, count=2):
    """Logs as Gunicorn's workers hold them: one store and connection each, one file."""
    return [PredictionLog(SQLiteLogStore(path), retry_interval=0.1) for _ in range(count)]


def fresh_status(log: PredictionLog) -> dict:
    log._checked_at = 0.0  # ask the store now rather than within the next second
    return log.status()


@pytest.mark.parametrize("change", ["delete", "replace", "break"])
def test_a_file_deleted_or_replaced_in_use_is_degraded_on_every_worker_and_nothing_is_lost(
    sqlite_path, make_entry, tmp_path, change
):
    logs = workers(sqlite_path)
    try:
        for log in logs:
            log.record([make_entry(request_id="before")])
            assert log.flush()
        if change == "delete":
            os.remove(sqlite_path)
        else:
            other = tmp_path / "other.sqlite3"
            if change == "replace":
                replacement = SQLiteLogStore(other)
                replacement.append([make_entry(request_id="restored-backup")])
                replacement.close()
            else:
                other.write_bytes(b"this is not a database" * 100)
            os.replace(other, sqlite_path)
        for log in logs:
            log.record([make_entry(request_id="after")])
            assert log.flush(0.3) is False  # not written into the old, unlinked file
        for log in logs:
            status = fresh_status(log)
            assert status["healthy"] is False and "deleted or replaced" in status["error"]
            assert status["pending"] == 1 and status["dropped"] == 0
    finally:
        for log in logs:
            log.close()


def chattr(flag: str, path: str) -> None:
    if shutil.which("chattr") is None or os.geteuid() != 0:
        pytest.skip("making a file unwritable for root needs chattr (e2fsprogs) and root")
    if subprocess.run(["chattr", flag, path], capture_output=True).returncode != 0:
        pytest.skip(f"chattr {flag} is not supported on this filesystem")


def test_an_unwritable_file_is_degraded_everywhere_and_heals_when_writable(sqlite_path, make_entry):
    running = workers(sqlite_path, 1)[0]
    running.record([make_entry(request_id="before")])
    assert running.flush()
    chattr("+i", sqlite_path)
    started_meanwhile = workers(sqlite_path, 1)[0]  # opens the file while it is read-only
    try:
        started_meanwhile.record([make_entry(request_id="while-read-only")])
        assert started_meanwhile.flush(0.5) is False
        for log in (running, started_meanwhile):
            status = fresh_status(log)
            assert status["healthy"] is False and "not writable" in status["error"]
    finally:
        chattr("-i", sqlite_path)
    try:
        assert started_meanwhile.flush(3)
        assert [fresh_status(log)["healthy"] for log in (running, started_meanwhile)] == [True, True]
        assert stored_request_ids(running) == ["before", "while-read-only"]
    finally:
        running.close()
        started_meanwhile.close()


def test_a_redis_that_restarts_empty_is_reported_as_data_loss(make_entry, redis_prefix):
    with RedisServer() as server:  # no persistence, like a Space's local Redis
        log = PredictionLog(RedisLogStore(server.url, prefix=redis_prefix), retry_interval=0.1)
        try:
            log.record([make_entry(request_id=f"r{index}") for index in range(20)])
            assert log.flush()
            assert fresh_status(log)["data_loss"] is None
            server.stop()
            server.start()
            status = fresh_status(log)
            assert status["data_loss"] and "restarted" in status["data_loss"]
            assert "0 entries of the 20" in status["data_loss"]
        finally:
            log.close()


def test_the_id_counter_going_back_under_a_write_is_data_loss(make_entry, redis_prefix):
    with RedisServer() as server:
        log = PredictionLog(RedisLogStore(server.url, prefix=redis_prefix), retry_interval=0.1)
        try:
            log.record([make_entry(request_id="a"), make_entry(request_id="b")])
            assert log.flush()
            server.stop()
            server.start()
            log.record([make_entry(request_id="c")])
            assert log.flush(3)
            assert "id counter went back" in log.status()["data_loss"]
        finally:
            log.close()


def test_a_durable_redis_restart_is_not_data_loss(make_entry, redis_prefix):
    with RedisServer(extra_args=("--save", "", "--appendonly", "yes")) as server:
        log = PredictionLog(RedisLogStore(server.url, prefix=redis_prefix), retry_interval=0.1)
        try:
            log.record([make_entry(request_id="a")])
            assert log.flush()
            fresh_status(log)
            server.stop()
            server.start()
            log.record([make_entry(request_id="b")])
            assert log.flush(3)
            assert fresh_status(log)["data_loss"] is None
        finally:
            log.close()
