"""The prediction log store contract: query objects, result pages and the store interface.

Entries are plain JSON-serialisable dicts (their fields: webapp.logstore.entry). Stores assign the
``id``; everything else, including keys the store does not know, is kept as given.
"""

from __future__ import annotations

import abc
import contextlib
import contextvars
import dataclasses
import datetime as dt
import gc
import itertools
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice

import numpy as np
import orjson

from webapp.features import FEATURES
from webapp.logstore.entry import TIMESTAMP, format_timestamp

#: What filters, summaries and charts read of an entry: far cheaper to load than the whole body.
SUMMARY_FIELDS = (
    "id",
    "timestamp",
    "level",
    "endpoint",
    "request_id",
    "prediction",
    "probability",
    "latency_ms",
    "model_version",
    "drift",
)


class StoreUnavailable(RuntimeError):
    """The backend could not be reached or refused the operation; the message says why."""


_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
#: _JSON_OPTIONS less OPT_NON_STR_KEYS, which takes orjson's slower path for every object (a
#: logged prediction: 8 us against 3 us) though only a rejected body's keys can be other than str.
_STR_KEYS_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def _json_default(value):
    # NumPy scalars and arrays (model outputs) become plain numbers and lists.
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def entry_json(entry: Mapping) -> str:
    """The entry as JSON without its ``id`` (the store adds that); never fails on odd values."""
    return entry_bytes(entry).decode()


def entry_bytes(entry: Mapping) -> bytes:
    """entry_json as UTF-8 bytes, for a store that takes them as they are (Redis)."""
    if "id" in entry or type(entry) is not dict:  # e.g. an entry read back: a dict less its id
        entry = dict(entry)
        entry.pop("id", None)
    return json_bytes(entry)


def json_bytes(value) -> bytes:
    """Any value of an entry as the entry's JSON writes it (entry_bytes, without the id's copy)."""
    try:  # the same bytes whenever it succeeds: every key a str
        return orjson.dumps(value, default=_json_default, option=_STR_KEYS_OPTIONS)
    except TypeError:  # a key that is not a str
        return orjson.dumps(value, default=_json_default, option=_JSON_OPTIONS)


#: Put between values by json_each: orjson writes no line feed of its own (a string's is
#: escaped), so ",\n," in its compact output is only ever the cut between two values.
_CUT = orjson.Fragment(b"\n")


def json_each(values: list) -> list[bytes]:
    """json_bytes of each value, written by one orjson call and cut apart: a call a value cost
    about 6 us of allocation each (1,000 bodies of 0.6 KB: 9 ms against 3.5)."""
    if len(values) < 2:
        return [json_bytes(value) for value in values]
    sequence = [_CUT] * (2 * len(values) - 1)
    sequence[::2] = values
    try:
        joined = orjson.dumps(sequence, default=_json_default, option=_STR_KEYS_OPTIONS)
    except TypeError:  # a key that is not a str somewhere: one by one, as json_bytes writes it
        return [json_bytes(value) for value in values]
    parts = joined[1:-1].split(b",\n,")
    return parts if len(parts) == len(values) else [json_bytes(value) for value in values]


def normalize_timestamp(value: str) -> str:
    """Return ``value`` as ISO 8601 UTC with milliseconds ("2026-11-26T11:38:51.123Z").

    Naive timestamps are taken as UTC. Raises ValueError for text that is not ISO 8601.
    """
    # RFC 3339 allows a lower-case "t" and "z"; fromisoformat does not.
    parsed = dt.datetime.fromisoformat(value.strip().upper())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        parsed = parsed.astimezone(dt.UTC)
    except OverflowError as exc:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise ValueError(f"{value!r} is out of range") from exc
    return format_timestamp(parsed)


#: Where an entry without a usable timestamp stands: first, so that the order stays total.
EPOCH = "1970-01-01T00:00:00.000Z"


def indexed_timestamp(entry: Mapping) -> str:
    """The entry's timestamp in the comparable form; EPOCH when it has none that parses."""
    raw = entry.get("timestamp")
    if not isinstance(raw, str):
        return EPOCH
    if TIMESTAMP.fullmatch(raw):
        return raw  # the form the app writes: skip the parse on the writer's path
    try:
        return normalize_timestamp(raw)
    except ValueError:
        return EPOCH


def timestamp_ms(stamp: str) -> int:
    """Milliseconds since the epoch of a normalised timestamp (0 for one that does not parse)."""
    try:
        moment = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def ms_timestamp(ms: int) -> str:
    """The normalised timestamp of a count of milliseconds since the epoch."""
    seconds, millis = divmod(ms, 1000)
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}Z"


