"""Geometry for the drift report's SVG charts, drawn by templates/monitoring/_drift.html.

The server computes every rectangle and label, so the admin page and the standalone report
need no chart library, no script and no network.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from typing import Any

WIDTH = 640
LABEL_W, RIGHT = 170, 46
ROW_H, BAR_H = 26, 9
TOP, BOTTOM = 12, 24


def _x_scale(maximum: float):
    plot = WIDTH - LABEL_W - RIGHT
    return lambda value: LABEL_W + plot * min(max(value, 0.0), maximum) / maximum


def shares_chart(report: Mapping[str, Any]) -> dict[str, Any]:
    """Per yes/no input (and the predicted positive rate): training share above, window share below."""
    rows = [f for f in report["features"] if f["kind"] == "yes_no"] + [report["predicted_positive"]]
    x = _x_scale(1.0)
    items = []
    for index, row in enumerate(rows):
        y = TOP + index * ROW_H
        bars = [
            {
                "css": "drift-ref",
                "x": LABEL_W,
                "y": y + 3,
                "width": round(x(row["reference"]) - LABEL_W, 1),
                "height": BAR_H,
                "title": f"training {row['reference']:.1%}",
            }
        ]
        if row["current"] is not None:
            bars.append(
                {
                    "css": "drift-cur",
                    "x": LABEL_W,
                    "y": y + 3 + BAR_H,
                    "width": round(x(row["current"]) - LABEL_W, 1),
                    "height": BAR_H,
                    "title": f"window {row['current']:.1%}",
                }
            )
        items.append(
            {
                "label": row["label"],
                "status": row["status"],
                "y": y + ROW_H / 2 + 4,
                "bars": bars,
                "value": "" if row["current"] is None else f"{row['current']:.0%}",
                "value_x": round(max(x(row["reference"]), x(row["current"] or 0)) + 4, 1),
            }
        )
    height = TOP + len(rows) * ROW_H + BOTTOM
    ticks = [{"x": round(x(t), 1), "label": f"{t:.0%}"} for t in (0, 0.25, 0.5, 0.75, 1.0)]
    return {
        "width": WIDTH,
        "height": height,
        "rows": items,
        "ticks": ticks,
        "axis_y": height - 8,
        "plot_top": TOP,
        "plot_bottom": height - BOTTOM,
    }


def age_chart(age: Mapping[str, Any], height: int = 200) -> dict[str, Any]:
    """Share of ages per training decile bin: training and window side by side."""
    edges = age["bins"]["upper_edges"]
    ref, cur = age["bins"]["reference"], age["bins"]["current"]
    ref_total, cur_total = sum(ref) or 1, sum(cur) or 1
    ref_share = [c / ref_total for c in ref]
    cur_share = [c / cur_total for c in cur] if sum(cur) else [0.0] * len(cur)
    top = max(ref_share + cur_share + [0.05])
    left, plot_w, plot_h = 40, WIDTH - 50, height - TOP - BOTTOM
    slot = plot_w / len(ref)
    names = [f"<={edges[0]:g}"] + [f"{a:g}-{b:g}" for a, b in pairwise(edges)] + [f">{edges[-1]:g}"]
    bars, labels = [], []
    for i, name in enumerate(names):
        for offset, share, css, who in (
            (0.1, ref_share[i], "drift-ref", "training"),
            (0.5, cur_share[i], "drift-cur", "window"),
        ):
            h = plot_h * share / top
            bars.append(
                {
                    "css": css,
                    "x": round(left + slot * (i + offset), 1),
                    "y": round(TOP + plot_h - h, 1),
                    "width": round(slot * 0.4, 1),
                    "height": round(h, 1),
                    "title": f"age {name}: {who} {share:.1%}",
                }
            )
        labels.append({"x": round(left + slot * (i + 0.5), 1), "label": name})
    ticks = [{"y": round(TOP + plot_h - plot_h * t / top, 1), "label": f"{t:.0%}"} for t in (0, top / 2, top)]
    return {
        "width": WIDTH,
        "height": height,
        "bars": bars,
        "labels": labels,
        "ticks": ticks,
        "left": left,
        "axis_y": height - 8,
    }


def psi_chart(report: Mapping[str, Any], psi_threshold: float) -> dict[str, Any]:
    """PSI per input, with the threshold from which a change counts as large."""
    rows = [*report["features"], report["predicted_positive"]]
    top = max([f["psi"] or 0.0 for f in rows] + [psi_threshold * 2.5])
    x = _x_scale(top)
    items = []
    for index, row in enumerate(rows):
        y = TOP + index * (ROW_H - 8)
        value = row["psi"] or 0.0
        items.append(
            {
                "label": row["label"],
                "status": row["status"],
                "y": y + 12,
                "x": LABEL_W,
                "bar_y": y + 3,
                "width": round(x(value) - LABEL_W, 1),
                "height": BAR_H + 3,
                "value": "n/a" if row["psi"] is None else f"{value:.3f}",
                "value_x": round(x(value) + 4, 1),
            }
        )
    height = TOP + len(rows) * (ROW_H - 8) + BOTTOM
    return {
        "width": WIDTH,
        "height": height,
        "rows": items,
        "threshold_x": round(x(psi_threshold), 1),
        "threshold": psi_threshold,
        "plot_top": TOP,
        "plot_bottom": height - BOTTOM,
        "axis_y": height - 8,
    }


def charts(report: Mapping[str, Any]) -> dict[str, Any]:
    age = next(f for f in report["features"] if f["kind"] == "numeric")
    return {
        "shares": shares_chart(report),
        "age": age_chart(age),
        "psi": psi_chart(report, report["thresholds"]["psi"]),
    }
