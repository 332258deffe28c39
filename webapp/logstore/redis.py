"""Prediction log in Redis, shared by every app instance that uses the same prefix.

Keys: ``{prefix}:log:seq`` (id counter), ``{prefix}:log:order`` (sorted set: member = the id,
zero-padded; score = the entry's timestamp in epoch milliseconds, so equal scores sort by id),
``{prefix}:log:entries`` (hash: padded id -> the entry's JSON with its id),
``{prefix}:log:fields`` (hash: padded id -> the entry's SUMMARY_FIELDS as JSON, a tenth of its
size), ``{prefix}:log:stats`` (hash: padded id -> its STATS, 33 bytes) and
``{prefix}:log:request_ids`` (hash: padded id -> its packed request id). One Lua script takes the
ids, adds the entries and trims to ``max_entries`` atomically, so concurrent writers never
interleave or reuse ids.

Reads take the time window from the sorted set (a score range) with each entry's stats, in one
script call; the summary is computed on those with NumPy. The level, prediction, probability and
request-id filters are applied to the whole stats hash by NumPy when the window is most of the log,
else inside Redis by FILTER_SCRIPT, once for a page's rows, total and summary (one_window); the
endpoint filter and the drift read the small fields; whole
bodies are loaded only for the entries returned: a page, or an export's chunk. Entries written
before the stats (or the fields) existed are read from their fields (or bodies).

A Redis without persistence that restarts comes back empty. The store notices and keeps the
reason in ``data_loss`` (reported by /health): the server's run id changed and the log holds fewer
entries than this process wrote, or the id counter went backwards under a write.
"""

from __future__ import annotations

import bisect
import logging
import math
import os
import struct
from collections.abc import Iterator, Sequence

import numpy as np
import orjson
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from webapp.logstore.base import (
    DriftWindow,
    LogPage,
    LogQuery,
    LogStore,
    Position,
    StoreUnavailable,
    SummaryColumns,
    as_number,
    entry_bytes,
    indexed_timestamp,
    page_from_matches,
    page_windows,
    summary_fields,
    timestamp_ms,
)
from webapp.settings import DEFAULTS

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 0.5
READ_TIMEOUT = 1.0
#: Bodies fetched per HMGET when reading many entries.
FETCH_CHUNK = 500

#: Summary fields read per round trip when filtering.
FIELDS_CHUNK = 2000
#: Members (with their stats) read per call of the window script.
WINDOW_CHUNK = 10_000
#: A filtered window is read as the whole stats hash only up to this many entries in the log: one
#: HGETALL of 100,000 stats costs Redis some 90 ms on this machine, a million would block it for
#: about a second (the read timeout); a larger log is filtered by FILTER_SCRIPT, in chunks.
WHOLE_READ_MAX = 200_000

# KEYS: seq, order, entries, fields, stats, request ids. ARGV: max_entries, then (epoch ms, JSON
# without id, its summary fields as JSON without id, its packed stats followed by its packed
# request id) per entry: four arguments an entry, the stats being STATS' 33 bytes. The id is
# spliced in as the first key so each body is self-describing. One ZADD and one HSET a key for
# up to 1,000 entries, not one of each an entry: 5 commands a chunk instead of 5,000 for 1,000
# entries (unpack() takes a few thousand values at most, hence the chunks).
APPEND_SCRIPT = """
local count = (#ARGV - 1) / 4
local last = redis.call('INCRBY', KEYS[1], count)
local first = last - count + 1
local function with_id(head, json)
    if json == '{}' then
        return head .. '}'
    end
    return head .. ',' .. string.sub(json, 2)
end
for start = 1, count, 1000 do
    local order, bodies, fields, stats, ids = {}, {}, {}, {}, {}
    local n = 0
    for i = start, math.min(start + 999, count) do
        local id = first + i - 1
        local member = string.format('%016d', id)
        local head = '{"id":' .. string.format('%d', id)
        local packed = ARGV[4 * i + 1]
        order[n + 1], order[n + 2] = ARGV[4 * i - 2], member
        bodies[n + 1], bodies[n + 2] = member, with_id(head, ARGV[4 * i - 1])
        fields[n + 1], fields[n + 2] = member, with_id(head, ARGV[4 * i])
        stats[n + 1], stats[n + 2] = member, string.sub(packed, 1, 33)
        ids[n + 1], ids[n + 2] = member, string.sub(packed, 34)
        n = n + 2
    end
    redis.call('ZADD', KEYS[2], unpack(order))
    redis.call('HSET', KEYS[3], unpack(bodies))
    redis.call('HSET', KEYS[4], unpack(fields))
    redis.call('HSET', KEYS[5], unpack(stats))
    redis.call('HSET', KEYS[6], unpack(ids))
end
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[1])
while excess > 0 do
    local step = math.min(excess, 1000)
    local oldest = redis.call('ZRANGE', KEYS[2], 0, step - 1)
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, step - 1)
    for k = 3, 6 do
        redis.call('HDEL', KEYS[k], unpack(oldest))
    end
    excess = excess - step
end
return last
"""

