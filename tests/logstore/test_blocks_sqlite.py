"""The SQLite log keeps a batch's entries in one block row (log_run, no row an entry): every
reader gives exactly what the same appends stored entry by entry give."""

from __future__ import annotations

import dataclasses
import sqlite3

import numpy as np
import orjson
import pytest

from tests.helpers import REPO_ROOT, patient
from tests.logstore.test_log_blocks import batch_entries
from tests.logstore.test_log_phrases import as_written, records, same
from tests.logstore.test_logstore_reads import columns_equal, write_old_sqlite_file
from webapp.logstore import LogQuery, SQLiteLogStore, blocks, sqlite_runs
from webapp.logstore.base import DriftWindow
from webapp.model_service import ModelService

#: Enough for every read of the sequence below in one page.
ALL = 5000


@pytest.fixture(scope="module")
def service() -> ModelService:
    return ModelService.load(REPO_ROOT / "model")


def at(entries: list[dict], stamp: str) -> list[dict]:
    """A batch's entries at another time: one new timestamp object, shared as the view shares it."""
    return [{**each, "timestamp": stamp} for each in entries]


def single(make_entry, second: int, **overrides) -> dict:
    return make_entry(timestamp=f"2026-11-27T10:00:{second:02d}.000Z", **overrides)


def appends(service, make_entry) -> list[list[dict]]:
    """A writer's appends: batches of varied sizes (a 1,000 handed over as 2 x 500, as the writer
    does), single predictions, rejections and odd entries between and among them."""
    big = at(batch_entries(service, 1000, request_id="r-big"), "2026-11-27T10:00:10.000Z")
    odd = at(batch_entries(service, 137, request_id="r-odd"), "2026-11-27T10:00:30.000Z")
    odd[60] = {**odd[60], "inputs": dict(reversed(odd[60]["inputs"].items()))}  # cuts the run in two
    rejection = single(make_entry, 5, level="WARNING", prediction=None, probability=None, message="No.")
    return [
        at(batch_entries(service, blocks.MIN_BLOCK, request_id="r-16"), "2026-11-27T10:00:01.000Z"),
        [single(make_entry, 2)],
        [rejection],
        big[:500],
        big[500:],
        [single(make_entry, 11, prediction=0, probability=0.25)],
        at(batch_entries(service, blocks.MIN_BLOCK - 1, request_id="r-15"), "2026-11-27T10:00:20.000Z"),
        odd,
        [
            single(make_entry, 40),
            *at(batch_entries(service, 40, "fr", request_id="r-fr"), "2026-11-27T10:00:41.000Z"),
            rejection,
            *at(batch_entries(service, 23, request_id="r-23"), "2026-11-27T10:00:42.000Z"),
        ],
        at(batch_entries(service, 500, request_id="r-500"), "2026-11-27T10:00:50.000Z"),
        [make_entry(timestamp="not a time", request_id="late")],
        at(batch_entries(service, 300, request_id="r-300"), "2026-11-27T10:00:55.000Z"),
    ]


@pytest.fixture
def stores(tmp_path, monkeypatch):
    """Write to a store with blocks and one without (MIN_BLOCK past any run)."""
    made: list[SQLiteLogStore] = []

    def make(max_entries: int = 100_000):
        number = len(made)
        with_blocks = SQLiteLogStore(tmp_path / f"blocks-{number}.sqlite3", max_entries=max_entries)
        plain = SQLiteLogStore(tmp_path / f"plain-{number}.sqlite3", max_entries=max_entries)
        made.extend([with_blocks, plain])

        def append(entries: list[dict]) -> None:
            with_blocks.append(entries)
            with monkeypatch.context() as patched:
                patched.setattr(blocks, "MIN_BLOCK", 10**9)
                plain.append(entries)

        return with_blocks, plain, append

    yield make
    for store in made:
        store.close()


def encoded(value) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


def pages(store: SQLiteLogStore, query: LogQuery) -> list[tuple]:
    """Every page of `query`, following next_cursor to the end."""
    found = []
    while True:
        page = store.query(query)
        found.append((page.total, page.entries, page.next_cursor))
        if page.next_cursor is None:
            return found
        query = dataclasses.replace(query, cursor=page.next_cursor)


