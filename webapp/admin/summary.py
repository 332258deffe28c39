"""What the admin log page shows besides the rows: a summary of the filtered window and exports.

Plain functions over entry dicts; no Flask here.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from itertools import islice
from typing import Iterable, Iterator, Sequence

from webapp.features import FEATURES
from webapp.logstore import LogQuery
from webapp.settings import DEFAULTS

#: At most this many entries (newest first) feed the summary and charts: the store's default
#: retention (LOG_MAX_ENTRIES), so normally the whole filtered window.
SUMMARY_CAP = DEFAULTS.log_max_entries


def window(query: LogQuery) -> LogQuery:
    """The filtered window of a page's query: same filters, no paging."""
    return dataclasses.replace(query, cursor=None, offset=0)


def read_window(entries: Iterable[dict], cap: int = SUMMARY_CAP) -> list[dict]:
    return list(islice(entries, cap))


@dataclasses.dataclass(frozen=True)
class Summary:
    count: int
    sampled: int
    predictions: int
    positives: int
    rejected: int
    latency_p50: float | None
    latency_p95: float | None

    @property
    def positive_rate(self) -> float | None:
        return self.positives / self.predictions if self.predictions else None


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile: a latency some entry really had."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarize(entries: Sequence[dict], total: int) -> Summary:
    predicted = [entry for entry in entries if entry.get("prediction") in (0, 1)]
    latencies = [float(entry["latency_ms"]) for entry in entries
                 if isinstance(entry.get("latency_ms"), (int, float))]
    return Summary(
        count=total,
        sampled=len(entries),
        predictions=len(predicted),
        positives=sum(1 for entry in predicted if entry["prediction"] == 1),
        rejected=sum(1 for entry in entries if entry.get("level") == "WARNING"),
        latency_p50=percentile(latencies, 0.50),
        latency_p95=percentile(latencies, 0.95),
    )


CSV_COLUMNS = (
    "id", "timestamp", "level", "endpoint", "request_id", "prediction", "probability",
    "risk_level", "latency_ms", "model_version", *FEATURES, "factors", "warnings", "errors", "message",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> object:
    """A CSV cell: nested values as JSON; text that a spreadsheet would run as a formula is
    prefixed with a quote (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_row(entry: dict) -> list:
    inputs = entry.get("inputs") if isinstance(entry.get("inputs"), dict) else {}
    factors = "; ".join(f"{factor.get('feature')} {factor.get('contribution'):+}"
                        for factor in entry.get("factors") or []
                        if isinstance(factor.get("contribution"), (int, float)))
    row = {**{name: inputs.get(name) for name in FEATURES}, **entry, "factors": factors,
           "warnings": "; ".join(map(str, entry.get("warnings") or []))}
    return [_cell(row.get(column)) for column in CSV_COLUMNS]


def csv_lines(entries: Iterable[dict]) -> Iterator[str]:
    """The CSV export, one text chunk per line (header first), for a streamed download."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield line(CSV_COLUMNS)
    for entry in entries:
        yield line(csv_row(entry))


def jsonl_lines(entries: Iterable[dict]) -> Iterator[str]:
    for entry in entries:
        yield json.dumps(entry, ensure_ascii=False) + "\n"
