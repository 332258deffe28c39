"""The /logs page's downloads: the filtered window as CSV (one column per input) or JSON Lines.

Plain functions over entry dicts (webapp.logstore.entry names their fields); no Flask here.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from webapp.features import FEATURES
from webapp.logstore import entry as log_entry

CSV_COLUMNS = (
    "id",
    "timestamp",
    "level",
    "endpoint",
    "request_id",
    "prediction",
    "probability",
    "risk_level",
    "latency_ms",
    "model_version",
    *FEATURES,
    "factors",
    "warnings",
    "errors",
    "message",
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
    inputs = log_entry.inputs_of(entry)
    factors = "; ".join(
        f"{factor.get('feature')} {factor.get('contribution'):+}"
        for factor in entry.get("factors") or []
        if isinstance(factor.get("contribution"), (int, float))
    )
    row = {
        **{name: inputs.get(name) for name in FEATURES},
        **entry,
        "factors": factors,
        "warnings": "; ".join(map(str, entry.get("warnings") or [])),
    }
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
