"""Prediction log in one SQLite file, shared by several worker processes and threads.

A logged prediction's wording (its factors and the sentences of its message, three quarters of
its 2.6 KB) is kept once in ``log_phrase`` and referenced by number (phrases.py): SQLite's work
follows the bytes written. Reads put it back, so every entry reads as it was given. A batch
request's entries are one ``log_run`` row a run (blocks.py, sqlite_runs.py): their shared fields
as columns, their predictions, probabilities and drift codes as one blob, their bodies together;
every reader reads those rows beside the entries' own, and a page decodes the bodies it shows.

WAL mode lets readers run while one writer writes; ``busy_timeout`` makes concurrent
writers wait for each other instead of failing. Each thread of each process opens its own
connection lazily, so nothing opened before a fork is ever used after it.

The file can change under a running service. Deleted or replaced: every connection of the
process refuses to go on (StoreUnavailable, so /health says why on every worker and entries wait
in the buffer) rather than write into the unlinked file or mix the old file's write-ahead log into
the new one (SQLite's -wal and -shm files go by name, so a reopen while other workers still hold
the old file can corrupt the new one); a restart opens the new file. Made read-only or broken:
the connection is dropped after any error that is not the entry's own fault, so one opened
read-only is not kept once the file is writable again; ``ping`` fails while the file or its
folder is not writable or the last write failed that way, and recovers at the next good write.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import logging
import operator
import os
import pathlib
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import orjson

from webapp.logstore import blocks, sqlite_runs
from webapp.logstore.base import (
    EPOCH,
    SUMMARY_FIELDS,
    DriftWindow,
    LogPage,
    LogQuery,
    LogStore,
    Position,
    StoreUnavailable,
    SummaryColumns,
    as_number,
    drift_code,
    drift_codes,
    entry_json,
    indexed_timestamp,
    page_from_matches,
    timestamp_ms,
)
from webapp.logstore.phrases import Phrases
from webapp.settings import DEFAULTS

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
#: The log's order (see base.Position); the timestamp index holds the rowid, so it serves it.
ORDER = "ORDER BY timestamp DESC, id DESC"
ITER_CHUNK = 500
#: Rows removed per transaction by age retention, so the write lock is never held for long.
TRIM_CHUNK = 5000
#: Page size of a new file. An entry's body is about 3 KB, so SQLite's default 4 KB pages hold
#: one entry each and waste a quarter of every page written (to the write-ahead log, then again
#: to the file); 16 KB pages hold five: half the writer's SQLite CPU time an entry (1,000 entries:
#: 31 ms to 16 ms, and 55 to 23 once the oldest are trimmed at every write). A file made with
#: another page size keeps it (changing it would take a VACUUM).
PAGE_SIZE = 16384
#: The write-ahead log is copied into the file when it reaches this size (SQLite's default,
#: 1,000 pages of 4 KB), whatever the page size.
WAL_CHECKPOINT_BYTES = 4 * 1024 * 1024

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS prediction_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        timestamp TEXT NOT NULL,
        level TEXT,
        endpoint TEXT,
        request_id TEXT,
        prediction INTEGER,
        probability REAL,
        body TEXT NOT NULL
    )""",
    # The wording many entries share (phrases.py): a phrase's JSON, once.
    "CREATE TABLE IF NOT EXISTS log_phrase (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE)",
    sqlite_runs.SCHEMA,
)
#: Columns the pages read without the body (read_columns), added to a file made before them.
READ_COLUMNS = (("latency_ms", "REAL"), ("model_version", "TEXT"), ("drift", "INTEGER"))
#: 1 when the body keeps its wording as phrase numbers (phrases.py); NULL: the entry's JSON as it
#: is (every entry written before, and entries that are not packed).
PACKED_COLUMN = "packed"
#: One index, for the log's order (timestamp, then id) and holding every column but the body, so
#: that counts, filters, the summary and the drift read the index alone, never the table's
#: pages (each entry's body fills most of a page). Each further index would cost every insert
#: on the request path's writer (6 indexes: 25 us an entry, 1 index: 11 us), so there is one.
READ_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_log_read ON prediction_log (timestamp, id, level, endpoint,"
    " prediction, probability, latency_ms, model_version, drift, request_id)"
)