@dataclasses.dataclass(frozen=True)
class Position:
    """Where an entry stands in the log's order: by timestamp, then by id (write order).

    Entries are listed by the time they were made, not the time they were written, so
    predictions spread over workers and instances (each writing in its own batches) list in the
    order they happened. A cursor is a position, written ``"<epoch ms>-<id>"``.
    """

    ms: int
    id: int

    @classmethod
    def of(cls, entry: Mapping) -> Position:
        return cls(timestamp_ms(indexed_timestamp(entry)), int(entry["id"]))

    @classmethod
    def parse(cls, cursor: str) -> Position:
        ms, separator, entry_id = str(cursor).partition("-")
        if not (separator and ms.isdigit() and entry_id.isdigit()):
            raise ValueError(f"not a log cursor: {cursor!r}")
        return cls(int(ms), int(entry_id))

    @property
    def timestamp(self) -> str:
        return ms_timestamp(self.ms)

    def __str__(self) -> str:
        return f"{self.ms}-{self.id}"


@dataclasses.dataclass(frozen=True)
class LogQuery:
    """Filters and paging for reading the log. Bounds are inclusive; None means no filter."""

    limit: int = 100
    offset: int = 0
    #: Only entries after this position (a page's ``next_cursor``): stable paging while new
    #: entries arrive.
    cursor: str | None = None
    level: str | None = None
    endpoint: str | None = None
    prediction: int | None = None
    min_probability: float | None = None
    max_probability: float | None = None
    since: str | None = None
    until: str | None = None
    #: Case-insensitive substring of the request id.
    request_id: str | None = None

    def __post_init__(self) -> None:
        if self.limit < 0 or self.offset < 0:
            raise ValueError("limit and offset must not be negative")
        if self.cursor is not None:
            object.__setattr__(self, "cursor", str(Position.parse(self.cursor)))
        # Frozen dataclass: normalise through object.__setattr__ so both stores compare alike.
        if self.level is not None:
            object.__setattr__(self, "level", self.level.upper())
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, normalize_timestamp(value))

    @property
    def after(self) -> Position | None:
        """The cursor's position, or None without a cursor."""
        return None if self.cursor is None else Position.parse(self.cursor)

    @property
    def has_filters(self) -> bool:
        """True when any filter other than paging is set."""
        return any(
            getattr(self, name) is not None
            for name in (
                "level",
                "endpoint",
                "prediction",
                "min_probability",
                "max_probability",
                "since",
                "until",
                "request_id",
            )
        )

    def matches(self, entry: Mapping) -> bool:
        """Apply the filters (not the paging) to one entry; the SQL store does the same in SQL."""
        if self.level is not None and str(entry.get("level", "")).upper() != self.level:
            return False
        if self.endpoint is not None and entry.get("endpoint") != self.endpoint:
            return False
        if self.prediction is not None and entry.get("prediction") != self.prediction:
            return False
        probability = entry.get("probability")
        if self.min_probability is not None and (probability is None or probability < self.min_probability):
            return False
        if self.max_probability is not None and (probability is None or probability > self.max_probability):
            return False
        if self.since is not None or self.until is not None:
            stamp = indexed_timestamp(entry)
            if self.since is not None and stamp < self.since:
                return False
            if self.until is not None and stamp > self.until:
                return False
        if self.request_id is not None:
            request_id = entry.get("request_id")
            if request_id is None or self.request_id.lower() not in str(request_id).lower():
                return False
        return True


@dataclasses.dataclass(frozen=True)
class LogPage:
    """One page of entries, newest first (by timestamp, then id)."""

    #: Entries matching the filters, ignoring cursor, offset and limit.
    total: int
    entries: list[dict]
    #: Position of the last entry returned when more matching entries follow, else None.
    next_cursor: str | None


