"""Turn the API's JSON into what people read: result cards, messages, tables. No I/O here.

Every function takes the reader's language (`en` or `fr`): the UI's own words come from
`webapp.wording` and `webapp.i18n`, and the API's sentences (message, band meanings, factor
texts) arrive already in that language, because the proxy asks for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any

from .. import features, i18n, wording

# Not flagged is not "safe": a neutral slate, never a reassuring green. White on each meets AA.
RISK_COLORS = {"low": "#44546a", "moderate": "#995c00", "high": "#b3261e"}

# Answers the survey weighs above smoking although medicine would not (see wording.ODD_WEIGHTS).
ODD_ANSWERS = ("ALLERGY", "ALCOHOL CONSUMING", "PEER_PRESSURE")

LOG_COLUMN_KEYS = (
    "time",
    "endpoint",
    "level",
    "prediction",
    "probability",
    "risk",
    "latency",
    "age",
    "gender",
    "answered_yes",
    "request_id",
)


def log_columns(lang: str) -> list[str]:
    return [i18n.text(lang, f"admin.col.{key}") for key in LOG_COLUMN_KEYS]


def error_message(body: Any, status: int, lang: str = i18n.DEFAULT) -> str:
    """A readable sentence for an error envelope (or anything else the API may answer)."""
    _ = i18n.translator(lang)
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return _("error.status_only", status=status)
    message = str(error.get("message") or _("error.generic"))
    if status in (502, 503, 504):
        message += " " + _("error.retry")
    elif status == 401:
        message = _("error.unauthorized")
    elif status == 403:
        message = str(error.get("message") or _("error.forbidden"))
    elif status == 429:
        details = error.get("details") if isinstance(error.get("details"), dict) else {}
        message = _("error.rate_limited", seconds=details.get("retry_after") or 60)
    elif status == 422 and isinstance(error.get("details"), dict):
        fields = "; ".join(
            f"{i18n.label(lang, name)}: {' '.join(map(str, problems))}"
            for name, problems in error["details"].items()
            if isinstance(problems, list)
        )
        message = _("error.fields", fields=fields) if fields else message
    request_id = body.get("request_id")
    suffix = (
        _("error.suffix_request", status=status, request_id=request_id)
        if request_id
        else _("error.suffix", status=status)
    )
    return f"{message} {suffix}"


def error_card(body: Any, status: int, lang: str = i18n.DEFAULT) -> str:
    return (
        f'<div class="lr-card lr-error" id="lr-error"><h2 class="lr-card-title" tabindex="-1">'
        f"{escape(i18n.text(lang, 'result.error_title'))}</h2>"
        f"<p>{escape(error_message(body, status, lang))}</p></div>"
    )


def band_meanings(metadata: Any) -> dict[str, str]:
    bands = metadata.get("risk_bands") if isinstance(metadata, dict) else None
    return {band["level"]: band["meaning"] for band in bands or [] if "level" in band}


def bands_html(metadata: Any, lang: str = i18n.DEFAULT) -> str:
    """What the results mean: the bands, the tested figures and the reference person, from /metadata
    (asked for in `lang`)."""
    bands = metadata.get("risk_bands") if isinstance(metadata, dict) else None
    if not bands:
        return f"<p>{escape(wording.text('ui_bands_pending', lang))}</p>"
    evaluation = metadata.get("evaluation") or {}
    outcomes = evaluation.get("band_outcomes") or {}
    rows = []
    for band in bands:
        level = band["level"]
        share = (outcomes.get(level) or {}).get("share_with_lung_cancer")
        outcome = (
            ""
            if share is None
            else " " + wording.text("ui_bands_outcome", lang, share=wording.whole_percent(share))
        )
        title = band.get("title") or wording.band_title(level, lang)
        rows.append(
            f'<tr><td><span class="lr-pill" style="background:{RISK_COLORS.get(level, "#555")}">'
            f"{escape(wording.band_pill(level, lang))}</span><br>{escape(title)}</td>"
            f"<td>{escape(band.get('score_range', ''))}</td>"
            f"<td>{escape(band['meaning'] + outcome)}</td></tr>"
        )
    header = "".join(
        f'<th scope="col">{escape(wording.text(f"ui_bands_header.{column}", lang))}</th>'
        for column in ("result", "score", "meaning")
    )
    notes = [metadata.get("purpose"), metadata.get("score_explanation")]
    metrics, by_group = metadata.get("metrics") or {}, evaluation.get("by_group") or {}
    if "sensitivity" in metrics and "specificity" in metrics:
        notes.append(wording.performance(metrics, by_group, lang))
    reference = metadata.get("reference_person") or {}
    if reference:
        notes.append(
            wording.text(
                "ui_reference", lang, reference=reference["description"], score=reference["score_display"]
            )
        )
    weights = evaluation.get("weights") or {}
    if weights and all(weights.get(name, 0) > weights.get("SMOKING", 0) for name in ODD_ANSWERS):
        notes.append(wording.text("odd_weights", lang))
    if (evaluation.get("sign_constraints") or {}).get("adopted"):
        notes.append(wording.text("signs_held", lang))
    paragraphs = "".join(f'<p class="lr-note">{escape(note)}</p>' for note in notes if note)
    return (
        f'<table class="lr-bands"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
        f"{paragraphs}"
    )


def result_card(body: dict[str, Any], metadata: Any = None, lang: str = i18n.DEFAULT) -> str:
    level = str(body.get("risk_level", "unknown"))
    probability = float(body.get("probability", body.get("probabilities", [0, 0])[-1]))
    score = str(body.get("score_display") or wording.percent(wording.whole_percent(probability), lang))
    color = RISK_COLORS.get(level, "#555")
    bar = min(max(probability, 0.01), 0.99)  # the bar, like the number, never reads as 0% or 100%
    meaning = (
        band_meanings(metadata).get(level) or wording.band_meaning(level, lang) or body.get("message", "")
    )
    explanation = metadata.get("score_explanation") if isinstance(metadata, dict) else None
    meta = wording.text(
        "ui_meta", lang, model=body.get("model_version", ""), request=body.get("request_id", "")
    )
    caption = wording.text("ui_score_caption", lang)
    heading = i18n.text(lang, "result.heading")
    title = wording.band_title(level, lang) if level in wording.LEVELS else level
    pill = wording.band_pill(level, lang) if level in wording.LEVELS else level.upper()
    return f"""