_INSERT = (
    "INSERT INTO prediction_log (timestamp, level, endpoint, request_id, prediction, probability, body,"
    " latency_ms, model_version, drift, packed) VALUES "
)
_ROW = "(" + ", ".join("?" * 11) + ")"
#: Rows inserted by one statement at most (the writer hands over up to 500 at a time). The sqlite3
#: module lets other threads run during each step of a statement, and executemany takes one step
#: a row: under load the writer then waited for the busy request threads to hand the GIL back
#: after every row (up to the 5 ms switch interval each), wrote fewer entries a second than the
#: workers answered, and the buffer dropped the rest. A statement of many rows is one step
#: (500 rows with two request threads busy: 21-63 ms instead of 48-214); same rows, order, ids.
INSERT_ROWS = 500


def _insert(rows: int) -> str:
    return _INSERT + ", ".join([_ROW] * rows)


def _use_wal(connection: sqlite3.Connection) -> None:
    """Put the file in WAL mode (kept by the file once set).

    Two connections opening a new file at once (a worker's writer and a request reading the log,
    or two workers at their first request) race to switch it: SQLite refuses the loser at once,
    "database is locked", without waiting its busy_timeout, and the log reported itself failing
    for a second. The switch is retried within the busy timeout instead."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.005)


def _rows(entries: Sequence[dict], packed: Sequence[bytes | None]) -> list[tuple[Any, ...]]:
    """Each entry's indexed columns plus its JSON body (`packed`: the body with its wording as
    phrase numbers, None: the entry's JSON); ValueError for a prediction that is not a number.

    A batch at once: the drift codes found together (drift_codes), and the indexed timestamp
    once for each timestamp text (a batch's entries share theirs)."""
    stamps: dict[str, str] = {}
    rows = []
    for entry, body, drift in zip(entries, packed, drift_codes(entries), strict=True):
        # Straight-line gets, no generator: this runs for every entry on the writer's path.
        get = entry.get
        raw = get("timestamp")
        stamp = stamps.get(raw) if type(raw) is str else None
        if stamp is None:
            stamp = indexed_timestamp(entry)
            if type(raw) is str:
                stamps[raw] = stamp
        level, request_id, prediction, probability = (
            get("level"),
            get("request_id"),
            get("prediction"),
            get("probability"),
        )
        latency, version = get("latency_ms"), get("model_version")
        rows.append(
            (
                stamp,
                level.upper() if isinstance(level, str) else level,
                get("endpoint"),
                None if request_id is None else str(request_id),
                None if prediction is None else int(prediction),
                None if probability is None else float(probability),
                entry_json(entry) if body is None else body.decode(),
                # read_columns, inline
                as_number(latency),
                version if isinstance(version, str) else None,
                drift,
                None if body is None else 1,
            )
        )
    return rows


def _step(connection: sqlite3.Connection, values: int, once: int = 0) -> int:
    """Rows a statement of `values` parameters a row (and `once` more) may insert: INSERT_ROWS,
    within SQLite's limit on a statement's parameters (32,766 since 3.32, 999 before)."""
    return min(INSERT_ROWS, (connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - once) // values)


def _insert_rows(connection: sqlite3.Connection, rows: list[tuple]) -> None:
    """Insert the rows as _rows makes them, _step a statement."""
    step = _step(connection, len(rows[0]))
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        connection.execute(_insert(len(chunk)), [value for row in chunk for value in row])


@contextlib.contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE (the write lock up front, so ids are handed out in commit order) ... COMMIT."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


@contextlib.contextmanager
def _snapshot(connection: sqlite3.Connection) -> Iterator[None]:
    """One read transaction (in WAL mode, one snapshot of the file) for the statements of a read,
    so that the rows and blocks it merges are of one moment; inside one already open, that one."""
    if connection.in_transaction:
        yield
        return
    connection.execute("BEGIN")
    try:
        yield
    finally:
        connection.execute("COMMIT")


def read_columns(entry: dict) -> tuple[Any, ...]:
    """The READ_COLUMNS of an entry: its latency when a number, model version, drift code."""
    latency, version = entry.get("latency_ms"), entry.get("model_version")
    return (
        as_number(latency),
        version if isinstance(version, str) else None,
        drift_code(entry),
    )


def _file_at_fault(exc: BaseException | None) -> bool:
    """Errors of the file or the disk (read-only, full, I/O, locked, not a database), not of an
    entry's values (those raise IntegrityError, DataError, ProgrammingError or InterfaceError)."""
    return type(exc) in (sqlite3.OperationalError, sqlite3.DatabaseError)


def _where(query: LogQuery, *, with_cursor: bool, runs: bool = False) -> tuple[str, list[Any]]:
    """The WHERE clause of `query` over prediction_log; over log_run (`runs`): of the fields a
    block's entries share, the cursor compared with its oldest id (sqlite_runs.matching)."""
    clauses: list[str] = []
    params: list[Any] = []
    conditions = (
        ("level = ?", query.level),
        ("endpoint = ?", query.endpoint),
        ("prediction = ?", None if runs else query.prediction),
        ("probability >= ?", None if runs else query.min_probability),
        ("probability <= ?", None if runs else query.max_probability),
        ("timestamp >= ?", query.since),
        ("timestamp <= ?", query.until),
        # instr() rather than LIKE so '%' and '_' in the search text are literal.
        (
            "instr(lower(request_id), ?) > 0",
            query.request_id.lower() if query.request_id is not None else None,
        ),
    )
    for clause, value in conditions:
        if value is not None:
            clauses.append(clause)
            params.append(value)
    after = query.after if with_cursor else None
    if after is not None:
        clauses.append(f"(timestamp < ? OR (timestamp = ? AND {'oldest_id' if runs else 'id'} < ?))")
        params += [after.timestamp, after.timestamp, after.id]
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _migrate(connection: sqlite3.Connection) -> None:
    """Bring a file written by an earlier version up to date: add the READ_COLUMNS, filled from
    each entry's body, and replace the timestamp-only index by READ_INDEX. Under the write lock,
    so the workers opening one file at once migrate it once."""
    columns = {row[1] for row in connection.execute("PRAGMA table_info(prediction_log)")}
    indexes = {row[1] for row in connection.execute("PRAGMA index_list(prediction_log)")}
    migrated = "ix_log_read" in indexes and "ix_log_timestamp" not in indexes
    if migrated and columns.issuperset([PACKED_COLUMN, *(name for name, _ in READ_COLUMNS)]):
        return
    connection.execute("BEGIN IMMEDIATE")
    try:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(prediction_log)")}
        missing = [(name, kind) for name, kind in READ_COLUMNS if name not in columns]
        for name, kind in missing:
            connection.execute(f"ALTER TABLE prediction_log ADD COLUMN {name} {kind}")
        if missing:
            rows = connection.execute("SELECT id, body FROM prediction_log").fetchall()
            connection.executemany(
                "UPDATE prediction_log SET latency_ms = ?, model_version = ?, drift = ? WHERE id = ?",
                [(*read_columns(_body(body)), entry_id) for entry_id, body in rows],
            )
            logger.info("Filled the read columns of %d log entries", len(rows))
        if PACKED_COLUMN not in columns:
            # The entries already written keep their bodies as they are (NULL): read as before.
            connection.execute(f"ALTER TABLE prediction_log ADD COLUMN {PACKED_COLUMN} INTEGER")
        connection.execute(READ_INDEX)
        connection.execute("DROP INDEX IF EXISTS ix_log_timestamp")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def _body(text: str) -> dict:
    """An entry's body as written; an empty one for text that is not a JSON object (the entry is
    then read without its latency, model version and drift code rather than stop the migration)."""
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


#: The block holding an id, if any: (its oldest id kept, last id, first id, body).
_RUN_HOLDING = (
    "SELECT oldest_id, last_id, first_id, body FROM log_run WHERE last_id >= ? ORDER BY last_id LIMIT 1"
)


#: What a removal of blocks returns: how many entries each held.
_RUN_SPAN = "RETURNING last_id - oldest_id + 1"


def _removed_entries(cursor: sqlite3.Cursor) -> int:
    return sum(row[0] for row in cursor.fetchall())


class SQLiteLogStore(LogStore):
    """Log entries in the SQLite file at ``path``, keeping the newest ``max_entries``."""

    kind = "sqlite"

    def __init__(self, path: str | os.PathLike, max_entries: int = DEFAULTS.log_max_entries) -> None:
        self.path = pathlib.Path(path)
        self.max_entries = max_entries
        self._local = threading.local()
        #: The file (device, inode) each process opened first: another file there is refused.
        self._opened: dict[int, tuple[int, int] | None] = {}
        #: Why the last write failed, when the file (not the entry) was at fault; None after a
        #: write succeeds.
        self._write_failure: str | None = None
        #: The phrase numbers of the file this process opened (a child learns them again).
        self._phrases: tuple[int, Phrases] | None = None

    def __repr__(self) -> str:
        return f"SQLiteLogStore({str(self.path)!r}, max_entries={self.max_entries})"

    def _connection(self) -> sqlite3.Connection:
        local = self._local
        opened = self._opened.get(os.getpid())
        if opened is not None and opened != self._identity():
            raise StoreUnavailable(
                f"sqlite {self.path}: the file was deleted or replaced while in use; entries wait "
                "in the buffer: restart the API to open the new file"
            )
        if getattr(local, "pid", None) != os.getpid():
            # First use in this thread, or a connection inherited through fork: never reuse it.
            local.connection = self._connect()
            local.pid = os.getpid()
            self._opened.setdefault(os.getpid(), self._identity())
        return local.connection

    def _phrasebook(self) -> Phrases:
        if self._phrases is None or self._phrases[0] != os.getpid():
            self._phrases = (os.getpid(), Phrases())
        return self._phrases[1]

    def _store_phrases(self, texts: list[bytes]) -> dict[bytes, int]:
        """The numbers of these phrases (JSON), added to the file when new, committed before any
        entry refers to them (a phrase whose entries then fail to be written is kept all the same)."""

        def store(connection: sqlite3.Connection) -> dict[bytes, int]:
            decoded = [text.decode() for text in texts]
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.executemany(
                    "INSERT OR IGNORE INTO log_phrase (text) VALUES (?)", [(text,) for text in decoded]
                )
                numbers = {}
                for start in range(0, len(decoded), INSERT_ROWS):
                    chunk = decoded[start : start + INSERT_ROWS]
                    found = connection.execute(
                        f"SELECT id, text FROM log_phrase WHERE text IN ({','.join('?' * len(chunk))})", chunk
                    )
                    numbers.update((text.encode(), number) for number, text in found)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            return numbers

        return self._run(store)

    def _load_phrases(self, numbers: list[int]) -> dict[int, bytes]:
        found: dict[int, bytes] = {}
        for start in range(0, len(numbers), INSERT_ROWS):
            chunk = numbers[start : start + INSERT_ROWS]
            rows = self._run(
                lambda connection, chunk=chunk: connection.execute(
                    f"SELECT id, text FROM log_phrase WHERE id IN ({','.join('?' * len(chunk))})", chunk
                ).fetchall()
            )
            found.update((number, text.encode()) for number, text in rows)
        return found

    def _entries(self, rows: list[tuple]) -> list[dict]:
        """Entries from their rows (id, body, packed), with the wording of packed ones put back and
        the bodies of a block's entries (RUN) read from it (an entry whose block is gone is
        skipped)."""
        in_runs = [row[0] for row in rows if row[2] == sqlite_runs.RUN]
        if not in_runs:
            return self._own_entries(rows)
        found = self._block_entries(in_runs)
        own = self._own_entries([row for row in rows if row[2] != sqlite_runs.RUN])
        found.update((entry["id"], entry) for entry in own)
        return [found[row[0]] for row in rows if row[0] in found]

    def _own_entries(self, rows: list[tuple]) -> list[dict]:
        bodies = [orjson.loads(row[1]) for row in rows]
        packed = [row[2] is not None for row in rows]
        if any(packed):
            self._phrasebook().unpack(bodies, packed, self._load_phrases)
        return [{"id": row[0], **body} for row, body in zip(rows, bodies, strict=True)]

    def _block_entries(self, ids: list[int]) -> dict[int, dict]:
        """The entries of these ids by id, from their blocks (_RUN_HOLDING): each block holding
        some read once, for those."""
        wanted = sorted(ids)
        found: dict[int, dict] = {}
        index = 0
        while index < len(wanted):
            block = self._run(
                lambda connection, entry_id=wanted[index]: connection.execute(
                    _RUN_HOLDING, (entry_id,)
                ).fetchone()
            )
            if block is None:
                break
            oldest_id, last_id, first_id, body = block
            stop = bisect.bisect_right(wanted, last_id, index)
            held = [entry_id for entry_id in wanted[index:stop] if entry_id >= oldest_id]
            if held:
                found.update(blocks.decode(body, first_id, held, self._phrasebook(), self._load_phrases))
            index = stop
        return found

    def _identity(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return stat.st_dev, stat.st_ino

    def _drop_connection(self) -> None:
        local = self._local
        connection = getattr(local, "connection", None)
        if connection is not None and getattr(local, "pid", None) == os.getpid():
            try:
                connection.close()
            except sqlite3.Error:
                pass  # a broken file: the connection is dropped all the same
        local.pid = local.connection = None

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=True,
            )
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # Before WAL: a new file takes PAGE_SIZE; a file made before keeps its own.
            connection.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            _use_wal(connection)
            connection.execute("PRAGMA synchronous = NORMAL")
            (page_size,) = connection.execute("PRAGMA page_size").fetchone()
            connection.execute(f"PRAGMA wal_autocheckpoint = {max(WAL_CHECKPOINT_BYTES // page_size, 1)}")
            with connection:
                for statement in SCHEMA:
                    connection.execute(statement)
            _migrate(connection)
            # This connection's inserts remove the entries past max_entries in the same statement
            # (TEMP triggers: this connection's only, the file is not changed; see _append): range
            # deletes of the rows and blocks whose ids are all older, and the oldest ids of the
            # block across the line (sqlite_runs.trim).
            keep = int(self.max_entries)
            for table, newest in (("prediction_log", "NEW.id"), ("log_run", "NEW.last_id")):
                floor = f"{newest} - {keep}"
                connection.execute(
                    f"CREATE TEMP TRIGGER IF NOT EXISTS keep_newest_{table} AFTER INSERT ON main.{table} BEGIN"
                    f" DELETE FROM prediction_log WHERE id <= {floor}; {sqlite_runs.trim(floor)} END"
                )
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc
        logger.debug("Opened prediction log %s in process %d", self.path, os.getpid())
        return connection

    def _run(self, action, *args):
        try:
            return action(self._connection(), *args)
        except sqlite3.Error as exc:
            if _file_at_fault(exc):
                self._drop_connection()  # e.g. opened read-only: reopen at the next call
            raise StoreUnavailable(f"sqlite {self.path}: {exc}") from exc

    def append(self, entries: Sequence[dict], runs: Sequence[tuple] = ()) -> None:
        if not entries:
            return
        try:
            cuts = blocks.runs(entries, known=runs)
            if len(cuts) == 1 and not cuts[0][2]:
                packed = self._phrasebook().pack(entries, self._store_phrases)
                self._run(self._append, _rows(entries, packed))
            else:
                self._run(self._append_parts, self._parts(entries, cuts, runs))
        except StoreUnavailable as exc:
            if _file_at_fault(exc.__cause__):
                self._write_failure = str(exc)
            raise
        self._write_failure = None

    def _parts(
        self, entries: Sequence[dict], cuts: list[tuple[int, int, bool]], runs: Sequence[tuple] = ()
    ) -> list[tuple]:
        """Each run, in order: (rows as _rows makes them,) or a block's (count, shared columns,
        RUN_COLUMNS, body) for sqlite_runs.insert; `runs` as append's. Their phrases are stored
        first, in transactions of their own (as pack() does)."""
        phrases = self._phrasebook()
        inputs_at = {start: inputs for start, _, inputs in runs}
        parts: list[tuple] = []
        for start, stop, is_block in cuts:
            run = entries[start:stop]
            encoded = (
                blocks.encode(run, phrases, self._store_phrases, inputs_at.get(start)) if is_block else None
            )
            columns = None
            if encoded is not None:
                body, drift = encoded
                with contextlib.suppress(TypeError, ValueError, OverflowError):  # _rows says why
                    columns = sqlite_runs.columns_of(run, drift)
            if columns is None:
                parts.append((_rows(run, phrases.pack(run, self._store_phrases)),))
            else:
                stamp, level, endpoint, request_id, _, _, _, latency, version, _, _ = _rows(run[:1], [b""])[0]
                parts.append(
                    (len(run), (stamp, level, endpoint, request_id, latency, version), columns, body)
                )
        return parts

    def _append_parts(self, connection: sqlite3.Connection, parts: list[tuple]) -> None:
        """Insert each part's rows or block (its ids reserved, then its row: sqlite_runs.insert) in
        one write transaction; each insert's trigger removes the oldest rows and blocks. Four
        statements for a block of 500 (BEGIN, its ids, its row, COMMIT) where _append takes one:
        the writer may wait for the GIL three more times while it holds the write lock."""
        with _transaction(connection):
            for part in parts:
                if len(part) == 1:
                    _insert_rows(connection, part[0])
                else:
                    sqlite_runs.insert(connection, *part)

    def _append(self, connection: sqlite3.Connection, rows: list[tuple]) -> None:
        """Insert the rows; the trigger made in _connect removes the oldest as they go in (ids are
        contiguous: only the oldest rows or all rows are ever deleted, so the newest max_entries
        are the ids above the newest id less max_entries); a block's row fires its own
        (_append_parts), so every transaction ends with the newest max_entries.

        The sqlite3 module lets go of the GIL around each statement and waits for it again after:
        with the request threads busy, up to a switch interval (5 ms) each time, while this writer
        held SQLite's write lock. So the rows of one append (the writer hands over up to 500) go
        in by one statement, its own transaction, rather than BEGIN, INSERT, DELETE and COMMIT."""
        if len(rows) <= _step(connection, len(rows[0])):
            # Takes the write lock at its first step, so ids are handed out in commit order.
            connection.execute(_insert(len(rows)), [value for row in rows for value in row])
            return
        with _transaction(connection):
            _insert_rows(connection, rows)

    def query(self, query: LogQuery) -> LogPage:
        return self._run(self._query, query)

    def _read(
        self,
        connection: sqlite3.Connection,
        query: LogQuery,
        fields: Sequence[str],
        count: int,
        *,
        with_cursor: bool = True,
        offset: int = 0,
    ) -> list[tuple]:
        """The first `count` entries matching `query` past `offset`, the rows' and the blocks'
        alike, in the log's order: tuples of `fields` (sqlite_runs.READ_SQL)."""
        with _snapshot(connection):
            runs = self._matching_runs(connection, query, with_cursor=with_cursor)
            # The rows' order only when there are blocks to merge: two more columns a row cost a
            # third more to fetch 50,000 rows (118 to 162 ms).
            names = (*fields, "order", "id") if runs else fields
            # Without blocks, SQL skips the offset; with them, the merge does.
            limit, skip = (count + offset, 0) if runs else (count, offset)
            where, params = _where(query, with_cursor=with_cursor)
            rows = connection.execute(
                f"SELECT {', '.join(sqlite_runs.READ_SQL[name] for name in names)} FROM prediction_log{where}"
                f" {ORDER} LIMIT ? OFFSET ?",
                [*params, limit, skip],
            ).fetchall()
        return sqlite_runs.merge(rows, runs, fields, count + offset)[offset:] if runs else rows

    def _matching_runs(
        self, connection: sqlite3.Connection, query: LogQuery, *, with_cursor: bool
    ) -> list[sqlite_runs.Run]:
        where, params = _where(query, with_cursor=with_cursor, runs=True)
        return sqlite_runs.matching(connection, where, params, query, query.after if with_cursor else None)

    def _query(self, connection: sqlite3.Connection, query: LogQuery) -> LogPage:
        where, params = _where(query, with_cursor=False)
        with _snapshot(connection):
            total = connection.execute(f"SELECT count(*) FROM prediction_log{where}", params).fetchone()[0]
            total += sum(map(len, self._matching_runs(connection, query, with_cursor=False)))
            # One entry more than asked tells whether another page follows.
            rows = self._read(
                connection, query, ("id", "body", "packed"), query.limit + 1, offset=query.offset
            )
        # The offset is already skipped.
        return page_from_matches(iter(self._entries(rows)), total, dataclasses.replace(query, offset=0))

    def iter_entries(self, query: LogQuery) -> Iterator[dict]:
        # Keyset chunks: no read transaction stays open while the caller consumes entries.
        cursor = query.cursor
        while True:
            chunk_query = dataclasses.replace(query, cursor=cursor)
            rows = self._run(self._read, chunk_query, ("id", "body", "packed", "order"), ITER_CHUNK)
            entries = self._entries(rows)
            yield from entries
            if len(rows) < ITER_CHUNK:
                return
            last = rows[-1]
            read = entries and entries[-1]["id"] == last[0]
            cursor = str(Position.of(entries[-1]) if read else Position(timestamp_ms(last[3]), last[0]))

    def summary_entries(self, query: LogQuery, cap: int) -> list[dict]:
        # The index's columns and the blocks' (no body is loaded in Python). A timestamp that did
        # not parse is indexed as EPOCH: given back as missing, as in the body.
        rows = self._run(
            lambda connection: self._read(connection, query, SUMMARY_FIELDS, cap, with_cursor=False)
        )
        return [dict(zip(SUMMARY_FIELDS, row, strict=False)) for row in rows]

    def summary_columns(self, query: LogQuery, cap: int) -> SummaryColumns:
        # Read from the index and the blocks' columns alone: no body is touched.
        fields = ("seconds", "prediction", "probability", "latency_ms", "rejected")
        rows = self._run(lambda connection: self._read(connection, query, fields, cap, with_cursor=False))
        return SummaryColumns.from_rows(rows)

    def drift_window(self, query: LogQuery, last: int) -> DriftWindow:
        # The drift codes from the index and the blocks; a body only for an entry the code cannot
        # describe.
        rows = self._run(self._read, query, ("drift", "prediction", "timestamp", "model_version", "id"), last)
        return DriftWindow.from_coded(rows, self._bodies)

    def _bodies(self, ids: list[int]) -> list[dict]:
        rows = self._run(
            lambda connection: connection.execute(
                f"SELECT id, body, packed FROM prediction_log WHERE id IN ({','.join('?' * len(ids))})", ids
            ).fetchall()
        )
        entries = self._entries(rows)
        found = {entry["id"] for entry in entries}
        in_runs = self._block_entries([entry_id for entry_id in ids if entry_id not in found])
        # By id, as SQLite gives a lookup of ids alone.
        return sorted([*entries, *in_runs.values()], key=operator.itemgetter("id"))

    def clear(self) -> int:
        def clear(connection: sqlite3.Connection) -> int:
            with _transaction(connection):
                removed = connection.execute("DELETE FROM prediction_log").rowcount
                removed += _removed_entries(connection.execute(f"DELETE FROM log_run {_RUN_SPAN}"))
            return removed

        return self._run(clear)

    def remove_older_than(self, cutoff: str) -> int:
        # A range of the timestamp index, in chunks: each a short write transaction.
        removed = 0
        while True:
            count = self._run(
                lambda connection: (
                    connection.execute(
                        "DELETE FROM prediction_log WHERE id IN (SELECT id FROM prediction_log"
                        " WHERE timestamp > ? AND timestamp < ? LIMIT ?)",
                        (EPOCH, cutoff, TRIM_CHUNK),
                    ).rowcount
                )
            )
            removed += count
            if count < TRIM_CHUNK:
                break
        # A block's entries share their timestamp: removed together, a block a row.
        removed += self._run(
            lambda connection: _removed_entries(
                connection.execute(
                    f"DELETE FROM log_run WHERE timestamp > ? AND timestamp < ? {_RUN_SPAN}", (EPOCH, cutoff)
                )
            )
        )
        return removed

    def ping(self) -> None:
        """Fails while the log cannot be written: file or folder not writable, last write failed."""
        for path in (self.path, self.path.parent):
            if path.exists() and not os.access(path, os.W_OK):
                raise StoreUnavailable(f"sqlite {self.path}: {path} is not writable")
        self._run(lambda connection: connection.execute("SELECT count(*) FROM sqlite_master"))
        if self._write_failure:
            raise StoreUnavailable(self._write_failure)

    def close(self) -> None:
        self._drop_connection()
        self._local = threading.local()
        self._opened.pop(os.getpid(), None)
        self._phrases = None  # the file opened next may be another one
