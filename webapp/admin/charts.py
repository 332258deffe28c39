"""Geometry for the log page's two SVG charts, drawn by templates/admin/_charts.html.

The server computes rectangles and labels; the template only places them, so the page needs
no chart library, no script and no internet access.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Sequence

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


def _parse(stamp) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None


def _series(entry: dict) -> str:
    if entry.get("prediction") == 1:
        return "positive"
    if entry.get("prediction") == 0:
        return "negative"
    return "rejected"


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


def timeline(entries: Sequence[dict]) -> Chart:
    """Entries per time bucket, stacked by outcome (prediction 1, prediction 0, rejected)."""
    # Seconds since the epoch, computed once an entry (10,000 entries feed this).
    stamped = [
        (moment.timestamp(), _series(entry))
        for entry in entries
        if (moment := _parse(entry.get("timestamp"))) is not None
    ]
    if not stamped:
        return Chart([], _y_ticks(0), [], empty=True)
    first = min(seconds for seconds, _ in stamped)
    last = max(seconds for seconds, _ in stamped)
    width = next(
        (seconds for seconds in BUCKET_SECONDS if (last // seconds - first // seconds) < MAX_BUCKETS),
        BUCKET_SECONDS[-1],
    )
    origin = int(first // width)
    count = int(last // width) - origin + 1
    tallies = [Counter() for _ in range(count)]
    for seconds, series in stamped:
        tallies[int(seconds // width) - origin][series] += 1
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


def probability_histogram(entries: Sequence[dict], threshold: float | None, bins: int = 10) -> Chart:
    """Predicted probabilities in `bins` equal bins, bins above the threshold marked."""
    probabilities = [
        float(entry["probability"]) for entry in entries if isinstance(entry.get("probability"), (int, float))
    ]
    counts = [0] * bins
    for probability in probabilities:
        counts[min(int(probability * bins), bins - 1)] += 1
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
    return Chart(bars, _y_ticks(max(counts)), x_labels, marker=marker, empty=not probabilities)