<div class="lr-card" id="lr-result" data-risk="{escape(level)}" style="border-left:8px solid {color}">
  <h2 class="lr-card-title" id="lr-result-heading" tabindex="-1">{escape(heading)}</h2>
  <div class="lr-headline">
    <span class="lr-pill" id="lr-risk-level" style="background:{color}">{escape(pill)}</span>
    <span class="lr-probability" id="lr-probability">{escape(score)}</span>
    <span class="lr-caption">{escape(caption)}</span>
  </div>
  <div class="lr-bar" role="progressbar" aria-label="{escape(caption)}" aria-valuenow="{bar * 100:.0f}"
       aria-valuemin="0" aria-valuemax="100" aria-valuetext="{escape(score)}">
    <div style="width:{bar:.0%};background:{color}"></div></div>
  <p class="lr-title" id="lr-title"><strong>{escape(title)}</strong></p>
  <p class="lr-meaning">{escape(meaning)}</p>
  {_doctor_html(body.get("see_a_doctor_about") or [], lang)}
  {_factors_html(body.get("factors") or [], body.get("factors_reference"), lang)}
  {_warnings_html(body.get("warnings") or [], lang)}
  {f'<p class="lr-note">{escape(explanation)}</p>' if explanation else ""}
  <p class="lr-disclaimer">{escape(wording.text("ui_disclaimer", lang))}</p>
  <p class="lr-meta">{escape(meta)}</p>