# KEYS: order, stats, request ids. ARGV: highest score, lowest score, offset, how many, "1" to
# read the request ids too. Those members of the window newest first with their stats (and
# request ids): read by Redis itself, so that no command carries thousands of members from
# Python; WINDOW_CHUNK at a time, so that no call blocks Redis for long.
WINDOW_SCRIPT = """
local members = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', ARGV[3], ARGV[4])
local stats, ids = {}, {}
for start = 1, #members, 1000 do
    local chunk = {unpack(members, start, math.min(start + 999, #members))}
    local found = redis.call('HMGET', KEYS[2], unpack(chunk))
    for i = 1, #found do
        stats[start + i - 1] = found[i]
    end
    if ARGV[5] == '1' then
        found = redis.call('HMGET', KEYS[3], unpack(chunk))
        for i = 1, #found do
            ids[start + i - 1] = found[i]
        end
    end
end
return {members, stats, ids}
"""

# KEYS: order, stats, request ids. ARGV: highest score, lowest score, offset, how many, then the
# filters ('' when not set): level (LEVELS' index, OTHER_LEVEL for another), prediction, lowest
# probability, highest probability, "1" for a request-id search, its needle in lower case. Like
# WINDOW_SCRIPT, but Redis applies the filters to the packed stats and request ids itself and
# returns only the members that match or that it cannot decide, so no Python loop runs per
# entry: {members scanned, those members, a flag each ("1" matches; "?" undecided, stats read;
# "!" undecided, no stats), their stats concatenated (33 zero bytes where none)}. Undecided: no
# stats or request id (an entry of the previous version, or one trimmed meantime), a level other
# than LEVELS under a level filter (LogQuery.matches compares text), a request id that is not
# ASCII (string.lower only folds ASCII): Python decides those from the fields.
FILTER_SCRIPT = """
local members = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', ARGV[3], ARGV[4])
local level, prediction = tonumber(ARGV[5]), tonumber(ARGV[6])
local lowest, highest = tonumber(ARGV[7]), tonumber(ARGV[8])
local search, needle = ARGV[9] == '1', ARGV[10]
local none = string.rep(string.char(0), 33)
local kept, flags, stats = {}, {}, {}
for start = 1, #members, 1000 do
    local chunk = {unpack(members, start, math.min(start + 999, #members))}
    local found = redis.call('HMGET', KEYS[2], unpack(chunk))
    local ids = search and redis.call('HMGET', KEYS[3], unpack(chunk)) or {}
    for i = 1, #chunk do
        local raw, flag = found[i], '1'
        if raw then
            local _, p, probability, _, l = struct.unpack('<ddddB', raw)
            if level then
                if l == 2 then
                    flag = '?'
                elseif l ~= level then
                    flag = nil
                end
            end
            if flag and prediction and p ~= prediction then
                flag = nil
            end
            if flag and lowest and not (probability >= lowest) then
                flag = nil
            end
            if flag and highest and not (probability <= highest) then
                flag = nil
            end
        else
            flag = '!'
        end
        if flag and search then
            local id = ids[i]
            if not id or string.find(id, '[\\128-\\255]') then
                if flag == '1' then
                    flag = '?'
                end
            elseif id == string.char(0) or not string.find(string.lower(string.sub(id, 2)), needle, 1, true) then
                flag = nil
            end
        end
        if flag then
            kept[#kept + 1] = chunk[i]
            flags[#flags + 1] = flag
            stats[#stats + 1] = raw or none
        end
    end
end
return {#members, kept, table.concat(flags), table.concat(stats)}
"""