QUERIES = [
    LogQuery(limit=ALL),
    LogQuery(limit=100, offset=450),
    LogQuery(limit=7, offset=1001),
    LogQuery(limit=ALL, level="INFO"),
    LogQuery(limit=ALL, level="WARNING"),
    LogQuery(limit=ALL, endpoint="/predict"),
    LogQuery(limit=ALL, endpoint="/elsewhere"),
    LogQuery(limit=ALL, prediction=1),
    LogQuery(limit=ALL, prediction=0),
    LogQuery(limit=ALL, min_probability=0.6),
    LogQuery(limit=ALL, max_probability=0.3),
    LogQuery(limit=ALL, min_probability=0.2, max_probability=0.7, prediction=0),
    LogQuery(limit=ALL, since="2026-11-27T10:00:10Z"),
    LogQuery(limit=ALL, until="2026-11-27T10:00:41Z"),
    LogQuery(limit=ALL, since="2026-11-27T10:00:02Z", until="2026-11-27T10:00:30Z"),
    LogQuery(limit=ALL, request_id="R-BIG"),
    LogQuery(limit=ALL, request_id="r-", level="INFO", offset=3),
]
PAGED = [
    LogQuery(limit=333),
    LogQuery(limit=64, level="INFO", prediction=1),
    LogQuery(limit=500, request_id="r-5"),
]


def assert_read_alike(with_blocks: SQLiteLogStore, plain: SQLiteLogStore) -> None:
    for query in QUERIES:
        read, expected = with_blocks.query(query), plain.query(query)
        assert (read.total, read.next_cursor) == (expected.total, expected.next_cursor), query
        assert encoded(read.entries) == encoded(expected.entries), query
    for query in PAGED:
        assert encoded(pages(with_blocks, query)) == encoded(pages(plain, query)), query
    for query in (LogQuery(), LogQuery(level="INFO", since="2026-11-27T10:00:10Z")):
        assert encoded(list(with_blocks.iter_entries(query))) == encoded(list(plain.iter_entries(query)))
    for query, cap in ((LogQuery(), ALL), (LogQuery(prediction=1), 250)):
        assert encoded(with_blocks.summary_entries(query, cap)) == encoded(plain.summary_entries(query, cap))
        columns_equal(with_blocks.summary_columns(query, cap), plain.summary_columns(query, cap))
    for query, last in ((LogQuery(), ALL), (LogQuery(level="INFO"), 700)):
        read, expected = with_blocks.drift_window(query, last), plain.drift_window(query, last)
        for field in dataclasses.fields(DriftWindow):
            np.testing.assert_array_equal(getattr(read, field.name), getattr(expected, field.name))


def stored(store: SQLiteLogStore, sql: str) -> list[tuple]:
    with sqlite3.connect(store.path) as connection:
        found = connection.execute(sql).fetchall()
    connection.close()
    return found


def test_a_store_with_blocks_reads_as_one_that_stores_each_entry_alone(service, make_entry, stores):
    with_blocks, plain, append = stores()
    given = []
    for entries in appends(service, make_entry):
        append(entries)
        given += entries

    assert_read_alike(with_blocks, plain)
    same(list(with_blocks.iter_entries(LogQuery())), sorted_as_read(with_blocks, as_written(given)))
    # The batches really are in blocks, each of its own: the 1,000 handed over as 2 x 500.
    blocked = stored(with_blocks, "SELECT request_id, sum(last_id - first_id + 1) FROM log_run GROUP BY 1")
    assert dict(blocked) == {
        "r-16": 16,
        "r-big": 1000,
        "r-odd": 136,
        "r-fr": 40,
        "r-23": 23,
        "r-500": 500,
        "r-300": 300,
    }
    spans = stored(with_blocks, "SELECT first_id, last_id FROM log_run ORDER BY last_id")
    assert [last - first + 1 for first, last in spans] == [16, 500, 500, 60, 76, 40, 23, 500, 300]
    assert stored(plain, "SELECT count(*) FROM log_run") == [(0,)]  # the other one has none
    # A block's entries have no row of their own.
    assert stored(with_blocks, "SELECT count(*) FROM prediction_log") == [(len(given) - 2015,)]


def kept_ids(store: SQLiteLogStore) -> list[tuple[str, int]]:
    """(indexed timestamp, id) of every entry the file holds, in rows or blocks, by id."""
    rows = stored(store, "SELECT timestamp, id FROM prediction_log")
    spans = stored(store, "SELECT timestamp, oldest_id, last_id FROM log_run")
    in_runs = [(stamp, entry_id) for stamp, first, last in spans for entry_id in range(first, last + 1)]
    return sorted(rows + in_runs, key=lambda kept: kept[1])


def sorted_as_read(store: SQLiteLogStore, expected: list[dict]) -> list[dict]:
    """The entries in the log's order (timestamp, then id, newest first), as the store indexes them."""
    order = [entry_id for _, entry_id in sorted(kept_ids(store), reverse=True)]
    by_id = {entry["id"]: entry for entry in expected}
    return [by_id[entry_id] for entry_id in order]


