"""What each UI event does: call the API through the proxy, format the answer. No layout here."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import gradio as gr

from .. import features, i18n
from ..proxy import APIProxyClient
from . import batch, formatting
from .settings import UISettings

logger = logging.getLogger(__name__)

CONSOLE_ENDPOINTS = {
    "GET / (info)": ("GET", "/"),
    "GET /health": ("GET", "/health"),
    "GET /metadata": ("GET", "/metadata"),
    "POST /predict": ("POST", "/predict"),
    "POST /predict_proba": ("POST", "/predict_proba"),
    "GET /logs": ("GET", "/logs"),
    "DELETE /logs (clear)": ("DELETE", "/logs"),
    "GET /health/live": ("GET", "/health/live"),
}
#: The console entry that also measures the round trip.
CONNECTION_CHECK = "GET /health/live"

#: The form's starting answers, which "Start over" restores.
DEFAULT_AGE = 50
DEFAULT_GENDER = "female"


def record_from_form(age: float, gender: str, answers: dict[str, bool]) -> dict[str, int]:
    """The API record of the form's answers; gender is the radio's value (`male` or `female`)."""
    record = {features.AGE: int(age), features.GENDER: 1 if str(gender).lower() == "male" else 0}
    record.update({name: int(bool(answers.get(name))) for name in features.BINARY_FEATURES})
    return record


class Handlers:
    """The UI's event handlers around one shared proxy client."""

    def __init__(self, client: APIProxyClient, settings: UISettings):
        self.client = client
        self.settings = settings
        self._metadata: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def metadata(self, lang: str = i18n.DEFAULT) -> dict[str, Any] | None:
        """The model metadata in `lang`, fetched once it is available (it changes only with a redeploy)."""
        with self._lock:
            if lang not in self._metadata:
                body, status = self.client.get_metadata(language=lang)
                if status == 200:
                    self._metadata[lang] = body
            return self._metadata.get(lang)

    # -- prediction tab --------------------------------------------------------------------

    def visitor(self, request: gr.Request | None) -> str | None:
        """The address of the person using the page: the peer's, or the one the proxy in front
        (nginx on the Space, a trusted forwarder) saw. The API rate-limits each visitor by it."""
        if request is None or request.client is None:
            return None
        peer = request.client.host
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded and peer in self.settings.forwarders:
            return forwarded.rsplit(",", 1)[-1].strip() or peer
        return peer

    def predict_for_visitor(self, request: gr.Request, *form_then_language: Any) -> str:
        """The form's button: Gradio passes the visitor's request first."""
        return self.predict(*form_then_language, visitor=self.visitor(request))

    def predict(self, age: float, gender: str, *checks_then_language: Any, visitor: str | None = None) -> str:
        *checks, language = checks_then_language
        lang = i18n.negotiate(language)
        record = record_from_form(age, gender, dict(zip(features.BINARY_FEATURES, checks, strict=True)))
        body, status = self.client.post_predict(record, language=lang, visitor=visitor)
        if status != 200:
            return formatting.error_card(body, status, lang)
        return formatting.result_card(body, self.metadata(lang), lang)

    def start_over(self, language: str) -> list[Any]:
        """Every input back to its starting answer, and the empty result."""
        return [
            DEFAULT_AGE,
            DEFAULT_GENDER,
            *(False for _ in features.BINARY_FEATURES),
            i18n.text(i18n.negotiate(language), "ui.result_placeholder"),
        ]

    def bands(self, language: str) -> str:
        lang = i18n.negotiate(language)
        return formatting.bands_html(self.metadata(lang), lang)

    def empty_tables(self, language: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The batch and admin tables' headers in the page's language, before any data."""
        lang = i18n.negotiate(language)
        return (
            {"headers": batch.column_titles(batch.TABLE_COLUMNS, lang), "data": []},
            {"headers": formatting.log_columns(lang), "data": []},
        )

    # -- batch tab -------------------------------------------------------------------------

    def score_csv(
        self, path: str | None, language: str = i18n.DEFAULT, request: gr.Request | None = None
    ) -> tuple[str, dict[str, Any], str | None]:
        lang = i18n.negotiate(language)
        _ = i18n.translator(lang)
        empty = {"headers": batch.column_titles(batch.TABLE_COLUMNS, lang), "data": []}
        if not path:
            return _("batch.choose_file"), empty, None
        try:
            result = self._score_file(path, lang, self.visitor(request))
        except batch.BatchFileError as exc:
            return _("batch.unusable", reason=exc), empty, None
        return self._batch_outputs(result, lang)

    def _score_file(
        self, path: str, lang: str = i18n.DEFAULT, visitor: str | None = None
    ) -> batch.BatchResult:
        with open(path, encoding="utf-8-sig", errors="replace") as handle:
            return batch.run(
                self.client,
                handle.read(),
                self.settings.batch_chunk,
                self.settings.batch_max_rows,
                lang,
                visitor,
            )

    def _batch_outputs(
        self, result: batch.BatchResult, lang: str = i18n.DEFAULT
    ) -> tuple[str, dict[str, Any], str | None]:
        _ = i18n.translator(lang)
        lines = [_("batch.summary", scored=len(result.rows), problems=len(result.errors))]
        lines += result.notes
        if result.api_error is not None:
            lines.append(_("batch.stopped", reason=formatting.error_message(*result.api_error, lang)))
        if result.errors:
            lines.append(_("batch.not_scored"))
            lines += [_("batch.line", line=line, reason=reason) for line, reason in result.errors[:200]]
            if len(result.errors) > 200:
                lines.append(_("batch.more", count=len(result.errors) - 200))
        rows = result.rows
        table = {
            "headers": batch.column_titles(batch.TABLE_COLUMNS, lang),
            "data": [[row[column] for column in batch.TABLE_COLUMNS] for row in rows],
        }
        download = batch.write_csv(rows, lang) if rows else None
        return "\n".join(lines), table, download

    # -- admin tab -------------------------------------------------------------------------

    def logs(
        self, token: str, limit: float, offset: float, language: str = i18n.DEFAULT
    ) -> tuple[dict[str, Any], str, int]:
        lang = i18n.negotiate(language)
        limit, offset = int(limit or 20), max(0, int(offset or 0))
        body, status = self.client.get_logs(limit=limit, offset=offset, token=token or None)
        if status != 200:
            return (
                {"headers": formatting.log_columns(lang), "data": []},
                formatting.error_message(body, status, lang),
                offset,
            )
        table = {"headers": formatting.log_columns(lang), "data": formatting.log_rows(body["logs"], lang)}
        return table, formatting.page_caption(body, lang), offset

    def next_page(self, token: str, limit: float, offset: float, language: str = i18n.DEFAULT):
        return self.logs(token, limit, int(offset or 0) + int(limit or 20), language)

    def previous_page(self, token: str, limit: float, offset: float, language: str = i18n.DEFAULT):
        return self.logs(token, limit, max(0, int(offset or 0) - int(limit or 20)), language)

    def clear(self, token: str, language: str = i18n.DEFAULT) -> str:
        lang = i18n.negotiate(language)
        body, status = self.client.delete_logs(token=token or None)
        if status != 200:
            return formatting.error_message(body, status, lang)
        return i18n.text(lang, "admin.cleared", deleted=body.get("deleted", 0))

    def status(self, language: str = i18n.DEFAULT) -> str:
        lang = i18n.negotiate(language)
        return formatting.status_markdown(
            self.client.get_health(), self.client.get_metadata(language=lang), self.client.api_url, lang
        )

    # -- developer console -----------------------------------------------------------------

    def console(
        self,
        endpoint: str,
        body_text: str,
        limit: float,
        offset: float,
        token: str,
        language: str = i18n.DEFAULT,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        method, path = CONSOLE_ENDPOINTS[endpoint]
        sent: dict[str, Any] = {"method": method, "url": self.client.api_url + path}
        payload = None
        if method == "POST":
            try:
                payload = json.loads(body_text or "null")
            except ValueError as exc:
                return sent, {
                    "status": None,
                    "body": i18n.text(i18n.negotiate(language), "console.bad_json", error=exc),
                }
            sent["json"] = payload
        if path == "/logs" and method == "GET":
            sent["params"] = {"limit": int(limit or 20), "offset": int(offset or 0)}
        if path == "/logs":
            sent["headers"] = {"Authorization": "Bearer ***" if token else "(none)"}
        if endpoint == CONNECTION_CHECK:
            body, status = self.client.check_connection()
        elif method == "POST":
            body, status = self.client.request(method, path, json=payload)
        elif path == "/logs" and method == "GET":
            body, status = self.client.get_logs(token=token or None, **sent["params"])
        elif path == "/logs":
            body, status = self.client.delete_logs(token=token or None)
        else:
            body, status = self.client.request(method, path)
        return sent, {"status": status, "body": body}

    # -- program access (gradio_client) ----------------------------------------------------
    # A failure raises gr.Error, which gradio_client raises in the calling program: an error
    # returned as an ordinary value would be counted as a success.

    def health_api(self) -> Any:
        # 503 is an answer here, not a failure: the body says `unhealthy` and why.
        body, status = self.client.get_health()
        return body if _is_health(body) else _raise_api_error(body, status)

    def predict_api(self, record: Any, request: gr.Request | None = None) -> Any:
        return _success(self.client.post_predict(record, visitor=self.visitor(request)))

    def predict_proba_api(self, record: Any, request: gr.Request | None = None) -> Any:
        return _success(self.client.post_predict_proba(record, visitor=self.visitor(request)))

    def logs_api(self, limit: float = 50, offset: float = 0, admin_token: str = "") -> Any:
        return _success(
            self.client.get_logs(limit=int(limit or 50), offset=int(offset or 0), token=admin_token or None)
        )

    def clear_logs_api(self, admin_token: str = "") -> Any:
        return _success(self.client.delete_logs(token=admin_token or None))

    def score_csv_api(
        self, path: str | None, request: gr.Request | None = None
    ) -> tuple[str, dict[str, Any], str | None]:
        """The batch tab for programs: a file that cannot be used or an API failure raises."""
        if not path:
            raise gr.Error("Send a CSV file.", print_exception=False)
        try:
            result = self._score_file(path, visitor=self.visitor(request))
        except batch.BatchFileError as exc:
            raise gr.Error(f"The file could not be used: {exc}", print_exception=False) from exc
        if result.api_error is not None:
            _raise_api_error(*result.api_error)
        return self._batch_outputs(result)


def api_error_text(body: Any, status: int) -> str:
    """The API's own message, code, status and request id, in one line for a program."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return f"The API answered with status {status}: {str(body)[:200]}"
    text = f"{error.get('message') or 'The API reported an error.'} (status {status}"
    text += f", {error['code']}" if error.get("code") else ""
    text += f", request {body['request_id']})" if body.get("request_id") else ")"
    if error.get("details"):
        text += " Details: " + json.dumps(error["details"], default=str)
    return text


def _raise_api_error(body: Any, status: int):
    raise gr.Error(api_error_text(body, status), title=f"API error {status}", print_exception=False)


def _success(result: tuple[Any, int]) -> Any:
    body, status = result
    if not 200 <= status < 300:
        _raise_api_error(body, status)
    return body


def _is_health(body: Any) -> bool:
    return isinstance(body, dict) and "status" in body and "error" not in body
