"""Prediction log in Redis, shared by every app instance that uses the same prefix.

Keys: ``{prefix}:log:seq`` (id counter), ``{prefix}:log:order`` (sorted set: member = the id,
zero-padded; score = the entry's timestamp in epoch milliseconds, so equal scores sort by id),
``{prefix}:log:entries`` (hash: padded id -> the entry's JSON with its id) and
``{prefix}:log:fields`` (hash: padded id -> the entry's SUMMARY_FIELDS as JSON, a tenth of its
size). One Lua script takes the ids, adds the entries and trims to ``max_entries`` atomically,
so concurrent writers never interleave or reuse ids.

Reads take the time window from the sorted set (a score range), filter on the small fields
in Python, and load whole bodies only for the entries returned: a page, or an export's chunk.

A Redis without persistence that restarts comes back empty. The store notices and keeps the
reason in ``data_loss`` (reported by /health): the server's run id changed and the log holds fewer
entries than this process wrote, or the id counter went backwards under a write.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence

import orjson
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from webapp.logstore.base import (
    LogPage,
    LogQuery,
    LogStore,
    Position,
    StoreUnavailable,
    entry_json,
    indexed_timestamp,
    page_from_matches,
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

# KEYS: seq, order, entries, fields. ARGV: max_entries, then (epoch ms, JSON without id, its
# summary fields as JSON without id) per entry. The id is spliced in as the first key so each
# body is self-describing.
APPEND_SCRIPT = """
local count = (#ARGV - 1) / 3
local last = redis.call('INCRBY', KEYS[1], count)
local first = last - count + 1
local function with_id(head, json)
    if json == '{}' then
        return head .. '}'
    end
    return head .. ',' .. string.sub(json, 2)
end
for i = 1, count do
    local id = first + i - 1
    local member = string.format('%016d', id)
    local head = '{"id":' .. string.format('%d', id)
    redis.call('ZADD', KEYS[2], ARGV[3 * i - 1], member)
    redis.call('HSET', KEYS[3], member, with_id(head, ARGV[3 * i]))
    redis.call('HSET', KEYS[4], member, with_id(head, ARGV[3 * i + 1]))
end
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[1])
while excess > 0 do
    local step = math.min(excess, 1000)
    local oldest = redis.call('ZRANGE', KEYS[2], 0, step - 1)
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, step - 1)
    redis.call('HDEL', KEYS[3], unpack(oldest))
    redis.call('HDEL', KEYS[4], unpack(oldest))
    excess = excess - step
end
return last
"""

# KEYS: order, entries, fields. ARGV: the cutoff score (exclusive), how many at most. Entries at
# score 0 (no usable timestamp) have no known age and stay.
TRIM_SCRIPT = """
local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], '(0', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #oldest == 0 then
    return 0
end
redis.call('ZREM', KEYS[1], unpack(oldest))
redis.call('HDEL', KEYS[2], unpack(oldest))
redis.call('HDEL', KEYS[3], unpack(oldest))
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
        self._client: redis.Redis | None = None
        self._script = None
        self._pid: int | None = None
        self._run_id: str | None = None
        self._last_id = 0
        self._written = 0
        #: Why the log is known to have lost entries (Redis restarted empty), or None.
        self.data_loss: str | None = None

    @property
    def keys(self) -> tuple[str, str, str, str]:
        """Every key this store writes."""
        return self.seq_key, self.order_key, self.entries_key, self.fields_key

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
        for entry in entries:
            args += [
                timestamp_ms(indexed_timestamp(entry)),
                entry_json(entry),
                entry_json(summary_fields(entry)),
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
            # The total counts every match, so every entry of the time window is checked, on its
            # small summary fields; only the page's bodies are read.
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
                pipe.delete(self.order_key, self.entries_key, self.fields_key)
                count, _ = pipe.execute()
            return count

        return self._call(remove)

    def remove_older_than(self, cutoff: str) -> int:
        keys = [self.order_key, self.entries_key, self.fields_key]
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
