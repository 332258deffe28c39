"""Turn the API's JSON into what people read: result cards, messages, tables. No I/O here."""
from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any

from .. import features, wording

DISCLAIMER = wording.UI_DISCLAIMER

# Not flagged is not "safe": a neutral slate, never a reassuring green.
RISK_COLORS = {"low": "#44546a", "moderate": "#b86e00", "high": "#b3261e"}

# Answers the survey weighs above smoking although medicine would not (see wording.ODD_WEIGHTS).
ODD_ANSWERS = ("ALLERGY", "ALCOHOL CONSUMING", "PEER_PRESSURE")

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
    """What the results mean: the bands, the tested figures and the reference person, from /metadata."""
    bands = metadata.get("risk_bands") if isinstance(metadata, dict) else None
    if not bands:
        return f"<p>{escape(wording.UI_BANDS_PENDING)}</p>"
    evaluation = metadata.get("evaluation") or {}
    outcomes = evaluation.get("band_outcomes") or {}
    rows = []
    for band in bands:
        level = band["level"]
        share = (outcomes.get(level) or {}).get("share_with_lung_cancer")
        outcome = "" if share is None else " " + wording.UI_BANDS_OUTCOME.format(share=wording.whole_percent(share))
        title = band.get("title") or wording.BAND_TITLES.get(level, level)
        rows.append(
            f'<tr><td><span class="lr-pill" style="background:{RISK_COLORS.get(level, "#555")}">'
            f"{escape(wording.BAND_PILLS.get(level, level))}</span><br>{escape(title)}</td>"
            f"<td>{escape(band.get('score_range', ''))}</td>"
            f"<td>{escape(band['meaning'] + outcome)}</td></tr>")
    header = "".join(f"<th>{escape(cell)}</th>" for cell in wording.UI_BANDS_HEADER)
    notes = [metadata.get("purpose"), metadata.get("score_explanation")]
    metrics, by_group = metadata.get("metrics") or {}, evaluation.get("by_group") or {}
    if "sensitivity" in metrics and "specificity" in metrics:
        notes.append(wording.performance(metrics, by_group))
    reference = metadata.get("reference_person") or {}
    if reference:
        notes.append(wording.UI_REFERENCE.format(reference=reference["description"],
                                                 score=reference["score_display"]))
    weights = evaluation.get("weights") or {}
    if weights and all(weights.get(name, 0) > weights.get("SMOKING", 0) for name in ODD_ANSWERS):
        notes.append(wording.ODD_WEIGHTS)
    if (evaluation.get("sign_constraints") or {}).get("adopted"):
        notes.append(wording.SIGNS_HELD)
    paragraphs = "".join(f'<p class="lr-note">{escape(note)}</p>' for note in notes if note)
    return f'<table class="lr-bands"><tr>{header}</tr>{"".join(rows)}</table>{paragraphs}'


def result_card(body: dict[str, Any], metadata: Any = None) -> str:
    level = str(body.get("risk_level", "unknown"))
    probability = float(body.get("probability", body.get("probabilities", [0, 0])[-1]))
    score = str(body.get("score_display") or wording.PERCENT.format(value=wording.whole_percent(probability)))
    color = RISK_COLORS.get(level, "#555")
    bar = min(max(probability, 0.01), 0.99)  # the bar, like the number, never reads as 0% or 100%
    meaning = band_meanings(metadata).get(level) or wording.BAND_MEANINGS.get(level) or body.get("message", "")
    explanation = metadata.get("score_explanation") if isinstance(metadata, dict) else None
    meta = wording.UI_META.format(model=body.get("model_version", ""), request=body.get("request_id", ""))
    return f"""
<div class="lr-card" id="lr-result" data-risk="{escape(level)}" style="border-left:8px solid {color}">
  <div class="lr-headline">
    <span class="lr-pill" id="lr-risk-level" style="background:{color}">{escape(wording.BAND_PILLS.get(level, level.upper()))}</span>
    <span class="lr-probability" id="lr-probability">{escape(score)}</span>
    <span class="lr-caption">{escape(wording.UI_SCORE_CAPTION)}</span>
  </div>
  <div class="lr-bar" role="progressbar" aria-valuenow="{bar * 100:.0f}" aria-valuemin="0"
       aria-valuemax="100"><div style="width:{bar:.0%};background:{color}"></div></div>
  <p class="lr-title" id="lr-title"><strong>{escape(wording.BAND_TITLES.get(level, level))}</strong></p>
  <p class="lr-meaning">{escape(meaning)}</p>
  {_doctor_html(body.get("see_a_doctor_about") or [])}
  {_factors_html(body.get("factors") or [], body.get("factors_reference"))}
  {_warnings_html(body.get("warnings") or [])}
  {f'<p class="lr-note">{escape(explanation)}</p>' if explanation else ""}
  <p class="lr-disclaimer">{escape(DISCLAIMER)}</p>
  <p class="lr-meta">{escape(meta)}</p>
</div>"""


def _doctor_html(symptoms: list[str]) -> str:
    known = [name for name in symptoms if name in wording.SYMPTOM_PHRASES]
    if not known:
        return ""
    return (f'<div class="lr-doctor" id="lr-doctor"><strong>{escape(wording.UI_DOCTOR_HEADING)}</strong>'
            f"<p>{escape(wording.doctor_advice(known))}</p></div>")


def _factors_html(factors: list[dict[str, Any]], reference: Any) -> str:
    """Raises and lowers apart, each most important first (the API's order)."""
    lists = []
    for direction, heading, css in (("raises", wording.FACTORS_RAISE_HEADING, "lr-up"),
                                    ("lowers", wording.FACTORS_LOWER_HEADING, "lr-down")):
        items = [f'<li class="{css}">{escape(str(factor.get("text") or factor.get("label")))}</li>'
                 for factor in factors if factor.get("direction") == direction]
        if items:
            lists.append(f'<h5>{escape(heading)}</h5><ul class="lr-factors" id="lr-{direction}">{"".join(items)}</ul>')
    intro = ""
    if reference:
        intro = f'<p class="lr-note">{escape(wording.UI_FACTORS_INTRO.format(reference=reference))}</p>'
    body = "".join(lists) or f'<p class="lr-note">{escape(wording.NO_FACTORS)}</p>'
    return f'<div id="lr-factors"><h4>{escape(wording.UI_FACTORS_HEADING)}</h4>{intro}{body}</div>'


def _warnings_html(warnings: list[str]) -> str:
    if not warnings:
        return ""
    items = "".join(f"<li>{escape(str(w))}</li>" for w in warnings)
    return f'<div class="lr-warnings"><strong>{escape(wording.UI_WARNINGS_HEADING)}</strong><ul>{items}</ul></div>'


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
        roc = metrics.get("roc_auc") if isinstance(metrics.get("roc_auc"), dict) else {}
        auc, interval = roc.get("mean"), roc.get("ci95")
        lines.append(f"**Model** {m.get('model_name')} version {m.get('version')} · threshold "
                     f"{m.get('threshold', 0):.3f}" + (f" · nested cross-validated ROC AUC {auc:.3f}" if auc else "")
                     + (f" (95% CI {interval[0]:.3f} to {interval[1]:.3f})" if auc and interval else ""))
    else:
        lines.append(f"**Model** metadata unavailable: {error_message(m, m_status)}")
    return "\n\n".join(lines)
