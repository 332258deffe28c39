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
"""

from __future__ import annotations

import logging
import math
import operator
import os
import struct
import threading
from collections.abc import Iterator, Sequence

import numpy as np
import orjson
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from webapp.logstore.base import (
    SUMMARY_FIELDS,
    DriftWindow,
    LogPage,
    LogQuery,
    LogStore,
    Position,
    StoreUnavailable,
    SummaryColumns,
    as_number,
    drift_codes,
    entry_bytes,
    indexed_timestamp,
    json_bytes,
    page_from_matches,
    page_windows,
    summary_fields,
    timestamp_ms,
)
from webapp.logstore.entry import TIMESTAMP
from webapp.logstore.phrases import Phrases
from webapp.settings import DEFAULTS

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 0.5
READ_TIMEOUT = 1.0
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

# What every script that writes or reads the rings shares. A ring is one string of fixed-size
# records, the entry of id n in slot n % slots, its first 8 bytes its id (zeros: an empty slot).
# Its size follows the log's capacity (the next power of two, at least 1024 slots): a larger
# capacity rebuilds it, records moved to their new slots.
RING_LUA = """
local STATS_WIDTH, ID_WIDTH, ID_TEXT = 41, 73, 64
local NUL = string.char(0)
local function ring_slots(max_entries)
    local slots = 1024
    while slots < max_entries do
        slots = slots * 2
    end
    return slots