@pytest.mark.parametrize("max_entries", [1234, 499, 1])
def test_capacity_keeps_the_same_newest_entries_whether_in_blocks_or_not(
    service,
    make_entry,
    stores,
    max_entries,
):
    with_blocks, plain, append = stores(max_entries)
    newest = 0
    for number, entries in enumerate(appends(service, make_entry)):
        append(entries)
        newest += len(entries)
        kept = [entry_id for _, entry_id in kept_ids(with_blocks)]
        assert kept == list(range(max(newest - max_entries, 0) + 1, newest + 1))
        if number in (4, 8):  # within the big batch's second half, after a mixed append
            assert_read_alike(with_blocks, plain)
    assert_read_alike(with_blocks, plain)
    # Only blocks some of whose entries are kept remain, each from its oldest kept id.
    spans = stored(with_blocks, "SELECT first_id, oldest_id, last_id FROM log_run")
    assert all(last > newest - max_entries for _, _, last in spans)
    assert all(oldest == max(first, newest - max_entries + 1) for first, oldest, _ in spans)


def test_single_entries_remove_the_blocks_they_push_out(service, make_entry, stores):
    with_blocks, plain, append = stores(max_entries=100)
    append(at(batch_entries(service, 60), "2026-11-27T10:00:01.000Z"))  # ids 1 to 60
    for _ in range(99):
        append([make_entry()])
    assert stored(with_blocks, "SELECT oldest_id, last_id FROM log_run") == [(60, 60)]  # 60 still kept
    append([make_entry()])
    assert stored(with_blocks, "SELECT * FROM log_run") == []
    assert_read_alike(with_blocks, plain)


def test_age_retention_and_clear_leave_the_same_entries_and_no_orphan_block(service, make_entry, stores):
    with_blocks, plain, append = stores(max_entries=3000)
    for entries in appends(service, make_entry):
        append(entries)

    for cutoff in ("2026-11-27T10:00:05.000Z", "2026-11-27T10:00:41.500Z"):
        assert with_blocks.remove_older_than(cutoff) == plain.remove_older_than(cutoff)
        assert_read_alike(with_blocks, plain)
    spans = stored(with_blocks, "SELECT first_id, last_id FROM log_run ORDER BY last_id")
    assert [last - first + 1 for first, last in spans] == [23, 500, 300]  # the batches at 10:00:42 on

    assert with_blocks.clear() == plain.clear()
    assert stored(with_blocks, "SELECT count(*) FROM log_run") == [(0,)]
    for entries in appends(service, make_entry)[:5]:
        append(entries)
    assert_read_alike(with_blocks, plain)


def test_a_file_made_before_blocks_gets_the_table_and_reads_as_it_was(tmp_path, service, make_entry):
    path = tmp_path / "old.sqlite3"
    old = [single(make_entry, second) for second in range(5)]
    write_old_sqlite_file(path, old)
    batch = at(batch_entries(service, 40), "2026-11-27T10:00:09.000Z")
    store = SQLiteLogStore(path)
    try:
        store.append(batch)
        same(list(store.iter_entries(LogQuery())), as_written(old + batch))
    finally:
        store.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT first_id, last_id FROM log_run").fetchall() == [(6, 45)]
    connection.close()


def test_a_batch_logged_through_the_api_reads_back_from_its_block(make_app):
    app = make_app(backend="sqlite")
    store = app.extensions["prediction_log"].store
    given: list[dict] = []
    append = store.append
    store.append = lambda entries, **hints: (
        given.extend(dict(entry) for entry in entries),
        append(entries, **hints),
    )
    client = app.test_client()

    assert client.post("/predict", json=patient(AGE=61)).status_code == 200
    assert client.post("/api/predict", json={"records": records(700)}).status_code == 200
    pages = [client.get("/api/logs", query_string={"limit": 100, "offset": offset}) for offset in (0, 650)]

    assert pages[0].get_json()["total"] == len(given) == 701
    same(pages[0].get_json()["logs"], as_written(given)[:100])
    same(pages[1].get_json()["logs"], as_written(given)[650:])
    assert stored(store, "SELECT count(*) FROM prediction_log") == [(1,)]
    # The writer hands over 500 entries at most: the batch is in two blocks, or three.
    assert stored(store, "SELECT sum(last_id - first_id + 1) FROM log_run") == [(700,)]


def test_a_block_entry_without_a_drift_code_is_read_from_its_body_by_the_drift(service, stores):
    with_blocks, plain, append = stores()
    entries = at(batch_entries(service, 40, request_id="r-age"), "2026-11-27T10:00:01.000Z")
    for index in range(0, 40, 3):  # an AGE the drift code cannot hold: the drift reads the body
        entries[index] = {**entries[index], "inputs": {**entries[index]["inputs"], "AGE": 61.5}}
    append(entries)

    ((blob,),) = stored(with_blocks, "SELECT columns FROM log_run")
    codes = np.frombuffer(blob, sqlite_runs.RUN_COLUMNS)["drift"]
    assert (codes == sqlite_runs.NO_DRIFT_CODE).sum() == 14
    assert_read_alike(with_blocks, plain)
    window = with_blocks.drift_window(LogQuery(), 40)
    assert sorted(window.inputs[:, 0].tolist()).count(61.5) == 14