</div>"""


def _doctor_html(symptoms: list[str], lang: str) -> str:
    known = [name for name in symptoms if name in wording.SYMPTOM_PHRASES]
    if not known:
        return ""
    heading = wording.text("ui_doctor_heading", lang)
    return (
        f'<div class="lr-doctor" id="lr-doctor"><h3>{escape(heading)}</h3>'
        f"<p>{escape(wording.doctor_advice(known, lang))}</p></div>"
    )


def _factors_html(factors: list[dict[str, Any]], reference: Any, lang: str) -> str:
    """Raises and lowers apart, each most important first (the API's order)."""
    lists = []
    for direction, heading, css in (
        ("raises", "factors_raise_heading", "lr-up"),
        ("lowers", "factors_lower_heading", "lr-down"),
    ):
        items = [
            f'<li class="{css}">{escape(str(factor.get("text") or factor.get("label")))}</li>'
            for factor in factors
            if factor.get("direction") == direction
        ]
        if items:
            lists.append(
                f"<h4>{escape(wording.text(heading, lang))}</h4>"
                f'<ul class="lr-factors" id="lr-{direction}">{"".join(items)}</ul>'
            )
    intro = ""
    if reference:
        intro = wording.text("ui_factors_intro", lang, reference=reference)
        intro = f'<p class="lr-note">{escape(intro)}</p>'
    body = "".join(lists) or f'<p class="lr-note">{escape(wording.text("no_factors", lang))}</p>'
    heading = wording.text("ui_factors_heading", lang)
    return f'<div id="lr-factors"><h3>{escape(heading)}</h3>{intro}{body}</div>'


def _warnings_html(warnings: list[str], lang: str) -> str:
    if not warnings:
        return ""
    items = "".join(f"<li>{escape(str(w))}</li>" for w in warnings)
    return (
        f'<div class="lr-warnings"><strong>{escape(wording.text("ui_warnings_heading", lang))}</strong>'
        f"<ul>{items}</ul></div>"
    )


def log_rows(entries: Iterable[dict[str, Any]], lang: str = i18n.DEFAULT) -> list[list[Any]]:
    _ = i18n.translator(lang)
    genders = {1: _("answer.male"), 0: _("answer.female")}
    rows = []
    for entry in entries:
        inputs = entry.get("inputs") or {}
        yes = [i18n.label(lang, name) for name in features.BINARY_FEATURES if inputs.get(name) == 1]
        probability = entry.get("probability")
        level = entry.get("risk_level")
        rows.append(
            [
                (entry.get("timestamp") or "").replace("T", " ").rstrip("Z"),
                entry.get("endpoint"),
                entry.get("level"),
                entry.get("prediction"),
                None if probability is None else round(probability, 3),
                i18n.risk_name(lang, level) if level else level,
                entry.get("latency_ms"),
                inputs.get(features.AGE),
                genders.get(inputs.get(features.GENDER), ""),
                ", ".join(yes) if entry.get("level") == "INFO" else entry.get("message", ""),
                entry.get("request_id"),
            ]
        )
    return rows


def page_caption(body: dict[str, Any], lang: str = i18n.DEFAULT) -> str:
    total, offset, shown = body.get("total", 0), body.get("offset", 0), len(body.get("logs") or [])
    if not shown:
        return i18n.text(lang, "admin.no_entries", total=total)
    return i18n.text(lang, "admin.page", first=offset + 1, last=offset + shown, total=total)


def status_markdown(
    health: tuple[Any, int], metadata: tuple[Any, int], api_url: str, lang: str = i18n.DEFAULT
) -> str:
    _ = i18n.translator(lang)
    (h, h_status), (m, m_status) = health, metadata
    lines = [_("status.api", url=api_url)]
    if h_status == 200 or (isinstance(h, dict) and "status" in h):
        lines.append(
            _(
                "status.health",
                status=h.get("status"),
                loaded=_("status.yes") if h.get("model_loaded") else _("status.no"),
                store=h.get("log_store"),
                healthy=_("status.healthy") if h.get("log_store_healthy") else _("status.unhealthy"),
                version=h.get("version"),
            )
        )
        lines += [f"- {reason}" for reason in h.get("reasons") or []]
    else:
        lines.append(_("status.unreachable", reason=error_message(h, h_status, lang)))
    if m_status == 200:
        metrics = m.get("metrics") or {}
        roc = metrics.get("roc_auc") if isinstance(metrics.get("roc_auc"), dict) else {}
        auc, interval = roc.get("mean"), roc.get("ci95")
        line = _(
            "status.model",
            name=m.get("model_name"),
            version=m.get("version"),
            threshold=f"{m.get('threshold', 0):.3f}",
        )
        if auc:
            line += _("status.auc", auc=f"{auc:.3f}")
            if interval:
                line += _("status.auc_interval", low=f"{interval[0]:.3f}", high=f"{interval[1]:.3f}")
        lines.append(line)
    else:
        lines.append(_("status.no_metadata", reason=error_message(m, m_status, lang)))
    return "\n\n".join(lines)
