"""Request JSON that keeps the evidence of a key given twice.

orjson, like most parsers, keeps the last of two equal keys: `{"AGE": 30, ..., "AGE": 80}`
would be scored as an 80-year-old without a word. The standard library can see every pair
(`object_pairs_hook`) but parses several times slower, so it runs only when a duplicate is
possible: every key is followed by a colon, so when the body holds exactly as many colons as
the parsed records hold keys, no key was dropped. Colons inside strings or nested objects (rare
in a survey record) only send the body down the slower, exact path.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


class RepeatedKeys(dict):
    """A JSON object in which some keys were given more than once (the last value is kept)."""

    repeated_keys: tuple[str, ...] = ()


def loads(raw: bytes) -> Any:
    """Parse a request body; objects with a repeated key come back as RepeatedKeys."""
    payload = orjson.loads(raw)
    if raw.count(b":") == _count_keys(payload):
        return payload
    return json.loads(raw, object_pairs_hook=_object)


def repeated_keys(obj: Any) -> tuple[str, ...]:
    return getattr(obj, "repeated_keys", ())


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    seen: set[str] = set()
    repeated = RepeatedKeys(obj)
    repeated.repeated_keys = tuple(dict.fromkeys(key for key, _ in pairs if key in seen or seen.add(key)))
    return repeated


def _count_keys(payload: Any) -> int:
    """The keys of the request's records: one object, a list of them, or {"records": [...]}.

    Keys of deeper objects are not counted: their colons send the body down the exact path.
    """
    try:
        if isinstance(payload, list):
            return sum(map(dict.__len__, payload))
        if isinstance(payload, dict):
            records = payload.get("records")
            return len(payload) + (sum(map(dict.__len__, records)) if isinstance(records, list) else 0)
    except TypeError:  # an item that is not an object: the exact path decides
        return -1
    return 0
