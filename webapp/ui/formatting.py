"""Turn the API's JSON into what people read: result cards, messages, tables. No I/O here.

Every function takes the reader's language (`en` or `fr`) and takes its words from
`webapp.i18n`; the API's own sentences (message, band meanings) arrive already in that language.
"""
from __future__ import annotations

from html import escape
from typing import Any, Iterable

from .. import features, i18n

RISK_COLORS = {"low": "#1b7f3b", "moderate": "#995c00", "high": "#b3261e"}

LOG_COLUMN_KEYS = ("time", "endpoint", "level", "prediction", "probability", "risk", "latency", "age",
                   "gender", "answered_yes", "request_id")


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
    elif status == 422 and isinstance(error.get("details"), dict):
        fields = "; ".join(f"{i18n.label(lang, name)}: {' '.join(map(str, problems))}"
                           for name, problems in error["details"].items() if isinstance(problems, list))
        message = _("error.fields", fields=fields) if fields else message
    request_id = body.get("request_id")
    suffix = (_("error.suffix_request", status=status, request_id=request_id) if request_id
              else _("error.suffix", status=status))
    return f"{message} {suffix}"


def error_card(body: Any, status: int, lang: str = i18n.DEFAULT) -> str:
    _ = i18n.translator(lang)
    return (f'<div class="lr-card lr-error" id="lr-error"><h2 class="lr-card-title">{escape(_("result.error_title"))}'
            f"</h2><p>{escape(error_message(body, status, lang))}</p></div>")


def band_meanings(metadata: Any) -> dict[str, str]:
    bands = metadata.get("risk_bands") if isinstance(metadata, dict) else None
    return {band["level"]: band["meaning"] for band in bands or [] if "level" in band}


