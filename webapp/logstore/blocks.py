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
their run's first entry's, with inputs under the same str keys in the same order, and wording the
phrase book packs. Any value reads back from a block as from the entry's own body: both are the
JSON ``json_bytes`` writes, value by value. Anything else (rejections, reduced entries, entries
read back and written again) is stored entry by entry, as before.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from itertools import accumulate

import numpy as np
import orjson

from webapp.logstore.base import DRIFT_INPUTS, drift_codes, json_bytes, matrix_drift_codes
from webapp.logstore.entry import PREDICTION_FIELDS
from webapp.logstore.phrases import Phrases

#: Fewer entries than this in a run are stored one by one: a block saves nothing for a few.
MIN_BLOCK = 16
#: The fields every entry of a block shares, kept once.
SHARED = (
    "timestamp",
    "level",
    "endpoint",
    "request_id",
    "model_version",
    "latency_ms",
    "batch_size",
    "batch_latency_ms",
    "errors",
)
#: An entry's fields in the order ``entry.for_predictions`` writes them: the only order kept.
KEYS = PREDICTION_FIELDS
_shared_of = operator.itemgetter(*SHARED)
_factors_of, _message_of = operator.itemgetter("factors"), operator.itemgetter("message")
_DRIFT_KEYS = tuple(DRIFT_INPUTS)


def _fits(entry: dict, shared: tuple, input_keys: tuple) -> bool:
    """Whether `entry` reads back from a block of these shared values and input keys.

    Any value reads back from a block as from the entry's own body (both are the same JSON,
    json_bytes, value by value), so only what a block keeps once is compared: the keys and
    their order, and the shared values, by identity (an equal value of another type, 1 and 1.0,
    would read back as the first entry's). The wording must be what the phrase book packs."""
    if type(entry) is not dict or tuple(entry) != KEYS:
        return False
    inputs = entry["inputs"]
    return (
        all(map(operator.is_, _shared_of(entry), shared))
        and type(inputs) is dict
        and tuple(inputs) == input_keys
        and type(entry["factors"]) is list
        and type(entry["message"]) is str
    )


def _input_keys(entry: dict) -> tuple | None:
    """The input keys a run starting at `entry` shares; None when it cannot start one (a key
    that is not a str would read back as JSON makes it, not as it was)."""
    if (
        type(entry) is not dict
        or tuple(entry) != KEYS
        or entry["level"] != "INFO"
        or type(entry["inputs"]) is not dict
    ):
        return None
    keys = tuple(entry["inputs"])
    return keys if all(type(key) is str for key in keys) else None


def runs(
    entries: Sequence[dict], min_block: int | None = None, known: Sequence[tuple] = ()
) -> list[tuple[int, int, bool]]:
    """The entries cut into consecutive runs, in order: (start, stop, whether a block). A block
    holds at least `min_block` entries (MIN_BLOCK, read at each call). `known`: spans, in order,
    that are blocks by how their entries were made (PredictionLog.record's run=True), taken as
    they are (from MIN_BLOCK entries); the entries between them are compared (_fits)."""
    min_block = MIN_BLOCK if min_block is None else min_block
    cuts: list[tuple[int, int, bool]] = []
    loose = 0
    for start, stop, *_ in known:
        if stop - start < min_block:
            continue
        cuts += [(loose + a, loose + b, block) for a, b, block in _scanned(entries[loose:start], min_block)]
        cuts.append((start, stop, True))
        loose = stop
    cuts += [(loose + a, loose + b, block) for a, b, block in _scanned(entries[loose:], min_block)]
    # Neighbouring spans that are no block make one.
    merged: list[tuple[int, int, bool]] = []
    for cut in cuts:
        if merged and not cut[2] and not merged[-1][2]:
            merged[-1] = (merged[-1][0], cut[1], False)
        else:
            merged.append(cut)
    return merged


def _scanned(entries: Sequence[dict], min_block: int) -> list[tuple[int, int, bool]]:
    """runs() found by comparing each entry with its run's first (_fits); at once none when no
    `min_block` entries in a row share their timestamp object, as a block's do (single
    predictions' appends: about 0.2 us an entry instead of 2.5)."""
    count = len(entries)
    if not _may_hold_block(entries, min_block):
        return [(0, count, False)] if count else []
    cuts: list[tuple[int, int, bool]] = []
    index, loose = 0, 0
    while index < count:
        first = entries[index]
        stop = index + 1
        input_keys = _input_keys(first)
        if input_keys is not None:
            shared = _shared_of(first)
            if _fits(first, shared, input_keys):
                while stop < count and _fits(entries[stop], shared, input_keys):
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


def _may_hold_block(entries: Sequence[dict], min_block: int) -> bool:
    if len(entries) < min_block:
        return False
    span = max(min_block - 1, 0)
    stamps = [entry.get("timestamp") if type(entry) is dict else None for entry in entries]
    return any(
        first is last and first is not None for first, last in zip(stamps, stamps[span:], strict=False)
    )


def encode(
    entries: Sequence[dict],
    phrases: Phrases,
    store: Callable[[list[bytes]], dict[bytes, int]],
    inputs: np.ndarray | None = None,
) -> tuple[bytes, list[int | None]] | None:
    """A run's block (its JSON) and each entry's drift code; None when the phrase book cannot
    pack their wording (the run is then stored entry by entry). `store` as for Phrases.pack.
    `inputs`: the entries' inputs as the plain-batch check's integer matrix, when known
    (PredictionLog.record): the rows and drift codes are taken from it."""
    numbers = phrases.flat_numbers([*map(_factors_of, entries)], [*map(_message_of, entries)], store)
    if numbers is None:
        return None
    factors, messages = numbers
    first = entries[0]
    input_keys = tuple(first["inputs"])
    rows = inputs.tolist() if inputs is not None else [[*entry["inputs"].values()] for entry in entries]
    predictions = [entry["prediction"] for entry in entries]
    drift = None
    if input_keys == _DRIFT_KEYS and all(prediction in (0, 1) for prediction in predictions):
        # The inputs as drift_codes reads them: no second pass over the entries.
        drift = matrix_drift_codes(rows if inputs is None else inputs)
    if drift is None:
        drift = drift_codes(entries)
    block = {
        "shared": dict(zip(SHARED, _shared_of(first), strict=True)),
        "input_keys": input_keys,
        "inputs": rows,
        "prediction": predictions,
        "probability": [entry["probability"] for entry in entries],
        "risk_level": [entry["risk_level"] for entry in entries],
        "factor_counts": [*map(len, map(_factors_of, entries))],
        "factors": factors,
        "warnings": [entry["warnings"] for entry in entries],
        "message": messages,
        "drift": drift,
    }
    return json_bytes(block), drift


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
    factors, ends = block["factors"], [*accumulate(block["factor_counts"])]
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
                "factors": factors[ends[i] - block["factor_counts"][i] : ends[i]],
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
