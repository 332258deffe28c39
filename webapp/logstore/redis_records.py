"""The fixed-size records of the Redis prediction log, and the functions that pack, unpack and
search them: an entry's STATS, the slots of the stats and request-id rings (STATS_RECORD,
ID_RECORD), and APPEND_RECORD, an entry as APPEND_SCRIPT takes it. redis.py's docstring describes
the keys and rings; redis_scripts.py, the Lua that writes and reads them.
"""

from __future__ import annotations

import math
import operator
import struct
from collections.abc import Sequence

import numpy as np
import orjson

from webapp.logstore.base import SUMMARY_FIELDS, as_number, json_bytes

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
STATS_STRUCT = struct.Struct("<ddddB")  # 33 bytes
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


def stats_values(ms: int, level, prediction, probability, latency_ms) -> tuple:
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
    return STATS_STRUCT.pack(
        *stats_values(ms, get("level"), get("prediction"), get("probability"), get("latency_ms"))
    )


#: An entry as APPEND_SCRIPT takes it, beside its body and summary: its epoch ms (0: no usable
#: timestamp), 1 when its body's wording is phrase numbers, its STATS, and its request id as
#: the request-id ring keeps it (ID_RECORD less the id). One pack an entry, no Lua per field.
APPEND_RECORD = struct.Struct("<qBddddBB64s")  # 107 bytes, APPEND_SCRIPT's RECORD
#: APPEND_RECORD as NumPy reads and writes it, for a block's records at once (block_records).
APPEND_RECORDS = np.dtype(
    [
        ("ms", "<i8"),
        ("packed", "u1"),
        ("stats", STATS),
        ("length", "u1"),
        ("text", "S64"),
    ]
)
#: Between two bodies, or two summaries, in APPEND_SCRIPT's arguments.
SEPARATOR = b",\n,"
#: summary_fields' keys but the id (the script puts it in) and the drift code (computed).
_SUMMARY_KEYS = tuple(key for key in SUMMARY_FIELDS if key not in ("id", "drift"))
_summary_values = operator.itemgetter(*_SUMMARY_KEYS)
#: What APPEND_RECORD is made of.
RECORD_KEYS = ("timestamp", "level", "prediction", "probability", "latency_ms", "request_id")
record_values = operator.itemgetter(*RECORD_KEYS)


def summary_of(entry: dict, drift: int | None) -> dict:
    """summary_fields(entry) without the id, in the same key order; `drift` is its drift_code."""
    try:
        fields = dict(zip(_SUMMARY_KEYS, _summary_values(entry), strict=True))
    except KeyError:  # an entry without some of them: those it has
        fields = {key: entry[key] for key in _SUMMARY_KEYS if key in entry}
    fields["drift"] = drift
    return fields


#: Put between the values of one orjson call, which writes "," on each side: SEPARATOR.
_CUT = orjson.Fragment(b"\n")


def joined_json(values: list) -> bytes:
    """json_bytes of each value joined by SEPARATOR, written by one orjson call (a value that
    needs json_bytes' second try gets it with the others: the same bytes for every value)."""
    sequence = [_CUT] * (2 * len(values) - 1)
    sequence[::2] = values
    return json_bytes(sequence)[1:-1]


def block_records(run: Sequence[dict], ms: int) -> bytes:
    """The APPEND_RECORDs of a block's entries (blocks.runs: they share their time, level,
    latency and request id; their predictions are ints, their probabilities floats), the same
    bytes as APPEND_RECORD.pack gives each with its flag 0, a column at a time; `ms` is their
    position's epoch milliseconds."""
    first = run[0]
    seconds, _, _, latency_ms, level = stats_values(ms, first["level"], 0, 0.0, first["latency_ms"])
    records = np.zeros(len(run), dtype=APPEND_RECORDS)
    records["ms"] = ms
    stats = records["stats"]
    stats["seconds"], stats["latency_ms"], stats["level"] = seconds, latency_ms, level
    stats["prediction"] = [entry["prediction"] for entry in run]
    stats["probability"] = [entry["probability"] for entry in run]
    records["length"], records["text"] = id_record(first["request_id"])
    return records.tobytes()


def id_record(request_id) -> tuple[int, bytes]:
    """ID_RECORD's length and text for a request id: (0, b"") for none, UNKNOWN_ID for one the
    ring cannot hold (longer than 64 bytes, not ASCII, or with a NUL)."""
    if request_id is None:
        return 0, b""
    text = request_id if type(request_id) is str else str(request_id)
    if len(text) <= 64 and text.isascii() and "\x00" not in text:
        return len(text) + 1, text.encode("ascii")
    return UNKNOWN_ID, b""


def search_ids(needle: bytes, length: np.ndarray, lowered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which ID_RECORDs (their `length`, their text in lower case) hold a request id containing
    `needle` (lower case), and which cannot be told from the ring (UNKNOWN_ID: compared as text
    by LogQuery.matches): one C loop of NumPy's over every id."""
    unknown = length == UNKNOWN_ID
    present = (length != 0) & ~unknown
    if b"\x00" in needle:  # no id in the ring holds one (NumPy would drop a trailing NUL)
        return np.zeros(len(length), dtype=bool), unknown
    found = np.strings.find(lowered, np.bytes_(needle)) >= 0
    return found & present, unknown


def stats_milliseconds(stats: np.ndarray) -> np.ndarray:
    """Each STATS' timestamp as the sorted set scores it: epoch milliseconds, 0 for none."""
    return np.where(np.isnan(stats["seconds"]), 0, np.rint(stats["seconds"] * 1000)).astype(np.int64)