def bands_html(metadata: Any, lang: str = i18n.DEFAULT) -> str:
    _ = i18n.translator(lang)
    bands = metadata.get("risk_bands") if isinstance(metadata, dict) else None
    if not bands:
        return i18n.text(lang, "ui.bands_placeholder")
    rows = []
    for band in bands:
        span = _("bands.range_value", low=f"{band['from']:.0%}", high=f"{band['to']:.0%}")
        rows.append(f'<tr><td><span class="lr-pill" style="background:{RISK_COLORS.get(band["level"], "#555")}">'
                    f'{escape(i18n.risk_name(lang, band["level"]))}</span></td><td>{escape(span)}</td>'
                    f"<td>{escape(band['meaning'])}</td></tr>")
    return (f'<table class="lr-bands"><thead><tr><th scope="col">{escape(_("bands.level"))}</th>'
            f'<th scope="col">{escape(_("bands.range"))}</th><th scope="col">{escape(_("bands.meaning"))}</th>'
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def result_card(body: dict[str, Any], meanings: dict[str, str], lang: str = i18n.DEFAULT,
                threshold: float | None = None) -> str:
    _ = i18n.translator(lang)
    level = str(body.get("risk_level", "unknown"))
    probability = float(body.get("probability", body.get("probabilities", [0, 0])[-1]))
    color = RISK_COLORS.get(level, "#555")
    meaning = meanings.get(level) or body.get("message", "")
    percent = f"{probability:.0%}"
    bar_label = _("result.bar_label", percent=f"{probability:.1%}",
                  threshold=f"{threshold:.0%}" if threshold is not None else "?")
    return f"""
<div class="lr-card" id="lr-result" data-risk="{escape(level)}" style="border-left:8px solid {color}">
  <h2 class="lr-card-title" id="lr-result-heading" tabindex="-1">{escape(_("result.heading"))}</h2>
  <div class="lr-headline">
    <span class="lr-pill" id="lr-risk-level" style="background:{color}">{escape(_("result.headline", level=i18n.risk_name(lang, level)).upper())}</span>
    <span class="lr-probability" id="lr-probability">{probability:.1%}</span>
    <span class="lr-caption">{escape(_("result.probability_caption"))}</span>
  </div>
  <div class="lr-bar" role="progressbar" aria-label="{escape(bar_label)}" aria-valuenow="{probability * 100:.0f}"
       aria-valuemin="0" aria-valuemax="100" aria-valuetext="{probability:.1%}"><div style="width:{percent};background:{color}"></div></div>
  <p class="lr-meaning">{escape(meaning)}</p>
  {_factors_html(body.get("factors") or [], lang)}
  {_warnings_html(body.get("warnings") or [], lang)}
  <p class="lr-disclaimer">{escape(_("result.disclaimer"))}</p>
  <p class="lr-meta">{escape(_("result.meta", model=body.get("model_version", ""), request_id=body.get("request_id", "")))}</p>
</div>"""


def _factors_html(factors: Iterable[dict[str, Any]], lang: str) -> str:
    _ = i18n.translator(lang)
    items = []
    for factor in factors:
        raises = factor["contribution"] > 0
        answer = _answer(factor["feature"], factor["value"], lang)
        items.append(f'<li class="{"lr-up" if raises else "lr-down"}">'
                     f'<strong>{escape(i18n.label(lang, factor["feature"]))}</strong> ({escape(answer)}): '
                     f'{escape(_("result.factor_raises") if raises else _("result.factor_lowers"))}</li>')
    if not items:
        return ""
    return f'<h3>{escape(_("result.factors_title"))}</h3><ul class="lr-factors">{"".join(items)}</ul>'


def _answer(feature: str, value: Any, lang: str) -> str:
    _ = i18n.translator(lang)
    if feature == features.AGE:
        return _("answer.years", age=int(value))
    if feature == features.GENDER:
        return _("answer.male") if value else _("answer.female")
    return _("answer.yes") if value else _("answer.no")


def _warnings_html(warnings: list[str], lang: str) -> str:
    if not warnings:
        return ""
    items = "".join(f"<li>{escape(str(w))}</li>" for w in warnings)
    return (f'<div class="lr-warnings"><strong>{escape(i18n.text(lang, "result.warnings_title"))}</strong>'
            f"<ul>{items}</ul></div>")


def log_rows(entries: Iterable[dict[str, Any]], lang: str = i18n.DEFAULT) -> list[list[Any]]:
    _ = i18n.translator(lang)
    genders = {1: _("answer.male"), 0: _("answer.female")}
    rows = []
    for entry in entries:
        inputs = entry.get("inputs") or {}
        yes = [i18n.label(lang, name) for name in features.BINARY_FEATURES if inputs.get(name) == 1]
        probability = entry.get("probability")
        level = entry.get("risk_level")
        rows.append([
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
        ])
    return rows


def page_caption(body: dict[str, Any], lang: str = i18n.DEFAULT) -> str:
    total, offset, shown = body.get("total", 0), body.get("offset", 0), len(body.get("logs") or [])
    if not shown:
        return i18n.text(lang, "admin.no_entries", total=total)
    return i18n.text(lang, "admin.page", first=offset + 1, last=offset + shown, total=total)


def status_markdown(health: tuple[Any, int], metadata: tuple[Any, int], api_url: str,
                    lang: str = i18n.DEFAULT) -> str:
    _ = i18n.translator(lang)
    (h, h_status), (m, m_status) = health, metadata
    lines = [_("status.api", url=api_url)]
    if h_status == 200 or (isinstance(h, dict) and "status" in h):
        lines.append(_("status.health", status=h.get("status"),
                       loaded=_("status.yes") if h.get("model_loaded") else _("status.no"),
                       store=h.get("log_store"),
                       healthy=_("status.healthy") if h.get("log_store_healthy") else _("status.unhealthy"),
                       version=h.get("version")))
        lines += [f"- {reason}" for reason in h.get("reasons") or []]
    else:
        lines.append(_("status.unreachable", reason=error_message(h, h_status, lang)))
    if m_status == 200:
        metrics = m.get("metrics") or {}
        auc = (metrics.get("roc_auc") or {}).get("mean") if isinstance(metrics.get("roc_auc"), dict) else None
        lines.append(_("status.model", name=m.get("model_name"), version=m.get("version"),
                       threshold=f"{m.get('threshold', 0):.3f}") + (_("status.auc", auc=f"{auc:.3f}") if auc else ""))
    else:
        lines.append(_("status.no_metadata", reason=error_message(m, m_status, lang)))
    return "\n\n".join(lines)
