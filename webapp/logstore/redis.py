"""Prediction log in Redis, shared by every app instance that uses the same prefix.

Keys: ``{prefix}:log:seq`` (id counter), ``{prefix}:log:order`` (sorted set: member = the id,
zero-padded; score = the entry's timestamp in epoch milliseconds, so equal scores sort by id)
and ``{prefix}:log:entries`` (hash: padded id -> the entry's JSON with its id). One Lua script
takes the ids, adds the entries and trims to ``max_entries`` atomically, so concurrent writers
never interleave or reuse ids. Filtering happens in Python over the capped set.
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
    timestamp_ms,
)
from webapp.settings import DEFAULTS

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 0.5
READ_TIMEOUT = 1.0
#: Bodies fetched per HMGET when reading many entries.
FETCH_CHUNK = 500

# KEYS: seq, order, entries. ARGV: max_entries, then (epoch ms, JSON without id) per entry.
# The id is spliced in as the first key so each body is self-describing.
APPEND_SCRIPT = """
local count = (#ARGV - 1) / 2
local last = redis.call('INCRBY', KEYS[1], count)
local first = last - count + 1
for i = 1, count do
    local id = first + i - 1
    local member = string.format('%016d', id)
    local body = ARGV[2 * i + 1]
    local head = '{"id":' .. string.format('%d', id)
    if body == '{}' then
        body = head .. '}'
    else
        body = head .. ',' .. string.sub(body, 2)
    end
    redis.call('ZADD', KEYS[2], ARGV[2 * i], member)
    redis.call('HSET', KEYS[3], member, body)
end
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[1])
while excess > 0 do
    local step = math.min(excess, 1000)
    local oldest = redis.call('ZRANGE', KEYS[2], 0, step - 1)
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, step - 1)
    redis.call('HDEL', KEYS[3], unpack(oldest))
    excess = excess - step
end
return last
"""


def _member(position: Position) -> bytes:
    return b"%016d" % position.id


class RedisLogStore(LogStore):
    """Log entries under ``{prefix}:log:*`` in the Redis at ``url``, newest ``max_entries`` kept."""

    kind = "redis"

    def __init__(self, url: str, prefix: str = DEFAULTS.redis_key_prefix,
                 max_entries: int = DEFAULTS.log_max_entries) -> None:
        self.url = url
        self.prefix = prefix
        self.max_entries = max_entries
        self.seq_key = f"{prefix}:log:seq"
        self.order_key = f"{prefix}:log:order"
        self.entries_key = f"{prefix}:log:entries"
        self._client: redis.Redis | None = None
        self._script = None
        self._pid: int | None = None

    @property
    def keys(self) -> tuple[str, str, str]:
        """Every key this store writes."""
        return self.seq_key, self.order_key, self.entries_key

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
            args += [timestamp_ms(indexed_timestamp(entry)), entry_json(entry)]
        self._call(
            lambda client: self._script(keys=list(self.keys), args=args, client=client)
        )

    def _members(self, client: redis.Redis, after: Position | None, count: int | None = None) -> list[bytes]:
        """Padded ids newest first, after the position; `count` caps how many (None: all)."""
        if after is None:
            return client.zrevrangebyscore(self.order_key, "+inf", "-inf",
                                           start=0 if count else None, num=count)
        # Entries of the cursor's own millisecond sort by id: drop those at or above it.
        same_ms = client.zcount(self.order_key, after.ms, after.ms)
        fetched = client.zrevrangebyscore(
            self.order_key, after.ms, "-inf", start=0 if count else None,
            num=count + same_ms if count else None, withscores=True)
        cursor_member = _member(after)
        return [member for member, score in fetched
                if score < after.ms or member < cursor_member][:count]

    def _bodies(self, client: redis.Redis, members: list[bytes]) -> list[dict]:
        bodies = []
        for start in range(0, len(members), FETCH_CHUNK):
            chunk = client.hmget(self.entries_key, members[start:start + FETCH_CHUNK])
            bodies += [orjson.loads(body) for body in chunk if body is not None]
        return bodies

    def query(self, query: LogQuery) -> LogPage:
        if not query.has_filters:
            # Fast path: Redis orders and cuts the page; only its bodies are read.
            def unfiltered(client: redis.Redis) -> tuple[int, list[dict]]:
                total = client.zcard(self.order_key)
                members = self._members(client, query.after, query.offset + query.limit + 1)
                return total, self._bodies(client, members[query.offset:])

            total, entries = self._call(unfiltered)
            return page_from_matches(iter(entries), total, LogQuery(limit=query.limit))
        entries = self._call(lambda client: self._bodies(client, self._members(client, None)))
        matching = [entry for entry in entries if query.matches(entry)]
        after = query.after
        if after is not None:
            matching_after = [entry for entry in matching
                              if (Position.of(entry).ms, entry["id"]) < (after.ms, after.id)]
        else:
            matching_after = matching
        return page_from_matches(iter(matching_after), len(matching), query)

    def iter_entries(self, query: LogQuery) -> Iterator[dict]:
        def read(client: redis.Redis) -> list[dict]:
            return self._bodies(client, self._members(client, query.after))

        return (entry for entry in self._call(read) if query.matches(entry))

    def clear(self) -> int:
        # The id counter stays: ids keep increasing after a clear, as in SQLite.
        def remove(client: redis.Redis) -> int:
            with client.pipeline(transaction=True) as pipe:
                pipe.zcard(self.order_key)
                pipe.delete(self.order_key, self.entries_key)
                count, _ = pipe.execute()
            return count

        return self._call(remove)

    def ping(self) -> None:
        self._call(lambda client: client.ping())

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._pid == os.getpid():
            client.close()
