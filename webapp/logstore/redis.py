"""Prediction log in Redis, shared by every app instance that uses the same prefix.

Keys: ``{prefix}:log:seq`` (id counter) and ``{prefix}:log:entries`` (sorted set, score = id,
member = the entry's JSON with its id). One Lua script takes the ids, adds the entries and
trims to ``max_entries`` atomically, so concurrent writers never interleave or reuse ids.
Filtering happens in Python over the capped set.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Iterator, Sequence

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from webapp.logstore.base import (
    LogPage,
    LogQuery,
    LogStore,
    StoreUnavailable,
    entry_json,
    page_from_matches,
)

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 0.5
READ_TIMEOUT = 1.0

# KEYS: seq, entries. ARGV: max_entries, then each entry's JSON without its id.
# The id is spliced in as the first key so members are unique and self-describing.
APPEND_SCRIPT = """
local count = #ARGV - 1
local last = redis.call('INCRBY', KEYS[1], count)
local first = last - count + 1
for i = 1, count do
    local id = first + i - 1
    local body = ARGV[i + 1]
    local head = '{"id":' .. string.format('%d', id)
    if body == '{}' then
        body = head .. '}'
    else
        body = head .. ',' .. string.sub(body, 2)
    end
    redis.call('ZADD', KEYS[2], id, body)
end
local size = redis.call('ZCARD', KEYS[2])
local excess = size - tonumber(ARGV[1])
if excess > 0 then
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
end
return last
"""


class RedisLogStore(LogStore):
    """Log entries under ``{prefix}:log:*`` in the Redis at ``url``, newest ``max_entries`` kept."""

    kind = "redis"

    def __init__(self, url: str, prefix: str = "lungrisk", max_entries: int = 10000) -> None:
        self.url = url
        self.prefix = prefix
        self.max_entries = max_entries
        self.seq_key = f"{prefix}:log:seq"
        self.entries_key = f"{prefix}:log:entries"
        self._client: redis.Redis | None = None
        self._script = None
        self._pid: int | None = None

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
        bodies = [entry_json(entry) for entry in entries]
        self._call(
            lambda client: self._script(
                keys=[self.seq_key, self.entries_key],
                args=[self.max_entries, *bodies],
                client=client,
            )
        )

    def _members(self, client: redis.Redis, cursor: int | None, offset: int = 0,
                 count: int | None = None) -> list[dict]:
        high = "+inf" if cursor is None else f"({cursor}"
        members = client.zrevrangebyscore(
            self.entries_key, high, "-inf", start=offset if count is not None else None,
            num=count,
        )
        return [json.loads(member) for member in members]

    def query(self, query: LogQuery) -> LogPage:
        if not query.has_filters:
            # Fast path: let Redis do the paging.
            def unfiltered(client: redis.Redis) -> tuple[int, list[dict]]:
                with client.pipeline(transaction=True) as pipe:
                    pipe.zcard(self.entries_key)
                    high = "+inf" if query.cursor is None else f"({query.cursor}"
                    pipe.zrevrangebyscore(
                        self.entries_key, high, "-inf", start=query.offset,
                        num=query.limit + 1,
                    )
                    total, members = pipe.execute()
                return total, [json.loads(member) for member in members]

            total, entries = self._call(unfiltered)
            return page_from_matches(
                iter(entries), total, LogQuery(limit=query.limit, offset=0)
            )
        entries = self._call(lambda client: self._members(client, None))
        matching = [entry for entry in entries if query.matches(entry)]
        if query.cursor is not None:
            after_cursor = [entry for entry in matching if entry["id"] < query.cursor]
        else:
            after_cursor = matching
        return page_from_matches(iter(after_cursor), len(matching), query)

    def iter_entries(self, query: LogQuery) -> Iterator[dict]:
        entries = self._call(lambda client: self._members(client, query.cursor))
        return (entry for entry in entries if query.matches(entry))

    def clear(self) -> int:
        # The id counter stays: ids keep increasing after a clear, as in SQLite.
        def remove(client: redis.Redis) -> int:
            with client.pipeline(transaction=True) as pipe:
                pipe.zcard(self.entries_key)
                pipe.delete(self.entries_key)
                count, _ = pipe.execute()
            return count

        return self._call(remove)

    def ping(self) -> None:
        self._call(lambda client: client.ping())

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._pid == os.getpid():
            client.close()
