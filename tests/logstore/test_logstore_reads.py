"""What the admin pages read of the log without whole entries: the summary's columns and the drift
window. Each store must give exactly what the entries themselves give, files and keys written by
the previous version included."""

from __future__ import annotations

import dataclasses
import sqlite3

import numpy as np
import orjson
import pytest

from webapp.features import FEATURES
from webapp.logstore import LogQuery, RedisLogStore, SQLiteLogStore, redis_reads, redis_records
from webapp.logstore.base import (
    NOT_COMPARED,
    DriftWindow,
    SummaryColumns,
    drift_code,
    drift_codes,
    entry_json,
)
from webapp.logstore.sqlite import INSERT_ROWS, PAGE_SIZE, WAL_CHECKPOINT_BYTES
from webapp.monitoring.drift import drift_report
from webapp.monitoring.reference import load_reference
from webapp.settings import PROJECT_ROOT


def mixed_entries(make_entry) -> list[dict]:
    """Predictions, a rejection, an AGE the drift code cannot hold, odd values the pages skip."""
    entries = []
    for number in range(60):
        inputs = {
            name: (30 + number % 40 if name == "AGE" else (number >> index) & 1)
            for index, name in enumerate(FEATURES)
        }
        entries.append(
            make_entry(inputs=inputs, prediction=number % 2, probability=number / 60, latency_ms=number / 7)
        )
    entries.append(
        make_entry(level="WARNING", prediction=None, probability=None, inputs={"AGE": 300}, latency_ms=2.0)
    )
    entries.append(make_entry(inputs={**entries[0]["inputs"], "AGE": 44.5}, model_version="other"))
    entries.append(make_entry(latency_ms="slow", inputs=None, model_version=None))
    return entries


def emptied_slots(client, key: str, record: np.dtype, members: list[bytes]) -> None:
    """Empty the members' slots of a ring, as for entries written before the rings."""
    ring = bytearray(client.get(key))
    slots = len(ring) // record.itemsize
    for member in members:
        start = int(member) % slots * record.itemsize
        ring[start : start + record.itemsize] = bytes(record.itemsize)
    client.set(key, bytes(ring))


