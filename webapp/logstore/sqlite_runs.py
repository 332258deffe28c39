"""A SQLite log's batch blocks, one ``log_run`` row each, and how the readers read them beside
the entries' own rows.

A block (blocks.py) of 1,000 entries used to cost 1,000 rows of ``prediction_log`` and their
index entries, inserted and later removed, only so that every filter and page could read them.
Now a block is one row: what its entries share (timestamp, level, endpoint, request id, model
version, latency) as columns, what they do not (prediction, probability, drift code) as one small
blob of NumPy's bytes (RUN_COLUMNS), then the bodies. Its ids are still one an entry, first_id to
last_id, taken from the AUTOINCREMENT sequence in the write transaction (``insert``): the rows and
blocks written later get larger ones, exactly as if the entries had been rows.

A read asks the rows in SQL as before, and the blocks matching its filters (the shared fields in
SQL, the rest in NumPy: ``matching``), then ``merge`` lays both out in the log's order. A block's
entries share their timestamp and hold consecutive ids that no row has, so a block is one span of
the order (timestamp, then id, newest first): the merge compares a block to the rows once.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Sequence
from itertools import repeat
from typing import Any

import numpy as np

from webapp.logstore.base import EPOCH, LogQuery, Position

SCHEMA = """CREATE TABLE IF NOT EXISTS log_run (
    last_id INTEGER PRIMARY KEY,
    first_id INTEGER NOT NULL,
    oldest_id INTEGER NOT NULL,
    timestamp TEXT NOT NULL,
    level TEXT,
    endpoint TEXT,
    request_id TEXT,
    latency_ms REAL,
    model_version TEXT,
    columns BLOB NOT NULL,
    body BLOB NOT NULL
)"""
# oldest_id: the block's oldest entry still kept (first_id until the log's capacity cuts into the
# block). The bodies last: a read of the other columns does not go through their pages.

#: A block's per-entry columns, its entries in id order.
RUN_COLUMNS = np.dtype([("prediction", "<i8"), ("probability", "<f8"), ("drift", "<i8")])
#: The drift code None (the drift reads that entry's body) in RUN_COLUMNS.
NO_DRIFT_CODE = int(np.iinfo(np.int64).min)
#: The "packed" a read gives a block's entry (its "body" is then the block's last id): never stored.
RUN = 3

#: What the readers read of an entry, as SQL over prediction_log's row gives it (the log's
#: order last: "order", then "id").
READ_SQL = {
    "id": "id",
    "body": "body",
    "packed": "packed",
    "timestamp": f"NULLIF(timestamp, '{EPOCH}')",
    "seconds": f"unixepoch(NULLIF(timestamp, '{EPOCH}'))",
    "level": "level",
    "endpoint": "endpoint",
    "request_id": "request_id",
    "prediction": "prediction",
    "probability": "probability",
    "latency_ms": "latency_ms",
    "model_version": "model_version",
    "drift": "drift",
    "rejected": "level = 'WARNING'",
    "order": "timestamp",
}
#: The same of a block's entries that they share, as SQL over its log_run row.
SHARED_SQL = {
    **{
        name: sql
        for name, sql in READ_SQL.items()
        if name not in ("id", "prediction", "probability", "drift")
    },
    "body": "last_id",
    "packed": str(RUN),
}
_SHARED_NAMES = tuple(SHARED_SQL)

_INSERT = (
    "INSERT INTO log_run (last_id, first_id, oldest_id, timestamp, level, endpoint, request_id, latency_ms,"
    " model_version, columns, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def columns_of(entries: Sequence[dict], drift: Sequence[int | None]) -> bytes:
    """A block's RUN_COLUMNS: each prediction and probability as the entry's row keeps it (int,
    float); TypeError, ValueError or OverflowError for one that is not a number."""
    count = len(entries)
    columns = np.empty(count, RUN_COLUMNS)
    columns["prediction"] = np.fromiter((int(entry["prediction"]) for entry in entries), np.int64, count)
    columns["probability"] = np.fromiter(
        (float(entry["probability"]) for entry in entries), np.float64, count
    )
    columns["drift"] = [NO_DRIFT_CODE if code is None else code for code in drift]
    return columns.tobytes()


def insert(connection: sqlite3.Connection, count: int, shared: tuple, columns: bytes, body: bytes) -> None:
    """Write a block of `count` entries (shared: timestamp, level, endpoint, request id, latency,
    model version, as the rows keep them), within the caller's write transaction: its ids are the
    next `count` of prediction_log's AUTOINCREMENT sequence, which moves past them."""
    (last_id,) = connection.execute(
        "UPDATE sqlite_sequence SET seq = seq + ? WHERE name = 'prediction_log' RETURNING seq", (count,)
    ).fetchone() or (None,)
    if last_id is None:  # no row was ever written: the sequence starts here
        connection.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('prediction_log', ?)", (count,))
        last_id = count
    first_id = last_id - count + 1
    connection.execute(_INSERT, (last_id, first_id, first_id, *shared, columns, body))


