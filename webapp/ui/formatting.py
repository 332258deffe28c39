"""Turn the API's JSON into what people read: result cards, messages, tables. No I/O here."""
from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any

from .. import features

DISCLAIMER = ("This is a screening aid built on a small self-reported survey, not a diagnosis. "
              "Whatever the result, see a doctor about symptoms that worry you.")

RISK_COLORS = {"low": "#1b7f3b", "moderate": "#b86e00", "high": "#b3261e"}

LOG_COLUMNS = ["time", "endpoint", "level", "prediction", "probability", "risk", "latency ms",
               "age", "gender", "answered yes", "request id"]


def error_message(body: Any, status: int) -> str:
    """A readable sentence for an error envelope (or anything else the API may answer)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return f"The API answered with status {status}."
    message = str(error.get("message") or "The API reported an error.")
    if status in (502, 503, 504):
        message += " Try again in a moment; if it persists, check that the API service is running."
    elif status == 401:
        message = "Admin token required or not accepted: type the token set as ADMIN_TOKEN on the API."
    elif status == 403:
        message = str(error.get("message") or "This action is not allowed here.")
    elif status == 422 and isinstance(error.get("details"), dict):
        fields = "; ".join(f"{features.LABELS.get(name, name)}: {' '.join(map(str, problems))}"
                           for name, problems in error["details"].items() if isinstance(problems, list))
        message = f"Some answers were not accepted. {fields}" if fields else message
    request_id = body.get("request_id")
    return f"{message} (status {status}{f', request {request_id}' if request_id else ''})"


def error_card(body: Any, status: int) -> str:
    return (f'<div class="lr-card lr-error" id="lr-error"><strong>Could not get a prediction.</strong>'
            f"<p>{escape(error_message(body, status))}</p></div>")


def band_meanings(metadata: Any) -> dict[str, str]:
    bands = metadata.get("risk_bands") if isinstance(metadata, dict) else None
    return {band["level"]: band["meaning"] for band in bands or [] if "level" in band}


def bands_html(metadata: Any) -> str:
    bands = metadata.get("risk_bands") if isinstance(metadata, dict) else None
    if not bands:
        return "<p>The risk bands will show here once the API answers.</p>"
    rows = "".join(
        f'<tr><td><span class="lr-pill" style="background:{RISK_COLORS.get(b["level"], "#555")}">'
        f'{escape(b["level"])}</span></td><td>{b["from"]:.0%} to {b["to"]:.0%}</td>'
        f"<td>{escape(b['meaning'])}</td></tr>"
        for b in bands)
    return ('<table class="lr-bands"><tr><th>Risk level</th><th>Probability</th><th>What it means</th></tr>'
            f"{rows}</table>")


def result_card(body: dict[str, Any], meanings: dict[str, str]) -> str:
    level = str(body.get("risk_level", "unknown"))
    probability = float(body.get("probability", body.get("probabilities", [0, 0])[-1]))
    color = RISK_COLORS.get(level, "#555")
    meaning = meanings.get(level) or body.get("message", "")
    percent = f"{probability:.0%}"
    return f"""
<div class="lr-card" id="lr-result" data-risk="{escape(level)}" style="border-left:8px solid {color}">
  <div class="lr-headline">
    <span class="lr-pill" id="lr-risk-level" style="background:{color}">{escape(level.upper())} RISK</span>
    <span class="lr-probability" id="lr-probability">{probability:.1%}</span>
    <span class="lr-caption">estimated probability</span>
  </div>
  <div class="lr-bar" role="progressbar" aria-valuenow="{probability * 100:.0f}" aria-valuemin="0"
       aria-valuemax="100"><div style="width:{percent};background:{color}"></div></div>
  <p class="lr-meaning">{escape(meaning)}</p>
  {_factors_html(body.get("factors") or [])}
  {_warnings_html(body.get("warnings") or [])}
  <p class="lr-disclaimer">{escape(DISCLAIMER)}</p>
  <p class="lr-meta">Model {escape(str(body.get("model_version", "")))} ·
     request {escape(str(body.get("request_id", "")))}</p>
</div>"""


def _factors_html(factors: Iterable[dict[str, Any]]) -> str:
    items = []
    for factor in factors:
        raises = factor["contribution"] > 0
        answer = _answer(factor["feature"], factor["value"])
        items.append(f'<li class="{"lr-up" if raises else "lr-down"}">'
                     f'<strong>{escape(factor["label"])}</strong> ({escape(answer)}): '
                     f'{"raises" if raises else "lowers"} the risk</li>')
    if not items:
        return ""
    return f'<h4>Main factors for this person</h4><ul class="lr-factors">{"".join(items)}</ul>'


def _answer(feature: str, value: Any) -> str:
    if feature == features.AGE:
        return f"{int(value)} years"
    if feature == features.GENDER:
        return "male" if value else "female"
    return "yes" if value else "no"


def _warnings_html(warnings: list[str]) -> str:
    if not warnings:
        return ""
    items = "".join(f"<li>{escape(str(w))}</li>" for w in warnings)
    return f'<div class="lr-warnings"><strong>Please note</strong><ul>{items}</ul></div>'


def log_rows(entries: Iterable[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for entry in entries:
        inputs = entry.get("inputs") or {}
        yes = [features.LABELS[name] for name in features.BINARY_FEATURES if inputs.get(name) == 1]
        probability = entry.get("probability")
        rows.append([
            (entry.get("timestamp") or "").replace("T", " ").rstrip("Z"),
            entry.get("endpoint"),
            entry.get("level"),
            entry.get("prediction"),
            None if probability is None else round(probability, 3),
            entry.get("risk_level"),
            entry.get("latency_ms"),
            inputs.get(features.AGE),
            {1: "male", 0: "female"}.get(inputs.get(features.GENDER), ""),
            ", ".join(yes) if entry.get("level") == "INFO" else entry.get("message", ""),
            entry.get("request_id"),
        ])
    return rows


def page_caption(body: dict[str, Any]) -> str:
    total, offset, shown = body.get("total", 0), body.get("offset", 0), len(body.get("logs") or [])
    if not shown:
        return f"No entries on this page ({total} in the log)."
    return f"Entries {offset + 1} to {offset + shown} of {total}, newest first."


def status_markdown(health: tuple[Any, int], metadata: tuple[Any, int], api_url: str) -> str:
    (h, h_status), (m, m_status) = health, metadata
    lines = [f"**API** `{api_url}`"]
    if h_status == 200 or (isinstance(h, dict) and "status" in h):
        lines.append(f"**Health** {h.get('status')} · model loaded: {h.get('model_loaded')} · log store: "
                     f"{h.get('log_store')} ({'healthy' if h.get('log_store_healthy') else 'unhealthy'}) · "
                     f"API version {h.get('version')}")
        lines += [f"- {reason}" for reason in h.get("reasons") or []]
    else:
        lines.append(f"**Health** unreachable: {error_message(h, h_status)}")
    if m_status == 200:
        metrics = m.get("metrics") or {}
        auc = (metrics.get("roc_auc") or {}).get("mean") if isinstance(metrics.get("roc_auc"), dict) else None
        lines.append(f"**Model** {m.get('model_name')} version {m.get('version')} · threshold "
                     f"{m.get('threshold', 0):.3f}"
                     + (f" · cross-validated ROC AUC {auc:.3f}" if auc else ""))
    else:
        lines.append(f"**Model** metadata unavailable: {error_message(m, m_status)}")
    return "\n\n".join(lines)
