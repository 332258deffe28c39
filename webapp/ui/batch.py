"""Batch scoring of an uploaded CSV: read, check row by row, score the good rows, write a CSV.

Accepted spellings (the published survey CSV is accepted as it is):

- headers: any case, spaces or underscores (`CHEST PAIN`, `chest_pain`, `Chest Pain`);
  a `LUNG_CANCER` column and unknown columns are ignored; the 15 inputs are required.
- AGE: a whole number.
- GENDER: M/F, male/female, or 1 = male / 0 = female.
- yes/no columns: yes/no, y/n, true/false, or numbers. Numbers are 0/1 (1 = yes), unless the
  file uses the survey's own coding 1/2 (2 = yes): that is assumed when some yes/no column
  holds a 2 and none holds a 0. The choice is made once for the whole file.
"""
from __future__ import annotations

import csv
import io
import logging
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

from .. import features, wording
from ..proxy import APIProxyClient, new_request_id

logger = logging.getLogger(__name__)

OUTPUT_COLUMNS = ["line", *features.FEATURES, "probability", "prediction", "risk_level", "result"]
TABLE_COLUMNS = ["line", "AGE", "GENDER", "probability", "prediction", "risk_level", "result"]

_YES = {"YES", "Y", "TRUE", "T"}
_NO = {"NO", "N", "FALSE", "F"}
_MALE = {"M", "MALE", "1"}
_FEMALE = {"F", "FEMALE", "0"}


class BatchFileError(ValueError):
    """The file as a whole cannot be read (not a CSV, missing columns, too many rows)."""


@dataclass
class BatchResult:
    rows: list[dict[str, Any]] = field(default_factory=list)  # scored rows, in file order
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    notes: list[str] = field(default_factory=list)
    api_error: tuple[Any, int] | None = None  # (envelope, status) when the API itself failed


def read_csv(text: str,
             max_rows: int) -> tuple[list[tuple[int, dict[str, int]]], list[tuple[int, str]], list[str]]:
    """Parse CSV text into (line, record) pairs, (line, reason) errors and notes for the user."""
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise BatchFileError("The file is empty.")
    try:
        dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = next(reader)
    columns, notes = _map_columns(header)
    raw_rows = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        raw_rows.append((reader.line_num, row))
        if len(raw_rows) > max_rows:
            raise BatchFileError(f"The file has more than {max_rows} rows; split it into smaller files.")
    if not raw_rows:
        raise BatchFileError("The file has a header but no rows.")
    survey = _uses_survey_coding(raw_rows, columns)
    if survey:
        notes.append("Yes/no columns read in the survey's coding: 1 = no, 2 = yes.")
    records, errors = [], []
    for line, row in raw_rows:
        record, problems = _parse_row(row, columns, survey)
        if problems:
            errors.append((line, "; ".join(problems)))
        else:
            records.append((line, record))
    return records, errors, notes


def _map_columns(header: list[str]) -> tuple[dict[str, int], list[str]]:
    columns: dict[str, int] = {}
    ignored = []
    for index, name in enumerate(header):
        canonical = features.canonical_name(name)
        if canonical is None:
            if name.strip() and features.normalize_name(name) != features.normalize_name(features.TARGET):
                ignored.append(name.strip())
            continue
        if canonical in columns:
            raise BatchFileError(f"Two columns mean {canonical}: keep one.")
        columns[canonical] = index
    missing = [name for name in features.FEATURES if name not in columns]
    if missing:
        raise BatchFileError("Missing columns: " + ", ".join(missing) + ". The header must name the "
                             "15 inputs (any case, spaces or underscores).")
    notes = [f"Ignored unknown columns: {', '.join(ignored)}."] if ignored else []
    return columns, notes


def _cell(row: list[str], index: int) -> str:
    return row[index].strip().upper() if index < len(row) else ""


def _uses_survey_coding(raw_rows, columns: dict[str, int]) -> bool:
    values = {_cell(row, columns[name]) for _, row in raw_rows for name in features.BINARY_FEATURES}
    return "2" in values and "0" not in values


def _parse_row(row: list[str], columns: dict[str, int], survey: bool) -> tuple[dict[str, int], list[str]]:
    record, problems = {}, []
    age = _cell(row, columns[features.AGE])
    try:
        value = float(age)
        if not value.is_integer() or not features.AGE_MIN <= value <= features.AGE_MAX:
            raise ValueError
        record[features.AGE] = int(value)
    except ValueError:
        problems.append(f"AGE {age!r} is not a whole number from {features.AGE_MIN} to {features.AGE_MAX}"
                        if age else "AGE is empty")
    gender = _cell(row, columns[features.GENDER])
    if gender in _MALE:
        record[features.GENDER] = 1
    elif gender in _FEMALE:
        record[features.GENDER] = 0
    else:
        problems.append(f"GENDER {gender!r} is not M/F or 1/0" if gender else "GENDER is empty")
    yes, no = ("2", "1") if survey else ("1", "0")
    for name in features.BINARY_FEATURES:
        cell = _cell(row, columns[name])
        if cell in _YES or cell == yes:
            record[name] = 1
        elif cell in _NO or cell == no:
            record[name] = 0
        else:
            problems.append(f"{name} {cell!r} is not yes/no or {no}/{yes}" if cell else f"{name} is empty")
    return record, problems


def score(client: APIProxyClient, records: list[tuple[int, dict[str, int]]], chunk: int,
          result: BatchResult) -> None:
    """Score the records through the API, `chunk` per call; rows the API rejects become errors."""
    for start in range(0, len(records), chunk):
        pending = records[start:start + chunk]
        body, status = client.post_predict([record for _, record in pending], request_id=new_request_id())
        if status == 422 and isinstance(body, dict):
            rejected = _rejected_indexes(body)
            if rejected:
                for index, reason in rejected.items():
                    result.errors.append((pending[index][0], f"rejected by the API: {reason}"))
                pending = [item for index, item in enumerate(pending) if index not in rejected]
                if not pending:
                    continue
                body, status = client.post_predict([record for _, record in pending])
        if status != 200:
            result.api_error = (body, status)
            logger.warning("Batch scoring stopped at row %d: API answered %s", start, status)
            return
        for (line, record), item in zip(pending, body["predictions"], strict=False):
            result.rows.append({"line": line, **record, "probability": item["probability"],
                                "prediction": item["prediction"], "risk_level": item["risk_level"],
                                "result": wording.BAND_TITLES.get(item["risk_level"], item["risk_level"])})


def _rejected_indexes(body: dict[str, Any]) -> dict[int, str]:
    details = (body.get("error") or {}).get("details") or {}
    records = details.get("records") if isinstance(details, dict) else None
    if not isinstance(records, dict):
        return {}
    return {int(index): "; ".join(f"{field}: {' '.join(map(str, messages))}"
                                  for field, messages in problems.items())
            for index, problems in records.items() if str(index).isdigit()}


def run(client: APIProxyClient, text: str, chunk: int, max_rows: int) -> BatchResult:
    records, errors, notes = read_csv(text, max_rows)
    result = BatchResult(errors=errors, notes=notes)
    if records:
        score(client, records, chunk, result)
    result.rows.sort(key=lambda row: row["line"])
    result.errors.sort()
    return result


def write_csv(rows: list[dict[str, Any]]) -> str:
    """The scored rows as a CSV file in a fresh temporary folder; returns its path."""
    path = os.path.join(tempfile.mkdtemp(prefix="lung-risk-"), "lung-risk-scores.csv")
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=OUTPUT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path
