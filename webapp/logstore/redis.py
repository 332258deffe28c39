"""Prediction log in Redis, shared by every app instance that uses the same prefix.

Keys: ``{prefix}:log:seq`` (id counter), ``{prefix}:log:order`` (sorted set: member = the id,
zero-padded; score = the entry's timestamp in epoch milliseconds, so equal scores sort by id),
``{prefix}:log:entries`` (hash: padded id -> the entry's JSON with its id; a logged prediction's
as ``[{...}]``, its factors and the sentences of its message as numbers of the phrase book
``{prefix}:log:phrases``, number -> the phrase's JSON, field 0 the book's token, indexed by
``{prefix}:log:phrase_numbers``: see phrases.py and PHRASE_SCRIPT),
``{prefix}:log:fields`` (hash: padded id -> the entry's SUMMARY_FIELDS as JSON, a tenth of its
size), and two rings, each one Redis string of fixed-size records, the entry of id ``n`` in slot
``n % slots``: ``{prefix}:log:stats_ring`` (its id and STATS, 41 bytes: STATS_RECORD) and
``{prefix}:log:request_id_ring`` (its id and request id, 73 bytes: ID_RECORD). A slot whose id is
not the entry's (zeros: trimmed; another id: taken by a later entry) has nothing for it. One Lua
script takes the ids, adds the entries and trims to ``max_entries`` atomically, so concurrent
writers never interleave or reuse ids; every trim clears the removed entries' slots.
A batch request's run of entries (blocks.runs) is written by BLOCK_SCRIPT instead: each entry
keeps its member of the sorted set and its ring records, but its body and fields are in no hash:
``{prefix}:log:blocks`` (hash: the run's last id, padded -> the block's JSON, blocks.py) holds
them all, found through ``{prefix}:log:block_index`` (sorted set: member the padded last id,
score the first id). Reads take from a block what the hashes lack; a trim deletes a block once
none of its entries remain.

Reads: a filtered page, and the summary, read the rings (the slots the log's ids take, else the
whole rings: a GETRANGE each, a few milliseconds for 100,000 entries, where a hash of 100,000
fields took over a hundred to send and parse) in one transaction with the log's size, and NumPy
filters, orders and counts them; only the page's bodies are read. When the rings lack some entry
of the log (written by a version before the rings, or displaced), FILTER_SCRIPT applies the
filters inside Redis instead, member by member, and the entries without a record are read from
their fields. The endpoint filter and the drift read the small fields; whole bodies are loaded
only for the entries returned: a page, or an export's chunk.
The previous version's hashes of packed stats and request ids (``{prefix}:log:stats``,
``{prefix}:log:request_ids``) are moved into the rings when a process first connects
(MIGRATE_SCRIPT), and trimmed with the rest until then.

A Redis without persistence that restarts comes back empty. The store notices and keeps the
reason in ``data_loss`` (reported by /health): the server's run id changed and the log holds fewer
entries than this process wrote, or the id counter went backwards under a write.

Here: the keys, the connection, the writes, the phrase book and the trims. The Lua scripts are in
redis_scripts.py, the ring records (STATS_RECORD, ID_RECORD) and APPEND_RECORD in
redis_records.py, and the reads in redis_reads.py (RedisReads, which RedisLogStore inherits).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence

import orjson
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from webapp.logstore import blocks
from webapp.logstore.base import (
    StoreUnavailable,
    drift_codes,
    entry_bytes,
    indexed_timestamp,
    timestamp_ms,
)
from webapp.logstore.entry import TIMESTAMP
from webapp.logstore.phrases import Phrases
from webapp.logstore.redis_reads import RedisReads
from webapp.logstore.redis_records import (
    APPEND_RECORD,
    RECORD_KEYS,
    SEPARATOR,
    block_records,
    id_record,
    joined_json,
    record_values,
    stats_values,
    summary_of,
)
from webapp.logstore.redis_scripts import (
    APPEND_SCRIPT,
    BLOCK_SCRIPT,
    BLOCKS_SCRIPT,
    FILTER_SCRIPT,
    MIGRATE_SCRIPT,
    PHRASE_SCRIPT,
    TRIM_SCRIPT,
    WINDOW_SCRIPT,
)
from webapp.settings import DEFAULTS

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 0.5
READ_TIMEOUT = 1.0
#: Entries removed per script call by age retention: a short step, so Redis never blocks long.
TRIM_CHUNK = 1000


class PhrasesChanged(StoreUnavailable):
    """The phrase book is not the one this process knew (Redis restarted empty): learn it again."""


def _command(*parts: bytes) -> bytes:
    """A Redis command of these arguments in the Redis protocol, written in one piece."""
    pieces = [b"*%d\r\n" % len(parts)]
    for part in parts:
        pieces += (b"$%d\r\n" % len(part), part, b"\r\n")
    return b"".join(pieces)


class RedisLogStore(RedisReads):
    """Log entries under ``{prefix}:log:*`` in the Redis at ``url``, newest ``max_entries`` kept."""

    kind = "redis"

    def __init__(
        self, url: str, prefix: str = DEFAULTS.redis_key_prefix, max_entries: int = DEFAULTS.log_max_entries
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.max_entries = max_entries
        self.seq_key = f"{prefix}:log:seq"
        self.order_key = f"{prefix}:log:order"
        self.entries_key = f"{prefix}:log:entries"
        self.fields_key = f"{prefix}:log:fields"
        self.stats_ring_key = f"{prefix}:log:stats_ring"
        self.id_ring_key = f"{prefix}:log:request_id_ring"
        # The previous version's: moved into the rings by MIGRATE_SCRIPT, trimmed meanwhile.
        self.old_stats_key = f"{prefix}:log:stats"
        self.old_request_ids_key = f"{prefix}:log:request_ids"
        #: A batch's entries kept together (blocks.py): padded last id -> the block's JSON, and
        #: the index that finds an id's block (member: its padded last id; score: its first id).
        self.blocks_key = f"{prefix}:log:blocks"
        self.block_index_key = f"{prefix}:log:block_index"
        #: The wording of logged predictions, once (phrases.py): never cleared with the log, as
        #: every process keeps the numbers it has seen.
        self.phrase_keys = (f"{prefix}:log:phrases", f"{prefix}:log:phrase_numbers")
        #: (process id, its phrase numbers, the token of the book they belong to).
        self._book: tuple[int, Phrases, bytes | None] | None = None
        self._client: redis.Redis | None = None
        self._script = None
        #: The connection appends use (the writer's own, see _evalsha), and its lock.
        self._append_connection = None
        self._append_lock = threading.Lock()
        self._append_keys = tuple(key.encode() for key in (*self.keys, self.phrase_keys[0]))
        #: An entry's timestamp up to its milliseconds -> that second's epoch ms (_ms).
        self._seconds: dict[str, int] = {}
        self._last_stamp: tuple[str | None, int] = (None, 0)
        self._pid: int | None = None
        self._migrated_pid: int | None = None
        self._run_id: str | None = None
        self._last_id = 0
        self._written = 0
        #: Why the log is known to have lost entries (Redis restarted empty), or None.
        self.data_loss: str | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key this store writes, in the scripts' KEYS order (RING_LUA)."""
        return (
            self.seq_key,
            self.order_key,
            self.entries_key,
            self.fields_key,
            self.stats_ring_key,
            self.id_ring_key,
            self.old_stats_key,
            self.old_request_ids_key,
            self.blocks_key,
            self.block_index_key,
        )

    def __repr__(self) -> str:
        return f"RedisLogStore(prefix={self.prefix!r}, max_entries={self.max_entries})"

    def _redis(self) -> redis.Redis:
        if self._client is None or self._pid != os.getpid():
            # Created in the process that uses it: a client inherited through fork is dropped.
            # No retries and short timeouts so an outage fails fast; the writer retries instead.
            client = redis.Redis.from_url(
                self.url,
                socket_connect_timeout=CONNECT_TIMEOUT,
                socket_timeout=READ_TIMEOUT,
                retry=Retry(NoBackoff(), 0),
            )
            self._script = client.register_script(APPEND_SCRIPT)
            self._block_script = client.register_script(BLOCK_SCRIPT)
            self._blocks_script = client.register_script(BLOCKS_SCRIPT)
            self._window_script = client.register_script(WINDOW_SCRIPT)
            self._filter_script = client.register_script(FILTER_SCRIPT)
            self._migrate_script = client.register_script(MIGRATE_SCRIPT)
            self._trim_script = client.register_script(TRIM_SCRIPT)
            self._phrase_script = client.register_script(PHRASE_SCRIPT)
            self._append_connection, self._append_lock = None, threading.Lock()
            self._client, self._pid = client, os.getpid()
        if self._migrated_pid != self._pid:
            self._migrate(self._client)
            self._migrated_pid = self._pid
        return self._client

    def _migrate(self, client: redis.Redis) -> None:
        """Move the previous version's hashes of packed stats and request ids into the rings,
        about 1,000 entries a script call, once a process. Several processes may do it at once:
        each call moves what it finds still there. A script that fails leaves those entries to be
        read from their fields."""
        if not client.exists(self.old_stats_key):
            return
        cursor, calls = 0, 0
        try:
            while True:
                cursor = int(
                    self._migrate_script(keys=list(self.keys), args=[self.max_entries, cursor], client=client)
                )
                calls += 1
                if cursor == 0:
                    break
        except redis.ResponseError as exc:
            logger.warning("Could not move the packed stats of %s into its rings: %s", self.prefix, exc)
            return
        logger.info("Moved the packed stats of %s into its rings (%d script calls)", self.prefix, calls)

    def _call(self, action):
        try:
            return action(self._redis())
        except redis.RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc

    def _phrases(self) -> tuple[Phrases, bytes | None]:
        if self._book is None or self._book[0] != os.getpid():
            self._book = (os.getpid(), Phrases(), None)
        return self._book[1], self._book[2]

    def _same_book(self, token: bytes | None) -> None:
        """Raise PhrasesChanged when `token` is not the book this process's numbers belong to
        (forgotten, so that the next pack or read learns the new book); adopt a first one."""
        phrases, known = self._phrases()
        if token is not None and known is not None and token == known:
            return
        if known is None and token is not None:
            self._book = (os.getpid(), phrases, token)
            return
        self._book = None
        raise PhrasesChanged(f"redis: the phrase book of {self.prefix} changed")

    def _store_phrases(self, texts: list[bytes]) -> dict[bytes, int]:
        found = self._call(
            lambda client: self._phrase_script(
                keys=list(self.phrase_keys), args=[os.urandom(8).hex(), *texts], client=client
            )
        )
        self._same_book(found[0])
        return dict(zip(texts, found[1:], strict=True))

    def _load_phrases(self, numbers: list[int]) -> dict[int, bytes]:
        found = self._call(lambda client: client.hmget(self.phrase_keys[0], [0, *numbers]))
        self._same_book(found[0])
        return {number: text for number, text in zip(numbers, found[1:], strict=True) if text is not None}

    def append(self, entries: Sequence[dict], runs: Sequence[tuple] = ()) -> None:
        if not entries:
            return
        # A batch request's run of entries is stored as one block (BLOCK_SCRIPT), the rest
        # entry by entry (APPEND_SCRIPT): one script call a run.
        inputs_at = {start: inputs for start, _, inputs in runs}
        for start, stop, is_block in blocks.runs(entries, known=runs):
            run = entries[start:stop]
            inputs = inputs_at.get(start)
            try:
                last = self._append_block(run, inputs) if is_block else self._append(run)
            except PhrasesChanged:  # Redis lost the book: pack again, with the book there is now
                last = self._append_block(run, inputs) if is_block else self._append(run)
            if int(last) - len(run) < self._last_id:
                self._lost(f"its id counter went back from {self._last_id} to {int(last) - len(run)}")
            self._last_id = int(last)
            self._written += len(run)
        if self._run_id is None:
            self._call(self._check_server)

    def _append_block(self, run: Sequence[dict], inputs=None) -> int:
        """BLOCK_SCRIPT for a run blocks.runs found: its entries' bodies as one block; entry by
        entry (_append) when the phrase book cannot pack its wording."""
        phrases, _ = self._phrases()
        encoded = blocks.encode(run, phrases, self._store_phrases, inputs)
        if encoded is None:
            return self._append(run)
        book = self._book
        token = book[2] if book is not None and book[1] is phrases else None
        if token is None:
            raise PhrasesChanged(f"redis: the phrase book of {self.prefix} changed while packing")
        first = run[0]
        ms = self._ms(first["timestamp"], first)
        args = (b"%d" % self.max_entries, token, encoded[0], block_records(run, ms))
        return self._run_append_script("_block_script", args)

    def _append(self, entries: Sequence[dict]) -> int:
        """APPEND_SCRIPT for the entries, their wording as phrase numbers where it can be."""
        phrases, _ = self._phrases()
        bodies = phrases.pack(entries, self._store_phrases)
        book = self._book
        token = book[2] if book is not None and book[1] is phrases else None
        if token is None and any(bodies):
            raise PhrasesChanged(f"redis: the phrase book of {self.prefix} changed while packing")
        # One pass over the entries for both (each entry's dict read while it is in the cache).
        pack, ms_of = APPEND_RECORD.pack, self._ms
        records, summaries = [], []
        # The batch's drift codes at once (drift_codes: the same codes; 1,000 in 2.0 ms instead of 4.6).
        for entry, body, drift in zip(entries, bodies, drift_codes(entries), strict=True):
            summaries.append(summary_of(entry, drift))
            try:
                stamp, level, prediction, probability, latency_ms, request_id = record_values(entry)
            except KeyError:  # an entry without some of them
                stamp, level, prediction, probability, latency_ms, request_id = map(entry.get, RECORD_KEYS)
            ms = ms_of(stamp, entry)
            records.append(
                pack(
                    ms,
                    body is not None,
                    *stats_values(ms, level, prediction, probability, latency_ms),
                    *id_record(request_id),
                )
            )
        if None in bodies:  # stored as they are
            bodies = [
                entry_bytes(entry) if body is None else body
                for entry, body in zip(entries, bodies, strict=True)
            ]
        args = (
            b"%d" % self.max_entries,
            token or b"",
            b"".join(records),
            SEPARATOR.join(bodies),  # bytes, as Redis takes them: no decode and no encode
            joined_json(summaries),
        )
        return self._run_append_script("_script", args)

    def _run_append_script(self, script: str, args: tuple[bytes, ...]) -> int:
        """The new last id from the script of that attribute (registered once connected);
        PhrasesChanged when the script found another phrase book."""
        try:
            return self._call(
                lambda client: self._evalsha(client, getattr(self, script), self._append_keys, args)
            )
        except StoreUnavailable as exc:
            if isinstance(exc.__cause__, redis.ResponseError) and str(exc.__cause__).startswith("PHRASES"):
                self._book = None
                raise PhrasesChanged(str(exc)) from exc
            raise

    def _ms(self, stamp, entry: dict) -> int:
        """timestamp_ms(indexed_timestamp(entry)), `stamp` being its timestamp, each second's
        part computed once (1.4 us a parse; single predictions mostly share their second, a
        batch's rows their timestamp)."""
        if type(stamp) is str:
            last = self._last_stamp
            if stamp == last[0]:
                return last[1]
            if stamp.isascii() and TIMESTAMP.fullmatch(stamp):
                second = self._seconds.get(stamp[:20])
                if second is None:
                    if len(self._seconds) >= 1024:
                        self._seconds.clear()
                    second = self._seconds[stamp[:20]] = timestamp_ms(stamp[:20] + "000Z")
                if second > 0:  # else before 1970 (timestamp_ms rounds towards 1970) or no date
                    ms = second + int(stamp[20:23])
                    self._last_stamp = (stamp, ms)
                    return ms
        return timestamp_ms(indexed_timestamp(entry))

    def _evalsha(self, client: redis.Redis, script, keys: tuple[bytes, ...], args: tuple[bytes, ...]):
        """The script's reply for the keys and args, on this store's own append connection:
        redis-py's command path (its connection pool, retry and observability hooks) cost some
        50 us of the writer's CPU a call, and its packing 1 us an entry of a batch; the command
        is written in one join instead."""
        with self._append_lock:
            connection = self._append_connection
            if connection is None:
                pool = client.connection_pool  # a connection of its own, not the pool's
                connection = self._append_connection = pool.connection_class(**pool.connection_kwargs)
            # As the pool checks a connection it hands out: one the server closed (it restarted),
            # or with a reply left unread, is connected again.
            connection.connect()
            try:
                if connection.can_read():
                    raise redis.ConnectionError("a reply was left unread")
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                connection.disconnect()
                connection.connect()
            keys_and_args = (b"%d" % len(keys), *keys, *args)
            try:
                connection.send_packed_command([_command(b"EVALSHA", script.sha.encode(), *keys_and_args)])
                return connection.read_response()
            except redis.exceptions.NoScriptError:  # a Redis that restarted, or was flushed
                connection.send_packed_command([_command(b"EVAL", script.script.encode(), *keys_and_args)])
                return connection.read_response()

    def _entries(self, client: redis.Redis, raws: list[bytes]) -> list[dict]:
        """Entries from their stored bodies, the wording of packed ones put back (phrases.py)."""
        loaded = [orjson.loads(raw) for raw in raws]
        packed = [type(value) is list for value in loaded]
        if not any(packed):
            return loaded
        bodies = [value[0] if is_packed else value for value, is_packed in zip(loaded, packed, strict=True)]
        self._known_book(client)
        self._phrases()[0].unpack(bodies, packed, self._load_phrases)
        return bodies

    def _known_book(self, client: redis.Redis) -> None:
        """Make sure the cached phrase numbers are the book's Redis holds (else learn it again)."""
        try:
            self._same_book(client.hget(self.phrase_keys[0], 0))
        except PhrasesChanged:
            self._phrases()
            self._same_book(client.hget(self.phrase_keys[0], 0))

    def _check_server(self, client: redis.Redis) -> None:
        """Remember the server's run id; a new one with fewer entries than written: data lost."""
        count = client.zcard(self.order_key)
        try:
            run_id = client.info("server").get("run_id")
        except redis.ResponseError:  # a managed Redis may refuse INFO: the id counter still tells
            return
        if (
            self._run_id is not None
            and run_id != self._run_id
            and self._written
            and count < min(self._written, self.max_entries)
        ):
            self._lost(
                f"it restarted (run id {self._run_id[:8]} -> {run_id[:8]}) and holds "
                f"{count} entries of the {min(self._written, self.max_entries)} this "
                "process wrote"
            )
        self._run_id = run_id

    def _lost(self, reason: str) -> None:
        self.data_loss = f"Redis lost log entries: {reason}"
        logger.error("%s (prefix %s)", self.data_loss, self.prefix)

    def clear(self) -> int:
        # The id counter stays: ids keep increasing after a clear, as in SQLite.
        def remove(client: redis.Redis) -> int:
            with client.pipeline(transaction=True) as pipe:
                pipe.zcard(self.order_key)
                pipe.delete(*self.keys[1:])
                count, _ = pipe.execute()
            return count

        return self._call(remove)

    def remove_older_than(self, cutoff: str) -> int:
        removed = 0
        while True:
            count = int(
                self._call(
                    lambda client: self._trim_script(
                        keys=list(self.keys), args=[timestamp_ms(cutoff), TRIM_CHUNK], client=client
                    )
                )
            )
            removed += count
            if count < TRIM_CHUNK:
                return removed

    def ping(self) -> None:
        self._call(self._check_server)

    def close(self) -> None:
        client, self._client = self._client, None
        connection, self._append_connection = self._append_connection, None
        if client is not None and self._pid == os.getpid():
            if connection is not None:
                connection.disconnect()
            client.close()