def unknown_ids(client, key: str, members: list[bytes]) -> None:
    """Mark the members' request ids as kept in the fields only (too long for the ring)."""
    ring = bytearray(client.get(key))
    width = redis_records.ID_RECORD.itemsize
    for member in members:
        start = int(member) % (len(ring) // width) * width
        ring[start + 8 : start + width] = bytes([redis_records.UNKNOWN_ID]) + bytes(width - 9)
    client.set(key, bytes(ring))


def report_of(window) -> dict:
    return drift_report(load_reference(PROJECT_ROOT / "model"), window)


def columns_equal(left: SummaryColumns, right: SummaryColumns) -> None:
    for name in ("seconds", "prediction", "probability", "latency_ms", "rejected"):
        np.testing.assert_array_equal(getattr(left, name), getattr(right, name), err_msg=name)


def test_drift_code_holds_what_the_drift_compares(make_entry):
    entry = make_entry(
        inputs={name: (57 if name == "AGE" else index % 2) for index, name in enumerate(FEATURES)}
    )

    (row,) = DriftWindow.from_coded([(drift_code(entry), 1, "t", "v", 1)], body_of=None).inputs

    assert row.tolist() == [57.0] + [float(index % 2) for index in range(1, len(FEATURES))]
    assert drift_code(make_entry(prediction=None)) == NOT_COMPARED
    assert drift_code(make_entry(inputs={"AGE": 40})) == NOT_COMPARED
    assert drift_code(make_entry(inputs={name: 40.5 for name in FEATURES})) is None  # read from the body


@pytest.mark.parametrize(
    "answers",
    [
        [0, 1] * 7,
        [1.0, True, 0.0, False, 1, 0, 1] * 2,
        [np.int64(1), np.float64(0.0)] * 7,
        [2, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, -1],  # never from the API: the equal-to-1 bits all the same
        [0.5] * 14,
    ],
)
def test_drift_code_sets_a_bit_for_each_answer_equal_to_one(make_entry, answers):
    entry = make_entry(inputs=dict(zip(FEATURES, [63, *answers], strict=True)))
    bits = sum(1 << (13 - index) for index, answer in enumerate(answers) if answer == 1)
    assert drift_code(entry) == (63 << 14) + bits


def odd_inputs(**changes) -> dict:
    return {**dict.fromkeys(FEATURES, 1), "AGE": 52, **changes}


class Inputs(dict):
    """A mapping that is not a plain dict: coded one by one."""


@pytest.mark.parametrize(
    "entries",
    [
        [],
        [{}],
        [{"prediction": 1, "inputs": odd_inputs(AGE=age)} for age in (0, 1, 70, 1 << 40, (1 << 40) - 1, -1)],
        [{"prediction": 0, "inputs": odd_inputs(AGE=1 << 70)}, {"prediction": 1, "inputs": odd_inputs()}],
        [
            {"prediction": 1, "inputs": odd_inputs(AGE=True, SMOKING=False)},
            {"prediction": 0, "inputs": odd_inputs()},
        ],
        [{"prediction": 1, "inputs": odd_inputs(AGE=np.int64(40), SMOKING=np.int32(0))}],
        [
            {"prediction": 1, "inputs": odd_inputs(SMOKING=2, ANXIETY=-1)},
            {"prediction": 1, "inputs": odd_inputs()},
        ],
        [
            {"prediction": 1, "inputs": odd_inputs(AGE=44.5)},
            {"prediction": 1, "inputs": odd_inputs(AGE=44.0)},
        ],
        [{"prediction": 1, "inputs": odd_inputs(SMOKING=1.0)}, {"prediction": 1, "inputs": odd_inputs()}],
        [{"prediction": 1, "inputs": odd_inputs(SMOKING="1")}, {"prediction": 1, "inputs": odd_inputs()}],
        [{"prediction": 1, "inputs": odd_inputs(SMOKING=None)}, {"prediction": 0, "inputs": odd_inputs()}],
        [{"prediction": 1, "inputs": odd_inputs(SMOKING=[1])}, {"prediction": 0, "inputs": odd_inputs()}],
        [{"prediction": 1, "inputs": {"AGE": 40}}, {"prediction": 1, "inputs": odd_inputs()}],
        [{"prediction": pred, "inputs": odd_inputs()} for pred in (None, 2, True, 0.0, "1", np.int64(1))],
        [{"prediction": 1, "inputs": Inputs(odd_inputs())}, {"prediction": 1, "inputs": None}],
        [{"prediction": 1, "inputs": [1] * len(FEATURES)}, {"level": "WARNING", "inputs": "text"}],
    ],
)
def test_drift_codes_of_a_batch_are_each_entrys_drift_code(entries):
    assert drift_codes(entries) == [drift_code(entry) for entry in entries]


def test_drift_codes_of_a_batch_of_predictions_are_each_entrys_drift_code(make_entry):
    entries = mixed_entries(make_entry)

    assert drift_codes(entries) == [drift_code(entry) for entry in entries]


@pytest.mark.parametrize(
    "filters",
    [{}, {"level": "INFO"}, {"prediction": 1}, {"min_probability": 0.5}, {"request_id": "req-0001"}],
)
def test_summary_columns_are_those_of_the_entries(store, make_entry, filters):
    store.append(mixed_entries(make_entry))
    query = LogQuery(**filters)

    expected = SummaryColumns.from_entries(list(store.iter_entries(query))[:40])

    columns_equal(store.summary_columns(query, 40), expected)


def test_drift_window_gives_the_report_of_the_entries(store, make_entry):
    store.append(mixed_entries(make_entry))
    query = LogQuery(level="INFO")

    from_store = report_of(store.drift_window(query, 50))

    assert from_store == report_of(list(store.iter_entries(query))[:50])
    assert from_store["window"]["entries"] > 40


OLD_SCHEMA = (
    """CREATE TABLE prediction_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp TEXT NOT NULL, level TEXT, endpoint TEXT,
        request_id TEXT, prediction INTEGER, probability REAL, body TEXT NOT NULL)""",
    "CREATE INDEX ix_log_timestamp ON prediction_log (timestamp)",
)


def write_old_sqlite_file(path, entries) -> None:
    """A log file as the version before the read columns wrote it, holding `entries`."""
    with sqlite3.connect(path) as connection:
        for statement in OLD_SCHEMA:
            connection.execute(statement)
        connection.executemany(
            "INSERT INTO prediction_log (timestamp, level, endpoint, request_id, prediction, probability, body)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    e["timestamp"],
                    e["level"],
                    e["endpoint"],
                    e["request_id"],
                    e["prediction"],
                    e["probability"],
                    entry_json(e),
                )
                for e in entries
            ],
        )
    connection.close()


