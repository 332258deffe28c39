"""Geometry for the log page's two SVG charts, drawn by templates/admin/_charts.html.

The server computes rectangles and labels; the template only places them, so the page needs
no chart library, no script and no internet access.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

import numpy as np

from webapp.logstore.base import SummaryColumns

WIDTH, HEIGHT = 560, 170
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 10, 26
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
#: Bucket widths for the timeline, in seconds; the smallest giving at most MAX_BUCKETS wins.
BUCKET_SECONDS = (1, 5, 15, 60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400, 30 * 86400)
MAX_BUCKETS = 40
SERIES = (("positive", "prediction 1"), ("negative", "prediction 0"), ("rejected", "rejected"))


@dataclasses.dataclass
class Chart:
    bars: list[dict]
    y_ticks: list[dict]
    x_labels: list[dict]
    width: int = WIDTH
    height: int = HEIGHT
    marker: dict | None = None
    empty: bool = False


def _y_ticks(peak: int) -> list[dict]:
    top = max(peak, 1)
    values = sorted({0, top // 2, top}) if top > 1 else [0, 1]
    return [{"y": round(TOP + PLOT_H - PLOT_H * value / top, 1), "label": value} for value in values]


def _bucket_label(start: dt.datetime, width: int) -> str:
    if width >= 86400:
        return start.strftime("%Y-%m-%d")
    if width >= 60:
        return start.strftime("%m-%d %H:%M")
    return start.strftime("%H:%M:%S")


def timeline(entries: Sequence[dict] | SummaryColumns) -> Chart:
    """Entries per time bucket, stacked by outcome (prediction 1, prediction 0, rejected)."""
    columns = entries if isinstance(entries, SummaryColumns) else SummaryColumns.from_entries(entries)
    stamped = ~np.isnan(columns.seconds)
    seconds = columns.seconds[stamped]
    if not seconds.size:
        return Chart([], _y_ticks(0), [], empty=True)
    prediction = columns.prediction[stamped]
    # The series of each entry, in SERIES order: positive, negative, rejected.
    outcome = np.where(prediction == 1, 0, np.where(prediction == 0, 1, 2))
    first, last = float(seconds.min()), float(seconds.max())
    width = next(
        (step for step in BUCKET_SECONDS if (last // step - first // step) < MAX_BUCKETS),
        BUCKET_SECONDS[-1],
    )
    origin = int(first // width)
    count = int(last // width) - origin + 1
    slots = (np.floor_divide(seconds, width) - origin).astype(np.int64)
    counts = np.bincount(slots * len(SERIES) + outcome, minlength=count * len(SERIES))
    tallies = [
        {name: int(counts[index * len(SERIES) + position]) for position, (name, _) in enumerate(SERIES)}
        for index in range(count)
    ]
    peak = max(sum(tally.values()) for tally in tallies)
    slot = PLOT_W / count
    bars = []
    for index, tally in enumerate(tallies):
        start = dt.datetime.fromtimestamp((origin + index) * width, dt.UTC)
        base = TOP + PLOT_H
        segments = []
        for series, label in SERIES:
            height = PLOT_H * tally[series] / peak
            if tally[series]:
                base -= height
                segments.append(
                    {
                        "y": round(base, 1),
                        "height": round(height, 1),
                        "css": series,
                        "title": f"{tally[series]} {label}",
                    }
                )
        bar_width = min(slot * 0.8, 48)
        bars.append(
            {
                "x": round(LEFT + index * slot + (slot - bar_width) / 2, 1),
                "width": round(bar_width, 1),
                "segments": segments,
                "title": f"{_bucket_label(start, width)} UTC",
            }
        )
    ends = sorted({0, count - 1})
    x_labels = [
        {
            "x": round(LEFT + index * slot + slot / 2, 1),
            "anchor": "start" if index == 0 and count > 1 else ("end" if index else "middle"),
            "label": _bucket_label(dt.datetime.fromtimestamp((origin + index) * width, dt.UTC), width),
        }
        for index in ends
    ]
    return Chart(bars, _y_ticks(peak), x_labels)


def probability_histogram(
    entries: Sequence[dict] | SummaryColumns, threshold: float | None, bins: int = 10
) -> Chart:
    """Predicted probabilities in `bins` equal bins, bins above the threshold marked."""
    columns = entries if isinstance(entries, SummaryColumns) else SummaryColumns.from_entries(entries)
    probabilities = columns.probability[~np.isnan(columns.probability)]
    # int() truncates toward zero; the top bin takes 1.0 (and anything above).
    slots = np.minimum(np.trunc(probabilities * bins), bins - 1).astype(np.int64)
    slots = np.where(slots < 0, np.maximum(slots, -bins) + bins, slots)  # as a list index would
    counts = np.bincount(slots, minlength=bins).tolist()
    peak = max(counts) or 1
    slot = PLOT_W / bins
    bars = []
    for index, count in enumerate(counts):
        low, high = index / bins, (index + 1) / bins
        height = PLOT_H * count / peak
        above = threshold is not None and low >= threshold
        bars.append(
            {
                "x": round(LEFT + index * slot + 1, 1),
                "width": round(slot - 2, 1),
                "title": f"{low:.1f} to {high:.1f}",
                "segments": [
                    {
                        "y": round(TOP + PLOT_H - height, 1),
                        "height": round(height, 1),
                        "css": "positive" if above else "negative",
                        "title": f"{count} with probability {low:.1f} to {high:.1f}",
                    }
                ],
            }
        )
    x_labels = [
        {"x": round(LEFT + PLOT_W * value, 1), "anchor": "middle", "label": f"{value:.1f}"}
        for value in (0.0, 0.25, 0.5, 0.75, 1.0)
    ]
    marker = None
    if threshold is not None:
        marker = {"x": round(LEFT + PLOT_W * threshold, 1), "label": f"threshold {threshold:.2f}"}
    return Chart(bars, _y_ticks(max(counts)), x_labels, marker=marker, empty=not probabilities.size)
