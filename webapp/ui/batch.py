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

from .. import features, i18n, wording
from ..proxy import APIProxyClient, new_request_id

logger = logging.getLogger(__name__)

OUTPUT_COLUMNS = ["line", *features.FEATURES, "probability", "prediction", "risk_level", "result"]
TABLE_COLUMNS = ["line", "AGE", "GENDER", "probability", "prediction", "risk_level", "result"]
#: Columns people read under a title in their language; the 15 inputs keep their names (codes a
#: file can be uploaded again with).
_TITLED = ("line", "probability", "prediction", "risk_level", "result")


def column_titles(columns: list[str], lang: str) -> list[str]:
    """The titles of `columns` (OUTPUT_COLUMNS or TABLE_COLUMNS) in `lang`."""
    return [i18n.text(lang, f"batch.col.{name}") if name in _TITLED else name for name in columns]


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


def read_csv(
    text: str, max_rows: int, lang: str = i18n.DEFAULT
) -> tuple[list[tuple[int, dict[str, int]]], list[tuple[int, str]], list[str]]:
    """Parse CSV text into (line, record) pairs, (line, reason) errors and notes for the user."""
    _ = i18n.translator(lang)
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise BatchFileError(_("batch.empty"))
    try:
        dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = next(reader)
    columns, notes = _map_columns(header, lang)
    raw_rows = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        raw_rows.append((reader.line_num, row))
        if len(raw_rows) > max_rows:
            raise BatchFileError(_("batch.too_many_rows", max_rows=max_rows))
    if not raw_rows:
        raise BatchFileError(_("batch.no_rows"))
    survey = _uses_survey_coding(raw_rows, columns)
    if survey:
        notes.append(_("batch.survey_coding"))
    records, errors = [], []
    for line, row in raw_rows:
        record, problems = _parse_row(row, columns, survey, lang)
        if problems:
            errors.append((line, "; ".join(problems)))
        else:
            records.append((line, record))
    return records, errors, notes


def _map_columns(header: list[str], lang: str) -> tuple[dict[str, int], list[str]]:
    _ = i18n.translator(lang)
    columns: dict[str, int] = {}
    ignored = []
    for index, name in enumerate(header):
        canonical = features.canonical_name(name)
        if canonical is None:
            if name.strip() and features.normalize_name(name) != features.normalize_name(features.TARGET):
                ignored.append(name.strip())
            continue
        if canonical in columns:
            raise BatchFileError(_("batch.duplicate_column", name=canonical))
        columns[canonical] = index
    missing = [name for name in features.FEATURES if name not in columns]
    if missing:
        raise BatchFileError(_("batch.missing_columns", names=", ".join(missing)))
    notes = [_("batch.ignored_columns", names=", ".join(ignored))] if ignored else []
    return columns, notes


def _cell(row: list[str], index: int) -> str:
    return row[index].strip().upper() if index < len(row) else ""


def _uses_survey_coding(raw_rows, columns: dict[str, int]) -> bool:
    values = {_cell(row, columns[name]) for _, row in raw_rows for name in features.BINARY_FEATURES}
    return "2" in values and "0" not in values


def _parse_row(
    row: list[str], columns: dict[str, int], survey: bool, lang: str
) -> tuple[dict[str, int], list[str]]:
    _ = i18n.translator(lang)
    record, problems = {}, []
    age = _cell(row, columns[features.AGE])
    try:
        value = float(age)
        if not value.is_integer() or not features.AGE_MIN <= value <= features.AGE_MAX:
            raise ValueError
        record[features.AGE] = int(value)
    except ValueError:
        problems.append(
            _("batch.bad_age", value=repr(age), low=features.AGE_MIN, high=features.AGE_MAX)
            if age
            else _("batch.empty_cell", name=features.AGE)
        )
    gender = _cell(row, columns[features.GENDER])
    if gender in _MALE:
        record[features.GENDER] = 1
    elif gender in _FEMALE:
        record[features.GENDER] = 0
    else:
        problems.append(
            _("batch.bad_gender", value=repr(gender))
            if gender
            else _("batch.empty_cell", name=features.GENDER)
        )
    yes, no = ("2", "1") if survey else ("1", "0")
    for name in features.BINARY_FEATURES:
        cell = _cell(row, columns[name])
        if cell in _YES or cell == yes:
            record[name] = 1
        elif cell in _NO or cell == no:
            record[name] = 0
        else:
            problems.append(
                _("batch.bad_flag", name=name, value=repr(cell), no=no, yes=yes)
                if cell
                else _("batch.empty_cell", name=name)
            )
    return record, problems


def score(
    client: APIProxyClient,
    records: list[tuple[int, dict[str, int]]],
    chunk: int,
    result: BatchResult,
    lang: str = i18n.DEFAULT,
    visitor: str | None = None,
) -> None:
    """Score the records through the API, `chunk` per call; rows the API rejects become errors.

    `visitor`: the uploader's address, whose rate limits the rows count against."""
    for start in range(0, len(records), chunk):
        pending = records[start : start + chunk]
        body, status = client.post_predict(
            [record for _, record in pending], request_id=new_request_id(), language=lang, visitor=visitor
        )
        if status == 422 and isinstance(body, dict):
            rejected = _rejected_indexes(body)
            if rejected:
                for index, reason in rejected.items():
                    reason = i18n.text(lang, "batch.rejected", reason=reason)
                    result.errors.append((pending[index][0], reason))
                pending = [item for index, item in enumerate(pending) if index not in rejected]
                if not pending:
                    continue
                body, status = client.post_predict(
                    [record for _, record in pending], language=lang, visitor=visitor
                )
        if status != 200:
            result.api_error = (body, status)
            logger.warning("Batch scoring stopped at row %d: API answered %s", start, status)
            return
        for (line, record), item in zip(pending, body["predictions"], strict=False):
            result.rows.append(
                {
                    "line": line,
                    **record,
                    "probability": item["probability"],
                    "prediction": item["prediction"],
                    "risk_level": item["risk_level"],
                    "result": wording.band_title(item["risk_level"], lang)
                    if item["risk_level"] in wording.LEVELS
                    else item["risk_level"],
                }
            )


def _rejected_indexes(body: dict[str, Any]) -> dict[int, str]:
    details = (body.get("error") or {}).get("details") or {}
    records = details.get("records") if isinstance(details, dict) else None
    if not isinstance(records, dict):
        return {}
    return {
        int(index): "; ".join(
            f"{field}: {' '.join(map(str, messages))}" for field, messages in problems.items()
        )
        for index, problems in records.items()
        if str(index).isdigit()
    }


def run(
    client: APIProxyClient,
    text: str,
    chunk: int,
    max_rows: int,
    lang: str = i18n.DEFAULT,
    visitor: str | None = None,
) -> BatchResult:
    records, errors, notes = read_csv(text, max_rows, lang)
    result = BatchResult(errors=errors, notes=notes)
    if records:
        score(client, records, chunk, result, lang, visitor)
    result.rows.sort(key=lambda row: row["line"])
    result.errors.sort()
    return result


def write_csv(rows: list[dict[str, Any]], lang: str = i18n.DEFAULT) -> str:
    """The scored rows as a CSV file in a fresh temporary folder, titled in `lang`; returns its path."""
    path = os.path.join(tempfile.mkdtemp(prefix="lung-risk-"), "lung-risk-scores.csv")
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(column_titles(OUTPUT_COLUMNS, lang))
        writer.writerows([row[name] for name in OUTPUT_COLUMNS] for row in rows)
    return path