class LogStore(abc.ABC):
    """Where prediction log entries live. Every method raises StoreUnavailable on backend errors."""

    kind: str

    @abc.abstractmethod
    def append(self, entries: Sequence[dict], runs: Sequence[tuple] = ()) -> None:
        """Store the entries, assigning each a new, increasing ``id`` (write order). `runs`: spans
        (start, stop, inputs) of entries known to make one block each, with their inputs as an
        integer matrix (blocks.runs, blocks.encode), as the writer knows them for batches
        recorded with their inputs; the store finds any other block itself."""

    @abc.abstractmethod
    def query(self, query: LogQuery) -> LogPage:
        """One page of matching entries, newest first: by timestamp, then by id."""

    @abc.abstractmethod
    def iter_entries(self, query: LogQuery) -> Iterator[dict]:
        """All matching entries newest first, ignoring limit and offset (exports, summaries)."""

    def summary_entries(self, query: LogQuery, cap: int) -> list[dict]:
        """The newest `cap` matching entries (cursor and paging ignored), each cut down to the
        SUMMARY_FIELDS it has. Stores override this to read less than the whole bodies."""
        window = dataclasses.replace(query, cursor=None, offset=0)
        return [summary_fields(entry) for entry in islice(self.iter_entries(window), cap)]

    def summary_columns(self, query: LogQuery, cap: int) -> SummaryColumns:
        """What the summary and charts read of the newest `cap` matching entries, as arrays."""
        return SummaryColumns.from_entries(self.summary_entries(query, cap))

    def drift_window(self, query: LogQuery, last: int) -> DriftWindow:
        """The entries the drift compares among the newest `last` matching ones."""
        return DriftWindow.from_entries(islice(self.iter_entries(query), last))

    @abc.abstractmethod
    def clear(self) -> int:
        """Remove every entry; return how many were removed."""

    @abc.abstractmethod
    def remove_older_than(self, cutoff: str) -> int:
        """Remove the entries timestamped before ``cutoff`` (the log's timestamp format); return
        how many. Entries without a usable timestamp (indexed as EPOCH) have no known age: kept."""

    @abc.abstractmethod
    def ping(self) -> None:
        """Return quietly when the backend is usable; raise StoreUnavailable with the reason."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections held by this process."""


def summary_fields(entry: Mapping) -> dict:
    """The entry's SUMMARY_FIELDS (those it has), as stored, and its ``drift`` code."""
    fields = {key: entry[key] for key in SUMMARY_FIELDS if key in entry}
    fields["drift"] = drift_code(entry)
    return fields


#: What counts as a number in an entry: as JSON stores it, NumPy's numbers (the model's) too.
NUMBERS = (int, float, np.integer, np.floating, np.bool_)


def as_number(value) -> float | None:
    """The value as a float when it is a number, else None."""
    return float(value) if isinstance(value, NUMBERS) else None


#: The inputs the drift compares, in its matrix's column order: AGE, then the yes/no inputs.
DRIFT_INPUTS = FEATURES
_YES_NO = DRIFT_INPUTS[1:]
_AGE_LIMIT = 1 << 40
#: drift_code of an entry the drift skips.
NOT_COMPARED = -1


def drift_code(entry: Mapping) -> int | None:
    """What the drift reads of an entry, packed in one integer written beside it, so that
    /monitoring reads one number an entry instead of its body: ``AGE << 14`` plus one bit per
    yes/no input that is 1 (the drift counts those). NOT_COMPARED for an entry the drift skips
    (no prediction 0 or 1, or inputs missing or not all numbers); None for one it compares
    whose AGE is not a whole number from 0 to 2**40 (read from the body instead).

    On every entry's write path: about a microsecond for a logged prediction."""
    inputs = entry.get("inputs")
    if entry.get("prediction") not in (0, 1) or not isinstance(inputs, Mapping):
        return NOT_COMPARED
    try:
        values = _GET_INPUTS(inputs)
    except KeyError:
        return NOT_COMPARED
    if not (set(map(type, values)) <= _PLAIN_NUMBERS or all(isinstance(value, NUMBERS) for value in values)):
        return NOT_COMPARED
    age = values[0]
    if not (0 <= age < _AGE_LIMIT and float(age).is_integer()):
        return None
    try:  # answers of 0 and 1 (1.0, True and NumPy's ones are equal keys): two look-ups
        return (int(age) << len(_YES_NO)) + _HIGH_BITS[values[1:_SPLIT]] + _LOW_BITS[values[_SPLIT:]]
    except KeyError:  # another number: a bit for each answer equal to 1
        # map() over C functions: no Python frame per input.
        yes = map(operator.eq, values[1:], _ONES)
        return (int(age) << len(_YES_NO)) + sum(map(operator.mul, _WEIGHTS, yes))