end
local function sized(key, width, slots)
    local size = redis.call('STRLEN', key)
    if size >= slots * width and size % width == 0 then
        return size / width
    end
    local old = ''
    if size % width ~= 0 then
        redis.call('DEL', key)  -- not a ring of this width: its records are unreadable anyway
    elseif size > 0 then
        old = redis.call('GET', key)
    end
    redis.call('SETRANGE', key, slots * width - 1, NUL)  -- Redis fills the new bytes with zeros
    local moved = {}
    for off = 0, #old - width, width do
        local id = struct.unpack('<i8', old, off + 1)
        if id > 0 and (id % slots) * width ~= off then
            moved[#moved + 1] = off
            redis.call('SETRANGE', key, off, string.rep(NUL, width))
        end
    end
    for _, off in ipairs(moved) do
        local id = struct.unpack('<i8', old, off + 1)
        redis.call('SETRANGE', key, (id % slots) * width, string.sub(old, off + 1, off + width))
    end
    return slots
end
-- The request-id record: its length plus one (0: no request id; 255: kept in the fields only,
-- being longer than ID_TEXT or not ASCII, which string.lower cannot fold as Python does).
local function id_record(head, packed)
    local text = string.sub(packed, 2)
    if packed == NUL then
        return head .. string.rep(NUL, ID_TEXT + 1)
    elseif string.sub(packed, 1, 1) == string.char(1) and #text <= ID_TEXT
        and not string.find(text, '[%z\\128-\\255]') then
        return head .. string.char(#text + 1) .. text .. string.rep(NUL, ID_TEXT - #text)
    end
    return head .. string.char(255) .. string.rep(NUL, ID_TEXT)
end
-- Write the records of the consecutive ids first, first + 1, ... with one SETRANGE (two where
-- the ring wraps).
local function put(key, width, slots, first, records)
    local i = 1
    while i <= #records do
        local slot = (first + i - 1) % slots
        local run = math.min(#records - i + 1, slots - slot)
        redis.call('SETRANGE', key, slot * width, table.concat(records, '', i, i + run - 1))
        i = i + run
    end
end
-- Empty the slots that still hold the removed members (not those a later entry took): one
-- GETRANGE and one SETRANGE a run of consecutive ids.
local function clear(key, width, members)
    local size = redis.call('STRLEN', key)
    if size == 0 or size % width ~= 0 then
        return
    end
    local slots = size / width
    local ids = {}
    for i, member in ipairs(members) do
        ids[i] = tonumber(member)
    end
    table.sort(ids)
    local zeros = string.rep(NUL, width)
    local i = 1
    while i <= #ids do
        local j = i
        while j < #ids and ids[j + 1] == ids[j] + 1 and ids[j + 1] % slots ~= 0 do
            j = j + 1
        end
        local start = (ids[i] % slots) * width
        local block = redis.call('GETRANGE', key, start, start + (j - i + 1) * width - 1)
        local records = {}
        for k = i, j do
            local off = (k - i) * width
            if struct.unpack('<i8', block, off + 1) == ids[k] then
                records[k - i + 1] = zeros
            else
                records[k - i + 1] = string.sub(block, off + 1, off + width)
            end
        end
        redis.call('SETRANGE', key, start, table.concat(records))
        i = j + 1
    end
end
-- KEYS as the store's keys: seq, order, entries, fields, stats ring, request-id ring, and the
-- previous version's stats and request-id hashes.
local function forget(members)
    for _, k in ipairs({3, 4, 7, 8}) do
        redis.call('HDEL', KEYS[k], unpack(members))
    end
    clear(KEYS[5], STATS_WIDTH, members)
    clear(KEYS[6], ID_WIDTH, members)
end
"""

# KEYS: the store's keys (RING_LUA), then the phrase book. ARGV: max_entries, the phrase book's
# token the bodies' phrase numbers belong to ('' when none does), then the batch in three
# arguments (not four an entry: each argument costs the client and Redis about a microsecond):
# the entries' APPEND_RECORDs (epoch ms, 1 when the body's wording is phrase numbers, STATS,
# the request id's ring record: ID_RECORD less the id), their JSON bodies without id, and their
# summary fields as JSON without id, each list cut by SEPARATOR (",\n,": JSON as orjson writes
# it holds no line feed). The id is spliced in as the first key so each body is
# self-describing; a body whose wording is phrase numbers is kept as a JSON list of one object,
# [{"id": ...}] (PHRASE_SCRIPT). A phrase book that is not the one the numbers belong to (Redis
# restarted empty meanwhile): nothing is written, the error PHRASES. One ZADD and one HSET a
# hash, and one SETRANGE a ring, for up to 1,000 entries (unpack() takes a few thousand values
# at most, hence the chunks).
APPEND_SCRIPT = (
    RING_LUA
    + """
if ARGV[2] ~= '' and redis.call('HGET', KEYS[9], '0') ~= ARGV[2] then
    return redis.error_reply('PHRASES the phrase book changed')
end
local RECORD, STATS_END = 107, 42
local records, bodies, summaries = ARGV[3], ARGV[4], ARGV[5]
local count = #records / RECORD
local last = redis.call('INCRBY', KEYS[1], count)
local first = last - count + 1
local slots = ring_slots(tonumber(ARGV[1]))
local stats_slots = sized(KEYS[5], STATS_WIDTH, slots)
local id_slots = sized(KEYS[6], ID_WIDTH, slots)
-- The JSON object that starts at `from` in `text` (up to the next SEPARATOR), with `head` as
-- its first key, inside [] when `packed`; and where the next one starts.
local function with_id(head, text, from, packed)
    local stop = (string.find(text, ',\\n,', from, true) or #text + 1) - 1
    local json = string.sub(text, from + 1, stop)
    local comma = stop > from + 1 and ',' or ''
    if packed == 1 then
        return '[' .. head .. comma .. json .. ']', stop + 4
    end
    return head .. comma .. json, stop + 4
end
local at_body, at_summary = 1, 1
for start = 1, count, 1000 do
    local order, bodies_, fields, stats, ids = {}, {}, {}, {}, {}
    local n, r = 0, 0
    for i = start, math.min(start + 999, count) do
        local id = first + i - 1
        local member = string.format('%016d', id)
        local head = '{"id":' .. string.format('%d', id)
        local off = (i - 1) * RECORD
        local ms, packed = struct.unpack('<i8B', records, off + 1)
        local binary = struct.pack('<i8', id)
        order[n + 1], order[n + 2] = ms, member
        bodies_[n + 1], fields[n + 1] = member, member
        bodies_[n + 2], at_body = with_id(head, bodies, at_body, packed)
        fields[n + 2], at_summary = with_id(head, summaries, at_summary, 0)
        n = n + 2
        r = r + 1
        stats[r] = binary .. string.sub(records, off + 10, off + STATS_END)
        ids[r] = binary .. string.sub(records, off + STATS_END + 1, off + RECORD)
    end
    redis.call('ZADD', KEYS[2], unpack(order))
    redis.call('HSET', KEYS[3], unpack(bodies_))
    redis.call('HSET', KEYS[4], unpack(fields))
    put(KEYS[5], STATS_WIDTH, stats_slots, first + start - 1, stats)
    put(KEYS[6], ID_WIDTH, id_slots, first + start - 1, ids)
end
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[1])
while excess > 0 do
    local step = math.min(excess, 1000)
    local oldest = redis.call('ZRANGE', KEYS[2], 0, step - 1)
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, step - 1)
    forget(oldest)
    excess = excess - step
end
return last
"""
)

# KEYS: the phrase book (number -> a phrase's JSON; field 0: the book's token), its index (JSON
# -> number). ARGV: a token for a new book, then phrases' JSON. Their numbers, new phrases added:
# {the book's token, numbers...}. The token tells a book from the one a Redis that restarted empty
# lost (their numbers differ), so that no process writes or reads numbers of a lost book.
PHRASE_SCRIPT = """
if redis.call('HSETNX', KEYS[1], '0', ARGV[1]) == 1 then
    redis.call('DEL', KEYS[2])
end
local found = {redis.call('HGET', KEYS[1], '0')}
for i = 2, #ARGV do
    local number = redis.call('HGET', KEYS[2], ARGV[i])
    if not number then
        number = redis.call('HLEN', KEYS[1])
        redis.call('HSET', KEYS[1], number, ARGV[i])
        redis.call('HSET', KEYS[2], ARGV[i], number)
    end
    found[i] = tonumber(number)
end
return found
"""

# KEYS: the store's keys (RING_LUA). ARGV: max_entries, an HSCAN cursor of the previous
# version's stats hash. Moves up to about 1,000 of its entries still in the log into the rings
# (where their slots are free) and out of the hashes; returns the next cursor (0: done).
MIGRATE_SCRIPT = (
    RING_LUA
    + """
local slots = ring_slots(tonumber(ARGV[1]))
local stats_slots = sized(KEYS[5], STATS_WIDTH, slots)
local id_slots = sized(KEYS[6], ID_WIDTH, slots)
local scan = redis.call('HSCAN', KEYS[7], ARGV[2], 'COUNT', 1000)
local found, moved = scan[2], {}
for i = 1, #found, 2 do
    local member, stats = found[i], found[i + 1]
    local id = tonumber(member)
    if id and #stats == 33 and redis.call('ZSCORE', KEYS[2], member) then
        local at, id_at = (id % stats_slots) * STATS_WIDTH, (id % id_slots) * ID_WIDTH
        local taken = struct.unpack('<i8', redis.call('GETRANGE', KEYS[5], at, at + 7))
        local id_taken = struct.unpack('<i8', redis.call('GETRANGE', KEYS[6], id_at, id_at + 7))
        if taken == 0 and id_taken == 0 then
            local binary = struct.pack('<i8', id)
            redis.call('SETRANGE', KEYS[5], at, binary .. stats)
            redis.call('SETRANGE', KEYS[6], id_at, id_record(binary, redis.call('HGET', KEYS[8], member) or ''))
            moved[#moved + 1] = member
        end
    end
end
if #moved > 0 then
    redis.call('HDEL', KEYS[7], unpack(moved))
    redis.call('HDEL', KEYS[8], unpack(moved))
end
return scan[1]
"""
)

# Lua for the scripts that read the rings: the record (after its 8-byte id) of entry `id` in a
# ring of records `width` bytes wide, or nil when its slot holds another entry or none.
RING_RECORD = """
local function ring_record(ring, width, id)
    local slots = math.floor(#ring / width)
    if not id or slots == 0 then
        return nil
    end
    local off = (id % slots) * width
    if struct.unpack('<i8', ring, off + 1) ~= id then
        return nil
    end
    return string.sub(ring, off + 9, off + width)
end
"""

# KEYS: order, stats ring. ARGV: highest score, lowest score, offset, how many. Those members of
# the window newest first with their stats (false where the ring has none): read by Redis itself,
# so that no command carries thousands of members from Python; WINDOW_CHUNK at a time, so that no
# call blocks Redis for long.
WINDOW_SCRIPT = (
    RING_RECORD
    + """
local members = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', ARGV[3], ARGV[4])
local ring = redis.call('GET', KEYS[2]) or ''
local stats = {}
for i, member in ipairs(members) do
    stats[i] = ring_record(ring, 41, tonumber(member)) or false
end
return {members, stats}
"""
)

# KEYS: order, stats ring, request-id ring. ARGV: highest score, lowest score, offset, how many,
# then the filters ('' when not set): level (LEVELS' index, OTHER_LEVEL for another),
# prediction, lowest probability, highest probability, "1" for a request-id search, its needle in
# lower case. Like WINDOW_SCRIPT, but Redis applies the filters to the records itself and returns
# only the members that match or that it cannot decide, so no Python loop runs per entry:
# {members scanned, those members, a flag each ("1" matches; "?" undecided, stats read; "!"
# undecided, no stats), their stats concatenated (33 zero bytes where none)}. Undecided: no
# record (an entry of a previous version, or one trimmed meantime), a level other than LEVELS
# under a level filter (LogQuery.matches compares text), a request id kept only in the fields
# (ID_RECORD's UNKNOWN_ID): Python decides those from the fields.
FILTER_SCRIPT = (
    RING_RECORD
    + """
local members = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', ARGV[3], ARGV[4])
local level, prediction = tonumber(ARGV[5]), tonumber(ARGV[6])
local lowest, highest = tonumber(ARGV[7]), tonumber(ARGV[8])
local search, needle = ARGV[9] == '1', ARGV[10]
local none = string.rep(string.char(0), 33)
local ring = redis.call('GET', KEYS[2]) or ''
local id_ring = search and redis.call('GET', KEYS[3]) or ''
local kept, flags, stats = {}, {}, {}
for _, member in ipairs(members) do
    local id, flag = tonumber(member), '1'
    local raw = ring_record(ring, 41, id)
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
        local record, length, text = ring_record(id_ring, 73, id), nil, nil
        if record then
            length = string.byte(record, 1)
            text = string.sub(record, 2, length)
        end
        if length == nil or length == 255 then
            if flag == '1' then
                flag = '?'
            end
        elseif length == 0 or not string.find(string.lower(text), needle, 1, true) then
            flag = nil
        end
    end
    if flag then
        kept[#kept + 1] = member
        flags[#flags + 1] = flag
        stats[#stats + 1] = raw or none
    end
end
return {#members, kept, table.concat(flags), table.concat(stats)}
"""
)

#: An entry's stats: what the summary, charts and the common filters read, as fixed-size bytes
#: that NumPy reads for thousands of entries at once (no JSON parsed per entry). NaN where the
#: entry has no such number; level: LEVELS' index, OTHER_LEVEL for any other text, GONE for an
#: entry trimmed while it was read. The writer sends them in APPEND_RECORD.
STATS = np.dtype(
    [
        ("seconds", "<f8"),
        ("prediction", "<f8"),
        ("probability", "<f8"),
        ("latency_ms", "<f8"),
        ("level", "u1"),
    ]
)
_STATS = struct.Struct("<ddddB")  # 33 bytes
LEVELS = ("INFO", "WARNING")
OTHER_LEVEL, GONE = 2, 255
#: A slot of the stats ring: the entry's id (0: empty slot) and its STATS.
STATS_RECORD = np.dtype([("id", "<i8"), ("stats", STATS)])
#: A slot of the request-id ring: the entry's id, its request id's length plus one (0: none;
#: UNKNOWN_ID: one longer than 64 bytes or not ASCII, read from the fields) and the id, ASCII.
ID_RECORD = np.dtype([("id", "<i8"), ("length", "u1"), ("text", "S64")])
UNKNOWN_ID = 255


def _number(value) -> float:
    if type(value) is float or type(value) is int:  # the common case, without as_number's isinstance
        return value
    number = as_number(value)
    return math.nan if number is None else number


def _stats_values(ms: int, level, prediction, probability, latency_ms) -> tuple:
    """STATS' values of an entry of these fields; `ms` is its position's epoch milliseconds (0: no
    usable timestamp)."""
    return (
        ms / 1000 if ms else math.nan,
        _number(prediction),
        _number(probability),
        _number(latency_ms),
        LEVELS.index(level) if level in LEVELS else OTHER_LEVEL,
    )


def packed_stats(entry: dict, ms: int) -> bytes:
    """The entry's STATS; `ms` is its position's epoch milliseconds (0: no usable timestamp)."""
    get = entry.get
    return _STATS.pack(
        *_stats_values(ms, get("level"), get("prediction"), get("probability"), get("latency_ms"))
    )


#: An entry as APPEND_SCRIPT takes it, beside its body and summary: its epoch ms (0: no usable
#: timestamp), 1 when its body's wording is phrase numbers, its STATS, and its request id as
#: the request-id ring keeps it (ID_RECORD less the id). One pack an entry, no Lua per field.
APPEND_RECORD = struct.Struct("<qBddddBB64s")  # 107 bytes, APPEND_SCRIPT's RECORD
#: Between two bodies, or two summaries, in APPEND_SCRIPT's arguments.
SEPARATOR = b",\n,"
#: summary_fields' keys but the id (the script puts it in) and the drift code (computed).
_SUMMARY_KEYS = tuple(key for key in SUMMARY_FIELDS if key not in ("id", "drift"))
_summary_values = operator.itemgetter(*_SUMMARY_KEYS)
#: What APPEND_RECORD is made of.
_RECORD_KEYS = ("timestamp", "level", "prediction", "probability", "latency_ms", "request_id")
_record_values = operator.itemgetter(*_RECORD_KEYS)


def _summary(entry: dict, drift: int | None) -> dict:
    """summary_fields(entry) without the id, in the same key order; `drift` is its drift_code."""
    try:
        fields = dict(zip(_SUMMARY_KEYS, _summary_values(entry), strict=True))
    except KeyError:  # an entry without some of them: those it has
        fields = {key: entry[key] for key in _SUMMARY_KEYS if key in entry}
    fields["drift"] = drift
    return fields


#: Put between the values of one orjson call, which writes "," on each side: SEPARATOR.
_CUT = orjson.Fragment(b"\n")


def _joined_json(values: list) -> bytes:
    """json_bytes of each value joined by SEPARATOR, written by one orjson call (a value that
    needs json_bytes' second try gets it with the others: the same bytes for every value)."""
    sequence = [_CUT] * (2 * len(values) - 1)
    sequence[::2] = values
    return json_bytes(sequence)[1:-1]


def _command(*parts: bytes) -> bytes:
    """A Redis command of these arguments in the Redis protocol, written in one piece."""
    pieces = [b"*%d\r\n" % len(parts)]
    for part in parts:
        pieces += (b"$%d\r\n" % len(part), part, b"\r\n")
    return b"".join(pieces)


def _id_record(request_id) -> tuple[int, bytes]:
    """ID_RECORD's length and text for a request id: (0, b"") for none, UNKNOWN_ID for one the
    ring cannot hold (longer than 64 bytes, not ASCII, or with a NUL)."""
    if request_id is None:
        return 0, b""
    text = request_id if type(request_id) is str else str(request_id)
    if len(text) <= 64 and text.isascii() and "\x00" not in text:
        return len(text) + 1, text.encode("ascii")
    return UNKNOWN_ID, b""


def _searched(needle: bytes, length: np.ndarray, lowered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which ID_RECORDs (their `length`, their text in lower case) hold a request id containing
    `needle` (lower case), and which cannot be told from the ring (UNKNOWN_ID: compared as text
    by LogQuery.matches): one C loop of NumPy's over every id."""
    unknown = length == UNKNOWN_ID
    present = (length != 0) & ~unknown
    if b"\x00" in needle:  # no id in the ring holds one (NumPy would drop a trailing NUL)
        return np.zeros(len(length), dtype=bool), unknown
    found = np.strings.find(lowered, np.bytes_(needle)) >= 0
    return found & present, unknown


# KEYS: the store's keys (RING_LUA). ARGV: the cutoff score (exclusive), how many at most.
# Entries at score 0 (no usable timestamp) have no known age and stay.
TRIM_SCRIPT = (
    RING_LUA
    + """
local oldest = redis.call('ZRANGEBYSCORE', KEYS[2], '(0', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #oldest == 0 then
    return 0
end
redis.call('ZREM', KEYS[2], unpack(oldest))
forget(oldest)
return #oldest
"""
)
#: Entries removed per script call by age retention: a short step, so Redis never blocks long.
TRIM_CHUNK = 1000


class PhrasesChanged(StoreUnavailable):
    """The phrase book is not the one this process knew (Redis restarted empty): learn it again."""


def _loaded(raw: bytes) -> dict:
    """A stored body as a dict; one with its wording as phrase numbers is [{...}] (still packed)."""
    value = orjson.loads(raw)
    return value[0] if type(value) is list else value


def _milliseconds(stats: np.ndarray) -> np.ndarray:
    """Each STATS' timestamp as the sorted set scores it: epoch milliseconds, 0 for none."""
    return np.where(np.isnan(stats["seconds"]), 0, np.rint(stats["seconds"] * 1000)).astype(np.int64)


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
        self.stats_ring_key = f"{prefix}:log:stats_ring"
        self.id_ring_key = f"{prefix}:log:request_id_ring"
        # The previous version's: moved into the rings by MIGRATE_SCRIPT, trimmed meanwhile.
        self.old_stats_key = f"{prefix}:log:stats"
        self.old_request_ids_key = f"{prefix}:log:request_ids"
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
        """Every key this store writes (the previous version's last), in the scripts' KEYS order."""
        return (
            self.seq_key,
            self.order_key,
            self.entries_key,
            self.fields_key,
            self.stats_ring_key,
            self.id_ring_key,
            self.old_stats_key,
            self.old_request_ids_key,
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

    def append(self, entries: Sequence[dict]) -> None:
        if not entries:
            return
        try:
            last = self._append(entries)
        except PhrasesChanged:  # Redis lost the book: pack again, with the book there is now
            last = self._append(entries)
        if int(last) - len(entries) < self._last_id:
            self._lost(f"its id counter went back from {self._last_id} to {int(last) - len(entries)}")
        self._last_id = int(last)
        self._written += len(entries)
        if self._run_id is None:
            self._call(self._check_server)

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
            summaries.append(_summary(entry, drift))
            try:
                stamp, level, prediction, probability, latency_ms, request_id = _record_values(entry)
            except KeyError:  # an entry without some of them
                stamp, level, prediction, probability, latency_ms, request_id = map(entry.get, _RECORD_KEYS)
            ms = ms_of(stamp, entry)
            records.append(
                pack(
                    ms,
                    body is not None,
                    *_stats_values(ms, level, prediction, probability, latency_ms),
                    *_id_record(request_id),
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
            _joined_json(summaries),
        )
        try:
            return self._call(lambda client: self._evalsha(client, self._script, self._append_keys, args))
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
        try:
            self._same_book(client.hget(self.phrase_keys[0], 0))  # cached numbers: of this book?
        except PhrasesChanged:
            self._phrases()
            self._same_book(client.hget(self.phrase_keys[0], 0))
        self._phrases()[0].unpack(bodies, packed, self._load_phrases)
        return bodies

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
        raws = []
        for start in range(0, len(members), FETCH_CHUNK):
            chunk = client.hmget(self.entries_key, members[start : start + FETCH_CHUNK])
            raws += [body for body in chunk if body is not None]
        return self._entries(client, raws)

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
                    ms, after = _milliseconds(stats), query.after
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
        ms = _milliseconds(stats)
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
            matched, unknown = _searched(needle, id_records["length"], lowered)
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
                    found[index] = _STATS.pack(math.nan, math.nan, math.nan, math.nan, GONE)
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
        return [
            orjson.loads(raw)
            if raw is not None
            else (summary_fields(_loaded(bodies[member])) if bodies[member] is not None else None)
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
