"""What the admin log page shows above the rows: a summary of the filtered window.

Plain functions over entry dicts; no Flask here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from itertools import islice

import numpy as np

from webapp.logstore import LogQuery
from webapp.logstore.base import SummaryColumns
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


def summarize(entries: Sequence[dict] | SummaryColumns, total: int) -> Summary:
    """The summary of the window's entries (or a store's SummaryColumns of them)."""
    columns = entries if isinstance(entries, SummaryColumns) else SummaryColumns.from_entries(entries)
    predicted = (columns.prediction == 0) | (columns.prediction == 1)
    latencies = np.sort(columns.latency_ms[~np.isnan(columns.latency_ms)])
    return Summary(
        count=total,
        sampled=len(columns),
        predictions=int(np.count_nonzero(predicted)),
        positives=int(np.count_nonzero(columns.prediction == 1)),
        rejected=int(np.count_nonzero(columns.rejected)),
        latency_p50=_sorted_percentile(latencies, 0.50),
        latency_p95=_sorted_percentile(latencies, 0.95),
    )


def _sorted_percentile(ordered: np.ndarray, fraction: float) -> float | None:
    """percentile() of values already sorted."""
    if not ordered.size:
        return None
    return float(ordered[max(1, math.ceil(fraction * ordered.size)) - 1])