_GET_INPUTS = operator.itemgetter(*DRIFT_INPUTS)
_PLAIN_NUMBERS = {int, float, bool}
#: The bit of each yes/no input, the first one highest.
_WEIGHTS = tuple(1 << bit for bit in range(len(_YES_NO) - 1, -1, -1))
_ONES = (1,) * len(_YES_NO)
#: The bits of every combination of 0s and 1s of the first and of the last half of the yes/no
#: inputs (128 each), by the inputs' values: a logged prediction's drift code in about a
#: microsecond instead of three (tuples hashed and looked up at C speed).
_SPLIT = 1 + len(_YES_NO) // 2
_HIGH_BITS = {
    combination: sum(map(operator.mul, _WEIGHTS[: _SPLIT - 1], combination))
    for combination in itertools.product((0, 1), repeat=_SPLIT - 1)
}
_LOW_BITS = {
    combination: sum(map(operator.mul, _WEIGHTS[_SPLIT - 1 :], combination))
    for combination in itertools.product((0, 1), repeat=len(_YES_NO) - _SPLIT + 1)
}


def drift_codes(entries: Sequence[Mapping]) -> list[int | None]:
    """drift_code of each entry, a batch at once: the same codes. The entries whose inputs are
    all whole numbers (as validated records are) are coded by NumPy together; any other entry
    by drift_code."""
    codes: list[int | None] = [NOT_COMPARED] * len(entries)
    compared, values = [], []
    for index, entry in enumerate(entries):
        inputs = entry.get("inputs")
        if type(inputs) is not dict or entry.get("prediction") not in (0, 1):
            if isinstance(inputs, Mapping):  # another mapping, or a prediction drift_code judges
                codes[index] = drift_code(entry)
            continue
        try:
            values.append(_GET_INPUTS(inputs))
        except KeyError:
            continue  # an input missing: NOT_COMPARED
        compared.append(index)
    if not compared:
        return codes
    found = matrix_drift_codes(values)
    if found is None:
        for index in compared:
            codes[index] = drift_code(entries[index])
        return codes
    for index, code in zip(compared, found, strict=True):
        codes[index] = code
    return codes


def matrix_drift_codes(rows: Sequence[Sequence]) -> list[int | None] | None:
    """drift_code of entries whose predictions are 0 or 1 and whose inputs, in DRIFT_INPUTS
    order, are these rows, coded by NumPy together; None when the rows do not make a matrix of
    integers (drift_code must then judge each entry)."""
    try:
        matrix = rows if isinstance(rows, np.ndarray) else np.array(rows)
    except (ValueError, TypeError, OverflowError):
        return None
    # Only Python's and NumPy's integers (and bools among them) make an integer matrix: exact.
    if matrix.dtype.kind != "i" or matrix.shape != (len(rows), len(DRIFT_INPUTS)):
        return None
    age = matrix[:, 0]
    found = ((age << len(_YES_NO)) + (matrix[:, 1:] == 1) @ _WEIGHT_COLUMN).tolist()
    in_range = ((age >= 0) & (age < _AGE_LIMIT)).tolist()
    return [code if whole else None for code, whole in zip(found, in_range, strict=True)]


_WEIGHT_COLUMN = np.array(_WEIGHTS, dtype=np.int64)


def drift_inputs(codes: np.ndarray) -> np.ndarray:
    """The (entries x DRIFT_INPUTS) matrix of drift codes: AGE, then 1.0 for yes, 0.0 for no."""
    codes = np.asarray(codes, dtype=np.int64)
    bits = len(_YES_NO)
    shifts = np.arange(bits - 1, -1, -1, dtype=np.int64)
    matrix = np.empty((codes.size, bits + 1), dtype=np.float64)
    matrix[:, 0] = codes >> bits
    matrix[:, 1:] = (codes[:, None] >> shifts) & 1
    return matrix


