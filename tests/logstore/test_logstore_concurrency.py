"""Several worker processes writing to one SQLite file or one Redis at the same time."""

from __future__ import annotations

import multiprocessing
import threading

from webapp.logstore import LogQuery, LogStore, SQLiteLogStore, StoreUnavailable

WORKERS = 3
BATCHES = 40
BATCH_SIZE = 10


def append_batches(store: LogStore, worker: int, start) -> None:
    start.wait(10)
    for batch in range(BATCHES):
        store.append(
            [
                {"level": "INFO", "request_id": f"w{worker}-{batch * BATCH_SIZE + number:04d}"}
                for number in range(BATCH_SIZE)
            ]
        )


def test_processes_appending_at_once_each_get_unique_ids_and_lose_nothing(store):
    # The parent uses the store before forking: children must not reuse its connection.
    store.append([{"level": "INFO", "request_id": "parent"}])
    context = multiprocessing.get_context("fork")
    start = context.Event()
    workers = [
        context.Process(target=append_batches, args=(store, worker, start)) for worker in range(WORKERS)
    ]
    for process in workers:
        process.start()
    start.set()
    for process in workers:
        process.join(30)

    entries = list(store.iter_entries(LogQuery()))

    assert [process.exitcode for process in workers] == [0] * WORKERS
    assert len(entries) == 1 + WORKERS * BATCHES * BATCH_SIZE
    assert len({entry["id"] for entry in entries}) == len(entries)
    assert len({entry["request_id"] for entry in entries}) == len(entries)
    for worker in range(WORKERS):
        mine = [
            entry["request_id"]
            for entry in reversed(entries)
            if entry["request_id"].startswith(f"w{worker}-")
        ]
        assert mine == sorted(mine), "one worker's entries must keep their order"
    store.ping()


def open_and_read(store: SQLiteLogStore, start: threading.Barrier, failures: list[str]) -> None:
    start.wait()
    try:
        list(store.iter_entries(LogQuery()))
    except StoreUnavailable as exc:
        failures.append(str(exc))


def test_connections_opening_a_new_sqlite_file_at_once_all_open_it(tmp_path):
    """The WAL switch of a new file is raced by every first connection; none may fail it."""
    failures: list[str] = []
    for trial in range(30):
        stores = [SQLiteLogStore(tmp_path / f"log-{trial}.sqlite3") for _ in range(3)]
        start = threading.Barrier(len(stores))
        threads = [threading.Thread(target=open_and_read, args=(store, start, failures)) for store in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for store in stores:
            store.close()
    assert failures == []
