"""How the Redis prediction log is read: RedisReads, the reading half of RedisLogStore (redis.py),
which inherits it. A page, an export, the summary and the drift window are read from the sorted
set's window, the small fields hash and the rings (read whole and filtered by NumPy, else
FILTER_SCRIPT inside Redis); whole bodies only for the entries returned. A batch's entries have
neither body nor fields in the hashes: both are read from their block (BLOCKS_SCRIPT finds it,
blocks.decode and _block_fields give them as the hashes would). The keys, the
connection (``_call``), the registered scripts and the phrase book (``_entries``) are
RedisLogStore's; redis.py's docstring describes the key layout.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import orjson
import redis

from webapp.logstore import blocks
from webapp.logstore.base import (
    SUMMARY_FIELDS,
    DriftWindow,
    LogPage,
    LogQuery,
    LogStore,
    Position,
    SummaryColumns,
    indexed_timestamp,
    page_from_matches,
    page_windows,
    summary_fields,
    timestamp_ms,
)
from webapp.logstore.redis_records import (
    GONE,
    ID_RECORD,
    LEVELS,
    OTHER_LEVEL,
    STATS,
    STATS_RECORD,
    STATS_STRUCT,
    packed_stats,
    search_ids,
    stats_milliseconds,
)

#: Bodies fetched per HMGET when reading many entries.
FETCH_CHUNK = 500

#: Summary fields read per round trip when filtering.
FIELDS_CHUNK = 2000
#: Members (with their stats) read per call of the window and filter scripts.
WINDOW_CHUNK = 10_000
#: Slots read beyond those the log's ids normally take (at least; a sixteenth of the log if more).
RING_MARGIN = 1024
#: A window is read from the rings only up to this many entries in the log (at a million, 114 MB
#: of records in one transaction); a larger log is filtered by FILTER_SCRIPT, in chunks.
WHOLE_READ_MAX = 1_000_000


def _loaded(raw: bytes) -> dict:
    """A stored body as a dict; one with its wording as phrase numbers is [{...}] (still packed)."""
    value = orjson.loads(raw)
    return value[0] if type(value) is list else value


def _block_fields(body: bytes, first_id: int, ids: list[int]) -> dict[int, dict]:
    """The summary fields of these ids of a block, as APPEND_SCRIPT keeps an entry's in the
    fields hash (summary_of with the id first): the same keys in the same order."""
    block = orjson.loads(body)
    shared = block["shared"]
    columns = {key: block[key] for key in ("prediction", "probability", "drift")}
    fields = {}
    for entry_id in ids:
        at = entry_id - first_id
        fields[entry_id] = {
            key: entry_id if key == "id" else shared[key] if key in shared else columns[key][at]
            for key in SUMMARY_FIELDS
        }
    return fields


def _member(position: Position) -> bytes:
    return b"%016d" % position.id


def _before(pair: tuple[bytes, float], position: Position) -> bool:
    """Whether a (member, score) of the sorted set lists after `position` (is older)."""
    member, score = pair
    return score < position.ms or (score == position.ms and member < _member(position))


class RedisReads(LogStore):
    """RedisLogStore's reads: its pages, exports, summaries and drift window."""

    def _members(self, client: redis.Redis, after: Position | None, count: int | None = None) -> list[bytes]:
        """Padded ids newest first, after the position; `count` caps how many (None: all)."""
        if after is None:
            return client.zrevrangebyscore(
                self.order_key, "+inf", "-inf", start=0 if count else None, num=count
            )
        # Entries of the cursor's own millisecond sort by id: drop those at or above it.
        same_ms = client.zcount(self.order_key, after.ms, after.ms)
        fetched = client.zrevrangebyscore(
            self.order_key,
            after.ms,
            "-inf",
            start=0 if count else None,
            num=count + same_ms if count else None,
            withscores=True,
        )
        cursor_member = _member(after)
        return [member for member, score in fetched if score < after.ms or member < cursor_member][:count]

    def _bodies(self, client: redis.Redis, members: list[bytes]) -> list[dict]:
        """The members' entries in their order; those of a block decoded from it, those trimmed
        meantime left out."""
        raws = []
        for start in range(0, len(members), FETCH_CHUNK):
            raws += client.hmget(self.entries_key, members[start : start + FETCH_CHUNK])
        missing = [member for member, raw in zip(members, raws, strict=True) if raw is None]
        if not missing:
            return self._entries(client, raws)
        found = iter(self._entries(client, [raw for raw in raws if raw is not None]))
        in_blocks: dict[int, dict] = {}
        held = self._blocks(client, missing)
        if held:
            self._known_book(client)
        for first_id, body, ids in held:
            in_blocks.update(blocks.decode(body, first_id, ids, self._phrases()[0], self._load_phrases))
        bodies = []
        for member, raw in zip(members, raws, strict=True):
            if raw is not None:
                bodies.append(next(found))
            elif int(member) in in_blocks:
                bodies.append(in_blocks[int(member)])
        return bodies

    def _blocks(self, client: redis.Redis, members: list[bytes]) -> list[tuple[bytes, int, list[int]]]:
        """The blocks that hold some of these members (BLOCKS_SCRIPT, one call): each block's
        first id, its JSON and the ids it holds of them."""
        ids = sorted({int(member) for member in members})
        found = self._blocks_script(keys=list(self.keys), args=ids, client=client)
        held = []
        for at in range(0, len(found), 3):
            first_id, last_id, body = found[at : at + 3]
            if body is not None:
                held.append((first_id, body, [i for i in ids if first_id <= i <= last_id]))
        return held

    def query(self, query: LogQuery) -> LogPage:
        if not query.has_filters:
            # Fast path: Redis orders and cuts the page; only its bodies are read.
            def unfiltered(client: redis.Redis) -> tuple[int, list[dict]]:
                total = client.zcard(self.order_key)
                members = self._members(client, query.after, query.offset + query.limit + 1)
                return total, self._bodies(client, members[query.offset :])

            total, entries = self._call(unfiltered)
            return page_from_matches(iter(entries), total, LogQuery(limit=query.limit))

        def filtered(client: redis.Redis) -> tuple[int, list[dict]]:
            # The total counts every match, so every entry of the time window is checked: on its
            # packed stats read by NumPy, or on its small fields for the filters those lack. Only
            # the page's bodies are read.
            if query.endpoint is None:
                ids, stats = self._matching(client, query)
                if query.after is not None:
                    ms, after = stats_milliseconds(stats), query.after
                    ids = ids[(ms < after.ms) | ((ms == after.ms) & (ids < after.id))]
                page = [
                    b"%016d" % entry_id
                    for entry_id in ids[query.offset : query.offset + query.limit + 1].tolist()
                ]
                return len(stats), self._bodies(client, page)
            in_window = self._window(client, query, None)
            matching = [
                member
                for member, fields in zip(in_window, self._fields(client, in_window), strict=False)
                if fields is not None and query.matches(fields)
            ]
            if query.after is not None:
                after = set(self._window(client, query, query.after))
                matching_after = [member for member in matching if member in after]
            else:
                matching_after = matching
            page = matching_after[query.offset : query.offset + query.limit + 1]
            return len(matching), self._bodies(client, page)

        total, entries = self._call(filtered)
        return page_from_matches(iter(entries), total, LogQuery(limit=query.limit))

    def iter_entries(self, query: LogQuery) -> Iterator[dict]:
        # Chunk by chunk: a reader that stops early (the drift window's newest 1,000
        # predictions) never reads the rest.
        in_window = self._call(lambda client: self._window(client, query, query.after))
        for start in range(0, len(in_window), FETCH_CHUNK):
            chunk = in_window[start : start + FETCH_CHUNK]
            if query.has_filters:
                fields = self._call(lambda client, members=chunk: self._fields(client, members))
                chunk = [
                    member
                    for member, found in zip(chunk, fields, strict=False)
                    if found is not None and query.matches(found)
                ]
            yield from self._call(lambda client, members=chunk: self._bodies(client, members))

    def summary_entries(self, query: LogQuery, cap: int) -> list[dict]:
        def read(client: redis.Redis) -> list[dict]:
            if not query.has_filters:
                members = self._members(client, None, cap)
                return [fields for fields in self._fields(client, members) if fields is not None]
            in_window = self._window(client, query, None)
            selected: list[dict] = []
            for start in range(0, len(in_window), FIELDS_CHUNK):
                chunk = self._fields(client, in_window[start : start + FIELDS_CHUNK])
                selected += [fields for fields in chunk if fields is not None and query.matches(fields)]
                if len(selected) >= cap:
                    break
            return selected[:cap]

        return self._call(read)

    def summary_columns(self, query: LogQuery, cap: int) -> SummaryColumns:
        def read(client: redis.Redis) -> np.ndarray:
            if not query.has_filters:
                whole = self._whole_matching(client, query)
                if whole is not None:
                    return whole[1][:cap]
                _, stats = self._window_stats(client, query, cap)
                return stats[stats["level"] != GONE]
            if query.endpoint is None:
                return self._matching(client, query)[1][:cap]
            in_window, stats = self._window_stats(client, query, 0)
            fields = self._fields(client, in_window)
            keep = np.array([found is not None and query.matches(found) for found in fields], dtype=bool)
            return stats[keep][:cap]

        stats = self._call(read)
        return SummaryColumns(
            stats["seconds"].copy(),
            stats["prediction"].copy(),
            stats["probability"].copy(),
            stats["latency_ms"].copy(),
            stats["level"] == LEVELS.index("WARNING"),
        )

    def _matching(self, client: redis.Redis, query: LogQuery) -> tuple[np.ndarray, np.ndarray]:
        """The ids of the query's window's entries that pass its filters (not the endpoint's),
        newest first, with their STATS: from the whole rings, else by FILTER_SCRIPT inside Redis,
        WINDOW_CHUNK members a call; the few neither can decide are read from their fields.

        Within one_window() (a page's rows, total and summary), the window is read once."""
        windows = page_windows()
        key = (
            self,
            query.level,
            query.prediction,
            query.min_probability,
            query.max_probability,
            query.since,
            query.until,
            query.request_id,
        )
        if windows is not None and key in windows:
            return windows[key]
        found = self._whole_matching(client, query)
        if found is None:
            found = self._scanned_matching(client, query)
        if windows is not None:
            windows[key] = found
        return found

    def _read_rings(self, client: redis.Redis, search: bool) -> tuple[np.ndarray, bytes] | None:
        """The STATS_RECORDs of every entry of the log (and, for a search, the request-id ring's
        bytes at the same slots), in slot order with empty slots among them, read in one
        transaction with the log's size. Only the slots the log's ids can take are read: from
        the id counter back by the log's size, with a margin for entries written meanwhile or
        trimmed out of id order (a young log fills a fraction of its rings); the whole rings when
        those lack an entry. None when the whole rings do too (FILTER_SCRIPT reads the log)."""
        with client.pipeline(transaction=False) as pipe:
            pipe.get(self.seq_key)
            pipe.zcard(self.order_key)
            pipe.strlen(self.stats_ring_key)
            last, size, length = pipe.execute()
        if not size or size > WHOLE_READ_MAX or not length or length % STATS_RECORD.itemsize:
            return None
        slots = length // STATS_RECORD.itemsize
        margin = max(RING_MARGIN, size // 16)
        start, count = (int(last or 0) - size + 1 - margin) % slots, size + 2 * margin
        whole = [(0, slots)]
        attempts = [whole]
        if count < slots:
            head = min(count, slots - start)
            attempts.insert(0, [(start, head)] + ([(0, count - head)] if count > head else []))
        for spans in attempts:
            with client.pipeline(transaction=True) as pipe:
                pipe.zcard(self.order_key)
                for key, width in (
                    (self.stats_ring_key, STATS_RECORD.itemsize),
                    (self.id_ring_key, ID_RECORD.itemsize),
                ):
                    if key == self.id_ring_key and not search:
                        continue
                    for first, many in spans:
                        pipe.getrange(key, first * width, (first + many) * width - 1)
                size, *parts = pipe.execute()
            ring = b"".join(parts[: len(spans)])
            if len(ring) % STATS_RECORD.itemsize:
                return None  # rings of another shape: not this version's
            records = np.frombuffer(ring, dtype=STATS_RECORD)
            if np.count_nonzero(records["id"]) == size:
                id_ring = b"".join(parts[len(spans) :])
                if search and len(id_ring) != len(records) * ID_RECORD.itemsize:
                    return None
                return records, id_ring
        return None

    def _whole_matching(self, client: redis.Redis, query: LogQuery) -> tuple[np.ndarray, np.ndarray] | None:
        """_matching from the stats ring (and, for a search, the request-id ring), read by
        _read_rings and filtered by NumPy. None when the rings lack an entry of the log (one of a
        previous version, or displaced): FILTER_SCRIPT reads those."""
        search = query.request_id is not None
        read = self._read_rings(client, search)
        if read is None:
            return None
        # Every slot read is filtered, the empty ones dropped with the rest: cheaper than first
        # copying the live records out of the ring.
        records, id_ring = read
        ids, stats = records["id"], records["stats"]
        keep = ids > 0
        ms = stats_milliseconds(stats)
        if query.until is not None:
            keep &= ms <= timestamp_ms(query.until)
        if query.since is not None:
            keep &= ms >= timestamp_ms(query.since)
        undecided = np.zeros(len(records), dtype=bool)
        if query.level is not None:
            other = stats["level"] == OTHER_LEVEL
            wanted = LEVELS.index(query.level) if query.level in LEVELS else OTHER_LEVEL
            keep &= (stats["level"] == wanted) | other
            undecided |= other
        if query.prediction is not None:
            keep &= stats["prediction"] == query.prediction
        if query.min_probability is not None:
            keep &= stats["probability"] >= query.min_probability
        if query.max_probability is not None:
            keep &= stats["probability"] <= query.max_probability
        if search:
            id_records = np.frombuffer(id_ring, dtype=ID_RECORD)
            if not np.array_equal(id_records["id"], ids):
                return None
            needle = query.request_id.lower().encode("utf-8", "surrogatepass")
            if any(65 <= byte <= 90 or 97 <= byte <= 122 for byte in needle):
                # The whole ring lower-cased at once (ASCII only, as the ring holds): several
                # times faster than NumPy's lower() an id. Only the texts are read from the copy.
                id_ring = id_ring.lower()
            # else no letter to fold: an id holds the needle exactly when its lower case does
            lowered = np.frombuffer(id_ring, dtype=ID_RECORD)["text"]
            matched, unknown = search_ids(needle, id_records["length"], lowered)
            keep &= matched | unknown
            undecided |= unknown  # compared on the fields
        order = np.lexsort((ids, ms))[::-1]  # newest first, as the sorted set lists them
        order = order[keep[order]]
        if np.any(undecided[order]):
            check = order[undecided[order]].tolist()
            fields = self._fields(client, [b"%016d" % entry_id for entry_id in ids[check].tolist()])
            for index, entry in zip(check, fields, strict=True):
                if entry is None or not query.matches(entry):
                    keep[index] = False
            order = order[keep[order]]
        return ids[order], stats[order]

    def _scanned_matching(self, client: redis.Redis, query: LogQuery) -> tuple[np.ndarray, np.ndarray]:
        """_matching by FILTER_SCRIPT walking the window, WINDOW_CHUNK members a call."""
        high = timestamp_ms(query.until) if query.until is not None else "+inf"
        low = timestamp_ms(query.since) if query.since is not None else "-inf"
        level = (
            "" if query.level is None else LEVELS.index(query.level) if query.level in LEVELS else OTHER_LEVEL
        )
        filters = [
            level,
            "" if query.prediction is None else repr(float(query.prediction)),
            "" if query.min_probability is None else repr(float(query.min_probability)),
            "" if query.max_probability is None else repr(float(query.max_probability)),
            "0" if query.request_id is None else "1",
            "" if query.request_id is None else query.request_id.lower().encode("utf-8", "surrogatepass"),
        ]
        members: list[bytes] = []
        flags, found = [], []
        scanned = 0
        while True:
            count, chunk, chunk_flags, chunk_stats = self._filter_script(
                keys=[self.order_key, self.stats_ring_key, self.id_ring_key],
                args=[high, low, scanned, WINDOW_CHUNK, *filters],
                client=client,
            )
            members += chunk
            flags.append(chunk_flags)
            found.append(chunk_stats)
            scanned += count
            if count < WINDOW_CHUNK:
                break
        flags, found = b"".join(flags), b"".join(found)
        if len(set(members)) < len(members):
            # Entries written between two calls shift the offsets: an entry read twice counts once.
            first = {member: index for index, member in reversed(list(enumerate(members)))}
            kept = sorted(first.values())
            members = [members[i] for i in kept]
            flags = bytes(flags[i] for i in kept)
            found = b"".join(found[i * STATS_STRUCT.size : (i + 1) * STATS_STRUCT.size] for i in kept)
        stats = np.frombuffer(found, dtype=STATS).copy() if members else np.zeros(0, dtype=STATS)
        undecided = [index for index, flag in enumerate(flags) if flag != ord("1")]
        if undecided:
            keep = np.ones(len(members), dtype=bool)
            fields = self._fields(client, [members[index] for index in undecided])
            for index, entry in zip(undecided, fields, strict=True):
                if entry is None or not query.matches(entry):
                    keep[index] = False
                elif flags[index] == ord("!"):
                    packed = packed_stats(entry, timestamp_ms(indexed_timestamp(entry)))
                    stats[index] = np.frombuffer(packed, dtype=STATS)[0]
            members = [member for member, kept in zip(members, keep, strict=True) if kept]
            stats = stats[keep]
        return np.array(members, dtype="S16").astype(np.int64).reshape(len(members)), stats

    def _window_stats(
        self, client: redis.Redis, query: LogQuery, count: int
    ) -> tuple[list[bytes], np.ndarray]:
        """The query's time window newest first (its first `count` entries; 0: all), with each
        entry's STATS: WINDOW_CHUNK a script call. Entries without a record in the ring are
        packed from their fields (or bodies); one trimmed meantime is GONE."""
        high = timestamp_ms(query.until) if query.until is not None else "+inf"
        low = timestamp_ms(query.since) if query.since is not None else "-inf"
        members, found = [], []
        while not count or len(members) < count:
            step = WINDOW_CHUNK if not count else min(WINDOW_CHUNK, count - len(members))
            chunk, chunk_found = self._window_script(
                keys=[self.order_key, self.stats_ring_key],
                args=[high, low, len(members), step],
                client=client,
            )
            members += chunk
            found += list(chunk_found) + [None] * (len(chunk) - len(chunk_found))  # trailing nils may be cut
            if len(chunk) < step:
                break
        if len(set(members)) < len(members):
            # Entries written between two calls shift the offsets: an entry read twice counts once.
            first = {member: index for index, member in reversed(list(enumerate(members)))}
            kept = sorted(first.values())
            members, found = [members[i] for i in kept], [found[i] for i in kept]
        if not members:
            return [], np.zeros(0, dtype=STATS)
        if None in found:
            missing = [index for index, raw in enumerate(found) if raw is None]
            fields = self._fields(client, [members[index] for index in missing])
            for index, entry in zip(missing, fields, strict=True):
                if entry is None:
                    found[index] = STATS_STRUCT.pack(math.nan, math.nan, math.nan, math.nan, GONE)
                else:
                    found[index] = packed_stats(entry, timestamp_ms(indexed_timestamp(entry)))
        return members, np.frombuffer(b"".join(found), dtype=STATS)

    def drift_window(self, query: LogQuery, last: int) -> DriftWindow:
        # The drift codes from the small fields hash; a body only for an entry written before
        # the codes were (or one the code cannot describe).
        def read(client: redis.Redis) -> list[tuple]:
            in_window = self._window(client, query, query.after)
            coded: list[tuple] = []
            for start in range(0, len(in_window), FIELDS_CHUNK):
                members = in_window[start : start + FIELDS_CHUNK]
                for member, fields in zip(members, self._fields(client, members), strict=True):
                    if fields is not None and query.matches(fields):
                        coded.append(
                            (
                                fields.get("drift"),
                                fields.get("prediction"),
                                fields.get("timestamp"),
                                fields.get("model_version"),
                                member,
                            )
                        )
                if len(coded) >= last:
                    break
            return coded[:last]

        coded = self._call(read)
        return DriftWindow.from_coded(
            coded, lambda members: self._call(lambda client: self._bodies(client, list(members)))
        )

    def _window(self, client: redis.Redis, query: LogQuery, after: Position | None) -> list[bytes]:
        """The entries between the query's since and until, newest first, after the position
        when one is given: a score range of the sorted set (scores read only for a cursor)."""
        high = timestamp_ms(query.until) if query.until is not None else "+inf"
        low = timestamp_ms(query.since) if query.since is not None else "-inf"
        if after is None:
            return client.zrevrangebyscore(self.order_key, high, low)
        high = after.ms if high == "+inf" else min(high, after.ms)
        pairs = client.zrevrangebyscore(self.order_key, high, low, withscores=True)
        return [member for member, score in pairs if _before((member, score), after)]

    def _fields(self, client: redis.Redis, members: list[bytes]) -> list[dict | None]:
        """Each member's summary fields (None for one trimmed meantime), in one round trip.

        Entries written before the fields hash existed are summarised from their bodies.
        """
        if not members:
            return []
        with client.pipeline(transaction=False) as pipe:
            for start in range(0, len(members), FIELDS_CHUNK):
                pipe.hmget(self.fields_key, members[start : start + FIELDS_CHUNK])
            found = [raw for chunk in pipe.execute() for raw in chunk]
        missing = [member for member, raw in zip(members, found, strict=False) if raw is None]
        bodies = dict(zip(missing, client.hmget(self.entries_key, missing), strict=False)) if missing else {}
        in_blocks: dict[int, dict] = {}
        unwritten = [member for member in missing if bodies[member] is None]
        if unwritten:  # entries of a block, or trimmed meantime
            for first_id, body, ids in self._blocks(client, unwritten):
                in_blocks.update(_block_fields(body, first_id, ids))
        return [
            orjson.loads(raw)
            if raw is not None
            else (
                summary_fields(_loaded(bodies[member]))
                if bodies[member] is not None
                else in_blocks.get(int(member))
            )
            for member, raw in zip(members, found, strict=False)
        ]