@dataclasses.dataclass(frozen=True)
class DriftWindow:
    """The compared entries of a drift window, newest first: their inputs (rows in
    DRIFT_INPUTS order), predictions, timestamps and model versions as stored."""

    inputs: np.ndarray
    predictions: np.ndarray
    timestamps: list
    model_versions: list

    @classmethod
    def from_entries(cls, entries: Iterable[Mapping]) -> DriftWindow:
        rows, predictions, timestamps, versions = [], [], [], []
        for entry in entries:
            code = drift_code(entry)
            if code == NOT_COMPARED:
                continue
            inputs = entry["inputs"]
            rows.append([float(inputs[name]) for name in DRIFT_INPUTS])
            predictions.append(entry["prediction"])
            timestamps.append(entry.get("timestamp"))
            versions.append(entry.get("model_version"))
        return cls(
            np.array(rows, dtype=np.float64).reshape(len(rows), len(DRIFT_INPUTS)),
            np.array(predictions, dtype=np.float64),
            timestamps,
            versions,
        )

    @classmethod
    def from_coded(cls, coded: Sequence[tuple], body_of) -> DriftWindow:
        """From (drift code, prediction, timestamp, model version, id) of each entry, the codes
        unpacked at once. An entry without a code is read whole through ``body_of(ids)``; the
        drift's figures do not depend on the order of its rows."""
        kept = [row for row in coded if row[0] is not None and row[0] != NOT_COMPARED]
        window = cls(
            drift_inputs(np.fromiter((row[0] for row in kept), dtype=np.int64, count=len(kept))),
            np.array([row[1] for row in kept], dtype=np.float64),
            [row[2] for row in kept],
            [row[3] for row in kept],
        )
        uncoded = [row[4] for row in coded if row[0] is None]
        if not uncoded:
            return window
        rest = cls.from_entries(body_of(uncoded))
        return cls(
            np.vstack([window.inputs, rest.inputs]),
            np.concatenate([window.predictions, rest.predictions]),
            window.timestamps + rest.timestamps,
            window.model_versions + rest.model_versions,
        )


@dataclasses.dataclass(frozen=True)
class SummaryColumns:
    """What the log page's summary and charts read of the window's entries, one array per
    field (newest first): NaN where an entry has no such number."""

    #: Seconds since the epoch of the entry's timestamp.
    seconds: np.ndarray
    prediction: np.ndarray
    probability: np.ndarray
    latency_ms: np.ndarray
    #: True for a WARNING entry (a rejected request).
    rejected: np.ndarray

    def __len__(self) -> int:
        return len(self.rejected)

    @classmethod
    def from_entries(cls, entries: Iterable[Mapping]) -> SummaryColumns:
        """From entry dicts (or their summary fields); non-numbers count as missing."""
        seconds, prediction, probability, latency, rejected = [], [], [], [], []
        for entry in entries:
            seconds.append(_seconds(entry.get("timestamp")))
            prediction.append(_number(entry.get("prediction")))
            probability.append(_number(entry.get("probability")))
            latency.append(_number(entry.get("latency_ms")))
            rejected.append(entry.get("level") == "WARNING")
        return cls(
            np.array(seconds, dtype=np.float64),
            np.array(prediction, dtype=np.float64),
            np.array(probability, dtype=np.float64),
            np.array(latency, dtype=np.float64),
            np.array(rejected, dtype=bool),
        )

    @classmethod
    def from_rows(cls, rows: Sequence[tuple]) -> SummaryColumns:
        """From (seconds since the epoch or None, prediction, probability, latency, rejected)
        rows as a store reads them from its columns: converted by NumPy at once. Whole seconds
        are enough: the timeline's buckets are whole seconds wide."""
        if not rows:
            return cls.from_entries([])
        seconds, prediction, probability, latency, rejected = np.array(rows, dtype=np.float64).T
        return cls(seconds, prediction, probability, latency, rejected == 1)


def _number(value) -> float:
    return float(value) if isinstance(value, NUMBERS) else np.nan


def _seconds(stamp) -> float:
    try:
        return dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return np.nan


@contextlib.contextmanager
def bulk_read():
    """Pause the cyclic garbage collector while thousands of entries are loaded and summarised.

    Every one of those objects survives, so the collections their allocations trigger find
    nothing, yet they make up half the time of a 10,000-entry read (138 against 315 ms).
    Reference counting still frees everything; the collector resumes at the end.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_page_windows: contextvars.ContextVar[dict | None] = contextvars.ContextVar("page_windows", default=None)


@contextlib.contextmanager
def one_window():
    """Within it, a store may read a filtered window once for a page's rows and total and reuse
    it for the summary (on Redis a second read of the window doubled a filtered page's time).
    Kept for this context only: nothing outlives the request, nor is shared by another."""
    token = _page_windows.set({})
    try:
        yield
    finally:
        _page_windows.reset(token)


def page_windows() -> dict | None:
    """Where a store keeps the windows it read within one_window(); None outside it."""
    return _page_windows.get()


def page_from_matches(matches: Iterator[dict], total: int, query: LogQuery) -> LogPage:
    """Cut a page out of matching entries (newest first, cursor already applied)."""
    selected: list[dict] = []
    more = False
    for position, entry in enumerate(matches):
        if position < query.offset:
            continue
        if len(selected) == query.limit:
            more = True
            break
        selected.append(entry)
    next_cursor = str(Position.of(selected[-1])) if more and selected else None
    return LogPage(total=total, entries=selected, next_cursor=next_cursor)