#: An entry's stats: what the summary, charts and the common filters read, as fixed-size bytes
#: that NumPy reads for thousands of entries at once (no JSON parsed per entry). NaN where the
#: entry has no such number; level: LEVELS' index, OTHER_LEVEL for any other text, GONE for an
#: entry trimmed while it was read. The request id is kept in a hash of its own for the
#: request-id search (NO_REQUEST_ID when the entry has none, else a byte 1 and the id as UTF-8).
STATS = np.dtype(
    [
        ("seconds", "<f8"),
        ("prediction", "<f8"),
        ("probability", "<f8"),
        ("latency_ms", "<f8"),
        ("level", "u1"),
    ]
)
_STATS = struct.Struct("<ddddB")  # 33 bytes: APPEND_SCRIPT splits an argument there
LEVELS = ("INFO", "WARNING")
OTHER_LEVEL, GONE = 2, 255
NO_REQUEST_ID = b"\x00"


def _number(value) -> float:
    if type(value) is float or type(value) is int:  # the common case, without as_number's isinstance
        return value
    number = as_number(value)
    return math.nan if number is None else number


def packed_stats(entry: dict, ms: int) -> bytes:
    """The entry's STATS; `ms` is its position's epoch milliseconds (0: no usable timestamp)."""
    level = entry.get("level")
    return _STATS.pack(
        ms / 1000 if ms else math.nan,
        _number(entry.get("prediction")),
        _number(entry.get("probability")),
        _number(entry.get("latency_ms")),
        LEVELS.index(level) if level in LEVELS else OTHER_LEVEL,
    )


def packed_request_id(entry: dict) -> bytes:
    request_id = entry.get("request_id")
    return NO_REQUEST_ID if request_id is None else b"\x01" + str(request_id).encode("utf-8", "surrogatepass")


def _searched(needle: bytes, members: list[bytes], by_id: dict) -> tuple[np.ndarray | None, np.ndarray]:
    """Which of `members` have a packed request id (`by_id`) holding `needle` (lower case), and
    which have one at all: every id joined in one bytes object, lower-cased and searched at C
    speed, one step a match. (None, ...) when an id is not ASCII: bytes.lower folds ASCII only,
    so those are compared as text by LogQuery.matches."""
    values = list(by_id.values())
    blob = b"\x00".join(values)
    size = len(members)
    if not blob.isascii():
        return None, np.zeros(size, dtype=bool)
    blob = blob.lower()
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    ends = (np.cumsum(lengths + 1) - 1).tolist()  # where each id ends (its separator)
    found = np.zeros(len(values), dtype=bool)
    if not needle:
        found = lengths > 1  # any request id holds the empty string
    else:
        position = blob.find(needle)
        while position >= 0:
            entry = bisect.bisect_left(ends, position)
            start = ends[entry] - int(lengths[entry])
            if position > start and position + len(needle) <= ends[entry]:  # after the marker byte, inside
                found[entry] = True
                position = blob.find(needle, ends[entry])
            else:
                position = blob.find(needle, position + 1)
    id_members = list(by_id)
    if id_members == members:  # the two hashes list their members alike (the usual case)
        return found, np.ones(size, dtype=bool)
    index_of = {member: index for index, member in enumerate(members)}
    indexes = np.fromiter(
        (index_of.get(member, -1) for member in id_members), dtype=np.int64, count=len(id_members)
    )
    listed = indexes >= 0
    matched, present = np.zeros(size, dtype=bool), np.zeros(size, dtype=bool)
    present[indexes[listed]] = True
    matched[indexes[listed]] = found[listed]
    return matched, present


# KEYS: order, then every hash keyed by member. ARGV: the cutoff score (exclusive), how many at most. Entries at
# score 0 (no usable timestamp) have no known age and stay.
TRIM_SCRIPT = """
local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], '(0', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #oldest == 0 then
    return 0
end
redis.call('ZREM', KEYS[1], unpack(oldest))
for k = 2, #KEYS do
    redis.call('HDEL', KEYS[k], unpack(oldest))
end
return #oldest
"""
#: Entries removed per script call by age retention: a short step, so Redis never blocks long.
TRIM_CHUNK = 1000


def _member(position: Position) -> bytes:
    return b"%016d" % position.id


def _before(pair: tuple[bytes, float], position: Position) -> bool:
    """Whether a (member, score) of the sorted set lists after `position` (is older)."""
    member, score = pair
    return score < position.ms or (score == position.ms and member < _member(position))