def trim(floor: str) -> str:
    """The statements removing the blocks whose ids are all at or below `floor` (SQL), and the ids
    at or below it of the one block across it (the oldest one left)."""
    return (
        f"DELETE FROM log_run WHERE last_id <= {floor};"
        f" UPDATE log_run SET oldest_id = {floor} + 1"
        f" WHERE last_id = (SELECT min(last_id) FROM log_run) AND oldest_id <= {floor};"
    )


@dataclasses.dataclass(frozen=True)
class Run:
    """A block's entries matching a read, newest first: their ids and columns, and the values
    they share by READ_SQL's names."""

    timestamp: str
    last_id: int
    shared: dict[str, Any]
    ids: np.ndarray
    columns: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def values(self, name: str, stop: int) -> Sequence:
        """The first `stop` entries' values of the field `name`, as the rows' SQL reads it."""
        if name == "id":
            return self.ids[:stop].tolist()
        if name == "drift":
            return [None if code == NO_DRIFT_CODE else code for code in self.columns["drift"][:stop].tolist()]
        if name in ("prediction", "probability"):
            return self.columns[name][:stop].tolist()
        return repeat(self.shared[name], min(stop, len(self.ids)))


def matching(
    connection: sqlite3.Connection, where: str, params: list, query: LogQuery, after: Position | None
) -> list[Run]:
    """The blocks with entries matching `query`, in the log's order: `where` (SQL over log_run)
    filters by the shared fields and `after` at the block's oldest id; NumPy filters the rest."""
    found = connection.execute(
        f"SELECT last_id, first_id, oldest_id, columns, {', '.join(SHARED_SQL.values())}"
        f" FROM log_run{where} ORDER BY timestamp DESC, last_id DESC",
        params,
    )
    after_stamp = None if after is None else after.timestamp
    runs = []
    for last_id, first_id, oldest_id, blob, *shared_values in found:
        shared = dict(zip(_SHARED_NAMES, shared_values, strict=True))
        columns = np.frombuffer(blob, RUN_COLUMNS)[oldest_id - first_id :][::-1]
        ids = np.arange(last_id, oldest_id - 1, -1, dtype=np.int64)
        keep = np.ones(len(ids), dtype=bool)
        if query.prediction is not None:
            keep &= columns["prediction"] == query.prediction
        if query.min_probability is not None:
            keep &= columns["probability"] >= query.min_probability
        if query.max_probability is not None:
            keep &= columns["probability"] <= query.max_probability
        if after is not None and shared["order"] == after_stamp:
            keep &= ids < after.id
        if not keep.all():
            ids, columns = ids[keep], columns[keep]
        if len(ids):
            runs.append(Run(shared["order"], last_id, shared, ids, columns))
    return runs


def merge(rows: list[tuple], runs: list[Run], fields: Sequence[str], count: int) -> list[tuple]:
    """The first `count` entries of the rows and the runs together, in the log's order, as tuples
    of `fields`. Each row is those fields, then its "order" and "id" (the key compared, left out
    of the result); both lists are in the log's order."""
    width = len(fields)
    merged: list[tuple] = []
    index = 0
    for run in runs:
        key = (run.timestamp, run.last_id)
        while index < len(rows) and len(merged) < count and rows[index][width:] > key:
            merged.append(rows[index][:width])
            index += 1
        if len(merged) >= count:
            return merged
        stop = count - len(merged)
        merged.extend(zip(*(run.values(name, stop) for name in fields), strict=True))
    merged.extend(row[:width] for row in rows[index : index + count - len(merged)])
    return merged