def test_a_sqlite_file_of_the_previous_version_is_migrated_on_open(tmp_path, make_entry):
    path = tmp_path / "old.sqlite3"
    entries = mixed_entries(make_entry)
    write_old_sqlite_file(path, entries)
    store = SQLiteLogStore(path)
    try:
        query = LogQuery(level="INFO")
        stored = list(store.iter_entries(LogQuery()))

        assert len(stored) == len(entries)
        assert report_of(store.drift_window(query, 100)) == report_of(list(store.iter_entries(query)))
        columns_equal(store.summary_columns(LogQuery(), 100), SummaryColumns.from_entries(stored))
        store.append([make_entry()])
        assert store.query(LogQuery()).total == len(entries) + 1
    finally:
        store.close()
    with sqlite3.connect(path) as connection:
        indexes = {row[1] for row in connection.execute("PRAGMA index_list(prediction_log)")}
        (page_size,) = connection.execute("PRAGMA page_size").fetchone()
        filled = connection.execute(
            "SELECT count(*) FROM prediction_log WHERE latency_ms IS NOT NULL"
        ).fetchone()
    connection.close()
    assert indexes == {"ix_log_read"}
    assert page_size == 4096  # the old file keeps its pages; only new files take PAGE_SIZE
    assert filled == (len(entries),)  # all but the one whose latency is not a number, and the new one


def test_a_new_sqlite_file_has_pages_that_hold_several_entries(tmp_path, make_entry):
    store = SQLiteLogStore(tmp_path / "new.sqlite3")
    try:
        store.append([make_entry() for _ in range(20)])
        connection = store._connection()
        (page_size,) = connection.execute("PRAGMA page_size").fetchone()
        (checkpoint,) = connection.execute("PRAGMA wal_autocheckpoint").fetchone()
        (longest,) = connection.execute("SELECT max(length(body)) FROM prediction_log").fetchone()
    finally:
        store.close()
    assert page_size == PAGE_SIZE
    assert page_size // longest >= 2
    assert checkpoint * page_size == WAL_CHECKPOINT_BYTES


def test_sqlite_stores_a_long_append_in_order_with_one_id_each(tmp_path, make_entry):
    """Rows go in by statements of up to INSERT_ROWS: every entry, in order, ids one apart, and
    the rows a store holds are the newest max_entries."""
    entries = [make_entry() for _ in range(2 * INSERT_ROWS + 37)]
    store = SQLiteLogStore(tmp_path / "long.sqlite3", max_entries=INSERT_ROWS + 50)
    try:
        store.append(entries[:3])
        store.append(entries[3:])
        rows = store._connection().execute("SELECT id, request_id FROM prediction_log ORDER BY id").fetchall()
        read = store._bodies([row[0] for row in rows])
    finally:
        store.close()
    kept = entries[-(INSERT_ROWS + 50) :]
    assert [row[0] for row in rows] == list(range(len(entries) - len(kept) + 1, len(entries) + 1))
    assert [row[1] for row in rows] == [entry["request_id"] for entry in kept]
    assert sorted(read, key=lambda entry: entry["id"]) == [
        {"id": row[0], **orjson.loads(entry_json(entry))} for row, entry in zip(rows, kept, strict=True)
    ]