class RedisLogStore(LogStore):
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
        self.stats_key = f"{prefix}:log:stats"
        self.request_ids_key = f"{prefix}:log:request_ids"
        self._client: redis.Redis | None = None
        self._script = None
        self._pid: int | None = None
        self._run_id: str | None = None
        self._last_id = 0
        self._written = 0
        #: Why the log is known to have lost entries (Redis restarted empty), or None.
        self.data_loss: str | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key this store writes."""
        return (
            self.seq_key,
            self.order_key,
            self.entries_key,
            self.fields_key,
            self.stats_key,
            self.request_ids_key,
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
            self._window_script = client.register_script(WINDOW_SCRIPT)
            self._filter_script = client.register_script(FILTER_SCRIPT)
            self._client, self._pid = client, os.getpid()
        return self._client

    def _call(self, action):
        try:
            return action(self._redis())
        except redis.RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc

    def append(self, entries: Sequence[dict]) -> None:
        if not entries:
            return
        args: list = [self.max_entries]
        milliseconds: dict[str, int] = {}  # a batch's entries share their timestamp
        for entry in entries:
            stamp = indexed_timestamp(entry)
            if stamp not in milliseconds:
                milliseconds[stamp] = timestamp_ms(stamp)
            ms = milliseconds[stamp]
            args += [
                ms,
                # bytes, as Redis takes them: no decode here and no encode in the client
                entry_bytes(entry),
                entry_bytes(summary_fields(entry)),
                packed_stats(entry, ms) + packed_request_id(entry),
            ]
        last = self._call(lambda client: self._script(keys=list(self.keys), args=args, client=client))
        if int(last) - len(entries) < self._last_id:
            self._lost(f"its id counter went back from {self._last_id} to {int(last) - len(entries)}")
        self._last_id = int(last)
        self._written += len(entries)
        if self._run_id is None:
            self._call(self._check_server)

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
        bodies = []
        for start in range(0, len(members), FETCH_CHUNK):
            chunk = client.hmget(self.entries_key, members[start : start + FETCH_CHUNK])
            bodies += [orjson.loads(body) for body in chunk if body is not None]
        return bodies

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
                matching, _ = self._matching(client, query)
            else:
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
                _, stats, _ = self._window_stats(client, query, cap)
                return stats[stats["level"] != GONE]
            if query.endpoint is None:
                return self._matching(client, query)[1][:cap]
            in_window, stats, _ = self._window_stats(client, query, 0)
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

    def _matching(self, client: redis.Redis, query: LogQuery) -> tuple[list[bytes], np.ndarray]:
        """The entries of the query's window that pass its filters (not the endpoint's), newest
        first, with their STATS: FILTER_SCRIPT decides on the stats and request ids inside
        Redis, WINDOW_CHUNK members a call; the few it cannot decide are read from their fields.

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

    def _whole_matching(self, client: redis.Redis, query: LogQuery) -> tuple[list[bytes], np.ndarray] | None:
        """_matching from the whole stats hash, read in one transaction (with the request ids
        for a search) and filtered by NumPy: far cheaper than a script walking the window, when
        the window is most of the log and every entry has its stats. None otherwise."""
        high = timestamp_ms(query.until) if query.until is not None else "+inf"
        low = timestamp_ms(query.since) if query.since is not None else "-inf"
        with client.pipeline(transaction=False) as pipe:
            pipe.zcard(self.order_key)
            pipe.zcount(self.order_key, low, high)
            size, in_window = pipe.execute()
        if not size or in_window * 2 < size or size > WHOLE_READ_MAX:
            return None
        with client.pipeline(transaction=True) as pipe:
            pipe.zcard(self.order_key)
            pipe.hgetall(self.stats_key)
            if query.request_id is not None:
                pipe.hgetall(self.request_ids_key)
            size, by_member, *request_ids = pipe.execute()
        if len(by_member) != size:
            return None  # entries of the previous version, without stats: the script reads those
        members = list(by_member)
        packed = b"".join(by_member.values())
        if len(packed) != size * _STATS.size:
            return None
        stats = np.frombuffer(packed, dtype=STATS)
        ms = np.where(np.isnan(stats["seconds"]), 0, np.rint(stats["seconds"] * 1000)).astype(np.int64)
        ids = np.array(members, dtype="S16").astype(np.int64)
        keep = np.ones(size, dtype=bool)
        if high != "+inf":
            keep &= ms <= high
        if low != "-inf":
            keep &= ms >= low
        undecided = np.zeros(size, dtype=bool)
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
        if query.request_id is not None:
            needle = query.request_id.lower().encode("utf-8", "surrogatepass")
            matched, present = _searched(needle, members, request_ids[0])
            if matched is None:  # a request id that is not ASCII: compared entry by entry
                by_id = request_ids[0]
                for index in np.flatnonzero(keep).tolist():
                    raw = by_id.get(members[index])
                    if raw is None or not raw.isascii():
                        undecided[index] = True  # compared by LogQuery.matches, on the fields
                    elif raw == NO_REQUEST_ID or raw.lower().find(needle, 1) < 0:
                        keep[index] = False
            else:
                keep &= matched | ~present
                undecided |= ~present  # no request id kept: compared on the fields
        order = np.lexsort((ids, ms))[::-1]  # newest first, as the sorted set lists them
        order = order[keep[order]]
        if np.any(undecided[order]):
            check = order[undecided[order]].tolist()
            fields = self._fields(client, [members[index] for index in check])
            for index, entry in zip(check, fields, strict=True):
                if entry is None or not query.matches(entry):
                    keep[index] = False
            order = order[keep[order]]
        return [members[index] for index in order.tolist()], stats[order]

    def _scanned_matching(self, client: redis.Redis, query: LogQuery) -> tuple[list[bytes], np.ndarray]:
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
                keys=[self.order_key, self.stats_key, self.request_ids_key],
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
            found = b"".join(found[i * _STATS.size : (i + 1) * _STATS.size] for i in kept)
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
        return members, stats

    def _window_stats(
        self, client: redis.Redis, query: LogQuery, count: int
    ) -> tuple[list[bytes], np.ndarray, list[bytes | None]]:
        """The query's time window newest first (its first `count` entries; 0: all), with each
        entry's STATS and, for a request-id search, packed request id: WINDOW_CHUNK a script call.
        Entries written before the stats existed are packed from their fields (or bodies); one
        trimmed meantime is GONE."""
        high = timestamp_ms(query.until) if query.until is not None else "+inf"
        low = timestamp_ms(query.since) if query.since is not None else "-inf"
        with_ids = query.request_id is not None
        members, found, request_ids = [], [], []
        while not count or len(members) < count:
            step = WINDOW_CHUNK if not count else min(WINDOW_CHUNK, count - len(members))
            chunk, chunk_found, chunk_ids = self._window_script(
                keys=[self.order_key, self.stats_key, self.request_ids_key],
                args=[high, low, len(members), step, "1" if with_ids else "0"],
                client=client,
            )
            members += chunk
            found += list(chunk_found) + [None] * (len(chunk) - len(chunk_found))  # trailing nils may be cut
            request_ids += list(chunk_ids) + [None] * (len(chunk) - len(chunk_ids))
            if len(chunk) < step:
                break
        if len(set(members)) < len(members):
            # Entries written between two calls shift the offsets: an entry read twice counts once.
            first = {member: index for index, member in reversed(list(enumerate(members)))}
            kept = sorted(first.values())
            members, found, request_ids = (
                [members[i] for i in kept],
                [found[i] for i in kept],
                [request_ids[i] for i in kept],
            )
        if not members:
            return [], np.zeros(0, dtype=STATS), []
        if None in found or (with_ids and None in request_ids):
            missing = [
                index
                for index, raw in enumerate(found)
                if raw is None or (with_ids and request_ids[index] is None)
            ]
            fields = self._fields(client, [members[index] for index in missing])
            for index, entry in zip(missing, fields, strict=True):
                if entry is None:
                    found[index] = _STATS.pack(math.nan, math.nan, math.nan, math.nan, GONE)
                    request_ids[index] = NO_REQUEST_ID
                else:
                    found[index] = found[index] or packed_stats(entry, timestamp_ms(indexed_timestamp(entry)))
                    request_ids[index] = request_ids[index] or packed_request_id(entry)
        if not with_ids:
            request_ids = []
        return members, np.frombuffer(b"".join(found), dtype=STATS), request_ids

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
        return [
            orjson.loads(raw)
            if raw is not None
            else (summary_fields(orjson.loads(bodies[member])) if bodies[member] is not None else None)
            for member, raw in zip(members, found, strict=False)
        ]

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
        keys = list(self.keys[1:])  # the order, then every hash keyed by member
        removed = 0
        while True:
            count = int(
                self._call(
                    lambda client: client.eval(
                        TRIM_SCRIPT, len(keys), *keys, timestamp_ms(cutoff), TRIM_CHUNK
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
        if client is not None and self._pid == os.getpid():
            client.close()
