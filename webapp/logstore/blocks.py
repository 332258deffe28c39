"""A batch request's log entries kept together: one record (a block) for the bodies of a run.

A batch of 1,000 records makes 1,000 log entries that share their time, level, endpoint, request
id, model version, latency and batch fields (the very same objects: ``entry.for_predictions``
builds them once), and whose wording is a few dozen phrases. Stored one by one, their bodies
were most of what a logged batch cost the writer and the store. So a run of such entries keeps
one place each in the store's index (SQLite's row and covering index, Redis's sorted set and
rings: every filter, total, summary, chart and page reads them as before), and their bodies
together, as one JSON object of columns: the shared fields once, then each entry's inputs,
prediction, probability, risk level, factors and message (as phrase numbers, phrases.py),
warnings and drift code. A read puts each entry back exactly as a body read alone would be:
the same keys in the same order, the same values (tests/logstore/test_log_blocks.py).

Only entries that read back exactly that way are put in a block (``runs``): INFO entries of the
fields ``for_predictions`` writes, in its order, whose shared fields are the same objects as
their run's first entry's, whose inputs are plain integers under the same keys, and whose
wording the phrase book packs. Anything else (rejections, reduced entries, entries read back
and written again, odd values) is stored entry by entry, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import orjson

from webapp.logstore.base import drift_codes
from webapp.logstore.phrases import Phrases

#: Fewer entries than this in a run are stored one by one: a block saves nothing for a few.
MIN_BLOCK = 16
#: The fields every entry of a block shares, kept once.
SHARED = ("timestamp", "level", "endpoint", "request_id", "model_version", "latency_ms", "batch_size")
SHARED_TAIL = ("batch_latency_ms", "errors")
#: An entry's fields in the order ``entry.for_predictions`` writes them: the only order kept.
KEYS = (
    "timestamp",
    "level",
    "endpoint",
    "request_id",
    "inputs",
    "prediction",
    "probability",
    "risk_level",
    "factors",
    "warnings",
    "model_version",
    "latency_ms",
    "batch_size",
    "batch_latency_ms",
    "errors",
    "message",
)
_SHARED_ALL = SHARED + SHARED_TAIL
#: The types a shared value may have (a value JSON reads back as the same).
_PLAIN = (str, int, float, type(None))


def _fits(entry: dict, first: dict, input_keys: tuple) -> bool:
    """Whether `entry` reads back from a block whose shared values are `first`'s."""
    if type(entry) is not dict or tuple(entry) != KEYS:
        return False
    for key in _SHARED_ALL:
        if entry[key] is not first[key]:
            return False
    inputs = entry["inputs"]
    return (
        type(inputs) is dict
        and tuple(inputs) == input_keys
        and set(map(type, inputs.values())) == {int}
        and type(entry["factors"]) is list
        and type(entry["message"]) is str
        and type(entry["warnings"]) is list
        and type(entry["prediction"]) is int
        and type(entry["probability"]) is float
        and type(entry["risk_level"]) is str
    )


def _may_start(entry: dict) -> bool:
    return (
        type(entry) is dict
        and entry.get("level") == "INFO"
        and tuple(entry) == KEYS
        and type(entry["inputs"]) is dict
        and all(type(entry[key]) in _PLAIN and entry[key] == entry[key] for key in _SHARED_ALL)
    )


def runs(entries: Sequence[dict], min_block: int | None = None) -> list[tuple[int, int, bool]]:
    """The entries cut into consecutive runs, in order: (start, stop, whether a block). A block
    holds at least `min_block` entries (MIN_BLOCK, read at each call)."""
    min_block = MIN_BLOCK if min_block is None else min_block
    cuts: list[tuple[int, int, bool]] = []
    index, count, loose = 0, len(entries), 0
    while index < count:
        first = entries[index]
        stop = index + 1
        if _may_start(first):
            input_keys = tuple(first["inputs"])
            if _fits(first, first, input_keys):
                while stop < count and _fits(entries[stop], first, input_keys):
                    stop += 1
        if stop - index >= min_block:
            if loose < index:
                cuts.append((loose, index, False))
            cuts.append((index, stop, True))
            loose = stop
        index = stop
    if loose < count:
        cuts.append((loose, count, False))
    return cuts


def encode(
    entries: Sequence[dict], phrases: Phrases, store: Callable[[list[bytes]], dict[bytes, int]]
) -> tuple[bytes, list[int]] | None:
    """A run's block (its JSON) and each entry's drift code; None when the phrase book cannot
    pack their wording (the run is then stored entry by entry). `store` as for Phrases.pack."""
    numbers = phrases.numbers(entries, store)
    if numbers is None:
        return None
    factors, messages = numbers
    drift = drift_codes(entries)
    first = entries[0]
    block = {
        "shared": {key: first[key] for key in _SHARED_ALL},
        "input_keys": list(first["inputs"]),
        "inputs": [[*entry["inputs"].values()] for entry in entries],
        "prediction": [entry["prediction"] for entry in entries],
        "probability": [entry["probability"] for entry in entries],
        "risk_level": [entry["risk_level"] for entry in entries],
        "factors": factors,
        "warnings": [entry["warnings"] for entry in entries],
        "message": messages,
        "drift": drift,
    }
    return orjson.dumps(block), drift


def decode(
    body: bytes | str,
    first_id: int,
    ids: Sequence[int],
    phrases: Phrases,
    load: Callable[[list[int]], dict[int, bytes]],
) -> dict[int, dict]:
    """The entries of these ids (those the block holds), each as its body would read alone:
    its id first, then its fields in their order, its wording put back."""
    block = orjson.loads(body)
    count = len(block["prediction"])
    wanted = [entry_id for entry_id in ids if 0 <= entry_id - first_id < count]
    shared, input_keys = block["shared"], block["input_keys"]
    bodies = []
    for entry_id in wanted:
        i = entry_id - first_id
        bodies.append(
            {
                "timestamp": shared["timestamp"],
                "level": shared["level"],
                "endpoint": shared["endpoint"],
                "request_id": shared["request_id"],
                "inputs": dict(zip(input_keys, block["inputs"][i], strict=True)),
                "prediction": block["prediction"][i],
                "probability": block["probability"][i],
                "risk_level": block["risk_level"][i],
                "factors": block["factors"][i],
                "warnings": block["warnings"][i],
                "model_version": shared["model_version"],
                "latency_ms": shared["latency_ms"],
                "batch_size": shared["batch_size"],
                "batch_latency_ms": shared["batch_latency_ms"],
                "errors": shared["errors"],
                "message": block["message"][i],
            }
        )
    phrases.unpack(bodies, [True] * len(bodies), load)
    return {entry_id: {"id": entry_id, **body} for entry_id, body in zip(wanted, bodies, strict=True)}


def drift_of(body: bytes | str, first_id: int, ids: Sequence[int]) -> dict[int, int]:
    """The drift codes of these ids, from the block alone (no wording put back)."""
    codes = orjson.loads(body)["drift"]
    return {entry_id: codes[entry_id - first_id] for entry_id in ids if 0 <= entry_id - first_id < len(codes)}