def test_redis_entries_of_the_previous_version_are_read_from_their_bodies(
    redis_server, redis_prefix, make_entry
):
    store = RedisLogStore(redis_server.url, prefix=redis_prefix)
    try:
        store.append(mixed_entries(make_entry))
        # The previous version's fields hash: no model version, no drift code.
        client = store._redis()
        old_fields = {
            member: orjson.dumps(
                {
                    key: value
                    for key, value in orjson.loads(raw).items()
                    if key not in ("model_version", "drift")
                }
            )
            for member, raw in client.hgetall(store.fields_key).items()
        }
        client.hset(store.fields_key, mapping=old_fields)
        filtered = LogQuery(prediction=1, min_probability=0.3)
        expected_total = len(list(store.iter_entries(filtered)))
        searched = LogQuery(request_id="REQ-0000")
        expected_found = [entry["id"] for entry in store.iter_entries(searched)]
        client.delete(store.stats_ring_key, store.id_ring_key)  # nor the packed stats and request ids
        query = LogQuery(level="INFO")

        assert report_of(store.drift_window(query, 100)) == report_of(list(store.iter_entries(query)))
        assert store.query(filtered).total == expected_total
        assert [entry["id"] for entry in store.query(searched).entries] == expected_found
        columns_equal(
            store.summary_columns(filtered, 100), SummaryColumns.from_entries(store.iter_entries(filtered))
        )
    finally:
        store._redis().delete(*store.keys)
        store.close()


def test_redis_reads_a_window_in_chunks_with_the_same_result(
    redis_server, redis_prefix, make_entry, monkeypatch
):
    store = RedisLogStore(redis_server.url, prefix=redis_prefix)
    try:
        store.append(mixed_entries(make_entry))
        queries = [LogQuery(min_probability=0.25), LogQuery(request_id="req-000"), LogQuery()]
        expected = [(store.query(query), store.summary_columns(query, 50)) for query in queries]
        monkeypatch.setattr(redis_reads, "WINDOW_CHUNK", 7)

        for query, (page, columns) in zip(queries, expected, strict=True):
            assert store.query(query) == page
            columns_equal(store.summary_columns(query, 50), columns)
    finally:
        store._redis().delete(*store.keys)
        store.close()


@pytest.mark.parametrize("ids", ["ascii", "non-ascii"])
@pytest.mark.parametrize("path", ["rings", "script"])
@pytest.mark.parametrize(
    "query",
    [
        LogQuery(request_id="ReQ-00"),
        LogQuery(request_id="k-7"),  # "\u212a" (Kelvin sign) lowers to "k": only Python knows
        LogQuery(request_id="é"),
        LogQuery(level="INFO", min_probability=0.5),
        LogQuery(level="ERROR"),
        LogQuery(prediction=1, max_probability=0.6, request_id="-0"),
    ],
    ids=str,
)
def test_redis_filters_inside_redis_as_logquery_matches(
    redis_server, redis_prefix, make_entry, monkeypatch, path, query, ids
):
    store = RedisLogStore(redis_server.url, prefix=redis_prefix)
    try:
        entries = mixed_entries(make_entry)
        entries[3]["request_id"] = "REQ-00004-UPPER"
        if ids == "non-ascii":  # Python compares those: the whole-hash read or the script cannot
            entries[5]["request_id"] = "\u212a-7"
            entries[6]["request_id"] = "Élan-é"
        entries[7]["request_id"] = None
        entries[8]["level"] = "info"  # not one of LEVELS: compared as text
        entries[9]["level"] = "error"
        store.append(entries)
        client = store._redis()
        members = client.zrange(store.order_key, 0, -1)
        expected = [entry for entry in store.iter_entries(LogQuery()) if query.matches(entry)]
        if path == "script":  # entries without records, as of a previous version
            emptied_slots(client, store.stats_ring_key, redis_records.STATS_RECORD, members[::4])
            emptied_slots(client, store.id_ring_key, redis_records.ID_RECORD, members[1::4])
            monkeypatch.setattr(store, "_whole_matching", lambda client, query: None)
        else:  # every entry has its records: the whole rings are read; some ids only in the fields
            unknown_ids(client, store.id_ring_key, members[1::4])
            monkeypatch.setattr(store, "_scanned_matching", None)

        page = store.query(dataclasses.replace(query, limit=1000))
        assert page.total == len(expected)
        assert [entry["id"] for entry in page.entries] == [entry["id"] for entry in expected]
        columns_equal(store.summary_columns(query, 1000), SummaryColumns.from_entries(expected))
    finally:
        store._redis().delete(*store.keys)
        store.close()
